package tsruntime

import (
	"encoding/json"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
)

func TestFSHoldsRuntimeAndFrames(t *testing.T) {
	fsys := FS()
	for _, name := range []string{RuntimeDir + "/index.ts", RuntimeDir + "/codegen.ts", RuntimeDir + "/react.ts", FrameFile} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(b) == 0 {
			t.Fatalf("%s is empty", name)
		}
	}
	// Every runtime file imports the frame code by the path the plugin
	// keeps, and nothing outside the allowed packages.
	entries, err := fs.ReadDir(fsys, RuntimeDir)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"./", "../gen/ssot/ws/v1/frame_pb.js", "@bufbuild/protobuf", "@connectrpc/connect"}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_test.ts") {
			t.Errorf("%s: test file embedded", e.Name())
		}
		b, _ := fs.ReadFile(fsys, RuntimeDir+"/"+e.Name())
		for _, line := range strings.Split(string(b), "\n") {
			i := strings.Index(line, ` from "`)
			if i < 0 || !(strings.HasPrefix(line, "import") || strings.HasPrefix(line, "export") || strings.HasPrefix(line, "}")) {
				continue
			}
			spec := strings.TrimSuffix(strings.TrimSuffix(line[i+len(` from "`):], ";"), `"`)
			ok := spec == "react" && (e.Name() == "react.ts" || e.Name() == "react_presence.ts")
			for _, a := range allowed {
				if spec == a || strings.HasPrefix(spec, a) && (strings.HasSuffix(a, "/") || strings.HasPrefix(spec[len(a):], "/")) {
					ok = true
				}
			}
			if strings.HasPrefix(spec, ".") && !strings.HasSuffix(spec, ".js") {
				ok = false
			}
			if !ok {
				t.Errorf("%s imports %q", e.Name(), spec)
			}
		}
	}
}

// TestQueryIsNpmOnly checks that runtime=emit leaves out the live
// connect-query mode, whose imports its projects may lack.
func TestQueryIsNpmOnly(t *testing.T) {
	if _, err := fs.ReadFile(FS(), RuntimeDir+"/query.ts"); err == nil {
		t.Error("FS holds query.ts")
	}
	if _, err := os.Stat("runtime/src/query.ts"); err != nil {
		t.Errorf("the npm package's query.ts: %v", err)
	}
}

// TestVersionLockstep checks that @ssot-ws/runtime is versioned with the
// plugin and the Go runtime: one release, one version.
func TestVersionLockstep(t *testing.T) {
	b, err := os.ReadFile("runtime/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("runtime/package.json: %v", err)
	}
	if pkg.Name != "@ssot-ws/runtime" || pkg.Version != protocol.Version {
		t.Errorf("runtime/package.json is %s@%s, want @ssot-ws/runtime@%s (protocol.Version)", pkg.Name, pkg.Version, protocol.Version)
	}
}
