-- Migration written by protoc-gen-ssot-ws migrate from helpdesk/v1/helpdesk.proto.
-- Review it like code; once applied anywhere, do not edit it: write the next one.

CREATE TABLE IF NOT EXISTS ssotws_models (
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
	PERFORM pg_notify('ssotws_changes', current_schema());
	RETURN NULL;
END $$;

CREATE TABLE IF NOT EXISTS "tickets_2019" (
	"ticket_no" bigint NOT NULL PRIMARY KEY,
	"queue" text NOT NULL DEFAULT '',
	"Title" text NOT NULL DEFAULT ''
);
ALTER TABLE "tickets_2019" ADD COLUMN "version" bigint NOT NULL DEFAULT 0;
ALTER TABLE "tickets_2019" ADD COLUMN "ssotws_seq" bigint NOT NULL DEFAULT 0;
INSERT INTO ssotws_models (name) VALUES ('helpdesk.v1.Ticket') ON CONFLICT (name) DO NOTHING;
UPDATE "tickets_2019" SET "version" = 1 WHERE "version" = 0;
UPDATE "tickets_2019" SET "ssotws_seq" = n.seq + (SELECT create_seq FROM ssotws_models WHERE name = 'helpdesk.v1.Ticket')
FROM (SELECT "ticket_no" AS k, row_number() OVER (ORDER BY "ticket_no") AS seq FROM "tickets_2019") AS n WHERE "tickets_2019"."ticket_no" = n.k;
UPDATE ssotws_models SET create_seq = (SELECT coalesce(max("ssotws_seq"), 0) FROM "tickets_2019") WHERE name = 'helpdesk.v1.Ticket';
CREATE INDEX IF NOT EXISTS "tickets_2019_ssotws_seq_idx" ON "tickets_2019" ("ssotws_seq");
CREATE INDEX IF NOT EXISTS "tickets_2019_queue_idx" ON "tickets_2019" ("queue", "ssotws_seq");
DROP TRIGGER IF EXISTS "tickets_2019_ssotws_before" ON "tickets_2019";
CREATE TRIGGER "tickets_2019_ssotws_before" BEFORE INSERT OR UPDATE ON "tickets_2019" FOR EACH ROW EXECUTE FUNCTION ssotws_before('helpdesk.v1.Ticket', 'ticket_no', 'version');
DROP TRIGGER IF EXISTS "tickets_2019_ssotws_after" ON "tickets_2019";
CREATE TRIGGER "tickets_2019_ssotws_after" AFTER INSERT OR UPDATE OR DELETE ON "tickets_2019" FOR EACH ROW EXECUTE FUNCTION ssotws_after('helpdesk.v1.Ticket', 'ticket_no', 'version');
