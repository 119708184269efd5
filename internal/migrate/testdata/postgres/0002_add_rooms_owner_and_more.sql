-- Migration written by protoc-gen-ssot-ws migrate from chat/v1/chat.proto.
-- Review it like code; once applied anywhere, do not edit it: write the next one.

ALTER TABLE "rooms" ADD COLUMN "owner" text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS "rooms_ssotws_seq_idx" ON "rooms" ("ssotws_seq");
CREATE INDEX IF NOT EXISTS "rooms_owner_idx" ON "rooms" ("owner", "ssotws_seq");
ALTER TABLE "messages" ADD COLUMN "edited_by" text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS "messages_ssotws_seq_idx" ON "messages" ("ssotws_seq");
CREATE INDEX IF NOT EXISTS "messages_room_id_idx" ON "messages" ("room_id", "ssotws_seq");
CREATE INDEX IF NOT EXISTS "messages_author_idx" ON "messages" ("author", "ssotws_seq");
CREATE INDEX IF NOT EXISTS "messages_edited_by_idx" ON "messages" ("edited_by", "ssotws_seq");
CREATE TABLE "reactions" (
	"id" text NOT NULL PRIMARY KEY,
	"message_id" text NOT NULL DEFAULT '',
	"emoji" text NOT NULL DEFAULT '',
	"version" bigint NOT NULL DEFAULT 0,
	"ssotws_seq" bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS "reactions_ssotws_seq_idx" ON "reactions" ("ssotws_seq");
CREATE INDEX IF NOT EXISTS "reactions_message_id_idx" ON "reactions" ("message_id", "ssotws_seq");
INSERT INTO ssotws_models (name) VALUES ('chat.v1.Reaction') ON CONFLICT (name) DO NOTHING;
DROP TRIGGER IF EXISTS "reactions_ssotws_before" ON "reactions";
CREATE TRIGGER "reactions_ssotws_before" BEFORE INSERT OR UPDATE ON "reactions" FOR EACH ROW EXECUTE FUNCTION ssotws_before('chat.v1.Reaction', 'id', 'version');
DROP TRIGGER IF EXISTS "reactions_ssotws_after" ON "reactions";
CREATE TRIGGER "reactions_ssotws_after" AFTER INSERT OR UPDATE OR DELETE ON "reactions" FOR EACH ROW EXECUTE FUNCTION ssotws_after('chat.v1.Reaction', 'id', 'version');
