package scaffold

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ssotproto "github.com/ssot-codegen/ssot-ws/proto"
)

// bufPath is the buf CLI that npm ci installs at the repository root.
const bufPath = "../../node_modules/.bin/buf"

// TestBufLint runs buf lint on scaffolded files, with the input, in a
// workspace of their own: STANDARD for the standard style; for the aip
// style STANDARD less the two rules AIP's bare responses break, as the
// chat example's buf.yaml does. ssot-ws's own protos are a second module,
// linted with MINIMAL only.
func TestBufLint(t *testing.T) {
	buf, err := filepath.Abs(bufPath)
	if err == nil {
		_, err = os.Stat(buf)
	}
	if err != nil {
		t.Fatalf("buf is missing (%v): run npm ci at the repository root to install node_modules/.bin/buf", err)
	}
	for _, c := range goldenCases {
		if c.fragment {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			res, err := Scaffold(context.Background(), c.options())
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			// The input files, and those they import from the case.
			caseDir := filepath.Join("testdata", c.dir)
			err = filepath.WalkDir(caseDir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(path, ".proto") {
					return err
				}
				rel, err := filepath.Rel(caseDir, path)
				if err != nil {
					return err
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				return writeFile(filepath.Join(src, rel), b)
			})
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(src, filepath.FromSlash(c.outName()))
			if err := writeFile(out, []byte(res.File)); err != nil {
				t.Fatal(err)
			}
			err = fs.WalkDir(ssotproto.FS, ".", func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := ssotproto.FS.ReadFile(path)
				if err != nil {
					return err
				}
				return writeFile(filepath.Join(dir, "ssot", filepath.FromSlash(path)), b)
			})
			if err != nil {
				t.Fatal(err)
			}
			lint := "    lint:\n      use: [STANDARD]\n"
			if c.style == StyleAIP {
				lint += "      except: [RPC_REQUEST_RESPONSE_UNIQUE, RPC_RESPONSE_STANDARD_NAME]\n"
			}
			yaml := "version: v2\nmodules:\n  - path: src\n" + lint + "  - path: ssot\n    lint:\n      use: [MINIMAL]\n"
			if err := writeFile(filepath.Join(dir, "buf.yaml"), []byte(yaml)); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(buf, "lint")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+filepath.Join(dir, ".cache"))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("buf lint: %v\n%s\n--- %s ---\n%s", err, b, c.outName(), res.File)
			}
			// buf format would leave the file as it is.
			cmd = exec.Command(buf, "format", "-d", "--exit-code", filepath.Join("src", filepath.FromSlash(c.outName())))
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+filepath.Join(dir, ".cache"))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("buf format would change the scaffolded file: %v\n%s", err, b)
			}
		})
	}
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
