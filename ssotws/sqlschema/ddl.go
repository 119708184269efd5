package sqlschema

import (
	"fmt"
	"slices"
	"strings"
)

// Operation codes of change-log rows.
const (
	OpInsert = 1
	OpUpdate = 2
	OpDelete = 3
)

// NotifyChannel is the PostgreSQL LISTEN/NOTIFY channel the change-log
// trigger notifies on; the payload is the schema's name.
const NotifyChannel = "ssotws_changes"

// Ident quotes a SQL identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Literal quotes a SQL string literal.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Core is the DDL of the store-wide bookkeeping tables (and, on
// PostgreSQL, the trigger functions) that model tables' triggers write to.
// Every statement may run again.
//
//   - ssotws_models: per model, NextSequence's counter (key_seq) and the
//     creation counter that orders List (create_seq).
//   - ssotws_tombstones: the last state and version of deleted records,
//     so that a re-created key's version goes on growing.
//   - ssotws_changes: the change log (outbox), one row per written row,
//     in the writing transaction; the relay publishes it in order.
//   - ssotws_requests: remembered results of writes with a request id.
func Core(d Dialect) string {
	if d == Postgres {
		return pgCore
	}
	return sqliteCore
}

const sqliteCore = `CREATE TABLE IF NOT EXISTS ssotws_models (
	name       TEXT PRIMARY KEY,
	key_seq    INTEGER NOT NULL DEFAULT 0,
	create_seq INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS ssotws_tombstones (
	model   TEXT NOT NULL,
	key     TEXT NOT NULL,
	version INTEGER NOT NULL,
	image   TEXT NOT NULL,
	PRIMARY KEY (model, key)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ssotws_changes (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	model      TEXT NOT NULL,
	key        TEXT NOT NULL,
	op         INTEGER NOT NULL,
	version    INTEGER NOT NULL,
	image      TEXT NOT NULL,
	prev       TEXT,
	request_id TEXT,
	time_ms    INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS ssotws_relay (
	name TEXT PRIMARY KEY,
	seq  INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS ssotws_requests (
	seq          INTEGER PRIMARY KEY,
	model        TEXT NOT NULL,
	request_id   TEXT NOT NULL,
	kind         INTEGER NOT NULL,
	key          TEXT NOT NULL,
	version      INTEGER NOT NULL,
	deleted      INTEGER NOT NULL,
	data         BLOB,
	fields       TEXT,
	prev_version INTEGER,
	prev_deleted INTEGER,
	prev_data    BLOB,
	prev_fields  TEXT
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS ssotws_requests_model_request ON ssotws_requests (model, request_id);
`

const pgCore = `CREATE TABLE IF NOT EXISTS ssotws_models (
	name       text PRIMARY KEY,
	key_seq    bigint NOT NULL DEFAULT 0,
	create_seq bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ssotws_tombstones (
	model   text NOT NULL,
	key     text NOT NULL,
	version bigint NOT NULL,
	image   jsonb NOT NULL,
	PRIMARY KEY (model, key)
);
CREATE TABLE IF NOT EXISTS ssotws_changes (
	seq        bigserial PRIMARY KEY,
	xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
	model      text NOT NULL,
	key        text NOT NULL,
	op         smallint NOT NULL,
	version    bigint NOT NULL,
	image      jsonb NOT NULL,
	prev       jsonb,
	request_id text,
	time_ms    bigint NOT NULL,
	published  boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS ssotws_changes_unpublished ON ssotws_changes (seq) WHERE NOT published;
CREATE TABLE IF NOT EXISTS ssotws_requests (
	model             text NOT NULL,
	request_hash      bytea NOT NULL,
	seq               bigint,
	kind              smallint,
	key               text,
	version           bigint,
	deleted           boolean,
	data              bytea,
	field_names       text[],
	field_values      text[],
	prev_version      bigint,
	prev_deleted      boolean,
	prev_data         bytea,
	prev_field_names  text[],
	prev_field_values text[],
	PRIMARY KEY (model, request_hash)
);
CREATE SEQUENCE IF NOT EXISTS ssotws_requests_seq;
CREATE INDEX IF NOT EXISTS ssotws_requests_seq_idx ON ssotws_requests (seq);
-- ssotws_before gives a written row its version (the writer's if it grows,
-- else one more than the row's or the tombstone's) and, on insert, the
-- model's next creation number. Arguments: model, key column, version
-- column.
CREATE OR REPLACE FUNCTION ssotws_before() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
	vcol  text := TG_ARGV[2];
	newv  bigint := coalesce((to_jsonb(NEW)->>vcol)::bigint, 0);
	base  bigint;
	cseq  bigint;
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT t.version INTO base FROM ssotws_tombstones t
		WHERE t.model = TG_ARGV[0] AND t.key = to_jsonb(NEW)->>TG_ARGV[1];
		INSERT INTO ssotws_models AS m (name, create_seq) VALUES (TG_ARGV[0], 1)
		ON CONFLICT (name) DO UPDATE SET create_seq = m.create_seq + 1
		RETURNING m.create_seq INTO cseq;
	ELSE
		base := (to_jsonb(OLD)->>vcol)::bigint;
		cseq := OLD.ssotws_seq;
	END IF;
	NEW := jsonb_populate_record(NEW, jsonb_build_object(vcol, greatest(newv, coalesce(base, 0) + 1)));
	NEW.ssotws_seq := cseq;
	RETURN NEW;
END $$;
-- ssotws_after writes the change log (and tombstones) in the writing
-- transaction and wakes the relays. Arguments: model, key column,
-- version column.
CREATE OR REPLACE FUNCTION ssotws_after() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
	v_model text := TG_ARGV[0];
	kcol  text := TG_ARGV[1];
	vcol  text := TG_ARGV[2];
	rid   text := nullif(current_setting('ssotws.request_id', true), '');
	v_now  bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
	img   jsonb;
	oimg  jsonb;
	moved boolean := false;
BEGIN
	IF TG_OP <> 'INSERT' THEN oimg := to_jsonb(OLD); END IF;
	IF TG_OP <> 'DELETE' THEN img := to_jsonb(NEW); END IF;
	IF TG_OP = 'UPDATE' THEN moved := (oimg->>kcol) IS DISTINCT FROM (img->>kcol); END IF;
	IF TG_OP = 'DELETE' OR moved THEN
		INSERT INTO ssotws_tombstones AS t (model, key, version, image)
		VALUES (v_model, oimg->>kcol, (oimg->>vcol)::bigint + 1, oimg)
		ON CONFLICT (model, key) DO UPDATE SET version = EXCLUDED.version, image = EXCLUDED.image;
		INSERT INTO ssotws_changes (model, key, op, version, image, request_id, time_ms)
		VALUES (v_model, oimg->>kcol, 3, (oimg->>vcol)::bigint + 1, oimg, rid, v_now);
	END IF;
	IF TG_OP = 'INSERT' OR moved THEN
		DELETE FROM ssotws_tombstones t WHERE t.model = TG_ARGV[0] AND t.key = img->>kcol;
		INSERT INTO ssotws_changes (model, key, op, version, image, request_id, time_ms)
		VALUES (v_model, img->>kcol, 1, (img->>vcol)::bigint, img, rid, v_now);
	ELSIF TG_OP = 'UPDATE' THEN
		INSERT INTO ssotws_changes (model, key, op, version, image, prev, request_id, time_ms)
		VALUES (v_model, img->>kcol, 2, (img->>vcol)::bigint, img, oimg, rid, v_now);
	END IF;
	PERFORM pg_notify('` + NotifyChannel + `', current_schema());
	RETURN NULL;
END $$;
`

// CreateTable is the DDL that creates t: the table, its indexes, its
// triggers and its row in ssotws_models. It expects [Core] to have run.
func (t *Table) CreateTable() string {
	var b strings.Builder
	t.writeCreate(&b, "CREATE TABLE", true)
	b.WriteString(t.CreateIndexes())
	fmt.Fprintf(&b, "INSERT INTO ssotws_models (name) VALUES (%s) ON CONFLICT (name) DO NOTHING;\n", Literal(t.Model))
	b.WriteString(t.CreateTriggers())
	return b.String()
}

// AdoptTable is the DDL that makes t, a table the team may already have
// (its model's table option names it), a table of the store: the table
// with the declared columns if it does not exist, then what the store
// adds to it ([Table.AddBookkeeping]: the version and creation-order
// columns, existing rows numbered), its indexes, its row in
// ssotws_models and its triggers. Columns the model does not declare are
// left alone. The declared columns are expected to be there: opening a
// store adds a missing one and refuses a table whose declared columns
// have other types, naming them.
func (t *Table) AdoptTable() string {
	var b strings.Builder
	t.writeCreate(&b, "CREATE TABLE IF NOT EXISTS", false)
	b.WriteString(t.AddBookkeeping(t.Version, SeqColumn))
	b.WriteString(t.CreateIndexes())
	b.WriteString(t.CreateTriggers())
	return b.String()
}

// writeCreate writes the CREATE TABLE statement of t, with the
// bookkeeping columns or without.
func (t *Table) writeCreate(b *strings.Builder, create string, bookkeeping bool) {
	fmt.Fprintf(b, "%s %s (\n", create, Ident(t.Name))
	defs := make([]string, 0, len(t.Columns)+2)
	for _, c := range t.Columns {
		defs = append(defs, t.columnDef(c))
	}
	if bookkeeping {
		for _, name := range []string{t.Version, SeqColumn} {
			defs = append(defs, fmt.Sprintf("%s %s NOT NULL DEFAULT 0", Ident(name), t.intType()))
		}
	}
	b.WriteString("\t" + strings.Join(defs, ",\n\t") + "\n)")
	if t.Dialect == SQLite {
		b.WriteString(" STRICT")
	}
	b.WriteString(";\n")
}

// CreateIndexes creates the table's indexes if they do not exist.
func (t *Table) CreateIndexes() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE INDEX IF NOT EXISTS %s ON %s (%s);\n", Ident(t.Name+"_"+SeqColumn+"_idx"), Ident(t.Name), Ident(SeqColumn))
	for _, ix := range t.Indexes {
		cols := make([]string, len(ix.Columns))
		for i, c := range ix.Columns {
			cols[i] = Ident(c)
			if ix.Collate != "" {
				cols[i] += " COLLATE " + Ident(ix.Collate)
			}
		}
		fmt.Fprintf(&b, "CREATE INDEX IF NOT EXISTS %s ON %s (%s);\n", Ident(ix.Name), Ident(t.Name), strings.Join(cols, ", "))
	}
	return b.String()
}

// AddColumn is the DDL that adds c to an existing table.
func (t *Table) AddColumn(c *Column) string {
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s;\n", Ident(t.Name), t.columnDef(c))
}

// AddBookkeeping adds the version and creation-order columns named in
// missing to a table that lacks them (a table the team already had), and
// registers the model. The rows already there get version 1 and, when
// the creation-order column is new, creation numbers in key order (the
// model's counter goes on from the last), so that Lists find them.
func (t *Table) AddBookkeeping(missing ...string) string {
	if len(missing) == 0 {
		return ""
	}
	var b strings.Builder
	tbl, key, seq := Ident(t.Name), Ident(t.Key.Name), Ident(SeqColumn)
	for _, column := range missing {
		fmt.Fprintf(&b, "ALTER TABLE %s ADD COLUMN %s %s NOT NULL DEFAULT 0;\n", tbl, Ident(column), t.intType())
	}
	fmt.Fprintf(&b, "INSERT INTO ssotws_models (name) VALUES (%s) ON CONFLICT (name) DO NOTHING;\n", Literal(t.Model))
	if slices.Contains(missing, t.Version) {
		fmt.Fprintf(&b, "UPDATE %s SET %s = 1 WHERE %[2]s = 0;\n", tbl, Ident(t.Version))
	}
	if slices.Contains(missing, SeqColumn) {
		fmt.Fprintf(&b, `UPDATE %[1]s SET %[3]s = n.seq + (SELECT create_seq FROM ssotws_models WHERE name = %[4]s)
FROM (SELECT %[2]s AS k, row_number() OVER (ORDER BY %[2]s) AS seq FROM %[1]s) AS n WHERE %[1]s.%[2]s = n.k;
UPDATE ssotws_models SET create_seq = (SELECT coalesce(max(%[3]s), 0) FROM %[1]s) WHERE name = %[4]s;
`, tbl, key, seq, Literal(t.Model))
	}
	return b.String()
}

func (t *Table) intType() string {
	if t.Dialect == Postgres {
		return "bigint"
	}
	return "INTEGER"
}

func (t *Table) columnDef(c *Column) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", Ident(c.Name), c.Type)
	if c == t.Key {
		b.WriteString(" NOT NULL PRIMARY KEY")
		return b.String()
	}
	if !c.Nullable {
		b.WriteString(" NOT NULL")
	}
	if c.Default != "" {
		b.WriteString(" DEFAULT " + c.Default)
	}
	if t.Dialect == SQLite && c.Encoding == EncBool {
		fmt.Fprintf(&b, " CHECK (%s IN (0, 1))", Ident(c.Name))
	}
	return b.String()
}

// CreateTriggers (re)creates the triggers that give every write of the
// table a version, a creation number, a tombstone when it deletes, and a
// change-log row, in the writing transaction, whoever the writer is.
func (t *Table) CreateTriggers() string {
	if t.Dialect == Postgres {
		return t.pgTriggers()
	}
	return t.sqliteTriggers()
}

func (t *Table) pgTriggers() string {
	args := fmt.Sprintf("%s, %s, %s", Literal(t.Model), Literal(t.Key.Name), Literal(t.Version))
	tbl := Ident(t.Name)
	return fmt.Sprintf(`DROP TRIGGER IF EXISTS %[1]s ON %[3]s;
CREATE TRIGGER %[1]s BEFORE INSERT OR UPDATE ON %[3]s FOR EACH ROW EXECUTE FUNCTION ssotws_before(%[4]s);
DROP TRIGGER IF EXISTS %[2]s ON %[3]s;
CREATE TRIGGER %[2]s AFTER INSERT OR UPDATE OR DELETE ON %[3]s FOR EACH ROW EXECUTE FUNCTION ssotws_after(%[4]s);
`, Ident(t.Name+"_ssotws_before"), Ident(t.Name+"_ssotws_after"), tbl, args)
}

// sqliteNow is the time in Unix milliseconds, in SQL.
const sqliteNow = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

func (t *Table) sqliteTriggers() string {
	tbl, model := Ident(t.Name), Literal(t.Model)
	key, ver, seq := Ident(t.Key.Name), Ident(t.Version), Ident(SeqColumn)
	keyText := func(row string) string { return "CAST(" + row + "." + key + " AS TEXT)" }
	var b strings.Builder
	for _, op := range []string{"insert", "update", "delete"} {
		fmt.Fprintf(&b, "DROP TRIGGER IF EXISTS %s;\n", Ident(t.Name+"_ssotws_"+op))
	}
	// Insert: the model's next creation number, a version past the
	// tombstone's (the writer's if larger), the tombstone gone, a change.
	// A row inserted with both (the store's, see InsertSQL) is not
	// written again.
	fmt.Fprintf(&b, `CREATE TRIGGER %[1]s AFTER INSERT ON %[2]s BEGIN
	INSERT INTO ssotws_models (name, create_seq) VALUES (%[3]s, 1)
	ON CONFLICT (name) DO UPDATE SET create_seq = create_seq + 1;
	UPDATE %[2]s SET
		%[6]s = (SELECT create_seq FROM ssotws_models WHERE name = %[3]s),
		%[5]s = max(NEW.%[5]s, coalesce((SELECT version FROM ssotws_tombstones WHERE model = %[3]s AND key = %[7]s), 0) + 1)
	WHERE %[4]s = NEW.%[4]s AND (NEW.%[6]s IS NOT (SELECT create_seq FROM ssotws_models WHERE name = %[3]s)
		OR NEW.%[5]s <= coalesce((SELECT version FROM ssotws_tombstones WHERE model = %[3]s AND key = %[7]s), 0));
	DELETE FROM ssotws_tombstones WHERE model = %[3]s AND key = %[7]s;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT %[3]s, %[8]s, 1, r.%[5]s, %[9]s, %[10]s FROM %[2]s r WHERE r.%[4]s = NEW.%[4]s;
END;
`, Ident(t.Name+"_ssotws_insert"), tbl, model, key, ver, seq, keyText("NEW"), keyText("r"), t.sqliteImage("r"), sqliteNow)
	// Update (not the insert trigger's own): a version that grows, a
	// change with the row before; a changed key is a delete and a create.
	fmt.Fprintf(&b, `CREATE TRIGGER %[1]s AFTER UPDATE ON %[2]s WHEN OLD.%[6]s = NEW.%[6]s BEGIN
	UPDATE %[2]s SET %[5]s = max(NEW.%[5]s, OLD.%[5]s + 1) WHERE %[4]s = NEW.%[4]s AND %[5]s <> max(NEW.%[5]s, OLD.%[5]s + 1);
	INSERT INTO ssotws_tombstones (model, key, version, image)
	SELECT %[3]s, %[7]s, OLD.%[5]s + 1, %[8]s WHERE OLD.%[4]s IS NOT NEW.%[4]s
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT %[3]s, %[7]s, 3, OLD.%[5]s + 1, %[8]s, %[11]s WHERE OLD.%[4]s IS NOT NEW.%[4]s;
	INSERT INTO ssotws_changes (model, key, op, version, image, prev, time_ms)
	SELECT %[3]s, %[9]s, CASE WHEN OLD.%[4]s IS NOT NEW.%[4]s THEN 1 ELSE 2 END, r.%[5]s, %[10]s,
		CASE WHEN OLD.%[4]s IS NOT NEW.%[4]s THEN NULL ELSE %[8]s END, %[11]s
	FROM %[2]s r WHERE r.%[4]s = NEW.%[4]s;
END;
`, Ident(t.Name+"_ssotws_update"), tbl, model, key, ver, seq, keyText("OLD"), t.sqliteImage("OLD"), keyText("r"), t.sqliteImage("r"), sqliteNow)
	// Delete: a tombstone one version on, holding the last state, and a
	// change.
	fmt.Fprintf(&b, `CREATE TRIGGER %[1]s AFTER DELETE ON %[2]s BEGIN
	INSERT INTO ssotws_tombstones (model, key, version, image) VALUES (%[3]s, %[4]s, OLD.%[5]s + 1, %[6]s)
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms) VALUES (%[3]s, %[4]s, 3, OLD.%[5]s + 1, %[6]s, %[7]s);
END;
`, Ident(t.Name+"_ssotws_delete"), tbl, model, keyText("OLD"), ver, t.sqliteImage("OLD"), sqliteNow)
	return b.String()
}

// sqliteImage is the SQLite expression of the JSON image of row (a table
// alias, NEW or OLD): an object of the field columns. Blobs are in hex;
// JSON columns are strings holding their JSON text.
func (t *Table) sqliteImage(row string) string {
	parts := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		v := row + "." + Ident(c.Name)
		if c.Encoding == EncBytes {
			v = "CASE WHEN " + v + " IS NULL THEN NULL ELSE hex(" + v + ") END"
		}
		parts = append(parts, Literal(c.Name)+", "+v)
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}

// SelectImage is the expression a SELECT uses to read the JSON image of
// the row aliased row, in the form [Table.Decode] reads.
func (t *Table) SelectImage(row string) string {
	if t.Dialect == Postgres {
		return "to_jsonb(" + row + ")"
	}
	return t.sqliteImage(row)
}
