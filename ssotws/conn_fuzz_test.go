package ssotws

import (
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// FuzzClientFrame feeds arbitrary bytes through the read loop's decoding
// and dispatch: it must answer or close, never panic.
func FuzzClientFrame(f *testing.F) {
	for _, fr := range []*wsv1.ClientFrame{
		{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: "Thing?name=x", Since: &wsv1.Position{Epoch: 1}}}},
		{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 2, Channel: "Thing/k"}}},
		{Frame: &wsv1.ClientFrame_Unsubscribe{Unsubscribe: &wsv1.Unsubscribe{Id: 3, Channel: "Thing"}}},
		{Frame: &wsv1.ClientFrame_Auth{Auth: &wsv1.Auth{Token: "t"}}},
		{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{Nonce: 9}}},
		{Frame: &wsv1.ClientFrame_PresenceJoin{PresenceJoin: &wsv1.PresenceJoin{Id: 4, Channel: "Thing?name=x", Payload: []byte{0x0a, 0x01, 0x78}}}},
		{Frame: &wsv1.ClientFrame_PresenceJoin{PresenceJoin: &wsv1.PresenceJoin{Id: 5, Channel: "Thing/k", Payload: []byte{0xff}}}},
		{Frame: &wsv1.ClientFrame_SendSignal{SendSignal: &wsv1.SendSignal{Id: 6, Channel: "Thing", Name: "s", Data: []byte{0x0a, 0x01, 0x78}}}},
	} {
		b, _ := proto.Marshal(fr)
		f.Add(b)
	}
	// Any realtime model will do: FileDescriptorProto has a string "name".
	// Its presence payloads and signals are declared types, so that join
	// and signal frames also go through their decoding check.
	m := MustModel((&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor(),
		ModelConfig{Key: "name", Scopes: []string{"name"}, Realtime: true,
			Presence: (&descriptorpb.FieldDescriptorProto{}).ProtoReflect().Type(),
			Signal:   (&descriptorpb.DescriptorProto{}).ProtoReflect().Type()})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewMemoryBroker(&MemoryBrokerOptions{Epoch: 1})
		g := &Gateway{broker: b, hub: newHub(), models: map[string]*Model{"Thing": m}}
		g.opts.Limits = Limits{}.withDefaults()
		g.logger = newDiscardLogger()
		g.presence = newPresence(g) // as NewGateway does: presence frames reach it
		defer g.presence.stop()
		c := &conn{g: g, q: newSendQueue(g.opts.Limits.SendQueue), subs: map[string]*subscription{}}
		c.ctx, c.cancel = t.Context(), func() {}
		var fr wsv1.ClientFrame
		if proto.Unmarshal(data, &fr) != nil {
			return
		}
		c.handle(&fr)
		for _, it := range c.q.take() {
			if it.ev == nil {
				var sf wsv1.ServerFrame
				if err := proto.Unmarshal(it.frame, &sf); err != nil {
					t.Fatalf("queued an undecodable frame: %v", err)
				}
			}
		}
	})
}
