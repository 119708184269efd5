package ssotws

import (
	"context"
	"encoding/base64"
	"strconv"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
)

// Record is one stored record of a model.
type Record struct {
	// Key is the record key in its canonical text form.
	Key string
	// Version grows by one with each write of the key, across deletes and
	// re-creates, so that a client never mistakes an old state for a new one.
	Version int64
	// Data is the model's protobuf encoding.
	Data []byte
	// Fields holds the text form of the model's top-level scalar fields, for
	// equality filters.
	Fields map[string]string
	// Deleted marks a tombstone: the record was deleted at Version.
	Deleted bool
}

// WriteKind says what a [Write] does.
type WriteKind int

// The kinds of write.
const (
	WriteCreate WriteKind = iota + 1
	WriteUpdate
	WriteDelete
)

// Write is one mutation of one record.
type Write struct {
	Kind WriteKind
	// Model is the model's full name.
	Model string
	Key   string
	// IfVersion, when not zero, makes the write conditional: it fails with
	// [ErrVersionConflict] unless the record's version is IfVersion.
	// [IfAbsent] expects no live record instead: the write fails with
	// ErrVersionConflict when one exists (an Update or Delete then fails
	// with [ErrNotFound] unless RequestID replays an earlier write), so
	// that a delete of an absent record never deletes one created in the
	// meantime. The check is made in the write's transaction, after the
	// RequestID's replay.
	IfVersion int64
	// Data and Fields are the record's new state (Create and Update). The
	// caller has already stored the new version in Data if the model has a
	// version field: the new version is the current one plus one, which
	// [Resource] guarantees with IfVersion.
	Data   []byte
	Fields map[string]string
	// RequestID, when not empty, makes the write idempotent: a second write
	// with the same model and RequestID is not applied and returns the first
	// one's result with Replayed set.
	RequestID string
}

// IfAbsent is the [Write].IfVersion of a write that expects no live
// record with its key.
const IfAbsent int64 = -1

// WriteResult is the outcome of a [Write].
type WriteResult struct {
	// Record is the record after the write; a tombstone after a delete,
	// holding the last data.
	Record *Record
	// Previous is the record before the write, nil for a create.
	Previous *Record
	// Replayed is set when the write was a repeat of an earlier request
	// and was not applied again.
	Replayed bool
}

// Query selects records of one model.
type Query struct {
	// Model is the model's full name.
	Model string
	// Filters must all match a record's Fields.
	Filters []Filter
	// PageSize bounds the page; the store may return fewer records.
	PageSize int
	// PageToken continues a previous List.
	PageToken string
}

// Page is one page of a List.
type Page struct {
	Records []*Record
	// NextPageToken is empty on the last page.
	NextPageToken string
}

// A Store keeps the records of every model. Records of one model are listed
// in creation order. Implementations must be safe for concurrent use, and
// must apply each Write atomically.
type Store interface {
	// Get returns the live record, or [ErrNotFound].
	Get(ctx context.Context, model, key string) (*Record, error)
	// List returns a page of live records matching q.
	List(ctx context.Context, q Query) (*Page, error)
	// Apply performs w. Create fails with [ErrAlreadyExists] when a live
	// record has the key (a tombstone is replaced, and its version goes
	// on growing); Update and Delete fail with [ErrNotFound] when there is
	// no live record.
	Apply(ctx context.Context, w *Write) (*WriteResult, error)
	// ApplyBatch performs ws in order, atomically: in one transaction,
	// each write by the rules of Apply (a write sees the ones before it),
	// and either every write is applied or none is. It returns one result
	// per write, or the error of the first write that failed, wrapped in
	// a [*BatchError] naming its index.
	ApplyBatch(ctx context.Context, ws []*Write) ([]*WriteResult, error)
	// NextSequence returns a number not returned before for this model: the
	// key of a created record whose integer key was left zero.
	NextSequence(ctx context.Context, model string) (int64, error)
}

// Defaults shared by the stores.
const (
	// DefaultPageSize is the page size of a List whose [Query] sets none.
	DefaultPageSize = 50
	// DefaultMaxRequests is how many request results a store remembers
	// for idempotency unless configured otherwise.
	DefaultMaxRequests = 100_000
)

// Filter is an equality test on one field's text form: [protocol.Filter].
type Filter = protocol.Filter

// Match reports whether fields satisfy every filter.
func Match(fields map[string]string, filters []Filter) bool {
	for _, f := range filters {
		if fields[f.Field] != f.Value {
			return false
		}
	}
	return true
}

// ParsePageToken reads a [Query].PageToken written by [FormatPageToken]:
// the creation number of the previous page's last record, 0 for an empty
// token. A token it cannot read is [ErrInvalidPageToken]. The stores share
// this form.
func ParsePageToken(token string) (int64, error) {
	if token == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	var after int64
	if err == nil {
		after, err = strconv.ParseInt(string(b), 10, 64)
	}
	if err != nil || after < 0 {
		return 0, ErrInvalidPageToken
	}
	return after, nil
}

// FormatPageToken is the [Page].NextPageToken after a record whose
// creation number is n.
func FormatPageToken(n int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(n, 10)))
}
