package pgstore

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/internal/testkit"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChatBatch drives the generated batch methods over HTTP against the
// PostgreSQL tables: a batch is one transaction, whose failing last item
// leaves none of the others behind, and a retried batch replays.
func TestChatBatch(t *testing.T) {
	ctx := context.Background()
	store := openTableStore(t, newSchema(t), chatModels)
	chat := testkit.ServeChat(t, store)
	batch := func(key string, ids ...string) ([]*chatv1.Message, error) {
		req := &chatv1.BatchCreateMessagesRequest{}
		for _, id := range ids {
			req.Requests = append(req.Requests, &chatv1.CreateMessageRequest{Message: &chatv1.Message{Id: id, RoomId: "r1", Text: "hi " + id}})
		}
		r := connect.NewRequest(req)
		r.Header().Set(ssotws.HeaderIdempotencyKey, key)
		res, err := chat.BatchCreateMessages(ctx, r)
		if err != nil {
			return nil, err
		}
		return res.Msg.GetMessages(), nil
	}
	first, err := batch("k1", "m1", "m2")
	require.NoError(t, err)
	require.Len(t, first, 2)
	again, err := batch("k1", "m1", "m2")
	require.NoError(t, err, "a retried batch replays")
	assert.Equal(t, first[1].GetVersion(), again[1].GetVersion())

	_, err = batch("k2", "m3", "m4", "m1")
	require.Equal(t, connect.CodeAlreadyExists, connect.CodeOf(err))
	assert.Contains(t, err.Error(), "requests[2]")
	for _, id := range []string{"m3", "m4"} {
		_, err := store.Get(ctx, "chat.v1.Message", id)
		require.ErrorIs(t, err, ssotws.ErrNotFound, "%s was rolled back", id)
	}

	_, err = chat.BatchDeleteMessages(ctx, connect.NewRequest(&chatv1.BatchDeleteMessagesRequest{Requests: []*chatv1.DeleteMessageRequest{{Id: "m1"}, {Id: "m2"}}}))
	require.NoError(t, err)
	list, err := chat.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: "r1"}))
	require.NoError(t, err)
	assert.Empty(t, list.Msg.GetMessages())
}
