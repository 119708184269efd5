package client

import (
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Field-level deltas, the client's side (docs/client-semantics.md,
// "Deltas"). An UPDATED event with a delta mask carries only the top-level
// fields the mask names, and applies to the record at its base version.
// The cache merges it onto the record it holds when that is the base
// version; otherwise (it holds an older version, a tombstone, nothing) it
// asks its channel to read the record over HTTP (step.reread), whose
// answer cache.reread applies by the version rule. The twin of
// ts/runtime/src/delta.ts.

// applyDelta applies a delta event whose version is newer than what the
// cache holds for its key.
func (c *cache[T]) applyDelta(ev *wsv1.Event, s *step[T]) {
	key := ev.GetKey()
	e := c.entries[key]
	if e == nil || e.deleted || e.version != ev.GetBaseVersion() {
		s.reread, s.rereadGen = append(s.reread, key), c.gen
		return
	}
	val, ok := mergeDelta(e.value, ev.GetData(), ev.GetDeltaMask(), c.newT)
	if !ok {
		c.log.Warn("ssotws/client: undecodable delta", "channel", c.name, "key", key)
		s.reread, s.rereadGen = append(s.reread, key), c.gen
		return
	}
	if ch, ok := c.set(key, ev.GetVersion(), val, !c.member(key, val), ev.GetRequestId()); ok {
		s.changes = append(s.changes, ch)
	}
}

// mergeDelta returns a copy of base with each top-level field mask names
// replaced by partial's (cleared when partial lacks it). ok is false when
// partial does not decode or the mask names a field the model lacks.
func mergeDelta[T proto.Message](base T, partial []byte, mask *fieldmaskpb.FieldMask, newT func() T) (T, bool) {
	var zero T
	p := newT()
	if err := proto.Unmarshal(partial, p); err != nil {
		return zero, false
	}
	out := proto.Clone(base).(T)
	om, pm := out.ProtoReflect(), p.ProtoReflect()
	fields := om.Descriptor().Fields()
	fds := make([]protoreflect.FieldDescriptor, 0, len(mask.GetPaths()))
	for _, path := range mask.GetPaths() {
		fd := fields.ByName(protoreflect.Name(path))
		if fd == nil {
			return zero, false
		}
		fds = append(fds, fd)
	}
	// Clear first, then set: a oneof that switched members names both.
	for _, fd := range fds {
		om.Clear(fd)
	}
	for _, fd := range fds {
		if pm.Has(fd) {
			om.Set(fd, pm.Get(fd))
		}
	}
	return out, true
}

// reread applies the answer of a read that a delta asked for (see
// channelCache.reread), by the version rule.
func (c *cache[T]) reread(gen uint64, key string, item T) (s step[T]) {
	if !c.checking(gen) {
		return s
	}
	v := versionOf(c.model, item.ProtoReflect())
	if e := c.entries[key]; e != nil && v <= e.version {
		return s
	}
	if ch, ok := c.set(key, v, item, !c.member(key, item), ""); ok {
		s.changes = append(s.changes, ch)
	}
	return s
}
