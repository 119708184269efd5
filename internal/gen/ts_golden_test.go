package gen

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	tsruntime "github.com/ssot-codegen/ssot-ws/ts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/pluginpb"
)

// tsGoldenDir holds the TypeScript goldens of every case in one tree, as
// one buf run would write them: protoc-gen-es's _pb.ts (written by
// internal/gen/testdata/buf.gen.ts.yaml) and our _ssotws.ts, which import
// @ssot-ws/runtime from the npm workspace (ts/runtime). The case protos have
// distinct paths, so the cases share the tree; tsconfig.json type-checks it.
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
	resp, err := run(caseRequest(t, dir, param))
	if err != nil {
		t.Fatalf("generate %s: %v", name, err)
	}
	return resp
}

// isTSOutput reports whether a file of the TS golden tree is ours: a
// _ssotws.ts or a file of the emitted runtime (runtime=emit, which the
// goldens do not use).
func isTSOutput(rel string) bool {
	return strings.HasSuffix(rel, tsFileSuffix) || strings.HasPrefix(rel, "ssotws/")
}

// tsOnlyCases are golden cases that only lang=ts generates: their protos
// have no go_package (see testdata/nogopkg).
var tsOnlyCases = []string{"nogopkg"}

func TestGoldenTS(t *testing.T) {
	want := make(map[string][]byte)
	for _, name := range append(slices.Clone(goldenCases), tsOnlyCases...) {
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
// the generated file and of the emitted runtime (runtime=emit) the same
// extension, as protoc-gen-es does with its own imports.
func TestTSImportExtension(t *testing.T) {
	for _, tt := range []struct{ param, ext string }{
		{"", ""},
		{"import_extension=none", ""},
		{"import_extension=js", ".js"},
		{"import_extension=.ts", ".ts"},
	} {
		resp := generateTSCase(t, "chat", strings.TrimPrefix(tt.param+",runtime=emit", ","))
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
// realtime model names no channel and no connection, but for the client
// constructors (and their imports), which keep the signature of a realtime
// model's (TestLiveToggleCompiles).
func TestTSHTTPOnly(t *testing.T) {
	constructor := regexp.MustCompile(`/\*\*\n \* create\w+Client returns the hybrid DataClient of [^/]*?HTTP only[^/]*?\*/\nexport function create\w+Client\(options: HybridOptions\): HybridClient<\w+, \w+> \{\n  return createHybridClient\(\w+Model, options\);\n\}\n`)
	imports := regexp.MustCompile(`(?m)^import (type )?\{[^}]*\} from "@ssot-ws/runtime/codegen";$`)
	for _, name := range []string{"httponly", "off"} {
		for _, f := range generateTSCase(t, name, "").File {
			if !strings.HasSuffix(f.GetName(), tsFileSuffix) {
				continue
			}
			if !constructor.MatchString(f.GetContent()) {
				t.Errorf("%s: %s has no hybrid client constructor", name, f.GetName())
			}
			content := imports.ReplaceAllString(constructor.ReplaceAllString(f.GetContent(), ""), "")
			for _, word := range []string{"Channel", "connection", "Hybrid", "realtime: true"} {
				if strings.Contains(content, word) {
					t.Errorf("%s: %s contains %q", name, f.GetName(), word)
				}
			}
		}
	}
}

// TestTSRuntimePackage checks the default, runtime=package: generated files
// import @ssot-ws/runtime/codegen by its package name whatever the import
// extension, reference the version handshake, and no runtime is emitted.
func TestTSRuntimePackage(t *testing.T) {
	for _, param := range []string{"", "runtime=package", "import_extension=js", "import_extension=ts"} {
		for _, f := range generateTSCase(t, "chat", param).File {
			if !strings.HasSuffix(f.GetName(), tsFileSuffix) {
				t.Errorf("%q: wrote %s", param, f.GetName())
				continue
			}
			for _, want := range []string{
				`import { createHybridClient, defineModel, definePresence, defineSignals, ` + tsHandshake + `, itemChannel, modelChannel, scopeChannel } from "` + tsRuntimePkg + `";`,
				"\nvoid " + tsHandshake + ";\n",
			} {
				if !strings.Contains(f.GetContent(), want) {
					t.Errorf("%q: %s lacks %s:\n%s", param, f.GetName(), want, f.GetContent())
				}
			}
		}
	}
}

// TestTSHandshakeExported checks that the runtime exports the handshake
// constant the generator references (TestTSCheck type-checks it in use).
func TestTSHandshakeExported(t *testing.T) {
	b, err := fs.ReadFile(tsruntime.FS(), tsruntime.RuntimeDir+"/codegen.ts")
	if err != nil {
		t.Fatal(err)
	}
	if want := "export const " + tsHandshake + " = true;"; !strings.Contains(string(b), want) {
		t.Errorf("ts/runtime/src/codegen.ts lacks %s", want)
	}
}

// tsScratch makes a directory to type-check generated TypeScript in, out of
// the repository: links named node_modules entries of the repository's
// node_modules into it and writes files (paths relative to it). It returns
// the directory.
func tsScratch(t *testing.T, modules []string, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modules {
		link := filepath.Join(dir, "node_modules", filepath.FromSlash(m))
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(root, "node_modules", filepath.FromSlash(m)), link); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tsTSC runs tsc --noEmit on the project at config and returns its output
// and whether it passed.
func tsTSC(t *testing.T, config string) (string, bool) {
	t.Helper()
	tsc := filepath.Join(repoRoot, "node_modules", ".bin", "tsc")
	if _, err := os.Stat(tsc); err != nil {
		t.Fatalf("tsc is missing (%v): run npm ci at the repository root", err)
	}
	out, err := exec.Command(tsc, "--noEmit", "-p", config).CombinedOutput()
	return string(out), err == nil
}

// tsGoldenPB returns protoc-gen-es's files of the TS golden tree, by path.
func tsGoldenPB(t *testing.T) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir(tsGoldenDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_pb.ts") {
			return err
		}
		rel, err := filepath.Rel(tsGoldenDir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// tsScratchConfig is a tsconfig.json for a scratch directory that extends
// the TS goldens' config (base, "tsconfig.json" or "tsconfig.node16.json").
func tsScratchConfig(t *testing.T, base string) []byte {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(tsGoldenDir, base))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{ "extends": ` + strconv.Quote(path) + `, "include": ["."] }` + "\n")
}

// TestTSRuntimeEmit type-checks runtime=emit: every case generated with a
// vendored copy of the runtime, in a scratch directory next to the golden
// protoc-gen-es files, with bundler and with Node16 resolution. The copy is
// not checked in: the repository keeps one copy of the runtime, ts/runtime.
func TestTSRuntimeEmit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: type-checking the emitted runtime runs tsc (about 10 s); the full run (CI) has it")
	}
	files := tsGoldenPB(t)
	var emitted []string
	for _, name := range goldenCases {
		for _, f := range generateTSCase(t, name, "import_extension=js,runtime=emit").File {
			files[f.GetName()] = []byte(f.GetContent())
			if strings.HasPrefix(f.GetName(), "ssotws/") && name == goldenCases[0] {
				emitted = append(emitted, f.GetName())
			}
			if strings.Contains(f.GetContent(), "@ssot-ws/runtime") && strings.HasSuffix(f.GetName(), tsFileSuffix) {
				t.Errorf("%s: %s imports the package with runtime=emit", name, f.GetName())
			}
		}
	}
	// The copy is the whole runtime: every source of ts/runtime/src and the
	// frame code.
	want := []string{tsFrameFile}
	entries, err := fs.ReadDir(tsruntime.FS(), tsruntime.RuntimeDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		want = append(want, tsRuntimeDir+"/"+e.Name())
	}
	sort.Strings(want)
	sort.Strings(emitted)
	if strings.Join(emitted, " ") != strings.Join(want, " ") {
		t.Errorf("runtime=emit wrote\n%s\nwant\n%s", strings.Join(emitted, "\n"), strings.Join(want, "\n"))
	}
	files["tsconfig.json"] = tsScratchConfig(t, "tsconfig.json")
	files["tsconfig.node16.json"] = tsScratchConfig(t, "tsconfig.node16.json")
	// ES modules, as under the repository's package.json (Node16 needs it).
	files["package.json"] = []byte(`{ "type": "module" }` + "\n")
	dir := tsScratch(t, []string{"@bufbuild", "@connectrpc", "react", "@types"}, files)
	for _, config := range []string{"tsconfig.json", "tsconfig.node16.json"} {
		if out, ok := tsTSC(t, filepath.Join(dir, config)); !ok {
			t.Errorf("tsc -p %s with runtime=emit:\n%s", config, out)
		}
	}
}

// TestTSHandshake checks the version handshake: generated code type-checks
// against the runtime it was generated for (TestTSCheck), and fails tsc,
// on the handshake alone, against a runtime without the constant it
// references: here the runtime as it was before the constant existed.
func TestTSHandshake(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the handshake check runs tsc (about 5 s); the full run (CI) has it")
	}
	files := tsGoldenPB(t)
	for _, f := range generateTSCase(t, "chat", "import_extension=js").File {
		files[f.GetName()] = []byte(f.GetContent())
	}
	// An older @ssot-ws/runtime: today's sources without the constant.
	old := "node_modules/@ssot-ws/runtime/"
	files[old+"package.json"] = []byte(`{ "name": "@ssot-ws/runtime", "version": "0.0.0", "type": "module",
  "exports": { "./codegen": "./src/codegen.ts" } }` + "\n")
	err := fs.WalkDir(tsruntime.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(tsruntime.FS(), path)
		if err != nil {
			return err
		}
		if path == tsruntime.RuntimeDir+"/codegen.ts" {
			handshake := "export const " + tsHandshake + " = true;\n"
			if !bytes.Contains(b, []byte(handshake)) {
				t.Fatalf("codegen.ts lacks %s", handshake)
			}
			b = bytes.ReplaceAll(b, []byte(handshake), nil)
		}
		files[old+strings.TrimPrefix(path, "runtime/")] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files["tsconfig.json"] = tsScratchConfig(t, "tsconfig.json")
	dir := tsScratch(t, []string{"@bufbuild", "@connectrpc"}, files)
	out, ok := tsTSC(t, filepath.Join(dir, "tsconfig.json"))
	if ok {
		t.Fatal("tsc passed against a runtime without " + tsHandshake)
	}
	var errs int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, "error TS") {
			continue
		}
		errs++
		// "has no exported member 'X'", or "… member named 'X'. Did you
		// mean …" once the runtime holds an older handshake constant.
		if !strings.Contains(line, "has no exported member") || !strings.Contains(line, "'"+tsHandshake+"'") {
			t.Errorf("tsc failed on something else than the handshake: %s", line)
		}
	}
	if errs == 0 {
		t.Errorf("tsc failed without an error on the handshake:\n%s", out)
	}
}

// TestTSWithoutGoPackage checks that lang=ts neither needs nor looks at Go
// options: files without go_package or with one protoc-gen-go refuses, a
// MessageSet, and the Go parameters of a buf template shared with lang=go
// (module=, M…) give the same output as without them. lang=go still
// needs the Go import paths, and says so.
func TestTSWithoutGoPackage(t *testing.T) {
	dir := filepath.Join("testdata", "nogopkg")
	plain := generateTSCase(t, "nogopkg", "")
	for _, param := range []string{
		"lang=ts,module=github.com/acme/boards",
		"lang=ts,paths=source_relative,Mnogopkg/v1/board.proto=github.com/acme/boards",
		"lang=go,lang=ts",
	} {
		resp, err := run(caseRequest(t, dir, param))
		require.NoError(t, err, param)
		require.Len(t, resp.File, len(plain.File), param)
		for i, f := range resp.File {
			assert.Equal(t, plain.File[i].GetName(), f.GetName(), param)
			// The header names the parameter as given; the rest is the same.
			_, want, _ := strings.Cut(plain.File[i].GetContent(), "\n")
			header, got, _ := strings.Cut(f.GetContent(), "\n")
			assert.Equal(t, `// @generated by protoc-gen-ssot-ws with parameter "`+param+`"`, header)
			assert.Equal(t, want, got, param)
		}
	}
	_, err := run(caseRequest(t, dir, "lang=go"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Go import path")
}
