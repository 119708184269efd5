package protocol

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// FormatPosition formats a position as "<epoch>:<offset>", the form of the
// [HeaderPosition] header.
func FormatPosition(p *wsv1.Position) string {
	return strconv.FormatUint(p.GetEpoch(), 10) + ":" + strconv.FormatUint(p.GetOffset(), 10)
}

// ParsePosition parses the form written by [FormatPosition].
func ParsePosition(s string) (*wsv1.Position, error) {
	e, o, ok := strings.Cut(s, ":")
	if ok {
		epoch, err1 := strconv.ParseUint(e, 10, 64)
		offset, err2 := strconv.ParseUint(o, 10, 64)
		if err1 == nil && err2 == nil {
			return &wsv1.Position{Epoch: epoch, Offset: offset}, nil
		}
	}
	return nil, fmt.Errorf("ssotws: malformed position %q", s)
}
