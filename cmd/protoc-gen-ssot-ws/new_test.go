package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewCommand: "new DIR --preset P" takes its flags before or after the
// directory, says what to run next, and refuses a second directory or an
// unknown preset. internal/newproject's TestNewPresets runs the projects.
func TestNewCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	status, stdout, stderr := runArgs("new", dir, "--preset", "todo", "-replace", "../ssot-ws")
	require.Equal(t, 0, status, stderr)
	assert.Contains(t, stdout, "of the todo preset into "+dir)
	assert.Contains(t, stdout, "npm install && npm start")
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(goMod), "replace github.com/ssot-codegen/ssot-ws => ../ssot-ws")
	assert.FileExists(t, filepath.Join(dir, "proto", "todo", "v1", "todo_service.proto"))

	status, _, stderr = runArgs("new", "-preset", "blog", filepath.Join(t.TempDir(), "x"))
	assert.Equal(t, 1, status)
	assert.Contains(t, stderr, `unknown preset "blog"`)
	status, _, stderr = runArgs("new", "a", "b")
	assert.Equal(t, 2, status)
	assert.Contains(t, stderr, "want one directory, got 2")
	status, stdout, _ = runArgs("new", "-h")
	assert.Equal(t, 0, status)
	assert.Contains(t, stdout, "notifications")
	_, stdout, _ = runArgs("--help")
	assert.Contains(t, stdout, "new [-preset chat|notifications|todo]")
}
