package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlstore"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Options tunes a [TableStore]. The zero value (or a nil *Options) is the
// default.
type Options struct {
	// MaxRequests bounds how many results of writes with a request id are
	// remembered for idempotency, across all models; the oldest beyond it
	// are forgotten. Zero or less means 100,000, as [ssotws.MemoryStore].
	MaxRequests int
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before failing with SQLITE_BUSY. Zero means 5 seconds.
	BusyTimeout time.Duration
	// MaxReadConns bounds the pool of read connections. Zero or less means
	// max(4, GOMAXPROCS).
	MaxReadConns int
	// FullSync makes every commit wait for the disk (PRAGMA synchronous =
	// FULL). By default commits use synchronous = NORMAL, which in WAL mode
	// survives a crash of the process but may lose the last commits on a
	// power failure or an operating-system crash.
	FullSync bool
}

// DefaultMaxRequests is the number of request results remembered for
// idempotency when [Options.MaxRequests] is not set.
const DefaultMaxRequests = ssotws.DefaultMaxRequests

func withDefaults(opts *Options) Options {
	o := sqlstore.Options(opts)
	o.MaxRequests = sqlstore.OrDefault(o.MaxRequests, DefaultMaxRequests)
	o.BusyTimeout = sqlstore.OrDefault(o.BusyTimeout, 5*time.Second)
	o.MaxReadConns = sqlstore.OrDefault(o.MaxReadConns, max(4, runtime.GOMAXPROCS(0)))
	return o
}

// openPools opens the writer (one connection, BEGIN IMMEDIATE
// transactions), runs setup on it, then opens the read-only pool.
func openPools(ctx context.Context, path string, o Options, setup func(context.Context, *sql.DB) error) (w, r *sql.DB, err error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, nil, fmt.Errorf("sqlitestore: path %q is not a file name", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlitestore: %w", err)
	}
	sync := "NORMAL"
	if o.FullSync {
		sync = "FULL"
	}
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", sync)
	q.Set("_txlock", "immediate")
	// The file: URI form escapes any character of the path (a '?' would
	// otherwise start the query).
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive: file:///C:/...
	}
	dsn := (&url.URL{Scheme: "file", Path: p}).String()

	w, err = sql.Open("sqlite", dsn+"?"+q.Encode())
	if err != nil {
		return nil, nil, fmt.Errorf("sqlitestore: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := setup(ctx, w); err != nil {
		w.Close()
		return nil, nil, err
	}

	q.Del("_txlock")
	q.Set("_query_only", "1")
	r, err = sql.Open("sqlite", dsn+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("sqlitestore: %w", err)
	}
	r.SetMaxOpenConns(o.MaxReadConns)
	r.SetMaxIdleConns(o.MaxReadConns)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, nil, fmt.Errorf("sqlitestore: %w", err)
	}
	return w, r, nil
}
