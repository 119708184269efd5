package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1/intkeyv1ssotws"
	"github.com/ssot-codegen/ssot-ws/internal/testkit"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
	"github.com/stretchr/testify/require"
)

// TestExistingTable: a table the team created with plain SQL, with a
// column the proto does not declare and a row, is served by the
// generated service whose model options name it and its columns
// (testkit.DriveExistingTable).
func TestExistingTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "helpdesk.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	plain := testkit.PlainSQL{
		Exec: func(ctx context.Context, q string) error { _, err := db.ExecContext(ctx, q); return err },
		QueryRow: func(ctx context.Context, q string, dest ...any) error {
			return db.QueryRowContext(ctx, q).Scan(dest...)
		},
	}
	testkit.DriveExistingTable(t, plain, sqlschema.SQLite, func(pub ssotws.Publisher) (ssotws.Store, ssotws.ChangeRelay) {
		store := openTables(t, path, []*ssotws.Model{intkeyv1ssotws.TicketModel})
		relay, err := store.StartRelay(context.Background(), pub, nil)
		require.NoError(t, err)
		t.Cleanup(func() { relay.Close() })
		return store, relay
	})
}
