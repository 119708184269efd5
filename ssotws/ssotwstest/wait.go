package ssotwstest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// pollInterval is how often WaitFor asks its condition again.
const pollInterval = 5 * time.Millisecond

// WaitFor returns as soon as cond reports true, asking it again every few
// milliseconds; if it is still false after the server's timeout
// ([Options].Timeout, [DefaultTimeout]), the test fails with msgAndArgs
// (a format and its arguments, or values to print). It bounds the wait
// for an effect that arrives asynchronously, such as an event through the
// gateway, without a sleep: a test never asserts on elapsed time. cond
// runs on the test's goroutine, so it may use t; it must not block.
//
//	srv.WaitFor(t, func() bool { return len(seen()) == 1 }, "bob sees the message")
func (s *Server) WaitFor(t testing.TB, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	if cond() {
		return
	}
	deadline := time.NewTimer(s.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return
			}
		case <-deadline.C:
			if cond() {
				return
			}
			t.Fatalf("ssotwstest: condition still false after %v%s", s.timeout, message(msgAndArgs))
		}
	}
}

// Context returns a context for the calls of a test: done after the
// server's timeout, or when t ends, whichever comes first.
func (s *Server) Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), s.timeout)
	t.Cleanup(cancel)
	return ctx
}

// message formats WaitFor's msgAndArgs as testify does: a format string
// and its arguments, or values.
func message(msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return ""
	}
	if format, ok := msgAndArgs[0].(string); ok {
		return ": " + fmt.Sprintf(format, msgAndArgs[1:]...)
	}
	return ": " + fmt.Sprint(msgAndArgs...)
}
