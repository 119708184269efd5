package ssotwstest_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	notificationsv1 "github.com/ssot-codegen/ssot-ws/examples/notifications/gen/notifications/v1"
	"github.com/ssot-codegen/ssot-ws/examples/notifications/gen/notifications/v1/notificationsv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/notifications/gen/notifications/v1/notificationsv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/ssot-codegen/ssot-ws/ssotws/ssotwstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// serveChat mounts the chat example's generated service on srv, as a
// user's test does.
func serveChat(srv *ssotwstest.Server) {
	srv.RegisterChannels(chatv1ssotws.RegisterChannels)
	svc := chatv1ssotws.NewChatService(srv.Store, srv.Broker, nil)
	srv.Handle(chatv1ssotws.NewChatServiceHandler(svc, srv.HandlerOptions()...))
}

// messages returns user's hybrid Message client: HTTP signed in as user,
// and a WebSocket dialled as user.
func messages(t *testing.T, srv *ssotwstest.Server, user string) *client.Hybrid[*chatv1.Message] {
	api := chatv1connect.NewChatServiceClient(srv.HTTPClient(user), srv.URL)
	return chatv1ssotws.NewMessageClient(api, srv.Dial(t, user), nil)
}

// changes records what a subscription hears.
type changes struct {
	mu   sync.Mutex
	seen []client.Change[*chatv1.Message]
}

func (c *changes) add(ch client.Change[*chatv1.Message]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, ch)
}

func (c *changes) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, ch := range c.seen {
		out = append(out, ch.Type.String()+" "+ch.Value.GetText())
	}
	return out
}

// liveChat is the scenario of two users: bob watches room r1 through his
// hybrid client, alice posts and edits, bob sees both live, and his cache
// answers a List with alice's message.
func liveChat(t *testing.T, srv *ssotwstest.Server) {
	serveChat(srv)
	ctx := srv.Context(t)
	alice := messages(t, srv, "alice")
	bob := messages(t, srv, "bob")

	room := chatv1ssotws.MessageChannels.Room("r1")
	var heard changes
	unsubscribe := bob.Subscribe(room, heard.add)
	defer unsubscribe()
	require.NoError(t, bob.WebSocket().WaitHydrated(ctx, room))

	posted, err := alice.Create(ctx, &chatv1.Message{RoomId: "r1", Author: "alice", Text: "hello bob"})
	require.NoError(t, err)
	srv.WaitFor(t, func() bool { return len(heard.texts()) == 1 }, "bob hears alice's message")
	assert.Equal(t, []string{"created hello bob"}, heard.texts())

	posted.Text = "hello, bob"
	_, err = alice.Update(ctx, posted, "text")
	require.NoError(t, err)
	srv.WaitFor(t, func() bool { return len(heard.texts()) == 2 }, "bob hears alice's edit")
	assert.Equal(t, []string{"created hello bob", "updated hello, bob"}, heard.texts())

	page, err := bob.List(ctx, client.ListParams{Filters: map[string]string{"room_id": "r1"}})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, "hello, bob", page.Items[0].GetText())
	assert.Equal(t, posted.GetId(), page.Items[0].GetId())
}

// TestTwoUsersLiveChange: one user creates and edits, the other sees the
// changes live through the generated hybrid client.
func TestTwoUsersLiveChange(t *testing.T) {
	liveChat(t, ssotwstest.NewServer(t, nil))
}

// TestOwnerRefusalOverHTTP: on an OWNER model (the notifications
// example's), the owner field is set to the signed-in user, another user
// neither lists, gets nor updates the record, and calls without a valid
// token are refused.
func TestOwnerRefusalOverHTTP(t *testing.T) {
	srv := ssotwstest.NewServer(t, nil)
	srv.RegisterChannels(notificationsv1ssotws.RegisterChannels)
	svc := notificationsv1ssotws.NewNotificationService(srv.Store, srv.Broker, nil)
	srv.Handle(notificationsv1ssotws.NewNotificationServiceHandler(svc, srv.HandlerOptions()...))
	ctx := srv.Context(t)
	bob := notificationsv1connect.NewNotificationServiceClient(srv.HTTPClient("bob"), srv.URL)
	alice := notificationsv1connect.NewNotificationServiceClient(srv.HTTPClient("alice"), srv.URL)

	created, err := bob.CreateNotification(ctx, connect.NewRequest(&notificationsv1.CreateNotificationRequest{
		Notification: &notificationsv1.Notification{Text: "your build passed"},
	}))
	require.NoError(t, err)
	n := created.Msg.GetNotification()
	assert.Equal(t, "bob", n.GetUserId(), "the owner field holds the test user's name")

	list, err := alice.ListNotifications(ctx, connect.NewRequest(&notificationsv1.ListNotificationsRequest{}))
	require.NoError(t, err)
	assert.Empty(t, list.Msg.GetNotifications(), "alice lists none of bob's")

	_, err = alice.GetNotification(ctx, connect.NewRequest(&notificationsv1.GetNotificationRequest{Id: n.GetId()}))
	require.Error(t, err, "alice may not read bob's notification")
	assert.Contains(t, []connect.Code{connect.CodeNotFound, connect.CodePermissionDenied}, connect.CodeOf(err))

	markRead := &notificationsv1.UpdateNotificationRequest{
		Notification: &notificationsv1.Notification{Id: n.GetId(), Read: true},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"read"}},
	}
	_, err = alice.UpdateNotification(ctx, connect.NewRequest(markRead))
	require.Error(t, err, "alice may not mark bob's notification read")
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))

	updated, err := bob.UpdateNotification(ctx, connect.NewRequest(markRead))
	require.NoError(t, err)
	assert.True(t, updated.Msg.GetNotification().GetRead())

	anonymous := notificationsv1connect.NewNotificationServiceClient(srv.HTTPClient(""), srv.URL)
	_, err = anonymous.ListNotifications(ctx, connect.NewRequest(&notificationsv1.ListNotificationsRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "no token")

	forged := connect.NewRequest(&notificationsv1.ListNotificationsRequest{})
	forged.Header().Set("Authorization", "Bearer dev-bob")
	_, err = alice.ListNotifications(ctx, forged)
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "a token the server did not issue")
}

// TestCleanupLeavesNoGoroutines: once a test that served, dialled two
// users and delivered events has ended, the goroutines it started are
// gone. The count is compared within a bounded wait, on this goroutine
// (require.Eventually would count its own), not after a sleep.
func TestCleanupLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("chat", func(t *testing.T) { liveChat(t, ssotwstest.NewServer(t, nil)) })
	require.False(t, t.Failed())
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	now := runtime.NumGoroutine()
wait:
	for now > before {
		select {
		case <-tick.C:
			now = runtime.NumGoroutine()
		case <-deadline:
			break wait
		}
	}
	if now > before {
		var b bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Fatalf("goroutines: %d before the server, %d after its cleanup:\n%s", before, now, b.String())
	}
}

// TestCloseEndsClients: Close shuts the gateway down while a client is
// open (the client leaves StateOpen), and the cleanup after it is a no-op.
func TestCloseEndsClients(t *testing.T) {
	srv := ssotwstest.NewServer(t, nil)
	conn := srv.Dial(t, "alice")
	require.Equal(t, client.StateOpen, conn.State())
	require.Equal(t, 1, srv.Gateway.Conns())
	srv.Close()
	srv.WaitFor(t, func() bool { return conn.State() != client.StateOpen }, "the client sees the server go")
	assert.Equal(t, 0, srv.Gateway.Conns())
	srv.Close()
}

// TestTokens: a name always presents the same token and is its subject;
// an issued identity keeps its claims; an expired one is refused.
func TestTokens(t *testing.T) {
	srv := ssotwstest.NewServer(t, nil)
	ctx := srv.Context(t)
	assert.Equal(t, srv.Token("alice"), srv.Token("alice"))
	assert.NotEqual(t, srv.Token("alice"), srv.Token("bob"))
	assert.Empty(t, srv.Token(""))
	assert.Nil(t, srv.TokenSource(""))

	id, err := srv.Authenticator().Authenticate(ctx, srv.Token("alice"))
	require.NoError(t, err)
	assert.Equal(t, "alice", id.Subject)
	_, err = srv.Authenticator().Authenticate(ctx, "alice")
	require.Error(t, err)

	admin := srv.Issue(&ssotws.Identity{Subject: "carol", Claims: map[string]any{"role": "admin"}})
	id, err = srv.Authenticator().Authenticate(ctx, admin)
	require.NoError(t, err)
	assert.Equal(t, "carol", id.Subject)
	assert.Equal(t, "admin", id.Claims["role"])
	assert.NotEmpty(t, id.TokenID)

	// The interceptor refuses an expired identity; the echo handler sees
	// who called.
	whoami := srv.HandlerOptions()
	path, h := chatv1connect.NewChatServiceHandler(&whoAmI{}, whoami...)
	srv.Handle(path, h)
	expired := srv.Issue(&ssotws.Identity{Subject: "dave", Expires: time.Now().Add(-time.Minute)})
	req := connect.NewRequest(&chatv1.CountMessagesRequest{})
	req.Header().Set("Authorization", "Bearer "+expired)
	chat := chatv1connect.NewChatServiceClient(srv.HTTPClient(""), srv.URL)
	_, err = chat.CountMessages(ctx, req)
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))

	res, err := chatv1connect.NewChatServiceClient(srv.HTTPClient("erin"), srv.URL).
		CountMessages(ctx, connect.NewRequest(&chatv1.CountMessagesRequest{}))
	require.NoError(t, err)
	assert.Equal(t, int64(len("erin")), res.Msg.GetCount())
}

// whoAmI answers CountMessages with the length of the caller's subject.
type whoAmI struct {
	chatv1connect.UnimplementedChatServiceHandler
}

func (whoAmI) CountMessages(ctx context.Context, _ *connect.Request[chatv1.CountMessagesRequest]) (*connect.Response[chatv1.CountMessagesResponse], error) {
	id := ssotws.IdentityFrom(ctx)
	if id == nil {
		return nil, connect.NewError(connect.CodeUnauthenticated, nil)
	}
	return connect.NewResponse(&chatv1.CountMessagesResponse{Count: int64(len(id.Subject))}), nil
}

// TestOwnAuthenticator: with the application's own Authenticator and the
// tokens its users present, the clients sign in through it, in both the
// interceptor and the gateway.
func TestOwnAuthenticator(t *testing.T) {
	devTokens := ssotws.AuthenticatorFunc(func(_ context.Context, token string) (*ssotws.Identity, error) {
		name, ok := strings.CutPrefix(token, "dev-")
		if !ok {
			return nil, fmt.Errorf("not a dev token")
		}
		return &ssotws.Identity{Subject: name}, nil
	})
	srv := ssotwstest.NewServer(t, &ssotwstest.Options{
		Authenticator: devTokens,
		Token:         func(user string) string { return "dev-" + user },
		RequireAuth:   true,
	})
	serveChat(srv)
	assert.Equal(t, "dev-alice", srv.Token("alice"))
	liveChat := messages(t, srv, "alice")
	_, err := liveChat.Create(srv.Context(t), &chatv1.Message{RoomId: "r1", Text: "hi"})
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Gateway.Conns())

	anonymous := chatv1connect.NewChatServiceClient(srv.HTTPClient(""), srv.URL)
	_, err = anonymous.ListRooms(srv.Context(t), connect.NewRequest(&chatv1.ListRoomsRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "RequireAuth reaches the interceptor")
}

// TestUnregisteredChannelHint: a subscription to a model whose channels
// were not registered is logged with what to do about it.
func TestUnregisteredChannelHint(t *testing.T) {
	var logs syncBuffer
	srv := ssotwstest.NewServer(t, &ssotwstest.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	svc := chatv1ssotws.NewChatService(srv.Store, srv.Broker, nil)
	srv.Handle(chatv1ssotws.NewChatServiceHandler(svc, srv.HandlerOptions()...)) // no RegisterChannels
	bob := messages(t, srv, "bob")
	room := chatv1ssotws.MessageChannels.Room("r1")
	defer bob.Subscribe(room, func(client.Change[*chatv1.Message]) {})()
	require.Error(t, bob.WebSocket().WaitHydrated(srv.Context(t), room))
	srv.WaitFor(t, func() bool { return strings.Contains(logs.String(), "RegisterChannels") }, "the hint is logged")
	assert.Contains(t, logs.String(), `user="\"bob\""`)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHelpfulFailures: the helpers fail the test with what went wrong and
// what to check: an anonymous Dial that RequireAuth refuses, a WaitFor
// whose condition stays false, a path taken twice.
func TestHelpfulFailures(t *testing.T) {
	rec := &recorder{TB: t}
	srv := ssotwstest.NewServer(rec, &ssotwstest.Options{RequireAuth: true, Timeout: 200 * time.Millisecond})

	msg := rec.fatal(func() { srv.Dial(rec, "") })
	assert.Contains(t, msg, "as an anonymous user")
	assert.Contains(t, msg, "RequireAuth")

	msg = rec.fatal(func() { srv.WaitFor(rec, func() bool { return false }, "bob sees %d messages", 3) })
	assert.Contains(t, msg, "condition still false after 200ms: bob sees 3 messages")

	msg = rec.fatal(func() { srv.Handle("/ws", http.NotFoundHandler()) })
	assert.Contains(t, msg, `Handle("/ws")`)

	conn := srv.Dial(t, "alice")
	assert.Equal(t, client.StateOpen, conn.State(), "a named user passes RequireAuth")
}

// recorder is a testing.TB whose Fatalf records the message and ends the
// calling goroutine, as testing's does, without failing the real test.
type recorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.msg = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// fatal runs f on a goroutine of its own and returns what it failed with
// ("" if it did not fail).
func (r *recorder) fatal(f func()) string {
	r.mu.Lock()
	r.msg = ""
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msg
}
