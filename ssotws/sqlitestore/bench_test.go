package sqlitestore_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

func BenchmarkCreate(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "bench.db"), nil)
	ctx := context.Background()
	fields := map[string]string{"id": "", "room": "r1", "author": "ann", "title": "hello there"}
	data := make([]byte, 200)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := strconv.Itoa(i)
		if _, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: k, Data: data, Fields: fields, RequestID: k}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListFiltered(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "bench.db"), nil)
	ctx := context.Background()
	data := make([]byte, 200)
	for i := range 5000 {
		room := "r" + strconv.Itoa(i%50)
		if _, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: strconv.Itoa(i), Data: data,
			Fields: map[string]string{"room": room, "author": "ann"}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := s.List(ctx, ssotws.Query{Model: model, PageSize: 50, Filters: []ssotws.Filter{{Field: "room", Value: "r7"}}})
		if err != nil || len(p.Records) != 50 {
			b.Fatal(len(p.Records), err)
		}
	}
}
