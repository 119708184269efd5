// Package crashtest is the kill -9 drill of the SQL stores: a process
// commits a write while its relay cannot publish and is killed with
// SIGKILL right after the commit; after a restart on the same database,
// a client resuming from a position taken before the crash receives the
// event once, from the broker's history, without Reset. The store
// packages' tests run it ([KillNine]) and dispatch to the child process
// from their TestMain ([Child]).
package crashtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/natsbroker"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// Models are the models the drill's stores serve: the chat example's.
var Models = []*ssotws.Model{chatv1ssotws.RoomModel, chatv1ssotws.MessageModel}

// Open opens a store of [Models] on the database db (the same each call:
// a file, a schema) and starts its relay publishing to pub. Closing the
// returned closer stops the relay and closes the store.
type Open func(ctx context.Context, db string, pub ssotws.Publisher) (ssotws.Store, ssotws.ChangeRelay, func() error, error)

type closer interface{ Close() error }

// Started is what an [Open] returns for store and the relay it started
// (err: its start failed, and store is closed).
func Started[S interface {
	ssotws.Store
	closer
}, R interface {
	ssotws.ChangeRelay
	closer
}](store S, relay R, err error) (ssotws.Store, ssotws.ChangeRelay, func() error, error) {
	if err != nil {
		return nil, nil, nil, errors.Join(err, store.Close())
	}
	return store, relay, func() error { return errors.Join(relay.Close(), store.Close()) }, nil
}

// The child's environment.
const (
	envNATS = "SSOTWS_CRASH_NATS"
	envDB   = "SSOTWS_CRASH_DB"
)

// channel is the scope channel the client watches.
var channel = chatv1ssotws.MessageChannels.Room("r1")

// Child runs the child process of [KillNine] when this process is one
// (its environment says so) and returns its exit status and true;
// otherwise it returns false at once. Call it first in TestMain.
//
// The child opens the store with a relay publishing to NATS through a
// gate, creates m0 through the generated service (published), prints
// "published", closes the gate (the relay's publish now blocks: the
// fault), commits m1, prints "committed" and waits to be killed.
func Child(open Open) (int, bool) {
	url, ok := os.LookupEnv(envNATS)
	if !ok {
		return 0, false
	}
	if err := child(url, os.Getenv(envDB), open); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 1, true
	}
	return 0, true
}

func child(url, db string, open Open) error {
	ctx := context.Background()
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	broker, err := natsbroker.New(ctx, js, nil)
	if err != nil {
		return err
	}
	gate := &gatedPublisher{Publisher: broker, closed: make(chan struct{})}
	store, relay, _, err := open(ctx, db, gate)
	if err != nil {
		return err
	}
	svc := chatv1ssotws.NewChatService(store, ssotws.RelayedPublisher(relay, broker), nil)
	if _, err := svc.Messages.Create(ctx, http.Header{}, &chatv1.Message{Id: "m0", RoomId: "r1", Text: "before"}); err != nil {
		return err
	}
	fmt.Println("published")
	close(gate.closed)
	data, err := proto.Marshal(&chatv1.Message{Id: "m1", RoomId: "r1", Text: "committed, then kill -9"})
	if err != nil {
		return err
	}
	if _, err := store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: "m1", Data: data}); err != nil {
		return err
	}
	fmt.Println("committed")
	// Wait for SIGKILL; end if the parent is gone (its end of stdin
	// closes), so that a failed test leaves no process behind.
	_, _ = io.Copy(io.Discard, os.Stdin)
	return errors.New("not killed: the parent went away")
}

// gatedPublisher publishes until closed is closed; then Publish blocks
// (a relay that cannot reach the broker).
type gatedPublisher struct {
	ssotws.Publisher
	closed chan struct{}
}

func (g *gatedPublisher) Publish(ctx context.Context, events []*wsv1.Event) error {
	select {
	case <-g.closed:
		<-ctx.Done()
		return ctx.Err()
	default:
		return g.Publisher.Publish(ctx, events)
	}
}

// KillNine runs the drill on the database db: the child process (this
// test binary again, with env added to its environment) is killed with
// SIGKILL right after its commit; then this process opens the store on
// db, whose relay publishes the committed change, and a client on a real
// WebSocket that resumes room r1 from the position taken after m0 gets
// m1 replayed, once, without Reset, then m2 live.
func KillNine(t *testing.T, db string, env []string, open Open) {
	ctx := context.Background()
	ns := runNATS(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	broker, err := natsbroker.New(ctx, js, nil)
	require.NoError(t, err)
	t.Cleanup(func() { broker.Close() })

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), envNATS+"="+ns.ClientURL(), envDB+"="+db)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stdin, err := cmd.StdinPipe() // closed when this process ends
	require.NoError(t, err)
	t.Cleanup(func() { stdin.Close() })
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	expect := func(want string) {
		t.Helper()
		select {
		case got, ok := <-lines:
			if !ok {
				require.FailNow(t, fmt.Sprintf("the child ended before %q: %v", want, <-exited))
			}
			require.Equal(t, want, got)
		case <-time.After(60 * time.Second):
			require.FailNow(t, "the child did not say "+want)
		}
	}
	expect("published")
	before, err := broker.Position(ctx, channel)
	require.NoError(t, err)
	require.Equal(t, uint64(1), before.GetOffset(), "m0 is the room's first event")
	expect("committed")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	var exit *exec.ExitError
	require.ErrorAs(t, <-exited, &exit)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "killed by SIGKILL")
	pos, err := broker.Position(ctx, channel)
	require.NoError(t, err)
	require.Equal(t, before.GetOffset(), pos.GetOffset(), "m1 was not published before the kill")

	// Restart: a new store on the same database, its relay publishing to
	// the broker.
	store, relay, closeStore, err := open(ctx, db, broker)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, closeStore()) })
	require.Eventually(t, func() bool {
		pos, err := broker.Position(ctx, channel)
		return err == nil && pos.GetOffset() > before.GetOffset()
	}, 30*time.Second, 10*time.Millisecond, "the restarted relay publishes m1")

	g := ssotws.NewGateway(broker, nil)
	require.NoError(t, chatv1ssotws.RegisterChannels(g))
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Shutdown(ctx)
		srv.Close()
	})
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
	require.NoError(t, err)
	defer ws.CloseNow()
	read := func() *wsv1.ServerFrame {
		_, b, err := ws.Read(dctx)
		require.NoError(t, err)
		f := &wsv1.ServerFrame{}
		require.NoError(t, proto.Unmarshal(b, f))
		require.Nil(t, f.GetReset_(), "no Reset: the broker's history covers the position")
		return f
	}
	sub, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: channel, Since: before}}})
	require.NoError(t, err)
	require.NoError(t, ws.Write(dctx, websocket.MessageBinary, sub))
	var got []*wsv1.Event
	for {
		f := read()
		if f.GetAck() != nil {
			break
		}
		got = append(got, f.GetEvents().GetEvents()...)
	}
	require.Len(t, got, 1, "m1 replayed once")
	assert.Equal(t, "m1", got[0].GetKey())
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, got[0].GetType())
	assert.Equal(t, before.GetOffset()+1, got[0].GetPosition().GetOffset())

	// The next event is m2's: m1 came once.
	svc := chatv1ssotws.NewChatService(store, ssotws.RelayedPublisher(relay, broker), nil)
	_, err = svc.Messages.Create(ctx, http.Header{}, &chatv1.Message{Id: "m2", RoomId: "r1", Text: "after"})
	require.NoError(t, err)
	f := read()
	require.Len(t, f.GetEvents().GetEvents(), 1)
	assert.Equal(t, "m2", f.GetEvents().GetEvents()[0].GetKey())
	assert.Equal(t, before.GetOffset()+2, f.GetEvents().GetEvents()[0].GetPosition().GetOffset())
}

// runNATS starts an embedded nats-server with JetStream on a random
// loopback port.
func runNATS(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	require.NoError(t, err)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		require.FailNow(t, "nats-server did not start")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
