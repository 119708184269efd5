package gen

import (
	"strconv"

	"google.golang.org/protobuf/compiler/protogen"
)

// genPresenceConfig writes the Presence and Signal fields of a model's
// ssotws.ModelConfig: the declared types the gateway checks payloads
// and signals against.
func genPresenceConfig(g *protogen.GeneratedFile, m *Model) {
	if m.Presence != nil {
		g.P("Presence: (*", m.Presence.GoIdent, ")(nil).ProtoReflect().Type(),")
	}
	if m.Signal != nil {
		g.P("Signal: (*", m.Signal.GoIdent, ")(nil).ProtoReflect().Type(),")
	}
}

// genPresence declares the typed presence and signals of the models that
// declare their types: MessagePresence, a client.PresenceOf, and
// MessageSignals, a client.SignalsOf.
func genPresence(g *protogen.GeneratedFile, f *File, _ *Params) {
	for _, m := range f.Models {
		if m.Realtime {
			genModelPresence(g, m)
		}
	}
}

// genModelPresence declares the typed presence and signals of one
// realtime model, those it declares.
func genModelPresence(g *protogen.GeneratedFile, m *Model) {
	n := newModelNames(m)
	name := m.Name()
	presence, signals := goPresenceNames(m)
	if p := m.Presence; p != nil {
		g.P("// ", presence, " joins the presence of ", name, "'s channels with a")
		g.P("// ", p.Desc.FullName(), " payload (the model's presence option), and gives the")
		g.P("// members with their payloads decoded:")
		g.P("// ", presence, ".Join(conn, ", n.Channels, ".", channelExample(m), ", &", g.QualifiedGoIdent(p.GoIdent), "{…}, nil).")
		g.P("var ", presence, " ", clientPackage.Ident("PresenceOf"), "[*", p.GoIdent, "]")
		g.P()
	}
	if s := m.Signal; s != nil {
		g.P("// ", signals, " sends the signals of ", name, "'s channels, each a")
		g.P("// ", s.Desc.FullName(), " (the model's signal option) named ", strconv.Quote(string(s.Desc.Name())), ", and")
		g.P("// decodes those received:")
		g.P("// ", signals, ".Send(ctx, conn, ", n.Channels, ".", channelExample(m), ", &", g.QualifiedGoIdent(s.GoIdent), "{…}, nil).")
		g.P("var ", signals, " ", clientPackage.Ident("SignalsOf"), "[*", s.GoIdent, "]")
		g.P()
	}
}

// goPresenceNames are the Go variables of m's declared presence and
// signal types ("MessagePresence", "MessageSignals"); empty for what m
// does not declare.
func goPresenceNames(m *Model) (presence, signals string) {
	base := m.Message.GoIdent.GoName
	if m.Presence != nil {
		presence = base + "Presence"
	}
	if m.Signal != nil {
		signals = base + "Signals"
	}
	return presence, signals
}

// channelExample is a call of a model's channel constructor for a doc
// comment: its first scope's, or All's.
func channelExample(m *Model) string {
	if len(m.Scopes) > 0 {
		return m.Scopes[0].Method + "(" + m.Scopes[0].Param + ")"
	}
	return "All()"
}
