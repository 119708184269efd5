package ssotws_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

var flatHeapCreates = flag.Int("flatheap.creates", 100_000, "creates published by TestFlatHeapOverCreates (try 5000000)")

// TestFlatHeapOverCreates publishes what a Create publishes (the model,
// scope and item channels) for a new record each time, with a gateway
// listening, and asserts that the heap is as large after all of them as
// after the first quarter: the broker's memory does not grow with the
// records ever written (issue #16). CI runs 100,000 creates;
// -flatheap.creates=5000000 is the long run.
func TestFlatHeapOverCreates(t *testing.T) {
	n := *flatHeapCreates
	broker := ssotws.NewMemoryBroker(nil)
	defer broker.Close()
	gw := ssotws.NewGateway(broker, &ssotws.GatewayOptions{Logger: slog.New(slog.DiscardHandler), KeepAlive: -1})
	defer gw.Close()
	ctx := context.Background()
	data, err := proto.Marshal(&chatv1.Message{Id: "m0000000", RoomId: "r1", Text: "hello, this is a chat message"})
	require.NoError(t, err)
	scope := ssotws.ScopeChannel("Message", "room_id", "r1")
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var base uint64
	for i := range n {
		key := fmt.Sprintf("m%07d", i)
		require.NoError(t, broker.Publish(ctx, []*wsv1.Event{
			{Channel: ssotws.ModelChannel("Message"), Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: key, Version: 1, Data: data},
			{Channel: scope, Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: key, Version: 1, Data: data},
			{Channel: ssotws.ItemChannel("Message", key), Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: key, Version: 1, Data: data},
		}))
		if i == n/4 {
			base = heap()
		}
	}
	end := heap()
	t.Logf("heap after %d creates: %d KiB; after %d: %d KiB", n/4, base>>10, n, end>>10)
	// Before the bound, each create kept an item channel (about 500 bytes
	// here): 75,000 more creates grew the heap by tens of MiB.
	assert.Less(t, int64(end)-int64(base), int64(4<<20), "the heap grew with the records written")
}
