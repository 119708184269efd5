//go:build !unix

package ssotws

import (
	"errors"
	"time"
)

// nonblockingWrites: on this platform every message goes through the
// WebSocket library (direct.go).
const nonblockingWrites = false

func writeNonblocking(uintptr, []byte) (int, error) {
	return 0, errors.New("ssotws: no non-blocking writes on this platform")
}

// processCPU is not measured on this platform: no inline writes happen.
func processCPU() (time.Duration, bool) { return 0, false }
