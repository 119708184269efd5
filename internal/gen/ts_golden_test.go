package gen

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/pluginpb"
)

// tsGoldenDir holds the TypeScript goldens of every case in one tree, as
// one buf run would write them: protoc-gen-es's _pb.ts (written by
// internal/gen/testdata/buf.gen.ts.yaml), our _ssotws.ts and one copy of
// the runtime under ssotws/. The case protos have distinct paths, so the
// cases share the tree; tsconfig.json type-checks it.
var tsGoldenDir = filepath.Join(repoRoot, "internal", "golden", "ts")

// generateTSCase runs the plugin with lang=ts on testdata/<name>, with
// import_extension=js (Node's ESM resolution needs it) and the case's
// parameters.
func generateTSCase(t *testing.T, name, extra string) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	dir := filepath.Join("testdata", name)
	param := "lang=ts"
	if extra != "" {
		param += "," + extra
	}
	if b, err := os.ReadFile(filepath.Join(dir, "params.txt")); err == nil {
		param += "," + strings.TrimSpace(string(b))
	}
	resp, err := run(compileRequest(t, dir, nil, protoFiles(t, dir), param))
	if err != nil {
		t.Fatalf("generate %s: %v", name, err)
	}
	return resp
}

// isTSOutput reports whether a file of the TS golden tree is ours: a
// _ssotws.ts or a file of the emitted runtime.
func isTSOutput(rel string) bool {
	return strings.HasSuffix(rel, tsFileSuffix) || strings.HasPrefix(rel, "ssotws/")
}

func TestGoldenTS(t *testing.T) {
	want := make(map[string][]byte)
	for _, name := range goldenCases {
		a, b := generateTSCase(t, name, "import_extension=js"), generateTSCase(t, name, "import_extension=js")
		for i, f := range a.File {
			if f.GetName() != b.File[i].GetName() || f.GetContent() != b.File[i].GetContent() {
				t.Errorf("%s: %s differs between two runs", name, f.GetName())
			}
			if !isTSOutput(f.GetName()) {
				t.Errorf("%s: unexpected output %s", name, f.GetName())
			}
			if prev, ok := want[f.GetName()]; ok && !bytes.Equal(prev, []byte(f.GetContent())) {
				t.Errorf("%s: %s differs from another case's", name, f.GetName())
			}
			want[f.GetName()] = []byte(f.GetContent())
		}
	}
	for name, content := range want {
		path := filepath.Join(tsGoldenDir, filepath.FromSlash(name))
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test ./internal/gen -update)", err)
			continue
		}
		if !bytes.Equal(got, content) {
			t.Errorf("%s is stale: run go test ./internal/gen -update and review the diff", filepath.ToSlash(filepath.Join("internal/golden/ts", name)))
		}
	}
	// No golden may outlive the output that produced it.
	err := filepath.WalkDir(tsGoldenDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(tsGoldenDir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !isTSOutput(rel) || want[rel] != nil {
			return nil
		}
		if *update {
			return os.Remove(path)
		}
		t.Errorf("internal/golden/ts/%s is not generated any more: delete it", rel)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}

// TestTSCheck type-checks the TypeScript goldens with tsc under strict
// settings, with bundler and with Node16 module resolution. It needs the
// repository's node_modules (npm ci).
func TestTSCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: type-checking the TS goldens runs tsc (about 20 s); the full run (CI) has it")
	}
	tsc := filepath.Join(repoRoot, "node_modules", ".bin", "tsc")
	if _, err := os.Stat(tsc); err != nil {
		t.Fatalf("tsc is missing (%v): run npm ci at the repository root to type-check the TypeScript goldens", err)
	}
	for _, config := range []string{"tsconfig.json", "tsconfig.node16.json"} {
		cmd := exec.Command(tsc, "--noEmit", "-p", filepath.Join(tsGoldenDir, config))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("tsc -p internal/golden/ts/%s: %v\n%s", config, err, out)
		}
	}
}

// TestTSImportExtension checks that import_extension gives the imports of
// the generated file and of the emitted runtime the same extension, as
// protoc-gen-es does with its own imports.
func TestTSImportExtension(t *testing.T) {
	for _, tt := range []struct{ param, ext string }{
		{"", ""},
		{"import_extension=none", ""},
		{"import_extension=js", ".js"},
		{"import_extension=.ts", ".ts"},
	} {
		resp := generateTSCase(t, "chat", tt.param)
		files := make(map[string]string)
		for _, f := range resp.File {
			files[f.GetName()] = f.GetContent()
		}
		gen := files["chat/v1/chat"+tsFileSuffix]
		for _, imp := range []string{`from "../../ssotws/runtime/index` + tt.ext + `";`, `from "./chat_pb` + tt.ext + `";`} {
			if !strings.Contains(gen, imp) {
				t.Errorf("%q: chat_ssotws.ts lacks %s:\n%s", tt.param, imp, gen)
			}
		}
		index := files["ssotws/runtime/index.ts"]
		if imp := `from "./model` + tt.ext + `";`; !strings.Contains(index, imp) {
			t.Errorf("%q: the runtime's index.ts lacks %s", tt.param, imp)
		}
		if imp := `from "../gen/ssot/ws/v1/frame_pb` + tt.ext + `";`; !strings.Contains(index, imp) {
			t.Errorf("%q: the runtime's index.ts lacks %s", tt.param, imp)
		}
		if _, ok := files["ssotws/gen/ssot/ws/v1/frame_pb.ts"]; !ok {
			t.Errorf("%q: no frame_pb.ts", tt.param)
		}
	}
}

// TestTSHTTPOnly checks that the TypeScript output of schemas without a
// realtime model names no channel and takes no connection.
func TestTSHTTPOnly(t *testing.T) {
	for _, name := range []string{"httponly", "off"} {
		for _, f := range generateTSCase(t, name, "").File {
			if !strings.HasSuffix(f.GetName(), tsFileSuffix) {
				continue
			}
			for _, word := range []string{"Channel", "connection", "Hybrid", "realtime: true"} {
				if strings.Contains(f.GetContent(), word) {
					t.Errorf("%s: %s contains %q", name, f.GetName(), word)
				}
			}
		}
	}
}
