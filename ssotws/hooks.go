package ssotws

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Hooks are a model's business rules, typed by its message: set them with
// [Resource.SetHooks] (the generated <Service>Hooks struct holds one per
// model).
//
// The Before hooks run inside the write: after the access checks and the
// [Policy], under the record's lock, just before the store commits. They
// may change rec (never its key, owner or version: the write then fails
// with CodeInternal) or refuse the write by returning an error: a
// *connect.Error is returned to the caller as it is, any other error
// becomes CodeFailedPrecondition. prev is the record as stored, the one
// the write replaces; the write commits only if it is still that version.
// A retried request (same Idempotency-Key) runs them again before the
// store replays the first attempt's result.
//
// AfterCommit runs once the write is committed and its events published,
// outside the record's lock, with a context that outlives the caller's
// request; it is not called for the replay of a retried request. It
// cannot undo the write; what it returns is nothing.
//
// Hooks run for every write through the [Resource]: the generated
// handlers, [Resource.CreateAs] and the other server writes, and custom
// methods built on them. A panic is recovered, logged and, in a Before
// hook, refuses the write.
type Hooks[T proto.Message] struct {
	BeforeCreate func(ctx context.Context, rec T) error
	BeforeUpdate func(ctx context.Context, prev, rec T) error
	BeforeDelete func(ctx context.Context, prev T) error
	AfterCommit  func(ctx context.Context, c Change[T])
}

// Change is a committed write, as [Hooks].AfterCommit sees it.
type Change[T proto.Message] struct {
	// Type is EVENT_TYPE_CREATED, _UPDATED or _DELETED.
	Type wsv1.EventType
	// Record is the record as committed (for a delete, its last state).
	Record T
	// Identity is the caller, nil for the system (see [ServerWrite]).
	Identity *Identity
}

// SetHooks sets the resource's hooks, replacing any set before. Call it
// before serving requests.
func (r *Resource[T]) SetHooks(h Hooks[T]) { r.hooks = h }

// runHook calls a Before hook, recovering a panic and mapping its error.
func (r *Resource[T]) runHook(name string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.opts.logger.Error("ssotws: hook panicked", "hook", name, "model", r.model.FullName(), "panic", p, "stack", string(debug.Stack()))
			err = connect.NewError(connect.CodeInternal, fmt.Errorf("ssotws: %s %s failed", name, r.model.FullName()))
		}
	}()
	err = fn()
	var ce *connect.Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	return connect.NewError(connect.CodeFailedPrecondition, err)
}

// rehook re-encodes m into w after a Before hook ran on it, and checks
// that the hook left alone what identifies the record.
func (r *Resource[T]) rehook(w *Write, m T, owner string) error {
	pm := m.ProtoReflect()
	if r.model.KeyOf(pm) != w.Key || r.model.OwnerField() != nil && r.model.OwnerOf(pm) != owner {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("ssotws: a hook of %s changed the record's key or owner", r.model.FullName()))
	}
	if vf := r.model.VersionField(); vf != nil {
		pm.Clear(vf)
	}
	data, err := r.marshal(m)
	if err != nil {
		return err
	}
	w.Data, w.Fields = data, r.model.FieldValues(pm)
	return nil
}

// afterCommit runs the AfterCommit hook, if any.
func (r *Resource[T]) afterCommit(ctx context.Context, typ wsv1.EventType, msg T) {
	h := r.hooks.AfterCommit
	if h == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			r.opts.logger.Error("ssotws: hook panicked", "hook", "AfterCommit", "model", r.model.FullName(), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	id := IdentityFrom(ctx)
	if isSystem(ctx) {
		id = nil
	}
	h(context.WithoutCancel(ctx), Change[T]{Type: typ, Record: proto.Clone(msg).(T), Identity: id})
}

// beforeDelete returns the prepare step of a delete that runs the
// BeforeDelete hook on the record as stored, read under the record's lock
// (nil without the hook). The delete is then conditional on that version.
func (r *Resource[T]) beforeDelete(ctx context.Context) func(*Write) error {
	h := r.hooks.BeforeDelete
	if h == nil {
		return nil
	}
	return func(w *Write) error {
		if w.IfVersion == IfAbsent {
			return nil // the replay of a delete: nothing is left to decide on
		}
		cur, err := r.store.Get(ctx, r.model.FullName(), w.Key)
		if errors.Is(err, ErrNotFound) {
			return nil // the store answers NotFound, or replays a retry
		}
		if err != nil {
			return err
		}
		if w.IfVersion != 0 && w.IfVersion != cur.Version {
			return nil // the store answers Aborted
		}
		prev, err := r.decode(cur)
		if err != nil {
			return err
		}
		if err := r.runHook("BeforeDelete", func() error { return h(ctx, prev) }); err != nil {
			return err
		}
		w.IfVersion = cur.Version
		return nil
	}
}

// ownerOf returns the owner of pm, "" for a model without an owner field.
func (r *Resource[T]) ownerOf(pm protoreflect.Message) string {
	if r.model.OwnerField() == nil {
		return ""
	}
	return r.model.OwnerOf(pm)
}

// checkedWrite validates m (pm is its reflection) and encodes it for a
// write; hook, the Before hook of the write (nil: none), becomes the
// prepare step that runs it inside the write, named name in its errors,
// and re-reads what it may have changed.
func (r *Resource[T]) checkedWrite(m T, pm protoreflect.Message, name string, hook func() error) ([]byte, func(*Write) error, error) {
	if err := r.validate(m); err != nil {
		return nil, nil, err
	}
	data, err := r.marshal(m)
	if err != nil {
		return nil, nil, err
	}
	if hook == nil {
		return data, nil, nil
	}
	owner := r.ownerOf(pm)
	return data, func(w *Write) error {
		if err := r.runHook(name, hook); err != nil {
			return err
		}
		return r.rehook(w, m, owner)
	}, nil
}
