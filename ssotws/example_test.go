package ssotws_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// Wire a store, a broker and a gateway; subscribe to a room over a real
// WebSocket and watch a message being created. Generated code builds the
// model and calls RegisterModel for you (RegisterChannels); the handlers
// call the Resource.
func ExampleGateway() {
	model := ssotws.MustModel((&chatv1.Message{}).ProtoReflect().Descriptor(),
		ssotws.ModelConfig{Scopes: []string{"room_id"}, Realtime: true})
	store := ssotws.NewMemoryStore()
	broker := ssotws.NewMemoryBroker(nil)
	defer broker.Close()
	messages := ssotws.NewResource[*chatv1.Message](model, store, broker, nil)

	gateway := ssotws.NewGateway(broker, nil)
	if err := gateway.RegisterModel(model); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", gateway)
	// mux.Handle(chatv1connect.NewChatServiceHandler(...)) serves the mutations.
	server := httptest.NewServer(mux)
	defer server.Close()
	defer gateway.Shutdown(context.Background())

	// A client: offer the ssot.v1 subprotocol, subscribe to room r1.
	ctx := context.Background()
	url := "ws" + strings.TrimPrefix(server.URL, "http") + "/ws"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.CloseNow()
	sub, _ := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{
		Id: 1, Channel: ssotws.ScopeChannel("Message", "room_id", "r1"),
	}}})
	if err := conn.Write(ctx, websocket.MessageBinary, sub); err != nil {
		log.Fatal(err)
	}
	read := func() *wsv1.ServerFrame {
		_, b, err := conn.Read(ctx)
		if err != nil {
			log.Fatal(err)
		}
		var f wsv1.ServerFrame
		if err := proto.Unmarshal(b, &f); err != nil {
			log.Fatal(err)
		}
		return &f
	}
	fmt.Println("subscribed at offset", read().GetAck().GetPosition().GetOffset())

	// A mutation publishes its events: no broadcast code by hand.
	if _, err := messages.Create(ctx, nil, &chatv1.Message{Id: "m1", RoomId: "r1", Text: "hello"}); err != nil {
		log.Fatal(err)
	}
	for _, ev := range read().GetEvents().GetEvents() {
		var m chatv1.Message
		_ = proto.Unmarshal(ev.GetData(), &m)
		fmt.Println(ev.GetChannel(), ev.GetType(), ev.GetKey(), "version", ev.GetVersion(), "offset", ev.GetPosition().GetOffset(), m.GetText())
	}
	// Output:
	// subscribed at offset 0
	// Message?room_id=r1 EVENT_TYPE_CREATED m1 version 1 offset 1 hello
}
