package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ssot-codegen/ssot-ws/internal/crashtest"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
	"github.com/stretchr/testify/require"
)

// The tests run against the PostgreSQL named by $SSOTWS_POSTGRES_URL, or
// else against a throwaway cluster that TestMain starts from the installed
// PostgreSQL binaries (initdb, pg_ctl) in a temporary directory, on a free
// port of 127.0.0.1, and stops at the end. Each store gets a schema of its
// own, dropped at the end of its test.

// installHint is what to do when no PostgreSQL binaries are found.
const installHint = `pgstore tests need PostgreSQL: set SSOTWS_POSTGRES_URL to a database the tests may create schemas in, or install the server binaries (initdb, pg_ctl) with
	./scripts/setup.sh --postgres
(on Debian/Ubuntu: apt-get install -y postgresql)`

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
	cluster, err := startCluster()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: pgstore: cannot start PostgreSQL: %v\n", err)
		return 1
	}
	defer cluster.stop()
	testURL = cluster.url
	return m.Run()
}

// cluster is a throwaway PostgreSQL server.
type cluster struct {
	bin, dir, data, url string
	asUser              []string // the command prefix that runs as postgres
}

// findBin returns the directory of initdb and pg_ctl: Debian's
// /usr/lib/postgresql/N/bin (the newest), or the PATH.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl) found.\n%s", installHint)
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func startCluster() (*cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ssotws-pg-")
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run it as the postgres user
		// (Debian's package creates it), in a directory it owns.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, and there is no postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	if err := c.run("initdb", "-D", c.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
	if err := c.run("pg_ctl", "-D", c.data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "30", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%v\nserver log:\n%s", err, log)
	}
	c.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return c, nil
}

func (c *cluster) run(name string, args ...string) error {
	argv := append(slices.Clone(c.asUser), append([]string{filepath.Join(c.bin, name)}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v\n%s", name, err, out.Bytes())
	}
	return nil
}

func (c *cluster) stop() {
	if err := c.run("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop"); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.RemoveAll(c.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
