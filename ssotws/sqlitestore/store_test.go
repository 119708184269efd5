package sqlitestore_test

import (
	"context"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
	"github.com/stretchr/testify/require"
)

// model is one of storetest.Models, the tables the tests below open.
const model = "test.v1.Alpha"

// thingStore is a store of storetest.Models that takes opaque records
// (storetest.Opaque), as the tests written for the single-table layout
// write them.
type thingStore struct {
	ssotws.Store
	ts *sqlitestore.TableStore
}

func (s *thingStore) Close() error { return s.ts.Close() }

func open(t testing.TB, path string, opts *sqlitestore.Options) *thingStore {
	t.Helper()
	s, err := sqlitestore.OpenTables(context.Background(), path, storetest.Models(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return &thingStore{Store: storetest.Opaque(s), ts: s}
}
