package ssotws_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// record is a log record as a test sees it.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

// captured is a slog.Handler that keeps every record.
type captured struct {
	mu   sync.Mutex
	recs []record
}

func (h *captured) Enabled(context.Context, slog.Level) bool { return true }
func (h *captured) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *captured) WithGroup(string) slog.Handler            { return h }

func (h *captured) Handle(_ context.Context, r slog.Record) error {
	rec := record{level: r.Level, msg: r.Message, attrs: make(map[string]any)}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Resolve().Any()
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	return nil
}

// find returns the records with message msg.
func (h *captured) find(msg string) []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []record
	for _, r := range h.recs {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// all returns every record.
func (h *captured) all() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]record(nil), h.recs...)
}

// dialToken dials e's gateway offering token (none when empty) and origin
// (none when empty).
func dialToken(t *testing.T, e *env, token string) *client {
	t.Helper()
	protos := []string{ssotws.Subprotocol}
	if token != "" {
		protos = append(protos, ssotws.AuthSubprotocol(token))
	}
	return e.dial(&websocket.DialOptions{Subprotocols: protos})
}

// TestRefusalRecords: every refusal of a connection, over a real WebSocket,
// gives exactly one record with its reason, close code and user, at the
// level its kind calls for, and no record holds a token.
func TestRefusalRecords(t *testing.T) {
	const secret = "s3cret-token-never-logged"
	auth := ssotws.AuthenticatorFunc(func(ctx context.Context, token string) (*ssotws.Identity, error) {
		switch {
		case token == "old-"+secret:
			return nil, fmt.Errorf("%w: %s", ssotws.ErrTokenExpired, token) // a careless verifier quoting the token
		case strings.HasPrefix(token, "user-"):
			return &ssotws.Identity{Subject: strings.TrimPrefix(token, "user-")}, nil
		}
		return nil, fmt.Errorf("unknown token %q", token)
	})
	bulk := ssotws.ScopeChannel("Message", "room_id", "bulk")
	cases := []struct {
		name   string
		opts   func(o *ssotws.GatewayOptions)
		run    func(t *testing.T, e *env) // ends with the connection refused
		reason string
		code   int64
		user   string
		level  slog.Level
	}{
		{name: "rejected token", reason: "token_rejected", code: 4401, level: slog.LevelWarn, run: func(t *testing.T, e *env) {
			assert.Equal(t, ssotws.CloseUnauthenticated, dialToken(t, e, secret).closed())
		}},
		{name: "expired token", reason: "token_expired", code: 4408, level: slog.LevelInfo, run: func(t *testing.T, e *env) {
			assert.Equal(t, ssotws.CloseTokenExpired, dialToken(t, e, "old-"+secret).closed())
		}},
		{name: "token in the URL", reason: "token_in_url", code: 4401, level: slog.LevelWarn, run: func(t *testing.T, e *env) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, e.url+"?token="+secret, &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
			require.NoError(t, err)
			defer ws.CloseNow()
			_, _, err = ws.Read(ctx)
			assert.Equal(t, ssotws.CloseUnauthenticated, websocket.CloseStatus(err))
		}},
		{name: "no Auth frame first", opts: func(o *ssotws.GatewayOptions) { o.RequireAuth = true }, reason: "auth_required", code: 4401, level: slog.LevelWarn,
			run: func(t *testing.T, e *env) {
				c := dialToken(t, e, "")
				c.subscribe("Message", nil)
				assert.Equal(t, ssotws.CloseUnauthenticated, c.closed())
			}},
		{name: "another subject", reason: "identity_changed", code: 4403, user: "alice", level: slog.LevelWarn, run: func(t *testing.T, e *env) {
			c := dialToken(t, e, "user-alice")
			c.quiet()
			c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Auth{Auth: &wsv1.Auth{Token: "user-bob"}}})
			assert.Equal(t, ssotws.CloseForbidden, c.closed())
		}},
		{name: "over the per-user limit", opts: func(o *ssotws.GatewayOptions) { o.Limits.MaxConnsPerUser = 1 },
			reason: "user_limit", code: 4429, user: "alice", level: slog.LevelWarn, run: func(t *testing.T, e *env) {
				dialToken(t, e, "user-alice").quiet()
				assert.Equal(t, ssotws.CloseTooSlow, dialToken(t, e, "user-alice").closed())
			}},
		{name: "revoked", reason: "revoked", code: 4401, user: "alice", level: slog.LevelInfo, run: func(t *testing.T, e *env) {
			c := dialToken(t, e, "user-alice")
			c.quiet()
			assert.Equal(t, 1, e.gateway.Revoke("alice"))
			assert.Equal(t, ssotws.CloseUnauthenticated, c.closed())
		}},
		{name: "frame rate", opts: func(o *ssotws.GatewayOptions) { o.Limits.FrameRate, o.Limits.FrameBurst = 1, 5 },
			reason: "frame_rate", code: 4429, user: "alice", level: slog.LevelWarn, run: func(t *testing.T, e *env) {
				c := dialToken(t, e, "user-alice")
				ping, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{}}})
				require.NoError(t, err)
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				defer cancel()
				for range 50 {
					if c.ws.Write(ctx, websocket.MessageBinary, ping) != nil {
						break
					}
				}
				assert.Equal(t, ssotws.CloseTooSlow, c.closed())
			}},
		{name: "bad frame", reason: "bad_frame", code: 1008, level: slog.LevelWarn, run: func(t *testing.T, e *env) {
			c := dialToken(t, e, "")
			c.sendRaw(websocket.MessageText, []byte("hello"))
			assert.Equal(t, ssotws.CloseBadFrame, c.closed())
		}},
		{name: "frame too large", opts: func(o *ssotws.GatewayOptions) { o.Limits.MaxMessageBytes = 1024 },
			reason: "too_large", code: 1009, level: slog.LevelWarn, run: func(t *testing.T, e *env) {
				c := dialToken(t, e, "")
				c.sendRaw(websocket.MessageBinary, make([]byte, 4096))
				assert.Equal(t, ssotws.CloseTooLarge, c.closed())
			}},
		{name: "origin", reason: "origin", code: 403, level: slog.LevelWarn, run: func(t *testing.T, e *env) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			_, res, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{
				Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocol(secret)},
				HTTPHeader:   http.Header{"Origin": {"https://evil.example"}},
			})
			require.Error(t, err)
			require.NotNil(t, res)
			assert.Equal(t, http.StatusForbidden, res.StatusCode)
		}},
		{name: "too slow", opts: func(o *ssotws.GatewayOptions) { o.Limits.SendQueue = 4 },
			reason: "too_slow", code: 4429, user: "alice", level: slog.LevelInfo, run: func(t *testing.T, e *env) {
				c := e.dialNoRead(&websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocol("user-alice")}})
				c.subscribe(bulk, nil)
				require.Eventually(t, func() bool { return ssotws.Started(e.gateway, bulk) == 1 }, wait, time.Millisecond)
				// Big events straight through the broker, and a client that
				// does not read: the network's buffers fill, then the queue.
				data, err := proto.Marshal(&chatv1.Message{Id: "b", RoomId: "bulk", Text: strings.Repeat("x", 1<<20)})
				require.NoError(t, err)
				for i := 0; !slices.Contains(e.closeCodes(), ssotws.CloseTooSlow); i++ {
					require.Less(t, i, 10000, "never closed as too slow")
					ev := &wsv1.Event{Channel: bulk, Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: fmt.Sprint(i), Data: data}
					require.NoError(t, e.broker.Publish(context.Background(), []*wsv1.Event{ev}))
				}
				c.startReading()
				assert.Equal(t, ssotws.CloseTooSlow, c.closed())
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &captured{}
			opts := &ssotws.GatewayOptions{Authenticator: auth, Logger: slog.New(h)}
			if tc.opts != nil {
				tc.opts(opts)
			}
			e := newEnv(t, envConfig{gateway: opts})
			tc.run(t, e)
			// The record is written as the close starts, maybe after the
			// client heard it.
			require.Eventually(t, func() bool { return len(h.find("ssotws: connection refused")) > 0 }, wait, time.Millisecond)
			recs := h.find("ssotws: connection refused")
			require.Len(t, recs, 1, "%+v", recs)
			r := recs[0]
			assert.Equal(t, tc.reason, r.attrs["reason"])
			assert.Equal(t, tc.code, r.attrs["code"])
			assert.Equal(t, tc.user, r.attrs["user"])
			assert.Equal(t, tc.level, r.level)
			assert.Contains(t, r.attrs, "remote")
			for _, rec := range h.all() {
				assert.NotContains(t, fmt.Sprint(rec.attrs), secret, "a record holds the token: %s", rec.msg)
			}
		})
	}
}

// TestSubscriptionRefusalRecords: every refused subscription gives one
// record with the user, the channel and the reason, and the connection
// stays open.
func TestSubscriptionRefusalRecords(t *testing.T) {
	auth := ssotws.AuthenticatorFunc(func(ctx context.Context, token string) (*ssotws.Identity, error) {
		return &ssotws.Identity{Subject: token}, nil
	})
	h := &captured{}
	e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{
		Authenticator: auth, Logger: slog.New(h),
		Limits: ssotws.Limits{MaxSubscriptions: 2},
		Authorize: func(ctx context.Context, id *ssotws.Identity, m *ssotws.Model, ch ssotws.ChannelName) error {
			if ch.Kind == ssotws.ChannelScope && ch.Value == "secret" {
				return errors.New("not a member")
			}
			return nil
		},
	}})
	c := dialToken(t, e, "alice")
	room := ssotws.ScopeChannel("Message", "room_id", "r1")
	steps := []struct {
		channel string
		reason  string
		code    wsv1.ErrorCode
		level   slog.Level
	}{
		{"Nothing", "unknown_channel", wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, slog.LevelInfo},
		{ssotws.ScopeChannel("Message", "room_id", "secret"), "forbidden", wsv1.ErrorCode_ERROR_CODE_FORBIDDEN, slog.LevelInfo},
		{room, "", 0, 0},
		{room, "duplicate", wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST, slog.LevelInfo},
		{ssotws.ScopeChannel("Message", "room_id", "r2"), "", 0, 0},
		{ssotws.ScopeChannel("Message", "room_id", "r3"), "too_many_subscriptions", wsv1.ErrorCode_ERROR_CODE_TOO_MANY_SUBSCRIPTIONS, slog.LevelWarn},
	}
	want := 0
	for _, s := range steps {
		id := c.subscribe(s.channel, nil)
		f := c.next()
		if s.reason == "" {
			require.NotNil(t, f.GetAck(), "%v", f)
			continue
		}
		require.Equal(t, s.code, f.GetError().GetCode(), "%v", f)
		want++
		recs := h.find("ssotws: subscription refused")
		require.Len(t, recs, want)
		r := recs[want-1]
		assert.Equal(t, s.reason, r.attrs["reason"])
		assert.Equal(t, "alice", r.attrs["user"])
		assert.Equal(t, s.channel, r.attrs["channel"])
		assert.Equal(t, s.code.String(), r.attrs["error_code"])
		assert.Equal(t, uint64(id), r.attrs["id"])
		assert.Equal(t, s.level, r.level)
	}
	c.quiet()
	assert.Empty(t, h.find("ssotws: connection refused"))
}

// TestLifecycleRecords: at Debug, a connection's acceptance, its
// authentication and its end (code, reason, who closed, duration).
func TestLifecycleRecords(t *testing.T) {
	auth := ssotws.AuthenticatorFunc(func(ctx context.Context, token string) (*ssotws.Identity, error) {
		return &ssotws.Identity{Subject: token}, nil
	})
	h := &captured{}
	e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{Authenticator: auth, Logger: slog.New(h)}})
	c := dialToken(t, e, "alice")
	c.quiet()
	require.NoError(t, c.ws.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool { return len(h.find("ssotws: connection closed")) == 1 }, wait, time.Millisecond)

	accepted := h.find("ssotws: connection accepted")
	require.Len(t, accepted, 1)
	assert.Equal(t, slog.LevelDebug, accepted[0].level)
	assert.NotEmpty(t, accepted[0].attrs["remote"])
	conn := accepted[0].attrs["conn"]

	authed := h.find("ssotws: connection authenticated")
	require.Len(t, authed, 1)
	assert.Equal(t, "alice", authed[0].attrs["user"])
	assert.Equal(t, conn, authed[0].attrs["conn"])

	closed := h.find("ssotws: connection closed")[0]
	assert.Equal(t, slog.LevelDebug, closed.level)
	assert.Equal(t, conn, closed.attrs["conn"])
	assert.Equal(t, "alice", closed.attrs["user"])
	assert.Equal(t, int64(websocket.StatusNormalClosure), closed.attrs["code"])
	assert.Equal(t, "bye", closed.attrs["reason"])
	assert.Equal(t, "client", closed.attrs["by"])
	assert.IsType(t, time.Duration(0), closed.attrs["duration"])

	// A close the server starts says so.
	c2 := dialToken(t, e, "bob")
	c2.quiet()
	require.NoError(t, e.gateway.Shutdown(context.Background()))
	assert.Equal(t, ssotws.CloseGoingAway, c2.closed())
	require.Eventually(t, func() bool { return len(h.find("ssotws: connection closed")) == 2 }, wait, time.Millisecond)
	closed = h.find("ssotws: connection closed")[1]
	assert.Equal(t, "bob", closed.attrs["user"])
	assert.Equal(t, int64(ssotws.CloseGoingAway), closed.attrs["code"])
	assert.Equal(t, "server", closed.attrs["by"])
}
