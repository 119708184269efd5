package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
)

// issuer is the identity provider and the Authenticator of the auth tests:
// it issues short-lived opaque tokens, counts them, and refuses the tokens
// of revoked subjects.
type issuer struct {
	ttl time.Duration

	mu      sync.Mutex
	issued  int
	ids     map[string]*ssotws.Identity
	revoked map[string]bool
	reasons []client.TokenReason
}

func newIssuer(ttl time.Duration) *issuer {
	return &issuer{ttl: ttl, ids: make(map[string]*ssotws.Identity), revoked: make(map[string]bool)}
}

// issue returns a new token of sub; rooms, if any, are the only rooms it
// may read.
func (is *issuer) issue(sub string, rooms ...string) client.Token {
	return is.issueFor(sub, is.ttl, rooms...)
}

func (is *issuer) issueFor(sub string, ttl time.Duration, rooms ...string) client.Token {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.issued++
	tok := fmt.Sprintf("%s.%d", sub, is.issued)
	id := &ssotws.Identity{Subject: sub, TokenID: tok, Expires: time.Now().Add(ttl)}
	if rooms != nil {
		id.Claims = map[string]any{"rooms": rooms}
	}
	is.ids[tok] = id
	return client.Token{Value: tok, Expires: id.Expires}
}

// source is a TokenSource issuing tokens of sub, recording the reasons.
func (is *issuer) source(sub string) client.TokenSource {
	return func(ctx context.Context) (client.Token, error) {
		is.note(ctx)
		return is.issue(sub), nil
	}
}

func (is *issuer) note(ctx context.Context) {
	is.mu.Lock()
	is.reasons = append(is.reasons, client.TokenReasonFrom(ctx))
	is.mu.Unlock()
}

func (is *issuer) count() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.issued
}

func (is *issuer) seen() []client.TokenReason {
	is.mu.Lock()
	defer is.mu.Unlock()
	return slices.Clone(is.reasons)
}

func (is *issuer) revoke(sub string, on bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.revoked[sub] = on
}

func (is *issuer) Authenticate(ctx context.Context, token string) (*ssotws.Identity, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	id := is.ids[token]
	switch {
	case id == nil || is.revoked[id.Subject]:
		return nil, errors.New("unknown or revoked token")
	case id.Expired(time.Now()):
		return nil, ssotws.ErrTokenExpired
	}
	return id, nil
}

// authorizeRooms lets a token with a "rooms" claim read only those rooms'
// scope channels.
func authorizeRooms(ctx context.Context, id *ssotws.Identity, m *ssotws.Model, ch ssotws.ChannelName) error {
	if id == nil || ch.Kind != ssotws.ChannelScope {
		return nil
	}
	rooms, ok := id.Claims["rooms"].([]string)
	if ok && !slices.Contains(rooms, ch.Value) {
		return ssotws.ErrForbidden
	}
	return nil
}

func startAuthServer(t *testing.T, is *issuer, limits ssotws.Limits) *testServer {
	t.Helper()
	return startServerWith(t, ssotws.NewMemoryStore(), "127.0.0.1:0",
		&ssotws.GatewayOptions{Authenticator: is, RequireAuth: true, Authorize: authorizeRooms, Limits: limits},
		connect.WithInterceptors(ssotws.NewAuthInterceptor(is, nil)))
}

// stateLog records every state a Conn goes through.
type stateLog struct {
	mu     sync.Mutex
	states []client.State
}

func watchStates(t *testing.T, conn *client.Conn) *stateLog {
	l := &stateLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			s, ch := conn.Watch()
			l.mu.Lock()
			if n := len(l.states); n == 0 || l.states[n-1] != s {
				l.states = append(l.states, s)
			}
			l.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return l
}

func (l *stateLog) get() []client.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.states)
}

func waitState(t *testing.T, conn *client.Conn, want client.State) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.WaitFor(ctx, want); err != nil {
		t.Fatalf("state %v, want %v (last error: %v)", conn.State(), want, conn.LastError())
	}
}

func closeCode(err error) websocket.StatusCode { return websocket.CloseStatus(err) }

// TestTokenRefreshKeepsConnection: tokens living 300 ms are refreshed on
// the open socket before they expire, so one connection lives across
// several lifetimes, and every event arrives. HTTP shares the source
// (cached) through the interceptor.
func TestTokenRefreshKeepsConnection(t *testing.T) {
	is := newIssuer(300 * time.Millisecond)
	srv := startAuthServer(t, is, ssotws.Limits{})
	tokens := client.CachedTokens(is.source("alice"))
	conn := client.NewConn(srv.WSURL(), &client.ConnOptions{TokenSource: tokens, Backoff: fast})
	t.Cleanup(func() { conn.Close() })
	states := watchStates(t, conn)
	api := chatv1connect.NewChatServiceClient(http.DefaultClient, srv.URL(),
		connect.WithInterceptors(client.NewTokenInterceptor(tokens)))
	c := NewMessageClient(api, conn, &client.Options{Backoff: fast})
	rec := newRecorder()
	channel := ssotws.ScopeChannel("Message", "room_id", "r1")
	defer c.Subscribe(channel, rec.fn)()
	if err := c.WebSocket().WaitHydrated(testCtx(t), channel); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n := 0
	for time.Since(start) < 1500*time.Millisecond { // five lifetimes
		create(t, c, fmt.Sprintf("m%02d", n), "r1", "hello")
		n++
		time.Sleep(50 * time.Millisecond)
	}
	last := fmt.Sprintf("m%02d", n-1)
	rec.waitFor(t, last, heard(client.Created, last))
	if got := srv.ws.Load(); got != 1 {
		t.Errorf("%d WebSocket handshakes, want 1 (states %v, last error %v)", got, states.get(), conn.LastError())
	}
	got := slices.DeleteFunc(states.get(), func(s client.State) bool { return s == client.StateIdle })
	if !slices.Equal(got, []client.State{client.StateConnecting, client.StateOpen}) {
		t.Errorf("states %v, want connecting, open", got)
	}
	if got := is.count(); got < 5 {
		t.Errorf("%d tokens issued in 1.5 s of 300 ms tokens, want at least 5", got)
	}
	if !slices.Contains(is.seen(), client.TokenRefresh) {
		t.Errorf("reasons %v, want a refresh", is.seen())
	}
	if got := len(rec.get()); got != n {
		t.Errorf("heard %d changes, want %d: %v", got, n, describe(rec.get()))
	}
}

// TestTokenExpiredReconnectsAtOnce: a source whose tokens have no known
// expiry is never asked to refresh; the server closes with 4408 at each
// expiry, and the Conn reconnects at once (its backoff would take
// seconds) with a fresh token, resuming with since: no event is lost or
// heard twice, and the channel is not fetched again.
func TestTokenExpiredReconnectsAtOnce(t *testing.T) {
	is := newIssuer(300 * time.Millisecond)
	srv := startAuthServer(t, is, ssotws.Limits{})
	src := func(ctx context.Context) (client.Token, error) {
		is.note(ctx)
		return client.Token{Value: is.issue("alice").Value}, nil // expiry unknown to the client
	}
	slow := client.Backoff{Base: 10 * time.Second, Max: 10 * time.Second}
	conn := client.NewConn(srv.WSURL(), &client.ConnOptions{TokenSource: src, Backoff: slow})
	t.Cleanup(func() { conn.Close() })
	c := NewMessageClient(srv.chatClient(), conn, &client.Options{Backoff: fast})
	rec := newRecorder()
	channel := ssotws.ScopeChannel("Message", "room_id", "r1")
	defer c.Subscribe(channel, rec.fn)()
	if err := c.WebSocket().WaitHydrated(testCtx(t), channel); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var want []string
	for i := 0; time.Since(start) < 1200*time.Millisecond; i++ { // four lifetimes
		m := create(t, c.HTTP(), fmt.Sprintf("m%02d", i), "r1", "hello")
		want = append(want, "created "+m.GetId())
		time.Sleep(20 * time.Millisecond)
	}
	last := want[len(want)-1][len("created "):]
	rec.waitFor(t, last, heard(client.Created, last))
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v: a reconnect waited for the backoff", d)
	}
	if got := srv.ws.Load(); got < 4 {
		t.Errorf("%d WebSocket handshakes in four lifetimes, want at least 4", got)
	}
	if err := conn.LastDrop(); closeCode(err) != ssotws.CloseTokenExpired {
		t.Errorf("last drop %v, want close 4408", err)
	}
	if !slices.Contains(is.seen(), client.TokenExpired) {
		t.Errorf("reasons %v, want expired", is.seen())
	}
	var got []string
	for _, ch := range rec.get() {
		got = append(got, ch.Type.String()+" "+ch.Key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("heard %v, want %v", got, want)
	}
	if n := srv.count("ListMessages"); n != 1 {
		t.Errorf("%d ListMessages, want 1: the resumes should replay, not refetch", n)
	}
	waitState(t, conn, client.StateOpen)
	if err := c.WebSocket().WaitHydrated(testCtx(t), channel); err != nil {
		t.Fatal(err)
	}
	page, err := c.List(testCtx(t), client.ListParams{Filters: map[string]string{"room_id": "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != len(want) {
		t.Errorf("List = %d items, want %d", len(page.Items), len(want))
	}
}

// TestRevokedSignsOut: a revoked user's connection closes with 4401; the
// Conn asks for a new token and reconnects once; refused again, it stops
// in StateUnauthenticated without hammering. After the user may sign in
// again, Reconnect resumes.
func TestRevokedSignsOut(t *testing.T) {
	is := newIssuer(time.Minute)
	srv := startAuthServer(t, is, ssotws.Limits{})
	conn := client.NewConn(srv.WSURL(), &client.ConnOptions{TokenSource: is.source("alice"), Backoff: fast})
	t.Cleanup(func() { conn.Close() })
	c := NewMessageClient(srv.chatClient(), conn, nil)
	rec := newRecorder()
	channel := ssotws.ScopeChannel("Message", "room_id", "r1")
	defer c.Subscribe(channel, rec.fn)()
	if err := c.WebSocket().WaitHydrated(testCtx(t), channel); err != nil {
		t.Fatal(err)
	}
	is.revoke("alice", true)
	if n := srv.gw.Revoke("alice"); n != 1 {
		t.Fatalf("Revoke closed %d connections, want 1", n)
	}
	waitState(t, conn, client.StateUnauthenticated)
	err := conn.LastError()
	if !errors.Is(err, client.ErrSignedOut) || closeCode(err) != ssotws.CloseUnauthenticated {
		t.Errorf("last error %v, want ErrSignedOut with close 4401", err)
	}
	time.Sleep(300 * time.Millisecond) // 60 times the backoff base: no redial
	if got := srv.ws.Load(); got != 2 {
		t.Errorf("%d WebSocket handshakes, want 2 (the first, one retry)", got)
	}
	if got, want := is.seen(), []client.TokenReason{client.TokenCurrent, client.TokenRejected}; !slices.Equal(got, want) {
		t.Errorf("reasons %v, want %v", got, want)
	}
	if s := conn.State(); s != client.StateUnauthenticated {
		t.Errorf("state %v, want unauthenticated", s)
	}

	// Signed in again: Reconnect resumes the subscription from its position.
	is.revoke("alice", false)
	create(t, c, "m1", "r1", "while signed out")
	conn.Connect() // as Reconnect
	waitState(t, conn, client.StateOpen)
	rec.waitFor(t, "m1", heard(client.Created, "m1"))
	if n := srv.count("ListMessages"); n != 1 {
		t.Errorf("%d ListMessages, want 1: the resume should replay", n)
	}
}

// TestRefusedFromTheStart: a token refused at the first connect gets one
// retry with a new token, then the Conn stops; Dial says so.
func TestRefusedFromTheStart(t *testing.T) {
	is := newIssuer(time.Minute)
	srv := startAuthServer(t, is, ssotws.Limits{})
	var calls atomic.Int64
	src := func(ctx context.Context) (client.Token, error) {
		calls.Add(1)
		return client.Token{Value: "forged"}, nil
	}
	_, err := client.Dial(testCtx(t), srv.WSURL(), &client.ConnOptions{TokenSource: src, Backoff: fast})
	if !errors.Is(err, client.ErrSignedOut) || closeCode(err) != ssotws.CloseUnauthenticated {
		t.Errorf("Dial = %v, want signed out", err)
	}
	if got := srv.ws.Load(); got != 2 || calls.Load() != 2 {
		t.Errorf("%d handshakes, %d tokens; want 2 and 2", got, calls.Load())
	}
}

// TestForeignTokenForbidden: a refreshed token of another user closes the
// connection with 4403; the Conn stops in StateForbidden.
func TestForeignTokenForbidden(t *testing.T) {
	is := newIssuer(300 * time.Millisecond)
	srv := startAuthServer(t, is, ssotws.Limits{})
	src := func(ctx context.Context) (client.Token, error) {
		if client.TokenReasonFrom(ctx) == client.TokenRefresh {
			return is.issue("bob"), nil
		}
		return is.issue("alice"), nil
	}
	conn := dialWith(t, srv.WSURL(), &client.ConnOptions{TokenSource: src, Backoff: fast})
	waitState(t, conn, client.StateForbidden)
	if err := conn.LastError(); !errors.Is(err, client.ErrIdentityChanged) || closeCode(err) != ssotws.CloseForbidden {
		t.Errorf("last error %v, want ErrIdentityChanged with close 4403", err)
	}
	// An absence has no event to wait for: with the fast backoff a redial
	// would have happened many times over in this interval.
	time.Sleep(100 * time.Millisecond)
	if got := srv.ws.Load(); got != 1 {
		t.Errorf("%d WebSocket handshakes, want 1", got)
	}
}

func dialWith(t *testing.T, url string, opts *client.ConnOptions) *client.Conn {
	t.Helper()
	conn, err := client.Dial(testCtx(t), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestRefreshDropsSubscription: after a refresh, a subscription the new
// token no longer allows gets an Error; it is marked failed and not
// subscribed again, even after a reconnect; the others go on.
func TestRefreshDropsSubscription(t *testing.T) {
	is := newIssuer(300 * time.Millisecond)
	srv := startAuthServer(t, is, ssotws.Limits{})
	src := func(ctx context.Context) (client.Token, error) {
		if client.TokenReasonFrom(ctx) == client.TokenCurrent {
			return is.issue("alice", "r1", "r2"), nil
		}
		return is.issue("alice", "r1"), nil
	}
	var mu sync.Mutex
	var errs []string
	conn := client.NewConn(srv.WSURL(), &client.ConnOptions{TokenSource: src, Backoff: fast,
		OnError: func(channel string, err error) {
			mu.Lock()
			errs = append(errs, channel+": "+err.Error())
			mu.Unlock()
		}})
	t.Cleanup(func() { conn.Close() })
	c := NewMessageClient(srv.chatClient(), conn, &client.Options{Backoff: fast})
	r1, r2 := ssotws.ScopeChannel("Message", "room_id", "r1"), ssotws.ScopeChannel("Message", "room_id", "r2")
	rec1, rec2 := newRecorder(), newRecorder()
	defer c.Subscribe(r1, rec1.fn)()
	defer c.Subscribe(r2, rec2.fn)()
	for _, ch := range []string{r1, r2} {
		if err := c.WebSocket().WaitHydrated(testCtx(t), ch); err != nil {
			t.Fatal(err)
		}
	}
	err := waitErr(t, func() error { return c.WebSocket().SubscriptionError(r2) })
	if !errors.Is(err, client.ErrSubscriptionDropped) {
		t.Errorf("r2: %v, want ErrSubscriptionDropped", err)
	}
	if err := c.WebSocket().SubscriptionError(r1); err != nil {
		t.Errorf("r1: %v", err)
	}
	// A reconnect (revocation, then a new token) does not resubscribe r2.
	srv.gw.Revoke("alice")
	waitUntil(t, "a second handshake after the revocation", func() bool { return srv.ws.Load() >= 2 })
	waitState(t, conn, client.StateOpen)
	create(t, c.HTTP(), "a", "r1", "one")
	create(t, c.HTTP(), "b", "r2", "two")
	rec1.waitFor(t, "a", heard(client.Created, "a"))
	// An absence has no event to wait for: r2's event, if it were still
	// subscribed, would have come with r1's; give it a moment more.
	time.Sleep(100 * time.Millisecond)
	if got := rec2.get(); len(got) != 0 {
		t.Errorf("r2 heard %v after it was dropped", describe(got))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 1 || !strings.HasPrefix(errs[0], r2+": ") {
		t.Errorf("OnError heard %q, want one error of %s", errs, r2)
	}
	if srv.ws.Load() != 2 {
		t.Errorf("%d handshakes, want 2", srv.ws.Load())
	}
}

func waitErr(t *testing.T, get func() error) error {
	t.Helper()
	var err error
	waitUntil(t, "an error", func() bool { err = get(); return err != nil })
	return err
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in time", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTooManyConnsBacksOff: 4429 (here: more connections than the user
// may have) is retried with a growing backoff, not at once.
func TestTooManyConnsBacksOff(t *testing.T) {
	is := newIssuer(time.Minute)
	srv := startAuthServer(t, is, ssotws.Limits{MaxConnsPerUser: 1})
	dialWith(t, srv.WSURL(), &client.ConnOptions{TokenSource: is.source("alice"), Backoff: fast})
	second := client.NewConn(srv.WSURL(), &client.ConnOptions{TokenSource: is.source("alice"),
		Backoff: client.Backoff{Base: 100 * time.Millisecond, Max: time.Second}})
	t.Cleanup(func() { second.Close() })
	second.Connect()
	time.Sleep(700 * time.Millisecond)
	// Waits of 50-100, 100-200, 200-400 ms...: at most 4 attempts in 700 ms.
	if n := srv.ws.Load() - 1; n < 2 || n > 4 {
		t.Errorf("%d attempts of the second connection in 700 ms, want 2 to 4", n)
	}
	if err := second.LastError(); closeCode(err) != ssotws.CloseTooSlow {
		t.Errorf("last error %v, want close 4429", err)
	}
	if s := second.State(); s != client.StateReconnecting {
		t.Errorf("state %v, want reconnecting", s)
	}
}

// TestTokenInterceptor: HTTP calls carry the token; an Unauthenticated
// answer gets one retry with a new token, for the reason the server gave.
func TestTokenInterceptor(t *testing.T) {
	is := newIssuer(time.Minute)
	srv := startServerWith(t, ssotws.NewMemoryStore(), "127.0.0.1:0", nil,
		connect.WithInterceptors(ssotws.NewAuthInterceptor(is, &ssotws.AuthInterceptorOptions{RequireAuth: true})))
	cases := []struct {
		name    string
		first   func() string // the token the source starts with
		fresh   bool          // the source gives a new token when asked again
		reason  client.TokenReason
		wantErr bool
		calls   int // CreateMessage requests
	}{
		{"valid", func() string { return is.issue("alice").Value }, true, client.TokenCurrent, false, 1},
		{"revoked", func() string { return "unknown" }, true, client.TokenRejected, false, 2},
		{"expired", func() string { return is.issueFor("alice", -time.Second).Value }, true, client.TokenExpired, false, 2},
		{"nothing new", func() string { return "unknown" }, false, client.TokenRejected, true, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first := tc.first()
			var reasons []client.TokenReason
			src := func(ctx context.Context) (client.Token, error) {
				r := client.TokenReasonFrom(ctx)
				reasons = append(reasons, r)
				if r == client.TokenCurrent || !tc.fresh {
					return client.Token{Value: first}, nil
				}
				return is.issue("alice"), nil
			}
			api := chatv1connect.NewChatServiceClient(http.DefaultClient, srv.URL(),
				connect.WithInterceptors(client.NewTokenInterceptor(src)))
			c := NewMessageClient(api, nil, nil)
			before := srv.count("CreateMessage")
			id := fmt.Sprintf("m%d", i)
			_, err := c.Create(testCtx(t), &chatv1.Message{Id: id, RoomId: "r1"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Create: %v", err)
			}
			if tc.wantErr && connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Errorf("Create: %v, want Unauthenticated", err)
			}
			if got := srv.count("CreateMessage") - before; got != tc.calls {
				t.Errorf("%d requests, want %d", got, tc.calls)
			}
			if last := reasons[len(reasons)-1]; last != tc.reason {
				t.Errorf("reasons %v, want the last %v", reasons, tc.reason)
			}
			if _, err := NewMessageClient(srv.chatClient(), nil, nil).Get(testCtx(t), id); err == nil {
				t.Errorf("anonymous Get succeeded: RequireAuth is off?")
			}
		})
	}
}

// TestCachedTokens: the cache answers TokenCurrent until the token nears
// its expiry and fetches for every other reason.
func TestCachedTokens(t *testing.T) {
	is := newIssuer(200 * time.Millisecond)
	src := client.CachedTokens(is.source("alice"))
	ctx := testCtx(t)
	a, _ := src(ctx)
	b, _ := src(ctx)
	if a != b || is.count() != 1 {
		t.Errorf("second TokenCurrent fetched again: %v %v", a, b)
	}
	c, _ := src(client.WithTokenReason(ctx, client.TokenRejected))
	if c == b || is.count() != 2 {
		t.Errorf("TokenRejected returned the cached token")
	}
	time.Sleep(110 * time.Millisecond) // within half the lifetime
	d, _ := src(ctx)
	if d == c || is.count() != 3 {
		t.Errorf("a token about to expire was returned from the cache")
	}
	for lifetime, want := range map[time.Duration]time.Duration{
		time.Hour: 30 * time.Second, time.Minute: 6 * time.Second, 5 * time.Second: time.Second,
		300 * time.Millisecond: 150 * time.Millisecond, 0: 0, -time.Second: 0,
	} {
		if got := client.RefreshLead(lifetime); got != want {
			t.Errorf("RefreshLead(%v) = %v, want %v", lifetime, got, want)
		}
	}
}
