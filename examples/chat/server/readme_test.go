package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// serverArgsEnv, when set, makes the test binary run the example's main
// with these arguments (one per line) instead of the tests: the
// example's own server in a process of its own.
const serverArgsEnv = "SSOTWS_CHAT_SERVER_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(serverArgsEnv); ok {
		os.Args = append([]string{"server"}, strings.Split(args, "\n")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// readmeSQLite3Line is the README's sqlite3 command line: the one line
// of README.md that starts with "sqlite3 chat.db ".
func readmeSQLite3Line(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "README.md"))
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "sqlite3 chat.db ") {
			lines = append(lines, sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	require.Len(t, lines, 1, "the README shows one sqlite3 command line")
	return lines[0]
}

// TestReadmeSQLite3Demo runs the README's demo: the example server on
// -db chat.db, a subscriber of room r1 on a real WebSocket (as the open
// page is), and the README's sqlite3 command line, run by the shell with
// Debian's sqlite3 in the server's directory. The row the shell inserts
// reaches the subscriber.
func TestReadmeSQLite3Demo(t *testing.T) {
	line := readmeSQLite3Line(t)
	_, err := exec.LookPath("sqlite3")
	require.NoError(t, err, "the README's demo needs the sqlite3 shell: ./scripts/setup.sh --sqlite3 (Debian: apt-get install sqlite3)")

	// A free port for the server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	dir := t.TempDir()
	server := exec.Command(os.Args[0], "-test.run=^$")
	server.Dir = dir
	server.Env = append(os.Environ(), serverArgsEnv+"="+strings.Join([]string{"-addr", addr, "-web", "", "-db", "chat.db"}, "\n"))
	server.Stderr = os.Stderr
	require.NoError(t, server.Start())
	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	t.Cleanup(func() {
		_ = server.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			assert.NoError(t, err, "the server stops cleanly")
		case <-time.After(20 * time.Second):
			_ = server.Process.Kill()
			t.Error("the server did not stop")
		}
	})

	// The page's subscription: room r1.
	var ws *websocket.Conn
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ws, _, err = websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
		return err == nil
	}, 60*time.Second, 50*time.Millisecond, "the example server listens")
	defer ws.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	read := func() *wsv1.ServerFrame {
		_, b, err := ws.Read(ctx)
		require.NoError(t, err)
		f := &wsv1.ServerFrame{}
		require.NoError(t, proto.Unmarshal(b, f))
		return f
	}
	sub, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: "Message?room_id=r1"}}})
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageBinary, sub))
	require.NotNil(t, read().GetAck())

	shell := exec.CommandContext(ctx, "sh", "-c", line)
	shell.Dir = dir
	out, err := shell.CombinedOutput()
	require.NoError(t, err, "%s\n%s", line, out)

	f := read()
	require.Len(t, f.GetEvents().GetEvents(), 1, "frame %v", f)
	ev := f.GetEvents().GetEvents()[0]
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev.GetType())
	assert.Equal(t, "from-the-shell", ev.GetKey())
	assert.Equal(t, int64(1), ev.GetVersion())
	msg := &chatv1.Message{}
	require.NoError(t, proto.Unmarshal(ev.GetData(), msg))
	assert.Equal(t, "hello from the sqlite3 shell", msg.GetText())
	assert.Equal(t, "sqlite3", msg.GetAuthor())
}
