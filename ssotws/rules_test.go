package ssotws_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// TestHooksInsideTheWrite: Before hooks see the previous record, may
// change the record or refuse the write (nothing stored, nothing
// published); AfterCommit sees each committed write once, a replayed
// retry not again.
func TestHooksInsideTheWrite(t *testing.T) {
	e := newSecEnv(t, secConfig{})
	var (
		mu    sync.Mutex
		after []string
	)
	e.messages.SetHooks(ssotws.Hooks[*chatv1.Message]{
		BeforeCreate: func(ctx context.Context, m *chatv1.Message) error {
			if m.GetText() == "forbidden" {
				return connect.NewError(connect.CodeFailedPrecondition, errors.New("no"))
			}
			m.Text = "[" + m.GetText() + "]"
			return nil
		},
		BeforeUpdate: func(ctx context.Context, prev, m *chatv1.Message) error {
			if prev.GetText() == "[frozen]" {
				return errors.New("frozen")
			}
			return nil
		},
		BeforeDelete: func(ctx context.Context, prev *chatv1.Message) error {
			if prev.GetText() == "[frozen]" {
				return connect.NewError(connect.CodePermissionDenied, errors.New("frozen"))
			}
			return nil
		},
		AfterCommit: func(ctx context.Context, c ssotws.Change[*chatv1.Message]) {
			mu.Lock()
			defer mu.Unlock()
			after = append(after, c.Type.String()+" "+c.Record.GetText()+" by "+subjectOf(c.Identity))
		},
	})
	tok := e.auth.issue("alice", 0, nil)
	ws := e.dialAs(tok)
	ws.ack(r1, nil)
	chat := e.chat(tok)
	ctx := context.Background()

	_, err := e.create(tok, "r1", "forbidden")
	assert.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
	frozen := e.mustCreate(tok, "r1", "frozen")
	assert.Equal(t, "[frozen]", frozen.GetText())
	ev := ws.events(1)
	assert.Equal(t, frozen.GetId(), ev[0].GetKey(), "the refused create published nothing")

	_, err = chat.UpdateMessage(ctx, connect.NewRequest(&chatv1.UpdateMessageRequest{
		Message: &chatv1.Message{Id: frozen.GetId(), Text: "thawed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}},
	}))
	assert.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
	_, err = chat.DeleteMessage(ctx, connect.NewRequest(&chatv1.DeleteMessageRequest{Id: frozen.GetId()}))
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))

	req := connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "r1", Text: "once"}})
	req.Header().Set(ssotws.HeaderIdempotencyKey, "k1")
	first, err := chat.CreateMessage(ctx, req)
	require.NoError(t, err)
	req = connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "r1", Text: "once"}})
	req.Header().Set(ssotws.HeaderIdempotencyKey, "k1")
	again, err := chat.CreateMessage(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, first.Msg.GetId(), again.Msg.GetId())
	_, err = chat.DeleteMessage(ctx, connect.NewRequest(&chatv1.DeleteMessageRequest{Id: first.Msg.GetId()}))
	require.NoError(t, err)

	// The retry publishes its events again (the first attempt's may have
	// been lost), but its hooks do not run again after the commit.
	ev = ws.events(3)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev[0].GetType())
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev[1].GetType())
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_DELETED, ev[2].GetType())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{
		"EVENT_TYPE_CREATED [frozen] by alice",
		"EVENT_TYPE_CREATED [once] by alice",
		"EVENT_TYPE_DELETED [once] by alice",
	}, after)
}

// TestServerWrites: server code creates, updates and deletes as the
// system (no access checks, the owner named) or on behalf of a user
// (checked as that user's call); subscribers get the events as for any
// write, and an owner-only reader sees what was written for them.
func TestServerWrites(t *testing.T) {
	policy := ssotws.PolicyFuncs{Mutate: func(ctx context.Context, req *ssotws.AccessRequest) error {
		if subjectOf(req.Identity) == "bob" {
			return errors.New("bob is read-only")
		}
		return nil
	}}
	e := newSecEnv(t, secConfig{
		model:   ssotws.ModelConfig{Read: wsv1.Access_OWNER, Write: wsv1.Access_OWNER},
		gateway: ssotws.GatewayOptions{Policy: policy},
		ropts:   ssotws.ResourceOptions{Policy: policy},
	})
	ctx := context.Background()
	alice := e.dialAs(e.auth.issue("alice", 0, nil))
	alice.ack(r1, nil)
	other := e.dialAs(e.auth.issue("carol", 0, nil))
	other.ack(r1, nil)

	_, err := e.messages.CreateAs(ctx, ssotws.ServerWrite{}, &chatv1.Message{RoomId: "r1", Text: "no owner"})
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "an owned record needs its owner named")

	sys := ssotws.ServerWrite{Owner: "alice", IdempotencyKey: "notify-1"}
	note, err := e.messages.CreateAs(ctx, sys, &chatv1.Message{RoomId: "r1", Text: "you have mail", Author: "mallory"})
	require.NoError(t, err)
	assert.Equal(t, "alice", note.GetAuthor(), "the owner is the one named")
	replayed, err := e.messages.CreateAs(ctx, sys, &chatv1.Message{RoomId: "r1", Text: "you have mail"})
	require.NoError(t, err)
	assert.Equal(t, note.GetId(), replayed.GetId(), "a retried server write replays")

	note.Text = "you have 2 mails"
	updated, err := e.messages.UpdateAs(ctx, ssotws.ServerWrite{}, note, &fieldmaskpb.FieldMask{Paths: []string{"text"}})
	require.NoError(t, err)
	assert.Equal(t, int64(2), updated.GetVersion())

	_, err = e.messages.CreateAs(ctx, ssotws.ServerWrite{OnBehalfOf: "bob"}, &chatv1.Message{RoomId: "r1", Text: "hi"})
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "on behalf of a user, the Policy decides")
	_, err = e.messages.CreateAs(ctx, ssotws.ServerWrite{OnBehalfOf: "alice", Owner: "carol"}, &chatv1.Message{RoomId: "r1"})
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	own, err := e.messages.CreateAs(ctx, ssotws.ServerWrite{OnBehalfOf: "alice"}, &chatv1.Message{RoomId: "r1", Text: "mine"})
	require.NoError(t, err)
	assert.Equal(t, "alice", own.GetAuthor())
	_, err = e.messages.DeleteAs(ctx, ssotws.ServerWrite{OnBehalfOf: "carol"}, own.GetId())
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "carol does not own it")
	_, err = e.messages.DeleteAs(ctx, ssotws.ServerWrite{}, own.GetId())
	require.NoError(t, err)

	ev := alice.events(5) // the replayed create publishes again
	var got []string
	for _, x := range ev {
		got = append(got, x.GetType().String())
	}
	assert.Equal(t, []string{"EVENT_TYPE_CREATED", "EVENT_TYPE_CREATED", "EVENT_TYPE_UPDATED", "EVENT_TYPE_CREATED", "EVENT_TYPE_DELETED"}, got)
	alice.quiet()
	other.quiet() // carol owns none of it: nothing reached her
}
