package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The layout and the TypeScript template of docs/rules.md for models with
// buf.validate rules, verbatim (the test checks the page shows them).
const (
	bufYAMLValidate = `version: v2
modules:
  - path: proto
  - path: third_party/ssot-ws
  - path: third_party/protovalidate
    name: buf.build/bufbuild/protovalidate
deps:
  - buf.build/bufbuild/protovalidate
`
	bufGenWebValidate = `version: v2
inputs:
  - directory: proto
  # options_pb.ts, which chat_pb.ts imports: an input of its own, since
  # include_imports would write buf/validate/validate_pb.ts too.
  - directory: third_party/ssot-ws
    paths: [third_party/ssot-ws/ssot/ws/v1/options.proto]
plugins:
  - local: protoc-gen-es
    out: web/src/gen
    opt:
      - target=ts
      - import_extension=js
      - rewrite_imports=./buf/validate/*_pb.js:@bufbuild/protovalidate/gen
  - local: protoc-gen-ssot-ws
    out: web/src/gen
    opt: [lang=ts, import_extension=js]
`
)

// TestValidateProtoInWorkspace gives a fresh user workspace whose model
// has buf.validate rules the rules' proto as docs/rules.md shows, with
// no registry: the binary writes both protos, a local module named as
// the registry's satisfies the dependency, buf generates Go and
// TypeScript for the user's files only (no validate.pb.go, no
// validate_pb.ts), the Go builds and the TypeScript type-checks.
func TestValidateProtoInWorkspace(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "rules.md"))
	require.NoError(t, err)
	for _, s := range []string{bufYAMLValidate, bufGenWebValidate} {
		require.Contains(t, string(doc), s, "docs/rules.md no longer shows what this test runs")
	}
	buf := bufCLI(t)
	bin := buildPlugins(t)
	model := strings.Replace(userModel, `import "ssot/ws/v1/options.proto";`,
		"import \"buf/validate/validate.proto\";\nimport \"ssot/ws/v1/options.proto\";", 1)
	model = strings.Replace(model, "string text = 3;", "string text = 3 [(buf.validate.field).string.max_bytes = 4096];", 1)
	require.NotEqual(t, userModel, model)

	dir := t.TempDir()
	env := userEnv(dir, bin, filepath.Join(repoRoot(t), "node_modules", ".bin"))
	writeFiles(t, dir, map[string]string{
		"proto/chat/v1/chat.proto": model,
		"buf.yaml":                 bufYAMLValidate,
		"buf.gen.yaml":             bufGenInstalled,
		"web.gen.yaml":             bufGenWebValidate,
	})
	self := filepath.Join(bin, "protoc-gen-ssot-ws")
	runIn(t, dir, env, self, "scaffold", "-I", "proto", "-o", "proto/chat/v1/chat_service.proto", "proto/chat/v1/chat.proto")
	runIn(t, dir, env, self, "proto", "-o", "third_party/ssot-ws")
	runIn(t, dir, env, self, "proto", "-validate", "-o", "third_party/protovalidate")
	runIn(t, dir, env, buf, "generate")
	runIn(t, dir, env, buf, "generate", "--template", "web.gen.yaml")

	_, err = os.Stat(filepath.Join(dir, "buf.lock"))
	assert.True(t, os.IsNotExist(err), "buf generate wrote a buf.lock")
	requireFiles(t, dir, "gen/chat/v1/chat.pb.go", "gen/chat/v1/chatv1ssotws/chat.ssotws.go",
		"web/src/gen/chat/v1/chat_pb.ts", "web/src/gen/chat/v1/chat_ssotws.ts", "web/src/gen/ssot/ws/v1/options_pb.ts")
	requireNoOrphan(t, dir, "gen")
	for _, orphan := range []string{"gen/buf", "web/src/gen/buf"} {
		_, err := os.Stat(filepath.Join(dir, orphan))
		assert.True(t, os.IsNotExist(err), "%s was generated", orphan)
	}
	chatTS, err := os.ReadFile(filepath.Join(dir, "web/src/gen/chat/v1/chat_pb.ts"))
	require.NoError(t, err)
	assert.Contains(t, string(chatTS), `from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js"`)
	typecheckTS(t, dir)
	if testing.Short() {
		return
	}
	goModuleFor(t, dir)
	runIn(t, dir, userEnv(dir), "go", "mod", "tidy")
	runIn(t, dir, userEnv(dir), "go", "build", "./...")
}
