package pgstore

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
	ctx := context.Background()
	schema := newSchema(t)
	cfg, err := pgxpool.ParseConfig(testURL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	_, err = db.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	plain := testkit.PlainSQL{
		Exec: func(ctx context.Context, q string) error { _, err := db.Exec(ctx, q); return err },
		QueryRow: func(ctx context.Context, q string, dest ...any) error {
			return db.QueryRow(ctx, q).Scan(dest...)
		},
	}
	testkit.DriveExistingTable(t, plain, sqlschema.Postgres, func(pub ssotws.Publisher) (ssotws.Store, ssotws.ChangeRelay) {
		store := openTableStore(t, schema, []*ssotws.Model{intkeyv1ssotws.TicketModel})
		relay, err := store.StartRelay(ctx, pub, nil)
		require.NoError(t, err)
		t.Cleanup(func() { relay.Close() })
		return store, relay
	})
}
