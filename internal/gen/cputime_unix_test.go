//go:build unix

package gen

import "syscall"

// cpuTime returns the CPU time the process used so far, in nanoseconds
// (user and system, every thread: the garbage collector's work counts).
// On a shared machine it varies much less than the elapsed time.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
