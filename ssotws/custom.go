package ssotws

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// A custom method that mutates (AIP-136: ClearRoom, MarkAllRead) writes
// through its [Resource]'s methods, as the generated standard methods do,
// so that its writes have their guarantees: access checks and the Policy
// as the caller, [Hooks], versions, positions, and events on every
// channel of each record. [Resource.Modify] is its read-modify-write;
// [SubRequest] gives each of its writes an Idempotency-Key of its own,
// derived from the request's, so that a retried custom method replays
// the writes its first attempt made rather than making them twice.

// SubRequest returns the headers of one write of a custom method, part
// naming it (a record key, "create-<n>"): in's Idempotency-Key, if any,
// extended with part. in is not modified.
func SubRequest(in http.Header, part string) http.Header {
	out := http.Header{}
	if key := in.Get(HeaderIdempotencyKey); key != "" {
		out.Set(HeaderIdempotencyKey, key+"/"+part)
	}
	return out
}

// Modify is the read-modify-write of a custom method: it reads the record
// with key, calls fn with a copy, and commits what fn returns as an
// Update of every field, conditional on the version read (retrying fn
// on a concurrent write), with the guarantees of a standard method:
// access checks and the Policy as the caller, [Hooks], versions, the
// Idempotency-Key of in, and events on every channel of the record. fn
// may be called more than once and must not have side effects. On a model
// without a version field, the last writer wins.
func (r *Resource[T]) Modify(ctx context.Context, in http.Header, key string, fn func(cur T) (T, error)) (T, error) {
	var zero T
	id, err := r.authorize(ctx, r.model.ReadAccess())
	if err != nil {
		return zero, err
	}
	for attempt := 0; ; attempt++ {
		// The whole record: an Update of every field must not clear the
		// fields the caller may not read (redact.go).
		cur, _, err := r.get(ctx, id, key)
		if err != nil {
			return zero, err
		}
		next, err := fn(proto.Clone(cur).(T))
		if err != nil {
			return zero, err
		}
		pm := next.ProtoReflect()
		pm.Set(r.model.KeyField(), cur.ProtoReflect().Get(r.model.KeyField()))
		if vf := r.model.VersionField(); vf != nil {
			pm.Set(vf, cur.ProtoReflect().Get(vf))
		}
		out, err := r.Update(ctx, in, next, &fieldmaskpb.FieldMask{Paths: []string{"*"}})
		if connect.CodeOf(err) == connect.CodeAborted && r.model.VersionField() != nil && attempt < 16 {
			continue
		}
		return out, err
	}
}
