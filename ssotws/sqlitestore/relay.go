package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlrelay"
	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlstore"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// RelayOptions tunes a [Relay]. The zero value (or nil) is the default.
type RelayOptions struct {
	// Name identifies the relay's place in the change log, kept in the
	// database (ssotws_relay), so that a restarted relay goes on where it
	// stopped. Processes that publish to one shared broker (NATS) use one
	// name: the relays of a name take turns, and each change is published
	// by one of them. Processes with a broker each (the in-memory broker)
	// use a name each, so that each publishes every change. Empty means
	// "default". A new
	// name starts after the changes committed before it first ran.
	Name string
	// PollInterval is how often the relay looks for changes that other
	// processes (the sqlite3 shell, another service) committed; this
	// store's own writes wake it at once. Zero means 50 ms.
	PollInterval time.Duration
	// BatchSize bounds the changes read and published at once. Zero
	// means 256.
	BatchSize int
	// MaxChanges bounds the change log: older changes beyond it are
	// deleted once published. Zero means 100,000.
	MaxChanges int64
	// Logger reports changes that cannot be published (a row a writer
	// filled with values its model cannot hold) and publish failures.
	Logger *slog.Logger
}

// Relay publishes the store's change log to a publisher, in commit order,
// and remembers how far it got in the database: a change committed before
// a crash is published after the restart. Start it with
// [TableStore.StartRelay]; it is an [ssotws.ChangeRelay].
type Relay struct {
	s   *TableStore
	pub ssotws.Publisher
	o   RelayOptions
	run *sqlrelay.Runner

	published sqlrelay.Progress // the last seq published; why the relay stopped, if it did

	// beforeMark, when set (by tests), runs after a batch is published and
	// before its place is saved.
	beforeMark func()
}

// StartRelay starts publishing the change log to pub. Stop it with
// [Relay.Close] before closing the store. opts may be nil.
func (s *TableStore) StartRelay(ctx context.Context, pub ssotws.Publisher, opts *RelayOptions) (*Relay, error) {
	o := sqlstore.Options(opts)
	if o.Name == "" {
		o.Name = "default"
	}
	o.PollInterval = sqlstore.OrDefault(o.PollInterval, 50*time.Millisecond)
	o.BatchSize = sqlstore.OrDefault(o.BatchSize, 256)
	o.MaxChanges = sqlstore.OrDefault(o.MaxChanges, 100_000)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// A new relay starts after what is committed now.
	var at int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO ssotws_relay (name, seq)
VALUES (?, (SELECT coalesce(max(seq), 0) FROM ssotws_changes))
ON CONFLICT (name) DO UPDATE SET seq = seq
RETURNING seq`, o.Name).Scan(&at)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: start relay: %w", err)
	}
	r := &Relay{s: s, pub: pub, o: o, run: sqlrelay.NewRunner(&s.tables.Wakers)}
	r.published.Advance(at)
	r.run.Start(sqlrelay.Loop{
		Step:   r.step,
		Failed: func(err error) { r.o.Logger.Error("sqlitestore: relay", "relay", r.o.Name, "err", err) },
		Poll:   r.o.PollInterval,
	}, func() { r.published.Fail(ssotws.ErrBrokerClosed) })
	return r, nil
}

// Close stops the relay. Changes it has not published stay in the log for
// the next relay of its name.
func (r *Relay) Close() error {
	r.run.Close()
	return nil
}

// Sync implements [ssotws.ChangeRelay]: it returns once the changes
// committed before the call are published.
func (r *Relay) Sync(ctx context.Context) error {
	var target int64
	if err := r.s.r.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM ssotws_changes`).Scan(&target); err != nil {
		return fmt.Errorf("sqlitestore: relay: %w", err)
	}
	r.run.Poke()
	for {
		published, changed, err := r.published.Get()
		if published >= target {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// Published returns the sequence number of the last change published.
func (r *Relay) Published() int64 {
	n, _, _ := r.published.Get()
	return n
}

// step publishes one batch; more reports a full batch (there may be more).
//
// Relays of one name share their place in the database, and a batch is
// read, published and its place saved in one write transaction: SQLite
// lets one writer in at a time, so of the relays of a name in every
// process on the file, one publishes a given change (as PostgreSQL's
// relays do under their advisory lock). Writers wait for that publish;
// a relay that finds nothing new takes no write lock.
func (r *Relay) step(ctx context.Context) (more bool, err error) {
	after, _, _ := r.published.Get()
	var saved, last int64
	err = r.s.r.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM ssotws_relay WHERE name = ?), 0),
coalesce((SELECT max(seq) FROM ssotws_changes), 0)`, r.o.Name).Scan(&saved, &last)
	if err != nil {
		return false, err
	}
	if saved > after {
		r.published.Advance(saved) // another relay of this name published them
		after = saved
	}
	if last <= after {
		return false, nil
	}
	tx, err := r.s.w.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM ssotws_relay WHERE name = ?`, r.o.Name).Scan(&after); err != nil {
		return false, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, model, key, op, version, image, prev, coalesce(request_id, ''), time_ms
FROM ssotws_changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, r.o.BatchSize)
	if err != nil {
		return false, err
	}
	var changes []sqlschema.Change
	last = after
	for rows.Next() {
		var (
			c           sqlschema.Change
			image, prev sql.NullString
		)
		if err := rows.Scan(&c.Seq, &c.Model, &c.Key, &c.Op, &c.Version, &image, &prev, &c.RequestID, &c.TimeMs); err != nil {
			rows.Close()
			return false, err
		}
		last = c.Seq
		c.Image = []byte(image.String)
		if prev.Valid {
			c.Prev = []byte(prev.String)
		}
		changes = append(changes, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	n := len(changes)
	if err := r.s.tables.Publish(ctx, r.pub, changes, r.o.Logger); err != nil {
		return false, err
	}
	if r.beforeMark != nil && n > 0 {
		r.beforeMark()
	}
	if n > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE ssotws_relay SET seq = ? WHERE name = ?`, last, r.o.Name); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ssotws_changes WHERE seq <= ?`, last-r.o.MaxChanges); err != nil {
			return false, err
		}
		if err := tx.Commit(); err != nil {
			return false, err
		}
	}
	r.published.Advance(last)
	return n == r.o.BatchSize, nil
}
