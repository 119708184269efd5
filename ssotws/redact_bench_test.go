package ssotws

import (
	"fmt"
	"testing"

	batchv1 "github.com/ssot-codegen/ssot-ws/internal/golden/batch/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// BenchmarkHubPublishRedacted: BenchmarkHubPublish on a model with
// redacted fields, its N subscribers a third each the record's owner,
// another user and anonymous: the event is encoded three times (once per
// audience), not N times. ns/op is per event.
func BenchmarkHubPublishRedacted(b *testing.B) {
	m := MustModel((&batchv1.Task{}).ProtoReflect().Descriptor(), ModelConfig{Key: "id", Owner: "assignee", Realtime: true})
	data, err := proto.Marshal(&batchv1.Task{Id: "t1", Assignee: "alice", Title: "title", Notes: "notes", Estimate: 3})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprint("N=", n), func(b *testing.B) {
			h := newHub()
			subs := benchSubs(h, "Task", n)
			for i, s := range subs {
				s.model, s.redaction = m, redactionOf(m)
				s.viewer = []string{"alice", "bob", ""}[i%3]
			}
			onErr := func(*wsv1.Event, error) { b.Fatal("encoding failed") }
			b.ReportAllocs()
			var off uint64
			for i := 0; b.Loop(); i++ {
				off++
				h.publish([]*wsv1.Event{{Channel: "Task", Type: created, Key: "t1", Version: 1,
					Position: &wsv1.Position{Epoch: 1, Offset: off}, Data: data}}, onErr)
				if i%64 == 63 {
					b.StopTimer()
					for _, s := range subs {
						s.c.q.take()
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}
