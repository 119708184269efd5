package client

// The cache's rules for what HTTP says out of band of the channel's events:
// the answers of verify checks, and the replies of this client's own
// mutations (docs/client-semantics.md, "Gap-free hydration" and
// "Idempotent mutations"). Pure, like the rest of the cache (cache.go).

// held returns what the cache holds for key, for a verify of generation
// gen; ok is false when the verify no longer counts.
func (c *cache[T]) held(gen uint64, key string) (version int64, deleted, ok bool) {
	e := c.entries[key]
	if !c.checking(gen) || e == nil {
		return 0, false, false
	}
	return e.version, e.deleted, true
}

// verified applies a verify Get's answer (see channel.verify): the record
// (item), or gone. heldVersion and heldDeleted are what the cache held
// when the Get was sent. again is true when the record must be read again.
func (c *cache[T]) verified(gen uint64, key string, item T, gone bool, heldVersion int64, heldDeleted bool) (s step[T], again bool) {
	e := c.entries[key]
	if !c.checking(gen) || e == nil {
		return s, false
	}
	var ch Change[T]
	var ok bool
	if gone {
		if e.deleted {
			return s, false
		}
		if e.version != heldVersion || e.deleted != heldDeleted {
			return s, true // an event changed it during the Get: look again
		}
		ch, ok = c.set(key, e.version, e.value, true, "")
	} else {
		v := versionOf(c.model, item.ProtoReflect())
		if v <= e.version {
			return s, false
		}
		ch, ok = c.set(key, v, item, !c.member(key, item), "")
	}
	if ok {
		s.changes = []Change[T]{ch}
	}
	return s, false
}

// sendMark is what a channel's cache was when one of this client's
// mutations of a record was sent (see cache.mark): its reply is applied
// only to that hydration, and a delete's tombstone only while the record
// is as it was then.
type sendMark struct {
	gen     uint64 // the hydration generation (c.gen)
	held    bool   // the cache held the record (live or a tombstone)
	version int64  // its version then
	deleted bool   // a tombstone then
}

// mark records, right before a mutation of key is sent, what the cache is
// then. ok is false when the cache is not hydrated: the mutation's reply
// is not applied to it (the snapshot, or the mutation's event after it,
// brings the change).
func (c *cache[T]) mark(key string) (m sendMark, ok bool) {
	if c.phase != phaseLive && c.phase != phaseResuming {
		return sendMark{}, false
	}
	m.gen = c.gen
	if e := c.entries[key]; e != nil {
		m.held, m.version, m.deleted = true, e.version, e.deleted
	}
	return m, true
}

// applyLocal applies the result of this client's own mutation, with the
// version rule, to a channel that is hydrated. version 0 on a delete means
// "the version after the one cached when the delete was sent".
//
// m is what the cache was when the mutation was sent (mark). The result is
// applied only to that hydration: a snapshot fetched since (a refetch, a
// Reset, another epoch bump the generation) knows nothing of the record's
// past, so a reply older than it (a retried create's replayed reply, the
// record deleted since) would bring a deleted record back with no
// tombstone to stop it; the snapshot, or the mutation's event after it,
// carries the change instead. A delete's tombstone is set only while the
// cache holds the record at the version it held when the delete was sent:
// when an event changed it meanwhile (the delete's own DELETED event and
// another writer's re-create after it) the cache may hold a state newer
// than the deletion, and the events order it.
func (c *cache[T]) applyLocal(key string, version int64, val T, deleted bool, reqID string, m sendMark) (s step[T]) {
	if c.phase != phaseLive && c.phase != phaseResuming {
		return s // the snapshot or the replay will bring it
	}
	if m.gen != c.gen {
		return s // hydrated again since the mutation was sent
	}
	e := c.entries[key]
	if deleted {
		if e == nil || e.deleted || !m.held || m.deleted || e.version != m.version {
			return s
		}
		if version == 0 {
			version = m.version + 1
		}
		val = e.value
	} else if version == 0 {
		return s // no version field: events alone can order the change
	}
	if e != nil && version <= e.version {
		return s
	}
	if !deleted && !c.member(key, val) {
		if e == nil || e.deleted {
			return s
		}
		deleted = true
	}
	if ch, ok := c.set(key, version, val, deleted, reqID); ok {
		s.changes = []Change[T]{ch}
	}
	return s
}
