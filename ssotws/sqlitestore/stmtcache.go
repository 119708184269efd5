package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// dbtx is what a write's helpers use of its transaction.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmtCache keeps the writer's statements prepared. SQLite compiles a
// statement, with the programs of the triggers it fires, each time it is
// prepared, and database/sql prepares every ExecContext with arguments
// anew: without the cache, preparing was 41 % of a create's CPU. The
// statements are few (a handful per table), so the cache is not bounded.
// It is safe for concurrent use.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool
	closed bool
}

// get returns the prepared statement of query, or nil if it is not
// prepared yet: then it is noted, and [stmtCache.fill] prepares it once
// the writer's connection is free (the writer pool has one connection,
// which the transaction holds).
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[query]
	if !ok {
		if c.wanted == nil {
			c.wanted = map[string]bool{}
		}
		c.wanted[query] = true
	}
	return st
}

// fill prepares the statements get was asked for and did not have. It
// must not be called while a transaction holds the writer's connection,
// and does not hold the cache's lock while it waits for the connection
// (another write's transaction may hold it and call get).
func (c *stmtCache) fill(ctx context.Context) {
	c.mu.Lock()
	wanted := c.wanted
	c.wanted = nil
	c.mu.Unlock()
	for query := range wanted {
		st, err := c.db.PrepareContext(ctx, query)
		if err != nil {
			continue // it runs unprepared, and fails there if it must
		}
		c.mu.Lock()
		if _, ok := c.stmts[query]; ok || c.closed {
			st.Close()
		} else {
			if c.stmts == nil {
				c.stmts = map[string]*sql.Stmt{}
			}
			c.stmts[query] = st
		}
		c.mu.Unlock()
	}
}

// Close closes the prepared statements.
func (c *stmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.stmts {
		errs = append(errs, st.Close())
	}
	c.stmts, c.closed = nil, true
	return errors.Join(errs...)
}

// cachedTx runs a transaction's statements through the cache: each is
// prepared once on the writer's connection and reused by every
// transaction after.
type cachedTx struct {
	tx    *sql.Tx
	cache *stmtCache
}

func (t cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.cache.get(query); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.cache.get(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.cache.get(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}
