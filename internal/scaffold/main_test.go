package scaffold

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs the command with args and returns its status and output.
func runMain(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = Main(context.Background(), args, &out, &errOut)
	return status, out.String(), errOut.String()
}

// tempProtos writes files (import path → content) under a new directory.
func tempProtos(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMainFragment(t *testing.T) {
	status, out, errOut := runMain(t, "-I", "testdata/chat", "chat/v1/chat.proto")
	if status != 0 {
		t.Fatalf("status %d: %s", status, errOut)
	}
	want, err := os.ReadFile("testdata/golden/chat_fragment.proto")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("stdout is not the fragment:\n%s", out)
	}
}

// TestMainArgs: flags may follow files, and a file named by its path on
// disk is mapped to its import path, as protoc does.
func TestMainArgs(t *testing.T) {
	status, out, errOut := runMain(t, "testdata/chat/chat/v1/chat.proto", "--proto_path", "testdata/chat", "-style", "aip", "-service", "ChatService")
	if status != 0 {
		t.Fatalf("status %d: %s", status, errOut)
	}
	for _, want := range []string{"service ChatService {", "returns (google.protobuf.Empty);", `import "google/protobuf/empty.proto";`, "chat/v1/chat.proto"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestMainOutputFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "chat", "v1", "chat_service.proto")
	status, stdout, errOut := runMain(t, "-I", "testdata/chat", "-I", dir, "-o", out, "chat/v1/chat.proto")
	if status != 0 {
		t.Fatalf("status %d: %s", status, errOut)
	}
	// One line says what was written.
	wantLine := "protoc-gen-ssot-ws scaffold: wrote " + out + ": services RoomService, MessageService (package chat.v1) for the models Room, Message\n"
	if stdout != wantLine {
		t.Errorf("stdout with -o:\n%q\nwant\n%q", stdout, wantLine)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/golden/chat.proto")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("-o wrote something else than the golden file:\n%s", got)
	}
	if errOut != "" {
		t.Errorf("unexpected stderr: %s", errOut)
	}

	// It never overwrites.
	status, _, errOut = runMain(t, "-I", "testdata/chat", "-o", out, "chat/v1/chat.proto")
	if status != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("second -o: status %d, stderr %q; want 1 and a refusal", status, errOut)
	}

	// Outside the models' directory: a note about buf lint.
	other := filepath.Join(dir, "elsewhere", "chat_service.proto")
	status, stdout, errOut = runMain(t, "-I", "testdata/chat", "-I", dir, "-o", other, "-service", "ChatService", "chat/v1/chat.proto")
	if status != 0 || !strings.Contains(errOut, "PACKAGE_DIRECTORY_MATCH") {
		t.Errorf("-o elsewhere: status %d, stderr %q; want 0 and a note", status, errOut)
	}
	wantLine = "protoc-gen-ssot-ws scaffold: wrote " + other + ": service ChatService (package chat.v1) for the models Room, Message\n"
	if stdout != wantLine {
		t.Errorf("stdout with -o and -service:\n%q\nwant\n%q", stdout, wantLine)
	}
}

func TestMainErrors(t *testing.T) {
	const options = `import "ssot/ws/v1/options.proto";` + "\n"
	cases := []struct {
		name   string
		files  map[string]string
		args   []string
		status int
		want   []string // in stderr
	}{
		{
			name:   "syntax error",
			files:  map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\nmessage A {\n  string id = 1\n}\n"},
			args:   []string{"a/v1/a.proto"},
			status: 1,
			want:   []string{"a/v1/a.proto:5:1: syntax error"},
		},
		{
			name:   "every error at once",
			files:  map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\nmessage A {\n  Missing m = 1;\n  Other o = 2;\n}\n"},
			args:   []string{"a/v1/a.proto"},
			status: 1,
			want:   []string{"a/v1/a.proto:4:3:", "a/v1/a.proto:5:3:", "Missing", "Other"},
		},
		{
			name:   "missing file",
			args:   []string{"nope/v1/nope.proto"},
			status: 1,
			want:   []string{"nope/v1/nope.proto"},
		},
		{
			name:   "no model",
			files:  map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\nmessage A {\n  string id = 1;\n}\n"},
			args:   []string{"a/v1/a.proto"},
			status: 1,
			want:   []string{"no model found in a/v1/a.proto", "(ssot.ws.v1.model)"},
		},
		{
			name: "malformed model",
			files: map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\n" + options +
				"message A {\n  option (ssot.ws.v1.model) = {key: \"uid\"};\n  string id = 1;\n}\n"},
			args:   []string{"a/v1/a.proto"},
			status: 1,
			want:   []string{"a/v1/a.proto:4:1: a.v1.A: key field \"uid\" does not exist"},
		},
		{
			name: "name taken",
			files: map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\n" + options +
				"message A {\n  option (ssot.ws.v1.model) = {};\n  string id = 1;\n}\nmessage GetARequest {}\n"},
			args:   []string{"a/v1/a.proto"},
			status: 1,
			want:   []string{"a/v1/a.proto:8:1: a.v1.GetARequest already exists"},
		},
		{
			name: "two packages",
			files: map[string]string{
				"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\n" + options + "message A {\n  option (ssot.ws.v1.model) = {};\n  string id = 1;\n}\n",
				"b/v1/b.proto": "syntax = \"proto3\";\npackage b.v1;\n" + options + "message B {\n  option (ssot.ws.v1.model) = {};\n  string id = 1;\n}\n",
			},
			args:   []string{"a/v1/a.proto", "b/v1/b.proto"},
			status: 1,
			want:   []string{"different packages", "one package at a time"},
		},
		{
			name: "already served",
			files: map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\n" + options +
				"message A {\n  option (ssot.ws.v1.model) = {};\n  string id = 1;\n}\n" +
				"message GetARequest {\n  string id = 1;\n}\nservice AService {\n  rpc GetA(GetARequest) returns (A);\n}\n"},
			args:   []string{"a/v1/a.proto"},
			status: 1,
			want:   []string{"nothing to scaffold", "a.v1.A: skipped: service AService already serves it"},
		},
		{
			name:   "bad service name",
			files:  map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\n"},
			args:   []string{"-service", "Chat-Service", "a/v1/a.proto"},
			status: 1,
			want:   []string{"not a proto identifier"},
		},
		{name: "no file", status: 2, want: []string{"no .proto file given", "usage:"}},
		{name: "bad style", args: []string{"-style", "google", "x.proto"}, status: 2, want: []string{"unknown style"}},
		{name: "bad flag", args: []string{"-x"}, status: 2, want: []string{"flag provided but not defined"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tempProtos(t, c.files)
			status, out, errOut := runMain(t, append([]string{"-I", dir}, c.args...)...)
			if status != c.status {
				t.Errorf("status %d, want %d; stderr:\n%s", status, c.status, errOut)
			}
			if out != "" {
				t.Errorf("stdout not empty on error: %s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(errOut, "panic") || strings.Contains(errOut, "internal error") {
				t.Errorf("stderr reports an internal error:\n%s", errOut)
			}
		})
	}
}

// TestMainPartlyServed: a model already served is skipped with a note;
// the others are scaffolded.
func TestMainPartlyServed(t *testing.T) {
	dir := tempProtos(t, map[string]string{"a/v1/a.proto": `syntax = "proto3";
package a.v1;
import "ssot/ws/v1/options.proto";
message A {
  option (ssot.ws.v1.model) = {};
  string id = 1;
}
message B {
  option (ssot.ws.v1.model) = {};
  string id = 1;
}
message GetARequest {
  string id = 1;
}
service AService {
  rpc GetA(GetARequest) returns (A);
}
`})
	status, out, errOut := runMain(t, "-I", dir, "a/v1/a.proto")
	if status != 0 {
		t.Fatalf("status %d: %s", status, errOut)
	}
	if !strings.Contains(errOut, "a.v1.A: skipped") || !strings.Contains(out, "service BService {") || strings.Contains(out, "service AService") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
}

// TestUserOptionsFirst: a copy of ssot/ws/v1/options.proto on the import
// path is used rather than the embedded one.
func TestUserOptionsFirst(t *testing.T) {
	dir := tempProtos(t, map[string]string{
		"ssot/ws/v1/options.proto": "syntax = \"proto3\";\npackage ssot.ws.v1;\nthis is not proto\n",
		"a/v1/a.proto":             "syntax = \"proto3\";\npackage a.v1;\nimport \"ssot/ws/v1/options.proto\";\n",
	})
	status, _, errOut := runMain(t, "-I", dir, "a/v1/a.proto")
	if status != 1 || !strings.Contains(errOut, "ssot/ws/v1/options.proto:3:") {
		t.Errorf("status %d, stderr %q: want the user's copy compiled (and its error)", status, errOut)
	}
}
