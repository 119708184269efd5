package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// deltaEvent is a delta of Message key: the fields of partial that paths
// name, applied to base.
func deltaEvent(t *testing.T, off uint64, key string, base, version int64, partial *chatv1.Message, paths ...string) *wsv1.Event {
	t.Helper()
	data, err := proto.Marshal(partial)
	require.NoError(t, err)
	return &wsv1.Event{Channel: "Message", Key: key, Version: version, Type: wsv1.EventType_EVENT_TYPE_UPDATED,
		Data: data, DeltaMask: &fieldmaskpb.FieldMask{Paths: paths}, BaseVersion: base,
		Position: &wsv1.Position{Epoch: 1, Offset: off}, RequestId: "req"}
}

// liveCache is a hydrated cache holding a at version 1.
func liveCache(t *testing.T) (*cache[*chatv1.Message], uint64) {
	c := testCache(t)
	s := c.acked(&wsv1.Position{Epoch: 1, Offset: 1})
	_, retry := c.install(s.gen, snapshot[*chatv1.Message]{
		items:    []*chatv1.Message{{Id: "a", RoomId: "r", Author: "ann", Text: "hello", Version: 1}},
		pos:      &wsv1.Position{Epoch: 1, Offset: 1},
		complete: true,
	}, time.Unix(0, 0))
	require.False(t, retry)
	return c, s.gen
}

func TestDeltaMergesOntoItsBase(t *testing.T) {
	c, _ := liveCache(t)
	later := time.Unix(100, 0)

	s := c.events([]*wsv1.Event{deltaEvent(t, 2, "a", 1, 2, &chatv1.Message{Text: "bye", Version: 2}, "text", "version")}, later)
	assert.Empty(t, s.reread)
	require.Len(t, s.changes, 1)
	assert.Equal(t, Updated, s.changes[0].Type)
	assert.Equal(t, "req", s.changes[0].RequestID)
	want := &chatv1.Message{Id: "a", RoomId: "r", Author: "ann", Text: "bye", Version: 2}
	assert.True(t, proto.Equal(want, s.changes[0].Value), "fields outside the mask are kept: %v", s.changes[0].Value)
	first := s.changes[0].Value

	// A masked field the partial record lacks is cleared.
	s = c.events([]*wsv1.Event{deltaEvent(t, 3, "a", 2, 3, &chatv1.Message{Version: 3}, "author", "version")}, later)
	require.Len(t, s.changes, 1)
	got, found, ok := c.get("a")
	require.True(t, ok)
	require.True(t, found)
	assert.True(t, proto.Equal(&chatv1.Message{Id: "a", RoomId: "r", Text: "bye", Version: 3}, got), "%v", got)

	// The change announced first kept its value: the merge copies.
	assert.Equal(t, "ann", first.GetAuthor())
}

func TestDeltaOnAnotherBaseRereads(t *testing.T) {
	c, gen := liveCache(t)
	later := time.Unix(100, 0)

	// The cache holds version 1; a delta of version 2 onto 3 was missed.
	s := c.events([]*wsv1.Event{deltaEvent(t, 2, "a", 2, 3, &chatv1.Message{Text: "x", Version: 3}, "text", "version")}, later)
	assert.Empty(t, s.changes, "a delta onto another version is not merged")
	assert.Equal(t, []string{"a"}, s.reread)
	assert.Equal(t, gen, s.rereadGen)
	got, _, _ := c.get("a")
	assert.Equal(t, "hello", got.GetText())

	// The read's answer is applied by the version rule.
	s = c.reread(gen, "a", &chatv1.Message{Id: "a", RoomId: "r", Author: "ann", Text: "x", Version: 3})
	require.Len(t, s.changes, 1)
	assert.Equal(t, Updated, s.changes[0].Type)
	assert.Empty(t, c.reread(gen, "a", &chatv1.Message{Id: "a", RoomId: "r", Text: "old", Version: 2}).changes, "an older answer changes nothing")

	// A delta no newer than what the cache holds is ignored, without a read.
	s = c.events([]*wsv1.Event{deltaEvent(t, 3, "a", 2, 3, &chatv1.Message{Text: "y", Version: 3}, "text", "version")}, later)
	assert.Empty(t, s.changes)
	assert.Empty(t, s.reread)

	// A delta of a record the cache does not hold, or holds deleted, is read.
	s = c.events([]*wsv1.Event{deltaEvent(t, 4, "b", 4, 5, &chatv1.Message{Text: "y", Version: 5}, "text", "version")}, later)
	assert.Equal(t, []string{"b"}, s.reread)
	c.events([]*wsv1.Event{msgEvent(t, 5, "a", 4, wsv1.EventType_EVENT_TYPE_DELETED)}, later)
	s = c.events([]*wsv1.Event{deltaEvent(t, 6, "a", 4, 5, &chatv1.Message{Text: "y", Version: 5}, "text", "version")}, later)
	assert.Equal(t, []string{"a"}, s.reread)

	// A mask naming a field the model lacks is not merged: the record is read.
	s = c.events([]*wsv1.Event{deltaEvent(t, 7, "b", 0, 1, &chatv1.Message{}, "nope")}, later)
	assert.Equal(t, []string{"b"}, s.reread)

	// After a refetch, an answer of the old hydration is dropped.
	s = c.reset(&wsv1.Position{Epoch: 1, Offset: 7})
	require.True(t, s.fetch)
	assert.Empty(t, c.reread(gen, "a", &chatv1.Message{Id: "a", RoomId: "r", Version: 9}).changes)
}

func TestDeltaBufferedDuringHydration(t *testing.T) {
	c := testCache(t)
	s := c.acked(&wsv1.Position{Epoch: 1, Offset: 1})
	gen := s.gen
	c.events([]*wsv1.Event{deltaEvent(t, 2, "a", 1, 2, &chatv1.Message{Text: "bye", Version: 2}, "text", "version")}, time.Unix(0, 0))
	s, _ = c.install(gen, snapshot[*chatv1.Message]{
		items:    []*chatv1.Message{{Id: "a", RoomId: "r", Author: "ann", Text: "hello", Version: 1}},
		pos:      &wsv1.Position{Epoch: 1, Offset: 1},
		complete: true,
	}, time.Unix(0, 0))
	require.Len(t, s.changes, 1, "a buffered delta past the snapshot merges onto it")
	assert.Equal(t, "bye", s.changes[0].Value.GetText())
	assert.Equal(t, "ann", s.changes[0].Value.GetAuthor())
}
