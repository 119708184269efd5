package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Typed presence and signals: a model's presence and signal options
// declare the messages its channels carry, and the generated code gives
// [PresenceOf] and [SignalsOf] values for them (MessagePresence,
// MessageSignals). On the wire both stay bytes, the encoded message: the
// untyped [Conn.Join] and [Conn.Signal] see the same frames. The twin of
// ts/runtime/src/presence_typed.ts.

// PresenceOf joins channels whose presence payload is a P. Its zero value
// is ready to use; generated code declares one per model with a presence
// option.
type PresenceOf[P proto.Message] struct{}

// TypedMember is one user present in a channel, with their payload
// decoded. A payload that does not decode as a P (sent to a gateway that
// does not check it) is an empty P.
type TypedMember[P proto.Message] struct {
	// User is the authenticated subject, or "anon:<id>".
	User    string
	Payload P
}

// TypedJoinOptions configures [PresenceOf.Join].
type TypedJoinOptions[P proto.Message] struct {
	// Observe hears the channel's presence and signals without appearing
	// in it.
	Observe bool
	// OnChange, when set, is called with the members after each change,
	// on the Conn's callback goroutine, one call at a time.
	OnChange func(members []TypedMember[P])
	// OnSignal, when set, is called with each signal of the channel, on
	// the same goroutine: decode it with [SignalsOf.Handle].
	OnSignal func(s Signal)
}

// TypedPresence is a [Presence] whose payloads are P.
type TypedPresence[P proto.Message] struct {
	p *Presence
}

// Join enters the presence of channel with payload (nil: an empty P), as
// [Conn.Join] does with its encoding. The gateway refuses a payload that
// does not decode as the channel's declared type ([Presence.Err]).
func (PresenceOf[P]) Join(c *Conn, channel string, payload P, opts *TypedJoinOptions[P]) (*TypedPresence[P], error) {
	b, err := marshal(payload)
	if err != nil {
		return nil, err
	}
	jo := &JoinOptions{Payload: b}
	if opts != nil {
		jo.Observe, jo.OnSignal = opts.Observe, opts.OnSignal
		if fn := opts.OnChange; fn != nil {
			jo.OnChange = func(members []Member) { fn(decodeMembers[P](members)) }
		}
	}
	p, err := c.Join(channel, jo)
	if err != nil {
		return nil, err
	}
	return &TypedPresence[P]{p: p}, nil
}

// Untyped returns the underlying [Presence].
func (t *TypedPresence[P]) Untyped() *Presence { return t.p }

// Channel returns the channel's name.
func (t *TypedPresence[P]) Channel() string { return t.p.Channel() }

// Members returns the users present, sorted by user.
func (t *TypedPresence[P]) Members() []TypedMember[P] {
	return decodeMembers[P](t.p.Members())
}

// Watch returns the members and a channel closed at the next change.
func (t *TypedPresence[P]) Watch() ([]TypedMember[P], <-chan struct{}) {
	m, changed := t.p.Watch()
	return decodeMembers[P](m), changed
}

// Err returns the gateway's refusal of the last join, or nil.
func (t *TypedPresence[P]) Err() error { return t.p.Err() }

// SetPayload changes what the other members see of this user.
func (t *TypedPresence[P]) SetPayload(payload P) error {
	b, err := marshal(payload)
	if err != nil {
		return err
	}
	t.p.SetPayload(b)
	return nil
}

// Leave leaves the channel's presence.
func (t *TypedPresence[P]) Leave() { t.p.Leave() }

func decodeMembers[P proto.Message](members []Member) []TypedMember[P] {
	out := make([]TypedMember[P], len(members))
	for i, m := range members {
		p := newMessage[P]()
		if proto.Unmarshal(m.Payload, p) != nil {
			p = newMessage[P]()
		}
		out[i] = TypedMember[P]{User: m.User, Payload: p}
	}
	return out
}

// SignalsOf sends and decodes signals that are an S. A typed signal is
// named after its message ("Typing"). Its zero value is ready to use;
// generated code declares one per model with a signal option.
type SignalsOf[S proto.Message] struct{}

// TypedSignal is a signal with its data decoded.
type TypedSignal[S proto.Message] struct {
	Channel string
	User    string
	Name    string
	Data    S
}

// Name is the name typed signals are sent with: S's short name.
func (SignalsOf[S]) Name() string {
	return string(newMessage[S]().ProtoReflect().Descriptor().Name())
}

// Send publishes s (nil: an empty S) on channel, as [Conn.Signal] does
// with its encoding, and waits for the gateway's answer.
func (t SignalsOf[S]) Send(ctx context.Context, c *Conn, channel string, s S, opts *SignalOptions) error {
	b, err := marshal(s)
	if err != nil {
		return err
	}
	return c.Signal(ctx, channel, t.Name(), b, opts)
}

// Decode decodes the data of s as an S.
func (SignalsOf[S]) Decode(s Signal) (TypedSignal[S], error) {
	v := newMessage[S]()
	if err := proto.Unmarshal(s.Data, v); err != nil {
		return TypedSignal[S]{}, fmt.Errorf("ssotws/client: signal %q on %q is not a %s: %w", s.Name, s.Channel, v.ProtoReflect().Descriptor().FullName(), err)
	}
	return TypedSignal[S]{Channel: s.Channel, User: s.User, Name: s.Name, Data: v}, nil
}

// Handle adapts fn to [JoinOptions].OnSignal and [TypedJoinOptions].OnSignal:
// it decodes each signal and drops one that does not decode.
func (t SignalsOf[S]) Handle(fn func(s TypedSignal[S])) func(Signal) {
	return func(s Signal) {
		if ts, err := t.Decode(s); err == nil {
			fn(ts)
		}
	}
}

// newMessage returns a new, empty M, for a generated message type (a
// pointer, whose nil value still knows its type) or any other.
func newMessage[M proto.Message]() M {
	var zero M
	return zero.ProtoReflect().New().Interface().(M)
}

// marshal encodes m; a nil message is empty.
func marshal[M proto.Message](m M) ([]byte, error) {
	if m.ProtoReflect().IsValid() {
		b, err := proto.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("ssotws/client: encode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
		}
		return b, nil
	}
	return nil, nil
}
