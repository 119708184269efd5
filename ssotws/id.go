package ssotws

import (
	"crypto/rand"
	"encoding/base32"
)

// idEncoding writes generated keys in lowercase letters and digits only,
// safe in URLs and channel names.
var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a random 20-character key.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
