package gen

import "google.golang.org/protobuf/compiler/protogen"

// tsPresenceNames are the TypeScript constants of a model's declared
// presence and signal types ("MessagePresence", "MessageSignals"); empty
// when the model declares none.
func (w *tsWriter) presenceNames(m *Model) (presence, signals string) {
	if !m.Realtime {
		return "", ""
	}
	base := w.es.of(m.Message.Desc).shape
	if m.Presence != nil {
		presence = base + "Presence"
	}
	if m.Signal != nil {
		signals = base + "Signals"
	}
	return presence, signals
}

// presence declares a model's typed presence and signals: constants bound
// to the declared messages' schemas, for the runtime's usePresence,
// useSignals and useTyping.
func (w *tsWriter) presence(m *Model) {
	presence, signals := w.presenceNames(m)
	name := m.Name()
	channel := w.modelNames(m).Channels + ".all()"
	if len(m.Scopes) > 0 {
		channel = w.modelNames(m).Channels + "." + tsScopeMethod(m.Scopes[0]) + "(" + tsParam(string(m.Scopes[0].Field.Desc.Name())) + ")"
	}
	if presence != "" {
		w.jsdoc("", wrap(presence+" types the presence of "+name+"'s channels: a member's payload is a "+
			string(m.Presence.Desc.FullName())+" (the model's presence option), which the gateway checks. "+
			"Join with usePresence("+presence+", "+channel+", { payload }) or "+presence+".join(connection, channel).", 78))
		w.p("export const ", presence, " = ", w.runtime("definePresence", false), "(", w.schemaOf(m.Presence), ");")
		w.p()
	}
	if signals != "" {
		w.jsdoc("", wrap(signals+" types the signals of "+name+"'s channels: each is a "+
			string(m.Signal.Desc.FullName())+" (the model's signal option), which the gateway checks, named "+
			"\""+string(m.Signal.Desc.Name())+"\". Send and hear them with useSignals("+signals+", "+channel+", onSignal) or "+
			signals+".send(connection, channel, value).", 78))
		w.p("export const ", signals, " = ", w.runtime("defineSignals", false), "(", w.schemaOf(m.Signal), ");")
		w.p()
	}
}

// schemaOf imports protoc-gen-es's schema constant of msg.
func (w *tsWriter) schemaOf(msg *protogen.Message) string {
	return w.pb(msg.Desc.ParentFile(), w.es.of(msg.Desc).desc, false)
}
