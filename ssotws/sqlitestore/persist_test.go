package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
	"github.com/stretchr/testify/assert"
)

func apply(t *testing.T, s ssotws.Store, w *ssotws.Write) *ssotws.WriteResult {
	t.Helper()
	res, err := s.Apply(context.Background(), w)
	if err != nil {
		t.Fatalf("Apply(%v %q): %v", w.Kind, w.Key, err)
	}
	return res
}

func listKeys(t *testing.T, s ssotws.Store, q ssotws.Query) []string {
	t.Helper()
	var ks []string
	for {
		p, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			ks = append(ks, r.Key)
		}
		if p.NextPageToken == "" {
			return ks
		}
		q.PageToken = p.NextPageToken
	}
}

// TestPersistence writes records, tombstones, remembered requests and
// sequences, closes the store and checks that a new one on the same file
// sees all of them.
func TestPersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "persist.db")
	s := open(t, path, nil)
	for _, k := range []string{"a", "b", "c", "d"} {
		apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: k, Data: []byte("v1-" + k), Fields: map[string]string{"g": "x"}})
	}
	apply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: model, Key: "a", Data: []byte("v2-a"), Fields: map[string]string{"g": "y"}, RequestID: "upd-a"})
	apply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: model, Key: "b", RequestID: "del-b"})
	apply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: model, Key: "c"})
	apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "c", Data: []byte("v4-c")})
	page, err := s.List(ctx, ssotws.Query{Model: model, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.NextSequence(ctx, model); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, nil)
	if got := strings.Join(listKeys(t, s, ssotws.Query{Model: model}), ","); got != "a,d,c" {
		t.Errorf("list after reopen = %s, want a,d,c", got)
	}
	// Page tokens stay valid across a restart.
	if got := strings.Join(listKeys(t, s, ssotws.Query{Model: model, PageToken: page.NextPageToken}), ","); got != "d,c" {
		t.Errorf("next page after reopen = %s, want d,c", got)
	}
	if got := strings.Join(listKeys(t, s, ssotws.Query{Model: model, Filters: []ssotws.Filter{{Field: "g", Value: "x"}}}), ","); got != "d" {
		t.Errorf("filtered list after reopen = %s, want d", got)
	}
	a, err := s.Get(ctx, model, "a")
	if err != nil || a.Version != 2 || string(a.Data) != "v2-a" || a.Fields["g"] != "y" {
		t.Errorf("a after reopen = %+v, %v", a, err)
	}
	if _, err := s.Get(ctx, model, "b"); !errors.Is(err, ssotws.ErrNotFound) {
		t.Errorf("tombstone b: %v", err)
	}
	// The tombstone's version is kept: a re-create goes on from it.
	res := apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "b"})
	if res.Record.Version != 3 {
		t.Errorf("re-created b at version %d, want 3", res.Record.Version)
	}
	c, err := s.Get(ctx, model, "c")
	if err != nil || c.Version != 3 {
		t.Errorf("c after reopen = %+v, %v", c, err)
	}
	// Remembered requests replay their first result.
	res = apply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: model, Key: "a", Data: []byte("other"), RequestID: "upd-a"})
	if !res.Replayed || res.Record.Version != 2 || string(res.Record.Data) != "v2-a" || res.Previous == nil ||
		res.Previous.Version != 1 || res.Previous.Fields["g"] != "x" {
		t.Errorf("replayed update after reopen = %+v (previous %+v)", res, res.Previous)
	}
	res = apply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: model, Key: "b", RequestID: "del-b"})
	if !res.Replayed || !res.Record.Deleted || res.Record.Version != 2 || string(res.Record.Data) != "v1-b" {
		t.Errorf("replayed delete after reopen = %+v", res.Record)
	}
	if b, err := s.Get(ctx, model, "b"); err != nil || b.Version != 3 {
		t.Errorf("replay applied the delete again: %+v, %v", b, err)
	}
	if n, err := s.NextSequence(ctx, model); err != nil || n != 4 {
		t.Errorf("NextSequence after reopen = %d, %v; want 4", n, err)
	}
}

// TestRequestBound: beyond MaxRequests the oldest request results are
// forgotten, and a forgotten request applies again.
func TestRequestBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bound.db")
	s := open(t, path, &sqlitestore.Options{MaxRequests: 3})
	apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "k"})
	for i := 1; i <= 5; i++ {
		apply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: model, Key: "k", RequestID: "r" + strconv.Itoa(i)})
	}
	replayed := func(s ssotws.Store, i int) bool {
		return apply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: model, Key: "k", RequestID: "r" + strconv.Itoa(i)}).Replayed
	}
	for i := 3; i <= 5; i++ {
		if !replayed(s, i) {
			t.Errorf("request r%d forgotten", i)
		}
	}
	// r1 is forgotten: it applies again (and is remembered, pushing out r3).
	if replayed(s, 1) {
		t.Error("request r1 still remembered beyond the bound")
	}
	s.Close()

	// A smaller bound on reopen prunes down to it on the next write.
	s = open(t, path, &sqlitestore.Options{MaxRequests: 1})
	if !replayed(s, 5) {
		t.Error("request r5 forgotten across reopen")
	}
	apply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: model, Key: "k", RequestID: "r6"})
	if !replayed(s, 6) {
		t.Error("request r6 forgotten")
	}
	if replayed(s, 5) {
		t.Error("request r5 remembered beyond the new bound")
	}
}

// TestConcurrentWriters: many goroutines, on two stores opened on the same
// file (as two processes would), increment counters with IfVersion retry
// loops, and none fails with SQLITE_BUSY or loses an update.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "concurrent.db")
	stores := []*thingStore{open(t, path, nil), open(t, path, nil)}
	const (
		counters   = 3
		goroutines = 24
		increments = 5
	)
	for c := range counters {
		apply(t, stores[0], &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "counter" + strconv.Itoa(c), Data: []byte("0")})
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		s := stores[g%len(stores)]
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
						IfVersion: cur.Version, Data: []byte(strconv.Itoa(n + 1))})
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
			// Unconditional creates and sequences beside them.
			if _, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "g" + strconv.Itoa(g), RequestID: "g" + strconv.Itoa(g)}); err != nil {
				t.Errorf("create: %v", err)
			}
			if _, err := s.NextSequence(ctx, model); err != nil {
				t.Errorf("NextSequence: %v", err)
			}
		})
	}
	wg.Wait()
	per := goroutines / counters * increments
	for c := range counters {
		for i, s := range stores {
			r, err := s.Get(ctx, model, "counter"+strconv.Itoa(c))
			if err != nil {
				t.Fatal(err)
			}
			if r.Version != int64(per+1) || string(r.Data) != strconv.Itoa(per) {
				t.Errorf("store %d counter%d: version %d data %s, want version %d data %d", i, c, r.Version, r.Data, per+1, per)
			}
		}
	}
	if n, err := stores[1].NextSequence(ctx, model); err != nil || n != goroutines+1 {
		t.Errorf("NextSequence = %d, %v; want %d", n, err, goroutines+1)
	}
	if got := len(listKeys(t, stores[0], ssotws.Query{Model: model, PageSize: 10})); got != counters+goroutines {
		t.Errorf("listed %d records, want %d", got, counters+goroutines)
	}
}

// TestOpen: odd file names work, and names that are not files are
// refused.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	odd := filepath.Join(dir, "a dir?x=1#frag", "na%20me&_pragma=x.db")
	if err := mkdirAll(filepath.Dir(odd)); err != nil {
		t.Fatal(err)
	}
	s := open(t, odd, nil)
	apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "k"})
	if !exists(odd) {
		t.Errorf("no database at %q", odd)
	}
	s.Close()

	for _, bad := range []string{"", ":memory:", "file:x.db", filepath.Join(dir, "missing", "x.db")} {
		_, err := sqlitestore.OpenTables(ctx, bad, storetest.Models(), nil)
		assert.Error(t, err, "OpenTables(%q)", bad)
	}
}
