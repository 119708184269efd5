package newproject

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the root of this checkout: the projects' replace target.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "node_modules", ".bin", "buf"))
	require.NoError(t, err, "npm packages missing: run ./scripts/setup.sh at the repository root")
	return root
}

// TestNewPresets writes a project of every preset into a temporary
// directory with -replace pointing at this checkout, and runs its README's
// test command, npm test: go mod tidy, buf generate (the plugins through
// go tool), tsc on the page, go vet and the server's test. A link to the
// repository's node_modules stands for npm install (the same packages at
// the same versions, so nothing is fetched), and the repository's go.sum
// for the checksum database. For the chat preset it also runs npm run
// test:e2e: the page built, the server started, a live update between two
// pages in Chromium. With -short only the files are written and checked.
func TestNewPresets(t *testing.T) {
	root := repoRoot(t)
	for _, preset := range PresetNames() {
		t.Run(preset, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), preset+"-app")
			files, err := Write(context.Background(), dir, Options{Preset: preset, Replace: root})
			require.NoError(t, err)
			p := Presets[preset]
			for _, f := range []string{
				"README.md", ".gitignore", "buf.yaml", "buf.gen.yaml", "go.mod", "package.json",
				"proto/" + p.Pkg + "/v1/" + p.Pkg + ".proto",
				"proto/" + p.Pkg + "/v1/" + p.Pkg + "_service.proto",
				"third_party/ssot-ws/ssot/ws/v1/options.proto",
				"server/main.go", "server/main_test.go",
				"web/src/main.tsx", "web/src/App.tsx", "web/e2e/live.test.mjs",
			} {
				assert.Contains(t, files, f)
			}
			goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			require.NoError(t, err)
			assert.Contains(t, string(goMod), "module example.com/"+preset+"-app")
			assert.Contains(t, string(goMod), "replace github.com/ssot-codegen/ssot-ws => "+filepath.ToSlash(root))
			svc, err := os.ReadFile(filepath.Join(dir, "proto", p.Pkg, "v1", p.Pkg+"_service.proto"))
			require.NoError(t, err)
			assert.Contains(t, string(svc), "service "+p.Model+"Service {")
			readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
			require.NoError(t, err)
			assert.Contains(t, string(readme), "npm install && npm start")
			assert.Contains(t, string(readme), "npm test")
			assert.Contains(t, strings.ToLower(string(readme)), "dev tokens")

			if testing.Short() {
				t.Log("-short: the project's commands are not run")
				return
			}
			require.NoError(t, os.Symlink(filepath.Join(root, "node_modules"), filepath.Join(dir, "node_modules")))
			sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
			env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "BUF_CACHE_DIR="+filepath.Join(dir, ".cache", "buf"))
			out := run(t, dir, env, "npm", "test")
			assert.Contains(t, out, "ok  \texample.com/"+preset+"-app/server")
			// Generated: Go and TypeScript, the runtime copy, and no Go
			// code for the annotations.
			for _, f := range []string{
				"gen/" + p.Pkg + "/v1/" + p.Pkg + "v1ssotws/" + p.Pkg + "_service.ssotws.go",
				"web/src/gen/" + p.Pkg + "/v1/" + p.Pkg + "_ssotws.ts",
				"web/src/gen/ssotws/runtime/react.ts",
			} {
				assert.FileExists(t, filepath.Join(dir, filepath.FromSlash(f)))
			}
			assert.NoDirExists(t, filepath.Join(dir, "gen", "ssot"))
			if preset == "chat" {
				out := run(t, dir, env, "npm", "run", "test:e2e")
				assert.Contains(t, out, "# pass 1")
			}
		})
	}
}

// run runs a command in dir and returns its combined output, failing the
// test with that output if the command fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "%s %s:\n%s", name, strings.Join(args, " "), out.String())
	return out.String()
}

// TestWriteRefusesNonEmptyDir: new does not overwrite a project by
// accident, and names the presets when given an unknown one.
func TestWriteRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644))
	_, err := Write(context.Background(), dir, Options{Preset: "chat"})
	require.ErrorContains(t, err, "is not empty")
	_, err = Write(context.Background(), t.TempDir(), Options{Preset: "blog"})
	require.ErrorContains(t, err, "chat, notifications, todo")
	files, err := Write(context.Background(), dir, Options{Preset: "todo", Force: true, Module: "example.org/todo"})
	require.NoError(t, err)
	assert.Contains(t, files, "proto/todo/v1/todo_service.proto")
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(goMod), "module example.org/todo")
	assert.NotContains(t, string(goMod), "replace", "no -replace, no replace directive")
}
