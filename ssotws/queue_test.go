package ssotws

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

const (
	created = wsv1.EventType_EVENT_TYPE_CREATED
	updated = wsv1.EventType_EVENT_TYPE_UPDATED
	deleted = wsv1.EventType_EVENT_TYPE_DELETED
)

func item(s *subscription, key string, typ wsv1.EventType, version int64) queueItem {
	return queueItem{sub: s, ev: &sharedEvent{ev: ev("Message", key, typ, version)}}
}

func describe(items []queueItem) string {
	var out []string
	for _, it := range items {
		if it.ev == nil {
			out = append(out, string(it.frame))
			continue
		}
		out = append(out, fmt.Sprintf("%s%s@%d", it.ev.ev.Key, it.ev.ev.Type.String()[11:12], it.ev.ev.Version))
	}
	return fmt.Sprint(out)
}

func TestQueueCoalesces(t *testing.T) {
	s1, s2 := &subscription{}, &subscription{}
	q := newSendQueue(4)
	for _, it := range []queueItem{
		item(s1, "a", created, 1),
		item(s1, "a", updated, 2),
		item(s1, "a", updated, 3),
		item(s2, "a", updated, 3), // another subscription: not coalesced with s1's
	} {
		if !q.push(it, false) {
			t.Fatal("overflow below the bound")
		}
	}
	// Below the bound nothing is coalesced: no gaps in normal operation.
	if got := describe(q.items); got != "[aC@1 aU@2 aU@3 aU@3]" {
		t.Fatalf("queue = %s", got)
	}
	// Full: a@2 is superseded by a@3 and makes room for a@4, which in turn
	// supersedes a@3.
	if !q.push(item(s1, "a", updated, 4), false) {
		t.Fatal("overflow although updates coalesce")
	}
	if got := describe(q.items); got != "[aC@1 aU@3 aU@4]" {
		t.Fatalf("after coalescing: %s", got)
	}
	if !q.push(item(s1, "a", deleted, 5), false) || !q.push(item(s1, "a", created, 6), false) {
		t.Fatal("overflow although the delete supersedes the update")
	}
	// The delete superseded a@4; CREATED and DELETED stay.
	if got := describe(q.items); got != "[aC@1 aU@3 aD@5 aC@6]" {
		t.Fatalf("after delete: %s", got)
	}
	if got := describe(q.take()); got != "[aC@1 aU@3 aD@5 aC@6]" {
		t.Fatalf("take = %s", got)
	}
	if q.len() != 0 {
		t.Fatal("take left items")
	}
}

func TestQueueNewestVersionWins(t *testing.T) {
	s := &subscription{}
	q := newSendQueue(2)
	q.push(item(s, "a", updated, 5), false)
	q.push(item(s, "b", updated, 1), false)
	// a@4 was published after a@5 but is older: it is the one dropped.
	if !q.push(item(s, "a", updated, 4), false) {
		t.Fatal("overflow")
	}
	if got := describe(q.items); got != "[aU@5 bU@1]" {
		t.Fatalf("queue = %s", got)
	}
}

func TestQueueNeverDropsDeletesAndOverflows(t *testing.T) {
	s := &subscription{}
	q := newSendQueue(3)
	q.push(item(s, "a", deleted, 2), false)
	q.push(item(s, "b", deleted, 2), false)
	q.push(queueItem{frame: []byte("ack")}, false)
	if q.push(item(s, "c", deleted, 2), false) {
		t.Fatal("no overflow although nothing can be coalesced")
	}
	// A closed queue drops everything and accepts nothing.
	if q.len() != 0 || !q.push(item(s, "d", created, 1), false) || q.len() != 0 {
		t.Fatal("queue not closed after overflow")
	}
}

func TestQueueForcedItemsDoNotCount(t *testing.T) {
	s := &subscription{}
	q := newSendQueue(2)
	for i := range 10 {
		q.push(item(s, fmt.Sprint(i), updated, 1), true) // a replay
	}
	q.push(queueItem{frame: []byte("ack")}, true)
	if !q.push(item(s, "x", created, 1), false) || !q.push(item(s, "y", created, 1), false) {
		t.Fatal("forced items counted against the bound")
	}
	if q.push(item(s, "z", created, 1), false) {
		t.Fatal("no overflow past the bound")
	}
}

func TestQueueByteBound(t *testing.T) {
	s := &subscription{}
	sized := func(key string, typ wsv1.EventType, version int64, n int) queueItem {
		it := item(s, key, typ, version)
		it.ev.chunk = make([]byte, n)
		return it
	}
	q := newSendQueue(100)
	q.maxBytes = 10
	require.True(t, q.push(sized("a", created, 1, 4), false))
	require.True(t, q.push(sized("b", created, 1, 4), false))
	require.True(t, q.push(sized("c", created, 1, 4), false), "8 bytes queued before it: under the bound")
	require.True(t, q.push(queueItem{frame: make([]byte, 100)}, true), "forced items do not count")
	require.False(t, q.push(sized("d", created, 1, 1), false), "12 bytes queued before it: over the bound")
	require.Zero(t, q.len())

	// Coalescing makes room: the older updates of a record go.
	q = newSendQueue(100)
	q.maxBytes = 10
	for v := int64(1); v <= 4; v++ {
		require.True(t, q.push(sized("a", updated, v, 4), false), "version %d", v)
	}
	require.Equal(t, "[aU@4]", describe(q.take()))

	// One event larger than the bound goes alone; taking it frees the
	// bound.
	q = newSendQueue(100)
	q.maxBytes = 10
	require.True(t, q.push(sized("big", created, 1, 50), false))
	require.Len(t, q.take(), 1)
	require.True(t, q.push(sized("next", created, 1, 50), false))
	require.False(t, q.push(sized("more", created, 1, 1), false))
}
