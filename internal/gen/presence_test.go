package gen

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestBadPresenceDeclarations checks the presence and signal model
// options: a name that resolves to no message, or a declaration on a
// model without channels for it, stops generation at the model.
func TestBadPresenceDeclarations(t *testing.T) {
	tests := []struct {
		name  string
		proto string // appended to header, compiled as bad/v1/bad.proto
		param string
		want  string
	}{
		{
			name:  "unknown presence message",
			proto: `message Thing { option (ssot.ws.v1.model) = {realtime: true presence: "Member"}; string id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: presence names unknown message "Member"; name a message fully-qualified or relative to package bad.v1`,
		},
		{
			name:  "unknown signal message, fully qualified",
			proto: `message Thing { option (ssot.ws.v1.model) = {realtime: true signal: "other.v1.Typing"}; string id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: signal names unknown message "other.v1.Typing"; name a message fully-qualified or relative to package bad.v1`,
		},
		{
			name: "presence on a model that is not realtime",
			proto: `message Thing { option (ssot.ws.v1.model) = {realtime: false presence: "Member"}; string id = 1; }
message Member { string name = 1; }`,
			want: `bad/v1/bad.proto:6:1: bad.v1.Thing: presence is declared but Thing is not realtime (its model option sets realtime: false); presence and signals travel on a realtime model's channels: set realtime: true`,
		},
		{
			name: "signal on a model whose name does not say live",
			proto: `message Thing { option (ssot.ws.v1.model) = {signal: "Typing"}; string id = 1; }
message Typing { bool on = 1; }`,
			want: `bad/v1/bad.proto:6:1: bad.v1.Thing: signal is declared but Thing is not realtime (realtime is unset and its name does not say live); presence and signals travel on a realtime model's channels: set realtime: true`,
		},
		{
			name: "presence on an OWNER-read model",
			proto: `message Thing { option (ssot.ws.v1.model) = {realtime: true owner: "user" read: OWNER presence: "Member"}; string id = 1; string user = 2; }
message Member { string name = 1; }`,
			want: `bad/v1/bad.proto:6:1: bad.v1.Thing: presence is declared but Thing is read: OWNER, whose readers must not learn of each other: the gateway offers no presence or signals on it`,
		},
		{
			name: "typed presence variable clashing with a service",
			proto: `message Thing { option (ssot.ws.v1.model) = {realtime: true presence: "Member"}; string id = 1; }
message Member { string name = 1; }
message GetThingRequest { string id = 1; }
service ThingPresence { rpc GetThing(GetThingRequest) returns (Thing); }`,
			want: `bad/v1/bad.proto:9:1: bad.v1.ThingPresence: generated name clash: service implementation ThingPresence would clash with typed presence of bad.v1.Thing; rename one of them`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, generateErr(t, header+tt.proto+"\n", tt.param))
		})
	}
}

// TestPresenceTypes checks what the options give: the declared types in
// the model's config, checked by the gateway, and the typed values of the
// Go client; a package-relative and a fully-qualified name resolve alike,
// to a message of the file or of an imported one.
func TestPresenceTypes(t *testing.T) {
	const typesProto = `syntax = "proto3";
package types.v1; option go_package = "example.com/types/v1;typesv1";
message Cursor { int32 x = 1; int32 y = 2; }
`
	src := header + `import "types/v1/types.proto";
message Thing { option (ssot.ws.v1.model) = {realtime: true scopes: ["room"] presence: "Member" signal: ".types.v1.Cursor"}; string id = 1; string room = 2; }
message Member { string name = 1; }
`
	out := generateOK(t, map[string]string{"bad/v1/bad.proto": src, "types/v1/types.proto": typesProto}, "")
	assert.Contains(t, out, "Presence: (*v1.Member)(nil).ProtoReflect().Type(),")
	assert.Contains(t, out, "Signal:   (*v11.Cursor)(nil).ProtoReflect().Type(),")
	assert.Contains(t, out, "var ThingPresence client.PresenceOf[*v1.Member]")
	assert.Contains(t, out, "var ThingSignals client.SignalsOf[*v11.Cursor]")

	// realtime=off: no channels, nothing typed, and no error either.
	out = generateOK(t, map[string]string{"bad/v1/bad.proto": src, "types/v1/types.proto": typesProto}, "realtime=off")
	assert.NotContains(t, out, "Presence")
	assert.NotContains(t, out, "Signal")
}
