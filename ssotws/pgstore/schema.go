package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SchemaVersion is the version of the tables that this build creates and
// expects, kept in the ssotws_schema_version table. Open refuses a schema
// with a newer version and migrates an older one.
const SchemaVersion = 1

// schemaV1 is version 1 of the tables; {{s}} stands for the quoted schema
// name and a dot.
//
//   - ssotws_models holds each model's creation counter, which orders List.
//     A create takes it with a row lock held to its commit, so creation
//     order is commit order (see doc.go).
//   - ssotws_sequences holds each model's NextSequence counter (a row apart
//     from ssotws_models, so that NextSequence does not queue behind
//     creates).
//   - ssotws_records holds one row per (model, key), live or tombstone; id is
//     the creation order within the model. Keys are client data, so they
//     are bytea (text cannot hold NUL) and unique through their SHA-256
//     (a B-tree entry is limited to about 2.7 kB, a key is not).
//   - ssotws_record_fields holds the non-empty field values of live records,
//     for equality filters, indexed by (model, name, hash of value, id).
//   - ssotws_requests remembers the results of writes with a request id; seq
//     is taken when the write is done, and pruning deletes the rows at or
//     below the newest seq minus the bound.
const schemaV1 = `
CREATE TABLE {{s}}ssotws_models (
	name       text PRIMARY KEY,
	create_seq bigint NOT NULL
);
CREATE TABLE {{s}}ssotws_sequences (
	model text PRIMARY KEY,
	value bigint NOT NULL
);
CREATE TABLE {{s}}ssotws_records (
	model        text NOT NULL,
	id           bigint NOT NULL,
	key_hash     bytea NOT NULL,
	key          bytea NOT NULL,
	version      bigint NOT NULL,
	deleted      boolean NOT NULL,
	data         bytea,
	field_names  text[],
	field_values bytea[],
	PRIMARY KEY (model, id)
);
CREATE UNIQUE INDEX ssotws_records_key ON {{s}}ssotws_records (model, key_hash);
CREATE INDEX ssotws_records_live ON {{s}}ssotws_records (model, id) WHERE NOT deleted;
CREATE TABLE {{s}}ssotws_record_fields (
	model     text NOT NULL,
	record_id bigint NOT NULL,
	name      text NOT NULL,
	hash      bigint NOT NULL,
	value     bytea NOT NULL,
	PRIMARY KEY (model, record_id, name)
);
CREATE INDEX ssotws_record_fields_filter ON {{s}}ssotws_record_fields (model, name, hash, record_id);
CREATE SEQUENCE {{s}}ssotws_requests_seq;
CREATE TABLE {{s}}ssotws_requests (
	model             text NOT NULL,
	request_hash      bytea NOT NULL,
	seq               bigint,
	kind              smallint,
	key               bytea,
	version           bigint,
	deleted           boolean,
	data              bytea,
	field_names       text[],
	field_values      bytea[],
	prev_version      bigint,
	prev_deleted      boolean,
	prev_data         bytea,
	prev_field_names  text[],
	prev_field_values bytea[],
	PRIMARY KEY (model, request_hash)
);
CREATE INDEX ssotws_requests_seq_idx ON {{s}}ssotws_requests (seq);
`

// migrations[v] brings a schema at version v to v+1; migrations[0] creates
// it. Later versions append steps.
var migrations = []string{schemaV1}

// migrate creates the tables or brings them to [SchemaVersion], in one
// transaction under an advisory lock, so that nodes opening the same
// database at once do it once.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "ssotws-schema:"+schema); err != nil {
		return fmt.Errorf("pgstore: open: lock: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	qs := pgx.Identifier{schema}.Sanitize()
	if !exists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+qs); err != nil {
			return fmt.Errorf("pgstore: create schema %s: %w", qs, err)
		}
	}
	versionTable := qs + ".ssotws_schema_version"
	var v int
	var reg *string
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1)::text`, versionTable).Scan(&reg); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	if reg == nil {
		if _, err := tx.Exec(ctx, "CREATE TABLE "+versionTable+" (version integer NOT NULL)"); err != nil {
			return fmt.Errorf("pgstore: open: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+versionTable+" (version) VALUES (0)"); err != nil {
			return fmt.Errorf("pgstore: open: %w", err)
		}
	} else if err := tx.QueryRow(ctx, "SELECT version FROM "+versionTable).Scan(&v); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pgstore: open: %s is empty", versionTable)
		}
		return fmt.Errorf("pgstore: open: %w", err)
	}
	switch {
	case v == SchemaVersion:
		return nil
	case v > SchemaVersion:
		return fmt.Errorf("pgstore: the schema %s is at version %d, newer than this build's %d", qs, v, SchemaVersion)
	}
	for ; v < SchemaVersion; v++ {
		if _, err := tx.Exec(ctx, qualify(migrations[v], schema)); err != nil {
			return fmt.Errorf("pgstore: migrate %s to version %d: %w", qs, v+1, err)
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE "+versionTable+" SET version = $1", SchemaVersion); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate %s: %w", qs, err)
	}
	return nil
}

// qualify replaces {{s}} with the quoted schema name and a dot, and {{seq}}
// with the requests sequence's name as a string literal (for nextval).
func qualify(sql, schema string) string {
	qs := pgx.Identifier{schema}.Sanitize()
	seq := qs + ".ssotws_requests_seq"
	return strings.NewReplacer(
		"{{s}}", qs+".",
		"{{seq}}", "'"+strings.ReplaceAll(seq, "'", "''")+"'",
	).Replace(sql)
}
