package ssotws

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Op names a standard method of a [Resource].
type Op int

// The standard methods.
const (
	OpGet Op = iota + 1
	OpList
	OpCreate
	OpUpdate
	OpDelete
)

var opNames = [...]string{OpGet: "Get", OpList: "List", OpCreate: "Create", OpUpdate: "Update", OpDelete: "Delete"}

// String returns the method's name: "Get", "List", "Create", "Update" or "Delete".
func (o Op) String() string {
	if o > 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// AccessRequest is what an [Authorizer] decides on.
type AccessRequest struct {
	Op    Op
	Model *Model
	// Identity is the caller, or nil for an anonymous call.
	Identity *Identity
	// Key is the record's key (every Op but List).
	Key string
	// Current is the record as stored, for Get, Update and Delete. For a
	// retried Delete whose record is already gone, it is the record's
	// last state as the first attempt deleted it: the call is decided
	// after the store replayed that attempt's result, and a refusal then
	// hides the result. It is never nil for these methods.
	Current protoreflect.Message
	// Proposed is the record as the write would store it, for Create
	// (owner already set to the caller) and Update (mask applied).
	Proposed protoreflect.Message
	// Filters are a List's equality filters, the owner filter included.
	Filters []Filter
}

// An Authorizer adds custom rules to a [Resource]'s access checks (set it
// in [ResourceOptions].Authorizer). It is called after the model's read or
// write access (PUBLIC, AUTHENTICATED, OWNER) allowed the call, so it can
// only narrow them. A nil error allows the call; a *connect.Error is
// returned as it is; an error wrapping [ErrUnauthenticated] becomes
// CodeUnauthenticated, any other CodePermissionDenied. A panic is recovered, logged, and denies the call.
// The messages must not be modified. It must be safe for concurrent use.
//
// Deprecated: use a [Policy], which the gateway asks too.
type Authorizer func(ctx context.Context, req *AccessRequest) error

// checkWrite asks the Policy about a write.
func (r *Resource[T]) checkWrite(ctx context.Context, req *AccessRequest) error {
	p := r.opts.policy
	if p == nil || req.Identity == systemIdentity {
		return nil
	}
	return decide(r.opts.logger, req.Op.String()+" "+req.Model.FullName(), func() error { return p.Write(ctx, req) })
}

// checkChannel asks the Policy whether the caller may read channel: the
// question a WebSocket Subscribe of the channel asks.
func (r *Resource[T]) checkChannel(ctx context.Context, via Via, id *Identity, channel ChannelName, filters []Filter) error {
	p := r.opts.policy
	if p == nil || id == systemIdentity {
		return nil
	}
	return decide(r.opts.logger, via.String()+" "+r.model.FullName(), func() error {
		return p.ReadChannel(ctx, &ChannelRequest{Via: via, Identity: id, Model: r.model, Channel: channel, Filters: filters})
	})
}

// checkRecord asks the Policy whether the caller may see msg.
func (r *Resource[T]) checkRecord(ctx context.Context, via Via, id *Identity, msg protoreflect.Message) error {
	p := r.opts.policy
	if p == nil || id == systemIdentity {
		return nil
	}
	return decide(r.opts.logger, via.String()+" "+r.model.FullName(), func() error {
		return p.ReadRecord(ctx, &RecordRequest{Via: via, Identity: id, Model: r.model, Key: r.model.KeyOf(msg), Record: msg})
	})
}

// authorize checks that the caller may use access and returns its identity.
func (r *Resource[T]) authorize(ctx context.Context, access wsv1.Access) (*Identity, error) {
	if isSystem(ctx) {
		return systemIdentity, nil // a server write (ServerWrite)
	}
	id := IdentityFrom(ctx)
	if access == wsv1.Access_PUBLIC {
		return id, nil
	}
	if id == nil || id.Subject == "" {
		return nil, unauthenticated(fmt.Errorf("ssotws: %s needs an authenticated caller", r.model.FullName()))
	}
	return id, nil
}

// checkOwner enforces OWNER access on an existing record.
func (r *Resource[T]) checkOwner(id *Identity, access wsv1.Access, msg protoreflect.Message) error {
	if access != wsv1.Access_OWNER || r.model.OwnerField() == nil || id == systemIdentity {
		return nil
	}
	if id == nil || r.model.OwnerOf(msg) != id.Subject {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("ssotws: %s %q belongs to another user", r.model.FullName(), r.model.KeyOf(msg)))
	}
	return nil
}

// checkDelete applies the owner rule and the Authorizer to a delete of
// current, the record as stored.
func (r *Resource[T]) checkDelete(ctx context.Context, id *Identity, key string, current protoreflect.Message) error {
	if err := r.checkOwner(id, r.model.WriteAccess(), current); err != nil {
		return err
	}
	return r.checkWrite(ctx, &AccessRequest{Op: OpDelete, Model: r.model, Identity: id, Key: key, Current: current})
}

// visible returns what a mutation answers its caller: msg, the record
// written, if the caller may read it (the model's read access, its owner
// rule and the Policy, as for a Get), else only its key and version.
// Write access does not grant read access: on a model anyone may write
// and only the owner may read, a write must not hand anyone the record.
func (r *Resource[T]) visible(ctx context.Context, id *Identity, msg T) T {
	pm := msg.ProtoReflect()
	if id == systemIdentity || r.planning(ctx) != nil {
		return msg // a planned write of a batch is not written yet (batch.go)
	}
	ok := r.model.ReadAccess() == wsv1.Access_PUBLIC || id != nil && id.Subject != ""
	if ok {
		ok = r.checkOwner(id, r.model.ReadAccess(), pm) == nil
	}
	if ok && r.opts.policy != nil {
		key := r.model.KeyOf(pm)
		ok = r.checkChannel(ctx, ViaWrite, id, ChannelName{Kind: ChannelItem, Model: r.model.Name(), Key: key}, nil) == nil &&
			r.checkRecord(ctx, ViaWrite, id, pm) == nil
	}
	if ok {
		r.redact(id, msg)
		return msg
	}
	out := r.newT()
	op := out.ProtoReflect()
	op.Set(r.model.KeyField(), pm.Get(r.model.KeyField()))
	if vf := r.model.VersionField(); vf != nil {
		op.Set(vf, pm.Get(vf))
	}
	return out
}
