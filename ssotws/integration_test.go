package ssotws_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

var (
	r1 = ssotws.ScopeChannel("Message", "room_id", "r1")
	r2 = ssotws.ScopeChannel("Message", "room_id", "r2")
)

func TestScopeSubscriberReceivesChanges(t *testing.T) {
	e := newEnv(t, envConfig{})
	sub1, sub2, all := e.dial(nil), e.dial(nil), e.dial(nil)
	start := sub1.ack(r1, nil)
	if start.GetEpoch() != e.broker.Epoch() || start.GetOffset() != 0 {
		t.Fatalf("Ack position = %v", start)
	}
	sub2.ack(r2, nil)
	all.ack("Message", nil)

	ctx := context.Background()
	created := e.create("r1", "hello")
	updated, err := e.chat.UpdateMessage(ctx, connect.NewRequest(&chatv1.UpdateMessageRequest{
		Message:    &chatv1.Message{Id: created.GetId(), Text: "hello, world"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := e.messages.Delete(ctx, nil, created.GetId())
	if err != nil {
		t.Fatal(err)
	}

	got := sub1.events(3)
	want := []struct {
		typ wsv1.EventType
		msg *chatv1.Message
	}{
		{wsv1.EventType_EVENT_TYPE_CREATED, created},
		{wsv1.EventType_EVENT_TYPE_UPDATED, updated.Msg},
		{wsv1.EventType_EVENT_TYPE_DELETED, deleted},
	}
	for i, ev := range got {
		w := want[i]
		data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(w.msg)
		switch {
		case ev.GetChannel() != r1:
			t.Errorf("event %d: channel %q", i, ev.GetChannel())
		case ev.GetType() != w.typ:
			t.Errorf("event %d: type %v, want %v", i, ev.GetType(), w.typ)
		case ev.GetKey() != created.GetId():
			t.Errorf("event %d: key %q, want %q", i, ev.GetKey(), created.GetId())
		case ev.GetVersion() != int64(i+1) || w.msg.GetVersion() != int64(i+1):
			t.Errorf("event %d: version %d (model %d), want %d", i, ev.GetVersion(), w.msg.GetVersion(), i+1)
		case !bytes.Equal(ev.GetData(), data):
			t.Errorf("event %d: data %x, want %x", i, ev.GetData(), data)
		case ev.GetPosition().GetEpoch() != e.broker.Epoch() || ev.GetPosition().GetOffset() != uint64(i+1):
			t.Errorf("event %d: position %v, want offset %d", i, ev.GetPosition(), i+1)
		}
	}
	if n := len(all.events(3)); n != 3 {
		t.Errorf("model channel got %d events", n)
	}
	sub2.quiet()
	sub1.quiet()
}

func TestResume(t *testing.T) {
	e := newEnv(t, envConfig{broker: &ssotws.MemoryBrokerOptions{HistorySize: 4}})
	c := e.dial(nil)
	c.ack(r1, nil)
	e.create("r1", "one")
	e.create("r1", "two")
	seen := c.events(2)
	last := seen[1].GetPosition()
	_ = c.ws.Close(websocket.StatusNormalClosure, "")

	// Missed while disconnected.
	var missed []*chatv1.Message
	for i := range 3 {
		missed = append(missed, e.create("r1", fmt.Sprint("missed ", i)))
	}
	e.create("r2", "elsewhere")

	c = e.dial(nil)
	id := c.subscribe(r1, last)
	replay := c.events(3)
	for i, ev := range replay {
		if ev.GetKey() != missed[i].GetId() || ev.GetPosition().GetOffset() != last.GetOffset()+uint64(i+1) {
			t.Errorf("replayed %d: key %q offset %d; want %q offset %d", i, ev.GetKey(), ev.GetPosition().GetOffset(), missed[i].GetId(), last.GetOffset()+uint64(i+1))
		}
	}
	ack := c.next().GetAck()
	if ack.GetId() != id || ack.GetPosition().GetOffset() != 5 {
		t.Fatalf("after the replay: Ack %v, want offset 5", ack)
	}
	live := e.create("r1", "live")
	if ev := c.events(1)[0]; ev.GetKey() != live.GetId() || ev.GetPosition().GetOffset() != 6 {
		t.Fatalf("live event after resume: %v", ev)
	}
	c.quiet()

	// Up to date: nothing to replay.
	c2 := e.dial(nil)
	if pos := c2.ack(r1, &wsv1.Position{Epoch: e.broker.Epoch(), Offset: 6}); pos.GetOffset() != 6 {
		t.Fatalf("Ack position = %v", pos)
	}

	// Older than the history (4 events kept of 6), or another epoch: Reset.
	cur := uint64(6)
	for _, since := range []*wsv1.Position{
		{Epoch: e.broker.Epoch(), Offset: 1},
		{Epoch: e.broker.Epoch() + 1, Offset: 5},
		{Epoch: e.broker.Epoch(), Offset: 99},
	} {
		c := e.dial(nil)
		id := c.subscribe(r1, since)
		reset := c.next().GetReset_()
		if reset == nil || reset.GetId() != id || reset.GetChannel() != r1 ||
			reset.GetPosition().GetOffset() != cur || reset.GetPosition().GetEpoch() != e.broker.Epoch() {
			t.Fatalf("since %v: got %v, want Reset at %d", since, reset, cur)
		}
		// The subscription is live after a Reset.
		next := e.create("r1", "after reset")
		cur++
		if ev := c.events(1)[0]; ev.GetKey() != next.GetId() || ev.GetPosition().GetOffset() != cur {
			t.Fatalf("after Reset: %v", ev)
		}
	}
}

// TestResumeUnderLoad checks the ordering guarantee while events are
// published during the subscribe: replay, then live events, offsets
// strictly increasing, no duplicates, no gaps.
func TestResumeUnderLoad(t *testing.T) {
	e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{Limits: ssotws.Limits{SendQueue: 4096}}})
	ctx := context.Background()
	const total = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range total {
			if _, err := e.messages.Create(ctx, nil, &chatv1.Message{RoomId: "r1", Text: strconv.Itoa(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 3 {
		c := e.dial(nil)
		since := &wsv1.Position{Epoch: e.broker.Epoch(), Offset: 0}
		c.subscribe(r1, since)
		want, acked := uint64(1), false
		for want <= total || !acked {
			f := c.next()
			switch {
			case f.GetAck() != nil:
				if acked || f.GetAck().GetPosition().GetOffset() != want-1 {
					t.Fatalf("Ack %v after offset %d", f.GetAck(), want-1)
				}
				acked = true
			case f.GetEvents() != nil:
				for _, ev := range f.GetEvents().GetEvents() {
					if ev.GetPosition().GetOffset() != want {
						t.Fatalf("offset %d, want %d", ev.GetPosition().GetOffset(), want)
					}
					want++
				}
			default:
				t.Fatalf("unexpected %v", f)
			}
		}
	}
	wg.Wait()
}

func TestBadInputClosesOnlyItsConnection(t *testing.T) {
	e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{Limits: ssotws.Limits{MaxMessageBytes: 1024}}})
	watcher := e.dial(nil)
	watcher.ack(r1, nil)
	stillReceiving := func() {
		t.Helper()
		m := e.create("r1", "still here")
		if ev := watcher.events(1)[0]; ev.GetKey() != m.GetId() {
			t.Fatalf("watcher got %v", ev)
		}
	}

	// Unknown channels are errors; the connection lives on.
	c := e.dial(nil)
	for _, ch := range []string{"Nope", "Nope/1", "Message?author=x", "Message?room_id", "", "Message/%zz"} {
		id := c.subscribe(ch, nil)
		f := c.next().GetError()
		if f.GetId() != id || f.GetCode() != wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL {
			t.Errorf("Subscribe %q: got %v, want UNKNOWN_CHANNEL", ch, f)
		}
	}
	c.ack(ssotws.ItemChannel("Message", "some id"), nil)
	stillReceiving()

	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		data []byte
		code websocket.StatusCode
	}{
		{"text", websocket.MessageText, []byte("hello"), ssotws.CloseBadFrame},
		{"garbage", websocket.MessageBinary, []byte{0xff, 0xff, 0xff}, ssotws.CloseBadFrame},
		{"oversize", websocket.MessageBinary, make([]byte, 4096), ssotws.CloseTooLarge},
	} {
		c := e.dial(nil)
		c.ack(r1, nil)
		c.sendRaw(tc.typ, tc.data)
		if code := c.closed(); code != tc.code {
			t.Errorf("%s frame: close code %d, want %d", tc.name, code, tc.code)
		}
		stillReceiving()
	}
}

func TestSubscribeRequests(t *testing.T) {
	e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{Limits: ssotws.Limits{MaxSubscriptions: 2}}})
	c := e.dial(nil)
	c.ack(r1, nil)
	id := c.subscribe(r1, nil)
	if f := c.next().GetError(); f.GetId() != id || f.GetCode() != wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST {
		t.Fatalf("second Subscribe of a channel: %v", f)
	}
	c.ack(r2, nil)
	id = c.subscribe("Message", nil)
	if f := c.next().GetError(); f.GetId() != id || f.GetCode() != wsv1.ErrorCode_ERROR_CODE_TOO_MANY_SUBSCRIPTIONS {
		t.Fatalf("third Subscribe: %v", f)
	}
	// Unsubscribe stops the events and is acknowledged.
	c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Unsubscribe{Unsubscribe: &wsv1.Unsubscribe{Id: 77, Channel: r1}}})
	if a := c.next().GetAck(); a.GetId() != 77 {
		t.Fatalf("Unsubscribe: %v", a)
	}
	e.create("r1", "unheard")
	c.quiet()
	m := e.create("r2", "heard")
	if ev := c.events(1)[0]; ev.GetKey() != m.GetId() {
		t.Fatalf("got %v", ev)
	}
	// An empty frame is a bad request, not a reason to close.
	c.send(&wsv1.ClientFrame{})
	if f := c.next().GetError(); f.GetCode() != wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST {
		t.Fatalf("empty frame: %v", f)
	}
	c.quiet()
}

func TestSlowConsumer(t *testing.T) {
	e := newEnv(t, envConfig{
		gateway: &ssotws.GatewayOptions{Limits: ssotws.Limits{SendQueue: 8, MaxBatchBytes: 256 << 10}},
		// Texts of 64 KiB, over chat.proto's 4096-byte rule: large events
		// fill the queue fast, and this test is not about the rules.
		resource: &ssotws.ResourceOptions{NoValidation: true},
	})
	fast := e.dial(nil)
	fast.ack(r1, nil)
	slow := e.dialNoRead(nil)
	slow.subscribe(r1, nil) // its Ack waits, unread, with everything else

	ctx := context.Background()
	text := string(bytes.Repeat([]byte("x"), 64<<10))
	tooSlow := func() bool {
		for _, c := range e.closeCodes() {
			if c == ssotws.CloseTooSlow {
				return true
			}
		}
		return false
	}
	published := 0
	deadline := time.Now().Add(2 * wait)
	for !tooSlow() {
		if time.Now().After(deadline) {
			t.Fatalf("the slow consumer was not closed after %d events", published)
		}
		m, err := e.messages.Create(ctx, nil, &chatv1.Message{RoomId: "r1", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		published++
		// The fast consumer keeps up with every event, in order.
		if ev := fast.events(1)[0]; ev.GetKey() != m.GetId() || ev.GetPosition().GetOffset() != uint64(published) {
			t.Fatalf("fast consumer got offset %d, want %d", ev.GetPosition().GetOffset(), published)
		}
	}
	// Now the slow one reads what the network held, then its close code.
	slow.startReading()
	if code := slow.closed(); code != ssotws.CloseTooSlow {
		t.Fatalf("slow consumer closed with %d, want %d", code, ssotws.CloseTooSlow)
	}
	m := e.create("r1", "after")
	if ev := fast.events(1)[0]; ev.GetKey() != m.GetId() {
		t.Fatalf("fast consumer got %v", ev)
	}
	t.Logf("slow consumer closed after %d events of 64 KiB", published)
}

// TestPositionHeaderReadBeforeStore: every event at or before the position
// a List returns is already in its snapshot, while writers run.
func TestPositionHeaderReadBeforeStore(t *testing.T) {
	e := newEnv(t, envConfig{broker: &ssotws.MemoryBrokerOptions{HistorySize: 10_000}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 400; i++ {
				if _, err := e.messages.Create(ctx, nil, &chatv1.Message{RoomId: "r1", Text: fmt.Sprint(w, i)}); err != nil && ctx.Err() == nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 30 {
		res, err := e.chat.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: "r1", PageSize: 1000}))
		if err != nil {
			t.Fatal(err)
		}
		if ch := res.Header().Get(ssotws.HeaderChannel); ch != r1 {
			t.Fatalf("%s = %q, want %q", ssotws.HeaderChannel, ch, r1)
		}
		pos, err := ssotws.ParsePosition(res.Header().Get(ssotws.HeaderPosition))
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, m := range res.Msg.GetMessages() {
			have[m.GetId()] = true
		}
		events, err := e.broker.History(ctx, r1, &wsv1.Position{Epoch: pos.GetEpoch()})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			if ev.GetPosition().GetOffset() <= pos.GetOffset() && !have[ev.GetKey()] {
				t.Fatalf("event at offset %d (key %q) is at or before the header's %d but not in the snapshot",
					ev.GetPosition().GetOffset(), ev.GetKey(), pos.GetOffset())
			}
		}
	}
	cancel()
	wg.Wait()
}

func TestAuthenticationAndOwnerFiltering(t *testing.T) {
	auth := ssotws.AuthenticatorFunc(func(ctx context.Context, token string) (*ssotws.Identity, error) {
		if user, ok := strings.CutPrefix(token, "token-"); ok {
			return &ssotws.Identity{Subject: user}, nil
		}
		return nil, fmt.Errorf("bad token")
	})
	e := newEnv(t, envConfig{
		model:   ssotws.ModelConfig{Owner: "author", Read: wsv1.Access_OWNER, Write: wsv1.Access_AUTHENTICATED},
		gateway: &ssotws.GatewayOptions{Authenticator: auth},
	})
	dialAs := func(token string) *client {
		return e.dial(&websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocol(token)}})
	}

	anon := e.dial(nil)
	id := anon.subscribe(r1, nil)
	if f := anon.next().GetError(); f.GetId() != id || f.GetCode() != wsv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED {
		t.Fatalf("anonymous Subscribe: %v", f)
	}
	if anon.ws.Subprotocol() != ssotws.Subprotocol {
		t.Fatalf("selected subprotocol %q", anon.ws.Subprotocol())
	}
	// An Auth frame authenticates the connection.
	anon.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Auth{Auth: &wsv1.Auth{Token: "token-bob"}}})
	bob := anon
	bob.ack(r1, nil)
	alice := dialAs("token-alice")
	alice.ack(r1, nil)
	aliceItem := dialAs("token-alice")

	asUser := func(user string) context.Context {
		return ssotws.WithIdentity(context.Background(), &ssotws.Identity{Subject: user})
	}
	m, err := e.messages.Create(asUser("alice"), nil, &chatv1.Message{RoomId: "r1", Text: "alice's"})
	if err != nil {
		t.Fatal(err)
	}
	aliceItem.ack(ssotws.ItemChannel("Message", m.GetId()), nil)
	if ev := alice.events(1)[0]; ev.GetKey() != m.GetId() {
		t.Fatalf("alice got %v", ev)
	}
	bob.quiet() // not bob's record

	// Owner filtering applies on item channels too.
	bobItem := dialAs("token-bob")
	bobItem.ack(ssotws.ItemChannel("Message", m.GetId()), nil)
	if _, err := e.messages.Delete(asUser("alice"), nil, m.GetId()); err != nil {
		t.Fatal(err)
	}
	if ev := aliceItem.events(1)[0]; ev.GetType() != wsv1.EventType_EVENT_TYPE_DELETED {
		t.Fatalf("alice's item channel got %v", ev)
	}
	bobItem.quiet()

	// A rejected token closes with 4401, in the header or in an Auth frame.
	if code := dialAs("nonsense").closed(); code != ssotws.CloseUnauthenticated {
		t.Fatalf("bad token in the subprotocol: close %d", code)
	}
	c := e.dial(nil)
	c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Auth{Auth: &wsv1.Auth{Token: "nonsense"}}})
	if code := c.closed(); code != ssotws.CloseUnauthenticated {
		t.Fatalf("bad token in an Auth frame: close %d", code)
	}
}

func TestHooksFailAlone(t *testing.T) {
	e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{
		Logger: slog.New(slog.DiscardHandler),
		Authorize: func(ctx context.Context, id *ssotws.Identity, m *ssotws.Model, ch ssotws.ChannelName) error {
			switch ch.Value {
			case "secret":
				return ssotws.ErrForbidden
			case "boom":
				panic("authorize exploded")
			}
			return nil
		},
		Filter: func(ctx context.Context, id *ssotws.Identity, m *ssotws.Model, ev *wsv1.Event) bool {
			var msg chatv1.Message
			if err := proto.Unmarshal(ev.GetData(), &msg); err != nil {
				return false
			}
			switch msg.GetText() {
			case "panic":
				panic("filter exploded")
			case "hidden":
				return false
			}
			return true
		},
	}})
	c := e.dial(nil)
	for _, room := range []string{"secret", "boom"} {
		id := c.subscribe(ssotws.ScopeChannel("Message", "room_id", room), nil)
		if f := c.next().GetError(); f.GetId() != id || f.GetCode() != wsv1.ErrorCode_ERROR_CODE_FORBIDDEN {
			t.Fatalf("room %s: %v", room, f)
		}
	}
	c.ack(r1, nil)
	e.create("r1", "panic")
	e.create("r1", "hidden")
	m := e.create("r1", "shown")
	evs := c.events(1)
	if evs[0].GetKey() != m.GetId() || evs[0].GetPosition().GetOffset() != 3 {
		t.Fatalf("got %v", evs[0])
	}
}

func TestShutdownClosesWithGoingAway(t *testing.T) {
	e := newEnv(t, envConfig{})
	var clients []*client
	for range 5 {
		c := e.dial(nil)
		c.ack(r1, nil)
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := e.gateway.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if code := c.closed(); code != ssotws.CloseGoingAway {
			t.Fatalf("close code %d, want %d", code, ssotws.CloseGoingAway)
		}
	}
	if n := e.gateway.Conns(); n != 0 {
		t.Fatalf("%d connections after Shutdown", n)
	}
	// New connections are refused.
	_, res, err := websocket.Dial(ctx, e.url, nil)
	if err == nil || res == nil || res.StatusCode != 503 {
		t.Fatalf("Dial after Shutdown: %v", err)
	}
}

func TestNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{KeepAlive: 20 * time.Millisecond}})
		var clients []*client
		for i := range 10 {
			c := e.dial(nil)
			c.ack(r1, nil)
			c.ack(ssotws.ScopeChannel("Message", "room_id", strconv.Itoa(i)), nil)
			clients = append(clients, c)
		}
		e.create("r1", "one")
		for _, c := range clients {
			c.events(1)
		}
		time.Sleep(50 * time.Millisecond) // let keepalive pings run
		// Half leave by themselves, half are closed by the server.
		for _, c := range clients[:5] {
			_ = c.ws.Close(websocket.StatusNormalClosure, "bye")
			c.closed()
		}
		for _, c := range clients[5:] {
			c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{}}})
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := e.gateway.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range clients[5:] {
			c.closed()
		}
		e.server.Close()
	}()
	deadline := time.Now().Add(wait)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
