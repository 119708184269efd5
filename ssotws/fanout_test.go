package ssotws

import (
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func TestEventsFrameIsAServerFrame(t *testing.T) {
	events := []*wsv1.Event{
		{Channel: "Message?room_id=r1", Type: created, Key: "a", Version: 1, Position: &wsv1.Position{Epoch: 3, Offset: 1}, Data: []byte{0x0a, 0x01, 'a'}},
		{Channel: "Message?room_id=r1", Type: deleted, Key: "b", Version: 9, Position: &wsv1.Position{Epoch: 3, Offset: 2}, RequestId: "req"},
	}
	var chunks [][]byte
	for _, e := range events {
		se, err := newSharedEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, se.chunk)
	}
	var f wsv1.ServerFrame
	if err := proto.Unmarshal(appendEventsFrame(nil, chunks), &f); err != nil {
		t.Fatal(err)
	}
	want := &wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Events{Events: &wsv1.Events{Events: events}}}
	if !proto.Equal(&f, want) {
		t.Fatalf("decoded %v, want %v", &f, want)
	}
}

func TestScanString(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "id")
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, "alice")
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, 7)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, "bob") // last one wins
	if got := scanString(b, 3); got != "bob" {
		t.Fatalf("scanString = %q", got)
	}
	if got := scanString(b, 4); got != "" {
		t.Fatalf("absent field = %q", got)
	}
	if got := scanString(b[:len(b)-1], 3); got != "" {
		t.Fatalf("truncated message = %q", got)
	}
}
