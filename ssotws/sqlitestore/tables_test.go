package sqlitestore_test

import (
	"context"
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
