// Package storetest is a conformance suite for implementations of
// [ssotws.Store]: the behaviours of [ssotws.MemoryStore], which is the
// reference, as one table of tests that any store must pass.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) ssotws.Store {
//			return mystore.New(t.TempDir())
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// Run runs every behaviour of the suite as a subtest of t, each on a fresh
// store from newStore. newStore should register the store's cleanup (Close)
// with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) ssotws.Store) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newStore(t))
		})
	}
}

// Model names used by the suite.
const (
	modelA = "test.v1.Alpha"
	modelB = "test.v1.Beta"
)

var cases = []struct {
	name string
	run  func(t *testing.T, s ssotws.Store)
}{
	{"GetMissing", testGetMissing},
	{"CreateGet", testCreateGet},
	{"CreateExisting", testCreateExisting},
	{"Update", testUpdate},
	{"UpdateMissing", testUpdateMissing},
	{"IfVersion", testIfVersion},
	{"IfAbsent", testIfAbsent},
	{"Delete", testDelete},
	{"DeleteKeepsOrReplacesData", testDeleteData},
	{"RecreateContinuesVersion", testRecreate},
	{"ModelsAreSeparate", testModelsSeparate},
	{"ListOrderAndPages", testListPages},
	{"ListSkipsTombstones", testListTombstones},
	{"ListRecreatedGoesLast", testListRecreated},
	{"ListFilters", testListFilters},
	{"ListFilterPages", testListFilterPages},
	{"ListFilterFollowsUpdates", testListFilterUpdates},
	{"ListInvalidPageToken", testListInvalidToken},
	{"ListEmptyModel", testListEmpty},
	{"Idempotent", testIdempotent},
	{"IdempotentDelete", testIdempotentDelete},
	{"IdempotentPerModel", testIdempotentPerModel},
	{"FailedWriteNotRemembered", testFailedNotRemembered},
	{"NextSequence", testNextSequence},
	{"UnknownKind", testUnknownKind},
	{"CanceledContext", testCanceled},
	{"ConcurrentIncrements", testConcurrentIncrements},
	{"ConcurrentCreates", testConcurrentCreates},
	{"ConcurrentIdempotent", testConcurrentIdempotent},
	{"BatchAppliesInOrder", testBatchInOrder},
	{"BatchAllOrNothing", testBatchAllOrNothing},
	{"BatchIdempotent", testBatchIdempotent},
	{"BatchAcrossModels", testBatchAcrossModels},
}

func mustApply(t *testing.T, s ssotws.Store, w *ssotws.Write) *ssotws.WriteResult {
	t.Helper()
	res, err := s.Apply(context.Background(), w)
	if err != nil {
		t.Fatalf("Apply(%v %s %q): %v", w.Kind, w.Model, w.Key, err)
	}
	return res
}

func create(t *testing.T, s ssotws.Store, model, key, data string, fields map[string]string) *ssotws.WriteResult {
	t.Helper()
	return mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: key, Data: []byte(data), Fields: fields})
}

func wantErr(t *testing.T, err, target error, key string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
	if key != "" && !strings.Contains(err.Error(), strconv.Quote(key)) {
		t.Errorf("err %q does not quote the key %q", err, key)
	}
}

func checkRecord(t *testing.T, what string, got *ssotws.Record, key string, version int64, data string, fields map[string]string, deleted bool) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil record", what)
	}
	if got.Key != key || got.Version != version || !bytes.Equal(got.Data, []byte(data)) || got.Deleted != deleted {
		t.Errorf("%s = {%q v%d %q deleted=%v}, want {%q v%d %q deleted=%v}",
			what, got.Key, got.Version, got.Data, got.Deleted, key, version, data, deleted)
	}
	if fields != nil && !maps.Equal(got.Fields, fields) {
		t.Errorf("%s fields = %v, want %v", what, got.Fields, fields)
	}
}

func get(t *testing.T, s ssotws.Store, model, key string) *ssotws.Record {
	t.Helper()
	r, err := s.Get(context.Background(), model, key)
	if err != nil {
		t.Fatalf("Get(%s, %q): %v", model, key, err)
	}
	return r
}

func keys(p *ssotws.Page) []string {
	var ks []string
	for _, r := range p.Records {
		ks = append(ks, r.Key)
	}
	return ks
}

// listAll follows the page tokens to the end, checking every page's size.
func listAll(t *testing.T, s ssotws.Store, q ssotws.Query) []string {
	t.Helper()
	var all []string
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("List does not end")
		}
		p, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if q.PageSize > 0 && len(p.Records) > q.PageSize {
			t.Fatalf("page of %d records, size %d", len(p.Records), q.PageSize)
		}
		all = append(all, keys(p)...)
		if p.NextPageToken == "" {
			return all
		}
		q.PageToken = p.NextPageToken
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

func testGetMissing(t *testing.T, s ssotws.Store) {
	_, err := s.Get(context.Background(), modelA, "nope")
	wantErr(t, err, ssotws.ErrNotFound, "")
}

func testCreateGet(t *testing.T, s ssotws.Store) {
	f := map[string]string{"title": "hello", "n": "3"}
	res := create(t, s, modelA, "k1", "data-1", f)
	if res.Previous != nil || res.Replayed {
		t.Errorf("create result: previous %v replayed %v", res.Previous, res.Replayed)
	}
	checkRecord(t, "create", res.Record, "k1", 1, "data-1", f, false)
	checkRecord(t, "get", get(t, s, modelA, "k1"), "k1", 1, "data-1", f, false)
}

func testCreateExisting(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k1", "a", nil)
	_, err := s.Apply(context.Background(), &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", Data: []byte("b")})
	wantErr(t, err, ssotws.ErrAlreadyExists, "k1")
	checkRecord(t, "get", get(t, s, modelA, "k1"), "k1", 1, "a", nil, false)
}

func testUpdate(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k1", "a", map[string]string{"x": "1", "y": "2"})
	res := mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", Data: []byte("b"), Fields: map[string]string{"x": "9"}})
	checkRecord(t, "previous", res.Previous, "k1", 1, "a", map[string]string{"x": "1", "y": "2"}, false)
	checkRecord(t, "record", res.Record, "k1", 2, "b", map[string]string{"x": "9"}, false)
	checkRecord(t, "get", get(t, s, modelA, "k1"), "k1", 2, "b", map[string]string{"x": "9"}, false)
}

func testUpdateMissing(t *testing.T, s ssotws.Store) {
	_, err := s.Apply(context.Background(), &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", Data: []byte("b")})
	wantErr(t, err, ssotws.ErrNotFound, "k1")
	_, err = s.Apply(context.Background(), &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1"})
	wantErr(t, err, ssotws.ErrNotFound, "k1")
	// With a condition, a missing record is still not found.
	_, err = s.Apply(context.Background(), &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", IfVersion: 1})
	wantErr(t, err, ssotws.ErrNotFound, "k1")
	_, err = s.Apply(context.Background(), &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1", IfVersion: 1})
	wantErr(t, err, ssotws.ErrNotFound, "k1")
}

func testIfVersion(t *testing.T, s ssotws.Store) {
	ctx := context.Background()
	// A conditional create of a missing key is a conflict.
	_, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", IfVersion: 1})
	wantErr(t, err, ssotws.ErrVersionConflict, "k1")
	create(t, s, modelA, "k1", "a", nil)
	// A conditional create of a live key with its version: already exists.
	_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", IfVersion: 1})
	wantErr(t, err, ssotws.ErrAlreadyExists, "k1")
	_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", IfVersion: 2, Data: []byte("b")})
	wantErr(t, err, ssotws.ErrVersionConflict, "k1")
	res := mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", IfVersion: 1, Data: []byte("b")})
	checkRecord(t, "update", res.Record, "k1", 2, "b", nil, false)
	_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1", IfVersion: 1})
	wantErr(t, err, ssotws.ErrVersionConflict, "k1")
	res = mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1", IfVersion: 2})
	checkRecord(t, "delete", res.Record, "k1", 3, "b", nil, true)
	// A conditional create over a tombstone is a conflict, even at the
	// tombstone's version: there is no live record at any version.
	_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", IfVersion: 3})
	wantErr(t, err, ssotws.ErrVersionConflict, "k1")
	if !strings.Contains(err.Error(), "version 3") {
		t.Errorf("conflict %q does not name the tombstone's version 3", err)
	}
}

// testIfAbsent: a write that expects no live record. A delete of a key
// found absent must not delete a record created since (another user's),
// whatever its RequestID, but still replays its own earlier result.
func testIfAbsent(t *testing.T, s ssotws.Store) {
	ctx := context.Background()
	// Absent: Delete and Update find nothing, Create creates.
	_, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1", IfVersion: ssotws.IfAbsent, RequestID: "d1"})
	wantErr(t, err, ssotws.ErrNotFound, "k1")
	_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", IfVersion: ssotws.IfAbsent, Data: []byte("x")})
	wantErr(t, err, ssotws.ErrNotFound, "k1")
	res := mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", IfVersion: ssotws.IfAbsent, Data: []byte("a")})
	checkRecord(t, "create", res.Record, "k1", 1, "a", nil, false)
	// Live: a conflict, and the record stays, for every kind.
	for _, kind := range []ssotws.WriteKind{ssotws.WriteDelete, ssotws.WriteUpdate, ssotws.WriteCreate} {
		_, err = s.Apply(ctx, &ssotws.Write{Kind: kind, Model: modelA, Key: "k1", IfVersion: ssotws.IfAbsent, Data: []byte("b"), RequestID: fmt.Sprint("r", kind)})
		wantErr(t, err, ssotws.ErrVersionConflict, "k1")
	}
	checkRecord(t, "kept", get(t, s, modelA, "k1"), "k1", 1, "a", nil, false)
	// A refused write is not remembered: the same RequestID after the
	// record is gone finds it absent.
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1", RequestID: "d2"})
	_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1", IfVersion: ssotws.IfAbsent, RequestID: fmt.Sprint("r", ssotws.WriteDelete)})
	wantErr(t, err, ssotws.ErrNotFound, "k1")
	// The retry of a delete that succeeded replays its result, although
	// the record is absent now.
	again := mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1", IfVersion: ssotws.IfAbsent, RequestID: "d2"})
	if !again.Replayed {
		t.Error("retried delete not replayed")
	}
	checkRecord(t, "replayed tombstone", again.Record, "k1", 2, "a", nil, true)
	// Re-created by someone else: a delete expecting absence refuses.
	create(t, s, modelA, "k1", "c", nil)
	_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1", IfVersion: ssotws.IfAbsent, RequestID: "d3"})
	wantErr(t, err, ssotws.ErrVersionConflict, "k1")
	checkRecord(t, "re-created, kept", get(t, s, modelA, "k1"), "k1", 3, "c", nil, false)
}

func testDelete(t *testing.T, s ssotws.Store) {
	ctx := context.Background()
	f := map[string]string{"x": "1"}
	create(t, s, modelA, "k1", "a", f)
	res := mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1"})
	checkRecord(t, "previous", res.Previous, "k1", 1, "a", f, false)
	checkRecord(t, "tombstone", res.Record, "k1", 2, "a", nil, true)
	_, err := s.Get(ctx, modelA, "k1")
	wantErr(t, err, ssotws.ErrNotFound, "")
	_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1"})
	wantErr(t, err, ssotws.ErrNotFound, "k1")
	_, err = s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", Data: []byte("b")})
	wantErr(t, err, ssotws.ErrNotFound, "k1")
}

func testDeleteData(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "keep", "a", nil)
	create(t, s, modelA, "replace", "a", nil)
	res := mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "keep"})
	checkRecord(t, "kept", res.Record, "keep", 2, "a", nil, true)
	res = mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "replace", Data: []byte("last")})
	checkRecord(t, "replaced", res.Record, "replace", 2, "last", nil, true)
}

func testRecreate(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k1", "a", nil)
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", Data: []byte("b")})
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1"})
	res := create(t, s, modelA, "k1", "c", map[string]string{"x": "new"})
	if res.Previous != nil {
		t.Errorf("re-create previous = %+v, want nil", res.Previous)
	}
	checkRecord(t, "re-created", res.Record, "k1", 4, "c", map[string]string{"x": "new"}, false)
	checkRecord(t, "get", get(t, s, modelA, "k1"), "k1", 4, "c", map[string]string{"x": "new"}, false)
}

func testModelsSeparate(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k1", "a", nil)
	_, err := s.Get(context.Background(), modelB, "k1")
	wantErr(t, err, ssotws.ErrNotFound, "")
	res := create(t, s, modelB, "k1", "b", nil)
	checkRecord(t, "other model", res.Record, "k1", 1, "b", nil, false)
	checkRecord(t, "first model", get(t, s, modelA, "k1"), "k1", 1, "a", nil, false)
	if got := listAll(t, s, ssotws.Query{Model: modelB}); !equal(got, []string{"k1"}) {
		t.Errorf("list B = %v", got)
	}
}

func testListPages(t *testing.T, s ssotws.Store) {
	// Keys not in lexical order: the list is in creation order.
	want := []string{"e", "b", "d", "a", "c"}
	for i, k := range want {
		create(t, s, modelA, k, "d"+strconv.Itoa(i), map[string]string{"i": strconv.Itoa(i)})
	}
	for size := 1; size <= 6; size++ {
		if got := listAll(t, s, ssotws.Query{Model: modelA, PageSize: size}); !equal(got, want) {
			t.Errorf("page size %d: %v, want %v", size, got, want)
		}
	}
	// A page that ends exactly at the last record has no next token.
	p, err := s.List(context.Background(), ssotws.Query{Model: modelA, PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 5 || p.NextPageToken != "" {
		t.Errorf("full page: %d records, token %q", len(p.Records), p.NextPageToken)
	}
	checkRecord(t, "listed", p.Records[3], "a", 1, "d3", map[string]string{"i": "3"}, false)
	// The default page size holds these.
	p, err = s.List(context.Background(), ssotws.Query{Model: modelA})
	if err != nil {
		t.Fatal(err)
	}
	if !equal(keys(p), want) || p.NextPageToken != "" {
		t.Errorf("default page: %v %q", keys(p), p.NextPageToken)
	}
	// Records created after a page was read come on the following pages.
	p, err = s.List(context.Background(), ssotws.Query{Model: modelA, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	create(t, s, modelA, "f", "", nil)
	got := listAll(t, s, ssotws.Query{Model: modelA, PageSize: 4, PageToken: p.NextPageToken})
	if !equal(got, []string{"c", "f"}) {
		t.Errorf("after a page: %v, want [c f]", got)
	}
}

func testListTombstones(t *testing.T, s ssotws.Store) {
	for _, k := range []string{"a", "b", "c", "d"} {
		create(t, s, modelA, k, "", map[string]string{"g": "1"})
	}
	p, err := s.List(context.Background(), ssotws.Query{Model: modelA, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Deleting the record a token points at does not lose the place.
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "b"})
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "c"})
	got := listAll(t, s, ssotws.Query{Model: modelA, PageToken: p.NextPageToken})
	if !equal(got, []string{"d"}) {
		t.Errorf("after deletes: %v, want [d]", got)
	}
	for _, q := range []ssotws.Query{
		{Model: modelA, PageSize: 1},
		{Model: modelA, Filters: []ssotws.Filter{{Field: "g", Value: "1"}}, PageSize: 1},
	} {
		if got := listAll(t, s, q); !equal(got, []string{"a", "d"}) {
			t.Errorf("list %+v: %v, want [a d]", q.Filters, got)
		}
	}
}

func testListRecreated(t *testing.T, s ssotws.Store) {
	for _, k := range []string{"a", "b", "c"} {
		create(t, s, modelA, k, "", map[string]string{"g": "1"})
	}
	p, err := s.List(context.Background(), ssotws.Query{Model: modelA, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "a"})
	create(t, s, modelA, "a", "", map[string]string{"g": "1"})
	for _, f := range [][]ssotws.Filter{nil, {{Field: "g", Value: "1"}}} {
		if got := listAll(t, s, ssotws.Query{Model: modelA, Filters: f}); !equal(got, []string{"b", "c", "a"}) {
			t.Errorf("filters %v: %v, want [b c a]", f, got)
		}
		// A reader paging through sees the re-created record again.
		if got := listAll(t, s, ssotws.Query{Model: modelA, Filters: f, PageToken: p.NextPageToken}); !equal(got, []string{"c", "a"}) {
			t.Errorf("filters %v, next page: %v, want [c a]", f, got)
		}
	}
}

func testListFilters(t *testing.T, s ssotws.Store) {
	recs := []struct {
		key    string
		fields map[string]string
	}{
		{"m1", map[string]string{"room": "r1", "author": "ann", "pinned": "true"}},
		{"m2", map[string]string{"room": "r2", "author": "ann", "pinned": ""}},
		{"m3", map[string]string{"room": "r1", "author": "bob"}},
		{"m4", map[string]string{"room": "r1", "author": "ann", "pinned": "false"}},
		{"m5", nil},
		{"m6", map[string]string{"room": "r1", "author": "ann", "odd \"name\"": "x.y", "a.b": "$[0]"}},
	}
	for _, r := range recs {
		create(t, s, modelA, r.key, r.key, r.fields)
	}
	create(t, s, modelB, "other", "", map[string]string{"room": "r1"})
	for _, c := range []struct {
		filters []ssotws.Filter
		want    []string
	}{
		{nil, []string{"m1", "m2", "m3", "m4", "m5", "m6"}},
		{[]ssotws.Filter{{Field: "room", Value: "r1"}}, []string{"m1", "m3", "m4", "m6"}},
		{[]ssotws.Filter{{Field: "room", Value: "r1"}, {Field: "author", Value: "ann"}}, []string{"m1", "m4", "m6"}},
		{[]ssotws.Filter{{Field: "author", Value: "ann"}, {Field: "room", Value: "r1"}}, []string{"m1", "m4", "m6"}},
		{[]ssotws.Filter{{Field: "room", Value: "r3"}}, nil},
		{[]ssotws.Filter{{Field: "nosuch", Value: "x"}}, nil},
		// The empty value matches an empty or missing field.
		{[]ssotws.Filter{{Field: "pinned", Value: ""}}, []string{"m2", "m3", "m5", "m6"}},
		{[]ssotws.Filter{{Field: "pinned", Value: ""}, {Field: "author", Value: "ann"}}, []string{"m2", "m6"}},
		{[]ssotws.Filter{{Field: "nosuch", Value: ""}}, []string{"m1", "m2", "m3", "m4", "m5", "m6"}},
		{[]ssotws.Filter{{Field: "pinned", Value: "true"}}, []string{"m1"}},
		// Values compare exactly, as text.
		{[]ssotws.Filter{{Field: "room", Value: "R1"}}, nil},
		{[]ssotws.Filter{{Field: "room", Value: "r1 "}}, nil},
		// Field names and values are data, not paths or patterns.
		{[]ssotws.Filter{{Field: "odd \"name\"", Value: "x.y"}}, []string{"m6"}},
		{[]ssotws.Filter{{Field: "a.b", Value: "$[0]"}}, []string{"m6"}},
		{[]ssotws.Filter{{Field: "a", Value: "$[0]"}}, nil},
		{[]ssotws.Filter{{Field: "room", Value: "r%"}}, nil},
		// Contradictory filters match nothing.
		{[]ssotws.Filter{{Field: "room", Value: "r1"}, {Field: "room", Value: "r2"}}, nil},
	} {
		if !arbitraryFields(s) && len(c.filters) == 1 && strings.ContainsAny(c.filters[0].Field, `". `) {
			continue // a field name no schema can declare
		}
		for _, size := range []int{0, 1, 2} {
			if got := listAll(t, s, ssotws.Query{Model: modelA, Filters: c.filters, PageSize: size}); !equal(got, c.want) {
				t.Errorf("filters %v size %d: %v, want %v", c.filters, size, got, c.want)
			}
		}
	}
	// The listed records carry their fields.
	p, err := s.List(context.Background(), ssotws.Query{Model: modelA, Filters: []ssotws.Filter{{Field: "author", Value: "bob"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 1 {
		t.Fatalf("bob: %v", keys(p))
	}
	checkRecord(t, "bob", p.Records[0], "m3", 1, "m3", recs[2].fields, false)
	for _, r := range p.Records {
		if !ssotws.Match(r.Fields, []ssotws.Filter{{Field: "author", Value: "bob"}}) {
			t.Errorf("listed %q does not match", r.Key)
		}
	}
}

func testListFilterPages(t *testing.T, s ssotws.Store) {
	var want []string
	for i := range 30 {
		room := "r" + strconv.Itoa(i%3)
		k := fmt.Sprintf("m%02d", i)
		create(t, s, modelA, k, "", map[string]string{"room": room})
		if room == "r1" {
			want = append(want, k)
		}
	}
	for _, size := range []int{1, 3, 4, 10, 11} {
		if got := listAll(t, s, ssotws.Query{Model: modelA, PageSize: size, Filters: []ssotws.Filter{{Field: "room", Value: "r1"}}}); !equal(got, want) {
			t.Errorf("size %d: %v, want %v", size, got, want)
		}
	}
}

func testListFilterUpdates(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k1", "", map[string]string{"room": "r1", "pinned": "true"})
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", Fields: map[string]string{"room": "r2"}})
	for _, c := range []struct {
		f    ssotws.Filter
		want []string
	}{
		{ssotws.Filter{Field: "room", Value: "r1"}, nil},
		{ssotws.Filter{Field: "room", Value: "r2"}, []string{"k1"}},
		{ssotws.Filter{Field: "pinned", Value: "true"}, nil},
		{ssotws.Filter{Field: "pinned", Value: ""}, []string{"k1"}},
	} {
		if got := listAll(t, s, ssotws.Query{Model: modelA, Filters: []ssotws.Filter{c.f}}); !equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.f, got, c.want)
		}
	}
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1"})
	create(t, s, modelA, "k1", "", map[string]string{"room": "r3"})
	for _, room := range []string{"r1", "r2"} {
		if got := listAll(t, s, ssotws.Query{Model: modelA, Filters: []ssotws.Filter{{Field: "room", Value: room}}}); len(got) != 0 {
			t.Errorf("room %s after re-create: %v", room, got)
		}
	}
	if got := listAll(t, s, ssotws.Query{Model: modelA, Filters: []ssotws.Filter{{Field: "room", Value: "r3"}}}); !equal(got, []string{"k1"}) {
		t.Errorf("room r3 after re-create: %v", got)
	}
}

func testListInvalidToken(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k1", "", nil)
	enc := base64.RawURLEncoding.EncodeToString
	for _, tok := range []string{
		"!!!", "not base64", "====", enc([]byte("abc")), enc([]byte("-1")), enc([]byte("1.5")),
		enc([]byte("99999999999999999999999")), enc([]byte{0xff, 0x00}),
	} {
		_, err := s.List(context.Background(), ssotws.Query{Model: modelA, PageToken: tok})
		if !errors.Is(err, ssotws.ErrInvalidPageToken) {
			t.Errorf("token %q: err = %v, want ErrInvalidPageToken", tok, err)
		}
	}
}

func testListEmpty(t *testing.T, s ssotws.Store) {
	p, err := s.List(context.Background(), ssotws.Query{Model: "no.such.Model", Filters: []ssotws.Filter{{Field: "x", Value: "y"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 0 || p.NextPageToken != "" {
		t.Errorf("empty model: %v %q", keys(p), p.NextPageToken)
	}
}

func testIdempotent(t *testing.T, s ssotws.Store) {
	f := map[string]string{"x": "1"}
	w := &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", Data: []byte("a"), Fields: f, RequestID: "req-1"}
	first := mustApply(t, s, w)
	if first.Replayed {
		t.Error("first write replayed")
	}
	again := mustApply(t, s, w)
	if !again.Replayed || again.Previous != nil {
		t.Errorf("repeat: replayed %v previous %v", again.Replayed, again.Previous)
	}
	checkRecord(t, "replayed create", again.Record, "k1", 1, "a", f, false)

	up := &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", Data: []byte("b"), Fields: map[string]string{"x": "2"}, RequestID: "req-2"}
	mustApply(t, s, up)
	again = mustApply(t, s, up)
	if !again.Replayed {
		t.Error("repeated update not replayed")
	}
	checkRecord(t, "replayed update", again.Record, "k1", 2, "b", map[string]string{"x": "2"}, false)
	checkRecord(t, "replayed previous", again.Previous, "k1", 1, "a", f, false)
	checkRecord(t, "get", get(t, s, modelA, "k1"), "k1", 2, "b", nil, false)

	// The first result is returned even when the record moved on, and
	// even for a repeat that would now fail.
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", Data: []byte("c")})
	again = mustApply(t, s, w)
	checkRecord(t, "replayed create, later", again.Record, "k1", 1, "a", f, false)
	cond := *up
	cond.IfVersion = 1
	again = mustApply(t, s, &cond)
	if !again.Replayed || again.Record.Version != 2 {
		t.Errorf("conditional repeat: replayed %v version %d", again.Replayed, again.Record.Version)
	}
	checkRecord(t, "get", get(t, s, modelA, "k1"), "k1", 3, "c", nil, false)
}

func testIdempotentDelete(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k1", "a", map[string]string{"x": "1"})
	w := &ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k1", RequestID: "del"}
	mustApply(t, s, w)
	again := mustApply(t, s, w)
	if !again.Replayed {
		t.Error("repeated delete not replayed")
	}
	checkRecord(t, "replayed tombstone", again.Record, "k1", 2, "a", nil, true)
	checkRecord(t, "replayed previous", again.Previous, "k1", 1, "a", map[string]string{"x": "1"}, false)
}

func testIdempotentPerModel(t *testing.T, s ssotws.Store) {
	mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", RequestID: "same"})
	res := mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelB, Key: "k2", RequestID: "same"})
	if res.Replayed || res.Record.Key != "k2" {
		t.Errorf("same request id, other model: replayed %v key %q", res.Replayed, res.Record.Key)
	}
	get(t, s, modelB, "k2")
}

func testFailedNotRemembered(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k1", "a", nil)
	w := &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", IfVersion: 7, Data: []byte("b"), RequestID: "r"}
	_, err := s.Apply(context.Background(), w)
	wantErr(t, err, ssotws.ErrVersionConflict, "k1")
	w.IfVersion = 1
	res := mustApply(t, s, w)
	if res.Replayed || res.Record.Version != 2 {
		t.Errorf("retry after failure: replayed %v version %d", res.Replayed, res.Record.Version)
	}
}

func testNextSequence(t *testing.T, s ssotws.Store) {
	ctx := context.Background()
	for i := int64(1); i <= 3; i++ {
		n, err := s.NextSequence(ctx, modelA)
		if err != nil || n != i {
			t.Fatalf("NextSequence(A) = %d, %v; want %d", n, err, i)
		}
	}
	n, err := s.NextSequence(ctx, modelB)
	if err != nil || n != 1 {
		t.Fatalf("NextSequence(B) = %d, %v; want 1", n, err)
	}
	// Concurrent callers never get the same number.
	const workers, each = 8, 25
	seen := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				n, err := s.NextSequence(ctx, modelA)
				if err != nil {
					t.Error(err)
					return
				}
				seen <- n
			}
		})
	}
	wg.Wait()
	close(seen)
	got := map[int64]bool{}
	for n := range seen {
		if got[n] || n < 4 {
			t.Errorf("NextSequence returned %d twice or out of range", n)
		}
		got[n] = true
	}
	if len(got) != workers*each {
		t.Errorf("%d distinct numbers, want %d", len(got), workers*each)
	}
}

func testUnknownKind(t *testing.T, s ssotws.Store) {
	_, err := s.Apply(context.Background(), &ssotws.Write{Kind: 99, Model: modelA, Key: "k1"})
	if err == nil {
		t.Fatal("unknown kind applied")
	}
	_, err = s.Apply(context.Background(), &ssotws.Write{Kind: 0, Model: modelA, Key: "k1"})
	if err == nil {
		t.Fatal("kind 0 applied")
	}
	if _, err := s.Get(context.Background(), modelA, "k1"); !errors.Is(err, ssotws.ErrNotFound) {
		t.Errorf("after unknown kinds, Get: %v", err)
	}
}

func testCanceled(t *testing.T, s ssotws.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", RequestID: "r"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Apply: %v", err)
	}
	if _, err := s.Get(context.Background(), modelA, "k1"); !errors.Is(err, ssotws.ErrNotFound) {
		t.Errorf("canceled write applied: %v", err)
	}
	res := mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", RequestID: "r"})
	if res.Replayed {
		t.Error("canceled write remembered")
	}
}

// testConcurrentIncrements: N writers each add one to a counter with a
// read, conditional-update, retry loop. No update may be lost.
func testConcurrentIncrements(t *testing.T, s ssotws.Store) {
	ctx := context.Background()
	create(t, s, modelA, "counter", "0", nil)
	const workers = 16
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for attempt := 0; ; attempt++ {
				if attempt > 10_000 {
					t.Error("no progress")
					return
				}
				cur, err := s.Get(ctx, modelA, "counter")
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := strconv.Atoi(string(cur.Data))
				_, err = s.Apply(ctx, &ssotws.Write{
					Kind: ssotws.WriteUpdate, Model: modelA, Key: "counter", IfVersion: cur.Version,
					Data: []byte(strconv.Itoa(n + 1)), Fields: map[string]string{"by": strconv.Itoa(w)},
				})
				if errors.Is(err, ssotws.ErrVersionConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
				}
				return
			}
		})
	}
	wg.Wait()
	checkRecord(t, "counter", get(t, s, modelA, "counter"), "counter", workers+1, strconv.Itoa(workers), nil, false)
}

// testConcurrentCreates: of many creates of one key, exactly one wins.
func testConcurrentCreates(t *testing.T, s ssotws.Store) {
	const workers = 16
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for w := range workers {
		wg.Go(func() {
			_, err := s.Apply(context.Background(), &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k", Data: []byte(strconv.Itoa(w))})
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.Is(err, ssotws.ErrAlreadyExists):
				t.Error(err)
			}
			// Distinct keys never conflict.
			mustApplyErr(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "own-" + strconv.Itoa(w)})
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d creates won, want 1", wins)
	}
	if got := listAll(t, s, ssotws.Query{Model: modelA, PageSize: 7}); len(got) != workers+1 {
		t.Errorf("listed %d records, want %d", len(got), workers+1)
	}
}

// mustApplyErr is mustApply for goroutines: it reports with t.Error.
func mustApplyErr(t *testing.T, s ssotws.Store, w *ssotws.Write) {
	if _, err := s.Apply(context.Background(), w); err != nil {
		t.Errorf("Apply(%v %q): %v", w.Kind, w.Key, err)
	}
}

// testConcurrentIdempotent: the same request sent many times at once is
// applied once.
func testConcurrentIdempotent(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k", "0", nil)
	const workers = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		applied  int
		versions = map[int64]bool{}
	)
	for range workers {
		wg.Go(func() {
			res, err := s.Apply(context.Background(), &ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k", Data: []byte("1"), RequestID: "once"})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if !res.Replayed {
				applied++
			}
			versions[res.Record.Version] = true
		})
	}
	wg.Wait()
	if applied != 1 || len(versions) != 1 || !versions[2] {
		t.Errorf("applied %d times, versions %v; want once, version 2", applied, versions)
	}
	checkRecord(t, "k", get(t, s, modelA, "k"), "k", 2, "1", nil, false)
}
