// Package godeps lists what a package links, for tests that keep a
// package's dependencies in bounds (the plugin must not link the server
// runtime; the protocol package must link neither Connect nor WebSocket).
package godeps

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// List returns the import paths of pattern and everything it imports, not
// counting test files, as "go list -deps" prints them. It runs the go
// command of the toolchain running the test, from the current directory.
func List(t testing.TB, pattern string) []string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.Command(goBin, "list", "-deps", pattern)
	cmd.Stderr = new(strings.Builder)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pattern, err, cmd.Stderr)
	}
	return strings.Fields(string(out))
}

// Matching returns the packages of deps that are path or under path/.
func Matching(deps []string, path string) []string {
	var out []string
	for _, d := range deps {
		if d == path || strings.HasPrefix(d, path+"/") {
			out = append(out, d)
		}
	}
	return out
}
