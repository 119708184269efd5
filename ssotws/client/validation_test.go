package client_test

import (
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestValidationError: a write that breaks chat.proto's rules fails with a
// *client.ValidationError naming the field, the rule and the message, on
// the HTTP client and on the hybrid one (writes over HTTP, reads over a
// live WebSocket) alike; it still reads as InvalidArgument; a valid write
// goes through.
func TestValidationError(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "")
	long := strings.Repeat("x", 4097)
	clients := map[string]client.DataClient[*chatv1.Message]{
		"http":   client.NewHTTP(MessageHTTP(srv.chatClient()), nil),
		"hybrid": NewMessageClient(srv.chatClient(), dialConn(t, srv.WSURL()), &client.Options{Backoff: fast}),
	}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			_, err := c.Create(ctx, &chatv1.Message{RoomId: "r1", Text: long})
			var ve *client.ValidationError
			require.True(t, errors.As(err, &ve), "%T %v", err, err)
			assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
			require.Len(t, ve.Violations, 1)
			assert.Equal(t, client.Violation{Field: "text", RuleID: "string.max_bytes", Message: "must be at most 4096 bytes"}, ve.Violations[0])
			assert.Equal(t, map[string][]string{"text": {"must be at most 4096 bytes"}}, ve.Fields())

			m, err := c.Create(ctx, &chatv1.Message{RoomId: "r1", Text: "ok"})
			require.NoError(t, err)
			_, err = c.Update(ctx, &chatv1.Message{Id: m.GetId(), Text: long}, "text")
			require.True(t, errors.As(err, &ve), "%T %v", err, err)
			assert.Equal(t, "text", ve.Violations[0].Field)

			// Other refusals stay what they were.
			_, err = c.Update(ctx, &chatv1.Message{Id: m.GetId(), Text: "x"}, "no_such_field")
			assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
			assert.False(t, errors.As(err, &ve))
		})
	}
}
