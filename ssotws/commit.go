package ssotws

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

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
//
// prepare, when not nil, runs under the lock just before the store
// commits: the Before hooks run there, and may change w or refuse it.
// Once the write committed and published, the AfterCommit hook runs,
// outside the lock.
func (r *Resource[T]) commit(ctx context.Context, typ wsv1.EventType, w *Write, prepare func(w *Write) error) (T, error) {
	if p := r.planning(ctx); p != nil {
		// A batch method plans its writes: it commits them together
		// (batch.go).
		p.writes = append(p.writes, plannedWrite{typ: typ, w: w, prepare: prepare})
		return r.newT(), nil
	}
	msg, fresh, err := r.commitLocked(ctx, typ, w, prepare)
	if err == nil && fresh {
		r.afterCommit(ctx, typ, msg)
	}
	return msg, err
}

// commitLocked is commit under the record's lock; fresh reports a write
// that was not the replay of an earlier one.
func (r *Resource[T]) commitLocked(ctx context.Context, typ wsv1.EventType, w *Write, prepare func(w *Write) error) (_ T, fresh bool, _ error) {
	var zero T
	reqID := w.RequestID
	w = scopeRequestID(ctx, w)
	if err := ctx.Err(); err != nil {
		return zero, false, err
	}
	mu := recordLock(w.Model, w.Key)
	mu.Lock()
	defer func() { mu.Unlock() }()
	if err := ctx.Err(); err != nil {
		return zero, false, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if prepare != nil {
		if err := prepare(w); err != nil {
			return zero, false, err
		}
	}
	res, err := r.store.Apply(ctx, w)
	if err != nil {
		return zero, false, err
	}
	if res.Replayed {
		if res.Record.Key != w.Key {
			// A retried Create whose key the server generated: the first
			// attempt's key is the record's.
			mu.Unlock()
			mu = recordLock(w.Model, res.Record.Key)
			mu.Lock()
		}
		msg, err := r.republish(ctx, typ, res, reqID)
		return msg, false, err
	}
	msg, err := r.publish(ctx, typ, res, reqID)
	return msg, true, err
}

// scopeRequestID returns w with its RequestID scoped by the caller's
// identity (or the system's), a copy when it changes.
func scopeRequestID(ctx context.Context, w *Write) *Write {
	if w.RequestID == "" {
		return w
	}
	scoped := *w
	if isSystem(ctx) {
		scoped.RequestID = "\x1esystem\x1f" + w.RequestID
	} else if id := IdentityFrom(ctx); id != nil && id.Subject != "" {
		scoped.RequestID = id.Subject + "\x1f" + w.RequestID
	} else {
		return w
	}
	return &scoped
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
	return &recordLocks[recordLockIndex(model, key)]
}

func recordLockIndex(model, key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(model))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return h.Sum32() % uint32(len(recordLocks))
}

// publish sends the change events of a committed write and returns the
// record as the caller sees it.
func (r *Resource[T]) publish(ctx context.Context, typ wsv1.EventType, res *WriteResult, reqID string) (T, error) {
	msg, events, err := r.events(typ, res, reqID)
	if err != nil {
		return msg, err
	}
	return msg, r.send(ctx, events)
}

// send publishes events, if there are any to publish.
func (r *Resource[T]) send(ctx context.Context, events []*wsv1.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := r.pub.Publish(ctx, events); err != nil {
		return connect.NewError(connect.CodeUnavailable,
			fmt.Errorf("ssotws: the change was committed but its events were not published (retry with the same %s to publish them): %w", HeaderIdempotencyKey, err))
	}
	return nil
}

// events returns the record a committed write left and its change
// events: none for a model that is not realtime or has no publisher.
func (r *Resource[T]) events(typ wsv1.EventType, res *WriteResult, reqID string) (T, []*wsv1.Event, error) {
	msg, err := r.decode(res.Record)
	if err != nil {
		return msg, nil, err
	}
	if !r.model.Realtime() || r.pub == nil {
		return msg, nil, nil
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return msg, nil, connect.NewError(connect.CodeInternal, err)
	}
	now := r.opts.now().UnixMilli()
	pm := msg.ProtoReflect()
	mask, base, delta := deltaOf(r.model.Descriptor(), r.model.VersionField(), res.Previous, res.Record, data)
	event := func(channel string, t wsv1.EventType) *wsv1.Event {
		e := &wsv1.Event{
			Channel: channel, Type: t, Key: res.Record.Key, Version: res.Record.Version,
			TimeUnixMs: now, RequestId: reqID, Data: data,
		}
		if delta && t == wsv1.EventType_EVENT_TYPE_UPDATED {
			e.DeltaMask, e.BaseVersion = mask, base // delta.go
		}
		return e
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
	return msg, events, nil
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
