package ssotws_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// testAuth is an Authenticator that knows the tokens it issued.
type testAuth struct {
	mu     sync.Mutex
	tokens map[string]ssotws.Identity
	n      int
	panics string // a token that makes Authenticate panic
}

func newTestAuth() *testAuth { return &testAuth{tokens: make(map[string]ssotws.Identity)} }

// issue returns a new token of subject; ttl 0 never expires, a negative
// ttl has already expired.
func (a *testAuth) issue(subject string, ttl time.Duration, claims map[string]any) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	id := ssotws.Identity{Subject: subject, TokenID: fmt.Sprintf("t%d", a.n), Claims: claims}
	if ttl != 0 {
		id.Expires = time.Now().Add(ttl)
	}
	token := fmt.Sprintf("tok-%d-%s", a.n, subject)
	a.tokens[token] = id
	return token
}

func (a *testAuth) revoke(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.tokens, token)
}

func (a *testAuth) tokenID(token string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tokens[token].TokenID
}

func (a *testAuth) Authenticate(ctx context.Context, token string) (*ssotws.Identity, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if token == a.panics && token != "" {
		panic("authenticator exploded")
	}
	id, ok := a.tokens[token]
	if !ok {
		return nil, errors.New("unknown token")
	}
	return &id, nil // the gateway and the interceptor check Expires
}

// secEnv is a chat server on loopback with authentication everywhere:
// ChatService behind NewAuthInterceptor at / (through the generated
// handler constructor, with its request bounds), the gateway at /ws. The
// Message model has an owner ("author").
type secEnv struct {
	t        *testing.T
	auth     *testAuth
	broker   *ssotws.MemoryBroker
	gateway  *ssotws.Gateway
	store    ssotws.Store
	messages *ssotws.Resource[*chatv1.Message]
	server   *httptest.Server
	url      string

	mu     sync.Mutex
	closes []websocket.StatusCode
}

type secConfig struct {
	model      ssotws.ModelConfig // Owner "author" and Scopes room_id are added
	gateway    ssotws.GatewayOptions
	authorizer ssotws.Authorizer
	logger     *slog.Logger
	// ropts are more options of the Message resource (its Authorizer and
	// Logger are the fields above); requireAuth sets the interceptor's
	// RequireAuth.
	ropts       ssotws.ResourceOptions
	requireAuth bool
}

func newSecEnv(t *testing.T, cfg secConfig) *secEnv {
	t.Helper()
	cfg.model.Owner, cfg.model.Scopes, cfg.model.Realtime = "author", []string{"room_id"}, true
	model, err := ssotws.NewModel((&chatv1.Message{}).ProtoReflect().Descriptor(), cfg.model)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	e := &secEnv{t: t, auth: newTestAuth(), store: ssotws.NewMemoryStore()}
	e.broker = ssotws.NewMemoryBroker(&ssotws.MemoryBrokerOptions{HistorySize: 100_000})
	gopts := cfg.gateway
	gopts.Authenticator = e.auth
	gopts.Logger = cfg.logger
	e.gateway = ssotws.NewGateway(e.broker, &gopts)
	ssotws.SetOnClose(e.gateway, func(code websocket.StatusCode) {
		e.mu.Lock()
		e.closes = append(e.closes, code)
		e.mu.Unlock()
	})
	if err := e.gateway.RegisterModel(model); err != nil {
		t.Fatal(err)
	}
	ropts := cfg.ropts
	ropts.Authorizer = cfg.authorizer
	ropts.Logger = cfg.logger
	e.messages = ssotws.NewResource[*chatv1.Message](model, e.store, e.broker, &ropts)
	svc := &chatv1ssotws.ChatService{
		Rooms:    ssotws.NewResource[*chatv1.Room](chatv1ssotws.RoomModel, e.store, e.broker, nil),
		Messages: e.messages,
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", e.gateway)
	path, handler := chatv1ssotws.NewChatServiceHandler(svc,
		connect.WithInterceptors(ssotws.NewAuthInterceptor(e.auth, &ssotws.AuthInterceptorOptions{Logger: cfg.logger, RequireAuth: cfg.requireAuth})))
	mux.Handle(path, handler)
	e.server = httptest.NewServer(mux)
	e.url = "ws" + strings.TrimPrefix(e.server.URL, "http") + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := e.gateway.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.server.Close()
		e.broker.Close()
	})
	return e
}

// chat returns a ChatService client that sends token as a bearer token
// ("" sends none).
func (e *secEnv) chat(token string) chatv1connect.ChatServiceClient {
	return chatv1connect.NewChatServiceClient(e.server.Client(), e.server.URL, connect.WithInterceptors(bearer(token)))
}

func (e *secEnv) closeCodes() []websocket.StatusCode {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.closes)
}

// sawClose reports whether the gateway closed some connection with code.
func (e *secEnv) sawClose(code websocket.StatusCode) bool {
	return slices.Contains(e.closeCodes(), code)
}

// dialOpts dials the gateway; it returns the handshake's error rather than
// failing the test.
func (e *secEnv) dialOpts(url string, opts *websocket.DialOptions) (*client, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, res, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, res, err
	}
	ws.SetReadLimit(64 << 20)
	c := &client{t: e.t, ws: ws, frames: make(chan *wsv1.ServerFrame, 1<<16), done: make(chan struct{})}
	e.t.Cleanup(func() {
		_ = ws.CloseNow()
		if c.reads {
			<-c.done
		}
	})
	return c, res, nil
}

// dialAs connects with token in the subprotocol ("" for anonymous) and
// starts reading.
func (e *secEnv) dialAs(token string) *client {
	e.t.Helper()
	c := e.dialAsNoRead(token)
	c.startReading()
	return c
}

func (e *secEnv) dialAsNoRead(token string) *client {
	e.t.Helper()
	protos := []string{ssotws.Subprotocol}
	if token != "" {
		protos = append(protos, ssotws.AuthSubprotocol(token))
	}
	c, _, err := e.dialOpts(e.url, &websocket.DialOptions{Subprotocols: protos})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// trySend writes f, reporting a failed write (the server may have closed).
func (c *client) trySend(f *wsv1.ClientFrame) error {
	b, err := proto.Marshal(f)
	if err != nil {
		return err
	}
	return c.trySendRaw(websocket.MessageBinary, b)
}

func (c *client) trySendRaw(typ websocket.MessageType, b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return c.ws.Write(ctx, typ, b)
}

func authFrame(token string) *wsv1.ClientFrame {
	return &wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Auth{Auth: &wsv1.Auth{Token: token}}}
}

func pingFrame(nonce uint64) *wsv1.ClientFrame {
	return &wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{Nonce: nonce}}}
}

// refused subscribes to channel and returns the code of the Error it must
// get.
func (c *client) refused(channel string) wsv1.ErrorCode {
	c.t.Helper()
	id := c.subscribe(channel, nil)
	f := c.next()
	if f.GetError() == nil || f.GetError().GetId() != id {
		c.t.Fatalf("Subscribe %q: got %v, want an Error", truncateForLog(channel), f)
	}
	return f.GetError().GetCode()
}

func truncateForLog(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// create creates a message over HTTP as token's user.
func (e *secEnv) create(token, room, text string) (*chatv1.Message, error) {
	res, err := e.chat(token).CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: room, Text: text},
	}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

func (e *secEnv) mustCreate(token, room, text string) *chatv1.Message {
	e.t.Helper()
	m, err := e.create(token, room, text)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func subjectOf(id *ssotws.Identity) string {
	if id == nil {
		return ""
	}
	return id.Subject
}

func codeOf(err error) connect.Code {
	if err == nil {
		return 0
	}
	return connect.CodeOf(err)
}

// TestInterceptorOverHTTP: the interceptor authenticates Connect calls
// with the gateway's Authenticator, and Resource enforces read and write
// access over real HTTP.
func TestInterceptorOverHTTP(t *testing.T) {
	var denied atomic.Int32
	e := newSecEnv(t, secConfig{
		model: ssotws.ModelConfig{Read: wsv1.Access_AUTHENTICATED, Write: wsv1.Access_OWNER},
		authorizer: func(ctx context.Context, req *ssotws.AccessRequest) error {
			var room string
			switch {
			case req.Proposed != nil:
				room = req.Proposed.Interface().(*chatv1.Message).GetRoomId()
			case req.Current != nil:
				room = req.Current.Interface().(*chatv1.Message).GetRoomId()
			}
			switch room {
			case "locked":
				denied.Add(1)
				return ssotws.ErrForbidden
			case "boom":
				panic("authorizer exploded")
			}
			return nil
		},
	})
	alice := e.auth.issue("alice", 0, nil)
	bob := e.auth.issue("bob", 0, nil)
	expired := e.auth.issue("alice", -time.Minute, nil)

	// Forged owner on create: the caller is the owner.
	res, err := e.chat(alice).CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: "r1", Author: "bob", Text: "forged"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := res.Msg
	if m.GetAuthor() != "alice" {
		t.Fatalf("author %q, want the caller", m.GetAuthor())
	}

	for _, tc := range []struct {
		name  string
		token string
		call  func(c chatv1connect.ChatServiceClient) error
		want  connect.Code
	}{
		{"anonymous read of an AUTHENTICATED model", "", func(c chatv1connect.ChatServiceClient) error {
			_, err := c.GetMessage(context.Background(), connect.NewRequest(&chatv1.GetMessageRequest{Id: m.GetId()}))
			return err
		}, connect.CodeUnauthenticated},
		{"anonymous create", "", func(c chatv1connect.ChatServiceClient) error {
			_, err := c.CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "r1"}}))
			return err
		}, connect.CodeUnauthenticated},
		{"unknown token", "nonsense", func(c chatv1connect.ChatServiceClient) error {
			_, err := c.GetMessage(context.Background(), connect.NewRequest(&chatv1.GetMessageRequest{Id: m.GetId()}))
			return err
		}, connect.CodeUnauthenticated},
		{"expired token", expired, func(c chatv1connect.ChatServiceClient) error {
			_, err := c.GetMessage(context.Background(), connect.NewRequest(&chatv1.GetMessageRequest{Id: m.GetId()}))
			return err
		}, connect.CodeUnauthenticated},
		{"another user reads", bob, func(c chatv1connect.ChatServiceClient) error {
			_, err := c.GetMessage(context.Background(), connect.NewRequest(&chatv1.GetMessageRequest{Id: m.GetId()}))
			return err
		}, 0},
		{"another user updates", bob, func(c chatv1connect.ChatServiceClient) error {
			_, err := c.UpdateMessage(context.Background(), connect.NewRequest(&chatv1.UpdateMessageRequest{Message: &chatv1.Message{Id: m.GetId(), Text: "mine now"}}))
			return err
		}, connect.CodePermissionDenied},
		{"another user deletes", bob, func(c chatv1connect.ChatServiceClient) error {
			_, err := c.DeleteMessage(context.Background(), connect.NewRequest(&chatv1.DeleteMessageRequest{Id: m.GetId()}))
			return err
		}, connect.CodePermissionDenied},
		{"the owner gives the record away", alice, func(c chatv1connect.ChatServiceClient) error {
			_, err := c.UpdateMessage(context.Background(), connect.NewRequest(&chatv1.UpdateMessageRequest{
				Message: &chatv1.Message{Id: m.GetId(), Author: "bob"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"author"}},
			}))
			return err
		}, connect.CodeInvalidArgument},
		{"the Authorizer denies a room", alice, func(c chatv1connect.ChatServiceClient) error {
			_, err := c.CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "locked"}}))
			return err
		}, connect.CodePermissionDenied},
		{"the Authorizer denies a move", alice, func(c chatv1connect.ChatServiceClient) error {
			_, err := c.UpdateMessage(context.Background(), connect.NewRequest(&chatv1.UpdateMessageRequest{
				Message: &chatv1.Message{Id: m.GetId(), RoomId: "locked"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"room_id"}},
			}))
			return err
		}, connect.CodePermissionDenied},
		{"a panicking Authorizer denies", alice, func(c chatv1connect.ChatServiceClient) error {
			_, err := c.CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "boom"}}))
			return err
		}, connect.CodePermissionDenied},
		{"the owner updates", alice, func(c chatv1connect.ChatServiceClient) error {
			_, err := c.UpdateMessage(context.Background(), connect.NewRequest(&chatv1.UpdateMessageRequest{Message: &chatv1.Message{Id: m.GetId(), Text: "edited"}}))
			return err
		}, 0},
	} {
		if got := codeOf(tc.call(e.chat(tc.token))); got != tc.want {
			t.Errorf("%s: code %v, want %v", tc.name, got, tc.want)
		}
	}
	if denied.Load() != 2 {
		t.Errorf("the Authorizer denied %d calls, want 2", denied.Load())
	}

	// Malformed Authorization headers.
	for _, h := range []string{"Basic YWxpY2U6cHc=", "Bearer", "Bearer ", "tok"} {
		req := connect.NewRequest(&chatv1.GetMessageRequest{Id: m.GetId()})
		req.Header().Set("Authorization", h)
		_, err := e.chat("").GetMessage(context.Background(), req)
		if codeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("Authorization %q: %v", h, err)
		}
		var ce *connect.Error
		if errors.As(err, &ce) && ce.Meta().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("Authorization %q: WWW-Authenticate %q", h, ce.Meta().Get("WWW-Authenticate"))
		}
	}

	// The store holds alice's record, still hers.
	rec, _, err := e.messages.Get(ssotws.WithIdentity(context.Background(), &ssotws.Identity{Subject: "alice"}), m.GetId())
	if err != nil || rec.GetAuthor() != "alice" || rec.GetText() != "edited" {
		t.Fatalf("stored %v, %v", rec, err)
	}
}

func TestInterceptorRequireAuth(t *testing.T) {
	auth := newTestAuth()
	tok := auth.issue("alice", 0, nil)
	var seen atomic.Pointer[ssotws.Identity]
	unary := func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		seen.Store(ssotws.IdentityFrom(ctx))
		return connect.NewResponse(&chatv1.Message{}), nil
	}
	for _, required := range []bool{false, true} {
		ic := ssotws.NewAuthInterceptor(auth, &ssotws.AuthInterceptorOptions{RequireAuth: required})
		call := ic.WrapUnary(unary)
		req := connect.NewRequest(&chatv1.GetMessageRequest{})
		_, err := call(context.Background(), req)
		if (err != nil) != required {
			t.Errorf("RequireAuth %v, no token: %v", required, err)
		}
		req.Header().Set("Authorization", "bearer "+tok) // the scheme is case-insensitive
		if _, err := call(context.Background(), req); err != nil || subjectOf(seen.Load()) != "alice" {
			t.Errorf("RequireAuth %v, a token: %v, identity %v", required, err, seen.Load())
		}
	}
	auth.panics = tok
	_, err := ssotws.NewAuthInterceptor(auth, &ssotws.AuthInterceptorOptions{Logger: slog.New(slog.DiscardHandler)}).
		WrapUnary(unary)(context.Background(), func() connect.AnyRequest {
		req := connect.NewRequest(&chatv1.GetMessageRequest{})
		req.Header().Set("Authorization", "Bearer "+tok)
		return req
	}())
	if codeOf(err) != connect.CodeInternal {
		t.Errorf("panicking Authenticator: %v", err)
	}
}

// TestTokenRefresh: a fresh Auth frame before expiry keeps the connection;
// the refresh authorizes every subscription again; without one, 4408.
func TestTokenRefresh(t *testing.T) {
	e := newSecEnv(t, secConfig{
		model: ssotws.ModelConfig{Read: wsv1.Access_AUTHENTICATED, Write: wsv1.Access_AUTHENTICATED},
		gateway: ssotws.GatewayOptions{
			Authorize: func(ctx context.Context, id *ssotws.Identity, m *ssotws.Model, ch ssotws.ChannelName) error {
				if ch.Kind == ssotws.ChannelScope && !slices.Contains(id.Claims["rooms"].([]string), ch.Value) {
					return ssotws.ErrForbidden
				}
				return nil
			},
		},
	})
	writer := e.auth.issue("writer", 0, map[string]any{"rooms": []string{}})
	const ttl = 300 * time.Millisecond
	first := e.auth.issue("alice", ttl, map[string]any{"rooms": []string{"r1", "r2"}})
	c := e.dialAs(first)
	c.ack(r1, nil)
	r2ID := c.subscribe(r2, nil)
	if f := c.next(); f.GetAck().GetId() != r2ID {
		t.Fatalf("Subscribe r2: %v", f)
	}
	start := time.Now()
	// Refresh twice, each time before expiry: the connection outlives the
	// first token. The second token no longer grants r2.
	time.Sleep(ttl / 2)
	c.send(authFrame(e.auth.issue("alice", ttl, map[string]any{"rooms": []string{"r1", "r2"}})))
	time.Sleep(ttl / 2)
	c.send(authFrame(e.auth.issue("alice", ttl, map[string]any{"rooms": []string{"r1"}})))
	if f := c.next().GetError(); f.GetId() != r2ID || f.GetCode() != wsv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("after a refresh without r2: %v, want FORBIDDEN for Subscribe %d", f, r2ID)
	}
	time.Sleep(ttl / 2)
	if time.Since(start) < ttl {
		t.Fatal("too slow a machine for this test")
	}
	e.mustCreate(writer, "r2", "unheard")
	m := e.mustCreate(writer, "r1", "heard")
	if ev := c.events(1)[0]; ev.GetKey() != m.GetId() {
		t.Fatalf("got %v", ev)
	}
	// No more refreshes: 4408 once the last token expires.
	if code := c.closed(); code != ssotws.CloseTokenExpired {
		t.Fatalf("close %d, want %d", code, ssotws.CloseTokenExpired)
	}
	if d := time.Since(start); d < 3*ttl/2 {
		t.Fatalf("closed after %v, before the refreshed token expired", d)
	}

	// A refresh with another user's token: 4403.
	c = e.dialAs(e.auth.issue("alice", 0, nil))
	c.send(authFrame(e.auth.issue("mallory", 0, nil)))
	if code := c.closed(); code != ssotws.CloseForbidden {
		t.Fatalf("another subject's token: close %d", code)
	}
	// An anonymous connection that authenticates keeps its subscriptions
	// if they are still allowed: re-checked with the new identity.
	e2 := newSecEnv(t, secConfig{})
	anon := e2.dialAs("")
	anon.ack(r1, nil)
	anon.send(authFrame(e2.auth.issue("alice", 0, nil)))
	m = e2.mustCreate(e2.auth.issue("bob", 0, nil), "r1", "hi")
	if ev := anon.events(1)[0]; ev.GetKey() != m.GetId() {
		t.Fatalf("got %v", ev)
	}
}

func TestRevoke(t *testing.T) {
	e := newSecEnv(t, secConfig{})
	a1 := e.auth.issue("alice", 0, nil)
	a2 := e.auth.issue("alice", 0, nil)
	bob := e.auth.issue("bob", 0, nil)
	ca1, ca1b, ca2, cb := e.dialAs(a1), e.dialAs(a1), e.dialAs(a2), e.dialAs(bob)
	for _, c := range []*client{ca1, ca1b, ca2, cb} {
		c.ack(r1, nil)
	}
	if n := e.gateway.RevokeToken(e.auth.tokenID(a1)); n != 2 {
		t.Fatalf("RevokeToken closed %d connections, want 2", n)
	}
	for _, c := range []*client{ca1, ca1b} {
		if code := c.closed(); code != ssotws.CloseUnauthenticated {
			t.Fatalf("revoked token: close %d", code)
		}
	}
	ca2.quiet()
	if n := e.gateway.Revoke("alice"); n != 1 {
		t.Fatalf("Revoke closed %d connections, want 1", n)
	}
	if code := ca2.closed(); code != ssotws.CloseUnauthenticated {
		t.Fatalf("revoked subject: close %d", code)
	}
	m := e.mustCreate(bob, "r1", "still here")
	if ev := cb.events(1)[0]; ev.GetKey() != m.GetId() {
		t.Fatalf("bob got %v", ev)
	}
	if n := e.gateway.RevokeToken(""); n != 0 {
		t.Fatalf("RevokeToken(\"\") closed %d", n)
	}
}

func TestConnsPerUser(t *testing.T) {
	e := newSecEnv(t, secConfig{gateway: ssotws.GatewayOptions{Limits: ssotws.Limits{MaxConnsPerUser: 2}}})
	tok := e.auth.issue("alice", 0, nil)
	c1, c2 := e.dialAs(tok), e.dialAs(tok)
	c1.quiet()
	c2.quiet()
	// The third is refused; the first two stay.
	if code := e.dialAs(tok).closed(); code != ssotws.CloseTooSlow {
		t.Fatalf("third connection: close %d, want %d", code, ssotws.CloseTooSlow)
	}
	// An anonymous connection that authenticates counts too.
	anon := e.dialAs("")
	anon.send(authFrame(tok))
	if code := anon.closed(); code != ssotws.CloseTooSlow {
		t.Fatalf("third connection by Auth frame: close %d", code)
	}
	c1.quiet()
	// Closing one frees its place.
	_ = c2.ws.Close(websocket.StatusNormalClosure, "")
	c2.closed()
	deadline := time.Now().Add(wait)
	for {
		c3 := e.dialAs(tok)
		if err := c3.trySend(pingFrame(1)); err == nil {
			if f, ok := <-c3.frames; ok && f.GetPong() != nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no place freed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Other users are not affected.
	e.dialAs(e.auth.issue("bob", 0, nil)).quiet()
}

func TestFrameRate(t *testing.T) {
	e := newSecEnv(t, secConfig{gateway: ssotws.GatewayOptions{Limits: ssotws.Limits{FrameRate: 10, FrameBurst: 20}}})
	c := e.dialAs("")
	for i := range 20 {
		c.send(pingFrame(uint64(i)))
	}
	for i := range 20 {
		if f := c.next(); f.GetPong().GetNonce() != uint64(i) {
			t.Fatalf("got %v", f)
		}
	}
	// The bucket refills at 10 frames/s.
	time.Sleep(150 * time.Millisecond)
	c.quiet()
	for i := 0; i < 50 && c.trySend(pingFrame(0)) == nil; i++ {
	}
	if code := c.closed(); code != ssotws.CloseTooSlow {
		t.Fatalf("close %d, want %d", code, ssotws.CloseTooSlow)
	}
	// A negative rate disables the limit.
	e = newSecEnv(t, secConfig{gateway: ssotws.GatewayOptions{Limits: ssotws.Limits{FrameRate: -1}}})
	c = e.dialAs("")
	// In rounds of 100: the send queue bounds the Pongs in flight.
	for round := range 5 {
		for i := range 100 {
			c.send(pingFrame(uint64(100*round + i)))
		}
		for i := range 100 {
			if f := c.next(); f.GetPong().GetNonce() != uint64(100*round+i) {
				t.Fatalf("got %v", f)
			}
		}
	}
}

func TestOriginAllowList(t *testing.T) {
	dial := func(e *secEnv, origin string) (int, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, res, err := e.dialOpts(e.url, &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			if res == nil {
				return 0, err
			}
			return res.StatusCode, nil
		}
		c.startReading()
		c.quiet()
		return http.StatusSwitchingProtocols, nil
	}
	e := newSecEnv(t, secConfig{})
	host := strings.TrimPrefix(e.server.URL, "http://")
	for origin, want := range map[string]int{
		"":                             101, // not a browser
		"http://" + host:               101, // same origin
		"https://evil.example":         403,
		"http://" + host + ".evil.com": 403,
		"null":                         403,
	} {
		if got, err := dial(e, origin); err != nil || got != want {
			t.Errorf("default options, Origin %q: %d %v, want %d", origin, got, err, want)
		}
	}
	e = newSecEnv(t, secConfig{gateway: ssotws.GatewayOptions{AcceptOptions: &websocket.AcceptOptions{OriginPatterns: []string{"app.example.com"}}}})
	for origin, want := range map[string]int{
		"https://app.example.com":  101,
		"https://evil.example.com": 403,
	} {
		if got, err := dial(e, origin); err != nil || got != want {
			t.Errorf("OriginPatterns, Origin %q: %d %v, want %d", origin, got, err, want)
		}
	}
}

func TestQueryToken(t *testing.T) {
	for _, allow := range []bool{false, true} {
		e := newSecEnv(t, secConfig{
			model:   ssotws.ModelConfig{Read: wsv1.Access_AUTHENTICATED},
			gateway: ssotws.GatewayOptions{AllowQueryToken: allow},
		})
		c, _, err := e.dialOpts(e.url+"?token="+e.auth.issue("alice", 0, nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.startReading()
		if !allow {
			if code := c.closed(); code != ssotws.CloseUnauthenticated {
				t.Fatalf("a token in the URL when disabled: close %d", code)
			}
			continue
		}
		c.ack(r1, nil) // authenticated: AUTHENTICATED channels are open
	}
	// A URL token is refused even when the subprotocol carries a token
	// too: it was sent, so it is in some log already, and the client must
	// be told (issue #9).
	e := newSecEnv(t, secConfig{model: ssotws.ModelConfig{Read: wsv1.Access_AUTHENTICATED}})
	tok := e.auth.issue("alice", 0, nil)
	c, _, err := e.dialOpts(e.url+"?token="+tok, &websocket.DialOptions{
		Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocol(tok)},
	})
	require.NoError(t, err)
	c.startReading()
	assert.Equal(t, ssotws.CloseUnauthenticated, c.closed(), "a token in the URL next to a subprotocol token, when disabled")
	// With AllowQueryToken, the subprotocol token wins.
	e = newSecEnv(t, secConfig{
		model:   ssotws.ModelConfig{Read: wsv1.Access_AUTHENTICATED},
		gateway: ssotws.GatewayOptions{AllowQueryToken: true},
	})
	tok = e.auth.issue("alice", 0, nil)
	c, _, err = e.dialOpts(e.url+"?token=garbage", &websocket.DialOptions{
		Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocol(tok)},
	})
	require.NoError(t, err)
	c.startReading()
	c.ack(r1, nil)
}

func TestRequireAuth(t *testing.T) {
	e := newSecEnv(t, secConfig{gateway: ssotws.GatewayOptions{RequireAuth: true, AuthTimeout: 100 * time.Millisecond}})
	tok := e.auth.issue("alice", 0, nil)
	// In the handshake.
	e.dialAs(tok).ack(r1, nil)
	// A first Auth frame, later than the deadline would allow for silence.
	c := e.dialAs("")
	c.send(authFrame(tok))
	time.Sleep(150 * time.Millisecond)
	c.ack(r1, nil)
	// Anything else first.
	c = e.dialAs("")
	c.send(pingFrame(1))
	if code := c.closed(); code != ssotws.CloseUnauthenticated {
		t.Fatalf("Ping before Auth: close %d", code)
	}
	// Nothing in time.
	c = e.dialAs("")
	if code := c.closed(); code != ssotws.CloseUnauthenticated {
		t.Fatalf("silence: close %d", code)
	}
	// Without an Authenticator, RequireAuth refuses everyone.
	b := ssotws.NewMemoryBroker(nil)
	defer b.Close()
	g := ssotws.NewGateway(b, &ssotws.GatewayOptions{RequireAuth: true, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer g.Close()
	c, _, err := e.dialOpts("ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocol(tok)}})
	if err != nil {
		t.Fatal(err)
	}
	c.startReading()
	if code := c.closed(); code != ssotws.CloseUnauthenticated {
		t.Fatalf("RequireAuth without an Authenticator: close %d", code)
	}
}

// logRecorder records the messages logged through it.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "hook" {
			msg += " " + a.Value.String()
		}
		return true
	})
	r.msgs = append(r.msgs, msg)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// TestFilterFailsAlone: a Filter that fails or panics for one subscriber
// drops only that delivery, is logged, and everyone else gets every event.
func TestFilterFailsAlone(t *testing.T) {
	logs := &logRecorder{}
	e := newSecEnv(t, secConfig{
		logger: slog.New(logs),
		gateway: ssotws.GatewayOptions{Filter: func(ctx context.Context, id *ssotws.Identity, m *ssotws.Model, ev *wsv1.Event) bool {
			switch subjectOf(id) {
			case "panicky":
				panic("filter exploded")
			case "picky":
				var msg chatv1.Message
				return proto.Unmarshal(ev.GetData(), &msg) == nil && msg.GetText() != "skip"
			}
			return true
		}},
	})
	writer := e.auth.issue("writer", 0, nil)
	var others []*client
	for _, u := range []string{"alice", "bob", "carol"} {
		c := e.dialAs(e.auth.issue(u, 0, nil))
		c.ack(r1, nil)
		others = append(others, c)
	}
	panicky := e.dialAs(e.auth.issue("panicky", 0, nil))
	panicky.ack(r1, nil)
	picky := e.dialAs(e.auth.issue("picky", 0, nil))
	picky.ack(r1, nil)
	var keys []string
	for i := range 10 {
		text := "keep"
		if i%2 == 0 {
			text = "skip"
		}
		keys = append(keys, e.mustCreate(writer, "r1", text).GetId())
	}
	for _, c := range others {
		evs := c.events(10)
		for i, ev := range evs {
			if ev.GetKey() != keys[i] || ev.GetPosition().GetOffset() != uint64(i+1) {
				t.Fatalf("event %d: %v", i, ev)
			}
		}
	}
	for i, ev := range picky.events(5) {
		if ev.GetKey() != keys[2*i+1] {
			t.Fatalf("picky event %d: %v", i, ev)
		}
	}
	panicky.quiet() // every delivery dropped, the connection alive
	if n := logs.count("ssotws: hook panicked Filter"); n != 10 {
		t.Fatalf("%d Filter panics logged, want 10", n)
	}
}
