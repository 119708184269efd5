package gen

import (
	"path"
	"slices"
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
import "ssot/ws/v1/options.proto"; import "google/api/resource.proto";
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
			name:  "two fields in one column",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; string title = 2; string name = 3 [(ssot.ws.v1.field) = {column: "title"}]; }`,
			want:  `bad/v1/bad.proto:6:82: bad.v1.Thing.name: fields "title" and "name" both have column "title"; set the column option of one to another name`,
		},
		{
			name:  "bookkeeping column",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; int64 ssotws_seq = 2; }`,
			want:  `bad/v1/bad.proto:6:64: bad.v1.Thing.ssotws_seq: column "ssotws_seq" is a bookkeeping column of the SQL stores; set the field's column option to another name`,
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
			want: `bad/v1/bad.proto:10:3: bad.v1.ThingService.FetchThing: GetThing already implements the standard Get of bad.v1.Thing; a service implements each standard method of a model once`,
		},
		{
			name: "create without a model field",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message CreateThingRequest { string id = 1; }
service ThingService { rpc CreateThing(CreateThingRequest) returns (Thing); }`,
			param: "binding=strict",
			want:  `bad/v1/bad.proto:8:24: bad.v1.ThingService.CreateThing: bound by its name (Create + Thing) to the standard Create of bad.v1.Thing: create request bad.v1.CreateThingRequest has no bad.v1.Thing field; it must carry the model (AIP-133)`,
		},
		{
			name: "update without update_mask",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message UpdateThingRequest { Thing thing = 1; }
service ThingService { rpc UpdateThing(UpdateThingRequest) returns (Thing); }`,
			param: "binding=strict",
			want:  `bad/v1/bad.proto:8:24: bad.v1.ThingService.UpdateThing: bound by its name (Update + Thing) to the standard Update of bad.v1.Thing: update request bad.v1.UpdateThingRequest has no update_mask field; add google.protobuf.FieldMask update_mask (AIP-134)`,
		},
		{
			name: "list response without a repeated model field",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message ListThingsRequest { int32 page_size = 1; }
message ListThingsResponse { Thing thing = 1; string next_page_token = 2; }
service ThingService { rpc ListThings(ListThingsRequest) returns (ListThingsResponse); }`,
			param: "binding=strict",
			want:  `bad/v1/bad.proto:9:24: bad.v1.ThingService.ListThings: bound by its name (List + Things) to the standard List of bad.v1.Thing: list response bad.v1.ListThingsResponse has no repeated bad.v1.Thing field`,
		},
		{
			name: "list filter of the wrong type",
			proto: `message Thing { option (ssot.ws.v1.model) = {scopes: ["size"]}; string id = 1; int64 size = 2; }
message ListThingsRequest { string size = 1; }
message ListThingsResponse { repeated Thing things = 1; string next_page_token = 2; }
service ThingService { rpc ListThings(ListThingsRequest) returns (ListThingsResponse); }`,
			param: "binding=strict",
			want:  `bad/v1/bad.proto:7:29: bad.v1.ThingService.ListThings: bound by its name (List + Things) to the standard List of bad.v1.Thing: list request field "size" is string and Thing.size is int64; a filter must have the type of a singular string, integer, bool or enum model field`,
		},
		{
			name: "list filter option on a field the model lacks",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message ListThingsRequest { string size = 1 [(ssot.ws.v1.field).filter = true]; }
message ListThingsResponse { repeated Thing things = 1; string next_page_token = 2; }
service ThingService { rpc ListThings(ListThingsRequest) returns (ListThingsResponse); }`,
			param: "binding=strict",
			want:  `bad/v1/bad.proto:7:29: bad.v1.ThingService.ListThings: bound by its name (List + Things) to the standard List of bad.v1.Thing: list request field "size" sets (ssot.ws.v1.field).filter but Thing has no field "size" to filter on`,
		},
		{
			name: "create parent that is not a string",
			proto: `message Thing { option (ssot.ws.v1.model) = {key: "name"}; option (google.api.resource) = {pattern: "shelves/{shelf}/things/{thing}"}; string name = 1; }
message CreateThingRequest { int64 parent = 1; Thing thing = 2; }
service ThingService { rpc CreateThing(CreateThingRequest) returns (Thing); }`,
			param: "binding=strict",
			want:  `bad/v1/bad.proto:7:30: bad.v1.ThingService.CreateThing: bound by its name (Create + Thing) to the standard Create of bad.v1.Thing: create request field "parent" is int64; it must be a string field`,
		},
		{
			name:  "resource pattern without a final variable",
			proto: `message Thing { option (ssot.ws.v1.model) = {key: "name"}; option (google.api.resource) = {pattern: "shelves/{shelf}/things"}; string name = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: google.api.resource pattern "shelves/{shelf}/things" does not end in a collection and a {variable}; ssot-ws builds names from such patterns only`,
		},
		{
			name:  "scope whose channel constructor is the parent's",
			proto: `message Thing { option (ssot.ws.v1.model) = {key: "name", scopes: ["parent_id"]}; option (google.api.resource) = {pattern: "shelves/{shelf}/things/{thing}"}; string name = 1; string parent_id = 2; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: channel constructor name clash: scope "parent_id" gives ThingChannels.Parent, which names the channel of the resource's parent; rename the field`,
		},
		{
			name:  "resource keyed by an integer",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; option (google.api.resource) = {pattern: "things/{thing}"}; int64 id = 1; }`,
			want:  `bad/v1/bad.proto:6:1: bad.v1.Thing: key field "id" is int64; a resource with a google.api.resource pattern is keyed by its name, a string field`,
		},
		{
			name: "get request without key field",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetThingRequest { string uid = 1; }
service ThingService { rpc GetThing(GetThingRequest) returns (Thing); }`,
			param: "binding=strict",
			want:  `bad/v1/bad.proto:8:24: bad.v1.ThingService.GetThing: bound by its name (Get + Thing) to the standard Get of bad.v1.Thing: get request bad.v1.GetThingRequest has no key field; add string id = 1 (the key of Thing)`,
		},
		{
			name: "get response that is not the model",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetThingRequest { string id = 1; }
service ThingService { rpc GetThing(GetThingRequest) returns (google.protobuf.Empty); }`,
			param: "binding=strict",
			want:  `bad/v1/bad.proto:8:24: bad.v1.ThingService.GetThing: bound by its name (Get + Thing) to the standard Get of bad.v1.Thing: response google.protobuf.Empty is neither bad.v1.Thing nor a message wrapping it in one field`,
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
			want:  `parameter realtime="sometimes": want auto, on or off`,
		},
		{
			name:  "unknown plugin parameter",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }`,
			param: "lang=go,colour=blue",
			want:  `unknown parameter "colour"; known parameters: M…, binding, connect, connect_package_suffix, import_extension, lang, module, package_suffix, paths, realtime, runtime`,
		},
		{
			name:  "binding invalid",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }`,
			param: "binding=loose",
			want:  `parameter binding="loose": want lenient (leave methods that are not standard to you) or strict (report them)`,
		},
		{
			name: "skip and bind at once",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetThingRequest { string id = 1; }
service ThingService {
  rpc GetThing(GetThingRequest) returns (Thing) { option (ssot.ws.v1.method) = {skip: true, model: "Thing"}; }
}`,
			want: `bad/v1/bad.proto:9:3: bad.v1.ThingService.GetThing: method option sets skip and also binds the method (model or standard); choose one`,
		},
		{
			name:  "import_extension invalid",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }`,
			param: "lang=ts,import_extension=mjs",
			want:  `parameter import_extension="mjs": want none, js or ts, as protoc-gen-es`,
		},
		{
			name:  "runtime invalid",
			proto: `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }`,
			param: "lang=ts,runtime=vendor",
			want:  `parameter runtime="vendor": want package (import @ssot-ws/runtime) or emit (write a copy of it)`,
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
	got := generateErr(t, src, "binding=strict")
	want := strings.Join([]string{
		`bad/v1/bad.proto:6:1: bad.v1.Widget: owner "x" names no field of Widget`,
		`bad/v1/bad.proto:6:1: bad.v1.Widget: scope "nope" names no field of Widget`,
		`bad/v1/bad.proto:7:1: bad.v1.Thing: key field "uid" does not exist; set key to a string or integer field of Thing`,
		`bad/v1/bad.proto:10:3: bad.v1.WidgetService.UpdateWidget: bound by its name (Update + Widget) to the standard Update of bad.v1.Widget: update request bad.v1.UpdateWidgetRequest has no update_mask field; add google.protobuf.FieldMask update_mask (AIP-134)`,
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

// generateOK runs the plugin on inline files and returns the Go output of
// the first by name, failing the test on an error.
func generateOK(t *testing.T, sources map[string]string, param string) string {
	t.Helper()
	var names []string
	for name := range sources {
		names = append(names, name)
	}
	slices.Sort(names)
	resp, err := run(compileRequest(t, "", sources, names, param))
	require.NoError(t, err)
	for _, f := range resp.File {
		if strings.HasSuffix(f.GetName(), "/"+strings.TrimSuffix(path.Base(names[0]), ".proto")+generatedFilenameExtension) {
			return f.GetContent()
		}
	}
	t.Fatalf("no Go output among %d files", len(resp.File))
	return ""
}

// TestLenientBinding checks that a method whose name looks standard but
// whose shape is not is left to the user, the generated code saying why,
// and that binding=strict makes each of them an error.
func TestLenientBinding(t *testing.T) {
	const lro = `syntax = "proto3";
package google.longrunning; option go_package = "example.com/longrunning;longrunning";
message Operation { string name = 1; }
`
	src := header + `import "google/longrunning/operations.proto";
message Book { option (ssot.ws.v1.model) = {}; string id = 1; string shelf = 2; }
message Topic { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetBookRequest { string id = 1; }
message ListBooksRequest { int32 page_size = 1; oneof paging { string page_token = 2; } }
message ListBooksResponse { repeated Book books = 1; string next_page_token = 2; }
message ListBookRevisionsRequest { string id = 1; }
message ListBookRevisionsResponse { repeated Book books = 1; string next_page_token = 2; }
message CreateBookRequest { Book book = 1; }
message UpdateBookRequest { Book book = 1; }
message DeleteBookRequest { string id = 1; }
service LibraryService {
  rpc GetBook(GetBookRequest) returns (Book);
  rpc ListBookRevisions(ListBookRevisionsRequest) returns (ListBookRevisionsResponse);
  rpc ListBooks(ListBooksRequest) returns (ListBooksResponse);
  rpc CreateBook(CreateBookRequest) returns (google.longrunning.Operation);
  rpc UpdateBook(UpdateBookRequest) returns (Book);
  rpc DeleteBook(DeleteBookRequest) returns (Book) { option (ssot.ws.v1.method) = {skip: true}; }
  rpc CreateTopic(Topic) returns (Topic);
}
`
	sources := map[string]string{"bad/v1/bad.proto": src, "google/longrunning/operations.proto": lro}
	out := generateOK(t, sources, "")
	for _, want := range []string{
		"func (s *LibraryService) GetBook(",
		"// Left to you although their names look standard:",
		"//   - ListBookRevisions: its response lists bad.v1.Book, but its name is not\n//     ListBooks: a List of something of Book (revisions, AIP-162) is left to\n//     you.",
		`//   - ListBooks: its name says the standard List of bad.v1.Book, but field`,
		`"page_token" of bad.v1.ListBooksRequest is in oneof "paging"`,
		"//   - CreateBook: its name says the standard Create of bad.v1.Book, but it\n//     returns google.longrunning.Operation: a long-running method (AIP-151) is\n//     left to you.",
		"//   - UpdateBook: its name says the standard Update of bad.v1.Book, but update\n//     request bad.v1.UpdateBookRequest has no update_mask field",
		"//   - DeleteBook: its method option sets skip.",
		"//   - CreateTopic: its name says the standard Create of bad.v1.Topic, but\n//     create request bad.v1.Topic has no bad.v1.Topic field",
	} {
		assert.Contains(t, out, want)
	}
	for _, absent := range []string{") ListBookRevisions(", ") ListBooks(", ") CreateBook(", ") UpdateBook(", ") DeleteBook(", ") CreateTopic("} {
		assert.NotContains(t, out, "func (s *LibraryService"+absent)
	}

	resp, err := run(compileRequest(t, "", sources, []string{"bad/v1/bad.proto"}, "binding=strict"))
	require.Nil(t, resp)
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		`bad/v1/bad.proto:10:64: bad.v1.LibraryService.ListBooks: bound by its name (List + Books) to the standard List of bad.v1.Book: field "page_token" of bad.v1.ListBooksRequest is in oneof "paging"; a field the standard List reads or writes cannot be a oneof member`,
		`bad/v1/bad.proto:21:3: bad.v1.LibraryService.CreateBook: bound by its name (Create + Book) to the standard Create of bad.v1.Book: it returns google.longrunning.Operation: a long-running method (AIP-151) is left to you`,
		`bad/v1/bad.proto:22:3: bad.v1.LibraryService.UpdateBook: bound by its name (Update + Book) to the standard Update of bad.v1.Book: update request bad.v1.UpdateBookRequest has no update_mask field; add google.protobuf.FieldMask update_mask (AIP-134)`,
		`bad/v1/bad.proto:24:3: bad.v1.LibraryService.CreateTopic: bound by its name (Create + Topic) to the standard Create of bad.v1.Topic: create request bad.v1.Topic has no bad.v1.Topic field; it must carry the model (AIP-133)`,
	}, "\n"), err.Error())
}

// TestBindingOwnPackage checks that a service binds by name only the
// models of its own proto package, unless its option lists them, and
// that a service option can skip a whole service.
func TestBindingOwnPackage(t *testing.T) {
	other := `syntax = "proto3";
package other.v1; option go_package = "example.com/other/v1;otherv1";
import "ssot/ws/v1/options.proto";
message Thing { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetThingRequest { string id = 1; }
`
	mine := header + `import "other/v1/other.proto";
message Note { option (ssot.ws.v1.model) = {}; string id = 1; }
message GetNoteRequest { string id = 1; }
service MineService {
  rpc GetNote(GetNoteRequest) returns (Note);
  rpc GetThing(other.v1.GetThingRequest) returns (other.v1.Thing);
}
service SkippedService {
  option (ssot.ws.v1.service) = {skip: true};
  rpc GetNote(GetNoteRequest) returns (Note);
}
`
	out := generateOK(t, map[string]string{"bad/v1/bad.proto": mine, "other/v1/other.proto": other}, "")
	assert.Contains(t, out, "//   - GetThing: its name matches model other.v1.Thing of another proto\n//     package;")
	assert.NotContains(t, out, "func (s *MineService) GetThing(")
	assert.NotContains(t, out, "SkippedService")

	listed := strings.Replace(mine, "service MineService {", `service MineService {
  option (ssot.ws.v1.service) = {models: ["Note", "other.v1.Thing"]};`, 1)
	out = generateOK(t, map[string]string{"bad/v1/bad.proto": listed, "other/v1/other.proto": other}, "")
	assert.Contains(t, out, "func (s *MineService) GetThing(")
}
