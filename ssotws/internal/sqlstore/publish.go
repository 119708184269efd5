package sqlstore

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// Publish publishes to pub, in one call, the events of changes, a batch of
// the change log in its order: none for a model the store does not serve,
// nor for a change its model cannot hold (a row a writer filled with
// values out of range), which is logged.
func (ts *Tables) Publish(ctx context.Context, pub ssotws.Publisher, changes []sqlschema.Change, log *slog.Logger) error {
	var events []*wsv1.Event
	for i := range changes {
		c := &changes[i]
		t, ok := ts.byModel[c.Model]
		if !ok {
			continue
		}
		evs, err := t.Events(c)
		if err != nil {
			log.Error(ts.Name+": relay: change not published", "seq", c.Seq, "model", c.Model, "key", c.Key, "err", err)
			continue
		}
		events = append(events, evs...)
	}
	if len(events) == 0 {
		return nil
	}
	if err := pub.Publish(ctx, events); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}
