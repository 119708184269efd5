package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's commands, each with what runs it. TestReadmeCommands fails
// when the README shows a command that is in neither table (or a table
// names a command the README no longer shows). To register a new command:
//
//   - if a test already runs it, add it to readmeTestedBy with that test
//     ("path/to/x_test.go TestName", checked to exist) or the script that
//     runs it ("scripts/test.sh", checked to contain the command's first
//     words);
//   - else add it to the commands of a readmeScenario (or write a new
//     one) that runs it, as the README writes it, in a temporary copy of
//     the repository.
//
// A section whose every shell block a test runs as written is in
// readmeSectionsRunBy instead.

// readmeTestedBy maps a README command (continuation lines joined, the
// comment dropped, spaces collapsed) to what runs it.
var readmeTestedBy = map[string]string{
	// .ci/run runs the quick start's test command as written.
	"./scripts/test.sh": ".ci/run",
	// A project of every preset, -replace pointing at this checkout, its
	// npm test run (a link to the repository's node_modules stands for npm
	// install) and, for chat, the server started and a live update in
	// Chromium (npm run test:e2e), as npm start serves it.
	"cd ../my-app && npm install && npm start": "internal/newproject/newproject_test.go TestNewPresets",
	// Until @ssot-ws/runtime is on npm: the goldens type-checked against
	// the package as npm packs it, with the other packages at the
	// repository's pinned versions.
	"npm install @ssot-ws/runtime @bufbuild/protobuf @connectrpc/connect @connectrpc/connect-web": "scripts/test.sh npm run --silent test:dist",
	// The SQLite demo: the example's server started on -db chat.db (the
	// flags run-example.sh passes on), then the sqlite3 line read from
	// this README and run with the real sqlite3 shell; its row arrives on
	// a WebSocket.
	"./scripts/run-example.sh -db chat.db": "examples/chat/server/readme_test.go TestReadmeSQLite3Demo",
	`sqlite3 chat.db ".timeout 5000" "INSERT INTO messages (id, room_id, author, text) VALUES ('from-the-shell', 'r1', 'sqlite3', 'hello from the sqlite3 shell')"`: "examples/chat/server/readme_test.go TestReadmeSQLite3Demo",
}

// readmeSectionsRunBy names the README sections whose shell blocks a test
// runs as written, every line of every block (npm lines: a link to the
// repository's node_modules stands for them).
var readmeSectionsRunBy = map[string]string{
	"Start your own project": "cmd/protoc-gen-ssot-ws/start_test.go TestStartYourOwnProject",
}

// readmeScenario runs some of the README's commands in clone, a copy of
// the repository in dir/ssot-ws (so that ../my-app is dir/my-app), with
// the README's addresses replaced by free ones (s.addr).
type readmeScenario struct {
	name     string
	commands []string
	run      func(t *testing.T, s *readmeSandbox, commands []string)
}

var readmeScenarios = []readmeScenario{{
	name:     "npm packages",
	commands: []string{"npm install react"},
	run: func(t *testing.T, s *readmeSandbox, commands []string) {
		// In a new web app, from npm's cache when it has the package.
		app := t.TempDir()
		env := append(s.env, "npm_config_prefer_offline=true", "npm_config_audit=false", "npm_config_fund=false")
		runIn(t, app, env, "npm", "init", "-y")
		runIn(t, app, env, "bash", "-euo", "pipefail", "-c", commands[0])
		assert.FileExists(t, filepath.Join(app, "node_modules", "react", "package.json"))
	},
}, {
	name: "quick start, watch it work",
	commands: []string{
		"./scripts/run-example.sh",
		"go run ./examples/chat/client -room r1",
		`npx buf curl --schema . -d '{"message":{"room_id":"r1","author":"ann","text":"hello"}}' http://127.0.0.1:8080/chat.v1.ChatService/CreateMessage`,
	},
	run: func(t *testing.T, s *readmeSandbox, commands []string) {
		// run-example.sh passes its arguments to the server.
		s.start(t, "server", s.addr(commands[0]+" -addr 127.0.0.1:8080"))
		s.waitListening(t, "127.0.0.1:8080")
		client := s.start(t, "client", s.addr(commands[1]+" -addr 127.0.0.1:8080"))
		client.waitOutput(t, "watching room r1")
		s.bash(t, s.addr(commands[2]))
		client.waitOutput(t, "[r1] ann: hello")
	},
}, {
	name: "start a new project",
	commands: []string{
		"go run github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws@latest new -preset chat my-app",
		`go run ./cmd/protoc-gen-ssot-ws new -preset chat -replace "$PWD" ../my-app`,
	},
	run: func(t *testing.T, s *readmeSandbox, commands []string) {
		// From the first tag on: the tree served as a release.
		released := t.TempDir()
		env := releaseEnv(t, serveModule(t, s.root, "v"+versionLineVersion()))
		runIn(t, released, env, "bash", "-euo", "pipefail", "-c", commands[0])
		goMod, err := os.ReadFile(filepath.Join(released, "my-app", "go.mod"))
		require.NoError(t, err)
		assert.Contains(t, string(goMod), "github.com/ssot-codegen/ssot-ws v"+versionLineVersion())
		assert.NotContains(t, string(goMod), "replace")

		s.bash(t, commands[1])
		goMod, err = os.ReadFile(filepath.Join(s.dir, "my-app", "go.mod"))
		require.NoError(t, err)
		assert.Contains(t, string(goMod), "replace github.com/ssot-codegen/ssot-ws => "+filepath.ToSlash(s.clone))
	},
}, {
	name: "several nodes behind NATS",
	commands: []string{
		"go install github.com/nats-io/nats-server/v2@v2.15.2",
		"nats-server -js &",
		"go run ./examples/chat/server -addr 127.0.0.1:8080 -db chat.db -nats nats://127.0.0.1:4222 &",
		"go run ./examples/chat/server -addr 127.0.0.1:8081 -db chat.db -nats nats://127.0.0.1:4222 &",
		"go run ./examples/chat/client -addr 127.0.0.1:8081 -room r1",
	},
	run: func(t *testing.T, s *readmeSandbox, commands []string) {
		cmds := commands
		goMod, err := os.ReadFile(filepath.Join(s.root, "go.mod"))
		require.NoError(t, err)
		require.Contains(t, string(goMod), "\tgithub.com/nats-io/nats-server/v2 v2.15.2\n", "the README installs the nats-server go.mod pins")
		bin := t.TempDir()
		s.env = append(s.env, "GOBIN="+bin, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		s.bash(t, cmds[0])
		// nats-server -js on a free port; JetStream keeps its files under
		// TMPDIR.
		s.env = append(s.env, "TMPDIR="+t.TempDir())
		s.start(t, "nats-server", strings.TrimSuffix(cmds[1], " &")+" -p "+s.port("127.0.0.1:4222"))
		s.waitListening(t, "127.0.0.1:4222")
		s.start(t, "server :8080", strings.TrimSuffix(s.addr(cmds[2]), " &"))
		s.start(t, "server :8081", strings.TrimSuffix(s.addr(cmds[3]), " &"))
		s.waitListening(t, "127.0.0.1:8080")
		s.waitListening(t, "127.0.0.1:8081")
		client := s.start(t, "client :8081", s.addr(cmds[4]))
		client.waitOutput(t, "watching room r1")
		// A write on :8080 reaches the client of :8081.
		body := `{"message":{"room_id":"r1","author":"ann","text":"through nats"}}`
		res, err := http.Post("http://"+s.addr("127.0.0.1:8080")+"/chat.v1.ChatService/CreateMessage", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.NoError(t, res.Body.Close())
		client.waitOutput(t, "[r1] ann: through nats")
	},
}}

// TestReadmeCommands checks that every command of README.md's shell
// blocks is run by a test (readmeTestedBy, readmeSectionsRunBy) or by one
// of this test's scenarios, which run them in a copy of the repository
// with the addresses the README names (127.0.0.1:8080, :8081, NATS's
// :4222) replaced by free ones. With -short only the tables are checked.
func TestReadmeCommands(t *testing.T) {
	root := repoRoot(t)
	inScenario := map[string]bool{}
	for _, sc := range readmeScenarios {
		for _, c := range sc.commands {
			inScenario[c] = true
		}
	}
	shown := map[string]bool{}
	for _, f := range readmeFences(t) {
		if f.info != "sh" {
			continue
		}
		for _, c := range shellCommands(f.body) {
			shown[c] = true
			if by, ok := readmeSectionsRunBy[f.section]; ok {
				requireRunner(t, root, by, "")
				continue
			}
			by, tested := readmeTestedBy[c]
			switch {
			case tested:
				requireRunner(t, root, by, c)
			case !inScenario[c]:
				t.Errorf("README.md (%s) shows %q, which no test runs: add it to readmeTestedBy with the test that runs it, or to a readmeScenario (readme_test.go)", f.section, c)
			}
		}
	}
	for c := range readmeTestedBy {
		assert.True(t, shown[c], "readmeTestedBy lists %q, which README.md no longer shows", c)
	}
	for c := range inScenario {
		assert.True(t, shown[c], "a readmeScenario runs %q, which README.md no longer shows", c)
	}
	if testing.Short() {
		t.Log("-short: the scenarios are not run")
		return
	}
	for _, sc := range readmeScenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, newReadmeSandbox(t, root), sc.commands) })
	}
}

// requireRunner checks that what runs a command exists: "file TestName"
// names a test function of file, "script words…" a script containing
// those words (the command's own, when words are not given).
func requireRunner(t *testing.T, root, by, command string) {
	t.Helper()
	file, rest, _ := strings.Cut(by, " ")
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
	require.NoError(t, err, "%q names a file that does not exist", by)
	switch {
	case strings.HasPrefix(rest, "Test"):
		assert.Contains(t, string(b), "func "+rest+"(", "%s has no %s", file, rest)
	case rest != "":
		assert.Contains(t, string(b), rest, "%s does not run %q", file, rest)
	default:
		assert.Contains(t, string(b), command, "%s does not run %q", file, command)
	}
}

// shellCommands returns the commands of a shell block: continuation
// lines joined, comments dropped, spaces collapsed.
func shellCommands(block string) []string {
	var out []string
	joined := strings.ReplaceAll(block, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		if c := strings.Join(strings.Fields(dropComment(line)), " "); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// dropComment cuts line at a # that starts a word outside quotes.
func dropComment(line string) string {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// versionLineVersion is the version --version prints.
func versionLineVersion() string {
	return strings.TrimPrefix(versionLine(), "protoc-gen-ssot-ws ")
}

// readmeSandbox is a copy of the repository in dir/ssot-ws (clone), with
// the repository's node_modules linked in, and free addresses standing
// for the README's.
type readmeSandbox struct {
	root, dir, clone string
	env              []string
	addrs            map[string]string
}

func newReadmeSandbox(t *testing.T, root string) *readmeSandbox {
	t.Helper()
	s := &readmeSandbox{root: root, dir: t.TempDir(), addrs: map[string]string{}}
	s.clone = filepath.Join(s.dir, "ssot-ws")
	// setup.sh (run by run-example.sh) runs npm ci when package-lock.json
	// is newer than node_modules: never through the link below.
	lock, err := os.Stat(filepath.Join(root, "package-lock.json"))
	require.NoError(t, err)
	installed, err := os.Stat(filepath.Join(root, "node_modules", ".package-lock.json"))
	require.NoError(t, err, "npm packages missing: run ./scripts/setup.sh")
	require.False(t, lock.ModTime().After(installed.ModTime()), "package-lock.json is newer than node_modules: run ./scripts/setup.sh")
	copyTree(t, root, s.clone)
	require.NoError(t, os.Symlink(filepath.Join(root, "node_modules"), filepath.Join(s.clone, "node_modules")))
	s.env = append(os.Environ(), "GOWORK=off", "BUF_CACHE_DIR="+filepath.Join(s.dir, ".cache", "buf"))
	for _, a := range []string{"127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:4222"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		s.addrs[a] = ln.Addr().String()
		require.NoError(t, ln.Close())
	}
	return s
}

// addr replaces the README's addresses in command by the sandbox's.
func (s *readmeSandbox) addr(command string) string {
	for from, to := range s.addrs {
		command = strings.ReplaceAll(command, from, to)
	}
	return command
}

// port is the port that stands for the README's address a.
func (s *readmeSandbox) port(a string) string {
	_, p, _ := net.SplitHostPort(s.addrs[a])
	return p
}

// bash runs command in the clone and fails the test if it fails.
func (s *readmeSandbox) bash(t *testing.T, command string) string {
	t.Helper()
	return runIn(t, s.clone, s.env, "bash", "-euo", "pipefail", "-c", command)
}

// waitListening waits until something accepts connections at the address
// standing for the README's a.
func (s *readmeSandbox) waitListening(t *testing.T, a string) {
	t.Helper()
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", s.addr(a), time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 4*time.Minute, 100*time.Millisecond, "nothing listens at %s (%s)", s.addr(a), a)
}

// start runs command with bash in the clone, in a process group of its
// own that the test's end stops (go run's child with it).
func (s *readmeSandbox) start(t *testing.T, name, command string) *background {
	t.Helper()
	b := &background{name: name}
	cmd := exec.Command("bash", "-c", "exec "+command)
	cmd.Dir, cmd.Env = s.clone, s.env
	cmd.Stdout, cmd.Stderr = b, b
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s (%s) said:\n%s", name, command, b.String())
		}
	})
	return b
}

// background is the output of a started command.
type background struct {
	name string
	mu   sync.Mutex
	out  bytes.Buffer
}

func (b *background) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *background) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// waitOutput waits until the command has printed want.
func (b *background) waitOutput(t *testing.T, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(b.String(), want) }, 4*time.Minute, 50*time.Millisecond,
		"%s never printed %q; it printed:\n%s", b.name, want, b)
}

// copyTree copies the working tree's files at root (tracked and untracked,
// less what .gitignore ignores) to dir, keeping their modes and times (so
// that setup.sh sees package-lock.json no newer than node_modules).
func copyTree(t *testing.T, root, dir string) {
	t.Helper()
	for _, name := range treeFiles(t, root) {
		src := filepath.Join(root, name)
		info, err := os.Lstat(src)
		require.NoError(t, err)
		dst := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		if info.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			require.NoError(t, err)
			require.NoError(t, os.Symlink(target, dst))
			continue
		}
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, b, info.Mode().Perm()))
		require.NoError(t, os.Chtimes(dst, info.ModTime(), info.ModTime()))
	}
}

// treeFiles lists the working tree's files at root, as slash paths:
// tracked and untracked, less what .gitignore ignores and what was
// deleted.
func treeFiles(t *testing.T, root string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	require.NoError(t, err, "listing the working tree's files")
	var names []string
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if _, err := os.Lstat(filepath.Join(root, name)); err == nil {
			names = append(names, name)
		}
	}
	return names
}
