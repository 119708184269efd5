-- Migration written by protoc-gen-ssot-ws migrate from chat/v1/chat.proto.
-- Review it like code; once applied anywhere, do not edit it: write the next one.

ALTER TABLE "rooms" ADD COLUMN "owner" TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS "rooms_ssotws_seq_idx" ON "rooms" ("ssotws_seq");
CREATE INDEX IF NOT EXISTS "rooms_owner_idx" ON "rooms" ("owner", "ssotws_seq");
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
	SELECT 'chat.v1.Room', CAST(r."id" AS TEXT), 1, r."version", json_object('id', r."id", 'title', r."title", 'owner', r."owner"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM "rooms" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "rooms_ssotws_update" AFTER UPDATE ON "rooms" WHEN OLD."ssotws_seq" = NEW."ssotws_seq" BEGIN
	UPDATE "rooms" SET "version" = max(NEW."version", OLD."version" + 1) WHERE "id" = NEW."id" AND "version" <> max(NEW."version", OLD."version" + 1);
	INSERT INTO ssotws_tombstones (model, key, version, image)
	SELECT 'chat.v1.Room', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'title', OLD."title", 'owner', OLD."owner") WHERE OLD."id" IS NOT NEW."id"
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'chat.v1.Room', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'title', OLD."title", 'owner', OLD."owner"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE OLD."id" IS NOT NEW."id";
	INSERT INTO ssotws_changes (model, key, op, version, image, prev, time_ms)
	SELECT 'chat.v1.Room', CAST(r."id" AS TEXT), CASE WHEN OLD."id" IS NOT NEW."id" THEN 1 ELSE 2 END, r."version", json_object('id', r."id", 'title', r."title", 'owner', r."owner"),
		CASE WHEN OLD."id" IS NOT NEW."id" THEN NULL ELSE json_object('id', OLD."id", 'title', OLD."title", 'owner', OLD."owner") END, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM "rooms" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "rooms_ssotws_delete" AFTER DELETE ON "rooms" BEGIN
	INSERT INTO ssotws_tombstones (model, key, version, image) VALUES ('chat.v1.Room', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'title', OLD."title", 'owner', OLD."owner"))
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms) VALUES ('chat.v1.Room', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'title', OLD."title", 'owner', OLD."owner"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
ALTER TABLE "messages" ADD COLUMN "edited_by" TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS "messages_ssotws_seq_idx" ON "messages" ("ssotws_seq");
CREATE INDEX IF NOT EXISTS "messages_room_id_idx" ON "messages" ("room_id", "ssotws_seq");
CREATE INDEX IF NOT EXISTS "messages_author_idx" ON "messages" ("author", "ssotws_seq");
CREATE INDEX IF NOT EXISTS "messages_edited_by_idx" ON "messages" ("edited_by", "ssotws_seq");
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
	SELECT 'chat.v1.Message', CAST(r."id" AS TEXT), 1, r."version", json_object('id', r."id", 'room_id', r."room_id", 'author', r."author", 'text', r."text", 'sent_at', r."sent_at", 'pinned', r."pinned", 'tags', r."tags", 'blob', CASE WHEN r."blob" IS NULL THEN NULL ELSE hex(r."blob") END, 'priority', r."priority", 'kind', r."kind", 'meta', r."meta", 'score', r."score", 'big', r."big", 'edited_by', r."edited_by"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM "messages" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "messages_ssotws_update" AFTER UPDATE ON "messages" WHEN OLD."ssotws_seq" = NEW."ssotws_seq" BEGIN
	UPDATE "messages" SET "version" = max(NEW."version", OLD."version" + 1) WHERE "id" = NEW."id" AND "version" <> max(NEW."version", OLD."version" + 1);
	INSERT INTO ssotws_tombstones (model, key, version, image)
	SELECT 'chat.v1.Message', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big", 'edited_by', OLD."edited_by") WHERE OLD."id" IS NOT NEW."id"
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'chat.v1.Message', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big", 'edited_by', OLD."edited_by"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE OLD."id" IS NOT NEW."id";
	INSERT INTO ssotws_changes (model, key, op, version, image, prev, time_ms)
	SELECT 'chat.v1.Message', CAST(r."id" AS TEXT), CASE WHEN OLD."id" IS NOT NEW."id" THEN 1 ELSE 2 END, r."version", json_object('id', r."id", 'room_id', r."room_id", 'author', r."author", 'text', r."text", 'sent_at', r."sent_at", 'pinned', r."pinned", 'tags', r."tags", 'blob', CASE WHEN r."blob" IS NULL THEN NULL ELSE hex(r."blob") END, 'priority', r."priority", 'kind', r."kind", 'meta', r."meta", 'score', r."score", 'big', r."big", 'edited_by', r."edited_by"),
		CASE WHEN OLD."id" IS NOT NEW."id" THEN NULL ELSE json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big", 'edited_by', OLD."edited_by") END, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM "messages" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "messages_ssotws_delete" AFTER DELETE ON "messages" BEGIN
	INSERT INTO ssotws_tombstones (model, key, version, image) VALUES ('chat.v1.Message', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big", 'edited_by', OLD."edited_by"))
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms) VALUES ('chat.v1.Message', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'room_id', OLD."room_id", 'author', OLD."author", 'text', OLD."text", 'sent_at', OLD."sent_at", 'pinned', OLD."pinned", 'tags', OLD."tags", 'blob', CASE WHEN OLD."blob" IS NULL THEN NULL ELSE hex(OLD."blob") END, 'priority', OLD."priority", 'kind', OLD."kind", 'meta', OLD."meta", 'score', OLD."score", 'big', OLD."big", 'edited_by', OLD."edited_by"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TABLE "reactions" (
	"id" TEXT NOT NULL PRIMARY KEY,
	"message_id" TEXT NOT NULL DEFAULT '',
	"emoji" TEXT NOT NULL DEFAULT '',
	"version" INTEGER NOT NULL DEFAULT 0,
	"ssotws_seq" INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS "reactions_ssotws_seq_idx" ON "reactions" ("ssotws_seq");
CREATE INDEX IF NOT EXISTS "reactions_message_id_idx" ON "reactions" ("message_id", "ssotws_seq");
INSERT INTO ssotws_models (name) VALUES ('chat.v1.Reaction') ON CONFLICT (name) DO NOTHING;
DROP TRIGGER IF EXISTS "reactions_ssotws_insert";
DROP TRIGGER IF EXISTS "reactions_ssotws_update";
DROP TRIGGER IF EXISTS "reactions_ssotws_delete";
CREATE TRIGGER "reactions_ssotws_insert" AFTER INSERT ON "reactions" BEGIN
	INSERT INTO ssotws_models (name, create_seq) VALUES ('chat.v1.Reaction', 1)
	ON CONFLICT (name) DO UPDATE SET create_seq = create_seq + 1;
	UPDATE "reactions" SET
		"ssotws_seq" = (SELECT create_seq FROM ssotws_models WHERE name = 'chat.v1.Reaction'),
		"version" = max(NEW."version", coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'chat.v1.Reaction' AND key = CAST(NEW."id" AS TEXT)), 0) + 1)
	WHERE "id" = NEW."id" AND (NEW."ssotws_seq" IS NOT (SELECT create_seq FROM ssotws_models WHERE name = 'chat.v1.Reaction')
		OR NEW."version" <= coalesce((SELECT version FROM ssotws_tombstones WHERE model = 'chat.v1.Reaction' AND key = CAST(NEW."id" AS TEXT)), 0));
	DELETE FROM ssotws_tombstones WHERE model = 'chat.v1.Reaction' AND key = CAST(NEW."id" AS TEXT);
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'chat.v1.Reaction', CAST(r."id" AS TEXT), 1, r."version", json_object('id', r."id", 'message_id', r."message_id", 'emoji', r."emoji"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM "reactions" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "reactions_ssotws_update" AFTER UPDATE ON "reactions" WHEN OLD."ssotws_seq" = NEW."ssotws_seq" BEGIN
	UPDATE "reactions" SET "version" = max(NEW."version", OLD."version" + 1) WHERE "id" = NEW."id" AND "version" <> max(NEW."version", OLD."version" + 1);
	INSERT INTO ssotws_tombstones (model, key, version, image)
	SELECT 'chat.v1.Reaction', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'message_id', OLD."message_id", 'emoji', OLD."emoji") WHERE OLD."id" IS NOT NEW."id"
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms)
	SELECT 'chat.v1.Reaction', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'message_id', OLD."message_id", 'emoji', OLD."emoji"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE OLD."id" IS NOT NEW."id";
	INSERT INTO ssotws_changes (model, key, op, version, image, prev, time_ms)
	SELECT 'chat.v1.Reaction', CAST(r."id" AS TEXT), CASE WHEN OLD."id" IS NOT NEW."id" THEN 1 ELSE 2 END, r."version", json_object('id', r."id", 'message_id', r."message_id", 'emoji', r."emoji"),
		CASE WHEN OLD."id" IS NOT NEW."id" THEN NULL ELSE json_object('id', OLD."id", 'message_id', OLD."message_id", 'emoji', OLD."emoji") END, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM "reactions" r WHERE r."id" = NEW."id";
END;
CREATE TRIGGER "reactions_ssotws_delete" AFTER DELETE ON "reactions" BEGIN
	INSERT INTO ssotws_tombstones (model, key, version, image) VALUES ('chat.v1.Reaction', CAST(OLD."id" AS TEXT), OLD."version" + 1, json_object('id', OLD."id", 'message_id', OLD."message_id", 'emoji', OLD."emoji"))
	ON CONFLICT (model, key) DO UPDATE SET version = excluded.version, image = excluded.image;
	INSERT INTO ssotws_changes (model, key, op, version, image, time_ms) VALUES ('chat.v1.Reaction', CAST(OLD."id" AS TEXT), 3, OLD."version" + 1, json_object('id', OLD."id", 'message_id', OLD."message_id", 'emoji', OLD."emoji"), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
