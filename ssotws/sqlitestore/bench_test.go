package sqlitestore_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/require"
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

// BenchmarkCreateWALFrames counts the pages a create writes: after 3,000
// creates of BenchmarkCreate's kind it checkpoints the WAL, makes 40 more
// and reads the page number of each frame the WAL then holds, naming its
// b-tree with the dbstat table. It reports frames per create and logs
// them by b-tree (-test.v). Run with -benchtime 1x: an iteration is the
// whole count, not one create.
func BenchmarkCreateWALFrames(b *testing.B) {
	const warm, counted = 3000, 40
	ctx := context.Background()
	data := make([]byte, 200)
	fields := map[string]string{"id": "", "room": "r1", "author": "ann", "title": "hello there"}
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "bench.db")
		s := open(b, path, nil)
		side, err := sql.Open("sqlite", "file:"+path)
		require.NoError(b, err)
		for i := range warm + counted {
			if i == warm {
				_, err := side.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
				require.NoError(b, err)
			}
			k := strconv.Itoa(i)
			_, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: k, Data: data, Fields: fields, RequestID: k})
			require.NoError(b, err)
		}
		wal, err := os.ReadFile(path + "-wal")
		require.NoError(b, err)
		btree := map[uint32]string{1: "page 1"}
		rows, err := side.QueryContext(ctx, "SELECT name, pageno FROM dbstat WHERE pageno > 1")
		require.NoError(b, err)
		for rows.Next() {
			var (
				name string
				page uint32
			)
			require.NoError(b, rows.Scan(&name, &page))
			btree[page] = name
		}
		require.NoError(b, rows.Err())
		require.NoError(b, side.Close())
		// The WAL: a 32-byte header, then frames of a 24-byte header (the
		// page number first) and a page.
		require.Greater(b, len(wal), 32, "the WAL holds the counted creates")
		size := int(binary.BigEndian.Uint32(wal[8:12]))
		perTree := map[string]int{}
		frames := 0
		for off := 32; off+24+size <= len(wal); off += 24 + size {
			perTree[btree[binary.BigEndian.Uint32(wal[off:])]]++
			frames++
		}
		for _, name := range slices.Sorted(maps.Keys(perTree)) {
			b.Logf("%-32s %.2f frames per create", name, float64(perTree[name])/counted)
		}
		b.ReportMetric(float64(frames)/counted, "frames/create")
	}
}
