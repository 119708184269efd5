package ssotws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Resource serves the standard methods of one model over a [Store]. For a
// realtime model it publishes a change event on each of the record's
// channels after every successful mutation. Generated handlers call it; it
// is safe for concurrent use.
//
// Its methods take what a call needs as values (the request's key, record
// or query, and for a mutation the request headers, which carry its
// [HeaderIdempotencyKey]) and return what they produced: the record, and
// for a read the [ReadPosition] the handler writes to its response
// headers.
type Resource[T proto.Message] struct {
	model *Model
	store Store
	pub   Publisher
	opts  resourceOptions
	hooks Hooks[T]
}

// ListRequest is a List call's query.
type ListRequest struct {
	// Filters are equality filters; filters with an empty Field are ignored.
	Filters   []Filter
	PageSize  int32
	PageToken string
	// Filter is an AIP-160 filter and OrderBy an AIP-132 ordering, both
	// on the model's top-level scalar fields (see [MaxFilteredRecords]).
	Filter, OrderBy string
}

// ListResult is one page of a List.
type ListResult[T proto.Message] struct {
	Items         []T
	NextPageToken string
	// Position is the position of the channel the List maps onto (the
	// model's, or a scope's when a filter names a scope field), read
	// before the store was.
	Position ReadPosition
}

// NewResource returns the resource of model m. pub may be nil: a model
// that is not realtime ignores it, and a realtime model then publishes
// nothing. opts may be nil.
func NewResource[T proto.Message](m *Model, store Store, pub Publisher, opts *ResourceOptions) *Resource[T] {
	return &Resource[T]{model: m, store: store, pub: pub, opts: newResourceOptions(opts)}
}

// Model returns the resource's model.
func (r *Resource[T]) Model() *Model { return r.model }

func (r *Resource[T]) newT() T {
	var zero T
	return zero.ProtoReflect().Type().New().Interface().(T)
}

// Create stores msg as a new record, under msg's key, or under a generated
// key when msg holds none. in are the request headers. The owner field, if
// the model has one, is set to the caller whatever msg says (left empty
// for an anonymous caller). The result is the record, or only its key and
// version when the caller may not read it; so are Update's and Delete's.
func (r *Resource[T]) Create(ctx context.Context, in http.Header, msg T) (T, error) {
	return r.create(ctx, in, msg, "")
}

// CreateWithKey is [Resource.Create] for a request that names the new
// record's key apart (AIP-133's <model>_id field): key, when not empty,
// wins over msg's key field.
func (r *Resource[T]) CreateWithKey(ctx context.Context, in http.Header, msg T, key string) (T, error) {
	return r.create(ctx, in, msg, key)
}

// beginWrite checks what every Create and Update starts with: a record in
// the request, a well-formed Idempotency-Key, and the model's write access.
// It returns the request id and the caller's identity.
func (r *Resource[T]) beginWrite(ctx context.Context, in http.Header, msg T) (string, *Identity, error) {
	if !msg.ProtoReflect().IsValid() {
		return "", nil, invalidArgument("%s is required", snake(r.model.Name()))
	}
	reqID, err := requestID(in)
	if err != nil {
		return "", nil, err
	}
	id, err := r.authorize(ctx, r.model.WriteAccess())
	if err != nil {
		return "", nil, err
	}
	return reqID, id, nil
}

func (r *Resource[T]) create(ctx context.Context, in http.Header, msg T, key string) (T, error) {
	var zero T
	reqID, id, err := r.beginWrite(ctx, in, msg)
	if err != nil {
		return zero, err
	}
	m := proto.Clone(msg).(T)
	pm := m.ProtoReflect()
	kf := r.model.KeyField()
	if key != "" {
		v, err := ParseValue(kf, key)
		if err != nil {
			return zero, invalidArgument("%s %q is not a valid key: %v", kf.Name(), key, err)
		}
		pm.Set(kf, v)
	}
	if !hasKey(pm, kf) {
		if kf.Kind() != protoreflect.StringKind { // an integer key (NewModel checked its kind)
			n, err := r.store.NextSequence(ctx, r.model.FullName())
			if err != nil {
				return zero, codeOf(err)
			}
			v, _ := ParseValue(kf, strconv.FormatInt(n, 10))
			pm.Set(kf, v)
		} else {
			pm.Set(kf, protoreflect.ValueOfString(newID()))
		}
	}
	if of := r.model.OwnerField(); of != nil {
		// The owner is whoever creates the record: it cannot be forged. An
		// anonymous creator (a PUBLIC write) is nobody, and owns nothing.
		if owner := serverOwner(ctx); owner != "" {
			pm.Set(of, protoreflect.ValueOfString(owner)) // a server write names it
		} else if id != nil && id.Subject != "" {
			pm.Set(of, protoreflect.ValueOfString(id.Subject))
		} else {
			pm.Clear(of)
		}
	}
	if r.model.WriteAccess() == wsv1.Access_OWNER && r.model.OwnerField() != nil && r.model.OwnerOf(pm) == "" {
		return zero, unauthenticated(errors.New("ssotws: creating an owned record needs an identity"))
	}
	if err := r.checkWrite(ctx, &AccessRequest{Op: OpCreate, Model: r.model, Identity: id, Key: r.model.KeyOf(pm), Proposed: pm}); err != nil {
		return zero, err
	}
	if vf := r.model.VersionField(); vf != nil {
		pm.Clear(vf)
	}
	var hook func() error
	if h := r.hooks.BeforeCreate; h != nil {
		hook = func() error { return h(ctx, m) }
	}
	data, prepare, err := r.checkedWrite(m, pm, "BeforeCreate", hook)
	if err != nil {
		return zero, err
	}
	created, err := r.commit(ctx, wsv1.EventType_EVENT_TYPE_CREATED, &Write{
		Kind: WriteCreate, Model: r.model.FullName(), Key: r.model.KeyOf(pm),
		Data: data, Fields: r.model.FieldValues(pm), RequestID: reqID,
	}, prepare)
	if err != nil {
		return zero, codeOf(err)
	}
	return r.visible(ctx, id, created), nil
}

// Update changes the record whose key msg holds. mask lists the fields to
// change; an empty mask means every field populated in msg, "*" every
// field. If the model has a version field and msg sets it, the update
// applies only to that version (else it fails with Aborted). in are the
// request headers.
func (r *Resource[T]) Update(ctx context.Context, in http.Header, msg T, mask *fieldmaskpb.FieldMask) (T, error) {
	var zero T
	reqID, id, err := r.beginWrite(ctx, in, msg)
	if err != nil {
		return zero, err
	}
	src := msg.ProtoReflect()
	if !hasKey(src, r.model.KeyField()) {
		return zero, invalidArgument("%s.%s is required", snake(r.model.Name()), r.model.KeyField().Name())
	}
	key := r.model.KeyOf(src)
	fields, err := r.maskFields(src, mask)
	if err != nil {
		return zero, err
	}
	want, err := r.wantVersion(src)
	if err != nil {
		return zero, err
	}
	for attempt := 0; ; attempt++ {
		cur, err := r.store.Get(ctx, r.model.FullName(), key)
		if err != nil {
			return zero, codeOf(err)
		}
		if want != 0 && want != cur.Version {
			return zero, codeOf(fmt.Errorf("%w: %q is at version %d, not %d", ErrVersionConflict, key, cur.Version, want))
		}
		m, err := r.decode(cur)
		if err != nil {
			return zero, err
		}
		pm := m.ProtoReflect()
		if err := r.checkOwner(id, r.model.WriteAccess(), pm); err != nil {
			return zero, err
		}
		var prev T
		var before protoreflect.Message
		if r.opts.policy != nil || r.hooks.BeforeUpdate != nil {
			prev = proto.Clone(m).(T)
			before = prev.ProtoReflect()
		}
		for _, fd := range r.writable(id, pm, fields, mask) {
			if fd == r.model.OwnerField() && src.Get(fd).String() != pm.Get(fd).String() {
				return zero, invalidArgument("%s.%s cannot be changed", snake(r.model.Name()), fd.Name())
			}
			if src.Has(fd) {
				pm.Set(fd, src.Get(fd))
			} else {
				pm.Clear(fd)
			}
		}
		if vf := r.model.VersionField(); vf != nil {
			pm.Clear(vf)
		}
		if err := r.checkWrite(ctx, &AccessRequest{Op: OpUpdate, Model: r.model, Identity: id, Key: key, Current: before, Proposed: pm}); err != nil {
			return zero, err
		}
		var hook func() error
		if h := r.hooks.BeforeUpdate; h != nil {
			hook = func() error { return h(ctx, prev, m) }
		}
		data, prepare, err := r.checkedWrite(m, pm, "BeforeUpdate", hook)
		if err != nil {
			return zero, err
		}
		updated, err := r.commit(ctx, wsv1.EventType_EVENT_TYPE_UPDATED, &Write{
			// Conditional on the version read, always: the record checked
			// above is the record changed (and the one hooks see).
			Kind: WriteUpdate, Model: r.model.FullName(), Key: key, IfVersion: cur.Version,
			Data: data, Fields: r.model.FieldValues(pm), RequestID: reqID,
		}, prepare)
		if errors.Is(err, ErrVersionConflict) && want == 0 && attempt < 16 {
			continue // a concurrent write won; merge onto the new state
		}
		if err != nil {
			return zero, codeOf(err)
		}
		return r.visible(ctx, id, updated), nil
	}
}

// maskFields resolves an update mask to the fields it changes.
func (r *Resource[T]) maskFields(src protoreflect.Message, mask *fieldmaskpb.FieldMask) ([]protoreflect.FieldDescriptor, error) {
	all := r.model.Descriptor().Fields()
	var out []protoreflect.FieldDescriptor
	skip := func(fd protoreflect.FieldDescriptor) bool {
		return fd == r.model.KeyField() || fd == r.model.VersionField()
	}
	paths := mask.GetPaths()
	switch {
	case len(paths) == 0:
		for i := 0; i < all.Len(); i++ {
			if fd := all.Get(i); src.Has(fd) && !skip(fd) && fd != r.model.OwnerField() {
				out = append(out, fd)
			}
		}
	case len(paths) == 1 && paths[0] == "*":
		for i := 0; i < all.Len(); i++ {
			if fd := all.Get(i); !skip(fd) && fd != r.model.OwnerField() {
				out = append(out, fd)
			}
		}
	default:
		for _, p := range paths {
			fd := all.ByName(protoreflect.Name(p))
			if fd == nil {
				if strings.Contains(p, ".") {
					return nil, invalidArgument("update_mask: nested path %q is not supported; name a top-level field of %s", p, r.model.FullName())
				}
				return nil, invalidArgument("update_mask: %s has no field %q", r.model.FullName(), p)
			}
			if fd == r.model.KeyField() && r.model.KeyOf(src) != "" {
				continue // the key identifies the record; it is never changed
			}
			if fd == r.model.VersionField() {
				continue
			}
			out = append(out, fd)
		}
	}
	return out, nil
}

// Delete deletes the record with key, whatever its version. in are the
// request headers. The result is the record's last state.
//
// For an OWNER model, or with a Policy, the checks are made on the
// record as read, and the delete is conditional on that record's version,
// so what is deleted is what was checked. A record found absent is deleted
// only by nobody: such a delete (a retry with an Idempotency-Key) expects
// the record to stay absent, and succeeds only as the replay of the
// caller's own earlier delete, whose result is then checked in turn.
func (r *Resource[T]) Delete(ctx context.Context, in http.Header, key string) (T, error) {
	return r.DeleteIfVersion(ctx, in, key, 0)
}

// DeleteIfVersion is [Resource.Delete] for a request that carries the
// version it expects (AIP-154's etag): a non-zero version makes the delete
// conditional on it (else it fails with Aborted); zero deletes whatever
// the version.
func (r *Resource[T]) DeleteIfVersion(ctx context.Context, in http.Header, key string, version int64) (T, error) {
	var zero T
	if key == "" {
		return zero, invalidArgument("%s is required", r.model.KeyField().Name())
	}
	reqID, err := requestID(in)
	if err != nil {
		return zero, err
	}
	id, err := r.authorize(ctx, r.model.WriteAccess())
	if err != nil {
		return zero, err
	}
	checked := r.model.WriteAccess() == wsv1.Access_OWNER && r.model.OwnerField() != nil || r.opts.policy != nil
	for attempt := 0; ; attempt++ {
		ifVersion := version
		absent := false
		if checked {
			cur, err := r.store.Get(ctx, r.model.FullName(), key)
			switch {
			case errors.Is(err, ErrNotFound) && reqID != "":
				// Maybe a retry of a delete that succeeded: only its
				// replay may succeed, never a delete of a record
				// created since.
				absent, ifVersion = true, IfAbsent
			case err != nil:
				return zero, codeOf(err)
			default:
				m, err := r.decode(cur)
				if err != nil {
					return zero, err
				}
				if err := r.checkDelete(ctx, id, key, m.ProtoReflect()); err != nil {
					return zero, err
				}
				if version != 0 && version != cur.Version {
					return zero, codeOf(fmt.Errorf("%w: %q is at version %d, not %d", ErrVersionConflict, key, cur.Version, version))
				}
				ifVersion = cur.Version
			}
		}
		deleted, err := r.commit(ctx, wsv1.EventType_EVENT_TYPE_DELETED, &Write{
			Kind: WriteDelete, Model: r.model.FullName(), Key: key, IfVersion: ifVersion, RequestID: reqID,
		}, r.beforeDelete(ctx))
		if errors.Is(err, ErrVersionConflict) && (version == 0 || absent) && attempt < 16 {
			continue // changed since it was read: check it again
		}
		if err != nil {
			return zero, codeOf(err)
		}
		if absent && r.planning(ctx) == nil {
			// The replay of an earlier delete: check its record too (a
			// batch checks it once applied).
			if err := r.checkDelete(ctx, id, key, deleted.ProtoReflect()); err != nil {
				return zero, err
			}
		}
		return r.visible(ctx, id, deleted), nil
	}
}

// snake turns a message name into a field name: "ChatMessage" → "chat_message".
func snake(s string) string {
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// hasKey reports whether m holds a key in fd: a key field with explicit
// presence set to its zero value ("" or 0) is no key, as an implicit one
// would be.
func hasKey(m protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	if !m.Has(fd) {
		return false
	}
	if fd.Kind() == protoreflect.StringKind {
		return m.Get(fd).String() != ""
	}
	return m.Get(fd).String() != "0" // every integer kind prints 0 as "0"
}
