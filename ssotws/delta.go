package ssotws

import (
	"bytes"
	"slices"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Field-level deltas (docs/decisions.md, "Field-level deltas").
//
// An UPDATED event leaves commit with the whole record in data and, in
// delta_mask, the top-level fields the update changed (and base_version,
// the version it changed). The broker carries it as it is, so history and
// other nodes see whole records. Each gateway that delivers it encodes it
// twice, once per event and never per subscriber: whole (the mask
// stripped: what a client that did not ask for deltas has always been
// sent) and as a delta (data cut down to the masked fields), and keeps the
// delta only when it is smaller. A subscription that asked for deltas
// (Subscribe.deltas) is written the delta, unless the send queue coalesced
// an older update of the record away (queueItem.full). The owner rule and
// the Filter hook read the event as it came from the broker: whole.

// deltaOf returns the delta of an update from prev to next (encodings of
// the model desc): the mask of the top-level fields whose encodings differ
// and the version the delta applies to. ok is false when no delta can be
// given: the update is not one write after a live record, or an encoding
// holds a field the descriptor does not name, or the model has no version
// field (a client could not order the read a missed base makes it do). The
// version field is always in the mask (the stored encoding may hold any
// value in it).
func deltaOf(desc protoreflect.MessageDescriptor, versionField protoreflect.FieldDescriptor, prev *Record, next *Record, nextData []byte) (*fieldmaskpb.FieldMask, int64, bool) {
	if versionField == nil || prev == nil || prev.Deleted || next == nil || prev.Version != next.Version-1 {
		return nil, 0, false
	}
	a, ok := fieldsOf(desc, prev.Data)
	if !ok {
		return nil, 0, false
	}
	b, ok := fieldsOf(desc, nextData)
	if !ok {
		return nil, 0, false
	}
	var nums []protowire.Number
	for n, x := range b {
		if !bytes.Equal(x, a[n]) {
			nums = append(nums, n)
		}
	}
	for n := range a {
		if _, ok := b[n]; !ok {
			nums = append(nums, n) // cleared
		}
	}
	if versionField != nil && !slices.Contains(nums, versionField.Number()) {
		nums = append(nums, versionField.Number())
	}
	slices.Sort(nums)
	paths := make([]string, len(nums))
	for i, n := range nums {
		paths[i] = string(desc.Fields().ByNumber(n).Name())
	}
	return &fieldmaskpb.FieldMask{Paths: paths}, prev.Version, true
}

// fieldsOf splits an encoded message into its top-level fields: each
// field number's tagged bytes, in order. ok is false for a malformed
// encoding or a field desc does not name.
func fieldsOf(desc protoreflect.MessageDescriptor, b []byte) (map[protowire.Number][]byte, bool) {
	out := make(map[protowire.Number][]byte)
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, false
		}
		m := protowire.ConsumeFieldValue(n, typ, b[l:])
		if m < 0 || desc.Fields().ByNumber(n) == nil {
			return nil, false
		}
		out[n] = append(out[n], b[:l+m]...)
		b = b[l+m:]
	}
	return out, true
}

// partialData returns the top-level fields of data that mask names. ok is
// false when the mask names a field desc does not have, or data is
// malformed.
func partialData(desc protoreflect.MessageDescriptor, data []byte, mask *fieldmaskpb.FieldMask) ([]byte, bool) {
	keep := make(map[protowire.Number]bool, len(mask.GetPaths()))
	for _, p := range mask.GetPaths() {
		fd := desc.Fields().ByName(protoreflect.Name(p))
		if fd == nil {
			return nil, false
		}
		keep[fd.Number()] = true
	}
	out := make([]byte, 0, len(data)/4)
	for b := data; len(b) > 0; {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, false
		}
		m := protowire.ConsumeFieldValue(n, typ, b[l:])
		if m < 0 {
			return nil, false
		}
		if keep[n] {
			out = append(out, b[:l+m]...)
		}
		b = b[l+m:]
	}
	return out, true
}

// encodeChunk appends ev as one element of Events.events to a new slice.
func encodeChunk(ev *wsv1.Event) ([]byte, error) {
	size := proto.Size(ev)
	b := make([]byte, 0, protowire.SizeTag(eventsEventField)+protowire.SizeVarint(uint64(size))+size)
	b = protowire.AppendTag(b, eventsEventField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, ev)
}

// encodeEvent returns ev's two wire forms: whole, and the delta for the
// subscriptions that asked for deltas (the same bytes when ev carries no
// mask, desc is unknown, or the delta would not be smaller).
func encodeEvent(ev *wsv1.Event, desc protoreflect.MessageDescriptor) (full, delta []byte, err error) {
	if ev.GetDeltaMask() == nil {
		full, err = encodeChunk(ev)
		return full, full, err
	}
	// ev is shared (history, other gateways' subscribers): encode a copy.
	w := proto.Clone(ev).(*wsv1.Event)
	mask, base := w.DeltaMask, w.BaseVersion
	w.DeltaMask, w.BaseVersion = nil, 0
	if full, err = encodeChunk(w); err != nil {
		return nil, nil, err
	}
	if desc == nil || ev.GetType() != wsv1.EventType_EVENT_TYPE_UPDATED {
		return full, full, nil
	}
	part, ok := partialData(desc, ev.GetData(), mask)
	if !ok {
		return full, full, nil
	}
	w.Data, w.DeltaMask, w.BaseVersion = part, mask, base
	if delta, err = encodeChunk(w); err != nil || len(delta) >= len(full) {
		return full, full, nil
	}
	return full, delta, nil
}

// chunk returns the encoding of it written to a subscription: the delta
// when it asked for deltas and the queue did not coalesce an older update
// of the record away.
func (it *queueItem) chunk() []byte {
	if it.sub != nil && it.sub.deltas && !it.full {
		return it.ev.delta
	}
	return it.ev.chunk
}

// markFull marks, after coalescing dropped dropped (the records of which
// an older UPDATED event was dropped), each remaining UPDATED event of
// those records to go out whole: a delta of it would apply to a version
// its client never got. Simplest correct: composing deltas would need
// decoding; a whole record is what the client would otherwise refetch.
func markFull(items []queueItem, dropped map[recordKey]bool) {
	if len(dropped) == 0 {
		return
	}
	for i := range items {
		it := &items[i]
		if it.ev != nil && it.ev.ev.GetType() == wsv1.EventType_EVENT_TYPE_UPDATED && dropped[recordKey{it.sub, it.ev.ev.GetKey()}] {
			it.full = true
		}
	}
}
