package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ssotproto "github.com/ssot-codegen/ssot-ws/proto"
	"github.com/stretchr/testify/require"
)

// Helpers for the tests that play a new user: a project in a temporary
// directory, outside this module, generated with the repository's buf and
// built against this checkout through a replace directive.

// unpublished is the version a module requires ssot-ws at while a replace
// directive points it at a directory.
const unpublished = "v0.0.0-00010101000000-000000000000"

// repoRoot is the root of this checkout, computed at test time.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	return root
}

// bufCLI is the buf that npm ci installs at the repository root.
func bufCLI(t *testing.T) string {
	t.Helper()
	buf := filepath.Join(repoRoot(t), "node_modules", ".bin", "buf")
	_, err := os.Stat(buf)
	require.NoError(t, err, "buf is missing: run ./scripts/setup.sh (npm ci) at the repository root")
	return buf
}

// buildPlugins builds protoc-gen-ssot-ws, protoc-gen-go and
// protoc-gen-connect-go (at the versions go.mod pins) into a new
// directory and returns it, to put first on PATH.
func buildPlugins(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bin+string(filepath.Separator), ".",
		"google.golang.org/protobuf/cmd/protoc-gen-go", "connectrpc.com/connect/cmd/protoc-gen-connect-go")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", b)
	return bin
}

// userEnv is the environment of a user's commands in dir: Go in module
// mode with no workspace, resolving what go.mod lacks (GOFLAGS=-mod=mod;
// GOPROXY as the environment has it), buf's cache inside dir, and the
// directories of path first on PATH.
func userEnv(dir string, path ...string) []string {
	env := append(os.Environ(),
		"GOWORK=off",
		"GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"),
		"BUF_CACHE_DIR="+filepath.Join(dir, ".cache", "buf"),
		"PATH="+strings.Join(append(path, os.Getenv("PATH")), string(os.PathListSeparator)),
	)
	return env
}

// seedGoSum adds this repository's go.sum lines to dir/go.sum. The
// module cache holds what those lines verified; the checksum database may
// be out of reach from a test machine, and go mod tidy drops the lines a
// module does not need.
func seedGoSum(t *testing.T, dir string) {
	t.Helper()
	ours, err := os.ReadFile(filepath.Join(repoRoot(t), "go.sum"))
	require.NoError(t, err)
	theirs, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil && !os.IsNotExist(err) {
		require.NoError(t, err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(theirs), "\n") {
		have[l] = true
	}
	var add bytes.Buffer
	for _, l := range strings.Split(string(ours), "\n") {
		if l != "" && !have[l] {
			add.WriteString(l + "\n")
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), append(theirs, add.Bytes()...), 0o644))
}

// runIn runs a command in dir with env and returns its combined output,
// failing the test if it fails.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), b)
	return string(b)
}

// writeFiles writes files (slash path under dir → content).
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// copyAnnotations copies ssot-ws's proto/ folder (its .proto files) to
// dir/to, as a user copies it or checks it out as a submodule.
func copyAnnotations(t *testing.T, dir, to string) {
	t.Helper()
	for _, name := range []string{"ssot/ws/v1/options.proto", "ssot/ws/v1/frame.proto"} {
		b, err := ssotproto.FS.ReadFile(name)
		require.NoError(t, err)
		writeFiles(t, dir, map[string]string{to + "/" + name: string(b)})
	}
}

// requireFiles checks that every file exists under dir.
func requireFiles(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
		require.NoError(t, err, "%s was not generated", f)
	}
}

// requireNoOrphan checks that no Go code was generated for ssot-ws's own
// protos: their Go package is ssotws/wsv1, which ssot-ws ships.
func requireNoOrphan(t *testing.T, dir, goOut string) {
	t.Helper()
	var found []string
	_ = filepath.WalkDir(filepath.Join(dir, goOut), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, "options.pb.go") || strings.HasSuffix(path, "frame.pb.go")) {
			found = append(found, path)
		}
		return nil
	})
	require.Empty(t, found, "Go code generated for ssot-ws's own protos")
	_, err := os.Stat(filepath.Join(dir, goOut, "ssot"))
	require.True(t, os.IsNotExist(err), "%s/ssot exists", goOut)
}

// goModuleFor makes dir a Go module, example.com/chat, that requires this
// checkout of ssot-ws through a replace directive.
func goModuleFor(t *testing.T, dir string) {
	t.Helper()
	writeFiles(t, dir, map[string]string{"go.mod": "module example.com/chat\n\ngo 1.26\n\nrequire github.com/ssot-codegen/ssot-ws " + unpublished +
		"\n\nreplace github.com/ssot-codegen/ssot-ws => " + repoRoot(t) + "\n"})
	seedGoSum(t, dir)
}

// typecheckTS type-checks the TypeScript under dir/web/src/gen against
// this checkout's @ssot-ws/runtime and the repository's npm packages (a
// node_modules link stands for the user's npm install), as strictly as
// the repository checks its own code.
func typecheckTS(t *testing.T, dir string) {
	t.Helper()
	root := repoRoot(t)
	if _, err := os.Lstat(filepath.Join(dir, "node_modules")); os.IsNotExist(err) {
		require.NoError(t, os.Symlink(filepath.Join(root, "node_modules"), filepath.Join(dir, "node_modules")))
	}
	writeFiles(t, dir, map[string]string{"tsconfig.check.json": `{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022", "DOM"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "customConditions": ["@ssot-ws/source"],
    "verbatimModuleSyntax": true,
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "skipLibCheck": true,
    "noEmit": true,
    "types": []
  },
  "include": ["web/src/gen"]
}
`})
	runIn(t, dir, userEnv(dir), filepath.Join(root, "node_modules", ".bin", "tsc"), "-p", "tsconfig.check.json")
}
