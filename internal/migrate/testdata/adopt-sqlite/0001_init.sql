-- Migration written by protoc-gen-ssot-ws migrate from helpdesk/v1/helpdesk.proto.
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

CREATE TABLE IF NOT EXISTS "tickets_2019" (
	"ticket_no" INTEGER NOT NULL PRIMARY KEY,
	"queue" TEXT NOT NULL DEFAULT '',
	"Title" TEXT NOT NULL DEFAULT ''
) STRICT;
ALTER TABLE "tickets_2019" ADD COLUMN "version" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "tickets_2019" ADD COLUMN "ssotws_seq" INTEGER NOT NULL DEFAULT 0;
INSERT INTO ssotws_models (name) VALUES ('helpdesk.v1.Ticket') ON CONFLICT (name) DO NOTHING;
UPDATE "tickets_2019" SET "version" = 1 WHERE "version" = 0;
UPDATE "tickets_2019" SET "ssotws_seq" = n.seq + (SELECT create_seq FROM ssotws_models WHERE name = 'helpdesk.v1.Ticket')
FROM (SELECT "ticket_no" AS k, row_number() OVER (ORDER BY "ticket_no") AS seq FROM "tickets_2019") AS n WHERE "tickets_2019"."ticket_no" = n.k;
UPDATE ssotws_models SET create_seq = (SELECT coalesce(max("ssotws_seq"), 0) FROM "tickets_2019") WHERE name = 'helpdesk.v1.Ticket';
CREATE INDEX IF NOT EXISTS "tickets_2019_ssotws_seq_idx" ON "tickets_2019" ("ssotws_seq");
CREATE INDEX IF NOT EXISTS "tickets_2019_queue_idx" ON "tickets_2019" ("queue", "ssotws_seq");
DROP TRIGGER IF EXISTS "tickets_2019_ssotws_insert";
DROP TRIGGER IF EXISTS "tickets_2019_ssotws_update";
DROP TRIGGER IF EXISTS "tickets_2019_ssotws_delete";
CREATE TRIGGER "tickets_2019_ssotws_insert" AFTER INSERT ON "tickets_2019" BEGIN
	INSERT INTO ssotws_models (name, create_seq) VALUES ('helpdesk.v1.Ticket', 1)
	ON CONFLICT (name) DO UPDATE SET create_seq = create_seq + 1;
	UPDATE "tickets_2019" SET
		"ssotws_seq" = (SELECT create_seq FROM ssotws_models WHERE name = 'helpdesk.v1.Ticket'),
		"version" = max(NEW."version", coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'helpdesk.v1.Ticket' AND key = CAST(NEW."ticket_no" AS TEXT)), 0) + 1)
	WHERE "ticket_no" = NEW."ticket_no" AND (NEW."ssotws_seq" IS NOT (SELECT create_seq FROM ssotws_models WHERE name = 'helpdesk.v1.Ticket')
		OR NEW."version" <= coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'helpdesk.v1.Ticket' AND key = CAST(NEW."ticket_no" AS TEXT)), 0));
	DELETE FROM ssotws_tombstones WHERE model = 'helpdesk.v1.Ticket' AND key = CAST(NEW."ticket_no" AS TEXT);
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'helpdesk.v1.Ticket', CAST(r."ticket_no" AS TEXT), 1, r."version", json_object('ticket_no', r."ticket_no", 'queue', r."queue", 'Title', r."Title"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM "tickets_2019" r WHERE r."ticket_no" = NEW."ticket_no";
END;
CREATE TRIGGER "tickets_2019_ssotws_update" AFTER UPDATE ON "tickets_2019" WHEN OLD."ssotws_seq" = NEW."ssotws_seq" BEGIN
	UPDATE "tickets_2019" SET "version" = max(NEW."version", OLD."version" + 1) WHERE "ticket_no" = NEW."ticket_no" AND "version" <> max(NEW."version", OLD."version" + 1);
	INSERT INTO ssotws_tombstones (model, key, version, image)
	SELECT 'helpdesk.v1.Ticket', CAST(OLD."ticket_no" AS TEXT), OLD."version" + 1, json_object('ticket_no', OLD."ticket_no", 'queue', OLD."queue", 'Title', OLD."Title") WHERE OLD."ticket_no" IS NOT NEW."ticket_no"
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'helpdesk.v1.Ticket', CAST(OLD."ticket_no" AS TEXT), 3, OLD."version" + 1, json_object('ticket_no', OLD."ticket_no", 'queue', OLD."queue", 'Title', OLD."Title"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE OLD."ticket_no" IS NOT NEW."ticket_no";
	INSERT INTO ssotws_changes (model, key, op, version, image, prev, time_ms)
	SELECT 'helpdesk.v1.Ticket', CAST(r."ticket_no" AS TEXT), CASE WHEN OLD."ticket_no" IS NOT NEW."ticket_no" THEN 1 ELSE 2 END, r."version", json_object('ticket_no', r."ticket_no", 'queue', r."queue", 'Title', r."Title"),
		CASE WHEN OLD."ticket_no" IS NOT NEW."ticket_no" THEN NULL ELSE json_object('ticket_no', OLD."ticket_no", 'queue', OLD."queue", 'Title', OLD."Title") END, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM "tickets_2019" r WHERE r."ticket_no" = NEW."ticket_no";
END;
CREATE TRIGGER "tickets_2019_ssotws_delete" AFTER DELETE ON "tickets_2019" BEGIN
	INSERT INTO ssotws_tombstones (model, key, version, image) VALUES ('helpdesk.v1.Ticket', CAST(OLD."ticket_no" AS TEXT), OLD."version" + 1, json_object('ticket_no', OLD."ticket_no", 'queue', OLD."queue", 'Title', OLD."Title"))
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms) VALUES ('helpdesk.v1.Ticket', CAST(OLD."ticket_no" AS TEXT), 3, OLD."version" + 1, json_object('ticket_no', OLD."ticket_no", 'queue', OLD."queue", 'Title', OLD."Title"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
