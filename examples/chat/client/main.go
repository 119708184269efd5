// Command client is the Go client of the chat example: it lists the
// messages of a room, then prints every change live. It keeps working
// across a restart of the server: it reconnects with backoff, resumes from
// its last position, or refetches the room when the server's history was
// lost, and prints what changed meanwhile.
//
//	go run ./examples/chat/server &
//	go run ./examples/chat/client -room r1
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address of the example server")
	room := flag.String("room", "r1", "room whose messages to list and watch")
	token := flag.String("token", "", "bearer token, if the server asks for one")
	flag.Parse()
	log.SetFlags(log.Ltime)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	// One token source for both transports: the WebSocket offers it at
	// each connect, HTTP calls carry it as "Authorization: Bearer". A real
	// application returns its identity provider's token with its expiry
	// (client.Token{Value, Expires}); the Conn then refreshes it on the
	// open socket before it expires.
	tokens := client.StaticToken(*token)
	conn := client.NewConn("ws://"+*addr+"/ws", &client.ConnOptions{TokenSource: tokens})
	defer conn.Close()
	api := chatv1connect.NewChatServiceClient(http.DefaultClient, "http://"+*addr,
		connect.WithInterceptors(client.NewTokenInterceptor(tokens)))
	messages := chatv1ssotws.NewMessageClient(api, conn, nil)

	// The Conn logs each change of its state (connected, lost, connected
	// again) with the reason in words, through slog's default logger.

	// Subscribe first: the room's cache is hydrated gap-free, and every
	// later change is printed, including what a refetch after a restart
	// finds changed.
	channel := chatv1ssotws.MessageChannels.Room(*room)
	defer messages.Subscribe(channel, func(ch client.Change[*chatv1.Message]) {
		fmt.Printf("%-7s %s\n", ch.Type, format(ch.Value))
	})()
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := messages.WebSocket().WaitHydrated(wait, channel); err != nil {
		log.Printf("not hydrated yet (%v); listing over HTTP", err)
	}
	cancel()

	// From the cache when hydrated, over HTTP otherwise.
	p := client.ListParams{Filters: map[string]string{"room_id": *room}}
	for {
		page, err := messages.List(ctx, p)
		if err != nil {
			log.Printf("list %s: %v", *room, err)
			break
		}
		for _, m := range page.Items {
			fmt.Printf("%-7s %s\n", "listed", format(m))
		}
		if page.NextPageToken == "" {
			break
		}
		p.PageToken = page.NextPageToken
	}
	log.Printf("watching room %s (Ctrl-C to stop)", *room)
	<-ctx.Done()
}

func format(m *chatv1.Message) string {
	return fmt.Sprintf("%s v%d [%s] %s: %s", m.GetId(), m.GetVersion(), m.GetRoomId(), m.GetAuthor(), m.GetText())
}
