package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// testServer is the chat service on loopback: Connect handlers at / and the
// gateway at /ws, over one store that outlives restarts.
type testServer struct {
	t      testing.TB
	store  *ssotws.MemoryStore
	addr   string
	broker *ssotws.MemoryBroker
	gw     *ssotws.Gateway
	srv    *http.Server
	done   chan struct{}

	gwOpts      *ssotws.GatewayOptions  // nil: the defaults
	handlerOpts []connect.HandlerOption // for the Connect handlers
	// wrapPub, when set, wraps the broker as the handlers' publisher (to
	// hold events back).
	wrapPub func(ssotws.Publisher) ssotws.Publisher

	mu    sync.Mutex
	calls map[string]int // Connect procedure → requests
	ws    atomic.Int64   // WebSocket handshakes
}

// startServer listens on addr ("127.0.0.1:0" for any port).
func startServer(t testing.TB, store *ssotws.MemoryStore, addr string) *testServer {
	t.Helper()
	return startServerWith(t, store, addr, nil)
}

// startServerPub is startServer with the handlers' publisher wrapped.
func startServerPub(t testing.TB, store *ssotws.MemoryStore, wrap func(ssotws.Publisher) ssotws.Publisher) *testServer {
	t.Helper()
	s := &testServer{t: t, store: store, calls: make(map[string]int), wrapPub: wrap}
	s.start("127.0.0.1:0")
	t.Cleanup(s.stop)
	return s
}

// startServerWith is startServer with gateway options and options of the
// Connect handlers (an auth interceptor).
func startServerWith(t testing.TB, store *ssotws.MemoryStore, addr string, gwOpts *ssotws.GatewayOptions, handlerOpts ...connect.HandlerOption) *testServer {
	t.Helper()
	s := &testServer{t: t, store: store, calls: make(map[string]int), gwOpts: gwOpts, handlerOpts: handlerOpts}
	s.start(addr)
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) start(addr string) {
	s.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond) // the old listener's port is being released
	}
	if err != nil {
		s.t.Fatalf("listen %s: %v", addr, err)
	}
	s.addr = ln.Addr().String()
	s.broker = ssotws.NewMemoryBroker(nil)
	s.gw = ssotws.NewGateway(s.broker, s.gwOpts)
	for _, m := range []*ssotws.Model{RoomModel, MessageModel} {
		if err := s.gw.RegisterModel(m); err != nil {
			s.t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	var pub ssotws.Publisher = s.broker
	if s.wrapPub != nil {
		pub = s.wrapPub(pub)
	}
	mux.Handle(chatv1connect.NewChatServiceHandler(newChatService(s.store, pub), s.handlerOpts...))
	mux.Handle("/ws", s.gw)
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			s.ws.Add(1)
		} else {
			s.mu.Lock()
			s.calls[r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]]++
			s.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	})}
	s.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.t.Errorf("serve: %v", err)
		}
	}(s.done)
}

func (s *testServer) stop() {
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.gw.Shutdown(ctx)
	_ = s.srv.Shutdown(ctx)
	<-s.done
	_ = s.broker.Close()
	s.srv = nil
}

// restart stops the server and starts a new one, with a new broker (a new
// epoch, no history) and the same store, on the same address.
func (s *testServer) restart() {
	s.stop()
	s.start(s.addr)
}

func (s *testServer) URL() string   { return "http://" + s.addr }
func (s *testServer) WSURL() string { return "ws://" + s.addr + "/ws" }

// count returns the number of requests of a procedure ("ListMessages").
func (s *testServer) count(proc string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[proc]
}

func (s *testServer) chatClient() chatv1connect.ChatServiceClient {
	return chatv1connect.NewChatServiceClient(http.DefaultClient, s.URL())
}
