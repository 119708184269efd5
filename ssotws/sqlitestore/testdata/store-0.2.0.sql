-- The sqlite3 shell's .dump of a database written by TableStore as of
-- release 0.2.0 (storetest.Models, writes through storetest.Opaque, a
-- relay started and closed first): its insert triggers number rows by
-- updating them, its remembered requests keep fields as JSON, and its
-- changes are not published yet. TestOpenDatabaseOfEarlierVersion loads it.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE ssotws_models (
	name       TEXT PRIMARY KEY,
	key_seq    INTEGER NOT NULL DEFAULT 0,
	create_seq INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO ssotws_models VALUES('test.v1.Alpha',1,2);
INSERT INTO ssotws_models VALUES('test.v1.Beta',0,0);
CREATE TABLE ssotws_tombstones (
	model   TEXT NOT NULL,
	key     TEXT NOT NULL,
	version INTEGER NOT NULL,
	image   TEXT NOT NULL,
	PRIMARY KEY (model, key)
) STRICT, WITHOUT ROWID;
INSERT INTO ssotws_tombstones VALUES('test.v1.Alpha','b',2,'{"id":"b","payload":"b","title":"","n":"","x":"","y":"","i":"","g":"","room":"r1","author":"","pinned":"","by":""}');
CREATE TABLE ssotws_changes (
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
INSERT INTO ssotws_changes VALUES(1,'test.v1.Alpha','a',1,1,'{"id":"a","payload":"first\u0000","title":"hello","n":"","x":"","y":"","i":"","g":"","room":"r1","author":"","pinned":"","by":""}',NULL,'create-a',1796586693295);
INSERT INTO ssotws_changes VALUES(2,'test.v1.Alpha','a',2,2,'{"id":"a","payload":"second","title":"hello","n":"","x":"","y":"","i":"","g":"","room":"r2","author":"","pinned":"","by":""}','{"id":"a","payload":"first\u0000","title":"hello","n":"","x":"","y":"","i":"","g":"","room":"r1","author":"","pinned":"","by":""}','update-a',1796586693295);
INSERT INTO ssotws_changes VALUES(3,'test.v1.Alpha','b',1,1,'{"id":"b","payload":"b","title":"","n":"","x":"","y":"","i":"","g":"","room":"r1","author":"","pinned":"","by":""}',NULL,NULL,1796586693295);
INSERT INTO ssotws_changes VALUES(4,'test.v1.Alpha','b',3,2,'{"id":"b","payload":"b","title":"","n":"","x":"","y":"","i":"","g":"","room":"r1","author":"","pinned":"","by":""}',NULL,'delete-b',1796586693295);
CREATE TABLE ssotws_relay (
	name TEXT PRIMARY KEY,
	seq  INTEGER NOT NULL
) STRICT;
INSERT INTO ssotws_relay VALUES('default',0);
CREATE TABLE ssotws_requests (
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
INSERT INTO ssotws_requests VALUES(1,'test.v1.Alpha','create-a',1,'a',1,0,X'0a016112066669727374001a0568656c6c6f4a027231','{"author":"","by":"","g":"","i":"","id":"a","n":"","payload":"first\u0000","pinned":"","room":"r1","title":"hello","x":"","y":""}',NULL,NULL,NULL,NULL);
INSERT INTO ssotws_requests VALUES(2,'test.v1.Alpha','update-a',2,'a',2,0,X'0a016112067365636f6e641a0568656c6c6f4a027232','{"author":"","by":"","g":"","i":"","id":"a","n":"","payload":"second","pinned":"","room":"r2","title":"hello","x":"","y":""}',1,0,X'0a016112066669727374001a0568656c6c6f4a027231','{"author":"","by":"","g":"","i":"","id":"a","n":"","payload":"first\u0000","pinned":"","room":"r1","title":"hello","x":"","y":""}');
INSERT INTO ssotws_requests VALUES(3,'test.v1.Alpha','delete-b',3,'b',2,1,X'0a01621201624a027231','{"author":"","by":"","g":"","i":"","id":"b","n":"","payload":"b","pinned":"","room":"r1","title":"","x":"","y":""}',1,0,X'0a01621201624a027231','{"author":"","by":"","g":"","i":"","id":"b","n":"","payload":"b","pinned":"","room":"r1","title":"","x":"","y":""}');
CREATE TABLE IF NOT EXISTS "alphas" (
	"id" TEXT NOT NULL PRIMARY KEY,
	"payload" TEXT NOT NULL DEFAULT '',
	"title" TEXT NOT NULL DEFAULT '',
	"n" TEXT NOT NULL DEFAULT '',
	"x" TEXT NOT NULL DEFAULT '',
	"y" TEXT NOT NULL DEFAULT '',
	"i" TEXT NOT NULL DEFAULT '',
	"g" TEXT NOT NULL DEFAULT '',
	"room" TEXT NOT NULL DEFAULT '',
	"author" TEXT NOT NULL DEFAULT '',
	"pinned" TEXT NOT NULL DEFAULT '',
	"by" TEXT NOT NULL DEFAULT '',
	"version" INTEGER NOT NULL DEFAULT 0,
	"ssotws_seq" INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO alphas VALUES('a','second','hello','','','','','','r2','','','',2,1);
CREATE TABLE IF NOT EXISTS "betas" (
	"id" TEXT NOT NULL PRIMARY KEY,
	"payload" TEXT NOT NULL DEFAULT '',
	"title" TEXT NOT NULL DEFAULT '',
	"n" TEXT NOT NULL DEFAULT '',
	"x" TEXT NOT NULL DEFAULT '',
	"y" TEXT NOT NULL DEFAULT '',
	"i" TEXT NOT NULL DEFAULT '',
	"g" TEXT NOT NULL DEFAULT '',
	"room" TEXT NOT NULL DEFAULT '',
	"author" TEXT NOT NULL DEFAULT '',
	"pinned" TEXT NOT NULL DEFAULT '',
	"by" TEXT NOT NULL DEFAULT '',
	"version" INTEGER NOT NULL DEFAULT 0,
	"ssotws_seq" INTEGER NOT NULL DEFAULT 0
) STRICT;
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('ssotws_changes',4);
CREATE UNIQUE INDEX ssotws_requests_model_request ON ssotws_requests (model, request_id);
CREATE INDEX "alphas_ssotws_seq_idx" ON "alphas" ("ssotws_seq");
CREATE INDEX "alphas_room_idx" ON "alphas" ("room", "ssotws_seq");
CREATE INDEX "alphas_author_idx" ON "alphas" ("author", "ssotws_seq");
CREATE TRIGGER "alphas_ssotws_insert" AFTER INSERT ON "alphas" BEGIN
	INSERT INTO ssotws_models (name, create_seq) VALUES ('test.v1.Alpha', 1)
	ON CONFLICT (name) DO UPDATE SET create_seq = create_seq + 1;
	UPDATE "alphas" SET
		"ssotws_seq" = (SELECT create_seq FROM ssotws_models WHERE name = 'test.v1.Alpha'),
		"version" = max(NEW."version", coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'test.v1.Alpha' AND key = CAST(NEW."id" AS TEXT)), 0) + 1)
	WHERE "id" = NEW."id";
	DELETE FROM ssotws_tombstones WHERE model = 'test.v1.Alpha' AND key = CAST(NEW."id" AS TEXT);
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'test.v1.Alpha', CAST(r."id" AS TEXT), 1, r."version", json_object('id', r."id", 'payload', r."payload", 'title', r."title", 'n', r."n", 'x', r."x", 'y', r."y", 'i', r."i", 'g', r."g", 'room', r."room", 'author', r."author", 'pinned', r."pinned", 'by', r."by"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM "alphas" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "alphas_ssotws_update" AFTER UPDATE ON "alphas" WHEN OLD."ssotws_seq" = NEW."ssotws_seq" BEGIN
	UPDATE "alphas" SET "version" = max(NEW."version", OLD."version" + 1) WHERE "id" = NEW."id" AND "version" <> max(NEW."version", OLD."version" + 1);
	INSERT INTO ssotws_tombstones (model, key, version, image)
	SELECT 'test.v1.Alpha', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by") WHERE OLD."id" IS NOT NEW."id"
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'test.v1.Alpha', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE OLD."id" IS NOT NEW."id";
	INSERT INTO ssotws_changes (model, key, op, version, image, prev, time_ms)
	SELECT 'test.v1.Alpha', CAST(r."id" AS TEXT), CASE WHEN OLD."id" IS NOT NEW."id" THEN 1 ELSE 2 END, r."version", json_object('id', r."id", 'payload', r."payload", 'title', r."title", 'n', r."n", 'x', r."x", 'y', r."y", 'i', r."i", 'g', r."g", 'room', r."room", 'author', r."author", 'pinned', r."pinned", 'by', r."by"),
		CASE WHEN OLD."id" IS NOT NEW."id" THEN NULL ELSE json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by") END, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM "alphas" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "alphas_ssotws_delete" AFTER DELETE ON "alphas" BEGIN
	INSERT INTO ssotws_tombstones (model, key, version, image) VALUES ('test.v1.Alpha', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by"))
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms) VALUES ('test.v1.Alpha', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE INDEX "betas_ssotws_seq_idx" ON "betas" ("ssotws_seq");
CREATE TRIGGER "betas_ssotws_insert" AFTER INSERT ON "betas" BEGIN
	INSERT INTO ssotws_models (name, create_seq) VALUES ('test.v1.Beta', 1)
	ON CONFLICT (name) DO UPDATE SET create_seq = create_seq + 1;
	UPDATE "betas" SET
		"ssotws_seq" = (SELECT create_seq FROM ssotws_models WHERE name = 'test.v1.Beta'),
		"version" = max(NEW."version", coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'test.v1.Beta' AND key = CAST(NEW."id" AS TEXT)), 0) + 1)
	WHERE "id" = NEW."id";
	DELETE FROM ssotws_tombstones WHERE model = 'test.v1.Beta' AND key = CAST(NEW."id" AS TEXT);
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'test.v1.Beta', CAST(r."id" AS TEXT), 1, r."version", json_object('id', r."id", 'payload', r."payload", 'title', r."title", 'n', r."n", 'x', r."x", 'y', r."y", 'i', r."i", 'g', r."g", 'room', r."room", 'author', r."author", 'pinned', r."pinned", 'by', r."by"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM "betas" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "betas_ssotws_update" AFTER UPDATE ON "betas" WHEN OLD."ssotws_seq" = NEW."ssotws_seq" BEGIN
	UPDATE "betas" SET "version" = max(NEW."version", OLD."version" + 1) WHERE "id" = NEW."id" AND "version" <> max(NEW."version", OLD."version" + 1);
	INSERT INTO ssotws_tombstones (model, key, version, image)
	SELECT 'test.v1.Beta', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by") WHERE OLD."id" IS NOT NEW."id"
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'test.v1.Beta', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE OLD."id" IS NOT NEW."id";
	INSERT INTO ssotws_changes (model, key, op, version, image, prev, time_ms)
	SELECT 'test.v1.Beta', CAST(r."id" AS TEXT), CASE WHEN OLD."id" IS NOT NEW."id" THEN 1 ELSE 2 END, r."version", json_object('id', r."id", 'payload', r."payload", 'title', r."title", 'n', r."n", 'x', r."x", 'y', r."y", 'i', r."i", 'g', r."g", 'room', r."room", 'author', r."author", 'pinned', r."pinned", 'by', r."by"),
		CASE WHEN OLD."id" IS NOT NEW."id" THEN NULL ELSE json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by") END, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM "betas" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "betas_ssotws_delete" AFTER DELETE ON "betas" BEGIN
	INSERT INTO ssotws_tombstones (model, key, version, image) VALUES ('test.v1.Beta', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by"))
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms) VALUES ('test.v1.Beta', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'payload', OLD."payload", 'title', OLD."title", 'n', OLD."n", 'x', OLD."x", 'y', OLD."y", 'i', OLD."i", 'g', OLD."g", 'room', OLD."room", 'author', OLD."author", 'pinned', OLD."pinned", 'by', OLD."by"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
COMMIT;
