package ssotws

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Resource serves the standard methods of one model over a [Store]. For a
// realtime model it publishes a change event on each of the record's
// channels after every successful mutation. Generated handlers call it; it
// is safe for concurrent use.
type Resource[T proto.Message] struct {
	model *Model
	store Store
	pub   Publisher
	opts  resourceOptions
}

// ListRequest is a List call's query.
type ListRequest struct {
	// Filters are equality filters; filters with an empty Field are ignored.
	Filters   []Filter
	PageSize  int32
	PageToken string
}

// ListResult is one page of a List.
type ListResult[T proto.Message] struct {
	Items         []T
	NextPageToken string
}

// NewResource returns the resource of model m. pub may be nil for a model
// that is not realtime; a realtime model then publishes nothing.
func NewResource[T proto.Message](m *Model, store Store, pub Publisher, opts ...Option) *Resource[T] {
	return &Resource[T]{model: m, store: store, pub: pub, opts: newResourceOptions(opts)}
}

// Model returns the resource's model.
func (r *Resource[T]) Model() *Model { return r.model }

func (r *Resource[T]) newT() T {
	var zero T
	return zero.ProtoReflect().Type().New().Interface().(T)
}

// decode unmarshals a record and exposes its version.
func (r *Resource[T]) decode(rec *Record) (T, error) {
	msg := r.newT()
	if err := proto.Unmarshal(rec.Data, msg); err != nil {
		return msg, connect.NewError(connect.CodeInternal, fmt.Errorf("ssotws: stored %s %q: %w", r.model.FullName(), rec.Key, err))
	}
	if vf := r.model.VersionField(); vf != nil {
		msg.ProtoReflect().Set(vf, versionValue(vf, rec.Version))
	}
	return msg, nil
}

func versionValue(fd protoreflect.FieldDescriptor, v int64) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(v))
	}
	return protoreflect.ValueOfInt64(v)
}

func versionFrom(fd protoreflect.FieldDescriptor, msg protoreflect.Message) int64 {
	if fd == nil {
		return 0
	}
	switch fd.Kind() {
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return int64(msg.Get(fd).Uint())
	}
	return msg.Get(fd).Int()
}

// positionHeader reads channel's position before the store is read and
// writes it to out.
func (r *Resource[T]) positionHeader(ctx context.Context, out http.Header, channel string) error {
	if !r.model.Realtime() || out == nil {
		return nil
	}
	pr, ok := r.pub.(PositionReader)
	if !ok {
		return nil
	}
	pos, err := pr.Position(ctx, channel)
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("ssotws: position of %q: %w", channel, err))
	}
	out.Set(HeaderChannel, channel)
	out.Set(HeaderPosition, FormatPosition(pos))
	return nil
}

// withPosition copies the position headers into a Connect error's metadata,
// so that a client hydrating an item channel learns the position of a
// NotFound answer too.
func withPosition(err error, out http.Header) error {
	var ce *connect.Error
	if out == nil || !errors.As(err, &ce) {
		return err
	}
	for _, h := range []string{HeaderChannel, HeaderPosition} {
		if v := out.Get(h); v != "" {
			ce.Meta().Set(h, v)
		}
	}
	return err
}

// Get returns the record with key. in and out are the request and response
// headers.
func (r *Resource[T]) Get(ctx context.Context, in, out http.Header, key string) (T, error) {
	var zero T
	if key == "" {
		return zero, invalidArgument("%s is required", r.model.KeyField().Name())
	}
	id, err := r.authorize(ctx, r.model.ReadAccess())
	if err != nil {
		return zero, err
	}
	if err := r.positionHeader(ctx, out, ItemChannel(r.model.Name(), key)); err != nil {
		return zero, err
	}
	rec, err := r.store.Get(ctx, r.model.FullName(), key)
	if err != nil {
		return zero, withPosition(codeOf(err), out)
	}
	msg, err := r.decode(rec)
	if err != nil {
		return zero, err
	}
	if err := r.checkOwner(id, r.model.ReadAccess(), msg.ProtoReflect()); err != nil {
		return zero, err
	}
	if err := r.opts.authorizeCall(ctx, &AccessRequest{Op: OpGet, Model: r.model, Identity: id, Key: key, Current: msg.ProtoReflect()}); err != nil {
		return zero, err
	}
	return msg, nil
}

// List returns one page of records matching req.
func (r *Resource[T]) List(ctx context.Context, in, out http.Header, req ListRequest) (*ListResult[T], error) {
	id, err := r.authorize(ctx, r.model.ReadAccess())
	if err != nil {
		return nil, err
	}
	if req.PageSize < 0 {
		return nil, invalidArgument("page_size must not be negative")
	}
	size := int(req.PageSize)
	if size == 0 {
		size = r.opts.defaultPageSize
	}
	size = min(size, r.opts.maxPageSize)
	q := Query{Model: r.model.FullName(), PageSize: size, PageToken: req.PageToken}
	for _, f := range req.Filters {
		if f.Field != "" {
			q.Filters = append(q.Filters, f)
		}
	}
	if r.model.ReadAccess() == wsv1.Access_OWNER && r.model.OwnerField() != nil {
		q.Filters = append(q.Filters, Filter{Field: string(r.model.OwnerField().Name()), Value: id.Subject})
	}
	if err := r.opts.authorizeCall(ctx, &AccessRequest{Op: OpList, Model: r.model, Identity: id, Filters: q.Filters}); err != nil {
		return nil, err
	}
	channel := ModelChannel(r.model.Name())
scopes:
	for _, s := range r.model.ScopeFields() {
		for _, f := range q.Filters {
			if f.Field == string(s.Name()) {
				channel = ScopeChannel(r.model.Name(), f.Field, f.Value)
				break scopes
			}
		}
	}
	if err := r.positionHeader(ctx, out, channel); err != nil {
		return nil, err
	}
	page, err := r.store.List(ctx, q)
	if err != nil {
		return nil, codeOf(err)
	}
	res := &ListResult[T]{Items: make([]T, 0, len(page.Records)), NextPageToken: page.NextPageToken}
	for _, rec := range page.Records {
		msg, err := r.decode(rec)
		if err != nil {
			return nil, err
		}
		res.Items = append(res.Items, msg)
	}
	return res, nil
}

// Create stores msg as a new record. key, when not empty, is the key the
// request asked for (AIP-133's <model>_id field); otherwise msg's key field
// is used, and when that is empty too a key is generated. The owner field,
// if the model has one, is set to the caller whatever msg says (left empty
// for an anonymous caller). The result is the record, or only its key and
// version when the caller may not read it; so are Update's and Delete's.
func (r *Resource[T]) Create(ctx context.Context, in, out http.Header, msg T, key string) (T, error) {
	var zero T
	if !msg.ProtoReflect().IsValid() {
		return zero, invalidArgument("%s is required", snake(r.model.Name()))
	}
	reqID, err := requestID(in)
	if err != nil {
		return zero, err
	}
	id, err := r.authorize(ctx, r.model.WriteAccess())
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
	if !pm.Has(kf) {
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
		if id != nil && id.Subject != "" {
			pm.Set(of, protoreflect.ValueOfString(id.Subject))
		} else {
			pm.Clear(of)
		}
	}
	if r.model.WriteAccess() == wsv1.Access_OWNER && r.model.OwnerField() != nil && r.model.OwnerOf(pm) == "" {
		return zero, unauthenticated(errors.New("ssotws: creating an owned record needs an identity"))
	}
	if err := r.opts.authorizeCall(ctx, &AccessRequest{Op: OpCreate, Model: r.model, Identity: id, Key: r.model.KeyOf(pm), Proposed: pm}); err != nil {
		return zero, err
	}
	if vf := r.model.VersionField(); vf != nil {
		pm.Clear(vf)
	}
	data, err := r.marshal(m)
	if err != nil {
		return zero, err
	}
	created, err := r.commit(ctx, wsv1.EventType_EVENT_TYPE_CREATED, &Write{
		Kind: WriteCreate, Model: r.model.FullName(), Key: r.model.KeyOf(pm),
		Data: data, Fields: r.model.FieldValues(pm), RequestID: reqID,
	})
	if err != nil {
		return zero, codeOf(err)
	}
	return r.visible(ctx, id, created), nil
}

// Update changes the record whose key msg holds. mask lists the fields to
// change; an empty mask means every field populated in msg, "*" every
// field. If the model has a version field and msg sets it, the update
// applies only to that version (else it fails with Aborted).
func (r *Resource[T]) Update(ctx context.Context, in, out http.Header, msg T, mask *fieldmaskpb.FieldMask) (T, error) {
	var zero T
	if !msg.ProtoReflect().IsValid() {
		return zero, invalidArgument("%s is required", snake(r.model.Name()))
	}
	reqID, err := requestID(in)
	if err != nil {
		return zero, err
	}
	id, err := r.authorize(ctx, r.model.WriteAccess())
	if err != nil {
		return zero, err
	}
	src := msg.ProtoReflect()
	if !src.Has(r.model.KeyField()) {
		return zero, invalidArgument("%s.%s is required", snake(r.model.Name()), r.model.KeyField().Name())
	}
	key := r.model.KeyOf(src)
	fields, err := r.maskFields(src, mask)
	if err != nil {
		return zero, err
	}
	want := versionFrom(r.model.VersionField(), src)
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
		var before protoreflect.Message
		if r.opts.authorizer != nil {
			before = proto.Clone(m).ProtoReflect()
		}
		for _, fd := range fields {
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
		if err := r.opts.authorizeCall(ctx, &AccessRequest{Op: OpUpdate, Model: r.model, Identity: id, Key: key, Current: before, Proposed: pm}); err != nil {
			return zero, err
		}
		data, err := r.marshal(m)
		if err != nil {
			return zero, err
		}
		updated, err := r.commit(ctx, wsv1.EventType_EVENT_TYPE_UPDATED, &Write{
			// Conditional on the version read, always: the record checked
			// above is the record changed.
			Kind: WriteUpdate, Model: r.model.FullName(), Key: key, IfVersion: cur.Version,
			Data: data, Fields: r.model.FieldValues(pm), RequestID: reqID,
		})
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

// Delete deletes the record with key. A non-zero version makes the delete
// conditional on it. The result is the record's last state.
//
// For an OWNER model, or with an Authorizer, the checks are made on the
// record as read, and the delete is conditional on that record's version,
// so what is deleted is what was checked. A record found absent is deleted
// only by nobody: such a delete (a retry with an Idempotency-Key) expects
// the record to stay absent, and succeeds only as the replay of the
// caller's own earlier delete, whose result is then checked in turn.
func (r *Resource[T]) Delete(ctx context.Context, in, out http.Header, key string, version int64) (T, error) {
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
	checked := r.model.WriteAccess() == wsv1.Access_OWNER && r.model.OwnerField() != nil || r.opts.authorizer != nil
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
		})
		if errors.Is(err, ErrVersionConflict) && (version == 0 || absent) && attempt < 16 {
			continue // changed since it was read: check it again
		}
		if err != nil {
			return zero, codeOf(err)
		}
		if absent {
			// The replay of an earlier delete: check its record too.
			if err := r.checkDelete(ctx, id, key, deleted.ProtoReflect()); err != nil {
				return zero, err
			}
		}
		return r.visible(ctx, id, deleted), nil
	}
}

// checkDelete applies the owner rule and the Authorizer to a delete of
// current, the record as stored.
func (r *Resource[T]) checkDelete(ctx context.Context, id *Identity, key string, current protoreflect.Message) error {
	if err := r.checkOwner(id, r.model.WriteAccess(), current); err != nil {
		return err
	}
	return r.opts.authorizeCall(ctx, &AccessRequest{Op: OpDelete, Model: r.model, Identity: id, Key: key, Current: current})
}

// commit applies w and publishes its events while holding the record's
// write lock, so that the events of one record are published in version
// order. Without it, two writers of one record could publish out of order,
// and a client that took its snapshot between the two commits would apply
// the older event after a delete it never saw.
//
// Once started, the write and its publish run to their end even if the
// caller leaves (a dropped connection cancels the request's context): a
// commit whose events were never published leaves every subscriber stale
// until the caller retries with the same Idempotency-Key, and a caller that
// left may never retry. A context that ended before the write started
// fails it, and commitTimeout bounds the rest.
//
// w.RequestID is the client's Idempotency-Key; the store keeps it scoped by
// the caller's identity, so that nobody else's retry can read the result,
// and the events echo it unchanged.
func (r *Resource[T]) commit(ctx context.Context, typ wsv1.EventType, w *Write) (T, error) {
	var zero T
	reqID := w.RequestID
	if id := IdentityFrom(ctx); reqID != "" && id != nil && id.Subject != "" {
		scoped := *w
		scoped.RequestID = id.Subject + "\x1f" + reqID
		w = &scoped
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	mu := recordLock(w.Model, w.Key)
	mu.Lock()
	defer func() { mu.Unlock() }()
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	res, err := r.store.Apply(ctx, w)
	if err != nil {
		return zero, err
	}
	if res.Replayed {
		if res.Record.Key != w.Key {
			// A retried Create whose key the server generated: the first
			// attempt's key is the record's.
			mu.Unlock()
			mu = recordLock(w.Model, res.Record.Key)
			mu.Lock()
		}
		current, err := r.stillCurrent(ctx, res.Record)
		if err != nil {
			return zero, err
		}
		if !current {
			// Later writes of the record published newer events; sending
			// this old state again could bring back, for a client whose
			// snapshot came after a delete, a record that is gone.
			return r.decode(res.Record)
		}
	}
	return r.publish(ctx, typ, res, reqID)
}

// stillCurrent reports whether rec, the result of a replayed request, is
// still the record's latest state: then its events may be published again
// (the first attempt's may have been lost).
func (r *Resource[T]) stillCurrent(ctx context.Context, rec *Record) (bool, error) {
	cur, err := r.store.Get(ctx, r.model.FullName(), rec.Key)
	if errors.Is(err, ErrNotFound) {
		return rec.Deleted, nil
	}
	if err != nil {
		return false, err
	}
	return !rec.Deleted && cur.Version == rec.Version, nil
}

// commitTimeout bounds a write and its publish once they started, whatever
// the caller's context.
const commitTimeout = 30 * time.Second

// recordLocks serialize commit-and-publish per record, striped by hash.
var recordLocks [256]sync.Mutex

func recordLock(model, key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(model))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return &recordLocks[h.Sum32()%uint32(len(recordLocks))]
}

// publish sends the change events of a committed write and returns the
// record as the caller sees it.
func (r *Resource[T]) publish(ctx context.Context, typ wsv1.EventType, res *WriteResult, reqID string) (T, error) {
	msg, err := r.decode(res.Record)
	if err != nil {
		return msg, err
	}
	if !r.model.Realtime() || r.pub == nil {
		return msg, nil
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return msg, connect.NewError(connect.CodeInternal, err)
	}
	now := r.opts.now().UnixMilli()
	pm := msg.ProtoReflect()
	event := func(channel string, t wsv1.EventType) *wsv1.Event {
		return &wsv1.Event{
			Channel: channel, Type: t, Key: res.Record.Key, Version: res.Record.Version,
			TimeUnixMs: now, RequestId: reqID, Data: data,
		}
	}
	channels := r.model.Channels(pm)
	events := make([]*wsv1.Event, 0, len(channels)+len(r.model.ScopeFields()))
	for _, c := range channels {
		events = append(events, event(c, typ))
	}
	if typ == wsv1.EventType_EVENT_TYPE_UPDATED && res.Previous != nil {
		// A record that moved out of a scope leaves that scope's channel.
		for _, s := range r.model.ScopeFields() {
			old, now := res.Previous.Fields[string(s.Name())], protocol.FormatValue(s, pm.Get(s))
			if old != now {
				events = append(events, event(ScopeChannel(r.model.Name(), string(s.Name()), old), wsv1.EventType_EVENT_TYPE_DELETED))
			}
		}
	}
	if err := r.pub.Publish(ctx, events); err != nil {
		return msg, connect.NewError(connect.CodeUnavailable,
			fmt.Errorf("ssotws: the change was committed but its events were not published (retry with the same %s to publish them): %w", HeaderIdempotencyKey, err))
	}
	return msg, nil
}

// authorize checks that the caller may use access and returns its identity.
func (r *Resource[T]) authorize(ctx context.Context, access wsv1.Access) (*Identity, error) {
	id := IdentityFrom(ctx)
	if access == wsv1.Access_PUBLIC {
		return id, nil
	}
	if id == nil || id.Subject == "" {
		return nil, unauthenticated(fmt.Errorf("ssotws: %s needs an authenticated caller", r.model.FullName()))
	}
	return id, nil
}

// marshal encodes a record to store, within the record size bound.
func (r *Resource[T]) marshal(m T) ([]byte, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, invalidArgument("%s: %v", r.model.FullName(), err)
	}
	if max := r.opts.maxRecordBytes; max > 0 && len(data) > max {
		return nil, invalidArgument("%s %q is %d bytes, over the limit of %d bytes per record", r.model.FullName(), r.model.KeyOf(m.ProtoReflect()), len(data), max)
	}
	return data, nil
}

// visible returns what a mutation answers its caller: msg, the record
// written, if the caller may read it (the model's read access, its owner
// rule and the Authorizer, as for a Get), else only its key and version.
// Write access does not grant read access: on a model anyone may write
// and only the owner may read, a write must not hand anyone the record.
func (r *Resource[T]) visible(ctx context.Context, id *Identity, msg T) T {
	pm := msg.ProtoReflect()
	ok := r.model.ReadAccess() == wsv1.Access_PUBLIC || id != nil && id.Subject != ""
	if ok {
		ok = r.checkOwner(id, r.model.ReadAccess(), pm) == nil
	}
	if ok && r.opts.authorizer != nil {
		ok = r.opts.authorizeCall(ctx, &AccessRequest{Op: OpGet, Model: r.model, Identity: id, Key: r.model.KeyOf(pm), Current: pm}) == nil
	}
	if ok {
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

// checkOwner enforces OWNER access on an existing record.
func (r *Resource[T]) checkOwner(id *Identity, access wsv1.Access, msg protoreflect.Message) error {
	if access != wsv1.Access_OWNER || r.model.OwnerField() == nil {
		return nil
	}
	if id == nil || r.model.OwnerOf(msg) != id.Subject {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("ssotws: %s %q belongs to another user", r.model.FullName(), r.model.KeyOf(msg)))
	}
	return nil
}

// MaxRequestIDLen bounds the length of an Idempotency-Key.
const MaxRequestIDLen = 256

func requestID(in http.Header) (string, error) {
	id := in.Get(HeaderIdempotencyKey)
	if len(id) > MaxRequestIDLen {
		return "", invalidArgument("%s is longer than %d bytes", HeaderIdempotencyKey, MaxRequestIDLen)
	}
	return id, nil
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a random 20-character key.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
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
