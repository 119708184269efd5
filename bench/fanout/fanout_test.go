package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TestMain lets the test binary be its own publisher child
// (-publisher-process), as the fanout binary is.
func TestMain(m *testing.M) {
	if slices.Contains(os.Args[1:], "-publisher-child") {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testEvent(t testing.TB, offset uint64, text string) *wsv1.Event {
	data, err := proto.Marshal(&chatv1.Message{Id: "m", RoomId: "bench", Author: "a", Text: text, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &wsv1.Event{
		Channel: "Message?room_id=bench", Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: "m", Version: 1,
		Position: &wsv1.Position{Epoch: 7, Offset: offset}, TimeUnixMs: 1, RequestId: "r", Data: data,
	}
}

func TestParseServerFrame(t *testing.T) {
	text := stampText(64)
	if len(text) != 64 {
		t.Fatalf("stampText(64) has %d bytes", len(text))
	}
	want := parseStamp([]byte(text))
	if d := time.Since(time.Unix(0, want)); d < 0 || d > time.Minute {
		t.Fatalf("stamp %d is not now", want)
	}
	b, err := proto.Marshal(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Events{Events: &wsv1.Events{
		Events: []*wsv1.Event{testEvent(t, 41, text), testEvent(t, 42, "no stamp")},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var offsets []uint64
	var stamps []int64
	kind, err := parseServerFrame(b, func(off uint64, stamp int64) {
		offsets = append(offsets, off)
		stamps = append(stamps, stamp)
	})
	if err != nil || kind != kindEvents {
		t.Fatalf("parse: kind %d, err %v", kind, err)
	}
	if len(offsets) != 2 || offsets[0] != 41 || offsets[1] != 42 || stamps[0] != want || stamps[1] != 0 {
		t.Fatalf("got offsets %v stamps %v, want [41 42] [%d 0]", offsets, stamps, want)
	}

	ack, _ := proto.Marshal(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Ack{Ack: &wsv1.Ack{Id: 1, Position: &wsv1.Position{Epoch: 1}}}})
	if kind, err := parseServerFrame(ack, nil); kind != kindAck || err != nil {
		t.Fatalf("ack: kind %d, err %v", kind, err)
	}
	e, _ := proto.Marshal(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Error{Error: &wsv1.Error{Id: 1, Message: "nope"}}})
	if kind, err := parseServerFrame(e, nil); kind != kindError || err == nil {
		t.Fatalf("error: kind %d, err %v", kind, err)
	}
	if _, err := parseServerFrame(b[:len(b)-3], func(uint64, int64) {}); err == nil {
		t.Fatal("a truncated frame parsed")
	}
}

func TestPace(t *testing.T) {
	for _, workers := range []int{1, 3} {
		n := 0
		ch := make(chan struct{}, 1000)
		pace(context.Background(), 1000, 100*time.Millisecond, workers, func(context.Context) { ch <- struct{}{} })
		n = len(ch)
		if n < 80 || n > 120 {
			t.Errorf("workers=%d: %d calls at 1000/s for 100ms", workers, n)
		}
	}
}

// TestSmoke runs the whole measurement briefly, with the server in
// process. It checks that every event reaches every client; it times
// nothing.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the smoke run opens loopback WebSocket connections; the full run (CI) has it")
	}
	for _, tc := range []struct {
		publish  string
		channels int
		apart    bool // -publisher-process
	}{{"create", 1, false}, {"http", 1, false}, {"http", 2, false}, {"http", 2, true}} {
		t.Run(fmt.Sprintf("%s/channels=%d/apart=%t", tc.publish, tc.channels, tc.apart), func(t *testing.T) {
			cfg := config{
				Rate: 200, Dur: 200 * time.Millisecond, Size: 32, Publish: tc.publish, Workers: 2,
				InProcess: true, DialWorkers: 4, Room: "smoke", Target: "ssotws", Channels: tc.channels,
				PublisherProcess: tc.apart,
			}
			r, err := runOne(context.Background(), cfg, 5)
			if err != nil {
				t.Fatal(err)
			}
			require.Positive(t, r.Published)
			if tc.channels == 1 {
				assert.Equal(t, 5*r.Published, r.Expected, "5 subscribers of the one room")
			} else {
				// Rooms of 3 and 2 subscribers, publishes alternating.
				assert.InDelta(t, float64(5*r.Published)/2, float64(r.Expected), 1)
			}
			assert.Equal(t, r.Expected, r.Delivered)
			if tc.publish == "http" {
				assert.NotZero(t, r.AckP50, "acknowledgements measured")
			}
			assert.Zero(t, r.Gaps)
			assert.Zero(t, r.Closed)
		})
	}
}

// BenchmarkParseServerFrame measures what each benchmark client spends on
// one Events message of 1 or 8 events.
func BenchmarkParseServerFrame(b *testing.B) {
	for _, n := range []int{1, 8} {
		evs := make([]*wsv1.Event, n)
		for i := range evs {
			evs[i] = testEvent(b, uint64(i+1), stampText(64))
		}
		frame, _ := proto.Marshal(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Events{Events: &wsv1.Events{Events: evs}}})
		b.Run(map[int]string{1: "events=1", 8: "events=8"}[n], func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, err := parseServerFrame(frame, func(uint64, int64) {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEventsFrame compares the two ways of building a packed Events
// message for one connection: proto.Marshal of a ServerFrame (what a naive
// gateway does per subscriber) and concatenating events encoded once, as
// the gateway's fan-out does (ssotws/fanout.go).
func BenchmarkEventsFrame(b *testing.B) {
	evs := make([]*wsv1.Event, 8)
	chunks := make([][]byte, len(evs))
	for i := range evs {
		evs[i] = testEvent(b, uint64(i+1), stampText(64))
		enc, _ := proto.Marshal(evs[i])
		c := protowire.AppendTag(nil, 1, protowire.BytesType)
		c = protowire.AppendVarint(c, uint64(len(enc)))
		chunks[i] = append(c, enc...)
	}
	b.Run("marshal", func(b *testing.B) {
		f := &wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Events{Events: &wsv1.Events{Events: evs}}}
		var buf []byte
		for b.Loop() {
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], f)
		}
	})
	b.Run("concat", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			n := 0
			for _, c := range chunks {
				n += len(c)
			}
			buf = protowire.AppendTag(buf[:0], 3, protowire.BytesType)
			buf = protowire.AppendVarint(buf, uint64(n))
			for _, c := range chunks {
				buf = append(buf, c...)
			}
		}
	})
}
