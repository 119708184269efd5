package multinode_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/natsbroker"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// A node runs in its own process (this test binary, started again with
// MULTINODE_NODE set): two nodes in one process would share ssotws's
// per-record write locks, which order one record's events within a process,
// and so could hide a cross-node race. The nodes share the SQLite file
// (a table per model) and publish through the change-log relay under one
// relay name: one relay publishes each change, in commit order.
const (
	envNode = "MULTINODE_NODE" // the listen address: run as a node
	envNATS = "MULTINODE_NATS" // the NATS server URL
	envDB   = "MULTINODE_DB"   // the SQLite file (a table per model)
	envSeed = "MULTINODE_SEED" // the seed of the publish delays
)

var chatModels = []*ssotws.Model{chatv1ssotws.RoomModel, chatv1ssotws.MessageModel}

func TestMain(m *testing.M) {
	if addr := os.Getenv(envNode); addr != "" {
		os.Exit(runNode(addr))
	}
	os.Exit(m.Run())
}

// nodeCounts is what a node reports when it stops.
type nodeCounts struct {
	WS       int64 // WebSocket handshakes
	Lists    int64 // ListMessages calls (snapshots)
	Gets     int64 // GetMessage calls (the clients' verify checks)
	Writes   int64 // Create/Update/DeleteMessage calls
	Resumes  int64 // resubscriptions with a position answered from history
	Replayed int64 // events replayed to them
	Resets   int64 // resubscriptions answered with Reset
}

func (c *nodeCounts) add(o nodeCounts) {
	c.WS += o.WS
	c.Lists += o.Lists
	c.Gets += o.Gets
	c.Writes += o.Writes
	c.Resumes += o.Resumes
	c.Replayed += o.Replayed
	c.Resets += o.Resets
}

// countingBroker counts how the gateway's resubscriptions were answered:
// History is called only for a Subscribe with a position.
type countingBroker struct {
	ssotws.Broker
	resumes, replayed, resets atomic.Int64
}

func (b *countingBroker) History(ctx context.Context, channel string, since *wsv1.Position) ([]*wsv1.Event, error) {
	evs, err := b.Broker.History(ctx, channel, since)
	switch {
	case errors.Is(err, ssotws.ErrHistoryUnavailable):
		b.resets.Add(1)
	case err == nil:
		b.resumes.Add(1)
		b.replayed.Add(int64(len(evs)))
	}
	return evs, err
}

// delayedPublisher waits a random moment (up to 2 ms, half the time)
// before it publishes. It sits under the node's change-log relay, which
// publishes while it holds the SQLite write lock (so that of the two nodes'
// relays one publishes each change): writers of both nodes queue behind the
// delay, and the other node's relay finds the batch already published when
// it gets the lock.
type delayedPublisher struct {
	ssotws.Publisher
	mu  sync.Mutex
	rng *rand.Rand
}

func (p *delayedPublisher) Publish(ctx context.Context, events []*wsv1.Event) error {
	p.mu.Lock()
	d := time.Duration(0)
	if p.rng.IntN(2) == 0 {
		d = time.Duration(p.rng.IntN(2000)) * time.Microsecond
	}
	p.mu.Unlock()
	time.Sleep(d)
	return p.Publisher.Publish(ctx, events)
}

// runNode is the main of a node process. It prints "ready" once it
// listens, and stops when its stdin ends (gracefully: the gateway, then the
// HTTP server, which lets running requests finish, then the broker),
// printing its counts as JSON.
func runNode(addr string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	ctx := context.Background()
	seed, _ := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
	store, err := sqlitestore.OpenTables(ctx, os.Getenv(envDB), chatModels, nil)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	nc, err := nats.Connect(os.Getenv(envNATS), nats.MaxReconnects(-1))
	if err != nil {
		return fail(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(err)
	}
	nb, err := natsbroker.New(ctx, js, nil)
	if err != nil {
		return fail(err)
	}
	broker := &countingBroker{Broker: nb}
	gw := ssotws.NewGateway(broker, &ssotws.GatewayOptions{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err := chatv1ssotws.RegisterChannels(gw); err != nil {
		return fail(err)
	}
	// Both nodes' relays share one name (they share the stream): each
	// change is published once, by whichever holds the write lock.
	relay, err := store.StartRelay(ctx, &delayedPublisher{Publisher: nb, rng: rand.New(rand.NewPCG(seed, 2))},
		&sqlitestore.RelayOptions{Name: "nodes", Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return fail(err)
	}
	pub := ssotws.RelayedPublisher(relay, nb)
	mux := http.NewServeMux()
	mux.Handle(chatv1connect.NewChatServiceHandler(chatv1ssotws.NewChatService(store, pub, nil)))
	mux.Handle("/ws", gw)
	var ws, lists, gets, writes atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/ws":
			ws.Add(1)
		case strings.HasSuffix(p, "/ListMessages"):
			lists.Add(1)
		case strings.HasSuffix(p, "/GetMessage"):
			gets.Add(1)
		case strings.HasSuffix(p, "Message"):
			writes.Add(1)
		}
		mux.ServeHTTP(w, r)
	})

	var ln net.Listener
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 100 {
			break
		}
		time.Sleep(20 * time.Millisecond) // the old node's port is being released
	}
	if err != nil {
		return fail(err)
	}
	// ReadHeaderTimeout: Shutdown waits 5 s for a connection that sent
	// nothing yet (one a client dialled ahead, through the proxy).
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Println("ready", ln.Addr())

	_, _ = io.Copy(io.Discard, os.Stdin) // until the test closes it
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	code := 0
	if err := gw.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "node: gateway shutdown:", err)
		code = 1
	}
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "node: http shutdown:", err)
		code = 1
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "node: serve:", err)
		code = 1
	}
	if err := relay.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "node: relay close:", err)
		code = 1
	}
	nb.Close()
	b, _ := json.Marshal(nodeCounts{
		WS: ws.Load(), Lists: lists.Load(), Gets: gets.Load(), Writes: writes.Load(),
		Resumes: broker.resumes.Load(), Replayed: broker.replayed.Load(), Resets: broker.resets.Load(),
	})
	fmt.Println("counts", string(b))
	return code
}

// nodeProc is a running node process, seen from the test.
type nodeProc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	counts chan nodeCounts // its counts, when it stopped
	exited chan struct{}
	addr   string
}

// startNode starts a node process listening on addr ("127.0.0.1:0": any
// port) and waits until it is ready.
func startNode(t *testing.T, name, addr, natsURL, db string, seed uint64) *nodeProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// GORACE: a race-enabled process otherwise waits 1 s when it exits.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"),
		envNode+"="+addr, envNATS+"="+natsURL, envDB+"="+db, envSeed+"="+strconv.FormatUint(seed, 10))
	n := &nodeProc{t: t, name: name, cmd: cmd, stderr: &lockedBuffer{}, counts: make(chan nodeCounts, 1), exited: make(chan struct{})}
	cmd.Stderr = n.stderr
	var err error
	if n.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "ready "):
				ready <- strings.TrimPrefix(line, "ready ")
			case strings.HasPrefix(line, "counts "):
				var c nodeCounts
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "counts ")), &c); err == nil {
					n.counts <- c
				}
			}
		}
		_ = cmd.Wait()
		close(n.exited)
	}()
	select {
	case n.addr = <-ready:
	case <-n.exited:
		t.Fatalf("%s exited before it was ready:\n%s", name, n.stderr)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s not ready in 30 s:\n%s", name, n.stderr)
	}
	return n
}

// stop stops the node gracefully and returns its counts. A node that
// fails (a data race, an error on shutdown) fails the test.
func (n *nodeProc) stop() nodeCounts {
	n.t.Helper()
	_ = n.stdin.Close()
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
		n.t.Errorf("%s did not stop in 30 s", n.name)
	}
	var c nodeCounts
	select {
	case c = <-n.counts:
	default:
		n.t.Errorf("%s reported no counts", n.name)
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 || strings.Contains(n.stderr.String(), "DATA RACE") {
		n.t.Errorf("%s exited with %d:\n%s", n.name, code, n.stderr)
	}
	return c
}

// lockedBuffer collects a process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
