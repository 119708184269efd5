package ssotws_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// fuzzMaxMessage is the frame limit of the fuzzed gateway: small, so that
// the fuzzer reaches the CloseTooLarge path too.
const fuzzMaxMessage = 1024

// FuzzGatewayReadPath writes arbitrary bytes as one binary message to a
// live gateway over a real WebSocket, as an authenticated user, then sends
// a Ping. The gateway must answer the Ping (after whatever the message
// asked for), or close with the code the message deserves: 1009 for a
// frame over the limit, 1008 for bytes that are not a ClientFrame, 4401 or
// 4403 for an Auth frame with a bad token or another user's. The gateway
// survives every input: the next iteration dials it again.
func FuzzGatewayReadPath(f *testing.F) {
	for _, fr := range []*wsv1.ClientFrame{
		{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: "Message"}}},
		{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 2, Channel: "Message?room_id=r1", Since: &wsv1.Position{Epoch: 7, Offset: 3}}}},
		{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 3, Channel: "Message/a%2Fb"}}},
		{Frame: &wsv1.ClientFrame_Unsubscribe{Unsubscribe: &wsv1.Unsubscribe{Id: 4, Channel: "Message"}}},
		{Frame: &wsv1.ClientFrame_Auth{Auth: &wsv1.Auth{Token: "token-alice"}}},
		{Frame: &wsv1.ClientFrame_Auth{Auth: &wsv1.Auth{Token: "token-bob"}}},
		{Frame: &wsv1.ClientFrame_Auth{Auth: &wsv1.Auth{Token: "garbage"}}},
		{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{Nonce: 9}}},
		{},
	} {
		b, _ := proto.Marshal(fr)
		f.Add(b)
	}
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add(make([]byte, fuzzMaxMessage+1))

	auth := ssotws.AuthenticatorFunc(func(ctx context.Context, token string) (*ssotws.Identity, error) {
		if user, ok := strings.CutPrefix(token, "token-"); ok && user != "" {
			return &ssotws.Identity{Subject: user}, nil
		}
		return nil, errors.New("bad token")
	})
	model, err := ssotws.NewModel((&chatv1.Message{}).ProtoReflect().Descriptor(), ssotws.ModelConfig{
		Scopes: []string{"room_id"}, Owner: "author", Read: wsv1.Access_OWNER, Realtime: true,
	})
	if err != nil {
		f.Fatal(err)
	}
	broker := ssotws.NewMemoryBroker(nil)
	g := ssotws.NewGateway(broker, &ssotws.GatewayOptions{
		Authenticator: auth,
		Limits:        ssotws.Limits{MaxMessageBytes: fuzzMaxMessage, MaxConnsPerUser: -1, FrameRate: -1},
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err := g.RegisterModel(model); err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(g)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	f.Cleanup(func() {
		_ = g.Close()
		srv.Close()
		broker.Close()
	})

	f.Fuzz(func(t *testing.T, data []byte) {
		want := fuzzExpect(data)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
			Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocol("token-alice")},
		})
		if err != nil {
			t.Fatalf("the gateway no longer accepts connections: %v", err)
		}
		defer ws.CloseNow()
		ws.SetReadLimit(64 << 20)
		if err := ws.Write(ctx, websocket.MessageBinary, data); err != nil {
			t.Fatalf("writing the input: %v", err)
		}
		const nonce = 0x5eed
		ping, _ := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{Nonce: nonce}}})
		_ = ws.Write(ctx, websocket.MessageBinary, ping) // fails when the server closed already
		for {
			typ, b, err := ws.Read(ctx)
			if err != nil {
				code := websocket.CloseStatus(err)
				if code != want {
					t.Fatalf("connection ended with %d (%v), want %s", code, err, fuzzOutcome(want))
				}
				return
			}
			var sf wsv1.ServerFrame
			if typ != websocket.MessageBinary || proto.Unmarshal(b, &sf) != nil {
				t.Fatalf("the server sent an undecodable %v message", typ)
			}
			if sf.GetPong().GetNonce() == nonce {
				if want != -1 {
					t.Fatalf("got the Pong, want %s", fuzzOutcome(want))
				}
				return
			}
		}
	})
}

// fuzzExpect says how the fuzzed gateway must answer data: -1 for the Pong,
// else the close code.
func fuzzExpect(data []byte) websocket.StatusCode {
	if len(data) > fuzzMaxMessage {
		return ssotws.CloseTooLarge
	}
	var fr wsv1.ClientFrame
	if proto.Unmarshal(data, &fr) != nil {
		return ssotws.CloseBadFrame
	}
	if a := fr.GetAuth(); a != nil {
		user, ok := strings.CutPrefix(a.GetToken(), "token-")
		switch {
		case !ok || user == "":
			return ssotws.CloseUnauthenticated
		case user != "alice":
			return ssotws.CloseForbidden
		}
	}
	return -1
}

func fuzzOutcome(code websocket.StatusCode) string {
	if code == -1 {
		return "the Pong"
	}
	return "close " + code.String()
}
