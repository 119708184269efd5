package ssotws

import (
	"syscall"
	"unsafe"
)

// write is write(2) of b to fd, without the runtime's bookkeeping of a
// thread in a system call (entersyscall, exitsyscall, and sysmon handing
// the processor to another thread when the call lasts). That bookkeeping
// exists for calls that may block; a write to a non-blocking socket does
// not: it returns EAGAIN instead of waiting. At one event per message it
// is most of what the fan-out does, and leaving the bookkeeping out took
// 6–9 % off the server's CPU per delivery (bench/README.md, "Prepared
// messages and inline writes").
func write(fd uintptr, b []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
