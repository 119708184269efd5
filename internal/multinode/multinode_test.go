package multinode_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/internal/testkit"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/ssot-codegen/ssot-ws/ssotws/natsbroker"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

var (
	flagRounds = flag.Int("multinode.rounds", 8, "rounds of TestMultiNodeConverge, each with its own seed")
	flagSeed   = flag.Uint64("multinode.seed", 0, "replay TestMultiNodeConverge with this one seed")
)

const (
	numNodes   = 2
	numWriters = 4
	numClients = 4
	numOps     = 40 // per writer
	numKeys    = 12 // small key space: the same records written on both nodes
)

var rooms = []string{"r0", "r1", "r2"}

var fast = client.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}

// stats are a round's figures.
type stats struct {
	nodeCounts
	rounds   int
	cuts     int64 // connections the proxies cut
	reorders int64 // Message-channel events older than one already in the stream
}

func (s *stats) add(o stats) {
	s.nodeCounts.add(o.nodeCounts)
	s.rounds += o.rounds
	s.cuts += o.cuts
	s.reorders += o.reorders
}

func (s stats) String() string {
	return fmt.Sprintf("%d writes, %d WebSocket handshakes, %d resubscriptions resumed from history (%d events replayed), %d Reset, "+
		"%d snapshot lists, %d verify gets, %d connections cut, %d events of a record published after a newer one",
		s.Writes, s.WS, s.Resumes, s.Replayed, s.Resets, s.Lists, s.Gets, s.cuts, s.reorders)
}

// TestMultiNodeConverge runs the chat service on two nodes (processes)
// over one SQLite store and one embedded JetStream server. Writers write
// the same few records through both nodes at random, hybrid clients each
// connected to a random node watch the model channel and random room
// channels, a proxy in front of each node cuts connections at random, and
// one node restarts mid-run on the same address (a new broker, gateway and
// HTTP server over the same stream: its clients resume from history, no
// Reset). A writer outside the service writes the same records with
// plain SQL on the database file (the change log's triggers number and
// log its writes; the nodes' relays publish them). In the end every
// client's cache must equal the store, record for record.
func TestMultiNodeConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the fault-injection run takes tens of seconds; the full run (CI) has it")
	}
	seeds := make([]uint64, *flagRounds)
	base := uint64(time.Now().UnixNano())
	for i := range seeds {
		seeds[i] = base + uint64(i)
	}
	if *flagSeed != 0 {
		seeds = []uint64{*flagSeed}
	}
	var total stats
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("seed %d", seed)
			st, ok := round(t, seed)
			t.Log(st)
			total.add(st)
			if !ok || t.Failed() {
				t.Errorf("replay: go test -race ./internal/multinode/ -run TestMultiNodeConverge -multinode.seed=%d -v", seed)
			}
		})
		if t.Failed() {
			break
		}
	}
	t.Logf("%d rounds: %v", total.rounds, total)
}

type watcher struct {
	name     string
	wsNode   int
	httpNode int
	conn     *client.Conn
	c        *client.Hybrid[*chatv1.Message]
	channels []string
}

func round(t *testing.T, seed uint64) (st stats, ok bool) {
	rng := rand.New(rand.NewPCG(seed, 0))
	ns := runNATS(t)
	db := filepath.Join(t.TempDir(), "chat.db")
	store, err := sqlitestore.OpenTables(context.Background(), db, chatModels, nil) // creates the tables before the nodes start
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// The observer creates the stream, reads positions and counts the
	// events of a record published after a newer one.
	observer := newObserver(t, ns)

	nodes := make([]*nodeProc, numNodes)
	proxies := make([]*testkit.Proxy, numNodes)
	for i := range nodes {
		nodes[i] = startNode(t, fmt.Sprintf("node%d", i), "127.0.0.1:0", ns.ClientURL(), db, rng.Uint64())
		proxies[i] = testkit.NewProxy(t, nodes[i].addr)
	}
	var nodesMu sync.Mutex // nodes[i] is replaced by the restart
	t.Cleanup(func() {     // a round that ended early
		nodesMu.Lock()
		defer nodesMu.Unlock()
		for _, n := range nodes {
			if n != nil {
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}
	})
	stopNode := func(i int) {
		nodesMu.Lock()
		n := nodes[i]
		nodes[i] = nil
		nodesMu.Unlock()
		st.nodeCounts.add(n.stop())
	}

	opts := &client.Options{Backoff: fast}
	chat := func(node int) chatv1connect.ChatServiceClient {
		// Its own transport, so that cuts hit its connections.
		hc := &http.Client{Transport: &http.Transport{}}
		t.Cleanup(hc.CloseIdleConnections)
		return chatv1connect.NewChatServiceClient(hc, "http://"+proxies[node].Addr())
	}

	var watchers []*watcher
	for i := range numClients {
		w := &watcher{name: fmt.Sprintf("client%d", i), wsNode: rng.IntN(numNodes), httpNode: rng.IntN(numNodes)}
		w.conn = client.NewConn("ws://"+proxies[w.wsNode].Addr()+"/ws", &client.ConnOptions{Backoff: fast})
		t.Cleanup(func() { w.conn.Close() })
		w.c = chatv1ssotws.NewMessageClient(chat(w.httpNode), w.conn, opts)
		w.channels = []string{chatv1ssotws.MessageChannels.All()}
		for _, r := range rooms {
			if rng.IntN(2) == 0 {
				w.channels = append(w.channels, chatv1ssotws.MessageChannels.Room(r))
			}
		}
		for _, ch := range w.channels {
			t.Cleanup(w.c.Subscribe(ch, func(client.Change[*chatv1.Message]) {}))
		}
		watchers = append(watchers, w)
	}

	// Writers: each write goes through a random node.
	writing := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wlog := &writeLog{byKey: make(map[string][]string)}
	for i := range numWriters {
		var ws []*client.Hybrid[*chatv1.Message]
		for n := range numNodes {
			ws = append(ws, chatv1ssotws.NewMessageClient(chat(n), nil, opts))
		}
		r := rand.New(rand.NewPCG(rng.Uint64(), uint64(i)))
		wg.Go(func() {
			for op := range numOps {
				node := r.IntN(numNodes)
				w := ws[node]
				key := fmt.Sprintf("k%d", r.IntN(numKeys))
				room := rooms[r.IntN(len(rooms))]
				text := fmt.Sprintf("w%d-%d", i, op)
				began := time.Now()
				var (
					m    *chatv1.Message
					err  error
					what string
				)
				switch r.IntN(4) {
				case 0:
					what = "create in " + room
					m, err = w.Create(ctx, &chatv1.Message{Id: key, RoomId: room, Text: text})
				case 1:
					what = "update text"
					m, err = w.Update(ctx, &chatv1.Message{Id: key, Text: text}, "text")
				case 2:
					what = "update to " + room
					m, err = w.Update(ctx, &chatv1.Message{Id: key, RoomId: room, Text: text}, "room_id", "text")
				case 3:
					what = "delete"
					_, err = w.Delete(ctx, key)
				}
				wlog.add(key, fmt.Sprintf("%s via node%d at +%v: %s -> v%d, err %v", text, node, began.Sub(writing).Round(time.Microsecond), what, m.GetVersion(), err))
				// Spread the writes over the faults (workload shape, not
				// synchronization).
				time.Sleep(time.Duration(r.IntN(4000)) * time.Microsecond)
			}
		})
	}

	// A writer outside the service: plain SQL through database/sql on the
	// same file, as psql or a batch job would; it sets no version.
	plain, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	plainRng := rand.New(rand.NewPCG(rng.Uint64(), 99))
	var plainChanged atomic.Int64 // plain writes that changed a row
	wg.Go(func() {
		for op := range numOps {
			key := fmt.Sprintf("k%d", plainRng.IntN(numKeys))
			room := rooms[plainRng.IntN(len(rooms))]
			text := fmt.Sprintf("sql-%d", op)
			var stmt string
			var args []any
			switch plainRng.IntN(3) {
			case 0:
				stmt, args = `INSERT INTO messages (id, room_id, text) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, []any{key, room, text}
			case 1:
				stmt, args = `UPDATE messages SET text = ?, room_id = ? WHERE id = ?`, []any{text, room, key}
			case 2:
				stmt, args = `DELETE FROM messages WHERE id = ?`, []any{key}
			}
			res, err := plain.ExecContext(ctx, stmt, args...)
			if n, _ := res.RowsAffected(); err == nil && n > 0 {
				plainChanged.Add(1)
			}
			wlog.add(key, fmt.Sprintf("%s by plain SQL at +%v: %s, err %v", text, time.Since(writing).Round(time.Microsecond), stmt, err))
			time.Sleep(time.Duration(plainRng.IntN(4000)) * time.Microsecond) // workload shape
		}
	})

	// Faults: random cuts on a random proxy, and one node restarted (same
	// address, same stream) at a random point.
	var cuts atomic.Int64
	stopFaults := make(chan struct{})
	faultsDone := make(chan struct{})
	restartAfter := time.Duration(20+rng.IntN(80)) * time.Millisecond
	restartNode := rng.IntN(numNodes)
	faultSeed := rng.Uint64()
	restart := func() {
		addr := nodes[restartNode].addr
		began := time.Now()
		defer func() { t.Logf("node%d restarted in %v", restartNode, time.Since(began)) }()
		stopNode(restartNode)
		t.Logf("node%d stopped in %v", restartNode, time.Since(began))
		n := startNode(t, fmt.Sprintf("node%d'", restartNode), addr, ns.ClientURL(), db, faultSeed)
		nodesMu.Lock()
		nodes[restartNode] = n
		nodesMu.Unlock()
	}
	go func() {
		defer close(faultsDone)
		r := rand.New(rand.NewPCG(faultSeed, 1))
		start := time.Now()
		restarted := false
		for {
			select {
			case <-stopFaults:
				if !restarted {
					restart()
				}
				return
			case <-time.After(time.Duration(5+r.IntN(30)) * time.Millisecond):
			}
			if !restarted && time.Since(start) > restartAfter {
				restart()
				restarted = true
				continue
			}
			cuts.Add(int64(proxies[r.IntN(numNodes)].CutRandom(r)))
		}
	}()
	wg.Wait()
	t.Logf("writers done in %v; %d plain SQL writes changed a row", time.Since(writing), plainChanged.Load())
	if plainChanged.Load() == 0 {
		t.Error("no plain SQL write changed a row: the writer outside the service tested nothing")
	}
	close(stopFaults)
	<-faultsDone
	st.cuts = cuts.Load()
	if t.Failed() { // the restart failed
		return st, false
	}
	for _, w := range watchers {
		t.Logf("%s: WebSocket to node%d, HTTP to node%d, channels %v", w.name, w.wsNode, w.httpNode, w.channels)
	}

	// Quiescence: every channel of every client hydrated, open, at the
	// stream's current position, and its cache equal to the store. A cut
	// just before the faults stopped may still be on its way to a client,
	// and a verify check may still be running, so the check repeats until
	// it holds for every client at once, or the deadline.
	diffs, ok := converge(t, store, observer, watchers)
	if !ok {
		for _, key := range diffKeys(diffs) {
			t.Logf("writes of %s:\n  %s", key, strings.Join(wlog.get(key), "\n  "))
			t.Logf("events of %s in the stream:\n  %s", key, strings.Join(observer.events(key), "\n  "))
		}
	}
	st.reorders = observer.reorders.Load()
	for _, w := range watchers {
		w.conn.Close()
	}
	for _, p := range proxies {
		p.Close()
	}
	stopping := time.Now()
	for i := range nodes {
		stopNode(i)
	}
	t.Logf("nodes stopped in %v", time.Since(stopping).Round(time.Millisecond))
	st.rounds = 1
	if st.Resets != 0 {
		t.Errorf("%d resubscriptions were answered with Reset: the stream keeps the history, every one should resume", st.Resets)
	}
	return st, ok
}

// writeLog records every write, by key, for the report of a failure.
type writeLog struct {
	mu    sync.Mutex
	byKey map[string][]string
}

func (l *writeLog) add(key, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byKey[key] = append(l.byKey[key], line)
}

func (l *writeLog) get(key string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.byKey[key])
}

var diffKey = regexp.MustCompile(`(?m)^  (?:lost|stale|extra) +([^:]+):`)

// diffKeys are the keys diffs name.
func diffKeys(diffs []string) []string {
	var keys []string
	for _, d := range diffs {
		for _, m := range diffKey.FindAllStringSubmatch(d, -1) {
			if !slices.Contains(keys, m[1]) {
				keys = append(keys, m[1])
			}
		}
	}
	return keys
}

// converge waits until every client caught up and holds what the store
// holds; it reports the differences of the last comparison when it gives
// up.
func converge(t *testing.T, store *sqlitestore.TableStore, obs *observer, watchers []*watcher) ([]string, bool) {
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	nextReport := start.Add(2 * time.Second)
	defer func() {
		t.Logf("converged (or gave up) %v after the writers were done", time.Since(start).Round(time.Millisecond))
	}()
	for {
		var behind, diffs []string
		for _, w := range watchers {
			for _, ch := range w.channels {
				if !obs.caughtUp(w, ch) {
					behind = append(behind, fmt.Sprintf("%s %s: state %v, hydrated %v, position %v, stream %v, last error %v",
						w.name, ch, w.conn.State(), w.c.WebSocket().Hydrated(ch), w.c.WebSocket().Position(ch),
						obs.position(ch), w.conn.LastError()))
				}
			}
		}
		if len(behind) == 0 {
			var unreadable bool
			diffs, unreadable = compareAll(t, store, watchers)
			if !unreadable && len(diffs) == 0 {
				return nil, true
			}
		}
		if now := time.Now(); now.After(nextReport) && now.Before(deadline) {
			nextReport = now.Add(2 * time.Second)
			t.Logf("after %v: %d channels behind, %d differ:\n%s\n%s", now.Sub(start).Round(time.Millisecond), len(behind), len(diffs),
				strings.Join(behind, "\n"), strings.Join(diffs, "\n"))
		}
		if time.Now().After(deadline) {
			if len(behind) > 0 {
				t.Errorf("clients did not catch up:\n%s", strings.Join(behind, "\n"))
			}
			for _, d := range diffs {
				t.Error(d)
			}
			return diffs, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// compareAll compares every client's caches with the store. unreadable
// reports a cache that could not be read (its connection just dropped).
func compareAll(t *testing.T, store *sqlitestore.TableStore, watchers []*watcher) (diffs []string, unreadable bool) {
	for _, w := range watchers {
		for _, ch := range w.channels {
			p, err := ssotws.ParseChannel(ch)
			if err != nil {
				t.Fatal(err)
			}
			params := client.ListParams{}
			q := ssotws.Query{Model: chatv1ssotws.MessageModel.FullName(), PageSize: 1 << 20}
			if p.Kind == ssotws.ChannelScope {
				params.Filters = map[string]string{p.Field: p.Value}
				q.Filters = []ssotws.Filter{{Field: p.Field, Value: p.Value}}
			}
			page, err := w.c.WebSocket().List(context.Background(), params)
			if err != nil {
				return nil, true
			}
			want, err := store.List(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			diff, err := testkit.DiffMessages(want.Records, page.Items)
			if err != nil {
				t.Fatal(err)
			}
			if diff != "" {
				diffs = append(diffs, fmt.Sprintf("%s %s (WebSocket node%d, HTTP node%d) differs from the store:\n%s",
					w.name, ch, w.wsNode, w.httpNode, diff))
			}
		}
	}
	return diffs, false
}

// observer is the test's own broker on the stream: it reads positions and
// counts the events of the model channel that arrive after an event of the
// same record with a newer version.
type observer struct {
	b        *natsbroker.Broker
	mu       sync.Mutex
	newest   map[string]int64 // key → newest version seen
	history  map[string][]string
	reorders atomic.Int64
}

func newObserver(t *testing.T, ns *server.Server) *observer {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := natsbroker.New(context.Background(), js, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	o := &observer{b: b, newest: make(map[string]int64), history: make(map[string][]string)}
	model := chatv1ssotws.MessageChannels.All()
	t.Cleanup(b.Listen(func(events []*wsv1.Event) {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, ev := range events {
			m := &chatv1.Message{}
			_ = proto.Unmarshal(ev.GetData(), m)
			o.history[ev.GetKey()] = append(o.history[ev.GetKey()], fmt.Sprintf("%s @%d: %v v%d %q in %s, request %s",
				ev.GetChannel(), ev.GetPosition().GetOffset(), ev.GetType(), ev.GetVersion(), m.GetText(), m.GetRoomId(), ev.GetRequestId()))
			if ev.GetChannel() != model {
				continue
			}
			if ev.GetVersion() < o.newest[ev.GetKey()] {
				o.reorders.Add(1)
			}
			o.newest[ev.GetKey()] = max(o.newest[ev.GetKey()], ev.GetVersion())
		}
	}))
	return o
}

func (o *observer) events(key string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.history[key])
}

func (o *observer) position(channel string) string {
	pos, err := o.b.Position(context.Background(), channel)
	if err != nil {
		return err.Error()
	}
	return ssotws.FormatPosition(pos)
}

func (o *observer) caughtUp(w *watcher, channel string) bool {
	ws := w.c.WebSocket()
	if w.conn.State() != client.StateOpen || !ws.Hydrated(channel) {
		return false
	}
	pos := ws.Position(channel)
	stream, err := o.b.Position(context.Background(), channel)
	return err == nil && pos.GetEpoch() == stream.GetEpoch() && pos.GetOffset() >= stream.GetOffset()
}

// runNATS starts an embedded nats-server with JetStream on a random
// loopback port (as the natsbroker tests do).
func runNATS(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
