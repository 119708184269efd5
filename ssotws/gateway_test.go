package ssotws_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// wait bounds every wait of these tests.
const wait = 5 * time.Second

// chatServer serves the message methods of ChatService with a Resource, as
// generated code does.
type chatServer struct {
	chatv1connect.UnimplementedChatServiceHandler
	messages *ssotws.Resource[*chatv1.Message]
}

func (s *chatServer) CreateMessage(ctx context.Context, req *connect.Request[chatv1.CreateMessageRequest]) (*connect.Response[chatv1.Message], error) {
	m, err := s.messages.Create(ctx, req.Header(), req.Msg.GetMessage())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(m), nil
}

func (s *chatServer) UpdateMessage(ctx context.Context, req *connect.Request[chatv1.UpdateMessageRequest]) (*connect.Response[chatv1.Message], error) {
	m, err := s.messages.Update(ctx, req.Header(), req.Msg.GetMessage(), req.Msg.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(m), nil
}

func (s *chatServer) ListMessages(ctx context.Context, req *connect.Request[chatv1.ListMessagesRequest]) (*connect.Response[chatv1.ListMessagesResponse], error) {
	page, err := s.messages.List(ctx, ssotws.ListRequest{
		Filters:  []ssotws.Filter{ssotws.Eq("room_id", req.Msg.GetRoomId())},
		PageSize: req.Msg.GetPageSize(), PageToken: req.Msg.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	res := connect.NewResponse(&chatv1.ListMessagesResponse{Messages: page.Items, NextPageToken: page.NextPageToken})
	page.Position.SetHeaders(res.Header())
	return res, nil
}

// env is a chat server on loopback: Connect handlers at /, the gateway at /ws.
type env struct {
	t        *testing.T
	broker   *ssotws.MemoryBroker
	gateway  *ssotws.Gateway
	messages *ssotws.Resource[*chatv1.Message]
	chat     chatv1connect.ChatServiceClient
	server   *httptest.Server
	url      string

	mu     sync.Mutex
	closes []websocket.StatusCode
}

type envConfig struct {
	model   ssotws.ModelConfig
	broker  *ssotws.MemoryBrokerOptions
	gateway *ssotws.GatewayOptions
	// resource configures e.messages; nil: the defaults.
	resource *ssotws.ResourceOptions
}

func newEnv(t *testing.T, cfg envConfig) *env {
	t.Helper()
	if cfg.model.Scopes == nil {
		cfg.model.Scopes = []string{"room_id"}
	}
	cfg.model.Realtime = true
	model, err := ssotws.NewModel((&chatv1.Message{}).ProtoReflect().Descriptor(), cfg.model)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, broker: ssotws.NewMemoryBroker(cfg.broker)}
	e.gateway = ssotws.NewGateway(e.broker, cfg.gateway)
	ssotws.SetOnClose(e.gateway, func(code websocket.StatusCode) {
		e.mu.Lock()
		e.closes = append(e.closes, code)
		e.mu.Unlock()
	})
	if err := e.gateway.RegisterModel(model); err != nil {
		t.Fatal(err)
	}
	e.messages = ssotws.NewResource[*chatv1.Message](model, ssotws.NewMemoryStore(), e.broker, cfg.resource)
	mux := http.NewServeMux()
	mux.Handle("/ws", e.gateway)
	path, handler := chatv1connect.NewChatServiceHandler(&chatServer{messages: e.messages})
	mux.Handle(path, handler)
	e.server = httptest.NewServer(mux)
	e.url = "ws" + strings.TrimPrefix(e.server.URL, "http") + "/ws"
	e.chat = chatv1connect.NewChatServiceClient(e.server.Client(), e.server.URL)
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

func (e *env) create(room, text string) *chatv1.Message {
	e.t.Helper()
	res, err := e.chat.CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: room, Text: text},
	}))
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Msg
}

func (e *env) closeCodes() []websocket.StatusCode {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]websocket.StatusCode(nil), e.closes...)
}

// client is a WebSocket client of the gateway. A goroutine reads every
// frame into frames until the connection ends.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan *wsv1.ServerFrame
	done   chan struct{}
	err    error // why reading stopped; valid after done
	reads  bool  // startReading was called
	nextID uint32
}

func (e *env) dial(opts *websocket.DialOptions) *client {
	e.t.Helper()
	c := e.dialNoRead(opts)
	c.startReading()
	return c
}

func (e *env) dialNoRead(opts *websocket.DialOptions) *client {
	e.t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.url, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20)
	c := &client{t: e.t, ws: ws, frames: make(chan *wsv1.ServerFrame, 4096), done: make(chan struct{})}
	e.t.Cleanup(func() {
		_ = ws.CloseNow()
		if c.reads {
			<-c.done
		}
	})
	return c
}

func (c *client) startReading() {
	c.reads = true
	go func() {
		defer close(c.done)
		defer close(c.frames)
		for {
			typ, b, err := c.ws.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			if typ != websocket.MessageBinary {
				c.err = errors.New("text frame from the server")
				return
			}
			var f wsv1.ServerFrame
			if err := proto.Unmarshal(b, &f); err != nil {
				c.err = err
				return
			}
			c.frames <- &f
		}
	}()
}

func (c *client) send(f *wsv1.ClientFrame) {
	c.t.Helper()
	b, err := proto.Marshal(f)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(websocket.MessageBinary, b)
}

func (c *client) sendRaw(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) subscribe(channel string, since *wsv1.Position) uint32 {
	c.t.Helper()
	c.nextID++
	c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: c.nextID, Channel: channel, Since: since}}})
	return c.nextID
}

// next returns the next frame, failing the test after a few seconds.
func (c *client) next() *wsv1.ServerFrame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			<-c.done
			c.t.Fatalf("connection ended: %v", c.err)
		}
		return f
	case <-time.After(wait):
		c.t.Fatal("no frame within", wait)
	}
	return nil
}

// ack subscribes to channel and returns the Ack's position.
func (c *client) ack(channel string, since *wsv1.Position) *wsv1.Position {
	c.t.Helper()
	id := c.subscribe(channel, since)
	f := c.next()
	if f.GetAck() == nil || f.GetAck().GetId() != id {
		c.t.Fatalf("Subscribe %q: got %v, want an Ack", channel, f)
	}
	return f.GetAck().GetPosition()
}

// events reads frames until it holds n events; any other frame fails.
func (c *client) events(n int) []*wsv1.Event {
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

// quiet checks that nothing but a Pong is queued for c: it pings and
// expects the Pong first. Frames are queued in order, so an event
// published before the ping would arrive before the Pong.
func (c *client) quiet() {
	c.t.Helper()
	c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{Nonce: 42}}})
	if f := c.next(); f.GetPong().GetNonce() != 42 {
		c.t.Fatalf("got %v, want only a Pong", f)
	}
}

// closed waits for the connection to end and returns its close code.
func (c *client) closed() websocket.StatusCode {
	c.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case _, ok := <-c.frames:
			if !ok {
				<-c.done
				return websocket.CloseStatus(c.err)
			}
		case <-timeout:
			c.t.Fatal("connection still open after", wait)
		}
	}
}
