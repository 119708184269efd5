package sqlschema

import "strings"

// parentFilter turns a filter on an AIP resource's parent
// ([protocol.ParentScope], which has no column: the parent is derived
// from the name) into a condition on the key column, whose placeholders
// are numbered from first. A child's name starts with its parent's
// collection prefix ("shelves/1/books/"), so the condition is the range
// of names from that prefix to the prefix with its '/' turned into '0',
// in byte order: SQLite's text comparison is bytewise and searches the
// primary key's index; PostgreSQL's follows the database's collation, so
// the range is compared COLLATE "C" and searches the key's C-collated
// index (table.go) (docs/engines.md). ok is false when no record can
// match.
func (t *Table) parentFilter(parent string, first int) (cond string, args []any, ok bool) {
	prefixes := t.model.ChildPrefixes(parent)
	if len(prefixes) == 0 {
		return "", nil, false
	}
	key := "r." + Ident(t.Key.Name)
	if t.Dialect == Postgres {
		key += ` COLLATE "C"`
	}
	var parts []string
	for _, p := range prefixes {
		// '/' + 1 is '0': every name with the prefix sorts below this bound.
		hi := strings.TrimSuffix(p, "/") + "0"
		parts = append(parts, "("+key+" >= "+t.mark(first+len(args))+" AND "+key+" < "+t.mark(first+len(args)+1)+")")
		args = append(args, p, hi)
	}
	if len(parts) == 1 {
		return parts[0], args, true
	}
	return "(" + strings.Join(parts, " OR ") + ")", args, true
}
