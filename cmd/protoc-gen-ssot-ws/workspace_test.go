package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The layouts and templates of docs/annotations.md, verbatim (the test
// checks the page shows them).
const (
	// bufGenInstalled generates the user's module only, with the plugins
	// installed on PATH.
	bufGenInstalled = `version: v2
inputs:
  - directory: proto
plugins:
  - local: protoc-gen-go
    out: gen
    opt: paths=source_relative
  - local: protoc-gen-connect-go
    out: gen
    opt: paths=source_relative
  - local: protoc-gen-ssot-ws
    out: gen
    opt: [paths=source_relative, lang=go]
`
	// inputsExclude is the other way: the whole workspace, less a path
	// inside the annotations' module.
	inputsExclude = `inputs:
  - directory: .
    exclude_paths: [third_party/ssot-ws/proto/ssot]
`
	bufYAMLCommand = `version: v2
modules:
  - path: proto
  - path: third_party/ssot-ws
`
	bufYAMLLocal = `version: v2
modules:
  - path: proto
  - path: third_party/ssot-ws/proto
`
	bufYAMLNamed = `version: v2
modules:
  - path: proto
  - path: third_party/ssot-ws/proto
    name: buf.build/ssot-codegen/ssot-ws
deps:
  - buf.build/ssot-codegen/ssot-ws
`
	protocCommand = `protoc -I proto -I third_party/ssot-ws \
  --go_out=gen --go_opt=paths=source_relative \
  --connect-go_out=gen --connect-go_opt=paths=source_relative \
  --ssot-ws_out=gen --ssot-ws_opt=paths=source_relative,lang=go \
  proto/chat/v1/*.proto
`
)

// userModel is a user's model file; its service is scaffolded next to it.
const userModel = `syntax = "proto3";

package chat.v1;

import "ssot/ws/v1/options.proto";

option go_package = "example.com/chat/gen/chat/v1;chatv1";

message Message {
  option (ssot.ws.v1.model) = {
    realtime: true
    scopes: ["room_id"]
  };

  string id = 1;
  string room_id = 2;
  string text = 3;
  int64 version = 4;
}
`

// TestAnnotationsInWorkspace gives a fresh user workspace
// ssot/ws/v1/options.proto each way docs/annotations.md shows, runs buf
// generate (and protoc, where installed) with protoc-gen-go,
// protoc-gen-connect-go and the plugin, checks what was generated and
// that no Go code was generated for the annotations, then builds the
// result against this checkout (not with -short).
func TestAnnotationsInWorkspace(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "annotations.md"))
	require.NoError(t, err)
	for _, s := range []string{bufGenInstalled, inputsExclude, bufYAMLCommand, bufYAMLLocal, bufYAMLNamed, protocCommand} {
		require.Contains(t, string(doc), s, "docs/annotations.md no longer shows what this test runs")
	}

	buf := bufCLI(t)
	bin := buildPlugins(t)

	// workspace writes a user workspace: the model and its scaffolded
	// service under proto/, then files.
	workspace := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"proto/chat/v1/chat.proto": userModel})
		writeFiles(t, dir, files)
		runIn(t, dir, userEnv(dir, bin), filepath.Join(bin, "protoc-gen-ssot-ws"), "scaffold", "-I", "proto", "-o", "proto/chat/v1/chat_service.proto", "proto/chat/v1/chat.proto")
		return dir
	}
	generated := func(t *testing.T, dir string) {
		requireFiles(t, dir,
			"gen/chat/v1/chat.pb.go",
			"gen/chat/v1/chat_service.pb.go",
			"gen/chat/v1/chatv1connect/chat_service.connect.go",
			"gen/chat/v1/chatv1ssotws/chat.ssotws.go",
			"gen/chat/v1/chatv1ssotws/chat_service.ssotws.go",
		)
		requireNoOrphan(t, dir, "gen")
		if testing.Short() {
			return
		}
		goModuleFor(t, dir)
		env := userEnv(dir)
		runIn(t, dir, env, "go", "mod", "tidy")
		runIn(t, dir, env, "go", "build", "./...")
	}

	t.Run("proto command", func(t *testing.T) {
		dir := workspace(t, map[string]string{"buf.yaml": bufYAMLCommand, "buf.gen.yaml": bufGenInstalled})
		out := runIn(t, dir, userEnv(dir, bin), filepath.Join(bin, "protoc-gen-ssot-ws"), "proto", "-o", "third_party/ssot-ws")
		assert.Contains(t, out, "wrote third_party/ssot-ws/ssot/ws/v1/options.proto")
		runIn(t, dir, userEnv(dir, bin), buf, "generate")
		generated(t, dir)
	})

	t.Run("local module", func(t *testing.T) {
		dir := workspace(t, map[string]string{"buf.yaml": bufYAMLLocal, "buf.gen.yaml": bufGenInstalled})
		copyAnnotations(t, dir, "third_party/ssot-ws/proto")
		runIn(t, dir, userEnv(dir, bin), buf, "generate")
		generated(t, dir)

		// What docs/annotations.md says does not work: with the whole
		// workspace as input, Go code is written for ssot-ws's protos.
		noInputs := strings.Replace(bufGenInstalled, "inputs:\n  - directory: proto\n", "", 1)
		writeFiles(t, dir, map[string]string{"all.gen.yaml": noInputs})
		runIn(t, dir, userEnv(dir, bin), buf, "generate", "--template", "all.gen.yaml", "-o", "all")
		requireFiles(t, dir, "all/gen/ssot/ws/v1/options.pb.go", "all/gen/ssot/ws/v1/frame.pb.go")
	})

	t.Run("local module, exclude_paths", func(t *testing.T) {
		gen := strings.Replace(bufGenInstalled, "inputs:\n  - directory: proto\n", inputsExclude, 1)
		dir := workspace(t, map[string]string{"buf.yaml": bufYAMLLocal, "buf.gen.yaml": gen})
		copyAnnotations(t, dir, "third_party/ssot-ws/proto")
		runIn(t, dir, userEnv(dir, bin), buf, "generate")
		generated(t, dir)
	})

	t.Run("named module", func(t *testing.T) {
		// The dependency by name, satisfied by a workspace module of that
		// name: no registry, no buf.lock.
		dir := workspace(t, map[string]string{"buf.yaml": bufYAMLNamed, "buf.gen.yaml": bufGenInstalled})
		copyAnnotations(t, dir, "third_party/ssot-ws/proto")
		runIn(t, dir, userEnv(dir, bin), buf, "generate")
		_, err := os.Stat(filepath.Join(dir, "buf.lock"))
		assert.True(t, os.IsNotExist(err), "buf generate wrote a buf.lock")
		generated(t, dir)

		// The name the user depends on is the one ssot-ws's buf.yaml
		// declares for its annotations.
		ours, err := os.ReadFile(filepath.Join(repoRoot(t), "buf.yaml"))
		require.NoError(t, err)
		assert.Contains(t, string(ours), "  - path: proto\n    name: buf.build/ssot-codegen/ssot-ws\n")
	})

	t.Run("protoc", func(t *testing.T) {
		if _, err := exec.LookPath("protoc"); err != nil {
			t.Skip("protoc is not installed; the buf layouts carry the test")
		}
		dir := workspace(t, nil)
		runIn(t, dir, userEnv(dir, bin), filepath.Join(bin, "protoc-gen-ssot-ws"), "proto", "-o", "third_party/ssot-ws")
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "gen"), 0o755))
		runIn(t, dir, userEnv(dir, bin), "bash", "-euo", "pipefail", "-c", protocCommand)
		generated(t, dir)
	})
}
