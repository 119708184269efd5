package pgstore

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlrelay"
	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlstore"

	"github.com/jackc/pgx/v5"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// RelayOptions tunes a [Relay]. The zero value (or nil) is the default.
type RelayOptions struct {
	// PollInterval is how often the relay looks for changes when no
	// notification came (a lost connection, a writer in another
	// database session that the notification missed). Zero means 1 s.
	PollInterval time.Duration
	// BatchSize bounds the changes published at once. Zero means 256.
	BatchSize int
	// Logger reports changes that cannot be published and publish
	// failures.
	Logger *slog.Logger
}

// keepChanges is how many published changes the log keeps.
const keepChanges = 100_000

// Relay publishes the change log of a [TableStore]'s schema to a
// publisher: the changes committed and not yet published, in the order
// they were logged, marking each batch published in the transaction that
// read it. It wakes on the triggers' NOTIFY and polls as a fallback. Of
// several relays on one schema (several nodes), one publishes at a time
// (an advisory lock per batch), so with several nodes give them one
// shared broker (NATS). It is an [ssotws.ChangeRelay].
type Relay struct {
	s   *TableStore
	pub ssotws.Publisher
	o   RelayOptions
	run *sqlrelay.Runner

	rounds sqlrelay.Progress // batches completed with nothing left before them
}

// StartRelay starts publishing the schema's change log to pub. Stop it
// with [Relay.Close] before closing the store. opts may be nil.
func (s *TableStore) StartRelay(ctx context.Context, pub ssotws.Publisher, opts *RelayOptions) (*Relay, error) {
	o := sqlstore.Options(opts)
	o.PollInterval = sqlstore.OrDefault(o.PollInterval, time.Second)
	o.BatchSize = sqlstore.OrDefault(o.BatchSize, 256)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Relay{s: s, pub: pub, o: o, run: sqlrelay.NewRunner(&s.tables.Wakers)}
	listening := make(chan struct{})
	go r.listen(r.run.Context(), listening)
	select {
	case <-listening:
	case <-ctx.Done():
		r.run.Close()
		return nil, ctx.Err()
	}
	r.run.Start(sqlrelay.Loop{
		Step:   r.step,
		Failed: func(err error) { r.o.Logger.Error("pgstore: relay", "schema", r.s.schema, "err", err) },
		Idle:   r.idle,
		Poll:   r.o.PollInterval,
	}, nil)
	return r, nil
}

// Close stops the relay; what it has not published stays in the log.
func (r *Relay) Close() error {
	r.run.Close()
	return nil
}

// listen wakes the relay on the triggers' notifications for its schema.
func (r *Relay) listen(ctx context.Context, ready chan struct{}) {
	once := sync.OnceFunc(func() { close(ready) })
	defer once()
	for ctx.Err() == nil {
		conn, err := r.s.pool.Acquire(ctx)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{sqlschema.NotifyChannel}.Sanitize())
		}
		if err != nil {
			if conn != nil {
				conn.Release()
			}
			once()
			select {
			case <-ctx.Done():
			case <-time.After(r.o.PollInterval):
			}
			continue
		}
		once()
		r.poke() // anything committed before LISTEN
		for {
			n, err := conn.Conn().WaitForNotification(ctx)
			if err != nil {
				break
			}
			if n.Payload == r.s.schema {
				r.poke()
			}
		}
		conn.Conn().Close(context.Background()) // its LISTEN must not go back to the pool
		conn.Release()
	}
}

func (r *Relay) poke() {
	r.run.Poke()
}

// Sync implements [ssotws.ChangeRelay]: it returns once the changes
// committed before the call are published (a full round of the relay
// started after the call found nothing left).
func (r *Relay) Sync(ctx context.Context) error {
	start, _, _ := r.rounds.Get()
	r.poke()
	for {
		rounds, changed, _ := r.rounds.Get()
		if rounds >= start+2 { // a round that began after the call
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.run.Done():
			return ssotws.ErrBrokerClosed
		case <-changed:
			r.poke()
		}
	}
}

// idle counts a round that left nothing to publish.
func (r *Relay) idle() {
	n, _, _ := r.rounds.Get()
	r.rounds.Advance(n + 1)
}

// step publishes one batch under the schema's relay lock.
func (r *Relay) step(ctx context.Context) (more bool, err error) {
	tx, err := r.s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "ssotws-relay:"+r.s.schema); err != nil {
		return false, err
	}
	rows, err := tx.Query(ctx, `SELECT seq, model, key, op, version, image, prev, coalesce(request_id, ''), time_ms
FROM ssotws_changes WHERE NOT published ORDER BY seq LIMIT $1`, r.o.BatchSize)
	if err != nil {
		return false, err
	}
	var (
		changes []sqlschema.Change
		seqs    []int64
	)
	for rows.Next() {
		var c sqlschema.Change
		var op int16
		if err := rows.Scan(&c.Seq, &c.Model, &c.Key, &op, &c.Version, &c.Image, &c.Prev, &c.RequestID, &c.TimeMs); err != nil {
			rows.Close()
			return false, err
		}
		c.Op = int(op)
		seqs = append(seqs, c.Seq)
		changes = append(changes, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	if len(seqs) == 0 {
		return false, nil
	}
	if err := r.s.tables.Publish(ctx, r.pub, changes, r.o.Logger); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE ssotws_changes SET published = true WHERE seq = ANY($1)`, seqs); err != nil {
		return false, err
	}
	// Published changes are kept for a while (to read what happened),
	// then deleted.
	if _, err := tx.Exec(ctx, `DELETE FROM ssotws_changes WHERE published AND seq <= $1`, seqs[len(seqs)-1]-keepChanges); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, err
	}
	return len(seqs) == r.o.BatchSize, nil
}
