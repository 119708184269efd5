package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReleaseCheck runs scripts/release-check.sh: at the current version
// it finds the Go runtime, the npm package, the lock file and the
// changelog in step (whatever it says about the branch or the working
// tree, which depend on where the test runs); at another version it names
// every file to change, the install commands of the docs included, and it
// refuses a malformed version. --notes prints a version's changelog
// section, the tag's message. It never tags.
func TestReleaseCheck(t *testing.T) {
	script := filepath.Join(repoRoot(t), "scripts", "release-check.sh")
	run := func(args ...string) (int, string) {
		cmd := exec.Command(script, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "%s", out)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}

	_, out := run(protocol.Version)
	for _, s := range []string{"ssotws/protocol/version.go says", "ts/runtime/package.json says", "package-lock.json has", "CHANGELOG.md has no", "CHANGELOG.md lost"} {
		assert.NotContains(t, out, s)
	}

	code, out := run("9.9.9")
	assert.Equal(t, 1, code)
	for _, s := range []string{"ssotws/protocol/version.go says " + protocol.Version, "ts/runtime/package.json says " + protocol.Version, "package-lock.json has @ssot-ws/runtime " + protocol.Version, "CHANGELOG.md has no '## 9.9.9' section", "(make its commands name v9.9.9)", "not ready to tag v9.9.9"} {
		assert.Contains(t, out, s)
	}
	assert.NotContains(t, out, "git tag -a")

	code, _ = run("v1.0")
	assert.Equal(t, 2, code)

	code, out = run("--notes", protocol.Version)
	require.Equal(t, 0, code, out)
	assert.True(t, strings.HasPrefix(out, "ssot-ws "+protocol.Version+"\n\n"), "the notes start with the release:\n%s", out)
	assert.Contains(t, out, "\n### Added\n")
	assert.NotContains(t, out, "\n## ", "the notes end before the next release")
	code, out = run("--notes", "9.9.9")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "CHANGELOG.md has no '## 9.9.9' section")
}
