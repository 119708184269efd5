package ssotws_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// matrixPolicy is the policy of the matrix: anonymous callers are
// refused everything; mallory may not read the model channel; bob may not
// read room "secret" nor the item "hidden"; a message whose text starts
// with "private" is seen by its author only.
var matrixPolicy = ssotws.PolicyFuncs{
	Channel: func(ctx context.Context, req *ssotws.ChannelRequest) error {
		user := subjectOf(req.Identity)
		ch := req.Channel
		switch {
		case user == "":
			return fmt.Errorf("sign in: %w", ssotws.ErrUnauthenticated)
		case user == "mallory" && ch.Kind == ssotws.ChannelModel:
			return errors.New("mallory reads by room")
		case user == "bob" && ch.Kind == ssotws.ChannelScope && ch.Value == "secret":
			return errors.New("not bob's room")
		case user == "bob" && ch.Kind == ssotws.ChannelItem && ch.Key == "hidden":
			return errors.New("not bob's message")
		}
		return nil
	},
	Record: func(ctx context.Context, req *ssotws.RecordRequest) error {
		msg := req.Record.Interface().(*chatv1.Message)
		if strings.HasPrefix(msg.GetText(), "private") && msg.GetAuthor() != subjectOf(req.Identity) {
			return errors.New("private")
		}
		return nil
	},
}

// policyEnv is a secured chat server whose HTTP handlers and gateway
// share matrixPolicy.
func policyEnv(t *testing.T) *secEnv {
	return newSecEnv(t, secConfig{
		gateway: ssotws.GatewayOptions{Policy: matrixPolicy},
		ropts:   ssotws.ResourceOptions{Policy: matrixPolicy},
	})
}

// TestPolicyMatrix asks the same question over HTTP (Get for an item
// channel, List for the model and scope channels) and over the WebSocket
// (Subscribe) for every user and channel kind, and asserts one decision.
func TestPolicyMatrix(t *testing.T) {
	e := policyEnv(t)
	writer := e.auth.issue("writer", 0, nil)
	ctx := context.Background()
	for _, m := range []*chatv1.Message{{Id: "hidden", RoomId: "secret"}, {Id: "open", RoomId: "r1"}} {
		_, err := e.chat(writer).CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{Message: m}))
		require.NoError(t, err)
	}
	type channel struct {
		kind string
		name string
		http func(c chatv1connect.ChatServiceClient) error
	}
	list := func(room string) func(c chatv1connect.ChatServiceClient) error {
		return func(c chatv1connect.ChatServiceClient) error {
			_, err := c.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: room}))
			return err
		}
	}
	get := func(key string) func(c chatv1connect.ChatServiceClient) error {
		return func(c chatv1connect.ChatServiceClient) error {
			_, err := c.GetMessage(ctx, connect.NewRequest(&chatv1.GetMessageRequest{Id: key}))
			return err
		}
	}
	channels := []channel{
		{"model", "Message", list("")},
		{"item", ssotws.ItemChannel("Message", "hidden"), get("hidden")},
		{"item", ssotws.ItemChannel("Message", "open"), get("open")},
		{"scope", ssotws.ScopeChannel("Message", "room_id", "secret"), list("secret")},
		{"scope", ssotws.ScopeChannel("Message", "room_id", "r1"), list("r1")},
	}
	// want[user][channel name]: the error code, or 0 for allowed.
	denied := func(names ...string) map[string]connect.Code {
		out := map[string]connect.Code{}
		for _, n := range names {
			out[n] = connect.CodePermissionDenied
		}
		return out
	}
	anonymous := map[string]connect.Code{}
	for _, ch := range channels {
		anonymous[ch.name] = connect.CodeUnauthenticated
	}
	want := map[string]map[string]connect.Code{
		"alice":   denied(),
		"bob":     denied(ssotws.ItemChannel("Message", "hidden"), ssotws.ScopeChannel("Message", "room_id", "secret")),
		"mallory": denied("Message"),
		"":        anonymous,
	}
	for user, wantCodes := range want {
		token := ""
		if user != "" {
			token = e.auth.issue(user, 0, nil)
		}
		ws := e.dialAs(token)
		for _, ch := range channels {
			t.Run(fmt.Sprintf("%s/%s/%s", or(user, "anonymous"), ch.kind, ch.name), func(t *testing.T) {
				wantCode := wantCodes[ch.name]
				httpErr := ch.http(e.chat(token))
				id := ws.subscribe(ch.name, nil)
				f := ws.next()
				if wantCode == 0 {
					require.NoError(t, httpErr, "HTTP")
					require.NotNil(t, f.GetAck(), "WebSocket: %v", f)
					assert.Equal(t, id, f.GetAck().GetId())
					return
				}
				require.Error(t, httpErr, "HTTP")
				assert.Equal(t, wantCode, connect.CodeOf(httpErr), "HTTP: %v", httpErr)
				require.NotNil(t, f.GetError(), "WebSocket: %v", f)
				assert.Equal(t, id, f.GetError().GetId())
				wsCode := wsv1.ErrorCode_ERROR_CODE_FORBIDDEN
				if wantCode == connect.CodeUnauthenticated {
					wsCode = wsv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED
				}
				assert.Equal(t, wsCode, f.GetError().GetCode(), "WebSocket")
			})
		}
		ws.quiet()
	}
}

// TestPolicyRecords: a record the policy hides is left out of a List page
// and its event never reaches a subscriber, while its author sees it on
// both paths.
func TestPolicyRecords(t *testing.T) {
	e := policyEnv(t)
	ctx := context.Background()
	aliceTok, bobTok := e.auth.issue("alice", 0, nil), e.auth.issue("bob", 0, nil)
	alice, bob := e.dialAs(aliceTok), e.dialAs(bobTok)
	alice.ack(r1, nil)
	bob.ack(r1, nil)

	private := e.mustCreate(aliceTok, "r1", "private note")
	public := e.mustCreate(aliceTok, "r1", "hello")

	got := bob.events(1)
	assert.Equal(t, public.GetId(), got[0].GetKey(), "bob's first event is the public message")
	bob.quiet()
	got = alice.events(2)
	assert.Equal(t, []string{private.GetId(), public.GetId()}, []string{got[0].GetKey(), got[1].GetKey()})

	keys := func(token string) []string {
		res, err := e.chat(token).ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: "r1"}))
		require.NoError(t, err)
		var out []string
		for _, m := range res.Msg.GetMessages() {
			out = append(out, m.GetId())
		}
		return out
	}
	assert.Equal(t, []string{public.GetId()}, keys(bobTok))
	assert.ElementsMatch(t, []string{private.GetId(), public.GetId()}, keys(aliceTok))

	_, err := e.chat(bobTok).GetMessage(ctx, connect.NewRequest(&chatv1.GetMessageRequest{Id: private.GetId()}))
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
}

// TestPolicyWrite: a Policy's Write refuses a write before it is stored.
func TestPolicyWrite(t *testing.T) {
	p := ssotws.PolicyFuncs{Mutate: func(ctx context.Context, req *ssotws.AccessRequest) error {
		if req.Op == ssotws.OpCreate && req.Proposed.Interface().(*chatv1.Message).GetRoomId() == "readonly" {
			return errors.New("room is read-only")
		}
		return nil
	}}
	e := newSecEnv(t, secConfig{gateway: ssotws.GatewayOptions{Policy: p}, ropts: ssotws.ResourceOptions{Policy: p}})
	tok := e.auth.issue("alice", 0, nil)
	_, err := e.create(tok, "readonly", "hi")
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
	e.mustCreate(tok, "r1", "hi")
	res, err := e.chat(tok).ListMessages(context.Background(), connect.NewRequest(&chatv1.ListMessagesRequest{}))
	require.NoError(t, err)
	assert.Len(t, res.Msg.GetMessages(), 1)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
