package pgstore

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
)

func apply(t testing.TB, s ssotws.Store, w *ssotws.Write) *ssotws.WriteResult {
	t.Helper()
	res, err := s.Apply(context.Background(), w)
	if err != nil {
		t.Fatalf("Apply(%v %q): %v", w.Kind, w.Key, err)
	}
	return res
}

func listKeys(t testing.TB, s ssotws.Store, q ssotws.Query) []string {
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
// sequences, closes the store and checks that a new one on the same schema
// sees all of them.
func TestPersistence(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	s := openStore(t, schema, nil)
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

	s = openStore(t, schema, nil)
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
		res.Previous.Version != 1 || res.Previous.Fields["g"] != "x" || res.Record.Fields["g"] != "y" {
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
	schema := newSchema(t)
	s := openStore(t, schema, &Options{MaxRequests: 3})
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
	var n int
	if err := s.ts.pool.QueryRow(context.Background(), `SELECT count(*) FROM ssotws_requests`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d requests kept (%v), want 3", n, err)
	}
	s.Close()

	// A smaller bound on reopen prunes down to it on the next write.
	s = openStore(t, schema, &Options{MaxRequests: 1})
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

// TestClientBytes: keys, field values and request ids are client data and
// may be empty, long or look like SQL; they come back as they went in.
// (Keys and fields are text columns now: PostgreSQL's text holds no NUL,
// and a key is a primary key, so a B-tree entry bounds its length.)
func TestClientBytes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, newSchema(t), nil)
	long := strings.Repeat("long key ", 200)
	keys := []string{"", "a\x01b", long, "'; DROP TABLE x; --", "é\u2028"}
	for i, k := range keys {
		v := k + "-value"
		res := apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: k, Data: []byte(k),
			Fields: map[string]string{"title": v, "n": strconv.Itoa(i)}, RequestID: "req\x1f" + k})
		if res.Record.Key != k {
			t.Errorf("created key %q", res.Record.Key)
		}
		got, err := s.Get(ctx, model, k)
		if err != nil || got.Key != k || string(got.Data) != k || got.Fields["title"] != v {
			t.Errorf("Get(%.20q) = %+v, %v", k, got, err)
		}
		p, err := s.List(ctx, ssotws.Query{Model: model, Filters: []ssotws.Filter{{Field: "title", Value: v}}})
		if err != nil || len(p.Records) != 1 || p.Records[0].Key != k {
			t.Errorf("filter on %.20q: %v", v, err)
		}
		again := apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: k, RequestID: "req\x1f" + k})
		if !again.Replayed || again.Record.Key != k {
			t.Errorf("replay of %.20q: %+v", k, again)
		}
	}
	if got := listKeys(t, s, ssotws.Query{Model: model, PageSize: 2}); len(got) != len(keys) {
		t.Errorf("listed %d, want %d", len(got), len(keys))
	}
}

// TestOpen: schema names are quoted, and concurrent opens of a new schema
// create it once.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	odd := newSchema(t) + ` "odd"; name`
	t.Cleanup(func() {
		testPool(t).Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{odd}.Sanitize()+" CASCADE")
	})
	s := openStore(t, odd, nil)
	apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: "k", RequestID: "r"})
	if s.Schema() != odd {
		t.Errorf("Schema() = %q", s.Schema())
	}

	// Several nodes start at once on a fresh schema.
	fresh := newSchema(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := OpenTables(ctx, testURL, storetest.Models(), &Options{Schema: fresh})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}

	if _, err := OpenTables(ctx, "postgres://%zz", storetest.Models(), nil); err == nil {
		t.Error("Open of a bad URL succeeded")
	}
}

// TestPageTokenFormat: tokens are the memory store's (base64url of the
// decimal creation number), so a client cannot tell the stores apart.
func TestPageTokenFormat(t *testing.T) {
	s := openStore(t, newSchema(t), nil)
	for _, k := range []string{"a", "b"} {
		apply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: k})
	}
	p, err := s.List(context.Background(), ssotws.Query{Model: model, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.RawURLEncoding.EncodeToString([]byte("1")); p.NextPageToken != want {
		t.Errorf("token %q, want %q", p.NextPageToken, want)
	}
}
