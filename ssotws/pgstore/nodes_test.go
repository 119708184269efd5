package pgstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// twoNodes opens two stores on one schema, each with a pool of its own, as
// two nodes of a service would.
func twoNodes(t *testing.T, opts *Options) []*thingStore {
	t.Helper()
	schema := newSchema(t)
	return []*thingStore{openStore(t, schema, opts), openStore(t, schema, opts)}
}

// TestNodesIncrements: goroutines on two nodes increment counters with
// read, conditional update, retry loops; no update is lost.
func TestNodesIncrements(t *testing.T) {
	ctx := context.Background()
	nodes := twoNodes(t, nil)
	const (
		counters   = 3
		goroutines = 24
		increments = 5
	)
	for c := range counters {
		apply(t, nodes[0], &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "counter" + strconv.Itoa(c), Data: []byte("0")})
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		s := nodes[g%len(nodes)]
		key := "counter" + strconv.Itoa(g%counters)
		wg.Go(func() {
			for range increments {
				for {
					cur, err := s.Get(ctx, model, key)
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(string(cur.Data))
					_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: model, Key: key,
						IfVersion: cur.Version, Data: []byte(strconv.Itoa(n + 1)), Fields: map[string]string{"n": strconv.Itoa(n + 1)}})
					if errors.Is(err, ssotws.ErrVersionConflict) {
						continue
					}
					if err != nil {
						t.Errorf("Apply: %v", err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	per := goroutines / counters * increments
	for c := range counters {
		for i, s := range nodes {
			r, err := s.Get(ctx, model, "counter"+strconv.Itoa(c))
			if err != nil {
				t.Fatal(err)
			}
			if r.Version != int64(per+1) || string(r.Data) != strconv.Itoa(per) || r.Fields["n"] != strconv.Itoa(per) {
				t.Errorf("node %d counter%d: version %d data %s, want version %d data %d", i, c, r.Version, r.Data, per+1, per)
			}
		}
	}
	// The filter index followed the updates: one row per counter.
	got := listKeys(t, nodes[1], ssotws.Query{Model: model, Filters: []ssotws.Filter{{Field: "n", Value: strconv.Itoa(per)}}})
	if len(got) != counters {
		t.Errorf("filter on the final value: %v", got)
	}
}

// TestNodesIdempotent: the same request sent to both nodes at once (twice
// each) is applied once, and every sender gets the first result.
func TestNodesIdempotent(t *testing.T) {
	ctx := context.Background()
	nodes := twoNodes(t, &Options{MaxRequests: 1000})
	apply(t, nodes[0], &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "k", Data: []byte("0")})
	const requests, senders = 40, 4
	var (
		wg      sync.WaitGroup
		applied [requests]atomic.Int32
		mu      sync.Mutex
		results = map[string]map[int64]bool{}
	)
	note := func(id string, v int64) {
		mu.Lock()
		defer mu.Unlock()
		if results[id] == nil {
			results[id] = map[int64]bool{}
		}
		results[id][v] = true
	}
	for r := range requests {
		for i := range senders {
			s := nodes[i%len(nodes)]
			wg.Go(func() {
				// An unconditional update and an idempotent create of a key
				// of its own: neither may be applied twice, and the repeat
				// of the create is a replay, not ErrAlreadyExists.
				id := "upd-" + strconv.Itoa(r)
				res, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: model, Key: "k", Data: []byte(id), RequestID: id})
				if err != nil {
					t.Errorf("update %s: %v", id, err)
					return
				}
				if !res.Replayed {
					applied[r].Add(1)
				}
				note(id, res.Record.Version)
				cid := "create-" + strconv.Itoa(r)
				res, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: cid, RequestID: cid})
				if err != nil {
					t.Errorf("create %s: %v", cid, err)
					return
				}
				if !res.Replayed {
					applied[r].Add(100)
				}
				note(cid, res.Record.Version)
			})
		}
	}
	wg.Wait()
	for r := range requests {
		if n := applied[r].Load(); n != 101 {
			t.Errorf("request %d: applied update %d times, create %d times; want once each", r, n%100, n/100)
		}
	}
	for id, vs := range results {
		if len(vs) != 1 {
			t.Errorf("request %s: results at versions %v", id, vs)
		}
	}
	k, err := nodes[1].Get(ctx, model, "k")
	if err != nil || k.Version != requests+1 {
		t.Errorf("k = %+v, %v; want version %d", k, err, requests+1)
	}
}

// TestNodesCreates: creates and re-creates of one key from both nodes at
// once: one wins each round, the others get ErrAlreadyExists; sequences
// are never handed out twice.
func TestNodesCreates(t *testing.T) {
	ctx := context.Background()
	nodes := twoNodes(t, nil)
	const rounds, workers = 8, 8
	var seqs sync.Map
	for round := range rounds {
		var (
			wg   sync.WaitGroup
			wins atomic.Int32
		)
		for w := range workers {
			s := nodes[w%len(nodes)]
			wg.Go(func() {
				_, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "k", Data: []byte(strconv.Itoa(w))})
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, ssotws.ErrAlreadyExists):
					t.Errorf("round %d: %v", round, err)
				}
				n, err := s.NextSequence(ctx, model)
				if err != nil {
					t.Error(err)
				} else if _, dup := seqs.LoadOrStore(n, true); dup {
					t.Errorf("NextSequence returned %d twice", n)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d creates won, want 1", round, wins.Load())
		}
		// Version goes on across the re-creates: create, delete per round.
		r, err := nodes[round%2].Get(ctx, model, "k")
		if err != nil || r.Version != int64(2*round+1) {
			t.Fatalf("round %d: %+v, %v", round, r, err)
		}
		apply(t, nodes[round%2], &ssotws.Write{Kind: ssotws.WriteDelete, Model: model, Key: "k"})
	}
}

// TestNodesTailingReader: while both nodes create records, a reader pages
// through the model from where it stopped, again and again; it sees every
// record exactly once, in creation order, because creation order is commit
// order.
func TestNodesTailingReader(t *testing.T) {
	ctx := context.Background()
	nodes := twoNodes(t, nil)
	const writers, each = 6, 30
	var (
		wg   sync.WaitGroup
		done atomic.Bool
	)
	for w := range writers {
		s := nodes[w%len(nodes)]
		wg.Go(func() {
			for i := range each {
				room := "r" + strconv.Itoa(i%2)
				apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: fmt.Sprintf("w%d-%03d", w, i), Fields: map[string]string{"room": room}})
			}
		})
	}
	go func() { wg.Wait(); done.Store(true) }()

	reader := nodes[1]
	for _, filters := range [][]ssotws.Filter{nil, {{Field: "room", Value: "r1"}}} {
		seen := map[string]bool{}
		var after int64
		for {
			finished := done.Load()
			p, err := reader.List(ctx, ssotws.Query{Model: model, Filters: filters, PageSize: 4,
				PageToken: base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(after, 10)))})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				if seen[r.Key] {
					t.Fatalf("%q listed twice", r.Key)
				}
				seen[r.Key] = true
			}
			if n := len(p.Records); n > 0 {
				id := recordID(t, reader, p.Records[n-1].Key)
				if id <= after {
					t.Fatalf("creation order went back: %d after %d", id, after)
				}
				after = id
			} else if finished {
				break
			}
		}
		want := writers * each
		if filters != nil {
			want /= 2
		}
		if len(seen) != want {
			t.Errorf("filters %v: the tailing reader saw %d records, want %d", filters, len(seen), want)
		}
	}
}

// recordID is the creation number of a record.
func recordID(t *testing.T, s *thingStore, key string) int64 {
	t.Helper()
	var id int64
	if err := s.ts.pool.QueryRow(context.Background(), `SELECT ssotws_seq FROM alphas WHERE id = $1`, key).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
