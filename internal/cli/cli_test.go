package cli

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTest() (*Command, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return New("demo", "usage: demo [-o dir] file...", &stdout, &stderr), &stdout, &stderr
}

func TestParseLetsFlagsFollowOperands(t *testing.T) {
	cmd, stdout, stderr := newTest()
	var imports ImportPaths
	cmd.ImportFlags(&imports)
	out := cmd.Flags.String("o", "", "")
	operands, _, done := cmd.Parse([]string{"a.proto", "-o", "dir", "b.proto", "-I", "x", "--proto_path", "y"})
	require.False(t, done)
	assert.Equal(t, []string{"a.proto", "b.proto"}, operands)
	assert.Equal(t, "dir", *out)
	assert.Equal(t, ImportPaths{"x", "y"}, imports)
	assert.Empty(t, stdout.String())
	assert.Empty(t, stderr.String())
}

func TestParseHelpPrintsUsage(t *testing.T) {
	cmd, stdout, stderr := newTest()
	_, status, done := cmd.Parse([]string{"-h"})
	require.True(t, done)
	assert.Equal(t, 0, status)
	assert.Equal(t, "usage: demo [-o dir] file...\n", stdout.String())
	assert.Empty(t, stderr.String())
}

func TestParseBadFlagIsAUsageError(t *testing.T) {
	cmd, stdout, stderr := newTest()
	_, status, done := cmd.Parse([]string{"f.proto", "-nope"})
	require.True(t, done)
	assert.Equal(t, 2, status)
	assert.Empty(t, stdout.String())
	assert.Equal(t, "protoc-gen-ssot-ws demo: flag provided but not defined: -nope\nusage: demo [-o dir] file...\n", stderr.String())
}

func TestFail(t *testing.T) {
	cmd, _, stderr := newTest()
	assert.Equal(t, 1, cmd.Fail("cannot write %s", "x"))
	assert.Equal(t, "protoc-gen-ssot-ws demo: cannot write x\n", stderr.String())
}
