package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInstallFromFreshModule runs docs/install.md's commands for an
// unpublished ssot-ws in fresh modules in temporary directories: the
// replace directive, the plugins as tools with go mod edit -tool and go
// mod tidy, go tool, go install in module mode, and go get -tool. The
// ../ssot-ws of the page is this checkout.
func TestInstallFromFreshModule(t *testing.T) {
	root := repoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "install.md"))
	require.NoError(t, err)
	const editTools = `go mod edit -replace=github.com/ssot-codegen/ssot-ws=../ssot-ws
go mod edit -tool=github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws \
  -tool=google.golang.org/protobuf/cmd/protoc-gen-go \
  -tool=connectrpc.com/connect/cmd/protoc-gen-connect-go
go mod tidy
`
	require.Contains(t, string(doc), editTools, "docs/install.md no longer shows what this test runs")
	require.Contains(t, string(doc), "protoc-gen-ssot-ws "+protocol.Version+"\n", "docs/install.md shows another --version line")

	wantVersion := versionLine() + "\n"
	fresh := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		env := userEnv(dir)
		runIn(t, dir, env, "go", "mod", "init", "example.com/app")
		seedGoSum(t, dir)
		return dir, env
	}

	t.Run("go mod edit -tool", func(t *testing.T) {
		dir, env := fresh(t)
		script := strings.ReplaceAll(editTools, "../ssot-ws", root)
		runIn(t, dir, env, "bash", "-euo", "pipefail", "-c", script)
		assert.Equal(t, wantVersion, runIn(t, dir, env, "go", "tool", "protoc-gen-ssot-ws", "--version"))
		// The other plugins run too, at the versions ssot-ws requires.
		out := runIn(t, dir, env, "go", "tool", "protoc-gen-go", "--version")
		assert.Contains(t, out, "protoc-gen-go v")
		runIn(t, dir, env, "go", "tool", "protoc-gen-connect-go", "--version")

		// go install in module mode: the version go.mod requires.
		gobin := t.TempDir()
		runIn(t, dir, append(env, "GOBIN="+gobin), "go", "install", "github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws")
		assert.Equal(t, wantVersion, runIn(t, dir, env, filepath.Join(gobin, "protoc-gen-ssot-ws"), "--version"))
	})

	t.Run("go get -tool", func(t *testing.T) {
		dir, env := fresh(t)
		runIn(t, dir, env, "go", "mod", "edit", "-replace=github.com/ssot-codegen/ssot-ws="+root)
		// Nothing of ssot-ws is fetched; GOPROXY=off keeps go get from
		// asking a proxy about the unpublished path (some answer 403,
		// which go get takes for an error, as docs/install.md says).
		// The dependencies come from the module cache.
		runIn(t, dir, append(env, "GOPROXY=off"), "go", "get", "-tool", "github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws")
		goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		require.NoError(t, err)
		assert.Contains(t, string(goMod), "tool github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws")
		assert.Equal(t, wantVersion, runIn(t, dir, env, "go", "tool", "protoc-gen-ssot-ws", "--version"))
	})
}
