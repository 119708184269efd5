package natsbroker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/brokertest"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// BenchmarkPublish publishes what a Create of a scoped model publishes:
// three events on three channels (model, scope, item).
func BenchmarkPublish(b *testing.B) {
	br := newBroker(b, dialNATS(b, runServer(b)), nil)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Sprint(i)
		err := br.Publish(ctx, []*wsv1.Event{
			brokertest.Ev("Message", key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
			brokertest.Ev(ssotws.ScopeChannel("Message", "room_id", fmt.Sprint(i%10)), key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
			brokertest.Ev(ssotws.ItemChannel("Message", key), key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
