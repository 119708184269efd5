//go:build unix

package ssotws

import (
	"errors"
	"syscall"
	"time"
)

// nonblockingWrites: this platform writes prepared messages with
// writeNonblocking.
const nonblockingWrites = true

// writeNonblocking writes b to the socket fd (which the Go runtime keeps in
// non-blocking mode) once, and returns how much it took: 0 with no error
// when its buffer is full.
func writeNonblocking(fd uintptr, b []byte) (int, error) {
	for {
		n, err := write(fd, b)
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return 0, nil
		}
		return 0, err
	}
}

// processCPU returns the CPU time the process has used, user and system.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
