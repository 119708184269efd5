package client_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/testkit"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
)

var (
	convergeRounds = flag.Int("converge.rounds", 20, "rounds of TestConverge, each with its own seed")
	convergeSeed   = flag.Uint64("converge.seed", 0, "replay TestConverge with this one seed")
)

const (
	convergeWriters = 3
	convergeClients = 3
	convergeOps     = 40 // per writer
	convergeHybOps  = 10 // mutations each hybrid client makes through its own HTTP
	convergeKeys    = 12 // small key space: conflicts, deletes and re-creates
)

var convergeRooms = []string{"r0", "r1", "r2"}

// TestConverge runs writers and hybrid clients against a server while a
// proxy between them cuts connections at random and the server (with its
// in-memory broker: a new epoch) restarts mid-run on the same address. In
// the end every client's cache must equal the store, record for record.
func TestConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the fault-injection run takes tens of seconds; the full run (CI) has it")
	}
	seeds := make([]uint64, *convergeRounds)
	base := uint64(time.Now().UnixNano())
	for i := range seeds {
		seeds[i] = base + uint64(i)
	}
	if *convergeSeed != 0 {
		seeds = []uint64{*convergeSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("seed %d", seed)
			if !convergeRound(t, seed) {
				t.Errorf("replay: go test -race ./ssotws/client/ -run 'TestConverge' -converge.seed=%d -v", seed)
			}
		})
		if t.Failed() {
			return
		}
	}
}

type convergeClient struct {
	name     string
	conn     *client.Conn
	c        *client.Hybrid[*chatv1.Message]
	channels []string
	signal   chan struct{}
}

func convergeRound(t *testing.T, seed uint64) bool {
	rng := rand.New(rand.NewPCG(seed, 0))
	store := ssotws.NewMemoryStore()
	srv := startServer(t, store, "127.0.0.1:0")
	px := newProxy(t, srv.addr)
	opts := &client.Options{Backoff: fast}
	chat := func() chatv1connect.ChatServiceClient {
		// Its own transport, so that cuts hit its connections.
		hc := &http.Client{Transport: &http.Transport{}}
		t.Cleanup(hc.CloseIdleConnections)
		return chatv1connect.NewChatServiceClient(hc, "http://"+px.addr())
	}

	var clients []*convergeClient
	for i := range convergeClients {
		cc := &convergeClient{
			name: fmt.Sprintf("client%d", i),
			// The last client is one written before deltas: whole records
			// only, on the same channels as the others.
			conn:   client.NewConn("ws://"+px.addr()+"/ws", &client.ConnOptions{Backoff: fast, NoDeltas: i == convergeClients-1}),
			signal: make(chan struct{}, 1),
		}
		t.Cleanup(func() { cc.conn.Close() })
		cc.c = NewMessageClient(chat(), cc.conn, opts)
		cc.channels = []string{ssotws.ModelChannel("Message")}
		for _, r := range convergeRooms {
			if rng.IntN(2) == 0 {
				cc.channels = append(cc.channels, ssotws.ScopeChannel("Message", "room_id", r))
			}
		}
		for _, ch := range cc.channels {
			unsubscribe := cc.c.Subscribe(ch, func(client.Change[*chatv1.Message]) {
				select {
				case cc.signal <- struct{}{}:
				default:
				}
			})
			t.Cleanup(unsubscribe)
		}
		clients = append(clients, cc)
	}

	// Writers: straight to the server, and each hybrid client through its
	// own HTTP (via the proxy), so that its replies meet its caches.
	var wg sync.WaitGroup
	writerSeeds := make([]uint64, convergeWriters+convergeClients)
	for i := range writerSeeds {
		writerSeeds[i] = rng.Uint64()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	write := func(w *client.Hybrid[*chatv1.Message], r *rand.Rand, name string, ops int) {
		for op := range ops {
			key := fmt.Sprintf("k%d", r.IntN(convergeKeys))
			room := convergeRooms[r.IntN(len(convergeRooms))]
			text := fmt.Sprintf("%s-%d", name, op)
			switch r.IntN(4) {
			case 0:
				_, _ = w.Create(ctx, &chatv1.Message{Id: key, RoomId: room, Text: text})
			case 1:
				_, _ = w.Update(ctx, &chatv1.Message{Id: key, Text: text}, "text")
			case 2:
				_, _ = w.Update(ctx, &chatv1.Message{Id: key, RoomId: room, Text: text}, "room_id", "text")
			case 3:
				_, _ = w.Delete(ctx, key)
			}
			// Spread the writes over the faults (workload shape, not
			// synchronization).
			time.Sleep(time.Duration(r.IntN(4000)) * time.Microsecond)
		}
	}
	for i := range convergeWriters {
		w := NewMessageClient(chat(), nil, opts)
		r := rand.New(rand.NewPCG(writerSeeds[i], uint64(i)))
		wg.Go(func() { write(w, r, fmt.Sprintf("w%d", i), convergeOps) })
	}
	for i, cc := range clients {
		r := rand.New(rand.NewPCG(writerSeeds[convergeWriters+i], uint64(convergeWriters+i)))
		wg.Go(func() { write(cc.c, r, fmt.Sprintf("h%d", i), convergeHybOps) })
	}

	// Faults: random cuts, and one restart at a random point.
	stopFaults := make(chan struct{})
	faultsDone := make(chan struct{})
	restartAfter := 20 + rng.IntN(80)
	faultSeed := rng.Uint64()
	go func() {
		defer close(faultsDone)
		r := rand.New(rand.NewPCG(faultSeed, 1))
		start := time.Now()
		restarted := false
		for {
			select {
			case <-stopFaults:
				if !restarted {
					srv.restart()
				}
				return
			case <-time.After(time.Duration(5+r.IntN(30)) * time.Millisecond):
			}
			if !restarted && time.Since(start) > time.Duration(restartAfter)*time.Millisecond {
				srv.restart()
				restarted = true
				continue
			}
			px.cutRandom(r)
		}
	}()
	wg.Wait()
	close(stopFaults)
	<-faultsDone

	// Quiescence: every channel of every client hydrated, open, and at
	// the broker's current position. A cut just before the faults stopped
	// may still be on its way to a client, so the check repeats until
	// every client is caught up at once.
	t.Logf("%d writes, %d WebSocket handshakes, %d snapshot lists, %d record versions in the store",
		srv.count("CreateMessage")+srv.count("UpdateMessage")+srv.count("DeleteMessage"),
		srv.ws.Load(), srv.count("ListMessages"), storeVersions(store))
	deadline := time.Now().Add(15 * time.Second)
	for {
		var behind []string
		for _, cc := range clients {
			for _, ch := range cc.channels {
				if !caughtUp(srv, cc, ch) {
					behind = append(behind, fmt.Sprintf("%s %s: state %v, hydrated %v, position %v, server %v, last error %v",
						cc.name, ch, cc.conn.State(), cc.c.WebSocket().Hydrated(ch), cc.c.WebSocket().Position(ch),
						serverPosition(srv, ch), cc.conn.LastError()))
				}
			}
		}
		if len(behind) == 0 {
			diffs, unreadable := compareAll(t, store, clients)
			if !unreadable {
				for _, d := range diffs {
					t.Error(d)
				}
				return len(diffs) == 0
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("clients did not catch up:\n%s", strings.Join(behind, "\n"))
			return false
		}
		select {
		case <-clients[0].signal:
		case <-time.After(10 * time.Millisecond): // positions move without a change
		}
	}
}

// compareAll compares every client's caches with the store. unreadable
// reports a cache that could not be read (its connection just dropped).
func compareAll(t *testing.T, store *ssotws.MemoryStore, clients []*convergeClient) (diffs []string, unreadable bool) {
	for _, cc := range clients {
		for _, ch := range cc.channels {
			diff, err := cacheDiff(t, store, cc, ch)
			if err != nil {
				return nil, true
			}
			if diff != "" {
				diffs = append(diffs, fmt.Sprintf("%s %s differs from the store:\n%s", cc.name, ch, diff))
			}
		}
	}
	return diffs, false
}

func serverPosition(srv *testServer, channel string) string {
	pos, err := srv.broker.Position(context.Background(), channel)
	if err != nil {
		return err.Error()
	}
	return ssotws.FormatPosition(pos)
}

func caughtUp(srv *testServer, cc *convergeClient, channel string) bool {
	ws := cc.c.WebSocket()
	if cc.conn.State() != client.StateOpen || !ws.Hydrated(channel) {
		return false
	}
	pos := ws.Position(channel)
	server, err := srv.broker.Position(context.Background(), channel)
	return err == nil && pos.GetEpoch() == server.GetEpoch() && pos.GetOffset() >= server.GetOffset()
}

// cacheDiff compares a client's cache of channel with the store and
// describes every lost, stale or extra record.
func cacheDiff(t *testing.T, store *ssotws.MemoryStore, cc *convergeClient, channel string) (string, error) {
	p, err := ssotws.ParseChannel(channel)
	if err != nil {
		t.Fatal(err)
	}
	params := client.ListParams{}
	q := ssotws.Query{Model: MessageModel.FullName(), PageSize: 1 << 20}
	if p.Kind == ssotws.ChannelScope {
		params.Filters = map[string]string{p.Field: p.Value}
		q.Filters = []ssotws.Filter{{Field: p.Field, Value: p.Value}}
	}
	page, err := cc.c.WebSocket().List(context.Background(), params)
	if err != nil {
		return "", err
	}
	want, err := store.List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := testkit.DiffMessages(want.Records, page.Items)
	if err != nil {
		t.Fatal(err)
	}
	return diff, nil
}

func storeVersions(store *ssotws.MemoryStore) int64 {
	page, _ := store.List(context.Background(), ssotws.Query{Model: MessageModel.FullName(), PageSize: 1 << 20})
	var n int64
	for _, r := range page.Records {
		n += r.Version
	}
	return n
}
