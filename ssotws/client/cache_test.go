package client

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// The cache is a pure state machine: these tests feed it frames and
// snapshots by hand, with no connection, goroutine or clock.

func testCache(t *testing.T) *cache[*chatv1.Message] {
	t.Helper()
	m := protocol.MustModel((*chatv1.Message)(nil).ProtoReflect().Descriptor(), protocol.ModelConfig{
		Key: "id", Scopes: []string{"room_id"}, Realtime: true,
	})
	name := protocol.ModelChannel("Message")
	parsed, err := protocol.ParseChannel(name)
	require.NoError(t, err)
	return newCache(name, parsed, m, func() *chatv1.Message { return &chatv1.Message{} }, slog.Default())
}

func msgEvent(t *testing.T, off uint64, id string, version int64, typ wsv1.EventType) *wsv1.Event {
	t.Helper()
	data, err := proto.Marshal(&chatv1.Message{Id: id, RoomId: "r", Text: id, Version: version})
	require.NoError(t, err)
	return &wsv1.Event{Channel: "Message", Key: id, Version: version, Type: typ, Data: data,
		Position: &wsv1.Position{Epoch: 1, Offset: off}}
}

func TestCacheHydratesGapFree(t *testing.T) {
	c := testCache(t)
	now := time.Unix(1000, 0)

	s := c.acked(&wsv1.Position{Epoch: 1, Offset: 1})
	require.True(t, s.fetch, "the Ack starts the snapshot fetch")
	gen := s.gen

	// Events heard during the fetch are buffered.
	s = c.events([]*wsv1.Event{
		msgEvent(t, 2, "a", 2, wsv1.EventType_EVENT_TYPE_UPDATED), // covered by the snapshot
		msgEvent(t, 3, "b", 1, wsv1.EventType_EVENT_TYPE_CREATED), // after it
	}, now)
	assert.Empty(t, s.changes)

	s, retry := c.install(gen, snapshot[*chatv1.Message]{
		items:    []*chatv1.Message{{Id: "a", RoomId: "r", Version: 2}},
		pos:      &wsv1.Position{Epoch: 1, Offset: 2},
		complete: true,
	}, now)
	require.False(t, retry)
	assert.True(t, s.fetched)
	require.Len(t, s.changes, 1, "the first snapshot is not announced, the buffered event after it is")
	assert.Equal(t, Created, s.changes[0].Type)
	assert.Equal(t, "b", s.changes[0].Key)
	assert.Equal(t, []string{"b"}, s.verify, "a record that comes to life just after the snapshot is verified")

	items, ok := c.list()
	require.True(t, ok)
	require.Len(t, items, 2)
	assert.Equal(t, "a", items[0].GetId())
	assert.Equal(t, uint64(3), c.position().GetOffset())

	// The version rule: an older event changes nothing; a delete leaves a
	// tombstone that a late update does not undo.
	s = c.events([]*wsv1.Event{msgEvent(t, 4, "a", 1, wsv1.EventType_EVENT_TYPE_UPDATED)}, now.Add(time.Minute))
	assert.Empty(t, s.changes)
	s = c.events([]*wsv1.Event{msgEvent(t, 5, "a", 3, wsv1.EventType_EVENT_TYPE_DELETED)}, now.Add(time.Minute))
	require.Len(t, s.changes, 1)
	assert.Equal(t, Deleted, s.changes[0].Type)
	s = c.events([]*wsv1.Event{msgEvent(t, 6, "a", 3, wsv1.EventType_EVENT_TYPE_UPDATED)}, now.Add(time.Minute))
	assert.Empty(t, s.changes)
}

func TestCacheResumesOrRefetches(t *testing.T) {
	c := testCache(t)
	s := c.acked(&wsv1.Position{Epoch: 1, Offset: 1})
	_, retry := c.install(s.gen, snapshot[*chatv1.Message]{pos: &wsv1.Position{Epoch: 1, Offset: 1}, complete: true}, time.Unix(0, 0))
	require.False(t, retry)

	c.disconnected(true)
	require.NotNil(t, c.since(), "a live channel resumes from its position")
	s = c.acked(&wsv1.Position{Epoch: 1, Offset: 7})
	assert.False(t, s.fetch)
	assert.Equal(t, phaseLive, c.phase)

	c.disconnected(false)
	assert.Nil(t, c.since(), "a channel that must not resume subscribes afresh")
	s = c.acked(&wsv1.Position{Epoch: 1, Offset: 7})
	assert.True(t, s.fetch, "and refetches")

	s = c.reset(&wsv1.Position{Epoch: 2})
	assert.True(t, s.fetch)
	_, retry = c.install(s.gen, snapshot[*chatv1.Message]{pos: &wsv1.Position{Epoch: 1}}, time.Unix(0, 0))
	assert.True(t, retry, "a snapshot of another epoch is fetched again")
}
