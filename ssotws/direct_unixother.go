//go:build unix && !linux

package ssotws

import "syscall"

// write is write(2) of b to fd.
func write(fd uintptr, b []byte) (int, error) {
	return syscall.Write(int(fd), b)
}
