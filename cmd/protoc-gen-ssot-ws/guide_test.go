package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/gen"
	"github.com/ssot-codegen/ssot-ws/internal/scaffold"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// docFences returns every fenced block of a Markdown file under docs/.
func docFences(t *testing.T, name string) []fence {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", name))
	require.NoError(t, err)
	var (
		fences []fence
		cur    *fence
	)
	for _, line := range strings.SplitAfter(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &fence{info: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && strings.TrimSpace(line) == "```":
			fences = append(fences, *cur)
			cur = nil
		case cur != nil:
			cur.body += line
		}
	}
	require.Nil(t, cur, "unclosed fence in docs/%s", name)
	return fences
}

// TestGuide: every proto block of docs/guide.md compiles against the
// annotations and binds as the plugin binds it; its new command writes a
// project; every field of the annotations and every plugin parameter is
// named on the page.
func TestGuide(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "guide.md"))
	require.NoError(t, err)
	page := string(b)
	protos, commands := 0, 0
	for i, f := range docFences(t, "guide.md") {
		switch f.info {
		case "proto":
			name := fmt.Sprintf("guide/block%d.proto", i)
			// google/api/resource.proto (the AIP section) is the golden
			// workspace's vendored copy.
			googleapis := filepath.Join(repoRoot(t), "internal", "gen", "testdata", "googleapis")
			files, err := scaffold.Compile(ctx, []string{googleapis}, map[string]string{name: f.body}, []string{name})
			require.NoError(t, err, "docs/guide.md block %d:\n%s", i, f.body)
			schema, err := gen.BindFiles(files, []string{name}, nil)
			require.NoError(t, err, "docs/guide.md block %d binds", i)
			require.NotEmpty(t, schema.Files)
			protos++
		case "sh":
			for _, line := range strings.Split(strings.TrimSpace(f.body), "\n") {
				args := strings.Fields(line)
				require.GreaterOrEqual(t, len(args), 3)
				require.Equal(t, []string{"go", "tool", "protoc-gen-ssot-ws"}, args[:3], "only plugin commands in the guide: %q", line)
				for j, a := range args {
					if a == "my-chat" {
						args[j] = filepath.Join(t.TempDir(), a)
					}
				}
				status, stdout, stderr := runArgs(args[3:]...)
				require.Equal(t, 0, status, "%s\n%s%s", line, stdout, stderr)
				commands++
			}
		}
	}
	assert.Equal(t, 6, protos, "proto blocks")
	assert.Equal(t, 1, commands, "commands")

	named := func(d protoreflect.MessageDescriptor) {
		for i := range d.Fields().Len() {
			assert.Contains(t, page, "`"+string(d.Fields().Get(i).Name())+"`", "%s.%s", d.FullName(), d.Fields().Get(i).Name())
		}
	}
	named((&wsv1.ModelOptions{}).ProtoReflect().Descriptor())
	named((&wsv1.ServiceOptions{}).ProtoReflect().Descriptor())
	named((&wsv1.MethodOptions{}).ProtoReflect().Descriptor())
	named((&wsv1.FieldOptions{}).ProtoReflect().Descriptor())
	for _, p := range []string{"lang", "realtime", "binding", "package_suffix", "connect_package_suffix", "import_extension", "runtime"} {
		assert.Contains(t, page, "| `"+p+"` |", "plugin option %s", p)
	}
	for _, preset := range []string{"chat", "notifications", "todo"} {
		assert.Contains(t, page, "`"+preset+"`")
	}
}
