package ssotws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ev(channel, key string, typ wsv1.EventType, version int64) *wsv1.Event {
	return &wsv1.Event{Channel: channel, Key: key, Type: typ, Version: version}
}

func TestMemoryBrokerPositions(t *testing.T) {
	ctx := context.Background()
	b := NewMemoryBroker(nil)
	defer b.Close()
	if b.Epoch() == 0 {
		t.Fatal("epoch is zero")
	}
	if other := NewMemoryBroker(nil); other.Epoch() == b.Epoch() {
		t.Fatal("two brokers drew the same epoch")
	}
	pos, err := b.Position(ctx, "Message")
	if err != nil || pos.GetEpoch() != b.Epoch() || pos.GetOffset() != 0 {
		t.Fatalf("Position of an empty channel = %v, %v", pos, err)
	}

	var mu sync.Mutex
	seen := map[string][]uint64{}
	stop := b.Listen(func(events []*wsv1.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			seen[e.Channel] = append(seen[e.Channel], e.Position.GetOffset())
		}
	})
	const workers, perWorker = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				key := fmt.Sprint(w, "-", i)
				err := b.Publish(ctx, []*wsv1.Event{
					ev("Message", key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
					ev(ItemChannel("Message", key), key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	stop()
	mu.Lock()
	defer mu.Unlock()
	got := seen["Message"]
	if len(got) != workers*perWorker {
		t.Fatalf("listener saw %d events on Message, want %d", len(got), workers*perWorker)
	}
	for i, off := range got {
		if off != uint64(i+1) {
			t.Fatalf("offset #%d = %d: not gap-free and ordered", i, off)
		}
	}
	if n := len(seen[ItemChannel("Message", "3-7")]); n != 1 {
		t.Fatalf("item channel saw %d events", n)
	}
	pos, _ = b.Position(ctx, "Message")
	if pos.GetOffset() != workers*perWorker {
		t.Fatalf("Position = %d", pos.GetOffset())
	}
	// After stop, the listener hears nothing.
	_ = b.Publish(ctx, []*wsv1.Event{ev("Message", "x", wsv1.EventType_EVENT_TYPE_CREATED, 1)})
	if len(seen["Message"]) != workers*perWorker {
		t.Fatal("listener called after stop")
	}
}

func TestMemoryBrokerHistory(t *testing.T) {
	ctx := context.Background()
	b := NewMemoryBroker(&MemoryBrokerOptions{HistorySize: 3, Epoch: 7})
	for i := range 5 {
		if err := b.Publish(ctx, []*wsv1.Event{ev("Room", "k", wsv1.EventType_EVENT_TYPE_UPDATED, int64(i+1))}); err != nil {
			t.Fatal(err)
		}
	}
	offsets := func(evs []*wsv1.Event) []uint64 {
		var out []uint64
		for _, e := range evs {
			out = append(out, e.Position.GetOffset())
		}
		return out
	}
	for _, tc := range []struct {
		since *wsv1.Position
		want  []uint64
		err   bool
	}{
		{since: &wsv1.Position{Epoch: 7, Offset: 5}, want: nil},
		{since: &wsv1.Position{Epoch: 7, Offset: 4}, want: []uint64{5}},
		{since: &wsv1.Position{Epoch: 7, Offset: 2}, want: []uint64{3, 4, 5}},
		{since: &wsv1.Position{Epoch: 7, Offset: 1}, err: true}, // trimmed
		{since: &wsv1.Position{Epoch: 7, Offset: 0}, err: true}, // trimmed
		{since: &wsv1.Position{Epoch: 8, Offset: 4}, err: true}, // other epoch
		{since: &wsv1.Position{Epoch: 7, Offset: 9}, err: true}, // future
		{since: &wsv1.Position{Epoch: 0, Offset: 0}, err: true}, // never seen
	} {
		got, err := b.History(ctx, "Room", tc.since)
		if tc.err {
			if !errors.Is(err, ErrHistoryUnavailable) {
				t.Errorf("History(%v) error = %v, want ErrHistoryUnavailable", tc.since, err)
			}
			continue
		}
		if err != nil || fmt.Sprint(offsets(got)) != fmt.Sprint(tc.want) {
			t.Errorf("History(%v) = %v, %v; want %v", tc.since, offsets(got), err, tc.want)
		}
	}
	// A channel with no events: since 0 is covered.
	if got, err := b.History(ctx, "Other", &wsv1.Position{Epoch: 7}); err != nil || len(got) != 0 {
		t.Errorf("History of an empty channel = %v, %v", got, err)
	}
	b.Close()
	if err := b.Publish(ctx, []*wsv1.Event{ev("Room", "k", wsv1.EventType_EVENT_TYPE_UPDATED, 9)}); !errors.Is(err, ErrBrokerClosed) {
		t.Errorf("Publish after Close = %v", err)
	}
}

// TestMemoryBrokerForgetsDeletedRecords: the item channel of a deleted
// record is a tombstone kept for a while (a client resuming on it gets the
// DELETED event), then forgotten, so that a process that creates and
// deletes records forever does not keep a channel per record (issue #9:
// about 866 bytes per deleted record, for the life of the process).
// Forgetting never breaks positions: a record created again under the
// same key continues above the offsets its channel had, and a resume from
// a forgotten offset gets ErrHistoryUnavailable (the gateway's Reset).
func TestMemoryBrokerForgetsDeletedRecords(t *testing.T) {
	ctx := context.Background()
	const created, updated, deleted = wsv1.EventType_EVENT_TYPE_CREATED, wsv1.EventType_EVENT_TYPE_UPDATED, wsv1.EventType_EVENT_TYPE_DELETED
	life := func(b *MemoryBroker, key string) {
		t.Helper()
		item := ItemChannel("Message", key)
		for _, typ := range []wsv1.EventType{created, updated, deleted} {
			require.NoError(t, b.Publish(ctx, []*wsv1.Event{ev("Message", key, typ, 1), ev(item, key, typ, 1)}))
		}
	}
	channels := func(b *MemoryBroker) int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.channels)
	}

	t.Run("default bound", func(t *testing.T) {
		b := NewMemoryBroker(nil)
		defer b.Close()
		const n = DefaultTombstones + 5000
		for i := range n {
			life(b, fmt.Sprint("k", i))
		}
		// The model channel, and the latest tombstones.
		assert.LessOrEqual(t, channels(b), 1+DefaultTombstones)
		// The latest deletions still replay their DELETED event.
		last := ItemChannel("Message", fmt.Sprint("k", n-1))
		pos, err := b.Position(ctx, last)
		require.NoError(t, err)
		got, err := b.History(ctx, last, &wsv1.Position{Epoch: b.Epoch(), Offset: pos.GetOffset() - 1})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, deleted, got[0].Type)
	})

	t.Run("positions survive forgetting", func(t *testing.T) {
		b := NewMemoryBroker(&MemoryBrokerOptions{Tombstones: 2, Epoch: 7})
		defer b.Close()
		item := ItemChannel("Message", "a")
		life(b, "a") // offsets 1, 2, 3 on the item channel
		for i := range 5 {
			life(b, fmt.Sprint("other", i)) // pushes "a" out
		}
		assert.LessOrEqual(t, channels(b), 1+2)
		pos, err := b.Position(ctx, item)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, pos.GetOffset(), uint64(3), "a forgotten channel's position went back")
		for _, since := range []uint64{0, 1, 2} {
			_, err := b.History(ctx, item, &wsv1.Position{Epoch: 7, Offset: since})
			assert.ErrorIs(t, err, ErrHistoryUnavailable, "History since %d of a forgotten channel", since)
		}
		// Created again: its offsets continue above the old ones, gap-free
		// from the position a reader was told.
		require.NoError(t, b.Publish(ctx, []*wsv1.Event{ev(item, "a", created, 1)}))
		got, err := b.History(ctx, item, pos)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, pos.GetOffset()+1, got[0].GetPosition().GetOffset())
		assert.Greater(t, got[0].GetPosition().GetOffset(), uint64(3))
		// Live channels are never forgotten: the model channel kept its
		// history and its offsets.
		mpos, _ := b.Position(ctx, "Message")
		assert.Equal(t, uint64(18), mpos.GetOffset())
	})
}

// TestMemoryBrokerForgetsIdleItemChannels: the item channel of every
// record ever written stayed in memory with its history (issue #16: about
// 3.5 KiB per message after 260,000 creates). Past ItemChannels, the least
// recently written is forgotten; one written since is kept.
func TestMemoryBrokerForgetsIdleItemChannels(t *testing.T) {
	ctx := context.Background()
	const created, updated = wsv1.EventType_EVENT_TYPE_CREATED, wsv1.EventType_EVENT_TYPE_UPDATED
	b := NewMemoryBroker(&MemoryBrokerOptions{ItemChannels: 3, Epoch: 7})
	defer b.Close()
	write := func(key string, typ wsv1.EventType) {
		t.Helper()
		require.NoError(t, b.Publish(ctx, []*wsv1.Event{ev("Message", key, typ, 1), ev(ItemChannel("Message", key), key, typ, 1)}))
	}
	for _, k := range []string{"a", "b", "c"} {
		write(k, created)
	}
	write("a", updated) // a is now the most recently written
	write("d", created) // forgets b, the least recently written
	b.mu.Lock()
	_, hasA := b.channels[ItemChannel("Message", "a")]
	_, hasB := b.channels[ItemChannel("Message", "b")]
	n := len(b.channels)
	b.mu.Unlock()
	assert.True(t, hasA, "a record written again was forgotten")
	assert.False(t, hasB, "the least recently written record was kept")
	assert.Equal(t, 1+3, n, "model channel and three item channels")

	// b's subscribers held offset 1: they are up to date, and an older
	// offset is told to refetch.
	got, err := b.History(ctx, ItemChannel("Message", "b"), &wsv1.Position{Epoch: 7, Offset: 1})
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = b.History(ctx, ItemChannel("Message", "b"), &wsv1.Position{Epoch: 7, Offset: 0})
	assert.ErrorIs(t, err, ErrHistoryUnavailable)
	// a kept its history.
	got, err = b.History(ctx, ItemChannel("Message", "a"), &wsv1.Position{Epoch: 7, Offset: 0})
	require.NoError(t, err)
	assert.Len(t, got, 2)

	// A record written over and over does not grow the bookkeeping.
	for range 10000 {
		write("hot", updated)
	}
	b.mu.Lock()
	marks := b.writes.marks.len()
	b.mu.Unlock()
	assert.LessOrEqual(t, marks, 2*3+64+1)
}
