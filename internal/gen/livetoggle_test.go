package gen

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// toggleProto is one model and its service; the plugin's realtime=on and
// realtime=off give its two variants.
const toggleProto = `syntax = "proto3";

package toggle.v1;

import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "ssot/ws/v1/options.proto";

option go_package = "example.com/toggle/gen/toggle/v1;togglev1";

message Note {
  option (ssot.ws.v1.model) = {scopes: ["room_id"]};

  string id = 1;
  string room_id = 2;
  string text = 3;
}

service NoteService {
  rpc GetNote(GetNoteRequest) returns (Note);
  rpc ListNotes(ListNotesRequest) returns (ListNotesResponse);
  rpc CreateNote(CreateNoteRequest) returns (Note);
  rpc UpdateNote(UpdateNoteRequest) returns (Note);
  rpc DeleteNote(DeleteNoteRequest) returns (google.protobuf.Empty);
}

message GetNoteRequest { string id = 1; }
message ListNotesRequest {
  int32 page_size = 1;
  string page_token = 2;
}
message ListNotesResponse {
  repeated Note notes = 1;
  string next_page_token = 2;
}
message CreateNoteRequest { Note note = 1; }
message UpdateNoteRequest {
  Note note = 1;
  google.protobuf.FieldMask update_mask = 2;
}
message DeleteNoteRequest { string id = 1; }
`

// toggleMain is what a user writes against the generated Go code: it
// constructs the service, mounts its handler and builds a client.
const toggleMain = `package main

import (
	"context"
	"net/http"

	togglev1 "example.com/toggle/gen/toggle/v1"
	"example.com/toggle/gen/toggle/v1/togglev1connect"
	"example.com/toggle/gen/toggle/v1/togglev1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
)

func main() {
	broker := ssotws.NewMemoryBroker(nil)
	svc := togglev1ssotws.NewNoteService(ssotws.NewMemoryStore(), broker, &ssotws.ResourceOptions{Logger: nil})
	mux := http.NewServeMux()
	mux.Handle(togglev1ssotws.NewNoteServiceHandler(svc))

	api := togglev1connect.NewNoteServiceClient(http.DefaultClient, "http://127.0.0.1:8080")
	var conn *client.Conn
	notes := togglev1ssotws.NewNoteClient(api, conn, &client.Options{})
	var _ client.DataClient[*togglev1.Note] = notes
	var _ client.HTTP[*togglev1.Note] = togglev1ssotws.NewNoteHTTP(api)
	_, _ = notes.Create(context.Background(), &togglev1.Note{RoomId: "r1", Text: "hi"})
}
`

// toggleTS is the same for the generated TypeScript.
const toggleTS = `import type { Transport } from "@connectrpc/connect";
import type { DataClient } from "@ssot-ws/runtime";
import type { Note } from "./toggle/v1/toggle_pb.js";
import { createNoteClient, NoteModel } from "./toggle/v1/toggle_ssotws.js";

export function notes(transport: Transport): DataClient<Note, string> {
  const client = createNoteClient({ transport });
  void NoteModel.name;
  return client;
}
`

// TestLiveToggleCompiles checks the promise that a model turning realtime,
// or back, changes no generated signature a user calls: it generates one
// schema with realtime=on and with realtime=off and compiles the same user
// code against each, in Go (a module of its own that requires this
// repository through a replace) and in TypeScript (tsc).
func TestLiveToggleCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: building both variants runs the go command and tsc; the full run (CI) has it")
	}
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	for _, realtime := range []string{"on", "off"} {
		t.Run("realtime="+realtime, func(t *testing.T) {
			req := compileRequest(t, "", map[string]string{"toggle/v1/toggle.proto": toggleProto},
				[]string{"toggle/v1/toggle.proto"}, "")
			t.Run("go", func(t *testing.T) {
				dir := t.TempDir()
				writeResponse(t, dir, pluginTool(t, root, req, "module=example.com/toggle", "go", "tool", "protoc-gen-go"))
				writeResponse(t, dir, pluginTool(t, root, req, "module=example.com/toggle", "go", "tool", "connectrpc.com/connect/cmd/protoc-gen-connect-go"))
				writeResponse(t, dir, runPlugin(t, req, "module=example.com/toggle,realtime="+realtime))
				ssotws, err := os.ReadFile(filepath.Join(dir, "gen/toggle/v1/togglev1ssotws/toggle.ssotws.go"))
				require.NoError(t, err)
				require.Equal(t, realtime == "on", bytes.Contains(ssotws, []byte("Realtime: true")),
					"realtime=%s: the model's realtime setting in the output", realtime)
				writeFile(t, dir, "main.go", toggleMain)
				writeFile(t, dir, "go.mod", toggleGoMod(t, root))
				sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
				require.NoError(t, err)
				writeFile(t, dir, "go.sum", string(sum))
				cmd := exec.Command("go", "vet", ".")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "go vet of the user's main against realtime=%s:\n%s", realtime, out)
			})
			t.Run("ts", func(t *testing.T) {
				// The annotations' protoc-gen-es file, which toggle_pb.ts imports.
				const options = "ssot/ws/v1/options_pb.ts"
				files := map[string][]byte{options: tsGoldenPB(t)[options]}
				require.NotEmpty(t, files[options], "the TS goldens hold %s", options)
				for _, f := range pluginTool(t, root, req, "target=ts,import_extension=js",
					filepath.Join(root, "node_modules", ".bin", "protoc-gen-es")).GetFile() {
					files[f.GetName()] = []byte(f.GetContent())
				}
				ts := runPlugin(t, req, "lang=ts,import_extension=js,realtime="+realtime)
				for _, f := range ts.GetFile() {
					files[f.GetName()] = []byte(f.GetContent())
				}
				files["user.ts"] = []byte(toggleTS)
				files["tsconfig.json"] = tsScratchConfig(t, "tsconfig.json")
				files["package.json"] = []byte(`{ "type": "module" }` + "\n")
				dir := tsScratch(t, []string{"@bufbuild", "@connectrpc", "@ssot-ws"}, files)
				out, ok := tsTSC(t, filepath.Join(dir, "tsconfig.json"))
				require.True(t, ok, "tsc of the user's file against realtime=%s:\n%s", realtime, out)
			})
		})
	}
}

// runPlugin runs protoc-gen-ssot-ws in-process on req with param.
func runPlugin(t *testing.T, req *pluginpb.CodeGeneratorRequest, param string) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	req = proto.Clone(req).(*pluginpb.CodeGeneratorRequest)
	req.Parameter = proto.String(param)
	resp, err := run(req)
	require.NoError(t, err)
	return resp
}

// pluginTool runs another protoc plugin, the command name and args run in
// the repository root, on req with param.
func pluginTool(t *testing.T, root string, req *pluginpb.CodeGeneratorRequest, param, name string, args ...string) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	req = proto.Clone(req).(*pluginpb.CodeGeneratorRequest)
	req.Parameter = proto.String(param)
	in, err := proto.Marshal(req)
	require.NoError(t, err)
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %v: %s", name, args, stderr.String())
	resp := &pluginpb.CodeGeneratorResponse{}
	require.NoError(t, proto.Unmarshal(out, resp))
	require.Empty(t, resp.GetError(), "%s %v", name, args)
	return resp
}

// writeResponse writes a plugin's files under dir.
func writeResponse(t *testing.T, dir string, resp *pluginpb.CodeGeneratorResponse) {
	t.Helper()
	for _, f := range resp.GetFile() {
		writeFile(t, dir, f.GetName(), f.GetContent())
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// toggleGoMod is the go.mod of the user's module: this repository's
// requirements (so that the build needs nothing outside the module cache),
// this repository itself through a replace to root.
func toggleGoMod(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	mod := string(b)
	mod = regexp.MustCompile(`(?s)\ntool \(.*?\)\n`).ReplaceAllString(mod, "\n")
	mod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(mod, "module example.com/toggle")
	return strings.TrimRight(mod, "\n") + "\n\nrequire github.com/ssot-codegen/ssot-ws v0.0.0\n\nreplace github.com/ssot-codegen/ssot-ws => " + root + "\n"
}
