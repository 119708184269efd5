package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// build compiles the plugin binary into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "protoc-gen-ssot-ws")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return bin
}

// TestBinary runs the built binary both ways: as the scaffold command and
// as a protoc plugin reading a CodeGeneratorRequest on stdin.
func TestBinary(t *testing.T) {
	bin := build(t)
	const testdata = "../../internal/scaffold/testdata"

	t.Run("scaffold", func(t *testing.T) {
		cmd := exec.Command(bin, "scaffold", "-I", filepath.Join(testdata, "chat"), "chat/v1/chat.proto")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %s", err, stderr.Bytes())
		}
		want, err := os.ReadFile(filepath.Join(testdata, "golden", "chat_fragment.proto"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, want) {
			t.Errorf("scaffold printed:\n%s", out)
		}
	})

	t.Run("scaffold error", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "bad.proto"), []byte("syntax = \"proto3\";\nmessage {\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "scaffold", "-I", dir, "bad.proto")
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
			t.Fatalf("exit status %d (%v), want 1", code, err)
		}
		if !strings.Contains(string(out), "bad.proto:2:9: syntax error") {
			t.Errorf("output lacks the compiler's error:\n%s", out)
		}
	})

	t.Run("plugin", func(t *testing.T) {
		req, err := proto.Marshal(&pluginpb.CodeGeneratorRequest{})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin)
		cmd.Stdin = bytes.NewReader(req)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		var resp pluginpb.CodeGeneratorResponse
		if err := proto.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Error != nil || len(resp.File) != 0 {
			t.Errorf("response: %v", &resp)
		}
	})
}
