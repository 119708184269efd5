// Command server runs the chat example: the generated Connect handlers of
// chat.v1.ChatService, the ssot-ws WebSocket gateway at /ws, and the web
// page at /. It listens on 127.0.0.1:8080 with an in-memory store and
// broker unless told otherwise.
//
//	go run ./examples/chat/server [-addr 127.0.0.1:8080] [-web examples/chat/web/dist] [-db chat.db] [-nats nats://127.0.0.1:4222]
//
// The gateway's metrics are served at /metrics in Prometheus's text format
// (see docs/operations.md).
//
// With -db the records live in that SQLite file and survive restarts. With
// -nats the events travel through NATS JetStream (started with
// `nats-server -js`), so several servers sharing one database serve the same
// live channels, and a restarted server resumes its clients from history.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/natsbroker"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	web := flag.String("web", "examples/chat/web/dist", "directory of the web page; served at / when it exists")
	seed := flag.Bool("seed", true, "create the rooms r1 and r2 at start")
	db := flag.String("db", "", "SQLite file to keep records in; empty keeps them in memory")
	natsURL := flag.String("nats", "", "NATS server with JetStream to carry events; empty keeps them in this process")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *web, *db, *natsURL, *seed, logger); err != nil {
		logger.Error("chat server", "err", err)
		os.Exit(1)
	}
}

func run(addr, web, db, natsURL string, seed bool, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var store ssotws.Store = ssotws.NewMemoryStore()
	var sqlite *sqlitestore.TableStore
	if db != "" {
		// A table per model (rooms, messages): readable and writable
		// with the sqlite3 shell, whose writes reach subscribers too.
		var err error
		sqlite, err = sqlitestore.OpenTables(ctx, db, []*ssotws.Model{chatv1ssotws.RoomModel, chatv1ssotws.MessageModel}, nil)
		if err != nil {
			return err
		}
		defer sqlite.Close()
		store = sqlite
	}
	var broker ssotws.Broker = ssotws.NewMemoryBroker(nil)
	if natsURL != "" {
		nc, err := nats.Connect(natsURL, nats.Name("ssot-ws chat example"))
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		nb, err := natsbroker.New(ctx, js, nil)
		if err != nil {
			return err
		}
		broker = nb
	}
	defer broker.Close()
	var pub ssotws.Publisher = broker
	if sqlite != nil {
		// The relay publishes the tables' change log: the handlers'
		// writes and anyone else's. Nodes sharing the file and a NATS
		// stream use the same relay name (the default), and each change
		// is published once.
		relay, err := sqlite.StartRelay(ctx, broker, &sqlitestore.RelayOptions{Logger: logger})
		if err != nil {
			return err
		}
		defer relay.Close()
		pub = ssotws.RelayedPublisher(relay, broker)
	}
	srv, err := newServer(store, pub, broker, web, logger)
	if err != nil {
		return err
	}
	if seed {
		if err := srv.seed(ctx); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	httpServer := &http.Server{Handler: srv.mux, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("chat example listening",
		"http", "http://"+ln.Addr().String(),
		"ws", "ws://"+ln.Addr().String()+"/ws")
	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.gateway.Shutdown(shutdownCtx)
	if err := httpServer.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// server holds the example's parts.
type server struct {
	mux     *http.ServeMux
	gateway *ssotws.Gateway
	chat    *chatService
}

func newServer(store ssotws.Store, pub ssotws.Publisher, broker ssotws.Broker, web string, logger *slog.Logger) (*server, error) {
	// The gateway's metrics, exported for Prometheus to scrape at
	// /metrics. A registry of the server's own rather than Prometheus's
	// global one, so that several servers may live in one process (tests).
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, err
	}
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	gateway := ssotws.NewGateway(broker, &ssotws.GatewayOptions{Logger: logger, MeterProvider: meters})
	if err := chatv1ssotws.RegisterChannels(gateway); err != nil {
		return nil, err
	}
	chat := &chatService{ChatService: chatv1ssotws.NewChatService(store, pub, &ssotws.ResourceOptions{Logger: logger})}
	chat.SetHooks(messageRules(time.Now))

	mux := http.NewServeMux()
	// The generated constructor bounds every request (its body, and its
	// message once decompressed) before anything decodes it.
	// The requests' own rules (ClearRoomRequest.room_id); the records'
	// are the runtime's, checked as they will be stored.
	mux.Handle(chatv1ssotws.NewChatServiceHandler(chat, connect.WithInterceptors(ssotws.NewValidateInterceptor(nil))))
	mux.Handle("/ws", gateway)
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	if st, err := os.Stat(web); err == nil && st.IsDir() {
		mux.Handle("/", http.FileServer(http.Dir(web)))
	} else {
		mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "ssot-ws chat example: Connect at /chat.v1.ChatService/, WebSocket at /ws")
		})
	}
	return &server{mux: mux, gateway: gateway, chat: chat}, nil
}

// seed creates the rooms r1 and r2 if they do not exist.
func (s *server) seed(ctx context.Context) error {
	for _, room := range []*chatv1.Room{{Id: "r1", Title: "General"}, {Id: "r2", Title: "Random"}} {
		_, err := s.chat.Rooms.Create(ctx, http.Header{}, room)
		if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
			return err
		}
	}
	return nil
}

// chatService adds the example's one non-standard method to the generated
// implementation of the standard ones.
type chatService struct {
	*chatv1ssotws.ChatService
}

// messageRules are the business rules of Message that its buf.validate
// rules cannot say: the server stamps created_at_ms when a message is
// created and keeps it on every update. They run inside each write, under
// the record's lock, for every path that writes a message (the generated
// handlers, ClearRoom, server writes), after the record passed its rules
// (chat.proto: a text is at most 4096 bytes).
func messageRules(now func() time.Time) chatv1ssotws.ChatServiceHooks {
	return chatv1ssotws.ChatServiceHooks{Messages: ssotws.Hooks[*chatv1.Message]{
		BeforeCreate: func(ctx context.Context, m *chatv1.Message) error {
			m.CreatedAtMs = now().UnixMilli()
			return nil
		},
		BeforeUpdate: func(ctx context.Context, prev, m *chatv1.Message) error {
			m.CreatedAtMs = prev.GetCreatedAtMs()
			return nil
		},
	}}
}

// ClearRoom deletes every message of a room, as the caller: each delete
// goes through the runtime (access checks, hooks, versions, events), with
// an Idempotency-Key derived from the request's, so a retry replays them.
func (s *chatService) ClearRoom(ctx context.Context, req *connect.Request[chatv1.ClearRoomRequest]) (*connect.Response[chatv1.ClearRoomResponse], error) {
	// room_id is not empty: NewValidateInterceptor checked the request's
	// rules before the method was called.
	var deleted int64
	for {
		// Always the first page: what was deleted is gone from it.
		page, err := s.Messages.List(ctx, ssotws.ListRequest{
			Filters:  []ssotws.Filter{ssotws.Eq("room_id", req.Msg.GetRoomId())},
			PageSize: 100,
		})
		if err != nil {
			return nil, err
		}
		if len(page.Items) == 0 {
			break
		}
		for _, m := range page.Items {
			if _, err := s.Messages.Delete(ctx, ssotws.SubRequest(req.Header(), m.GetId()), m.GetId()); err != nil && connect.CodeOf(err) != connect.CodeNotFound {
				return nil, err
			}
			deleted++
		}
	}
	return connect.NewResponse(&chatv1.ClearRoomResponse{Deleted: deleted}), nil
}

// CountMessages counts the messages of a room by paging through them.
func (s *chatService) CountMessages(ctx context.Context, req *connect.Request[chatv1.CountMessagesRequest]) (*connect.Response[chatv1.CountMessagesResponse], error) {
	var count int64
	token := ""
	for {
		page, err := s.Messages.List(ctx, ssotws.ListRequest{
			Filters:   []ssotws.Filter{ssotws.Eq("room_id", req.Msg.GetRoomId())},
			PageSize:  1000,
			PageToken: token,
		})
		if err != nil {
			return nil, err
		}
		count += int64(len(page.Items))
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	return connect.NewResponse(&chatv1.CountMessagesResponse{Count: count}), nil
}
