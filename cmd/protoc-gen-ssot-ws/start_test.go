package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ssotproto "github.com/ssot-codegen/ssot-ws/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fence is one fenced block of README.md: the "## " section it is in,
// its info string ("sh", "yaml buf.yaml") and its text.
type fence struct {
	section, info, body string
}

// readmeFences returns every fenced block of README.md, in order.
func readmeFences(t *testing.T) []fence {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	var (
		fences  []fence
		cur     *fence
		section string
	)
	for _, line := range strings.SplitAfter(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "## "):
			section = strings.TrimSpace(strings.TrimPrefix(line, "## "))
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &fence{section: section, info: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && strings.TrimSpace(line) == "```":
			fences = append(fences, *cur)
			cur = nil
		case cur != nil:
			cur.body += line
		}
	}
	require.Nil(t, cur, "unclosed fence in README.md")
	return fences
}

// readmeSection returns the fenced blocks of the README section titled
// heading, in order.
func readmeSection(t *testing.T, heading string) []fence {
	t.Helper()
	var out []fence
	found := false
	for _, f := range readmeFences(t) {
		if f.section == heading {
			out, found = append(out, f), true
		}
	}
	require.True(t, found, "README.md has no section %q with a fenced block", heading)
	return out
}

// TestStartYourOwnProject runs the README's "Start your own project" as
// written, in a fresh directory: every sh block is run with bash (the
// clone's path ../ssot-ws stands for this checkout), every block whose
// info string names a file is written to that file. npm lines are not
// run: a link to the repository's node_modules stands for them (the same
// packages, pinned by package-lock.json, and @ssot-ws/runtime from this
// checkout); "npx buf" is the repository's buf. With -short, the project
// is generated but not built, and its TypeScript not type-checked.
func TestStartYourOwnProject(t *testing.T) {
	root := repoRoot(t)
	buf := bufCLI(t)
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(root, "node_modules"), filepath.Join(dir, "node_modules")))
	env := userEnv(dir, filepath.Join(root, "node_modules", ".bin"))

	fences := readmeSection(t, "Start your own project")
	var (
		ran     []string
		outputs string
	)
	for _, f := range fences {
		kind, file, _ := strings.Cut(f.info, " ")
		if file != "" {
			writeFiles(t, dir, map[string]string{file: f.body})
			continue
		}
		require.Equal(t, "sh", kind, "README block %q is neither a command nor a file", f.info)
		var script []string
		for _, line := range strings.Split(f.body, "\n") {
			switch {
			case strings.HasPrefix(line, "npm "):
				continue
			case testing.Short() && strings.HasPrefix(line, "go build"):
				continue
			}
			line = strings.ReplaceAll(line, "../ssot-ws", root)
			line = strings.ReplaceAll(line, "npx buf", buf)
			script = append(script, line)
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			seedGoSum(t, dir)
		}
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.Join(script, "\n"))
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "README block:\n%s\noutput:\n%s", f.body, out)
		ran = append(ran, f.body)
		outputs += string(out)
		if strings.Contains(f.body, "go mod init") {
			// As on a fresh machine, the checksum database stands behind
			// go mod tidy; here the repository's go.sum does.
			seedGoSum(t, dir)
		}
	}
	require.Len(t, ran, 4, "the README's commands changed: check this test still covers them")

	// The annotations, as the binary carries them.
	got, err := os.ReadFile(filepath.Join(dir, "third_party", "ssot-ws", "ssot", "ws", "v1", "options.proto"))
	require.NoError(t, err)
	want, err := ssotproto.FS.ReadFile("ssot/ws/v1/options.proto")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
	// Each command said what it wrote.
	assert.Contains(t, outputs, "protoc-gen-ssot-ws proto: wrote third_party/ssot-ws/ssot/ws/v1/options.proto")
	assert.Contains(t, outputs, "protoc-gen-ssot-ws scaffold: wrote proto/chat/v1/chat_service.proto: service MessageService (package chat.v1) for the model Message")

	// Generated: Go next to protoc-gen-go and connect-go, TypeScript next
	// to protoc-gen-es, and options_pb.ts, which chat_pb.ts imports.
	requireFiles(t, dir,
		"gen/chat/v1/chat.pb.go",
		"gen/chat/v1/chat_service.pb.go",
		"gen/chat/v1/chatv1connect/chat_service.connect.go",
		"gen/chat/v1/chatv1ssotws/chat.ssotws.go",
		"gen/chat/v1/chatv1ssotws/chat_service.ssotws.go",
		"web/src/gen/chat/v1/chat_pb.ts",
		"web/src/gen/chat/v1/chat_service_pb.ts",
		"web/src/gen/chat/v1/chat_ssotws.ts",
		"web/src/gen/ssot/ws/v1/options_pb.ts",
	)
	// Not generated: Go code for the annotations.
	requireNoOrphan(t, dir, "gen")

	if testing.Short() {
		t.Log("-short: the project is not built, its TypeScript not type-checked")
		return
	}
	// The README's go build ran; the plugins are pinned in go.mod.
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	for _, tool := range []string{"github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws", "google.golang.org/protobuf/cmd/protoc-gen-go", "connectrpc.com/connect/cmd/protoc-gen-connect-go"} {
		assert.Contains(t, string(goMod), tool)
	}
	typecheckTS(t, dir)
}
