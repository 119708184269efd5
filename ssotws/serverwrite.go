package ssotws

import (
	"context"
	"errors"
	"net/http"

	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// ServerWrite says who a write made by server code (a job, a webhook,
// another service; no client request behind it) is made as. Pass it to
// [Resource.CreateAs], [Resource.UpdateAs] or [Resource.DeleteAs]. Such a
// write goes through the same commit as a client's: versions, the record
// lock, Idempotency-Key replay, [Hooks], and its events reach subscribers
// as any write's do.
type ServerWrite struct {
	// OnBehalfOf is the user the write is made for. Empty means the
	// system: the model's write access and the [Policy] are not asked
	// (server code is trusted), and the hooks see a nil Identity.
	// Otherwise the write is checked exactly as that user's own call
	// would be.
	OnBehalfOf string
	// Owner is the owner a created record gets, for a model with an owner
	// field. A system write must name it when the model's write access is
	// OWNER; on behalf of a user it may only be that user (empty means
	// the user). Update and Delete ignore it: an owner never changes.
	Owner string
	// IdempotencyKey makes the write safe to retry: a second write with
	// the same key (and the same OnBehalfOf) replays the first one's
	// result instead of writing again.
	IdempotencyKey string
}

// ErrOwnerMismatch is returned by [Resource.CreateAs] for a write on
// behalf of a user that names another user as the owner.
var ErrOwnerMismatch = errors.New("ssotws: a write on behalf of a user cannot give the record to another user")

type serverWriteKey struct{}

// systemIdentity stands for the system in the access checks; it is never
// handed to a Policy or a hook.
var systemIdentity = &Identity{}

// context returns ctx as the write's caller, and its headers.
func (sw ServerWrite) context(ctx context.Context) (context.Context, http.Header) {
	h := http.Header{}
	if sw.IdempotencyKey != "" {
		h.Set(HeaderIdempotencyKey, sw.IdempotencyKey)
	}
	if sw.OnBehalfOf != "" {
		ctx = WithIdentity(ctx, &Identity{Subject: sw.OnBehalfOf})
	}
	return context.WithValue(ctx, serverWriteKey{}, &sw), h
}

func serverWriteOf(ctx context.Context) *ServerWrite {
	sw, _ := ctx.Value(serverWriteKey{}).(*ServerWrite)
	return sw
}

// isSystem reports whether ctx is a system write's.
func isSystem(ctx context.Context) bool {
	sw := serverWriteOf(ctx)
	return sw != nil && sw.OnBehalfOf == ""
}

// serverOwner is the owner a server write names, "" for none.
func serverOwner(ctx context.Context) string {
	if sw := serverWriteOf(ctx); sw != nil {
		return sw.Owner
	}
	return ""
}

// CreateAs creates msg as server code, as sw says; see [ServerWrite].
func (r *Resource[T]) CreateAs(ctx context.Context, sw ServerWrite, msg T) (T, error) {
	if sw.OnBehalfOf != "" && sw.Owner != "" && sw.Owner != sw.OnBehalfOf {
		var zero T
		return zero, invalidArgument("%v", ErrOwnerMismatch)
	}
	ctx, h := sw.context(ctx)
	return r.create(ctx, h, msg, "")
}

// UpdateAs updates the record msg names as server code, as sw says; mask
// is as [Resource.Update]'s.
func (r *Resource[T]) UpdateAs(ctx context.Context, sw ServerWrite, msg T, mask *fieldmaskpb.FieldMask) (T, error) {
	ctx, h := sw.context(ctx)
	return r.Update(ctx, h, msg, mask)
}

// DeleteAs deletes the record with key as server code, as sw says.
func (r *Resource[T]) DeleteAs(ctx context.Context, sw ServerWrite, key string) (T, error) {
	ctx, h := sw.context(ctx)
	return r.Delete(ctx, h, key)
}
