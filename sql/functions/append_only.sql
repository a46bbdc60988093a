-- Append-only tables: the trigger functions that refuse changes to stored evidence.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- Refuses UPDATE, DELETE and TRUNCATE: stored evidence is append only, for
-- every role, the owner included.  Corrections are new rows.
CREATE OR REPLACE FUNCTION voucher.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'voucher: % on %.% is refused: this table is append only',
		TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Refuses every UPDATE except setting the stamp columns named in the
-- trigger's arguments from NULL, once: a revocation, a confirmation.
CREATE OR REPLACE FUNCTION voucher.refuse_change_but_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	v_old jsonb := to_jsonb(OLD);
	v_new jsonb := to_jsonb(NEW);
	k     text;
BEGIN
	IF TG_OP <> 'UPDATE' THEN
		RAISE EXCEPTION 'voucher: % on %.% is refused: this table is append only',
			TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF (v_old - TG_ARGV) IS DISTINCT FROM (v_new - TG_ARGV) THEN
		RAISE EXCEPTION 'voucher: UPDATE on %.% is refused: only % may be set, once',
			TG_TABLE_SCHEMA, TG_TABLE_NAME, array_to_string(TG_ARGV, ', ')
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	FOREACH k IN ARRAY TG_ARGV LOOP
		IF (v_old ->> k) IS NOT NULL AND (v_old -> k) IS DISTINCT FROM (v_new -> k) THEN
			RAISE EXCEPTION 'voucher: %.%.% was set at %: it never changes',
				TG_TABLE_SCHEMA, TG_TABLE_NAME, k, v_old ->> k USING ERRCODE = 'insufficient_privilege';
		END IF;
	END LOOP;
	RETURN NEW;
END
$$;

-- An approved run and its lines are frozen: only drafts may be replaced.
CREATE OR REPLACE FUNCTION voucher.refuse_change_if_approved() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	v_run bigint := CASE WHEN TG_OP = 'INSERT' THEN NEW.run_id ELSE OLD.run_id END;
BEGIN
	IF EXISTS (SELECT 1 FROM voucher.run_events e WHERE e.run_id = v_run) THEN
		RAISE EXCEPTION 'voucher: run % is approved: it never changes', v_run
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
