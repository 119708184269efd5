package pgstore

import (
	"crypto/sha256"
	"errors"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// Options tunes a [TableStore]. The zero value (or a nil *Options) is the
// default.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables; it is
	// created if missing. Empty means "public".
	Schema string
	// MaxRequests bounds how many results of writes with a request id are
	// remembered for idempotency, across all models; the oldest beyond it
	// are forgotten. Zero or less means [DefaultMaxRequests], as
	// [ssotws.MemoryStore]. Each node prunes to its own bound.
	MaxRequests int
	// MaxAttempts bounds how many times a write that lost a race to
	// another transaction (a serialization failure, a deadlock, a
	// concurrent create of the same key) is tried. Zero or less means
	// [DefaultMaxAttempts].
	MaxAttempts int
}

// DefaultMaxRequests is the number of request results remembered for
// idempotency when [Options.MaxRequests] is not set.
const DefaultMaxRequests = ssotws.DefaultMaxRequests

// DefaultMaxAttempts is the number of tries of a write when
// [Options.MaxAttempts] is not set.
const DefaultMaxAttempts = 20

// hashKey is the SHA-256 of a request id: the requests' primary key is
// on it, as a B-tree entry cannot hold a long one.
func hashKey(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// errRetry asks Apply to try again: a remembered request was pruned
// between the claim and its read.
var errRetry = errors.New("pgstore: retry")
