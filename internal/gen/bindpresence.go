package gen

import (
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/compiler/protogen"
)

// maxSignalName is the gateway's bound on a signal's name: a typed signal
// is named after its message.
const maxSignalName = 64

// presenceTypes binds the presence and signal options of m: the message
// types of its presence payload and of its signals. A name that resolves
// to no message, a declaration on a model without channels, or on one
// whose readers may not see each other is a problem.
func (b *binder) presenceTypes(m *Model, opts *wsv1.ModelOptions) {
	d := m.Message.Desc
	for _, o := range []struct {
		what string
		name string
		to   **protogen.Message
	}{{"presence", opts.GetPresence(), &m.Presence}, {"signal", opts.GetSignal(), &m.Signal}} {
		if o.name == "" {
			continue
		}
		msg := b.resolve(d.ParentFile().Package(), o.name)
		switch {
		case msg == nil:
			b.probs.addf(d, "%s names unknown message %q; name a message fully-qualified or relative to package %s", o.what, o.name, d.ParentFile().Package())
			continue
		case b.realtime == RealtimeOff:
			// realtime=off: no channels, so nothing to type; not an error,
			// so that one schema serves both outputs.
			continue
		case !m.Realtime:
			b.probs.addf(d, "%s is declared but %s is not realtime (%s); presence and signals travel on a realtime model's channels: set realtime: true", o.what, d.Name(), notLiveReason(m))
			continue
		case m.Read == wsv1.Access_OWNER:
			b.probs.addf(d, "%s is declared but %s is read: OWNER, whose readers must not learn of each other: the gateway offers no presence or signals on it", o.what, d.Name())
			continue
		case o.what == "signal" && len(msg.Desc.Name()) > maxSignalName:
			b.probs.addf(d, "signal %s: a typed signal is named after its message, and a signal name is at most %d bytes", msg.Desc.FullName(), maxSignalName)
			continue
		}
		*o.to = msg
	}
}

// notLiveReason says, as a clause, why m is not realtime.
func notLiveReason(m *Model) string {
	if m.RealtimeReason == ReasonOptionOff {
		return "its model option sets realtime: false"
	}
	return "realtime is unset and its name does not say live"
}
