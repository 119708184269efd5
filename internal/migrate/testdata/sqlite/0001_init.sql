-- Migration written by protoc-gen-ssot-ws migrate from chat/v1/chat.proto.
-- Review it like code; once applied anywhere, do not edit it: write the next one.

CREATE TABLE IF NOT EXISTS ssotws_models (
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

CREATE TABLE "rooms" (
	"id" TEXT NOT NULL PRIMARY KEY,
	"title" TEXT NOT NULL DEFAULT '',
	"version" INTEGER NOT NULL DEFAULT 0,
	"ssotws_seq" INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS "rooms_ssotws_seq_idx" ON "rooms" ("ssotws_seq");
INSERT INTO ssotws_models (name) VALUES ('chat.v1.Room') ON CONFLICT (name) DO NOTHING;
DROP TRIGGER IF EXISTS "rooms_ssotws_insert";
DROP TRIGGER IF EXISTS "rooms_ssotws_update";
DROP TRIGGER IF EXISTS "rooms_ssotws_delete";
CREATE TRIGGER "rooms_ssotws_insert" AFTER INSERT ON "rooms" BEGIN
	INSERT INTO ssotws_models (name, create_seq) VALUES ('chat.v1.Room', 1)
	ON CONFLICT (name) DO UPDATE SET create_seq = create_seq + 1;
	UPDATE "rooms" SET
		"ssotws_seq" = (SELECT create_seq FROM ssotws_models WHERE name = 'chat.v1.Room'),
		"version" = max(NEW."version", coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'chat.v1.Room' AND key = CAST(NEW."id" AS TEXT)), 0) + 1)
	WHERE "id" = NEW."id" AND (NEW."ssotws_seq" IS NOT (SELECT create_seq FROM ssotws_models WHERE name = 'chat.v1.Room')
		OR NEW."version" <= coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'chat.v1.Room' AND key = CAST(NEW."id" AS TEXT)), 0));
	DELETE FROM ssotws_tombstones WHERE model = 'chat.v1.Room' AND key = CAST(NEW."id" AS TEXT);
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'chat.v1.Room', CAST(r."id" AS TEXT), 1, r."version", json_object('id', r."id", 'title', r."title"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM "rooms" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "rooms_ssotws_update" AFTER UPDATE ON "rooms" WHEN OLD."ssotws_seq" = NEW."ssotws_seq" BEGIN
	UPDATE "rooms" SET "version" = max(NEW."version", OLD."version" + 1) WHERE "id" = NEW."id" AND "version" <> max(NEW."version", OLD."version" + 1);
	INSERT INTO ssotws_tombstones (model, key, version, image)
	SELECT 'chat.v1.Room', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'title', OLD."title") WHERE OLD."id" IS NOT NEW."id"
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'chat.v1.Room', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'title', OLD."title"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE OLD."id" IS NOT NEW."id";
	INSERT INTO ssotws_changes (model, key, op, version, image, prev, time_ms)
	SELECT 'chat.v1.Room', CAST(r."id" AS TEXT), CASE WHEN OLD."id" IS NOT NEW."id" THEN 1 ELSE 2 END, r."version", json_object('id', r."id", 'title', r."title"),
		CASE WHEN OLD."id" IS NOT NEW."id" THEN NULL ELSE json_object('id', OLD."id", 'title', OLD."title") END, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM "rooms" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "rooms_ssotws_delete" AFTER DELETE ON "rooms" BEGIN
	INSERT INTO ssotws_tombstones (model, key, version, image) VALUES ('chat.v1.Room', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'title', OLD."title"))
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms) VALUES ('chat.v1.Room', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'title', OLD."title"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TABLE "messages" (
	"id" TEXT NOT NULL PRIMARY KEY,
	"room_id" TEXT NOT NULL DEFAULT '',
	"author" TEXT NOT NULL DEFAULT '',
	"text" TEXT NOT NULL DEFAULT '',
	"sent_at" TEXT,
	"pinned" INTEGER NOT NULL DEFAULT 0 CHECK ("pinned" IN (0, 1)),
	"tags" TEXT NOT NULL DEFAULT '[]',
	"blob" BLOB NOT NULL DEFAULT X'',
	"priority" INTEGER,
	"kind" INTEGER NOT NULL DEFAULT 0,
	"meta" TEXT NOT NULL DEFAULT '{}',
	"score" REAL NOT NULL DEFAULT 0,
	"big" INTEGER NOT NULL DEFAULT 0,
	"version" INTEGER NOT NULL DEFAULT 0,
	"ssotws_seq" INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS "messages_ssotws_seq_idx" ON "messages" ("ssotws_seq");
CREATE INDEX IF NOT EXISTS "messages_room_id_idx" ON "messages" ("room_id", "ssotws_seq");
CREATE INDEX IF NOT EXISTS "messages_author_idx" ON "messages" ("author", "ssotws_seq");
INSERT INTO ssotws_models (name) VALUES ('chat.v1.Message') ON CONFLICT (name) DO NOTHING;
DROP TRIGGER IF EXISTS "messages_ssotws_insert";
DROP TRIGGER IF EXISTS "messages_ssotws_update";
DROP TRIGGER IF EXISTS "messages_ssotws_delete";
CREATE TRIGGER "messages_ssotws_insert" AFTER INSERT ON "messages" BEGIN
	INSERT INTO ssotws_models (name, create_seq) VALUES ('chat.v1.Message', 1)
	ON CONFLICT (name) DO UPDATE SET create_seq = create_seq + 1;
	UPDATE "messages" SET
		"ssotws_seq" = (SELECT create_seq FROM ssotws_models WHERE name = 'chat.v1.Message'),
		"version" = max(NEW."version", coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'chat.v1.Message' AND key = CAST(NEW."id" AS TEXT)), 0) + 1)
	WHERE "id" = NEW."id" AND (NEW."ssotws_seq" IS NOT (SELECT create_seq FROM ssotws_models WHERE name = 'chat.v1.Message')
		OR NEW."version" <= coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'chat.v1.Message' AND key = CAST(NEW."id" AS TEXT)), 0));
	DELETE FROM ssotws_tombstones WHERE model = 'chat.v1.Message' AND key = CAST(NEW."id" AS TEXT);
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'chat.v1.Message', CAST(r."id" AS TEXT), 1, r."version", json_object('id', r."id", 'room_id', r."room_id", 'author', r."author", 'text', r."text", 'sent_at', r."sent_at", 'pinned', r."pinned", 'tags', r."tags", 'blob', CASE WHEN r."blob" IS NULL THEN NULL ELSE hex(r."blob") END, 'priority', r."priority", 'kind', r."kind", 'meta', r."meta", 'score', r."score", 'big', r."big"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM "messages" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "messages_ssotws_update" AFTER UPDATE ON "messages" WHEN OLD."ssotws_seq" = NEW."ssotws_seq" BEGIN
	UPDATE "messages" SET "version" = max(NEW."version", OLD."version" + 1) WHERE "id" = NEW."id" AND "version" <> max(NEW."version", OLD."version" + 1);
	INSERT INTO ssotws_tombstones (model, key, version, image)
	SELECT 'chat.v1.Message', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big") WHERE OLD."id" IS NOT NEW."id"
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'chat.v1.Message', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE OLD."id" IS NOT NEW."id";
	INSERT INTO ssotws_changes (model, key, op, version, image, prev, time_ms)
	SELECT 'chat.v1.Message', CAST(r."id" AS TEXT), CASE WHEN OLD."id" IS NOT NEW."id" THEN 1 ELSE 2 END, r."version", json_object('id', r."id", 'room_id', r."room_id", 'author', r."author", 'text', r."text", 'sent_at', r."sent_at", 'pinned', r."pinned", 'tags', r."tags", 'blob', CASE WHEN r."blob" IS NULL THEN NULL ELSE hex(r."blob") END, 'priority', r."priority", 'kind', r."kind", 'meta', r."meta", 'score', r."score", 'big', r."big"),
		CASE WHEN OLD."id" IS NOT NEW."id" THEN NULL ELSE json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big") END, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM "messages" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "messages_ssotws_delete" AFTER DELETE ON "messages" BEGIN
	INSERT INTO ssotws_tombstones (model, key, version, image) VALUES ('chat.v1.Message', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big"))
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms) VALUES ('chat.v1.Message', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
