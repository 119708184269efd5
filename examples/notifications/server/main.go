// Command server runs the notifications example: the generated Connect
// handlers of notifications.v1.NotificationService, the ssot-ws WebSocket
// gateway at /ws, the web page at /, and a server-side sender at
// POST /dev/send. It listens on 127.0.0.1:8080 with an in-memory store
// unless told otherwise.
//
//	go run ./examples/notifications/server [-addr 127.0.0.1:8080] [-web examples/notifications/web/dist] [-db notifications.db]
//
// Every user signs in with a DEV TOKEN: "dev-<name>" is accepted as the
// user <name>, with no password and no signature. That is for trying the
// example on your own machine only; a real server verifies signed tokens
// (docs/security.md, "Wiring a real token verifier").
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
	"regexp"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"
	notificationsv1 "github.com/ssot-codegen/ssot-ws/examples/notifications/gen/notifications/v1"
	"github.com/ssot-codegen/ssot-ws/examples/notifications/gen/notifications/v1/notificationsv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	web := flag.String("web", "examples/notifications/web/dist", "directory of the web page; served at / when it exists")
	db := flag.String("db", "", "SQLite file to keep records in; empty keeps them in memory")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *web, *db, logger); err != nil {
		logger.Error("notifications server", "err", err)
		os.Exit(1)
	}
}

func run(addr, web, db string, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var store ssotws.Store = ssotws.NewMemoryStore()
	broker := ssotws.NewMemoryBroker(nil)
	defer broker.Close()
	var pub ssotws.Publisher = broker
	if db != "" {
		// A table per model; the relay publishes its change log.
		sqlite, err := sqlitestore.OpenTables(ctx, db, []*ssotws.Model{notificationsv1ssotws.NotificationModel}, nil)
		if err != nil {
			return err
		}
		defer sqlite.Close()
		relay, err := sqlite.StartRelay(ctx, broker, &sqlitestore.RelayOptions{Logger: logger})
		if err != nil {
			return err
		}
		defer relay.Close()
		store, pub = sqlite, ssotws.RelayedPublisher(relay, broker)
	}
	srv, err := newServer(store, pub, broker, web, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	httpServer := &http.Server{Handler: srv.mux, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("notifications example listening (dev tokens: sign in as anyone)",
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

// devUser is what a dev token may name: short, and safe in a log line.
var devUser = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)

// devTokens is the example's Authenticator. DEV ONLY: it accepts the token
// "dev-<name>" as the user <name>, so anyone can be anyone. Replace it
// with a verifier of signed tokens (docs/security.md) before serving
// anything but your own machine.
var devTokens = ssotws.AuthenticatorFunc(func(_ context.Context, token string) (*ssotws.Identity, error) {
	name, ok := strings.CutPrefix(token, "dev-")
	if !ok || !devUser.MatchString(name) {
		return nil, errors.New("not a dev token")
	}
	return &ssotws.Identity{Subject: name}, nil
})

// server holds the example's parts.
type server struct {
	mux     *http.ServeMux
	gateway *ssotws.Gateway
	svc     *notificationsv1ssotws.NotificationService
}

func newServer(store ssotws.Store, pub ssotws.Publisher, broker ssotws.Broker, web string, logger *slog.Logger) (*server, error) {
	// Every connection and every call must carry a token; the model's
	// OWNER rules then give each user their own notifications only.
	gateway := ssotws.NewGateway(broker, &ssotws.GatewayOptions{
		Authenticator: devTokens,
		RequireAuth:   true,
		Logger:        logger,
	})
	if err := notificationsv1ssotws.RegisterChannels(gateway); err != nil {
		return nil, err
	}
	svc := notificationsv1ssotws.NewNotificationService(store, pub, &ssotws.ResourceOptions{Logger: logger})
	s := &server{mux: http.NewServeMux(), gateway: gateway, svc: svc}
	s.mux.Handle(notificationsv1ssotws.NewNotificationServiceHandler(svc,
		connect.WithInterceptors(ssotws.NewAuthInterceptor(devTokens, &ssotws.AuthInterceptorOptions{RequireAuth: true, Logger: logger}))))
	s.mux.Handle("/ws", gateway)
	s.mux.HandleFunc("POST /dev/send", s.handleSend)
	if st, err := os.Stat(web); err == nil && st.IsDir() {
		s.mux.Handle("/", http.FileServer(http.Dir(web)))
	} else {
		s.mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "ssot-ws notifications example: Connect at /notifications.v1.NotificationService/, WebSocket at /ws, POST /dev/send?to=<user>&text=<text>")
		})
	}
	return s, nil
}

// send creates a notification for the user to, as the server: the
// Resource sets a record's owner to the caller, so the sender acts as the
// recipient through ssotws.WithIdentity. The event reaches the recipient's
// connections only (OWNER read).
func (s *server) send(ctx context.Context, to, text string) (*notificationsv1.Notification, error) {
	ctx = ssotws.WithIdentity(ctx, &ssotws.Identity{Subject: to})
	return s.svc.Notifications.Create(ctx, http.Header{}, &notificationsv1.Notification{Text: text})
}

// handleSend is the server-side sender, as an endpoint: POST
// /dev/send?to=<user>&text=<text> (or the same as a form). DEV ONLY: it
// lets anyone notify anyone; a real application sends from its own
// code (a job, a webhook, another handler) by calling send.
func (s *server) handleSend(w http.ResponseWriter, r *http.Request) {
	to, text := r.FormValue("to"), r.FormValue("text")
	if !devUser.MatchString(to) || text == "" {
		http.Error(w, "want to=<user> and text=<text>", http.StatusBadRequest)
		return
	}
	n, err := s.send(r.Context(), to, text)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, n.GetId())
}
