package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// violations returns the buf.validate.Violations detail of err, a
// *connect.Error with CodeInvalidArgument, as "field: rule id" lines.
func violations(t *testing.T, err error) []string {
	t.Helper()
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%v", err)
	var ce *connect.Error
	require.True(t, errors.As(err, &ce))
	var out []string
	for _, d := range ce.Details() {
		v, derr := d.Value()
		require.NoError(t, derr)
		if vs, ok := v.(*validate.Violations); ok {
			for _, v := range vs.GetViolations() {
				out = append(out, fieldPath(v.GetField())+": "+v.GetRuleId())
			}
		}
	}
	return out
}

func fieldPath(p *validate.FieldPath) string {
	var names []string
	for _, e := range p.GetElements() {
		names = append(names, e.GetFieldName())
	}
	return strings.Join(names, ".")
}

// TestMessageValidation: chat.proto's buf.validate rules are enforced on
// every path that writes, over real HTTP: a violating Create, Update (on
// the record as the mask leaves it), server write, or custom method
// request is InvalidArgument with the violations in a
// buf.validate.Violations detail, and stores and publishes nothing (the
// room's WebSocket subscriber sees only the valid writes).
func TestMessageValidation(t *testing.T) {
	e := startExample(t)
	ctx := context.Background()
	long := strings.Repeat("é", 2049) // 2049 characters, 4098 bytes

	_, err := e.chat.CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: "r1", Text: long},
	}))
	assert.Equal(t, []string{"text: string.max_bytes"}, violations(t, err))
	assert.Contains(t, err.Error(), "text: must be at most 4096 bytes")

	created, err := e.chat.CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: "r1", Text: strings.Repeat("é", 2048)}, // 4096 bytes: allowed
	}))
	require.NoError(t, err)
	ev := e.next()
	require.Len(t, ev, 1)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev[0].GetType())
	id := created.Msg.GetId()

	_, err = e.chat.UpdateMessage(ctx, connect.NewRequest(&chatv1.UpdateMessageRequest{
		Message:    &chatv1.Message{Id: id, Text: long},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}},
	}))
	assert.Equal(t, []string{"text: string.max_bytes"}, violations(t, err))
	got, err := e.chat.GetMessage(ctx, connect.NewRequest(&chatv1.GetMessageRequest{Id: id}))
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Msg.GetVersion(), "the refused update stored nothing")

	// Server writes and custom methods are held to the same rules.
	_, err = e.srv.chat.Messages.CreateAs(ctx, ssotws.ServerWrite{Owner: "system"}, &chatv1.Message{RoomId: "r1", Text: long})
	assert.Equal(t, []string{"text: string.max_bytes"}, violations(t, err))
	_, err = e.srv.chat.Messages.Modify(ctx, nil, id, func(m *chatv1.Message) (*chatv1.Message, error) {
		m.Text = long
		return m, nil
	})
	assert.Equal(t, []string{"text: string.max_bytes"}, violations(t, err))
	_, err = e.chat.ClearRoom(ctx, connect.NewRequest(&chatv1.ClearRoomRequest{}))
	assert.Equal(t, []string{"room_id: string.min_len"}, violations(t, err))
	_, err = e.chat.CreateRoom(ctx, connect.NewRequest(&chatv1.CreateRoomRequest{Room: &chatv1.Room{Title: strings.Repeat("t", 101)}}))
	assert.Equal(t, []string{"title: string.max_len"}, violations(t, err))

	// Nothing refused was published: the next event is this update.
	_, err = e.chat.UpdateMessage(ctx, connect.NewRequest(&chatv1.UpdateMessageRequest{
		Message:    &chatv1.Message{Id: id, Text: "short"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}},
	}))
	require.NoError(t, err)
	ev = e.next()
	require.Len(t, ev, 1)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_UPDATED, ev[0].GetType())
	assert.Equal(t, int64(2), ev[0].GetVersion())
	assert.Equal(t, "short", eventMessage(t, ev[0]).GetText())
}
