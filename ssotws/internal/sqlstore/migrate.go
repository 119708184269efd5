package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// Migrate brings the database to the tables inside tx: the bookkeeping
// tables and trigger functions (core), then each table as reconcile
// decides, with columns as its query (given the table's name).
func (ts *Tables) Migrate(ctx context.Context, tx DB, core, columns string) error {
	if err := tx.Exec(ctx, core); err != nil {
		return fmt.Errorf("%s: create bookkeeping tables: %w", ts.Name, err)
	}
	for _, t := range ts.All {
		ddl, err := ts.reconcile(ctx, tx, t, columns, t.Name)
		if err != nil {
			return err
		}
		if err := tx.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("%s: migrate table %s: %w", ts.Name, t.Name, err)
		}
	}
	return nil
}

// reconcile compares t with the table in the database, whose columns
// query lists (name, type as the catalog names it, primary-key position
// or 0), and returns the statements that bring it there: the whole DDL
// for a missing table; otherwise the missing columns (additive), the
// indexes, the model's bookkeeping row and the triggers. A column of
// another type is an error, never changed.
func (ts *Tables) reconcile(ctx context.Context, tx DB, t *sqlschema.Table, query string, args ...any) (string, error) {
	type column struct {
		typ string
		pk  bool
	}
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return "", fmt.Errorf("%s: open: %w", ts.Name, err)
	}
	have := map[string]column{}
	for rows.Next() {
		var (
			name, typ string
			pk        int64
		)
		if err := rows.Scan(&name, &typ, &pk); err != nil {
			rows.Close()
			return "", fmt.Errorf("%s: open: %w", ts.Name, err)
		}
		have[name] = column{ts.ColumnType(typ), pk > 0}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("%s: open: %w", ts.Name, err)
	}
	if len(have) == 0 {
		return t.CreateTable(), nil
	}
	var (
		b        strings.Builder
		problems []string
	)
	for _, c := range t.Columns {
		h, ok := have[c.Name]
		switch {
		case !ok && c == t.Key:
			problems = append(problems, fmt.Sprintf("the key column %s is missing", c.Name))
		case !ok:
			b.WriteString(t.AddColumn(c))
		case h.typ != ts.ColumnType(c.Type):
			problems = append(problems, fmt.Sprintf("column %s is %s, field %s wants %s", c.Name, h.typ, c.Field.FullName(), c.Type))
		case ts.KeyIsPrimary && c == t.Key && !h.pk:
			problems = append(problems, fmt.Sprintf("the key column %s is not the primary key", c.Name))
		}
	}
	var missing []string
	for _, name := range []string{t.Version, sqlschema.SeqColumn} {
		h, ok := have[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case h.typ != ts.Integer:
			problems = append(problems, fmt.Sprintf("column %s is %s, not %s", name, h.typ, ts.Integer))
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("%s: table %q does not match model %s: %s; migrate it (the migration files the plugin writes) before opening the store",
			ts.Name, t.Name, t.Model, strings.Join(problems, "; "))
	}
	b.WriteString(t.AddBookkeeping(missing...))
	b.WriteString(t.CreateIndexes())
	fmt.Fprintf(&b, "INSERT INTO ssotws_models (name) VALUES (%s) ON CONFLICT (name) DO NOTHING;\n", sqlschema.Literal(t.Model))
	b.WriteString(t.CreateTriggers())
	return b.String(), nil
}
