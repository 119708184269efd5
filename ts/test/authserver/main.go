// Command authserver is the chat service and the ssot-ws gateway behind a
// toy Authenticator, for the TypeScript runtime's authentication
// integration test (ts/test/auth.integration.test.ts). Not an example to
// copy: its tokens are not signed.
//
// A token is "<subject>.<expires, Unix ms>"; one that starts with "bad"
// or whose subject was revoked is refused, one past its expiry is expired.
// POST /revoke?sub=<subject> denies the subject and closes its connections
// (4401). It prints "listening <addr>" on stderr.
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
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

type toyAuth struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (a *toyAuth) Authenticate(_ context.Context, token string) (*ssotws.Identity, error) {
	sub, exp, ok := strings.Cut(token, ".")
	ms, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || strings.HasPrefix(token, "bad") {
		return nil, errors.New("toy: malformed token")
	}
	a.mu.Lock()
	denied := a.revoked[sub]
	a.mu.Unlock()
	if denied {
		return nil, errors.New("toy: revoked")
	}
	expires := time.UnixMilli(ms)
	if !time.Now().Before(expires) {
		return nil, ssotws.ErrTokenExpired
	}
	return &ssotws.Identity{Subject: sub, Expires: expires}, nil
}

type chatService struct {
	*chatv1ssotws.ChatService
}

func (chatService) CountMessages(context.Context, *connect.Request[chatv1.CountMessagesRequest]) (*connect.Response[chatv1.CountMessagesResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, nil)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	auth := &toyAuth{revoked: map[string]bool{}}
	broker := ssotws.NewMemoryBroker(nil)
	gateway := ssotws.NewGateway(broker, &ssotws.GatewayOptions{Logger: logger, Authenticator: auth, RequireAuth: true})
	if err := chatv1ssotws.RegisterChannels(gateway); err != nil {
		panic(err)
	}
	svc := chatService{chatv1ssotws.NewChatService(ssotws.NewMemoryStore(), broker, &ssotws.ResourceOptions{Logger: logger})}
	mux := http.NewServeMux()
	mux.Handle(chatv1ssotws.NewChatServiceHandler(svc,
		connect.WithInterceptors(ssotws.NewAuthInterceptor(auth, &ssotws.AuthInterceptorOptions{RequireAuth: true, Logger: logger}))))
	mux.Handle("/ws", gateway)
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		sub := r.URL.Query().Get("sub")
		auth.mu.Lock()
		auth.revoked[sub] = true
		auth.mu.Unlock()
		fmt.Fprintln(w, gateway.Revoke(sub))
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(os.Stderr, "listening", ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	_ = srv.Serve(ln)
}
