package natsbroker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/natsbroker"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

const wait = 10 * time.Second

// node is one server of the chat service: its own NATS connection and
// broker, the generated chat service and the gateway at /ws, on loopback.
type node struct {
	t       *testing.T
	broker  *natsbroker.Broker
	gateway *ssotws.Gateway
	server  *httptest.Server
	chat    chatv1connect.ChatServiceClient
	wsURL   string
	stopped bool
}

func startNode(t *testing.T, s *server.Server, store ssotws.Store) *node {
	t.Helper()
	broker := newBroker(t, dialNATS(t, s), nil)
	gw := ssotws.NewGateway(broker, nil)
	if err := chatv1ssotws.RegisterChannels(gw); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(chatv1connect.NewChatServiceHandler(chatv1ssotws.NewChatService(store, broker, nil)))
	mux.Handle("/ws", gw)
	srv := httptest.NewServer(mux)
	n := &node{
		t: t, broker: broker, gateway: gw, server: srv,
		chat:  chatv1connect.NewChatServiceClient(srv.Client(), srv.URL),
		wsURL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws",
	}
	t.Cleanup(n.stop)
	return n
}

// stop shuts the node down: gateway, HTTP server, broker.
func (n *node) stop() {
	if n.stopped {
		return
	}
	n.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := n.gateway.Shutdown(ctx); err != nil {
		n.t.Errorf("Shutdown: %v", err)
	}
	n.server.Close()
	n.broker.Close()
}

func (n *node) post(roomID, text string) *chatv1.Message {
	n.t.Helper()
	res, err := n.chat.CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: roomID, Author: "ann", Text: text},
	}))
	if err != nil {
		n.t.Fatal(err)
	}
	return res.Msg
}

// wsClient is a WebSocket client of a gateway, reading every frame into a
// channel.
type wsClient struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan *wsv1.ServerFrame
	nextID uint32
}

func dial(t *testing.T, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{t: t, ws: ws, frames: make(chan *wsv1.ServerFrame, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.frames)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			f := new(wsv1.ServerFrame)
			if err := proto.Unmarshal(b, f); err != nil {
				return
			}
			c.frames <- f
		}
	}()
	t.Cleanup(func() {
		_ = ws.CloseNow()
		<-done
	})
	return c
}

func (c *wsClient) subscribe(channel string, since *wsv1.Position) uint32 {
	c.t.Helper()
	c.nextID++
	b, _ := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: c.nextID, Channel: channel, Since: since}}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		c.t.Fatal(err)
	}
	return c.nextID
}

func (c *wsClient) next() *wsv1.ServerFrame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatal("connection ended")
		}
		return f
	case <-time.After(wait):
		c.t.Fatal("no frame within", wait)
	}
	return nil
}

// events reads frames until it holds n events; any other frame fails.
func (c *wsClient) events(n int) []*wsv1.Event {
	c.t.Helper()
	var out []*wsv1.Event
	for len(out) < n {
		f := c.next()
		if f.GetEvents() == nil {
			c.t.Fatalf("got %v, want events", f)
		}
		out = append(out, f.GetEvents().GetEvents()...)
	}
	if len(out) != n {
		c.t.Fatalf("got %d events, want %d", len(out), n)
	}
	return out
}

// closed waits for the server to end the connection.
func (c *wsClient) closed() {
	c.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case _, ok := <-c.frames:
			if !ok {
				return
			}
		case <-timeout:
			c.t.Fatal("connection still open")
		}
	}
}

// TestRestartResumes runs the chat service on two nodes behind one NATS
// server. A client of node A hears a mutation made on node B; node A is
// stopped, mutations go on through B, and a new node A (new broker, new
// gateway, new HTTP server) replays exactly the missed events to the client
// that resubscribes from its last position, without a Reset, because the
// history lives in JetStream. Deleting the stream then changes the epoch,
// and the client is told to refetch.
func TestRestartResumes(t *testing.T) {
	s := runServer(t)
	ctx := context.Background()
	store := ssotws.NewMemoryStore()
	a, b := startNode(t, s, store), startNode(t, s, store)

	room, err := b.chat.CreateRoom(ctx, connect.NewRequest(&chatv1.CreateRoomRequest{Room: &chatv1.Room{Title: "general"}}))
	if err != nil {
		t.Fatal(err)
	}
	channel := chatv1ssotws.MessageChannels.Room(room.Msg.GetId())

	c := dial(t, a.wsURL)
	id := c.subscribe(channel, nil)
	if f := c.next(); f.GetAck().GetId() != id || f.GetAck().GetPosition().GetOffset() != 0 || f.GetAck().GetPosition().GetEpoch() != a.broker.Epoch() {
		t.Fatalf("got %v, want Ack at offset 0", f)
	}
	first := []*chatv1.Message{b.post(room.Msg.GetId(), "one"), a.post(room.Msg.GetId(), "two")}
	got := c.events(2)
	for i, ev := range got {
		if ev.GetKey() != first[i].GetId() || ev.GetPosition().GetOffset() != uint64(i+1) {
			t.Fatalf("event %d: key %s offset %d, want %s offset %d", i, ev.GetKey(), ev.GetPosition().GetOffset(), first[i].GetId(), i+1)
		}
	}
	last := got[1].GetPosition()

	// Node A goes down; the client loses its connection.
	a.stop()
	c.closed()
	var missed []*chatv1.Message
	for i := range 3 {
		missed = append(missed, b.post(room.Msg.GetId(), "missed "+string(rune('a'+i))))
	}
	b.post("another-room", "elsewhere")

	// A new node A on the same NATS: the client resumes from last.
	a2 := startNode(t, s, store)
	if a2.broker.Epoch() != last.GetEpoch() {
		t.Fatalf("epoch after restart %d, want %d", a2.broker.Epoch(), last.GetEpoch())
	}
	c = dial(t, a2.wsURL)
	id = c.subscribe(channel, last)
	replay := c.events(len(missed))
	for i, ev := range replay {
		if ev.GetKey() != missed[i].GetId() || ev.GetPosition().GetOffset() != last.GetOffset()+uint64(i+1) {
			t.Errorf("replayed %d: key %s offset %d; want %s offset %d", i, ev.GetKey(), ev.GetPosition().GetOffset(), missed[i].GetId(), last.GetOffset()+uint64(i+1))
		}
		var m chatv1.Message
		if err := proto.Unmarshal(ev.GetData(), &m); err != nil || m.GetText() != missed[i].GetText() {
			t.Errorf("replayed %d: data %v, %v", i, &m, err)
		}
	}
	f := c.next()
	if f.GetAck().GetId() != id || f.GetAck().GetPosition().GetOffset() != 5 {
		t.Fatalf("after the replay: %v, want Ack at offset 5 (no Reset)", f)
	}
	// Live again, from either node.
	live := []*chatv1.Message{b.post(room.Msg.GetId(), "live b"), a2.post(room.Msg.GetId(), "live a")}
	for i, ev := range c.events(2) {
		if ev.GetKey() != live[i].GetId() || ev.GetPosition().GetOffset() != uint64(6+i) {
			t.Errorf("live %d: key %s offset %d", i, ev.GetKey(), ev.GetPosition().GetOffset())
		}
	}
	last = &wsv1.Position{Epoch: last.GetEpoch(), Offset: 7}

	// Every node stops; the stream is deleted (the history is gone); a new
	// node creates it again under a new epoch, and the client is told to
	// refetch.
	a2.stop()
	b.stop()
	c.closed()
	js := dialNATS(t, s)
	if err := js.DeleteStream(ctx, natsbroker.DefaultStream); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(ctx, natsbroker.DefaultStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream still there: %v", err)
	}
	time.Sleep(2 * time.Millisecond) // a new creation time, whatever the clock's resolution
	a3 := startNode(t, s, store)
	if a3.broker.Epoch() == last.GetEpoch() {
		t.Fatal("the recreated stream kept the epoch")
	}
	c = dial(t, a3.wsURL)
	id = c.subscribe(channel, last)
	f = c.next()
	if f.GetReset_().GetId() != id || f.GetReset_().GetPosition().GetEpoch() != a3.broker.Epoch() || f.GetReset_().GetPosition().GetOffset() != 0 {
		t.Fatalf("after the stream's deletion: %v, want Reset at the new epoch, offset 0", f)
	}
	next := a3.post(room.Msg.GetId(), "after")
	if ev := c.events(1)[0]; ev.GetKey() != next.GetId() || ev.GetPosition().GetOffset() != 1 || ev.GetPosition().GetEpoch() != a3.broker.Epoch() {
		t.Fatalf("event after the Reset: %v", ev)
	}
}

// TestBatchOneFramePerChannel: a batch create of three messages in one
// room, on the node a subscriber is not connected to, reaches it as one
// Events frame on the room's channel. Each event is its own JetStream
// message, stored one after the other; without the group header the
// listener handed them on one by one, and they went out in several frames.
func TestBatchOneFramePerChannel(t *testing.T) {
	s := runServer(t)
	ctx := context.Background()
	store := ssotws.NewMemoryStore()
	a, b := startNode(t, s, store), startNode(t, s, store)
	c := dial(t, a.wsURL)
	room := chatv1ssotws.MessageChannels.Room("r1")
	c.subscribe(room, nil)
	require.NotNil(t, c.next().GetAck(), "the subscription is acknowledged first")

	for round := range 5 {
		var reqs []*chatv1.CreateMessageRequest
		for i := range 3 {
			reqs = append(reqs, &chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "r1", Author: "ann", Text: fmt.Sprint("batch ", round, " item ", i)}})
		}
		_, err := b.chat.BatchCreateMessages(ctx, connect.NewRequest(&chatv1.BatchCreateMessagesRequest{Requests: reqs}))
		require.NoError(t, err)
		f := c.next()
		require.NotNil(t, f.GetEvents(), "round %d: got %v, want events", round, f)
		evs := f.GetEvents().GetEvents()
		require.Len(t, evs, 3, "round %d: the batch's three events in one frame", round)
		for i, ev := range evs {
			assert.Equal(t, fmt.Sprint("batch ", round, " item ", i), messageText(t, ev))
			if i > 0 {
				assert.Equal(t, evs[i-1].GetPosition().GetOffset()+1, ev.GetPosition().GetOffset())
			}
		}
	}
}

func messageText(t *testing.T, ev *wsv1.Event) string {
	t.Helper()
	var m chatv1.Message
	require.NoError(t, proto.Unmarshal(ev.GetData(), &m))
	return m.GetText()
}
