package ssotws_test

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// oneFrame reads the next frame of c, which must be one Events frame of n
// events of channel, with consecutive offsets, and returns its events.
func oneFrame(t *testing.T, c *client, channel string, n int, typ wsv1.EventType) []*wsv1.Event {
	t.Helper()
	f := c.next()
	evs := f.GetEvents().GetEvents()
	require.Len(t, evs, n, "the batch's events of %s arrive in one Events frame: %v", channel, f)
	for i, ev := range evs {
		assert.Equal(t, channel, ev.GetChannel())
		assert.Equal(t, typ, ev.GetType())
		if i > 0 {
			assert.Equal(t, evs[i-1].GetPosition().GetOffset()+1, ev.GetPosition().GetOffset(), "consecutive positions")
		}
	}
	return evs
}

func batchCreate(ctx context.Context, chat interface {
	BatchCreateMessages(context.Context, *connect.Request[chatv1.BatchCreateMessagesRequest]) (*connect.Response[chatv1.BatchCreateMessagesResponse], error)
}, key string, texts ...string) ([]*chatv1.Message, error) {
	req := &chatv1.BatchCreateMessagesRequest{}
	for _, text := range texts {
		req.Requests = append(req.Requests, &chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "r1", Text: text}})
	}
	r := connect.NewRequest(req)
	if key != "" {
		r.Header().Set(ssotws.HeaderIdempotencyKey, key)
	}
	res, err := chat.BatchCreateMessages(ctx, r)
	if err != nil {
		return nil, err
	}
	return res.Msg.GetMessages(), nil
}

// TestBatchMethods drives the generated batch methods over HTTP with
// subscribers on a real WebSocket: each batch is applied whole, its events
// reach every subscriber as one frame per channel, a retried batch is not
// applied twice, and one refused item leaves everything as it was.
func TestBatchMethods(t *testing.T) {
	e := newSecEnv(t, secConfig{model: ssotws.ModelConfig{Write: wsv1.Access_OWNER}})
	e.messages.SetHooks(ssotws.Hooks[*chatv1.Message]{
		BeforeCreate: func(ctx context.Context, m *chatv1.Message) error {
			if m.GetText() == "forbidden" {
				return connect.NewError(connect.CodeFailedPrecondition, errors.New("no forbidden words"))
			}
			return nil
		},
	})
	alice, bob := e.auth.issue("alice", 0, nil), e.auth.issue("bob", 0, nil)
	room := e.dialAs(alice)
	room.ack(r1, nil)
	all := e.dialAs(bob)
	all.ack("Message", nil)
	chat := e.chat(alice)
	ctx := context.Background()
	count := func() int {
		res, err := chat.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: "r1"}))
		require.NoError(t, err)
		return len(res.Msg.GetMessages())
	}

	created, err := batchCreate(ctx, chat, "b1", "one", "two", "three")
	require.NoError(t, err)
	require.Len(t, created, 3)
	for i, ev := range oneFrame(t, room, r1, 3, wsv1.EventType_EVENT_TYPE_CREATED) {
		assert.Equal(t, created[i].GetId(), ev.GetKey(), "events in item order")
		assert.Equal(t, "alice", created[i].GetAuthor(), "the owner is the caller, per item")
		assert.Equal(t, "b1/"+string(rune('0'+i)), ev.GetRequestId(), "each item's Idempotency-Key")
	}
	oneFrame(t, all, "Message", 3, wsv1.EventType_EVENT_TYPE_CREATED)

	t.Run("retry", func(t *testing.T) {
		again, err := batchCreate(ctx, chat, "b1", "one", "two", "three")
		require.NoError(t, err)
		for i := range again {
			assert.Equal(t, created[i].GetId(), again[i].GetId(), "a retried batch replays")
		}
		assert.Equal(t, 3, count())
		// The replay publishes the current states again, in one frame.
		oneFrame(t, room, r1, 3, wsv1.EventType_EVENT_TYPE_CREATED)
		oneFrame(t, all, "Message", 3, wsv1.EventType_EVENT_TYPE_CREATED)
	})

	t.Run("one refused item refuses the batch", func(t *testing.T) {
		_, err := batchCreate(ctx, chat, "", "fine", "forbidden", "fine too")
		require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
		assert.Contains(t, err.Error(), "requests[1]")
		assert.Equal(t, 3, count(), "nothing written")
		room.quiet()
		all.quiet()
	})

	t.Run("one invalid item refuses the batch", func(t *testing.T) {
		_, err := chat.BatchCreateMessages(ctx, connect.NewRequest(&chatv1.BatchCreateMessagesRequest{Requests: []*chatv1.CreateMessageRequest{
			{Message: &chatv1.Message{RoomId: "r1", Text: "fine"}}, {},
		}}))
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		assert.Contains(t, err.Error(), "requests[1]: message is required")
		assert.Equal(t, 3, count(), "nothing written")
		room.quiet()
		all.quiet()
	})

	t.Run("one forbidden item refuses the batch", func(t *testing.T) {
		mine := e.mustCreate(bob, "r1", "bob's")
		oneFrame(t, room, r1, 1, wsv1.EventType_EVENT_TYPE_CREATED)
		oneFrame(t, all, "Message", 1, wsv1.EventType_EVENT_TYPE_CREATED)
		_, err := e.chat(bob).BatchUpdateMessages(ctx, connect.NewRequest(&chatv1.BatchUpdateMessagesRequest{Requests: []*chatv1.UpdateMessageRequest{
			{Message: &chatv1.Message{Id: mine.GetId(), Text: "edited"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}}},
			{Message: &chatv1.Message{Id: created[0].GetId(), Text: "hijacked"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}}},
		}}))
		require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
		assert.Contains(t, err.Error(), "requests[1]")
		got, err := chat.GetMessage(ctx, connect.NewRequest(&chatv1.GetMessageRequest{Id: mine.GetId()}))
		require.NoError(t, err)
		assert.Equal(t, "bob's", got.Msg.GetText(), "the allowed item was not written either")
		room.quiet()
		all.quiet()
		_, err = e.chat(bob).DeleteMessage(ctx, connect.NewRequest(&chatv1.DeleteMessageRequest{Id: mine.GetId()}))
		require.NoError(t, err)
		oneFrame(t, room, r1, 1, wsv1.EventType_EVENT_TYPE_DELETED)
		oneFrame(t, all, "Message", 1, wsv1.EventType_EVENT_TYPE_DELETED)
	})

	t.Run("a record twice", func(t *testing.T) {
		_, err := chat.BatchDeleteMessages(ctx, connect.NewRequest(&chatv1.BatchDeleteMessagesRequest{Requests: []*chatv1.DeleteMessageRequest{
			{Id: created[0].GetId()}, {Id: created[0].GetId()},
		}}))
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		room.quiet()
	})

	t.Run("update", func(t *testing.T) {
		res, err := chat.BatchUpdateMessages(ctx, connect.NewRequest(&chatv1.BatchUpdateMessagesRequest{Requests: []*chatv1.UpdateMessageRequest{
			{Message: &chatv1.Message{Id: created[0].GetId(), Text: "uno"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}}},
			{Message: &chatv1.Message{Id: created[2].GetId(), Text: "tres", Version: created[2].GetVersion()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}}},
		}}))
		require.NoError(t, err)
		require.Len(t, res.Msg.GetMessages(), 2)
		assert.Equal(t, "uno", res.Msg.GetMessages()[0].GetText())
		assert.Equal(t, created[2].GetVersion()+1, res.Msg.GetMessages()[1].GetVersion())
		evs := oneFrame(t, room, r1, 2, wsv1.EventType_EVENT_TYPE_UPDATED)
		assert.Equal(t, created[2].GetId(), evs[1].GetKey())
		oneFrame(t, all, "Message", 2, wsv1.EventType_EVENT_TYPE_UPDATED)

		// A stale version of one item: Aborted, nothing written.
		_, err = chat.BatchUpdateMessages(ctx, connect.NewRequest(&chatv1.BatchUpdateMessagesRequest{Requests: []*chatv1.UpdateMessageRequest{
			{Message: &chatv1.Message{Id: created[1].GetId(), Text: "dos"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}}},
			{Message: &chatv1.Message{Id: created[2].GetId(), Text: "stale", Version: created[2].GetVersion()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}}},
		}}))
		require.Equal(t, connect.CodeAborted, connect.CodeOf(err))
		room.quiet()
	})

	t.Run("delete", func(t *testing.T) {
		var reqs []*chatv1.DeleteMessageRequest
		for _, m := range created {
			reqs = append(reqs, &chatv1.DeleteMessageRequest{Id: m.GetId()})
		}
		_, err := chat.BatchDeleteMessages(ctx, connect.NewRequest(&chatv1.BatchDeleteMessagesRequest{Requests: reqs}))
		require.NoError(t, err)
		oneFrame(t, room, r1, 3, wsv1.EventType_EVENT_TYPE_DELETED)
		oneFrame(t, all, "Message", 3, wsv1.EventType_EVENT_TYPE_DELETED)
		assert.Zero(t, count())
	})
}

// TestBatchPolicy: the Policy decides on each item as on its standard
// method: one refused item refuses the batch; the records a batch returns
// are those the caller may read.
func TestBatchPolicy(t *testing.T) {
	policy := ssotws.PolicyFuncs{
		Mutate: func(ctx context.Context, req *ssotws.AccessRequest) error {
			if req.Proposed != nil && req.Proposed.Interface().(*chatv1.Message).GetText() == "nope" {
				return errors.New("not that text")
			}
			return nil
		},
		Record: func(ctx context.Context, req *ssotws.RecordRequest) error {
			if req.Record.Interface().(*chatv1.Message).GetText() == "hidden" {
				return errors.New("hidden")
			}
			return nil
		},
	}
	e := newSecEnv(t, secConfig{ropts: ssotws.ResourceOptions{Policy: policy}, gateway: ssotws.GatewayOptions{Policy: policy}})
	alice := e.auth.issue("alice", 0, nil)
	room := e.dialAs(alice)
	room.ack(r1, nil)
	chat := e.chat(alice)
	ctx := context.Background()

	_, err := batchCreate(ctx, chat, "", "fine", "nope")
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
	assert.Contains(t, err.Error(), "requests[1]")
	room.quiet()

	got, err := batchCreate(ctx, chat, "", "shown", "hidden")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "shown", got[0].GetText())
	assert.Empty(t, got[1].GetText(), "a record the caller may not read: its key and version only")
	assert.NotEmpty(t, got[1].GetId())
	// The subscriber gets the record it may read, in one frame.
	evs := oneFrame(t, room, r1, 1, wsv1.EventType_EVENT_TYPE_CREATED)
	assert.Equal(t, got[0].GetId(), evs[0].GetKey())
}
