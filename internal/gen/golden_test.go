package gen

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under internal/golden")

// goldenCases are the directories of testdata/, one per case. Each case's
// output lives under internal/golden/<case>/, next to the protoc-gen-go
// and protoc-gen-connect-go output that testdata/buf.gen.yaml writes, so
// that `go build ./...` compiles it and the drive tests run it.
var goldenCases = []string{"chat", "library", "intkey", "httponly", "auto", "off", "presence", "editions2024", "perfile", "corpus", "connectv2", "batch", "aip"}

// repoRoot is where the plugin's module-relative output names point.
const repoRoot = "../.."

func TestGolden(t *testing.T) {
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			resp := generateCase(t, name)
			if len(resp.File) == 0 {
				t.Fatal("no output")
			}
			want := make(map[string]bool)
			for _, f := range resp.File {
				want[f.GetName()] = true
				path := filepath.Join(repoRoot, filepath.FromSlash(f.GetName()))
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(f.GetContent()), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/gen -update)", err)
				}
				if !bytes.Equal(got, []byte(f.GetContent())) {
					t.Errorf("%s is stale: run go test ./internal/gen -update and review the diff", f.GetName())
				}
			}
			// No golden may outlive the output that produced it.
			dir := filepath.Join(repoRoot, "internal", "golden", name)
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(path, generatedFilenameExtension) {
					return err
				}
				rel, err := filepath.Rel(repoRoot, path)
				if err != nil {
					return err
				}
				if !want[filepath.ToSlash(rel)] {
					if *update {
						return os.Remove(path)
					}
					t.Errorf("%s is not generated any more: delete it", rel)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGoldenStable checks that generating twice gives the same bytes.
func TestGoldenStable(t *testing.T) {
	for _, name := range goldenCases {
		a, b := generateCase(t, name), generateCase(t, name)
		if len(a.File) != len(b.File) {
			t.Fatalf("%s: %d files, then %d", name, len(a.File), len(b.File))
		}
		for i := range a.File {
			if a.File[i].GetName() != b.File[i].GetName() || a.File[i].GetContent() != b.File[i].GetContent() {
				t.Errorf("%s: %s differs between two runs", name, a.File[i].GetName())
			}
		}
	}
}

// TestHTTPOnly checks that output without a realtime model names no
// channel, publisher or gateway registration at all, but for the
// publisher parameter of the service constructors, which keep one
// signature whether their models are realtime or not
// (TestLiveToggleCompiles).
func TestHTTPOnly(t *testing.T) {
	for _, name := range []string{"httponly", "off"} {
		resp := generateCase(t, name)
		if len(resp.File) == 0 {
			t.Fatalf("%s: no output", name)
		}
		for _, f := range resp.File {
			var rest []string
			for _, line := range strings.Split(f.GetContent(), "\n") {
				if strings.HasPrefix(line, "func New") && strings.Contains(line, "(store ssotws.Store, pub ssotws.Publisher, opts *ssotws.ResourceOptions)") ||
					line == "// pub is for the models that turn realtime: none does yet, so it may be nil." {
					continue
				}
				rest = append(rest, line)
			}
			content := strings.Join(rest, "\n")
			for _, word := range []string{"Publisher", "Channel", "RegisterChannels", "pub "} {
				if strings.Contains(content, word) {
					t.Errorf("%s: %s contains %q", name, f.GetName(), word)
				}
			}
			if !strings.Contains(f.GetContent(), "HTTP only") {
				t.Errorf("%s: %s does not say its models are HTTP only", name, f.GetName())
			}
		}
	}
}

// TestGoldenCompiles compiles and vets the Go goldens of every case with
// the go command, so that `go test ./internal/gen` alone proves that what
// the plugin writes for the corpus (foreign-style protos: editions,
// presence, one file per resource, LROs, revisions, a read/write split)
// builds. TestTSCheck type-checks their TypeScript.
func TestGoldenCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: vetting the goldens runs the go command (about 10 s); the full run (CI) has it")
	}
	var pkgs []string
	for _, name := range goldenCases {
		pkgs = append(pkgs, "./internal/golden/"+name+"/...")
	}
	cmd := exec.Command("go", append([]string{"vet"}, pkgs...)...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go vet of the goldens:\n%s", out)
}
