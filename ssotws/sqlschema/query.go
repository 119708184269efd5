package sqlschema

import (
	"fmt"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
)

// filterable reports whether a filter on c can match: the field has a
// text form that filters compare (see [protocol.Model.FieldValues]).
func filterable(c *Column) bool {
	switch c.Encoding {
	case EncJSON, EncBytes, EncFloat, EncTimestamp:
		return false
	}
	return true
}

// Filter turns equality filters into a condition on t's columns (the row
// aliased r) whose placeholders are numbered from first. ok is false when
// no record can match (a non-empty value for a field that has none, or a
// value that is not the canonical text form of the field's type). A
// filter on "" matches an empty or missing field, as the memory store's Match does.
func (t *Table) Filter(filters []protocol.Filter, first int) (cond string, args []any, ok bool) {
	var parts []string
	for _, f := range filters {
		if f.Field == protocol.ParentScope && f.Value != "" && t.model != nil && t.model.HasParent() {
			cond, a, ok := t.parentFilter(f.Value, first+len(args))
			if !ok {
				return "", nil, false
			}
			parts, args = append(parts, cond), append(args, a...)
			continue
		}
		c := t.Column(f.Field)
		if c == nil || !filterable(c) {
			if f.Value == "" {
				continue // as Match: a missing field is empty
			}
			return "", nil, false
		}
		v, err := protocol.ParseValue(c.Field, f.Value)
		if err != nil || protocol.FormatValue(c.Field, v) != f.Value {
			return "", nil, false
		}
		col := "r." + Ident(c.Name)
		mark := t.mark(first + len(args))
		if c.Nullable && f.Value == protocol.FormatValue(c.Field, c.Field.Default()) {
			parts = append(parts, "("+col+" = "+mark+" OR "+col+" IS NULL)")
		} else {
			parts = append(parts, col+" = "+mark)
		}
		args = append(args, t.Arg(c, v))
	}
	return strings.Join(parts, " AND "), args, true
}

// ListQuery is a List of t: the live rows after the creation number after
// that match filters, in creation order, at most limit, each as (creation
// number, key as text, version, image). ok is false when no record can
// match.
func (t *Table) ListQuery(filters []protocol.Filter, after int64, limit int) (query string, args []any, ok bool) {
	cond, args, ok := t.Filter(filters, 2)
	if !ok {
		return "", nil, false
	}
	seq := "r." + Ident(SeqColumn)
	where := seq + " > " + t.mark(1)
	if cond != "" {
		where += " AND " + cond
	}
	key := "CAST(r." + Ident(t.Key.Name) + " AS TEXT)"
	query = fmt.Sprintf(`SELECT %s, %s, r.%s, %s FROM %s r WHERE %s ORDER BY %s LIMIT %s`,
		seq, key, Ident(t.Version), t.SelectImage("r"), Ident(t.Name), where, seq, t.mark(len(args)+2))
	return query, append(append([]any{after}, args...), limit), true
}

// GetSQL reads the live row of a key (the argument, from [Table.KeyArg])
// as (version, image).
func (t *Table) GetSQL() string {
	return fmt.Sprintf(`SELECT r.%s, %s FROM %s r WHERE r.%s = %s`,
		Ident(t.Version), t.SelectImage("r"), Ident(t.Name), Ident(t.Key.Name), t.mark(1))
}

// Rows is what the drivers' result sets (database/sql, pgx) both offer.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}
