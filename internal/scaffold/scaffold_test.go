package scaffold

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/gen"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenCase is one scaffold run over model-only protos in testdata/<dir>.
type goldenCase struct {
	name  string // golden file: testdata/golden/<name>.proto
	dir   string
	files []string
	// service and style are the -service and -style flags.
	service string
	style   Style
	// fragment compares Result.Fragment rather than Result.File.
	fragment bool
}

var goldenCases = []goldenCase{
	{name: "chat", dir: "chat", files: []string{"chat/v1/chat.proto"}},
	{name: "chat_aip", dir: "chat", files: []string{"chat/v1/chat.proto"}, style: StyleAIP},
	{name: "chat_service", dir: "chat", files: []string{"chat/v1/chat.proto"}, service: "ChatService"},
	{name: "chat_fragment", dir: "chat", files: []string{"chat/v1/chat.proto"}, fragment: true},
	{name: "library", dir: "library", files: []string{"library/v1/library.proto"}},
	{name: "library_aip", dir: "library", files: []string{"library/v1/library.proto"}, style: StyleAIP, service: "LibraryService"},
	{name: "intkey", dir: "intkey", files: []string{"intkey/v1/task.proto"}},
	{name: "editions", dir: "editions", files: []string{"notes/v1/notes.proto"}},
	{name: "legacy", dir: "legacy", files: []string{"legacy/v1/legacy.proto"}},
}

func (c goldenCase) options() Options {
	return Options{
		ImportPaths: []string{filepath.Join("testdata", c.dir)},
		Files:       c.files,
		Service:     c.service,
		Style:       c.style,
	}
}

// outName is the import path the complete output gets in these tests.
func (c goldenCase) outName() string {
	return strings.TrimSuffix(c.files[0], ".proto") + "_service.proto"
}

// TestGolden compares the scaffold output with testdata/golden; -update
// rewrites it.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Scaffold(context.Background(), c.options())
			if err != nil {
				t.Fatal(err)
			}
			got := res.File
			if c.fragment {
				got = res.Fragment
			}
			path := filepath.Join("testdata", "golden", c.name+".proto")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/scaffold -update)", err)
			}
			if !bytes.Equal(want, []byte(got)) {
				t.Errorf("%s is stale: run go test ./internal/scaffold -update and review the diff\n--- got ---\n%s", path, got)
			}
			// Deterministic: a second run gives the same bytes.
			again, err := Scaffold(context.Background(), c.options())
			if err != nil {
				t.Fatal(err)
			}
			if again.File != res.File || again.Fragment != res.Fragment {
				t.Error("two runs gave different output")
			}
		})
	}
}

// TestRoundTrip compiles each scaffolded file together with its input, as
// a user's buf generate would, and checks that the plugin's binding gives
// every model its five standard methods, with the shapes scaffold meant.
func TestRoundTrip(t *testing.T) {
	for _, c := range goldenCases {
		if c.fragment {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			opts := c.options()
			res, err := Scaffold(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			out := c.outName()
			names := append([]string{out}, opts.Files...)
			files, err := compile(context.Background(), opts.ImportPaths, map[string]string{out: res.File}, names)
			if err != nil {
				t.Fatalf("the scaffolded file does not compile: %v\n%s", err, res.File)
			}
			schema, err := gen.BindFiles(files, names, nil)
			if err != nil {
				t.Fatalf("the scaffolded file does not bind: %v", err)
			}
			if err := CheckBound(schema, out, res.Models); err != nil {
				t.Fatal(err)
			}
			checkShapes(t, schema, out, c.style)
		})
	}
}

// checkShapes checks how each bound method carries the model and its
// fields: the parts of AIP-131..135 the plugin reads.
func checkShapes(t *testing.T, schema *gen.Schema, out string, style Style) {
	t.Helper()
	n := 0
	for _, f := range schema.Files {
		if f.Proto.Desc.Path() != out {
			continue
		}
		for _, s := range f.Services {
			for _, m := range s.Methods {
				n++
				where := string(m.Proto.Desc.FullName())
				model := m.Model
				switch m.Standard {
				case gen.Get, gen.Create, gen.Update:
					want := gen.ResponseWrapper
					if style == StyleAIP {
						want = gen.ResponseModel
					}
					if m.Response != want {
						t.Errorf("%s: response shape %d, want %d", where, m.Response, want)
					}
				case gen.Delete:
					if m.Response != gen.ResponseEmpty {
						t.Errorf("%s: response shape %d, want empty", where, m.Response)
					}
					if (model.Version != nil) != (m.VersionField != nil) {
						t.Errorf("%s: version field %v, model version %v", where, m.VersionField != nil, model.Version != nil)
					}
				case gen.List:
					if m.PageSize == nil || m.PageToken == nil || m.NextPageToken == nil {
						t.Errorf("%s: paging fields not bound", where)
					}
					want := len(model.Scopes)
					if model.Owner != nil {
						want++
						for _, sc := range model.Scopes {
							if sc.Field == model.Owner {
								want--
							}
						}
					}
					if len(m.Filters) != want {
						t.Errorf("%s: %d filters bound, want %d (scopes and owner)", where, len(m.Filters), want)
					}
				}
				switch m.Standard {
				case gen.Get, gen.Delete:
					if m.KeyField == nil || m.KeyField.Desc.Name() != model.Key.Desc.Name() {
						t.Errorf("%s: key field not named as the model's key %s", where, model.Key.Desc.Name())
					}
				case gen.Create:
					if isString := model.Key.Desc.Kind().String() == "string"; isString != (m.IDField != nil) {
						t.Errorf("%s: <model>_id bound %v for a key of kind %s", where, m.IDField != nil, model.Key.Desc.Kind())
					}
				case gen.Update:
					if m.MaskField == nil {
						t.Errorf("%s: update_mask not bound", where)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no method bound")
	}
}
