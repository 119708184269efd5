package ssotws_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// BenchmarkCreate: Resource.Create from 16 goroutines on the in-memory
// store and broker, with 0 and with 1,000 WebSocket subscribers (in this
// process, reading everything) on the room the messages are created in;
// "wait" is the same with ListenerBacklog -1, every Publish waiting until
// its fan-out is done, as the broker did before it queued ahead of the
// fan-out. ns/op is per create; creates/s is its inverse, p50-ms and p99-ms
// the latency of one create, closed the subscribers the gateway closed
// (too slow).
//
//	go test -run XXX -bench Create -benchtime 5s ./ssotws/
func BenchmarkCreate(b *testing.B) {
	for _, c := range []struct {
		name    string
		subs    int
		backlog int
	}{
		{"subscribers=0", 0, 0},
		{"subscribers=1000", 1000, 0},
		{"subscribers=1000/wait", 1000, -1},
	} {
		b.Run(c.name, func(b *testing.B) { benchmarkCreate(b, c.subs, c.backlog) })
	}
}

func benchmarkCreate(b *testing.B, subs, backlog int) {
	model, err := ssotws.NewModel((&chatv1.Message{}).ProtoReflect().Descriptor(),
		ssotws.ModelConfig{Realtime: true, Scopes: []string{"room_id"}})
	if err != nil {
		b.Fatal(err)
	}
	broker := ssotws.NewMemoryBroker(&ssotws.MemoryBrokerOptions{ListenerBacklog: backlog})
	defer broker.Close()
	gw := ssotws.NewGateway(broker, &ssotws.GatewayOptions{Logger: slog.New(slog.DiscardHandler)})
	if err := gw.RegisterModel(model); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	defer gw.Close()
	messages := ssotws.NewResource[*chatv1.Message](model, ssotws.NewMemoryStore(), broker, nil)

	room := ssotws.ScopeChannel("Message", "room_id", "bench")
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var closed atomic.Int64
	var readers sync.WaitGroup
	conns := make([]*websocket.Conn, 0, subs)
	defer func() {
		for _, ws := range conns {
			_ = ws.CloseNow()
		}
		readers.Wait()
	}()
	sub, _ := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: room}}})
	for range subs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
		if err == nil {
			err = ws.Write(ctx, websocket.MessageBinary, sub)
		}
		if err == nil {
			_, _, err = ws.Read(ctx) // the Ack
		}
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, ws)
		readers.Go(func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					var ce websocket.CloseError
					if errors.As(err, &ce) && ce.Code == ssotws.CloseTooSlow {
						closed.Add(1)
					}
					return
				}
			}
		})
	}

	var mu sync.Mutex
	var lat []time.Duration
	var seq atomic.Int64
	b.SetParallelism(8) // 16 publishers on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		var mine []time.Duration
		for pb.Next() {
			t := time.Now()
			_, err := messages.Create(ctx, nil, &chatv1.Message{RoomId: "bench", Author: "bench",
				Text: fmt.Sprint("message ", seq.Add(1))})
			if err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e6 }
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
	}
	b.ReportMetric(float64(closed.Load()), "closed")
}
