// Command convergeserver is the chat example's generated service and the
// ssot-ws gateway over an in-memory store and broker, for the TypeScript
// runtime's fault-injection convergence test (ts/test/converge.test.ts).
// Not an example to copy.
//
// It serves the chat service (Connect) and the gateway (/ws) on -addr, and
// a control API on a second loopback port that the test calls directly:
//
//	POST /restart           stops the server (gateway, broker, HTTP) and starts
//	                        it again on the same address with a new broker (a
//	                        new epoch, no history) over the same store
//	GET  /records           the store's Message records, as JSON
//	                        [{"key", "version", "data": base64 protobuf}]
//	GET  /position?channel= the broker's position of a channel, "<epoch>:<offset>"
//	GET  /stats             counters: WebSocket handshakes, Connect calls
//
// It prints "listening <addr> control <addr>" on stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

type chatService struct {
	*chatv1ssotws.ChatService
}

func (chatService) CountMessages(context.Context, *connect.Request[chatv1.CountMessagesRequest]) (*connect.Response[chatv1.CountMessagesResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, nil)
}

// server is the part that restarts; the store outlives it.
type server struct {
	logger *slog.Logger
	store  *ssotws.MemoryStore
	addr   string

	mu     sync.Mutex // held across a restart
	broker *ssotws.MemoryBroker
	gw     *ssotws.Gateway
	srv    *http.Server
	done   chan struct{}

	statsMu sync.Mutex
	stats   map[string]int64 // WebSocket handshakes ("ws"), Connect calls by procedure, restarts
}

func (s *server) count(name string) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats[name]++
}

func (s *server) start() error {
	var ln net.Listener
	var err error
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", s.addr)
		if err == nil || i == 100 {
			break
		}
		time.Sleep(20 * time.Millisecond) // the old listener's port is being released
	}
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	s.broker = ssotws.NewMemoryBroker(nil)
	s.gw = ssotws.NewGateway(s.broker, &ssotws.GatewayOptions{Logger: s.logger})
	if err := chatv1ssotws.RegisterChannels(s.gw); err != nil {
		return err
	}
	svc := chatService{chatv1ssotws.NewChatService(s.store, s.broker, &ssotws.ResourceOptions{Logger: s.logger})}
	mux := http.NewServeMux()
	mux.Handle(chatv1ssotws.NewChatServiceHandler(svc))
	mux.Handle("/ws", s.gw)
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			s.count("ws")
		} else {
			s.count(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
		}
		mux.ServeHTTP(w, r)
	})}
	done := make(chan struct{})
	s.done = done
	srv := s.srv
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("serve", "err", err)
		}
	}()
	return nil
}

func (s *server) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.gw.Shutdown(ctx)
	_ = s.srv.Shutdown(ctx)
	<-s.done
	_ = s.broker.Close()
}

func (s *server) restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop()
	s.count("restarts")
	return s.start()
}

type record struct {
	Key     string `json:"key"`
	Version int64  `json:"version"`
	Data    []byte `json:"data"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address of the service and gateway")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s := &server{logger: logger, store: ssotws.NewMemoryStore(), addr: *addr, stats: map[string]int64{}}
	if err := s.start(); err != nil {
		panic(err)
	}
	model := chatv1ssotws.MessageModel.FullName()

	control := http.NewServeMux()
	control.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		if err := s.restart(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	control.HandleFunc("GET /records", func(w http.ResponseWriter, r *http.Request) {
		page, err := s.store.List(r.Context(), ssotws.Query{Model: model, PageSize: 1 << 20})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := make([]record, 0, len(page.Records))
		for _, rec := range page.Records {
			out = append(out, record{Key: rec.Key, Version: rec.Version, Data: rec.Data})
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	control.HandleFunc("GET /position", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		b := s.broker
		s.mu.Unlock()
		pos, err := b.Position(r.Context(), r.URL.Query().Get("channel"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, ssotws.FormatPosition(pos))
	})
	control.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		s.statsMu.Lock()
		defer s.statsMu.Unlock()
		_ = json.NewEncoder(w).Encode(s.stats)
	})
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(os.Stderr, "listening", s.addr, "control", cl.Addr().String())
	_ = (&http.Server{Handler: control, ReadHeaderTimeout: 10 * time.Second}).Serve(cl)
}
