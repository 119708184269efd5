package gen

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// header starts every inline proto of the error table: line 1 is syntax,
// so a message declared right after it starts on line 7.
const header = `syntax = "proto3";
package bad.v1; option go_package = "example.com/bad/v1;badv1";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "ssot/ws/v1/options.proto";
`

func TestBadDeclarations(t *testing.T) {
	tests := []struct {
		name  string
		proto string // appended to header, compiled as bad/v1/bad.proto
		param string
		want  string // the whole error
	}{
		{
			name:  "missing key field",
			proto: `message Thing { option (ssot.ws.v1.model) = {key: "uid"}; string id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: key field "uid" does not exist; set key to a string or integer field of Thing`,
		},
		{
			name:  "missing default key field",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string name = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: key field "id" does not exist; set key to a string or integer field of Thing`,
		},
		{
			name:  "bytes key",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; bytes id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: key field "id" is bytes; a key must be a singular string or integer field`,
		},
		{
			name:  "message key",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; google.protobuf.Empty id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: key field "id" is google.protobuf.Empty; a key must be a singular string or integer field`,
		},
		{
			name:  "float key",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; double id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: key field "id" is double; a key must be a singular string or integer field`,
		},
		{
			name:  "repeated key",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; repeated string id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: key field "id" is repeated string; a key must be a singular string or integer field`,
		},
		{
			name:  "scope naming no field",
			proto: `message Thing { option (ssot.ws.v1.model) = {scopes: ["room_id"]}; string id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: scope "room_id" names no field of Thing`,
		},
		{
			name:  "scope of a non-scalar field",
			proto: `message Thing { option (ssot.ws.v1.model) = {scopes: ["tags"]}; string id = 1; repeated string tags = 2; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: scope "tags" is repeated string; a scope must be a singular string, integer, bool or enum field`,
		},
		{
			name:  "owner not a string",
			proto: `message Thing { option (ssot.ws.v1.model) = {owner: "author_id"}; string id = 1; int64 author_id = 2; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: owner field "author_id" is int64; the owner must be a singular string field`,
		},
		{
			name:  "owner naming no field",
			proto: `message Thing { option (ssot.ws.v1.model) = {owner: "author"}; string id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: owner "author" names no field of Thing`,
		},
		{
			name:  "owner access without owner",
			proto: `message Thing { option (ssot.ws.v1.model) = {write: OWNER}; string id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: write: OWNER needs an owner field; set owner to the string field holding the owner's identity`,
		},
		{
			name: "service option naming a nonexistent model",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
service ThingService { option (ssot.ws.v1.service) = {models: ["Thing", "Widget"]}; }`,
			want: `bad/v1/bad.proto:7:1: bad.v1.ThingService: service option names unknown model "Widget"`,
		},
		{
			name: "service option naming a message that is not a model",
			proto: `message Thing { string id = 1; }
service ThingService { option (ssot.ws.v1.service) = {models: ["bad.v1.Thing"]}; }`,
			want: `bad/v1/bad.proto:7:1: bad.v1.ThingService: service option names bad.v1.Thing, which is not a model: it has no (ssot.ws.v1.model) option`,
		},
		{
			name: "a model named twice",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
service ThingService { option (ssot.ws.v1.service) = {models: ["Thing", "bad.v1.Thing"]}; }`,
			want: `bad/v1/bad.proto:7:1: bad.v1.ThingService: service option names model bad.v1.Thing twice`,
		},
		{
			name: "two methods claiming one standard method",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetThingRequest { string id = 1; }
service ThingService {
  rpc GetThing(GetThingRequest) returns (Thing);
  rpc FetchThing(GetThingRequest) returns (Thing) { option (ssot.ws.v1.method) = {model: "Thing", standard: STANDARD_METHOD_GET}; }
}`,
			want: `bad/v1/bad.proto:10:3: bad.v1.ThingService.FetchThing: GetThing already implements Get for model bad.v1.Thing; a service implements each standard method of a model once`,
		},
		{
			name: "create without a model field",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message CreateThingRequest { string id = 1; }
service ThingService { rpc CreateThing(CreateThingRequest) returns (Thing); }`,
			want: `bad/v1/bad.proto:8:24: bad.v1.ThingService.CreateThing: create request bad.v1.CreateThingRequest has no bad.v1.Thing field; it must carry the model (AIP-133)`,
		},
		{
			name: "update without update_mask",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message UpdateThingRequest { Thing thing = 1; }
service ThingService { rpc UpdateThing(UpdateThingRequest) returns (Thing); }`,
			want: `bad/v1/bad.proto:8:24: bad.v1.ThingService.UpdateThing: update request bad.v1.UpdateThingRequest has no update_mask field; add google.protobuf.FieldMask update_mask (AIP-134)`,
		},
		{
			name: "list response without a repeated model field",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message ListThingsRequest { int32 page_size = 1; }
message ListThingsResponse { Thing thing = 1; string next_page_token = 2; }
service ThingService { rpc ListThings(ListThingsRequest) returns (ListThingsResponse); }`,
			want: `bad/v1/bad.proto:9:24: bad.v1.ThingService.ListThings: list response bad.v1.ListThingsResponse has no repeated bad.v1.Thing field`,
		},
		{
			name: "list filter of the wrong type",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; int64 size = 2; }
message ListThingsRequest { string size = 1; }
message ListThingsResponse { repeated Thing things = 1; string next_page_token = 2; }
service ThingService { rpc ListThings(ListThingsRequest) returns (ListThingsResponse); }`,
			want: `bad/v1/bad.proto:9:24: bad.v1.ThingService.ListThings: list request field "size" is string and Thing.size is int64; a filter must have the type of a singular string, integer, bool or enum model field`,
		},
		{
			name: "get request without key field",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetThingRequest { string uid = 1; }
service ThingService { rpc GetThing(GetThingRequest) returns (Thing); }`,
			want: `bad/v1/bad.proto:8:24: bad.v1.ThingService.GetThing: get request bad.v1.GetThingRequest has no key field; add string id = 1 (the key of Thing)`,
		},
		{
			name: "get response that is not the model",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetThingRequest { string id = 1; }
service ThingService { rpc GetThing(GetThingRequest) returns (google.protobuf.Empty); }`,
			want: `bad/v1/bad.proto:8:24: bad.v1.ThingService.GetThing: response google.protobuf.Empty is neither bad.v1.Thing nor a message wrapping it in one field`,
		},
		{
			name: "method option naming an unknown model",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetThingRequest { string id = 1; }
service ThingService {
  rpc FetchThing(GetThingRequest) returns (Thing) { option (ssot.ws.v1.method) = {model: "Widget", standard: STANDARD_METHOD_GET}; }
}`,
			want: `bad/v1/bad.proto:9:3: bad.v1.ThingService.FetchThing: method option names unknown model "Widget"`,
		},
		{
			name:  "channel constructor name clash",
			proto: `message Thing { option (ssot.ws.v1.model) = {realtime: true, scopes: ["room_id", "room"]}; string id = 1; string room_id = 2; string room = 3; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: channel constructor name clash: scopes "room_id" and "room" both give ThingChannels.Room`,
		},
		{
			name:  "generated name clash",
			proto: `message Register { option (ssot.ws.v1.model) = {realtime: true}; string id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Register: generated name clash: channel constructor RegisterChannels would clash with the channel registration of bad/v1/bad.proto; rename one of them`,
		},
		{
			name:  "realtime parameter invalid",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }`,
			param: "realtime=sometimes",
			want:  `protoc-gen-ssot-ws: parameter realtime="sometimes": want auto, on or off`,
		},
		{
			name:  "unknown plugin parameter",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }`,
			param: "lang=go,colour=blue",
			want:  `protoc-gen-ssot-ws: unknown parameter "colour"; known parameters: M…, connect_package_suffix, import_extension, lang, module, package_suffix, paths, realtime, runtime`,
		},
		{
			name:  "import_extension invalid",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }`,
			param: "lang=ts,import_extension=mjs",
			want:  `protoc-gen-ssot-ws: parameter import_extension="mjs": want none, js or ts, as protoc-gen-es`,
		},
		{
			name:  "runtime invalid",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }`,
			param: "lang=ts,runtime=vendor",
			want:  `protoc-gen-ssot-ws: parameter runtime="vendor": want package (import @ssot-ws/runtime) or emit (write a copy of it)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := generateErr(t, header+tt.proto+"\n", tt.param)
			if got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestNameClashAcrossFiles checks that names are unique per Go package,
// not per file: a clash between two files of one package is reported by
// the plugin, at the element that causes it, never left to go build.
func TestNameClashAcrossFiles(t *testing.T) {
	sources := map[string]string{
		"bad/v1/a.proto": header + `message Register { option (ssot.ws.v1.model) = {realtime: true}; string id = 1; }` + "\n",
		"bad/v1/b.proto": header + `message Thing { option (ssot.ws.v1.model) = {realtime: true}; string id = 1; }` + "\n",
	}
	req := compileRequest(t, "", sources, []string{"bad/v1/a.proto", "bad/v1/b.proto"}, "")
	_, err := run(req)
	require.Error(t, err)
	assert.Equal(t, `bad/v1/a.proto:6:1: bad.v1.Register: generated name clash: channel constructor RegisterChannels would clash with the channel registration of bad/v1/a.proto, bad/v1/b.proto; rename one of them`, err.Error())
}

// TestBadDeclarationsTogether checks that every problem is reported at
// once, sorted by place, one per line.
func TestBadDeclarationsTogether(t *testing.T) {
	src := header + `message Widget { option (ssot.ws.v1.model) = {owner: "x", scopes: ["nope"]}; string id = 1; }
message Thing { option (ssot.ws.v1.model) = {key: "uid"}; string id = 1; }
message UpdateWidgetRequest { Widget widget = 1; }
service WidgetService {
  rpc UpdateWidget(UpdateWidgetRequest) returns (Widget);
}
`
	got := generateErr(t, src, "")
	want := strings.Join([]string{
		`bad/v1/bad.proto:6:1: bad.v1.Widget: owner "x" names no field of Widget`,
		`bad/v1/bad.proto:6:1: bad.v1.Widget: scope "nope" names no field of Widget`,
		`bad/v1/bad.proto:7:1: bad.v1.Thing: key field "uid" does not exist; set key to a string or integer field of Thing`,
		`bad/v1/bad.proto:10:3: bad.v1.WidgetService.UpdateWidget: update request bad.v1.UpdateWidgetRequest has no update_mask field; add google.protobuf.FieldMask update_mask (AIP-134)`,
	}, "\n")
	if got != want {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
}

// generateErr runs the plugin on one inline file and returns its error.
func generateErr(t *testing.T, src, param string) string {
	t.Helper()
	const name = "bad/v1/bad.proto"
	req := compileRequest(t, "", map[string]string{name: src}, []string{name}, param)
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panic: %v", r)
			}
		}()
		_, err = run(req)
	}()
	if err == nil {
		t.Fatal("no error")
	}
	return err.Error()
}
