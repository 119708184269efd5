package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ssotproto "github.com/ssot-codegen/ssot-ws/proto"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	protovalidateproto "github.com/ssot-codegen/ssot-ws/third_party/protovalidate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runArgs runs the binary's commands in-process.
func runArgs(args ...string) (status int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	status = run(context.Background(), args, &out, &errOut)
	return status, out.String(), errOut.String()
}

// TestVersion: --version prints the binary's name and the release's
// version, as docs/install.md shows.
func TestVersion(t *testing.T) {
	for _, flag := range []string{"--version", "-version"} {
		status, out, errOut := runArgs(flag)
		assert.Equal(t, 0, status, flag)
		assert.Equal(t, "protoc-gen-ssot-ws "+protocol.Version+"\n", out, flag)
		assert.Empty(t, errOut, flag)
	}
}

// TestProtoCommand: "proto" prints the embedded annotations, or writes
// them under -o at their import path and says so in one line.
func TestProtoCommand(t *testing.T) {
	want, err := ssotproto.FS.ReadFile("ssot/ws/v1/options.proto")
	require.NoError(t, err)

	status, out, errOut := runArgs("proto")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, string(want), out)

	dir := filepath.Join(t.TempDir(), "third_party", "ssot-ws")
	for range 2 { // a second run replaces the copy
		status, out, errOut = runArgs("proto", "-o", dir)
		require.Equal(t, 0, status, errOut)
		file := filepath.Join(dir, "ssot", "ws", "v1", "options.proto")
		assert.Equal(t, "protoc-gen-ssot-ws proto: wrote "+file+" (ssot-ws "+protocol.Version+"): put "+dir+
			" on the import path (protoc -I, or a module of your buf workspace)\n", out)
		assert.Empty(t, errOut)
		got, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	}
	entries, err := os.ReadDir(filepath.Join(dir, "ssot", "ws", "v1"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only options.proto is written")

	status, out, _ = runArgs("proto", "-h")
	assert.Equal(t, 0, status)
	assert.Contains(t, out, "usage: protoc-gen-ssot-ws proto [-validate] [-o dir]")

	status, _, errOut = runArgs("proto", "extra")
	assert.Equal(t, 2, status)
	assert.Contains(t, errOut, `unexpected argument "extra"`)
}

// TestProtoCommandValidate: "proto -validate" prints protovalidate's
// rules, or writes them and their license under -o, ready to be a module
// of a buf workspace.
func TestProtoCommandValidate(t *testing.T) {
	want, err := protovalidateproto.FS.ReadFile(protovalidateproto.Path)
	require.NoError(t, err)
	status, out, errOut := runArgs("proto", "-validate")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, string(want), out)

	dir := filepath.Join(t.TempDir(), "third_party", "protovalidate")
	status, out, errOut = runArgs("proto", "-validate", "-o", dir)
	require.Equal(t, 0, status, errOut)
	file := filepath.Join(dir, "buf", "validate", "validate.proto")
	assert.Contains(t, out, "wrote "+file)
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
	license, err := os.ReadFile(filepath.Join(dir, "LICENSE"))
	require.NoError(t, err)
	assert.Contains(t, string(license), "Apache License")
}

// TestUsage: unknown arguments print the usage, which lists every
// command, and fail.
func TestUsage(t *testing.T) {
	status, out, errOut := runArgs("--bogus")
	assert.Equal(t, 1, status)
	assert.Empty(t, out)
	for _, cmd := range []string{"scaffold [-I dir]", "proto [-validate] [-o dir]", "--version"} {
		assert.True(t, strings.Contains(errOut, cmd), "usage lacks %q:\n%s", cmd, errOut)
	}
	status, out, _ = runArgs("--help")
	assert.Equal(t, 0, status)
	assert.Contains(t, out, "Commands:")
}
