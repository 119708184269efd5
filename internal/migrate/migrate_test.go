package migrate_test

import (
	"context"
	"database/sql"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/migrate"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden migrations")

const header = `syntax = "proto3";
package chat.v1;
import "ssot/ws/v1/options.proto";
import "google/protobuf/timestamp.proto";
enum Kind {
  KIND_UNSPECIFIED = 0;
  KIND_TEXT = 1;
}
`

// v1 has a field of every kind a column can hold.
const v1 = header + `message Room {
  option (ssot.ws.v1.model) = { realtime: true };
  string id = 1;
  string title = 2;
  int64 version = 3;
}
message Message {
  option (ssot.ws.v1.model) = { realtime: true scopes: ["room_id"] owner: "author" };
  string id = 1;
  string room_id = 2;
  string author = 3;
  string text = 4;
  int64 version = 5;
  google.protobuf.Timestamp sent_at = 6;
  bool pinned = 7;
  repeated string tags = 8;
  bytes blob = 9;
  optional int32 priority = 10;
  Kind kind = 11;
  map<string, string> meta = 12;
  double score = 13;
  uint64 big = 14;
}
`

// v2 adds a field, an owner (a column and an index), a model and a List
// that filters by the new field (an index).
const v2 = header + `message Room {
  option (ssot.ws.v1.model) = { realtime: true owner: "owner" };
  string id = 1;
  string title = 2;
  int64 version = 3;
  string owner = 4;
}
message Message {
  option (ssot.ws.v1.model) = { realtime: true scopes: ["room_id"] owner: "author" };
  string id = 1;
  string room_id = 2;
  string author = 3;
  string text = 4;
  int64 version = 5;
  google.protobuf.Timestamp sent_at = 6;
  bool pinned = 7;
  repeated string tags = 8;
  bytes blob = 9;
  optional int32 priority = 10;
  Kind kind = 11;
  map<string, string> meta = 12;
  double score = 13;
  uint64 big = 14;
  string edited_by = 15;
}
message Reaction {
  option (ssot.ws.v1.model) = { realtime: true scopes: ["message_id"] };
  string id = 1;
  string message_id = 2;
  string emoji = 3;
}
// ListMessages filters by edited_by (the field option says so): an index on it.
service ChatService {
  rpc ListMessages(ListMessagesRequest) returns (ListMessagesResponse);
}
message ListMessagesRequest {
  string room_id = 1;
  string edited_by = 2 [(ssot.ws.v1.field).filter = true];
  int32 page_size = 3;
  string page_token = 4;
}
message ListMessagesResponse {
  repeated Message messages = 1;
  string next_page_token = 2;
}
`

// v3 retypes text, renumbers room_id and removes tags.
var v3 = strings.NewReplacer(
	"string text = 4;", "int64 text = 4;",
	"string room_id = 2;", "string room_id = 20;",
	"  repeated string tags = 8;\n", "",
).Replace(v2)

func models(t *testing.T, src string) []*protocol.Model {
	t.Helper()
	ms, err := migrate.Models(context.Background(), nil, map[string]string{"chat/v1/chat.proto": src}, []string{"chat/v1/chat.proto"})
	require.NoError(t, err)
	return ms
}

// TestGoldenMigrations: the first schema is one migration that creates
// everything; an additive change is a second; the same schema again writes
// nothing. The files are compared with the committed ones.
func TestGoldenMigrations(t *testing.T) {
	for _, d := range []sqlschema.Dialect{sqlschema.SQLite, sqlschema.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			dir := t.TempDir()
			h := migrate.Header([]string{"chat/v1/chat.proto"})
			f, err := migrate.Write(dir, d, models(t, v1), h)
			require.NoError(t, err)
			assert.Equal(t, "0001_init.sql", f)
			f, err = migrate.Write(dir, d, models(t, v2), h)
			require.NoError(t, err)
			assert.Equal(t, "0002_add_rooms_owner_and_more.sql", f)
			f, err = migrate.Write(dir, d, models(t, v2), h)
			require.NoError(t, err)
			assert.Empty(t, f, "no change, no migration")
			compareDir(t, dir, filepath.Join("testdata", string(d)))
		})
	}
}

func compareDir(t *testing.T, got, golden string) {
	t.Helper()
	entries, err := os.ReadDir(got)
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.RemoveAll(golden))
		require.NoError(t, os.MkdirAll(golden, 0o755))
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		b, err := os.ReadFile(filepath.Join(got, e.Name()))
		require.NoError(t, err)
		if *update {
			require.NoError(t, os.WriteFile(filepath.Join(golden, e.Name()), b, 0o644))
			continue
		}
		want, err := os.ReadFile(filepath.Join(golden, e.Name()))
		require.NoError(t, err, "run go test ./internal/migrate -update")
		assert.Equal(t, string(want), string(b), e.Name())
	}
	goldens, err := os.ReadDir(golden)
	require.NoError(t, err)
	assert.Len(t, goldens, len(names), "golden files")
}

// TestDestructiveRefused: a retyped, a renumbered and a removed field are
// each reported at their file:line:col, and nothing is written.
func TestDestructiveRefused(t *testing.T) {
	dir := t.TempDir()
	h := migrate.Header([]string{"chat/v1/chat.proto"})
	_, err := migrate.Write(dir, sqlschema.SQLite, models(t, v2), h)
	require.NoError(t, err)
	before, err := os.ReadFile(filepath.Join(dir, migrate.SnapshotFile))
	require.NoError(t, err)

	_, err = migrate.Write(dir, sqlschema.SQLite, models(t, v3), h)
	var de *sqlschema.DestructiveError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, []string{
		"chat/v1/chat.proto:19:3: field chat.v1.Message.room_id was renumbered from 2 to 20: stored records and clients would read it as another field",
		"chat/v1/chat.proto:21:3: field chat.v1.Message.text was retyped: column messages.text is TEXT NOT NULL, the field now wants INTEGER NOT NULL",
		"chat/v1/chat.proto:16:1: field chat.v1.Message.tags (number 8) was removed: dropping column messages.tags loses its data; keep the field (reserve its number when you stop using it) or migrate by hand",
	}, de.Problems)

	after, err := os.ReadFile(filepath.Join(dir, migrate.SnapshotFile))
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "0001 and schema.json only")
}

// TestMigrationsBuildWhatTheStoreExpects: the migration files, applied by
// another tool (here the plain driver), build the tables a store opens
// without changing them; a store of a retyped model refuses them.
func TestMigrationsBuildWhatTheStoreExpects(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for _, f := range []string{"0001_init.sql", "0002_add_rooms_owner_and_more.sql"} {
		b, err := os.ReadFile(filepath.Join("testdata", "sqlite", f))
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, string(b))
		require.NoError(t, err, f)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO messages (id, room_id, text, sent_at, tags, blob, meta, big) VALUES ('m1', 'r1', 'hi', '2024-05-01T10:00:00Z', '["a","b"]', x'0102', '{"k":"v"}', -1)`)
	require.NoError(t, err)

	store, err := sqlitestore.OpenTables(ctx, path, models(t, v2), nil)
	require.NoError(t, err)
	rec, err := store.Get(ctx, "chat.v1.Message", "m1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), rec.Version, "the trigger gave the row a version")
	assert.Equal(t, "r1", rec.Fields["room_id"])
	assert.Equal(t, "18446744073709551615", rec.Fields["big"])
	require.NoError(t, store.Close())

	_, err = sqlitestore.OpenTables(ctx, path, models(t, v3), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `table "messages" does not match model chat.v1.Message: column text is TEXT, field chat.v1.Message.text wants INTEGER`)
}

// TestSchemaFile: testdata/v2.proto is v2, for the stores' tests that apply
// the goldens and open a store of its models.
func TestSchemaFile(t *testing.T) {
	file := filepath.Join("testdata", "v2.proto")
	if *update {
		require.NoError(t, os.WriteFile(file, []byte(v2), 0o644))
	}
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, v2, string(b))
}

// helpdesk maps a model onto a table the team already has, with other
// column names for two fields.
const helpdesk = `syntax = "proto3";
package helpdesk.v1;
import "ssot/ws/v1/options.proto";
message Ticket {
  option (ssot.ws.v1.model) = { realtime: true scopes: ["queue"] table: "tickets_2019" };
  int64 id = 1 [(ssot.ws.v1.field) = { column: "ticket_no" }];
  string queue = 2;
  string subject = 3 [(ssot.ws.v1.field) = { column: "Title" }];
  int64 version = 4;
}
`

// TestAdoptExistingTable: the first migration of a model whose table
// option names the team's table creates it only if it is missing, adds
// the version and creation-order columns (numbering the rows already
// there), the indexes and the triggers (goldens in testdata/adopt-*).
// Applied with the plain driver on a table that has rows and a column
// the proto does not declare, the store opens it unchanged, lists the
// old rows, and leaves the extra column alone.
func TestAdoptExistingTable(t *testing.T) {
	ms, err := migrate.Models(context.Background(), nil, map[string]string{"helpdesk/v1/helpdesk.proto": helpdesk}, []string{"helpdesk/v1/helpdesk.proto"})
	require.NoError(t, err)
	for _, d := range []sqlschema.Dialect{sqlschema.SQLite, sqlschema.Postgres} {
		dir := t.TempDir()
		f, err := migrate.Write(dir, d, ms, migrate.Header([]string{"helpdesk/v1/helpdesk.proto"}))
		require.NoError(t, err)
		assert.Equal(t, "0001_init.sql", f)
		compareDir(t, dir, filepath.Join("testdata", "adopt-"+string(d)))
	}

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "helpdesk.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE tickets_2019 (ticket_no INTEGER PRIMARY KEY, queue TEXT NOT NULL, "Title" TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '');
INSERT INTO tickets_2019 (ticket_no, queue, "Title", notes) VALUES (3, 'q1', 'old', 'keep me'), (1, 'q1', 'older', 'me too');`)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join("testdata", "adopt-sqlite", "0001_init.sql"))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, string(b))
	require.NoError(t, err)

	store, err := sqlitestore.OpenTables(ctx, path, ms, nil)
	require.NoError(t, err)
	defer store.Close()
	page, err := store.List(ctx, ssotws.Query{Model: "helpdesk.v1.Ticket", Filters: []ssotws.Filter{{Field: "queue", Value: "q1"}}})
	require.NoError(t, err)
	require.Len(t, page.Records, 2)
	assert.Equal(t, "1", page.Records[0].Key, "rows already there are numbered in key order")
	assert.Equal(t, "3", page.Records[1].Key)
	assert.Equal(t, int64(1), page.Records[1].Version)
	_, err = db.ExecContext(ctx, `UPDATE tickets_2019 SET "Title" = 'renamed' WHERE ticket_no = 3`)
	require.NoError(t, err)
	rec, err := store.Get(ctx, "helpdesk.v1.Ticket", "3")
	require.NoError(t, err)
	assert.Equal(t, int64(2), rec.Version)
	var notes string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT notes FROM tickets_2019 WHERE ticket_no = 3`).Scan(&notes))
	assert.Equal(t, "keep me", notes)
}
