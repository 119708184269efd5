package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// modulePath is ssot-ws's module path, as users write it.
const modulePath = "github.com/ssot-codegen/ssot-ws"

// TestInstallTaggedRelease runs docs/install.md's commands for a tagged
// release, as a user will once the tag is pushed: go get -tool …@vX.Y.Z
// then go tool protoc-gen-ssot-ws --version in a fresh module, and go
// install …@vX.Y.Z outside any module then the installed binary's
// --version. The release is this working tree served as module version
// v<protocol.Version> by a file:// module proxy the test builds (the zip,
// .mod and .info files the Go module proxy would serve), and the page's
// vX.Y.Z stands for that version. The module cache is a fresh one, so no
// earlier copy of ssot-ws at that version is used; the dependencies come
// from the machine's module cache (as a proxy) or, failing that, the
// usual GOPROXY.
func TestInstallTaggedRelease(t *testing.T) {
	root := repoRoot(t)
	version := "v" + protocol.Version
	doc, err := os.ReadFile(filepath.Join(root, "docs", "install.md"))
	require.NoError(t, err)
	install := docCommand(t, string(doc), "go install "+modulePath+"/cmd/protoc-gen-ssot-ws@", version)
	getTool := docCommand(t, string(doc), "go get -tool "+modulePath+"/cmd/protoc-gen-ssot-ws@", version)
	require.Contains(t, string(doc), getTool.raw+"\ngo get -tool google.golang.org/protobuf/cmd/protoc-gen-go connectrpc.com/connect/cmd/protoc-gen-connect-go\ngo tool protoc-gen-ssot-ws --version\n",
		"docs/install.md no longer shows what this test runs")

	env := releaseEnv(t, serveModule(t, root, version))
	want := versionLine() + "\n"

	t.Run("go get -tool", func(t *testing.T) {
		dir := t.TempDir()
		runIn(t, dir, env, "go", "mod", "init", "example.com/app")
		seedGoSum(t, dir)
		runIn(t, dir, env, getTool.args[0], getTool.args[1:]...)
		runIn(t, dir, env, "go", "get", "-tool", "google.golang.org/protobuf/cmd/protoc-gen-go", "connectrpc.com/connect/cmd/protoc-gen-connect-go")
		goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		require.NoError(t, err)
		assert.Regexp(t, `(?m)^\s*(require\s+)?`+regexp.QuoteMeta(modulePath+" "+version)+`( // indirect)?$`, string(goMod), "go.mod requires the release")
		assert.Regexp(t, `(?m)^\s*(tool\s+)?`+regexp.QuoteMeta(modulePath+"/cmd/protoc-gen-ssot-ws")+`$`, string(goMod))
		assert.Equal(t, want, runIn(t, dir, env, "go", "tool", "protoc-gen-ssot-ws", "--version"))
		assert.Contains(t, runIn(t, dir, env, "go", "tool", "protoc-gen-go", "--version"), "protoc-gen-go v")
	})

	t.Run("go install", func(t *testing.T) {
		dir, gobin := t.TempDir(), t.TempDir()
		runIn(t, dir, append(env, "GOBIN="+gobin), install.args[0], install.args[1:]...)
		assert.Equal(t, want, runIn(t, dir, env, filepath.Join(gobin, "protoc-gen-ssot-ws"), "--version"))
		info := runIn(t, dir, env, "go", "version", "-m", filepath.Join(gobin, "protoc-gen-ssot-ws"))
		assert.Regexp(t, `(?m)^\s+mod\s+`+regexp.QuoteMeta(modulePath)+`\s+`+regexp.QuoteMeta(version)+`\s`, info,
			"the binary is built from the served release")
	})
}

// shownCommand is a command docs/install.md shows: the line as written,
// and its words with the page's version replaced by the tested one.
type shownCommand struct {
	raw  string
	args []string
}

// docCommand finds the line of doc that starts with prefix followed by a
// version, and returns it with that version replaced by version.
func docCommand(t *testing.T, doc, prefix, version string) shownCommand {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + `(v\d+\.\d+\.\d+)\b.*$`)
	m := re.FindStringSubmatch(doc)
	require.NotNil(t, m, "docs/install.md shows no %q<version> command", prefix)
	raw := m[0]
	line, _, _ := strings.Cut(raw, "#")
	line = strings.Replace(line, "@"+m[1], "@"+version, 1)
	return shownCommand{raw: raw, args: strings.Fields(line)}
}

// serveModule writes a file:// module proxy serving the working tree at
// root (tracked and untracked files, less what .gitignore ignores) as
// module version version, and returns its URL.
func serveModule(t *testing.T, root, version string) string {
	t.Helper()
	var files []modzip.File
	for _, name := range treeFiles(t, root) {
		files = append(files, treeFile{root: root, path: name})
	}
	proxy := t.TempDir()
	dir := filepath.Join(proxy, filepath.FromSlash(modulePath), "@v")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var zip bytes.Buffer
	require.NoError(t, modzip.Create(&zip, module.Version{Path: modulePath, Version: version}, files))
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	info := fmt.Sprintf(`{"Version":%q,"Time":%q}`, version, time.Now().UTC().Format(time.RFC3339))
	for name, data := range map[string][]byte{
		"list": []byte(version + "\n"), version + ".info": []byte(info),
		version + ".mod": goMod, version + ".zip": zip.Bytes(),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	return "file://" + filepath.ToSlash(proxy)
}

// releaseEnv is the environment of a user's go commands that reach the
// release through proxyURL: a fresh module cache (writable, so that the
// test can remove it), the machine's module cache as the next proxy, then
// the usual GOPROXY. The checksum database knows no such release: it is
// not asked about ssot-ws.
func releaseEnv(t *testing.T, proxyURL string) []string {
	t.Helper()
	goenv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		require.NoError(t, err)
		return strings.TrimSpace(string(out))
	}
	proxies := []string{proxyURL, "file://" + filepath.ToSlash(filepath.Join(goenv("GOMODCACHE"), "cache", "download"))}
	if usual := goenv("GOPROXY"); usual != "" && usual != "off" {
		proxies = append(proxies, usual)
	}
	return append(os.Environ(),
		"GOWORK=off",
		"GOPROXY="+strings.Join(proxies, ","),
		"GOMODCACHE="+t.TempDir(),
		"GOFLAGS="+strings.TrimSpace(goenv("GOFLAGS")+" -modcacherw"),
		"GONOSUMDB="+modulePath,
		"GONOSUMCHECK=1",
		"GOSUMDB=off",
		"GOTOOLCHAIN=local",
	)
}

// treeFile is a file of the working tree, for the module zip.
type treeFile struct{ root, path string }

func (f treeFile) Path() string                 { return f.path }
func (f treeFile) Lstat() (os.FileInfo, error)  { return os.Lstat(filepath.Join(f.root, f.path)) }
func (f treeFile) Open() (io.ReadCloser, error) { return os.Open(filepath.Join(f.root, f.path)) }
