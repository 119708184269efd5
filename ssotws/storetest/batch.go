package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

func applyBatch(t *testing.T, s ssotws.Store, ws ...*ssotws.Write) []*ssotws.WriteResult {
	t.Helper()
	res, err := s.ApplyBatch(context.Background(), ws)
	if err != nil {
		t.Fatalf("ApplyBatch: %v", err)
	}
	if len(res) != len(ws) {
		t.Fatalf("ApplyBatch returned %d results for %d writes", len(res), len(ws))
	}
	return res
}

// A write of a batch sees the writes before it: a create, then an update
// and a delete of the same key, in one transaction.
func testBatchInOrder(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "k0", "zero", map[string]string{"x": "0"})
	res := applyBatch(t, s,
		&ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", Data: []byte("a"), Fields: map[string]string{"x": "1"}},
		&ssotws.Write{Kind: ssotws.WriteUpdate, Model: modelA, Key: "k1", IfVersion: 1, Data: []byte("b"), Fields: map[string]string{"x": "2"}},
		&ssotws.Write{Kind: ssotws.WriteDelete, Model: modelA, Key: "k0"},
		&ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k2", Data: []byte("c"), Fields: map[string]string{"x": "3"}},
	)
	checkRecord(t, "created", res[0].Record, "k1", 1, "a", nil, false)
	checkRecord(t, "updated", res[1].Record, "k1", 2, "b", map[string]string{"x": "2"}, false)
	checkRecord(t, "updated previous", res[1].Previous, "k1", 1, "a", nil, false)
	checkRecord(t, "deleted", res[2].Record, "k0", 2, "zero", nil, true)
	checkRecord(t, "get", get(t, s, modelA, "k1"), "k1", 2, "b", nil, false)
	if got := listAll(t, s, ssotws.Query{Model: modelA, PageSize: 10}); len(got) != 2 || got[0] != "k1" || got[1] != "k2" {
		t.Errorf("list after the batch = %v, want [k1 k2]", got)
	}
}

// One failing write fails the batch, naming its index, and nothing of the
// batch is applied or remembered.
func testBatchAllOrNothing(t *testing.T, s ssotws.Store) {
	create(t, s, modelA, "taken", "t", map[string]string{"x": "0"})
	_, err := s.ApplyBatch(context.Background(), []*ssotws.Write{
		{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", Data: []byte("a"), Fields: map[string]string{"x": "1"}, RequestID: "b/0"},
		{Kind: ssotws.WriteUpdate, Model: modelA, Key: "taken", Data: []byte("u"), Fields: map[string]string{"x": "9"}, RequestID: "b/1"},
		{Kind: ssotws.WriteCreate, Model: modelA, Key: "taken", Data: []byte("b"), Fields: map[string]string{"x": "2"}, RequestID: "b/2"},
	})
	wantErr(t, err, ssotws.ErrAlreadyExists, "taken")
	var be *ssotws.BatchError
	if !errors.As(err, &be) || be.Index != 2 {
		t.Fatalf("err = %v, want a BatchError at index 2", err)
	}
	if _, err := s.Get(context.Background(), modelA, "k1"); !errors.Is(err, ssotws.ErrNotFound) {
		t.Errorf("Get of the batch's first create: %v, want ErrNotFound", err)
	}
	checkRecord(t, "untouched", get(t, s, modelA, "taken"), "taken", 1, "t", nil, false)
	// The requests of a failed batch are not remembered: they apply now.
	res := mustApply(t, s, &ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", Data: []byte("a2"), Fields: map[string]string{"x": "1"}, RequestID: "b/0"})
	if res.Replayed {
		t.Error("a write of a failed batch was remembered")
	}
}

// A batch repeated with the same request ids is replayed whole.
func testBatchIdempotent(t *testing.T, s ssotws.Store) {
	ws := []*ssotws.Write{
		{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", Data: []byte("a"), Fields: map[string]string{"x": "1"}, RequestID: "r/0"},
		{Kind: ssotws.WriteCreate, Model: modelA, Key: "k2", Data: []byte("b"), Fields: map[string]string{"x": "2"}, RequestID: "r/1"},
	}
	first := applyBatch(t, s, ws...)
	again := applyBatch(t, s, ws...)
	for i := range ws {
		if first[i].Replayed || !again[i].Replayed {
			t.Errorf("write %d: first replayed %v, repeat replayed %v", i, first[i].Replayed, again[i].Replayed)
		}
		checkRecord(t, "replayed", again[i].Record, first[i].Record.Key, 1, string(ws[i].Data), nil, false)
	}
	if got := listAll(t, s, ssotws.Query{Model: modelA, PageSize: 10}); len(got) != 2 {
		t.Errorf("list after a repeated batch = %v, want two records", got)
	}
}

// A batch may write several models.
func testBatchAcrossModels(t *testing.T, s ssotws.Store) {
	applyBatch(t, s,
		&ssotws.Write{Kind: ssotws.WriteCreate, Model: modelA, Key: "k1", Data: []byte("a"), Fields: map[string]string{"x": "1"}},
		&ssotws.Write{Kind: ssotws.WriteCreate, Model: modelB, Key: "k1", Data: []byte("b"), Fields: map[string]string{"x": "2"}},
	)
	checkRecord(t, "alpha", get(t, s, modelA, "k1"), "k1", 1, "a", nil, false)
	checkRecord(t, "beta", get(t, s, modelB, "k1"), "k1", 1, "b", nil, false)
	_, err := s.ApplyBatch(context.Background(), []*ssotws.Write{
		{Kind: ssotws.WriteUpdate, Model: modelB, Key: "k1", Data: []byte("b2"), Fields: map[string]string{"x": "3"}},
		{Kind: ssotws.WriteDelete, Model: modelA, Key: "missing"},
	})
	wantErr(t, err, ssotws.ErrNotFound, "missing")
	checkRecord(t, "beta untouched", get(t, s, modelB, "k1"), "k1", 1, "b", nil, false)
}
