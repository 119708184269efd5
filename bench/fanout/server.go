package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// benchServer is the server side of the benchmark: the chat example's
// generated Connect handlers and the gateway, on the in-memory engines,
// plus a few /bench/ endpoints the load generator drives.
type benchServer struct {
	gateway *ssotws.Gateway
	broker  *ssotws.MemoryBroker
	chat    *chatv1ssotws.ChatService
	mux     *http.ServeMux
	httpSrv *http.Server
	ln      net.Listener
}

// serverConfig configures the server side.
type serverConfig struct {
	SendQueue  int           // gateway Limits.SendQueue; 0 = default
	WriteDelay time.Duration // gateway WriteDelay
}

func newBenchServer(addr string, cfg serverConfig, logger *slog.Logger) (*benchServer, error) {
	store := ssotws.NewMemoryStore()
	// A small history: the benchmark never resumes, and the broker keeps
	// one ring per channel (an item channel per message).
	broker := ssotws.NewMemoryBroker(&ssotws.MemoryBrokerOptions{HistorySize: 16})
	gateway := ssotws.NewGateway(broker, &ssotws.GatewayOptions{
		Logger:     logger,
		Limits:     ssotws.Limits{SendQueue: cfg.SendQueue},
		WriteDelay: cfg.WriteDelay,
	})
	if err := chatv1ssotws.RegisterChannels(gateway); err != nil {
		return nil, err
	}
	chat := chatv1ssotws.NewChatService(store, broker, &ssotws.ResourceOptions{Logger: logger})
	s := &benchServer{gateway: gateway, broker: broker, chat: chat, mux: http.NewServeMux()}
	s.mux.Handle(chatv1ssotws.NewChatServiceHandler(chat))
	s.mux.Handle("/ws", gateway)
	s.mux.HandleFunc("/bench/stats", s.handleStats)
	s.mux.HandleFunc("/bench/publish", s.handlePublish)
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("bench: %s is not a loopback address", addr)
	}
	s.ln = ln
	s.httpSrv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.httpSrv.Serve(ln) }()
	return s, nil
}

func (s *benchServer) Addr() string { return s.ln.Addr().String() }

func (s *benchServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = s.gateway.Close()
	_ = s.httpSrv.Shutdown(ctx)
	_ = s.broker.Close()
}

// serverStats is what /bench/stats reports.
type serverStats struct {
	HeapInuse  uint64 `json:"heap_inuse"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	NumGC      uint32 `json:"num_gc"`
	Goroutines int    `json:"goroutines"`
	Conns      int    `json:"conns"`
}

// handleStats reports the Go memory of the server; ?gc=1 collects garbage
// and returns freed memory to the OS first, so that idle figures are stable.
func (s *benchServer) handleStats(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") != "" {
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := serverStats{
		HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc, StackInuse: ms.StackInuse,
		Sys: ms.Sys, NumGC: ms.NumGC, Goroutines: runtime.NumGoroutine(), Conns: s.gateway.Conns(),
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

// publishResult is what /bench/publish reports.
type publishResult struct {
	Published int64  `json:"published"`
	Errors    int64  `json:"errors"`
	FirstErr  string `json:"first_err,omitempty"`
}

// handlePublish publishes in the server process at a paced rate, through
// Resource.Create (mode=create: the generated mutation path minus HTTP) or
// straight to the broker (mode=broker: the fan-out alone), and answers when
// done. Query: mode, rate (events/s), dur (Go duration), size (payload bytes),
// room.
func (s *benchServer) handlePublish(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rate, _ := strconv.ParseFloat(q.Get("rate"), 64)
	dur, _ := time.ParseDuration(q.Get("dur"))
	size, _ := strconv.Atoi(q.Get("size"))
	room := q.Get("room")
	if rate <= 0 || dur <= 0 || room == "" {
		http.Error(w, "rate, dur and room are required", http.StatusBadRequest)
		return
	}
	var pub func(ctx context.Context, text string) error
	switch mode := q.Get("mode"); mode {
	case "create":
		pub = func(ctx context.Context, text string) error {
			_, err := s.chat.Messages.Create(ctx, http.Header{}, &chatv1.Message{RoomId: room, Author: "bench", Text: text})
			return err
		}
	case "broker":
		channel := chatv1ssotws.MessageChannels.Room(room)
		var seq atomic.Int64
		pub = func(ctx context.Context, text string) error {
			n := seq.Add(1)
			key := "b" + strconv.FormatInt(n, 10)
			data, err := proto.Marshal(&chatv1.Message{Id: key, RoomId: room, Author: "bench", Text: text, Version: 1})
			if err != nil {
				return err
			}
			return s.broker.Publish(ctx, []*wsv1.Event{{
				Channel: channel, Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: key, Version: 1,
				TimeUnixMs: time.Now().UnixMilli(), Data: data,
			}})
		}
	default:
		http.Error(w, fmt.Sprintf("unknown mode %q", mode), http.StatusBadRequest)
		return
	}
	var res publishResult
	pace(r.Context(), rate, dur, 1, func(ctx context.Context) {
		if err := pub(ctx, stampText(size)); err != nil {
			res.Errors++
			if res.FirstErr == "" {
				res.FirstErr = err.Error()
			}
			return
		}
		res.Published++
	})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

// runServerChild is the -server mode: serve on addr and print the address
// on stdout, then run until stdin closes (the parent ended) or SIGTERM.
func runServerChild(addr string, cfg serverConfig) error {
	raiseFileLimit()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := newBenchServer(addr, cfg, logger)
	if err != nil {
		return err
	}
	fmt.Printf("LISTEN %s\n", s.Addr())
	// The parent keeps our stdin open; EOF means it is gone.
	_, _ = io.Copy(io.Discard, os.Stdin)
	s.Close()
	return nil
}

// serverProc is a running server: a child process or in-process.
type serverProc struct {
	addr  string
	pid   int
	stop  func()
	inner *benchServer
}

func startServer(cfg config) (*serverProc, error) {
	if cfg.Target == "centrifugo" {
		return startCentrifugo(cfg)
	}
	if cfg.InProcess {
		s, err := newBenchServer("127.0.0.1:0", serverConfig{SendQueue: cfg.SendQueue, WriteDelay: cfg.WriteDelay}, nil)
		if err != nil {
			return nil, err
		}
		return &serverProc{addr: s.Addr(), pid: os.Getpid(), stop: s.Close, inner: s}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := serverCommand(cfg, exe, "-server", "-addr", "127.0.0.1:0", "-send-queue", strconv.Itoa(cfg.SendQueue), "-write-delay", cfg.WriteDelay.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var line []byte
	buf := make([]byte, 1)
	for {
		if _, err := stdout.Read(buf); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("server child: %w", err)
		}
		if buf[0] == '\n' {
			break
		}
		line = append(line, buf[0])
	}
	addr, ok := strings.CutPrefix(string(line), "LISTEN ")
	if !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("server child said %q", line)
	}
	stop := func() {
		_ = stdin.Close() // the child exits on EOF
		waitOrKill(cmd)
	}
	return &serverProc{addr: addr, pid: cmd.Process.Pid, stop: stop}, nil
}
