package pgstore

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ssot-codegen/ssot-ws/internal/crashtest"
	"github.com/ssot-codegen/ssot-ws/internal/pgtest"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
	"github.com/stretchr/testify/require"
)

// The tests run against the PostgreSQL named by $SSOTWS_POSTGRES_URL, or
// else against a throwaway cluster that TestMain starts from the installed
// PostgreSQL binaries (initdb, pg_ctl) in a temporary directory, on a free
// port of 127.0.0.1, and stops at the end. Each store gets a schema of its
// own, dropped at the end of its test.

// testURL is the database of the tests, set by TestMain.
var testURL string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if code, ok := crashtest.Child(openCrash); ok {
		return code
	}
	if u := os.Getenv("SSOTWS_POSTGRES_URL"); u != "" {
		testURL = u
		return m.Run()
	}
	cluster, err := pgtest.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: pgstore: cannot start PostgreSQL: %v\n", err)
		return 1
	}
	defer cluster.Stop()
	testURL = cluster.URL
	return m.Run()
}

var schemaSeq atomic.Int64

// newSchema returns the name of a schema for one test, dropped when the test
// ends (the store creates it).
func newSchema(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("ssotws_test_%d_%d", os.Getpid(), schemaSeq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testURL)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return name
}

// model is one of storetest.Models, the tables the tests written for the
// single-table layout open.
const model = "test.v1.Alpha"

// thingStore is a store of storetest.Models that takes opaque records
// (storetest.Opaque), as the tests written for the single-table layout
// write them.
type thingStore struct {
	ssotws.Store
	ts *TableStore
}

func (s *thingStore) Close() error   { return s.ts.Close() }
func (s *thingStore) Schema() string { return s.ts.Schema() }

// openStore opens a store of storetest.Models (with a pool of its own, as
// a node would) on schema, closed when the test ends.
func openStore(t testing.TB, schema string, opts *Options) *thingStore {
	t.Helper()
	o := Options{}
	if opts != nil {
		o = *opts
	}
	o.Schema = schema
	s, err := OpenTables(context.Background(), testURL, storetest.Models(), &o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return &thingStore{Store: storetest.Opaque(s), ts: s}
}

// testPool is a pool on the test database, closed when the test ends.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), testURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
