package ssotws

import (
	"fmt"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Ephemeral signals: a small message a client publishes on a channel it
// may write to (a typing indicator). A signal is not stored and not
// replayed: it reaches the connections present in the channel (presence.go)
// at that moment, on this node and, through the [ControlBroker], on the
// others. The sender does not hear its own signal unless it asks (echo).

// signal serves a SendSignal on the read loop.
func (p *presence) signal(c *conn, req *wsv1.SendSignal) {
	id := req.GetId()
	refuse := func(code wsv1.ErrorCode, msg string) {
		if id != 0 {
			c.sendError(id, code, msg)
		}
	}
	name, m, code, msg := c.g.resolve(req.GetChannel())
	if m == nil {
		refuse(code, msg)
		return
	}
	if len(req.GetName()) > maxSignalName || len(req.GetName())+len(req.GetData()) > p.o.MaxSignalBytes {
		refuse(wsv1.ErrorCode_ERROR_CODE_TOO_LARGE, fmt.Sprintf("a signal is at most %d bytes, its name %d", p.o.MaxSignalBytes, maxSignalName))
		return
	}
	if code, msg, ok := c.mayWrite(m, name, req.GetName()); !ok {
		refuse(code, msg)
		return
	}
	if msg, ok := decodes(m.SignalType(), "a signal", name, req.GetData()); !ok {
		refuse(wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST, msg)
		return
	}
	channel := name.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.connLocked(c)
	if !pc.bucket.allowN(time.Now(), 1) {
		refuse(wsv1.ErrorCode_ERROR_CODE_RATE_LIMITED, fmt.Sprintf("at most %g signals per second", p.o.SignalRate))
		return
	}
	sig := &wsv1.Signal{Channel: channel, User: pc.user, Name: req.GetName(), Data: req.GetData()}
	var skip *conn
	if !req.GetEcho() {
		skip = c
	}
	p.deliverLocked(sig, skip)
	p.cl.signal(sig)
	if id != 0 {
		c.send(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Ack{Ack: &wsv1.Ack{Id: id}}}, false)
	}
}

// decodes checks that data, what (a presence payload, a signal) on
// channel, is a t, the type its model declares; nil t accepts any bytes.
// The bytes relayed are data as received: decoding only checks them, so
// fields unknown to this server (a newer schema) pass through.
func decodes(t protoreflect.MessageType, what string, channel ChannelName, data []byte) (string, bool) {
	if t == nil {
		return "", true
	}
	if err := proto.Unmarshal(data, t.New().Interface()); err != nil {
		return fmt.Sprintf("%s on %q must be a %s: %v", what, truncate(channel.String()), t.Descriptor().FullName(), err), false
	}
	return "", true
}

// deliverLocked queues sig for the members of its channel on this node,
// except skip.
func (p *presence) deliverLocked(sig *wsv1.Signal, skip *conn) {
	if ch := p.channels[sig.GetChannel()]; ch != nil {
		ch.broadcast(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Signal{Signal: sig}}, skip)
	}
}

// mayWrite applies the model's write access and the AuthorizeSignal hook
// to a signal on channel.
func (c *conn) mayWrite(m *Model, name ChannelName, signal string) (wsv1.ErrorCode, string, bool) {
	ctx, ident := c.hookContext()
	if m.WriteAccess() != wsv1.Access_PUBLIC && (ident == nil || ident.Subject == "") {
		return wsv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED, fmt.Sprintf("signals on %s need an authenticated connection", m.Name()), false
	}
	if hook := c.g.opts.Presence.AuthorizeSignal; hook != nil {
		err := c.g.safe("AuthorizeSignal", func() error { return hook(ctx, ident, m, name, signal) })
		if err != nil {
			return errorCodeOf(err), fmt.Sprintf("may not signal on %q", name.String()), false
		}
	}
	return 0, "", true
}
