package ssotws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Batch methods (AIP-233 BatchCreate, AIP-234 BatchUpdate, AIP-235
// BatchDelete) apply their items atomically: every item or none.
//
// Each item goes through the path of its standard method (the access
// checks, the Policy, key generation, the owner rule) in planning mode:
// its write is planned rather than committed. Then the batch takes the
// locks of all its records, runs the Before hooks in item order, applies
// every write in one store transaction ([Store].ApplyBatch), publishes
// every event of the batch in one [Publisher].Publish (so that a
// subscriber gets each channel's events of the batch in one Events frame)
// and runs the AfterCommit hooks. A failing item fails the batch with its
// index ("requests[2]: …") and the item's error code: nothing is written
// and nothing is published.
//
// Item i's Idempotency-Key is the request's, extended with "/i"
// ([SubRequest]): a retried batch replays.

// MaxBatchItems bounds the items of one batch method call.
const MaxBatchItems = 1000

// CreateItem is one item of [Resource.BatchCreate]: a record, and its key
// when the request names it apart (AIP-133's <model>_id), else "".
type CreateItem[T proto.Message] struct {
	Record T
	Key    string
}

// UpdateItem is one item of [Resource.BatchUpdate]: as [Resource.Update]
// takes it.
type UpdateItem[T proto.Message] struct {
	Record T
	Mask   *fieldmaskpb.FieldMask
}

// DeleteItem is one item of [Resource.BatchDelete]: a key, and the
// version the delete expects (0: whatever the version).
type DeleteItem struct {
	Key     string
	Version int64
}

// BatchCreate creates every item as [Resource.CreateWithKey] does, in one
// transaction, and returns the records in item order.
func (r *Resource[T]) BatchCreate(ctx context.Context, in http.Header, items []CreateItem[T]) ([]T, error) {
	return r.batch(ctx, in, len(items), func(ctx context.Context, in http.Header, i int) error {
		_, err := r.create(ctx, in, items[i].Record, items[i].Key)
		return err
	})
}

// BatchUpdate updates every item as [Resource.Update] does, in one
// transaction, and returns the records in item order.
func (r *Resource[T]) BatchUpdate(ctx context.Context, in http.Header, items []UpdateItem[T]) ([]T, error) {
	return r.batch(ctx, in, len(items), func(ctx context.Context, in http.Header, i int) error {
		_, err := r.Update(ctx, in, items[i].Record, items[i].Mask)
		return err
	})
}

// BatchDelete deletes every item as [Resource.DeleteIfVersion] does, in
// one transaction, and returns the records' last states in item order.
func (r *Resource[T]) BatchDelete(ctx context.Context, in http.Header, items []DeleteItem) ([]T, error) {
	return r.batch(ctx, in, len(items), func(ctx context.Context, in http.Header, i int) error {
		_, err := r.DeleteIfVersion(ctx, in, items[i].Key, items[i].Version)
		return err
	})
}

// plannedWrite is a write a batch method planned: what commit would have
// committed.
type plannedWrite struct {
	typ     wsv1.EventType
	w       *Write
	prepare func(*Write) error
}

// batchPlan collects the writes of a batch while its items are planned.
type batchPlan struct {
	owner  any // the resource planning; other resources commit as usual
	writes []plannedWrite
	done   bool // planned: later writes (from a hook) commit as usual
}

type planKey struct{}

// planning returns the plan of the batch of r that ctx is planning, or nil.
func (r *Resource[T]) planning(ctx context.Context) *batchPlan {
	p, _ := ctx.Value(planKey{}).(*batchPlan)
	if p == nil || p.done || p.owner != any(r) {
		return nil
	}
	return p
}

// batch plans n items with plan, then commits them together; a commit
// that lost a race with a concurrent write is planned again.
func (r *Resource[T]) batch(ctx context.Context, in http.Header, n int, plan func(ctx context.Context, in http.Header, i int) error) ([]T, error) {
	if n > MaxBatchItems {
		return nil, invalidArgument("requests: %d items, over the limit of %d per batch", n, MaxBatchItems)
	}
	key, err := requestID(in)
	if err != nil {
		return nil, err
	}
	if key != "" && len(key)+1+len(strconv.Itoa(n)) > MaxRequestIDLen {
		return nil, invalidArgument("%s is too long for a batch of %d items: at most %d bytes", HeaderIdempotencyKey, n, MaxRequestIDLen-1-len(strconv.Itoa(n)))
	}
	id, err := r.authorize(ctx, r.model.WriteAccess())
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []T{}, nil
	}
	for attempt := 0; ; attempt++ {
		p := &batchPlan{owner: r}
		pctx := context.WithValue(ctx, planKey{}, p)
		for i := 0; i < n; i++ {
			if err := plan(pctx, SubRequest(in, strconv.Itoa(i)), i); err != nil {
				return nil, itemError(i, err)
			}
		}
		p.done = true
		if err := p.distinct(); err != nil {
			return nil, err
		}
		out, err := r.commitBatch(ctx, id, p)
		if errors.Is(err, ErrVersionConflict) && attempt < 8 {
			continue // a concurrent write won: check and plan again
		}
		if err != nil {
			return nil, codeOf(err)
		}
		return out, nil
	}
}

// distinct refuses a batch that writes one record twice: AIP leaves the
// outcome undefined, and the events would not say which came first.
func (p *batchPlan) distinct() error {
	seen := make(map[string]int, len(p.writes))
	for i, pw := range p.writes {
		if j, ok := seen[pw.w.Key]; ok {
			return invalidArgument("requests[%d] and requests[%d] both write %q; a batch writes each record once", j, i, pw.w.Key)
		}
		seen[pw.w.Key] = i
	}
	return nil
}

// itemError names item i in err, keeping its code and details.
func itemError(i int, err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return AtIndex(i, err)
	}
	out := connect.NewError(ce.Code(), fmt.Errorf("requests[%d]: %s", i, ce.Message()))
	for _, d := range ce.Details() {
		out.AddDetail(d)
	}
	return out
}

// lockRecords takes the record locks of ws, in one order for everyone so
// that two batches never wait on each other, and returns their unlock.
func lockRecords(ws []*Write) func() {
	var idx []uint32
	for _, w := range ws {
		if i := recordLockIndex(w.Model, w.Key); !slices.Contains(idx, i) {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	for _, i := range idx {
		recordLocks[i].Lock()
	}
	return func() {
		for _, i := range idx {
			recordLocks[i].Unlock()
		}
	}
}

// commitBatch is commit for the writes of a batch: under all their locks,
// the Before hooks, one store transaction, one publish; then the
// AfterCommit hooks. It returns the records as the caller sees them.
func (r *Resource[T]) commitBatch(ctx context.Context, id *Identity, p *batchPlan) ([]T, error) {
	ws := make([]*Write, len(p.writes))
	for i, pw := range p.writes {
		ws[i] = scopeRequestID(ctx, pw.w)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	unlock := lockRecords(ws)
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	for i, pw := range p.writes {
		if pw.prepare != nil {
			if err := pw.prepare(ws[i]); err != nil {
				return nil, itemError(i, err)
			}
		}
	}
	results, err := r.store.ApplyBatch(wctx, ws)
	if err != nil {
		return nil, err
	}
	msgs := make([]T, len(ws))
	var events []*wsv1.Event
	var moved []int // replays of creates whose key the server generated
	for i, res := range results {
		if res.Replayed && res.Record.Key != ws[i].Key {
			moved = append(moved, i)
			continue
		}
		if msgs[i], events, err = r.outcome(wctx, p.writes[i], res, events); err != nil {
			return nil, err
		}
	}
	if err := r.send(wctx, events); err != nil {
		return nil, err
	}
	unlock()
	locked = false
	if len(moved) > 0 {
		// A retried batch of creates whose keys the server generated: the
		// first attempt's keys are the records'. Publish their events
		// again, together, under those records' locks.
		keys := make([]*Write, len(moved))
		for j, i := range moved {
			keys[j] = &Write{Model: ws[i].Model, Key: results[i].Record.Key}
		}
		unlockMoved := lockRecords(keys)
		events = events[:0]
		var err error
		for _, i := range moved {
			if msgs[i], events, err = r.outcome(wctx, p.writes[i], results[i], events); err != nil {
				break
			}
		}
		if err == nil {
			err = r.send(wctx, events)
		}
		unlockMoved()
		if err != nil {
			return nil, err
		}
	}
	out := make([]T, len(msgs))
	for i, msg := range msgs {
		if !results[i].Replayed {
			r.afterCommit(ctx, p.writes[i].typ, msg)
		}
	}
	for i, msg := range msgs {
		if ws[i].Kind == WriteDelete && ws[i].IfVersion == IfAbsent {
			// The replay of an earlier delete: check its record too.
			if err := r.checkDelete(ctx, id, ws[i].Key, msg.ProtoReflect()); err != nil {
				return nil, itemError(i, err)
			}
		}
		out[i] = r.visible(ctx, id, msg)
	}
	return out, nil
}

// outcome returns the record a write of a batch left, and appends its
// events to events: none for a replay that later writes superseded (see
// republish).
func (r *Resource[T]) outcome(ctx context.Context, pw plannedWrite, res *WriteResult, events []*wsv1.Event) (T, []*wsv1.Event, error) {
	if res.Replayed {
		current, err := r.stillCurrent(ctx, res.Record)
		if err != nil {
			var zero T
			return zero, events, err
		}
		if !current {
			msg, err := r.decode(res.Record)
			return msg, events, err
		}
	}
	msg, evs, err := r.events(pw.typ, res, pw.w.RequestID)
	return msg, append(events, evs...), err
}

// republish publishes the events of a replayed write again when it is
// still the record's latest state (the first attempt's may have been
// lost), and returns the record. Later writes of the record published
// newer events; sending an old state again could bring back, for a
// client whose snapshot came after a delete, a record that is gone.
func (r *Resource[T]) republish(ctx context.Context, typ wsv1.EventType, res *WriteResult, reqID string) (T, error) {
	current, err := r.stillCurrent(ctx, res.Record)
	if err != nil {
		var zero T
		return zero, err
	}
	if !current {
		return r.decode(res.Record)
	}
	return r.publish(ctx, typ, res, reqID)
}
