package client_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"google.golang.org/protobuf/proto"
)

var fast = client.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialConn(t *testing.T, url string) *client.Conn {
	t.Helper()
	conn, err := client.Dial(testCtx(t), url, &client.ConnOptions{Backoff: fast})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// recorder collects the changes a subscription hears.
type recorder struct {
	mu      sync.Mutex
	changes []client.Change[*chatv1.Message]
	signal  chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) fn(ch client.Change[*chatv1.Message]) {
	r.mu.Lock()
	r.changes = append(r.changes, ch)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) get() []client.Change[*chatv1.Message] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes)
}

// waitFor waits until cond holds for the changes heard so far.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]client.Change[*chatv1.Message]) bool) {
	t.Helper()
	ctx := testCtx(t)
	for !cond(r.get()) {
		select {
		case <-r.signal:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; heard %v", what, describe(r.get()))
		}
	}
}

func describe(chs []client.Change[*chatv1.Message]) []string {
	var out []string
	for _, c := range chs {
		out = append(out, c.Type.String()+" "+c.Key+" v"+itoa(c.Version)+" "+c.Value.GetText())
	}
	return out
}

func itoa(n int64) string { return ssotws.FormatKey(n) }

func heard(typ client.ChangeType, key string) func([]client.Change[*chatv1.Message]) bool {
	return func(chs []client.Change[*chatv1.Message]) bool {
		for _, c := range chs {
			if c.Type == typ && c.Key == key {
				return true
			}
		}
		return false
	}
}

func create(t *testing.T, dc client.DataClient[*chatv1.Message], id, room, text string) *chatv1.Message {
	t.Helper()
	m, err := dc.Create(testCtx(t), &chatv1.Message{Id: id, RoomId: room, Text: text})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return m
}

func keys(items []*chatv1.Message) []string {
	out := make([]string, len(items))
	for i, m := range items {
		out[i] = m.GetId() + "@" + itoa(m.GetVersion()) + ":" + m.GetText()
	}
	slices.Sort(out)
	return out
}

func TestHTTPWhenWebSocketUnavailable(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	for _, conn := range []*client.Conn{nil, client.NewConn("", nil)} {
		c := NewMessageClient(srv.chatClient(), conn, nil)
		if got := c.State(); got != client.StateUnavailable {
			t.Errorf("State() = %v, want unavailable", got)
		}
		unsubscribe := c.Subscribe("Message?room_id=r1", func(client.Change[*chatv1.Message]) { t.Error("callback on an unavailable connection") })
		unsubscribe()
		lists, gets := srv.count("ListMessages"), srv.count("GetMessage")
		create(t, c, "", "r1", "hello")
		page, err := c.List(testCtx(t), client.ListParams{Filters: map[string]string{"room_id": "r1"}})
		if err != nil || len(page.Items) == 0 {
			t.Fatalf("List = %v, %v", page, err)
		}
		if _, err := c.Get(testCtx(t), page.Items[0].GetId()); err != nil {
			t.Fatal(err)
		}
		_, err = c.Get(testCtx(t), "missing")
		if !errors.Is(err, client.ErrNotFound) || connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("Get(missing) = %v, want ErrNotFound with CodeNotFound", err)
		}
		if srv.count("ListMessages") != lists+1 || srv.count("GetMessage") != gets+2 {
			t.Errorf("List and Get did not go over HTTP: %d lists, %d gets", srv.count("ListMessages")-lists, srv.count("GetMessage")-gets)
		}
	}
	if srv.ws.Load() != 0 {
		t.Errorf("%d WebSocket handshakes, want none", srv.ws.Load())
	}
}

func TestCacheWhenSubscribed(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	writer := NewMessageClient(srv.chatClient(), nil, nil)
	m1 := create(t, writer, "m1", "r1", "one")
	create(t, writer, "m2", "r2", "two")

	conn := dialConn(t, srv.WSURL())
	c := NewMessageClient(srv.chatClient(), conn, &client.Options{Backoff: fast})
	defer c.Subscribe("Message?room_id=r1", func(client.Change[*chatv1.Message]) {})()
	if err := c.WebSocket().WaitHydrated(testCtx(t), "Message?room_id=r1"); err != nil {
		t.Fatal(err)
	}
	lists, gets := srv.count("ListMessages"), srv.count("GetMessage")

	page, err := c.List(testCtx(t), client.ListParams{Filters: map[string]string{"room_id": "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || !proto.Equal(page.Items[0], m1) {
		t.Errorf("List(r1) from the cache = %v, want [%v]", page.Items, m1)
	}
	if n := srv.count("ListMessages") - lists; n != 0 {
		t.Errorf("List of a hydrated scope made %d HTTP requests, want 0", n)
	}
	// Not the subscribed channel, a page token, or a page too small: HTTP.
	for _, p := range []client.ListParams{
		{},
		{Filters: map[string]string{"room_id": "r2"}},
		{Filters: map[string]string{"room_id": "r1"}, PageToken: "MA"},
	} {
		before := srv.count("ListMessages")
		_, _ = c.List(testCtx(t), p)
		if srv.count("ListMessages") != before+1 {
			t.Errorf("List(%+v) did not go over HTTP", p)
		}
	}
	// A filter beyond the scope is not answered from the cache (and this
	// request has no such field).
	if _, err := c.List(testCtx(t), client.ListParams{Filters: map[string]string{"room_id": "r1", "author": "x"}}); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("List with an unknown filter = %v, want InvalidArgument from the HTTP adapter", err)
	}
	// A scope channel cannot answer Get.
	if _, err := c.Get(testCtx(t), "m1"); err != nil || srv.count("GetMessage") != gets+1 {
		t.Errorf("Get with only a scope subscribed: err %v, %d HTTP gets, want 1", err, srv.count("GetMessage")-gets)
	}
	// The model channel can, including "not found".
	defer c.Subscribe("Message", func(client.Change[*chatv1.Message]) {})()
	if err := c.WebSocket().WaitHydrated(testCtx(t), "Message"); err != nil {
		t.Fatal(err)
	}
	gets = srv.count("GetMessage")
	if got, err := c.Get(testCtx(t), "m2"); err != nil || got.GetText() != "two" {
		t.Errorf("Get(m2) = %v, %v", got, err)
	}
	if _, err := c.Get(testCtx(t), "nope"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Get(nope) = %v, want ErrNotFound", err)
	}
	if n := srv.count("GetMessage") - gets; n != 0 {
		t.Errorf("Get with the model channel hydrated made %d HTTP requests, want 0", n)
	}
	// One connection carries both subscriptions.
	if n := srv.ws.Load(); n != 1 {
		t.Errorf("%d WebSocket connections, want 1", n)
	}
}

func TestMutationsAlwaysHTTP(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	conn := dialConn(t, srv.WSURL())
	c := NewMessageClient(srv.chatClient(), conn, &client.Options{Backoff: fast})
	rec := newRecorder()
	defer c.Subscribe("Message?room_id=r1", rec.fn)()
	if err := c.WebSocket().WaitHydrated(testCtx(t), "Message?room_id=r1"); err != nil {
		t.Fatal(err)
	}
	r1 := client.ListParams{Filters: map[string]string{"room_id": "r1"}}
	list := func() []string {
		page, err := c.List(testCtx(t), r1)
		if err != nil {
			t.Fatal(err)
		}
		return keys(page.Items)
	}

	m := create(t, c, "m1", "r1", "hello")
	// Read your writes: the response is in the cache at once.
	if got, want := list(), []string{"m1@1:hello"}; !slices.Equal(got, want) {
		t.Errorf("after Create, List = %v, want %v", got, want)
	}
	m.Text = "edited"
	if _, err := c.Update(testCtx(t), m, "text"); err != nil {
		t.Fatal(err)
	}
	if got, want := list(), []string{"m1@2:edited"}; !slices.Equal(got, want) {
		t.Errorf("after Update, List = %v, want %v", got, want)
	}
	// Moving the record out of the scope removes it from the scope's cache.
	if _, err := c.Update(testCtx(t), &chatv1.Message{Id: "m1", RoomId: "r2"}, "room_id"); err != nil {
		t.Fatal(err)
	}
	if got := list(); len(got) != 0 {
		t.Errorf("after moving m1 to r2, List(r1) = %v, want []", got)
	}
	create(t, c, "m2", "r1", "two")
	ok, err := c.Delete(testCtx(t), "m2")
	if !ok || err != nil {
		t.Fatalf("Delete(m2) = %v, %v", ok, err)
	}
	if got := list(); len(got) != 0 {
		t.Errorf("after Delete, List(r1) = %v, want []", got)
	}
	ok, err = c.Delete(testCtx(t), "m2")
	if ok || err != nil {
		t.Errorf("second Delete(m2) = %v, %v, want false, nil", ok, err)
	}
	for proc, want := range map[string]int{"CreateMessage": 2, "UpdateMessage": 2, "DeleteMessage": 2} {
		if got := srv.count(proc); got != want {
			t.Errorf("%s: %d HTTP requests, want %d", proc, got, want)
		}
	}
	// The events echo the request ids: the client's own changes were
	// applied once, from the responses, and the events changed nothing.
	rec.waitFor(t, "m2 deleted", heard(client.Deleted, "m2"))
	var got []string
	for _, ch := range rec.get() {
		if ch.RequestID == "" {
			t.Errorf("change %v has no request id", ch)
		}
		got = append(got, ch.Type.String()+" "+ch.Key)
	}
	want := []string{"created m1", "updated m1", "deleted m1", "created m2", "deleted m2"}
	if !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
}

// TestHydrationOrdering writes while the snapshot is fetched: a write
// before the snapshot is read must come from the snapshot, a write after it
// from the buffered events, and nothing twice.
func TestHydrationOrdering(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	writer := NewMessageClient(srv.chatClient(), nil, nil)
	create(t, writer, "before", "r1", "0")

	api := MessageHTTP(srv.chatClient())
	list := api.ListFunc
	var once sync.Once
	api.ListFunc = func(ctx context.Context, p client.ListParams, h http.Header) ([]*chatv1.Message, string, http.Header, error) {
		var items []*chatv1.Message
		var next string
		var hdr http.Header
		var err error
		once.Do(func() {
			// Subscribed (the fetch starts after the Ack): this write's
			// event is before the snapshot's position.
			create(t, writer, "during", "r1", "1")
			items, next, hdr, err = list(ctx, p, h)
			// These are after it: buffered, then applied.
			create(t, writer, "after", "r1", "2")
			_, uerr := writer.Update(ctx, &chatv1.Message{Id: "before", Text: "updated"}, "text")
			if uerr != nil {
				t.Error(uerr)
			}
		})
		if items == nil && err == nil && next == "" && hdr == nil {
			return list(ctx, p, h)
		}
		return items, next, hdr, err
	}
	conn := dialConn(t, srv.WSURL())
	c := client.NewHybrid(MessageModel, api, conn, &client.Options{Backoff: fast})
	rec := newRecorder()
	defer c.Subscribe("Message?room_id=r1", rec.fn)()
	if err := c.WebSocket().WaitHydrated(testCtx(t), "Message?room_id=r1"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "the update of before", heard(client.Updated, "before"))
	page, err := c.List(testCtx(t), client.ListParams{Filters: map[string]string{"room_id": "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(page.Items), []string{"after@1:2", "before@2:updated", "during@1:1"}; !slices.Equal(got, want) {
		t.Errorf("cache = %v, want %v", got, want)
	}
	// Callbacks hear the changes after the snapshot only, once each.
	if got, want := describe(rec.get()), []string{"created after v1 2", "updated before v2 updated"}; !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
}

// TestResumeAfterDrop cuts the connection, writes while the client is
// away, and checks that the client resumes from its position (the gateway
// replays; no refetch) and that its state went through reconnecting.
func TestResumeAfterDrop(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	px := newProxy(t, srv.addr)
	writer := NewMessageClient(srv.chatClient(), nil, nil)
	create(t, writer, "m1", "r1", "one")

	conn := dialConn(t, "ws://"+px.addr()+"/ws")
	c := NewMessageClient(srv.chatClient(), conn, &client.Options{Backoff: fast})
	rec := newRecorder()
	defer c.Subscribe("Message?room_id=r1", rec.fn)()
	ws := c.WebSocket()
	if err := ws.WaitHydrated(testCtx(t), "Message?room_id=r1"); err != nil {
		t.Fatal(err)
	}
	lists := srv.count("ListMessages")

	state, changed := conn.Watch()
	if state != client.StateOpen {
		t.Fatalf("state %v, want open", state)
	}
	if px.cut() != 1 {
		t.Fatal("the proxy carried no connection")
	}
	<-changed
	if s := conn.State(); s != client.StateReconnecting && s != client.StateOpen {
		t.Errorf("state after a cut = %v, want reconnecting", s)
	}
	create(t, writer, "m2", "r1", "two")
	if _, err := writer.Delete(testCtx(t), "m1"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "m1 deleted", heard(client.Deleted, "m1"))
	if err := ws.WaitHydrated(testCtx(t), "Message?room_id=r1"); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(rec.get()), []string{"created m2 v1 two", "deleted m1 v2 one"}; !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
	if n := srv.count("ListMessages") - lists; n != 0 {
		t.Errorf("the resume refetched %d times, want a replay", n)
	}
	if n := srv.ws.Load(); n != 2 {
		t.Errorf("%d handshakes, want 2", n)
	}
}

// TestResetAfterRestart restarts the server with a new broker: the client
// resumes, gets Reset (new epoch), refetches and hears the difference.
func TestResetAfterRestart(t *testing.T) {
	store := ssotws.NewMemoryStore()
	srv := startServer(t, store, "127.0.0.1:0")
	writer := NewMessageClient(srv.chatClient(), nil, &client.Options{Backoff: fast})
	create(t, writer, "m1", "r1", "one")
	create(t, writer, "m2", "r1", "two")

	conn := dialConn(t, srv.WSURL())
	c := NewMessageClient(srv.chatClient(), conn, &client.Options{Backoff: fast})
	rec := newRecorder()
	defer c.Subscribe("Message?room_id=r1", rec.fn)()
	if err := c.WebSocket().WaitHydrated(testCtx(t), "Message?room_id=r1"); err != nil {
		t.Fatal(err)
	}
	epoch := c.WebSocket().Position("Message?room_id=r1").GetEpoch()
	lists := srv.count("ListMessages")

	srv.stop()
	// Written while the server is down: straight into the store, no event.
	m2 := &chatv1.Message{Id: "m2", RoomId: "r1", Text: "changed offline"}
	svc := newChatService(store, nil)
	if _, err := svc.Messages.Update(context.Background(), http.Header{}, m2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Messages.Delete(context.Background(), http.Header{}, "m1"); err != nil {
		t.Fatal(err)
	}
	srv.start(srv.addr)

	rec.waitFor(t, "the refetch", heard(client.Deleted, "m1"))
	rec.waitFor(t, "the refetch", heard(client.Updated, "m2"))
	if err := c.WebSocket().WaitHydrated(testCtx(t), "Message?room_id=r1"); err != nil {
		t.Fatal(err)
	}
	if srv.count("ListMessages") == lists {
		t.Error("no refetch after the restart")
	}
	if e := c.WebSocket().Position("Message?room_id=r1").GetEpoch(); e == epoch {
		t.Errorf("epoch %d did not change", e)
	}
	// Live again on the new server.
	create(t, writer, "m3", "r1", "three")
	rec.waitFor(t, "m3", heard(client.Created, "m3"))
	page, err := c.List(testCtx(t), client.ListParams{Filters: map[string]string{"room_id": "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(page.Items), []string{"m2@2:changed offline", "m3@1:three"}; !slices.Equal(got, want) {
		t.Errorf("cache = %v, want %v", got, want)
	}
}

// TestIdempotentRetry loses the response of a Create that the server
// applied: the client retries with the same Idempotency-Key and the store
// holds one record.
func TestIdempotentRetry(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	api := MessageHTTP(srv.chatClient())
	var keys []string
	create := api.CreateFunc
	api.CreateFunc = func(ctx context.Context, item *chatv1.Message, h http.Header) (*chatv1.Message, error) {
		keys = append(keys, h.Get(ssotws.HeaderIdempotencyKey))
		out, err := create(ctx, item, h)
		if len(keys) < 3 && err == nil {
			return nil, connect.NewError(connect.CodeUnavailable, errors.New("response lost"))
		}
		return out, err
	}
	c := client.NewHybrid(MessageModel, api, nil, &client.Options{Backoff: fast})
	m, err := c.Create(testCtx(t), &chatv1.Message{RoomId: "r1", Text: "once"})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("Idempotency-Keys of the attempts = %q, want 3 equal keys", keys)
	}
	page, err := c.List(testCtx(t), client.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].GetId() != m.GetId() || m.GetVersion() != 1 {
		t.Errorf("store holds %v, want exactly %v at version 1", page.Items, m)
	}
	// A second mutation gets a fresh key; a non-retryable error is not retried.
	keys = nil
	_, err = c.Create(testCtx(t), &chatv1.Message{Id: m.GetId(), RoomId: "r1"})
	if connect.CodeOf(err) != connect.CodeAlreadyExists || len(keys) != 1 {
		t.Errorf("Create of an existing key: %v after %d attempts, want AlreadyExists after 1", err, len(keys))
	}
}

func TestBackoff(t *testing.T) {
	b := client.Backoff{}
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 16 * time.Second} {
		for range 20 {
			if d := b.Delay(n); d < want/2 || d > want {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
