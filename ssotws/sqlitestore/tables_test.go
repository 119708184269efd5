package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
	"github.com/stretchr/testify/require"
)

func openTables(t testing.TB, path string, models []*ssotws.Model) *sqlitestore.TableStore {
	t.Helper()
	s, err := sqlitestore.OpenTables(context.Background(), path, models, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestTablesConformance(t *testing.T) {
	storetest.RunTables(t, func(t *testing.T, models []*ssotws.Model) ssotws.Store {
		return openTables(t, filepath.Join(t.TempDir(), "store.db"), models)
	})
}

// TestTriggersNumberEveryWriter mixes creates through the store, which
// insert rows already numbered, with plain SQL inserts that leave the
// creation number and version to the triggers (or set them wrong): every
// row ends with the next creation number and a version past its
// tombstone's, and the change log holds what the rows hold.
func TestTriggersNumberEveryWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s := openTables(t, path, storetest.Models())
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	create := func(key string) {
		_, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: key})
		require.NoError(t, err)
	}
	exec := func(q string) {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	create("a")
	exec(`INSERT INTO alphas (id) VALUES ('b')`)
	exec(`DELETE FROM alphas WHERE id = 'b'`)
	exec(`INSERT INTO alphas (id, version, ssotws_seq) VALUES ('b', 1, 3)`) // a version below the tombstone's
	exec(`INSERT INTO alphas (id, ssotws_seq) VALUES ('c', 99)`)            // a creation number out of turn
	create("d")
	exec(`DELETE FROM alphas WHERE id = 'd'`)
	create("d")
	exec(`INSERT INTO alphas (id, version) VALUES ('e', 7)`) // a version past any: kept

	// (key, creation number, version) of the table's rows; (key, op,
	// version) of the logged creates.
	require.Equal(t, [][3]any{{"a", int64(1), int64(1)}, {"b", int64(3), int64(3)}, {"c", int64(4), int64(1)}, {"d", int64(6), int64(3)}, {"e", int64(7), int64(7)}},
		queryTriples(t, db, `SELECT id, ssotws_seq, version FROM alphas ORDER BY ssotws_seq`))
	require.Equal(t, [][3]any{{"a", int64(1), int64(1)}, {"b", int64(1), int64(1)}, {"b", int64(1), int64(3)}, {"c", int64(1), int64(1)}, {"d", int64(1), int64(1)}, {"d", int64(1), int64(3)}, {"e", int64(1), int64(7)}},
		queryTriples(t, db, `SELECT key, op, version FROM ssotws_changes WHERE op = 1 ORDER BY seq`))
}

// queryTriples returns the rows of a query of three columns.
func queryTriples(t *testing.T, db *sql.DB, q string) [][3]any {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err)
	defer rows.Close()
	var out [][3]any
	for rows.Next() {
		var r [3]any
		require.NoError(t, rows.Scan(&r[0], &r[1], &r[2]))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}
