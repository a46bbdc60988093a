-- Integrity (issue 10): no single person can move money, and history is
-- never overwritten.
--
-- 1. No role but voucher_owner may INSERT, UPDATE, DELETE or TRUNCATE any
--    table.  Every write goes through a SECURITY DEFINER function owned by
--    voucher_owner that checks its inputs and takes the acting person from
--    session_user (never from an argument; SET ROLE does not change it).
-- 2. Superusers may administer (migrate, create users, correct the
--    registry, every such act listed by `audit exceptions`) but may not
--    prepare, approve, publish or disburse a run, nor propose or confirm an
--    override: voucher.acting_finance_user() refuses them.
-- 3. The registry is history: enterprise versions, relations, keys,
--    certificates, facilities, overrides, programme versions and calendars
--    are only ever added to.  A correction is a new version; a key's
--    revocation and an override's confirmation are stamps set once.
-- 4. The review chain: approvals of one programme-year are serialized; a
--    draft whose inputs changed after its cut-off is refused, naming what
--    changed; a replaced draft stays, superseded; drafts are returned or
--    discarded with a reason; refused approvals are recorded.

------------------------------------------------------------------ who acts

-- The finance user acting now: a member of voucher_finance, not a superuser.
CREATE FUNCTION voucher.acting_finance_user(p_action text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = session_user AND rolsuper) THEN
		RAISE EXCEPTION '%: refused to the superuser %; superusers administer, finance users % (log in as your own finance user)',
			p_action, session_user, p_action USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF NOT pg_has_role(session_user, 'voucher_finance', 'MEMBER') THEN
		RAISE EXCEPTION '%: % is not a finance user (voucherctl user add NAME --role finance)',
			p_action, session_user USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN session_user;
END
$$;

-- Every registry and programme write holds the ingest barrier shared, as
-- ingest does, so that settle's cut (voucher.ingest_cut) sees every write
-- stamped before it and none after.  A transaction that holds it may not sit
-- idle: it would hold up every cut and, behind the cut, ingest.
CREATE FUNCTION voucher.write_begin() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM set_config('idle_in_transaction_session_timeout', '30s', true);
	PERFORM pg_advisory_xact_lock_shared(7305413);  -- VOUCHER_LOCK_INGEST (common/locks.h)
END
$$;

-- The clean cut through ingest, for settle and checkpoints (replaces taking
-- the barrier's lock by hand, which any role could hold for ever): waits for
-- the ingest and registry transactions in flight (new ones wait behind it),
-- reads the clock while none is in flight, and lets them go.  Everything
-- stamped at or before the returned time (received_at, imported_at,
-- added_at, ...) is committed, and everything after is stamped later; a
-- snapshot taken after this call and filtered on "<= the cut" is exact.
-- Call it outside a transaction, then begin the REPEATABLE READ one.
CREATE FUNCTION voucher.ingest_cut() RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_at timestamptz;
BEGIN
	PERFORM set_config('lock_timeout', '30s', true);
	PERFORM pg_advisory_lock(7305413);  -- VOUCHER_LOCK_INGEST (common/locks.h)
	v_at := clock_timestamp();
	PERFORM pg_advisory_unlock(7305413);  -- VOUCHER_LOCK_INGEST (common/locks.h)
	RETURN v_at;
END
$$;

-- Refuses every UPDATE except setting the stamp columns named in the
-- trigger's arguments from NULL, once: a revocation, a confirmation.
CREATE FUNCTION voucher.refuse_change_but_stamp() RETURNS trigger
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

------------------------------------------------------------------ the registry as history

-- Enterprise versions: every import is kept.  The facts in force for
-- (uscc, valid_from) are those of the newest import; a run sees the imports
-- stamped by its cut-off, so a later correction never changes what an
-- approved run recomputes to.
ALTER TABLE voucher.enterprise_versions DROP CONSTRAINT enterprise_versions_pkey;
ALTER TABLE voucher.enterprise_versions ADD COLUMN id bigserial PRIMARY KEY;
ALTER TABLE voucher.enterprise_versions ADD COLUMN backdated boolean NOT NULL DEFAULT false;
CREATE INDEX enterprise_versions_key ON voucher.enterprise_versions (uscc, valid_from, imported_at);

-- The registry as it stands now: the newest import of each version.
CREATE VIEW voucher.enterprise_registry AS
	SELECT DISTINCT ON (uscc, valid_from) uscc, valid_from, name, division, sme, model_developer,
	       maas_builder, model_registered, foundation_model, credit_blacklisted, performance_grade,
	       imported_at, imported_by, id, backdated
	  FROM voucher.enterprise_versions
	 ORDER BY uscc, valid_from, imported_at DESC, id DESC;

ALTER TABLE voucher.related_parties ADD COLUMN backdated boolean NOT NULL DEFAULT false;

-- Overrides are proposed by one finance user and count from their
-- confirmation by another.  Those stored before this migration were entered
-- whole by one person: they stand as confirmed when added.
ALTER TABLE voucher.overrides ADD COLUMN confirmed_at timestamptz;
ALTER TABLE voucher.overrides ADD COLUMN confirmed_by text;
DROP TRIGGER overrides_append_only ON voucher.overrides;
UPDATE voucher.overrides SET confirmed_at = added_at, confirmed_by = added_by;
CREATE TRIGGER overrides_stamp_once BEFORE UPDATE OR DELETE ON voucher.overrides
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change_but_stamp('confirmed_at', 'confirmed_by');

-- A key is revoked once and stays revoked.
CREATE TRIGGER provider_keys_stamp_once BEFORE UPDATE OR DELETE ON voucher.provider_keys
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change_but_stamp('revoked_at');

-- The official calendar: every load is kept; a year's calendar is its
-- newest load.  calendar_years and calendar_days become views of the loads
-- in force, with the columns they had.
ALTER TABLE voucher.calendar_days DROP CONSTRAINT calendar_days_year_fkey;
ALTER TABLE voucher.calendar_years RENAME TO calendar_loads;
ALTER TABLE voucher.calendar_loads DROP CONSTRAINT calendar_years_pkey;
ALTER TABLE voucher.calendar_loads ADD COLUMN load_id bigserial PRIMARY KEY;
ALTER TABLE voucher.calendar_days RENAME TO calendar_load_days;
ALTER TABLE voucher.calendar_load_days DROP CONSTRAINT calendar_days_pkey;
ALTER TABLE voucher.calendar_load_days ADD COLUMN load_id bigint REFERENCES voucher.calendar_loads(load_id);
UPDATE voucher.calendar_load_days d SET load_id = l.load_id FROM voucher.calendar_loads l WHERE l.year = d.year;
ALTER TABLE voucher.calendar_load_days ALTER COLUMN load_id SET NOT NULL;
ALTER TABLE voucher.calendar_load_days ADD PRIMARY KEY (load_id, day);
CREATE VIEW voucher.calendar_years AS
	SELECT DISTINCT ON (year) year, source, loaded_at, loaded_by, load_id
	  FROM voucher.calendar_loads ORDER BY year, load_id DESC;
CREATE VIEW voucher.calendar_days AS
	SELECT d.day, d.kind, d.name, d.year
	  FROM voucher.calendar_load_days d JOIN voucher.calendar_years y ON y.load_id = d.load_id;

DO $append_only$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['providers', 'provider_certs', 'enterprises', 'enterprise_versions',
				 'related_parties', 'calendar_loads', 'calendar_load_days'] LOOP
		EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON voucher.%I '
			       'FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change()', t || '_append_only', t);
	END LOOP;
	FOREACH t IN ARRAY ARRAY['providers', 'provider_certs', 'provider_keys', 'facilities', 'enterprises',
				 'enterprise_versions', 'related_parties', 'overrides', 'program_versions',
				 'calendar_loads', 'calendar_load_days', 'run_events', 'usage_archives'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ('voucher.' || t)::regclass
			       AND tgname = t || '_no_truncate') THEN
			EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON voucher.%I '
				       'FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change()',
				       t || '_no_truncate', t);
		END IF;
	END LOOP;
END
$append_only$;

------------------------------------------------------------------ runs: the end of a draft

-- A draft ends approved, or superseded (a newer draft of the same
-- programme and period), returned (to its preparer, with a comment) or
-- discarded.  Each is an event; the run and its lines stay, frozen.
ALTER TABLE voucher.run_events DROP CONSTRAINT run_events_event_check;
ALTER TABLE voucher.run_events ADD CONSTRAINT run_events_event_check
	CHECK (event IN ('approved', 'published', 'disbursed', 'superseded', 'returned', 'discarded'));
ALTER TABLE voucher.run_events ADD COLUMN comment text CHECK (length(comment) <= 2000);

-- Approvals that were refused, and why (audit exceptions).
CREATE TABLE voucher.approval_refusals (
	id      bigserial PRIMARY KEY,
	run_id  bigint NOT NULL REFERENCES voucher.runs(run_id),
	at      timestamptz NOT NULL DEFAULT clock_timestamp(),
	by_user text NOT NULL DEFAULT session_user,
	reason  text NOT NULL
);
CREATE TRIGGER approval_refusals_append_only BEFORE UPDATE OR DELETE ON voucher.approval_refusals
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER approval_refusals_no_truncate BEFORE TRUNCATE ON voucher.approval_refusals
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

------------------------------------------------------------------ programme settings

-- One setting of a stored programme file ([section] key = value), read the
-- way settlement/program.c reads it: a comment starts with ';' or '#' at the
-- start of a line or after a space.  NULL when absent.
CREATE FUNCTION voucher.program_setting(p_text text, p_section text, p_key text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v_line    text;
	v_section text := '';
	v_m       text[];
BEGIN
	FOREACH v_line IN ARRAY regexp_split_to_array(p_text, E'\n') LOOP
		v_line := btrim(regexp_replace(v_line, '(^|[ \t])[;#].*$', ''), E' \t\r');
		IF v_line ~ '^\[.*\]$' THEN
			v_section := btrim(substr(v_line, 2, length(v_line) - 2));
		ELSIF v_section = p_section THEN
			v_m := regexp_match(v_line, '^([A-Za-z0-9_]+)[ \t]*=[ \t]*(.*)$');
			IF v_m IS NOT NULL AND v_m[1] = p_key THEN
				RETURN v_m[2];
			END IF;
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;

-- yuan ("8000000", "1.5") to fen
CREATE FUNCTION voucher.yuan_fen(p text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (p::numeric * 100)::bigint $$;

-- The newest version of a programme (NULL: none loaded).
CREATE FUNCTION voucher.program_current(p_program text) RETURNS voucher.program_versions
LANGUAGE sql STABLE SET search_path = voucher, pg_temp AS $$
	SELECT * FROM voucher.program_versions WHERE program = p_program
	 ORDER BY loaded_at DESC, version LIMIT 1
$$;

-- Is a registry or relation change effective from p_from backdated: does
-- an approved run already cover its month?  Returns that run, or NULL.
CREATE FUNCTION voucher.approved_run_covering(p_from date) RETURNS text
LANGUAGE sql STABLE SET search_path = voucher, pg_temp AS $$
	SELECT 'run ' || r.run_id || ' (' || r.program || ', ' || r.period || ')'
	  FROM voucher.runs r JOIN voucher.run_events e ON e.run_id = r.run_id AND e.event = 'approved'
	 WHERE r.period >= to_char(p_from, 'YYYY-MM')
	 ORDER BY r.period, r.run_id LIMIT 1
$$;

CREATE FUNCTION voucher.check_backdate(p_what text, p_from date, p_backdate boolean) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run text := voucher.approved_run_covering(p_from);
BEGIN
	IF v_run IS NOT NULL AND NOT p_backdate THEN
		RAISE EXCEPTION '%: effective from %, a month that approved % already settled; to record it anyway, as a backdated change, pass --backdate',
			p_what, p_from, v_run USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN v_run IS NOT NULL;
END
$$;

------------------------------------------------------------------ registry writes

CREATE FUNCTION voucher.provider_add(p_code text, p_name text, p_uscc text) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM voucher.write_begin();
	RETURN QUERY INSERT INTO voucher.providers (code, name, uscc) VALUES (p_code, p_name, p_uscc)
		ON CONFLICT (code) DO NOTHING RETURNING code;
END
$$;

CREATE FUNCTION voucher.provider_cert_add(p_fingerprint text, p_provider text, p_subject text,
	p_not_after timestamptz, p_pem text) RETURNS SETOF integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM voucher.write_begin();
	IF encode(sha256(decode(regexp_replace(regexp_replace(p_pem, '-----[A-Z ]+-----', '', 'g'), '\s', '', 'g'),
				'base64')), 'hex') <> p_fingerprint THEN
		RAISE EXCEPTION 'provider cert add: the fingerprint is not the SHA-256 of the certificate'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY INSERT INTO voucher.provider_certs (fingerprint, provider, subject, not_after, pem)
		VALUES (p_fingerprint, p_provider, p_subject, p_not_after, p_pem)
		ON CONFLICT (fingerprint) DO NOTHING RETURNING 1;
END
$$;

CREATE FUNCTION voucher.provider_key_add(p_provider text, p_key_id text, p_alg text, p_pem text,
	p_valid_from timestamptz, p_valid_to timestamptz)
RETURNS TABLE (valid_from timestamptz, valid_to timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM voucher.write_begin();
	RETURN QUERY INSERT INTO voucher.provider_keys AS k (provider, key_id, alg, public_pem, valid_from, valid_to)
		VALUES (p_provider, p_key_id, p_alg, p_pem, coalesce(p_valid_from, now()), p_valid_to)
		ON CONFLICT (provider, key_id) DO NOTHING RETURNING k.valid_from, k.valid_to;
END
$$;

-- Revocation takes the ingest barrier exclusively: the batches in flight
-- commit first (received before the revocation), every later one sees it.
CREATE FUNCTION voucher.provider_key_revoke(p_provider text, p_key_id text) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_at timestamptz;
BEGIN
	PERFORM set_config('idle_in_transaction_session_timeout', '30s', true);
	PERFORM set_config('lock_timeout', '30s', true);
	PERFORM pg_advisory_xact_lock(7305413);  -- VOUCHER_LOCK_INGEST (common/locks.h)
	UPDATE voucher.provider_keys SET revoked_at = clock_timestamp()
	 WHERE provider = p_provider AND key_id = p_key_id AND revoked_at IS NULL
	RETURNING revoked_at INTO v_at;
	RETURN v_at;
END
$$;

CREATE FUNCTION voucher.facility_add(p_provider text, p_facility text, p_division text, p_class text)
RETURNS SETOF integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM voucher.write_begin();
	RETURN QUERY INSERT INTO voucher.facilities (provider, facility, division, class)
		VALUES (p_provider, p_facility, p_division, p_class)
		ON CONFLICT (provider, facility) DO NOTHING RETURNING 1;
END
$$;

-- Imports the rows of the caller's pg_temp.enterprise_import (made by
-- voucherctl enterprise import, and granted to voucher_owner for this
-- call): new enterprises, and a new version wherever the facts differ from
-- the version in force for (uscc, valid_from).
CREATE FUNCTION voucher.enterprise_import(p_backdate boolean)
RETURNS TABLE (added bigint, versions bigint, backdated bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_today date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
	v_from  date;
BEGIN
	PERFORM voucher.write_begin();
	CREATE TEMP TABLE enterprise_import_new ON COMMIT DROP AS
	SELECT i.line, i.uscc, coalesce(i.valid_from, v_today) AS valid_from, i.name, i.division, i.sme,
	       i.model_developer, i.maas_builder, i.model_registered, i.foundation_model,
	       i.credit_blacklisted, i.performance_grade
	  FROM pg_temp.enterprise_import i
	 WHERE NOT EXISTS (SELECT 1 FROM voucher.enterprise_registry v
			    WHERE v.uscc = i.uscc AND v.valid_from = coalesce(i.valid_from, v_today)
			      AND (v.name, v.division, v.sme, v.model_developer, v.maas_builder, v.model_registered,
				   v.foundation_model, v.credit_blacklisted, v.performance_grade)
				  IS NOT DISTINCT FROM
				  (i.name, i.division, i.sme, i.model_developer, i.maas_builder, i.model_registered,
				   i.foundation_model, i.credit_blacklisted, i.performance_grade));
	SELECT min(n.valid_from) INTO v_from FROM pg_temp.enterprise_import_new n
	 WHERE voucher.approved_run_covering(n.valid_from) IS NOT NULL;
	IF v_from IS NOT NULL THEN
		PERFORM voucher.check_backdate('enterprise import', v_from, p_backdate);
	END IF;
	WITH ins AS (INSERT INTO voucher.enterprises (uscc)
		     SELECT uscc FROM pg_temp.enterprise_import ORDER BY line
		     ON CONFLICT (uscc) DO NOTHING RETURNING 1)
	SELECT count(*) INTO added FROM ins;
	WITH ins AS (INSERT INTO voucher.enterprise_versions (uscc, valid_from, name, division, sme,
			     model_developer, maas_builder, model_registered, foundation_model,
			     credit_blacklisted, performance_grade, backdated)
		     SELECT n.uscc, n.valid_from, n.name, n.division, n.sme, n.model_developer, n.maas_builder,
			    n.model_registered, n.foundation_model, n.credit_blacklisted, n.performance_grade,
			    voucher.approved_run_covering(n.valid_from) IS NOT NULL
		       FROM pg_temp.enterprise_import_new n ORDER BY n.line
		     RETURNING enterprise_versions.backdated)
	SELECT count(*), count(*) FILTER (WHERE ins.backdated) INTO versions, backdated FROM ins;
	DROP TABLE pg_temp.enterprise_import_new;
	RETURN NEXT;
END
$$;

-- 关联方: a relation counts for every record of the enterprise, past ones
-- included, so once any run is approved it is a backdated change.
CREATE FUNCTION voucher.relate(p_uscc text, p_provider text, p_backdate boolean) RETURNS SETOF integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run text := voucher.approved_run_covering('0001-01-01');
BEGIN
	PERFORM voucher.write_begin();
	IF EXISTS (SELECT 1 FROM voucher.related_parties WHERE uscc = p_uscc AND provider = p_provider) THEN
		RETURN;
	END IF;
	IF v_run IS NOT NULL AND NOT p_backdate THEN
		RAISE EXCEPTION 'enterprise relate: a relation counts for every record of the enterprise, and approved % already settled some; to record it anyway, as a backdated change, pass --backdate',
			v_run USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY INSERT INTO voucher.related_parties (uscc, provider, backdated)
		VALUES (p_uscc, p_provider, v_run IS NOT NULL) ON CONFLICT (uscc, provider) DO NOTHING RETURNING 1;
END
$$;

-- A programme file, stored whole; its version is the SHA-256 of its text,
-- computed here, and the time of loading is the database's.
CREATE FUNCTION voucher.program_load(p_program text, p_text text)
RETURNS TABLE (version text, added boolean, loaded text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_version text := encode(sha256(convert_to(p_text, 'UTF8')), 'hex');
	v_n       integer;
BEGIN
	PERFORM voucher.write_begin();
	IF voucher.program_setting(p_text, 'program', 'id') IS DISTINCT FROM p_program THEN
		RAISE EXCEPTION 'program load: the file''s [program] id is not %', p_program
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO voucher.program_versions (version, program, text) VALUES (v_version, p_program, p_text)
		ON CONFLICT ON CONSTRAINT program_versions_pkey DO NOTHING;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN QUERY SELECT v_version, v_n = 1,
		(SELECT pv.program || ' at ' || to_char(pv.loaded_at, 'YYYY-MM-DD HH24:MI:SS')
		   FROM voucher.program_versions pv WHERE pv.version = v_version);
END
$$;

-- A new load of one year of the official calendar (p_days: 'YYYY-MM-DD',
-- p_kinds: holiday | workday, p_names).  The newest load is in force.
CREATE FUNCTION voucher.calendar_load(p_year integer, p_source text, p_days date[], p_kinds text[],
	p_names text[]) RETURNS TABLE (previous text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_load bigint;
BEGIN
	PERFORM voucher.write_begin();
	PERFORM pg_advisory_xact_lock(hashtext('voucher.calendar_years'), p_year);
	IF array_length(p_days, 1) IS DISTINCT FROM array_length(p_kinds, 1)
	   OR array_length(p_days, 1) IS DISTINCT FROM array_length(p_names, 1) THEN
		RAISE EXCEPTION 'calendar load: days, kinds and names differ in length' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM unnest(p_days) d WHERE extract(year FROM d) <> p_year) THEN
		RAISE EXCEPTION 'calendar load: a day is outside %', p_year USING ERRCODE = 'invalid_parameter_value';
	END IF;
	previous := (SELECT to_char(y.loaded_at, 'YYYY-MM-DD HH24:MI:SS') || ' by ' || y.loaded_by
		       FROM voucher.calendar_years y WHERE y.year = p_year);
	INSERT INTO voucher.calendar_loads (year, source) VALUES (p_year, p_source) RETURNING load_id INTO v_load;
	INSERT INTO voucher.calendar_load_days (load_id, day, kind, name, year)
	SELECT v_load, d, k, n, p_year FROM unnest(p_days, p_kinds, p_names) AS t(d, k, n);
	RETURN NEXT;
END
$$;

------------------------------------------------------------------ overrides

-- Checks an override against its programme (the version in force) and
-- the registry: the ceilings of the file's [overrides] section, and for a
-- programme whose overrides need a flag (Hangzhou: foundation_model) that
-- the enterprise holds it in the version in force today, and that a cap
-- only raises the programme's cap when the file says so.
CREATE FUNCTION voucher.override_check(p_program text, p_enterprise text, p_rate integer, p_cap bigint)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = voucher, pg_temp AS $$
DECLARE
	v_text  text := (voucher.program_current(p_program)).text;
	v_rate  text;
	v_cap   text;
	v_flag  text;
	v_raise text;
	v_has   boolean;
BEGIN
	IF v_text IS NULL THEN
		RAISE EXCEPTION 'override: programme % is not loaded', p_program USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_rate := voucher.program_setting(v_text, 'overrides', 'max_rate_bp');
	v_cap := voucher.program_setting(v_text, 'overrides', 'max_cap_yuan');
	v_flag := voucher.program_setting(v_text, 'overrides', 'requires_flag');
	v_raise := voucher.program_setting(v_text, 'overrides', 'cap_raise_only');
	IF p_rate IS NOT NULL AND v_rate IS NULL THEN
		RAISE EXCEPTION 'override: programme % allows no rate overrides', p_program USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_rate IS NOT NULL AND p_rate > v_rate::integer THEN
		RAISE EXCEPTION 'override: % bp is above programme %''s ceiling of % bp', p_rate, p_program, v_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_cap IS NOT NULL AND v_cap IS NULL THEN
		RAISE EXCEPTION 'override: programme % allows no cap overrides', p_program USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_cap IS NOT NULL AND v_cap <> 'unlimited' AND p_cap > voucher.yuan_fen(v_cap) THEN
		RAISE EXCEPTION 'override: a cap of % yuan is above programme %''s ceiling of % yuan',
			to_char(p_cap / 100.0, 'FM999999999990.00'), p_program, v_cap USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_raise = 'yes' AND p_cap IS NOT NULL
	   AND p_cap <= voucher.yuan_fen(voucher.program_setting(v_text, 'caps', 'cap')) THEN
		RAISE EXCEPTION 'override: programme % only raises the cap above its % yuan; a cap of % yuan is refused',
			p_program, voucher.program_setting(v_text, 'caps', 'cap'), to_char(p_cap / 100.0, 'FM999999999990.00')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_flag IS NOT NULL THEN
		IF v_flag NOT IN ('sme', 'model_developer', 'maas_builder', 'model_registered', 'foundation_model') THEN
			RAISE EXCEPTION 'override: programme % requires the unknown flag %', p_program, v_flag;
		END IF;
		EXECUTE format('SELECT %I FROM voucher.enterprise_registry WHERE uscc = $1 AND valid_from <= $2 '
			       'ORDER BY valid_from DESC LIMIT 1', v_flag)
			INTO v_has USING p_enterprise, (now() AT TIME ZONE 'Asia/Shanghai')::date;
		IF v_has IS NOT TRUE THEN
			RAISE EXCEPTION 'override: programme % takes overrides only for enterprises flagged %, and % is not (in the registry version in force today)',
				p_program, v_flag, p_enterprise USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;
END
$$;

CREATE FUNCTION voucher.override_propose(p_program text, p_enterprise text, p_year integer, p_rate integer,
	p_cap bigint, p_ref text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_id bigint;
BEGIN
	PERFORM voucher.acting_finance_user('override propose');
	PERFORM voucher.write_begin();
	IF NOT EXISTS (SELECT 1 FROM voucher.enterprises WHERE uscc = p_enterprise) THEN
		RAISE EXCEPTION 'override propose: enterprise % is not registered', p_enterprise
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM voucher.override_check(p_program, p_enterprise, p_rate, p_cap);
	INSERT INTO voucher.overrides (program, enterprise, year, rate_bp, cap_fen, ref)
	VALUES (p_program, p_enterprise, p_year, p_rate, p_cap, p_ref) RETURNING id INTO v_id;
	RETURN v_id;
END
$$;

-- Confirmation by a finance user other than the proposer; the checks run
-- again against the programme and registry in force now.
CREATE FUNCTION voucher.override_confirm(p_id bigint) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_o  voucher.overrides;
	v_at timestamptz;
BEGIN
	PERFORM voucher.acting_finance_user('override confirm');
	PERFORM voucher.write_begin();
	SELECT * INTO v_o FROM voucher.overrides WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'override confirm: there is no override %', p_id USING ERRCODE = 'no_data_found';
	END IF;
	IF v_o.confirmed_at IS NOT NULL THEN
		RAISE EXCEPTION 'override confirm: override % was confirmed at % by %', p_id, v_o.confirmed_at,
			v_o.confirmed_by USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_o.added_by = session_user THEN
		RAISE EXCEPTION 'override confirm: override % was proposed by %: another finance user must confirm it',
			p_id, session_user USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM voucher.override_check(v_o.program, v_o.enterprise, v_o.rate_bp, v_o.cap_fen);
	v_at := clock_timestamp();
	UPDATE voucher.overrides SET confirmed_at = v_at, confirmed_by = session_user WHERE id = p_id;
	RETURN v_at;
END
$$;

------------------------------------------------------------------ runs

-- Stores a draft computed by voucherctl settle from the cut p_cutoff (taken
-- with voucher.ingest_cut), superseding the earlier draft of the same
-- programme and period.  What the database can check without the engine it
-- checks: who prepares, that the month has ended, that the programme version
-- is the one in force, the cut's age, that every line's granted_before is
-- what approved runs granted, and each line's and the totals' arithmetic.
-- The engine's amounts are checked by the approver's recomputation and by
-- audit verify.
CREATE FUNCTION voucher.run_store(p_program text, p_version text, p_period text, p_as_of date,
	p_cutoff timestamptz, p_pool_left bigint, p_total_payable bigint, p_total_recovered bigint,
	p_total_asked bigint, p_uscc text[], p_enterprise text[], p_division text[], p_eligible bigint[],
	p_entitlement bigint[], p_cap bigint[], p_granted_before bigint[], p_difference bigint[],
	p_payable bigint[], p_status text[], p_note text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run  bigint;
	v_n    integer := coalesce(array_length(p_uscc, 1), 0);
	v_year integer := left(p_period, 4)::integer;
	v_bad  record;
BEGIN
	PERFORM voucher.acting_finance_user('settle');
	PERFORM voucher.period_ended(p_period);
	IF (voucher.program_current(p_program)).version IS DISTINCT FROM p_version THEN
		RAISE EXCEPTION 'settle: programme version %.12s is not the version of % in force (a new version was loaded meanwhile?); settle again',
			p_version, p_program USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_cutoff > clock_timestamp() OR p_cutoff < clock_timestamp() - interval '6 hours' THEN
		RAISE EXCEPTION 'settle: the cut-off % is not of the last six hours', p_cutoff
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_as_of <> (p_cutoff AT TIME ZONE 'Asia/Shanghai')::date THEN
		RAISE EXCEPTION 'settle: the run''s date % is not the date of its cut-off', p_as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_n <> coalesce(array_length(p_enterprise, 1), 0) OR v_n <> coalesce(array_length(p_division, 1), 0)
	   OR v_n <> coalesce(array_length(p_eligible, 1), 0) OR v_n <> coalesce(array_length(p_entitlement, 1), 0)
	   OR v_n <> coalesce(array_length(p_cap, 1), 0) OR v_n <> coalesce(array_length(p_granted_before, 1), 0)
	   OR v_n <> coalesce(array_length(p_difference, 1), 0) OR v_n <> coalesce(array_length(p_payable, 1), 0)
	   OR v_n <> coalesce(array_length(p_status, 1), 0) OR v_n <> coalesce(array_length(p_note, 1), 0) THEN
		RAISE EXCEPTION 'settle: the line arrays differ in length' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	CREATE TEMP TABLE run_store_lines ON COMMIT DROP AS
	SELECT * FROM unnest(p_uscc, p_enterprise, p_division, p_eligible, p_entitlement, p_cap, p_granted_before,
			     p_difference, p_payable, p_status, p_note)
		AS t(uscc, enterprise, division, eligible, entitlement, cap, granted_before, difference,
		     payable, status, note);
	SELECT l.uscc, l.granted_before, coalesce(g.granted, 0) AS granted INTO v_bad
	  FROM pg_temp.run_store_lines l
	  LEFT JOIN (SELECT gr.uscc, sum(gr.amount_fen) AS granted FROM voucher.grants gr
		      WHERE gr.program = p_program AND gr.year = v_year GROUP BY gr.uscc) g ON g.uscc = l.uscc
	 WHERE l.granted_before IS DISTINCT FROM coalesce(g.granted, 0) LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'settle: % was granted % fen in % by approved runs, the draft says %; settle again',
			v_bad.uscc, v_bad.granted, v_year, v_bad.granted_before USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT l.uscc INTO v_bad FROM pg_temp.run_store_lines l
	 WHERE l.eligible < 0 OR l.entitlement < 0 OR l.cap < 0
	    OR l.difference IS DISTINCT FROM least(l.entitlement, l.cap) - l.granted_before
	    OR (l.payable > 0 AND (l.status <> 'payable' OR l.payable > l.difference))
	    OR (l.payable < 0 AND (l.status <> 'recovery' OR l.payable <> l.difference))
	    OR (l.payable = 0 AND l.status NOT IN ('withheld', 'none'))
	    OR l.payable IS NULL OR l.status IS NULL
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'settle: the line of % does not add up (entitlement, cap, granted before, difference, payable, status)',
			v_bad.uscc USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (SELECT coalesce(sum(payable) FILTER (WHERE payable > 0), 0) FROM pg_temp.run_store_lines) <> p_total_payable
	   OR (SELECT coalesce(sum(payable) FILTER (WHERE payable < 0), 0) FROM pg_temp.run_store_lines) <> p_total_recovered THEN
		RAISE EXCEPTION 'settle: the totals are not the sums of the lines' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO voucher.runs (program, program_version, period, as_of, data_cutoff, pool_left_fen,
				  total_payable, total_recovered, total_asked, lines)
	VALUES (p_program, p_version, p_period, p_as_of, p_cutoff, p_pool_left, p_total_payable,
		p_total_recovered, p_total_asked, v_n)
	RETURNING run_id INTO v_run;
	INSERT INTO voucher.run_lines (run_id, uscc, enterprise, division, eligible_amount_ytd, entitlement_ytd, cap,
				       granted_before, difference, payable, status, note)
	SELECT v_run, uscc, enterprise, division, eligible, entitlement, cap, granted_before, difference, payable,
	       status, note FROM pg_temp.run_store_lines;
	DROP TABLE pg_temp.run_store_lines;
	-- the earlier drafts of the programme and period: superseded, kept
	INSERT INTO voucher.run_events (run_id, event, comment)
	SELECT r.run_id, 'superseded', 'replaced by run ' || v_run
	  FROM voucher.runs r
	 WHERE r.program = p_program AND r.period = p_period AND r.run_id <> v_run
	   AND NOT EXISTS (SELECT 1 FROM voucher.run_events e WHERE e.run_id = r.run_id);
	RETURN v_run;
END
$$;

-- A month is settled once it has ended in China time.
CREATE FUNCTION voucher.period_ended(p_period text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF p_period !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' THEN
		RAISE EXCEPTION 'period % is not YYYY-MM', p_period USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF ((p_period || '-01')::date + interval '1 month')::date > (now() AT TIME ZONE 'Asia/Shanghai')::date THEN
		RAISE EXCEPTION '% has not ended yet in China time (UTC+8): settle it from the first day of the next month',
			p_period USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- A draft's state: NULL while it is a draft, else the event that ended it.
CREATE FUNCTION voucher.run_ended(p_run bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = voucher, pg_temp AS $$
	SELECT e.event FROM voucher.run_events e WHERE e.run_id = p_run
	 ORDER BY CASE e.event WHEN 'approved' THEN 0 ELSE 1 END LIMIT 1
$$;

-- What changed since a draft's cut-off that a new settle would see: the
-- reason a stale draft may not be approved, or NULL.
CREATE FUNCTION voucher.run_stale(p_run bigint) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run  voucher.runs;
	v_what text[] := '{}';
	v_year integer;
BEGIN
	SELECT * INTO v_run FROM voucher.runs WHERE run_id = p_run;
	v_year := left(v_run.period, 4)::integer;
	IF EXISTS (SELECT 1 FROM voucher.enterprise_versions WHERE imported_at > v_run.data_cutoff)
	   OR EXISTS (SELECT 1 FROM voucher.enterprises WHERE first_seen > v_run.data_cutoff) THEN
		v_what := v_what || 'registry (enterprise versions imported since)'::text;
	END IF;
	IF EXISTS (SELECT 1 FROM voucher.facilities WHERE added_at > v_run.data_cutoff) THEN
		v_what := v_what || 'registry (facilities added since)'::text;
	END IF;
	IF EXISTS (SELECT 1 FROM voucher.related_parties WHERE added_at > v_run.data_cutoff) THEN
		v_what := v_what || 'relations (related parties added since)'::text;
	END IF;
	IF EXISTS (SELECT 1 FROM voucher.overrides WHERE confirmed_at > v_run.data_cutoff
		   AND program = v_run.program AND year = v_year) THEN
		v_what := v_what || 'overrides (confirmed since)'::text;
	END IF;
	IF EXISTS (SELECT 1 FROM voucher.program_versions WHERE loaded_at > v_run.data_cutoff) THEN
		v_what := v_what || 'programme version (a programme was loaded since)'::text;
	END IF;
	IF EXISTS (SELECT 1 FROM voucher.runs r JOIN voucher.run_events e ON e.run_id = r.run_id AND e.event = 'approved'
		    WHERE r.program = v_run.program AND left(r.period, 4) = left(v_run.period, 4)
		      AND e.at > v_run.data_cutoff) THEN
		v_what := v_what || ('grants (another run of ' || v_run.program || ' in ' || v_year || ' was approved since)');
	END IF;
	IF cardinality(v_what) = 0 THEN
		RETURN NULL;
	END IF;
	RETURN 'its inputs changed after its cut-off ' || to_char(v_run.data_cutoff AT TIME ZONE 'Asia/Shanghai',
		'YYYY-MM-DD HH24:MI:SS') || ' (China time): ' || array_to_string(v_what, '; ') || '; settle again';
END
$$;

-- Approval by a finance user other than the preparer.  Approvals of one
-- programme-year are serialized; a refusal is recorded and returned
-- (refused), not raised, so that it stays on record.
DROP FUNCTION voucher.run_approve(bigint);
CREATE FUNCTION voucher.run_approve(p_run bigint, p_comment text DEFAULT NULL)
RETURNS TABLE (approved_by text, refused text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run    voucher.runs;
	v_ended  text;
	v_reason text;
BEGIN
	PERFORM voucher.acting_finance_user('run approve');
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'run approve: call it in a READ COMMITTED transaction, so that it sees the approvals before it'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_run FROM voucher.runs WHERE run_id = p_run;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'no_data_found';
	END IF;
	-- one approval of a programme-year at a time: the second waits, then sees the first
	PERFORM pg_advisory_xact_lock(hashtextextended('approve ' || v_run.program || ' ' || left(v_run.period, 4), 0));
	PERFORM 1 FROM voucher.runs WHERE run_id = p_run FOR UPDATE;
	v_ended := voucher.run_ended(p_run);
	IF v_ended IS NOT NULL THEN
		v_reason := format('run %s is not a draft: it was %s', p_run, v_ended);
	ELSIF v_run.prepared_by = session_user THEN
		v_reason := format('run %s was prepared by %s: another user must approve it (a finance user)', p_run, session_user);
	ELSIF EXISTS (SELECT 1 FROM voucher.runs r JOIN voucher.run_events e ON e.run_id = r.run_id
		       AND e.event = 'approved'
		       WHERE r.program = v_run.program AND left(r.period, 4) = left(v_run.period, 4)
			 AND r.period > v_run.period) THEN
		v_reason := format('run %s: a later month of %s in %s is already approved; settle that month again instead',
				   p_run, v_run.program, left(v_run.period, 4));
	ELSE
		v_reason := voucher.run_stale(p_run);
		IF v_reason IS NOT NULL THEN
			v_reason := format('run %s: %s', p_run, v_reason);
		END IF;
	END IF;
	IF v_reason IS NOT NULL THEN
		INSERT INTO voucher.approval_refusals (run_id, reason) VALUES (p_run, v_reason);
		RETURN QUERY SELECT NULL::text, v_reason;
		RETURN;
	END IF;
	INSERT INTO voucher.run_events (run_id, event, comment) VALUES (p_run, 'approved', p_comment);
	INSERT INTO voucher.grants (run_id, program, year, uscc, amount_fen)
	SELECT p_run, v_run.program, left(v_run.period, 4)::integer, l.uscc, l.payable
	  FROM voucher.run_lines l WHERE l.run_id = p_run AND l.payable <> 0;
	RETURN QUERY SELECT session_user::text, NULL::text;
END
$$;

-- A draft ended without approval: returned to its preparer with a comment
-- (审核意见), or discarded; either way it stays, frozen, with the reason.
CREATE FUNCTION voucher.run_end(p_run bigint, p_event text, p_comment text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_ended text;
BEGIN
	PERFORM voucher.acting_finance_user('run ' || CASE p_event WHEN 'returned' THEN 'return' ELSE 'discard' END);
	IF p_event NOT IN ('returned', 'discarded') THEN
		RAISE EXCEPTION 'run_end: % is not returned or discarded', p_event USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_event = 'returned' AND (p_comment IS NULL OR btrim(p_comment) = '') THEN
		RAISE EXCEPTION 'run return: a comment saying why is required' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM 1 FROM voucher.runs WHERE run_id = p_run FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'no_data_found';
	END IF;
	v_ended := voucher.run_ended(p_run);
	IF v_ended IS NOT NULL THEN
		RAISE EXCEPTION 'run % is not a draft: it was %', p_run, v_ended USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO voucher.run_events (run_id, event, comment) VALUES (p_run, p_event, p_comment);
END
$$;

CREATE OR REPLACE FUNCTION voucher.run_publish(p_run bigint) RETURNS date
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_ends date;
BEGIN
	PERFORM voucher.acting_finance_user('run publish');
	IF NOT EXISTS (SELECT 1 FROM voucher.run_events WHERE run_id = p_run AND event = 'approved') THEN
		RAISE EXCEPTION 'run % is not approved: approve it first', p_run
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM voucher.run_events WHERE run_id = p_run AND event = 'published') THEN
		RAISE EXCEPTION 'run % is already published', p_run USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_ends := voucher.add_workdays((now() AT TIME ZONE 'Asia/Shanghai')::date, 5);
	INSERT INTO voucher.run_events (run_id, event, notice_ends) VALUES (p_run, 'published', v_ends);
	RETURN v_ends;
END
$$;

CREATE OR REPLACE FUNCTION voucher.run_disburse(p_run bigint, p_ref text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_ends date;
BEGIN
	PERFORM voucher.acting_finance_user('run disburse');
	SELECT notice_ends INTO v_ends FROM voucher.run_events WHERE run_id = p_run AND event = 'published';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % is not published: publish it and wait for the notice to end', p_run
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (now() AT TIME ZONE 'Asia/Shanghai')::date <= v_ends THEN
		RAISE EXCEPTION 'run %: the public notice runs until % (5 working days); disburse after it', p_run, v_ends
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM voucher.run_events WHERE run_id = p_run AND event = 'disbursed') THEN
		RAISE EXCEPTION 'run % is already disbursed', p_run USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_ref IS NULL OR length(p_ref) NOT BETWEEN 1 AND 200 THEN
		RAISE EXCEPTION 'a payment reference of 1 to 200 characters is required' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO voucher.run_events (run_id, event, payment_ref) VALUES (p_run, 'disbursed', p_ref);
END
$$;

------------------------------------------------------------------ audit views

-- columns are only ever added to the audit views
CREATE OR REPLACE VIEW audit.runs AS
	SELECT r.run_id, r.program, r.period,
	       CASE WHEN d.run_id IS NOT NULL THEN 'disbursed' WHEN p.run_id IS NOT NULL THEN 'published'
		    WHEN a.run_id IS NOT NULL THEN 'approved' WHEN x.run_id IS NOT NULL THEN x.event
		    ELSE 'draft' END AS status, r.prepared_by,
	       a.by_user AS approved_by, r.program_version, r.prepared_at AS created_at,
	       a.at AS approved_at, p.at AS published_at, p.notice_ends, d.at AS disbursed_at,
	       d.payment_ref, r.as_of, r.data_cutoff, r.total_payable, r.total_recovered,
	       r.prepared_at, r.pool_left_fen, r.total_asked, r.lines,
	       a.comment AS approval_comment, x.at AS ended_at, x.by_user AS ended_by, x.comment AS end_comment
	  FROM voucher.runs r
	  LEFT JOIN voucher.run_events a ON a.run_id = r.run_id AND a.event = 'approved'
	  LEFT JOIN voucher.run_events p ON p.run_id = r.run_id AND p.event = 'published'
	  LEFT JOIN voucher.run_events d ON d.run_id = r.run_id AND d.event = 'disbursed'
	  LEFT JOIN voucher.run_events x ON x.run_id = r.run_id AND x.event IN ('superseded', 'returned', 'discarded');

CREATE OR REPLACE VIEW audit.run_events AS
	SELECT run_id, event, at, by_user, notice_ends, payment_ref, comment FROM voucher.run_events;

CREATE OR REPLACE VIEW audit.overrides AS
	SELECT id, program, enterprise, year, rate_bp, cap_fen, ref, added_at, added_by, confirmed_at, confirmed_by
	  FROM voucher.overrides;

CREATE OR REPLACE VIEW audit.enterprise_versions AS
	SELECT uscc, valid_from, name, division, sme, model_developer, maas_builder, model_registered,
	       foundation_model, credit_blacklisted, performance_grade, imported_at, imported_by, id, backdated
	  FROM voucher.enterprise_versions;

CREATE OR REPLACE VIEW audit.related_parties AS
	SELECT uscc, provider, added_at, added_by, backdated FROM voucher.related_parties;

CREATE VIEW audit.approval_refusals AS
	SELECT id, run_id, at, by_user, reason FROM voucher.approval_refusals;

-- Acts of superusers on the registry, programmes and overrides: they may
-- administer, and every such act is listed.
CREATE VIEW audit.superuser_acts AS
	SELECT w.at, w.by_user, w.what, w.detail
	  FROM (SELECT created_at AS at, created_by AS by_user, 'provider add' AS what, code AS detail
		  FROM voucher.providers
		UNION ALL SELECT added_at, added_by, 'provider cert add', provider || ' ' || fingerprint FROM voucher.provider_certs
		UNION ALL SELECT added_at, added_by, 'provider key add', provider || ' ' || key_id FROM voucher.provider_keys
		UNION ALL SELECT added_at, added_by, 'provider facility add', provider || ' ' || facility FROM voucher.facilities
		UNION ALL SELECT imported_at, imported_by, 'enterprise version', uscc || ' from ' || valid_from
		  FROM voucher.enterprise_versions
		UNION ALL SELECT added_at, added_by, 'enterprise relate', uscc || ' ~ ' || provider FROM voucher.related_parties
		UNION ALL SELECT loaded_at, loaded_by, 'program load', program || ' ' || left(version, 12)
		  FROM voucher.program_versions
		UNION ALL SELECT added_at, added_by, 'override', id || ' ' || program || ' ' || enterprise FROM voucher.overrides
		UNION ALL SELECT loaded_at, loaded_by, 'calendar load', year::text FROM voucher.calendar_loads) w
	  JOIN pg_roles ro ON ro.rolname = w.by_user AND ro.rolsuper;

-- Usage from credit codes that are not registered, by month and provider:
-- metered, never settled.
CREATE VIEW audit.unregistered_usage AS
	SELECT to_char(u.ended_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month, u.provider,
	       count(DISTINCT u.enterprise) AS enterprises, count(*) AS records, sum(u.amount_fen) AS amount_fen
	  FROM voucher.usage_records u
	 WHERE NOT EXISTS (SELECT 1 FROM voucher.enterprises e WHERE e.uscc = u.enterprise)
	 GROUP BY 1, 2;

GRANT SELECT ON audit.approval_refusals, audit.superuser_acts, audit.unregistered_usage
	TO voucher_auditor, voucher_finance;
GRANT SELECT ON voucher.enterprise_registry, voucher.calendar_years, voucher.calendar_days TO voucher_finance;

------------------------------------------------------------------ privileges

-- Nobody but the owner writes a table; finance and the auditor read.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA voucher
	FROM PUBLIC, voucher_finance, voucher_ingest, voucher_auditor;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA audit
	FROM PUBLIC, voucher_finance, voucher_ingest, voucher_auditor;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA voucher FROM PUBLIC, voucher_finance, voucher_ingest, voucher_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA voucher TO voucher_finance;
ALTER DEFAULT PRIVILEGES FOR ROLE voucher_owner IN SCHEMA voucher REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE voucher_owner IN SCHEMA audit REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Functions: none for PUBLIC.  Those that run with the caller's rights
-- (helpers) may be called by the staff roles; those that run with the
-- owner's are granted one by one.
DO $grants$
DECLARE
	f regprocedure;
	d boolean;
BEGIN
	FOR f, d IN SELECT p.oid::regprocedure, p.prosecdef FROM pg_proc p
		  WHERE p.pronamespace = 'voucher'::regnamespace AND p.proowner = 'voucher_owner'::regrole
		    AND p.prokind = 'f' LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
		IF NOT d THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO voucher_finance, voucher_auditor', f);
		END IF;
	END LOOP;
END
$grants$;
-- ...except the ledger writers, which only the approval trigger uses
REVOKE EXECUTE ON FUNCTION voucher.ledger_head, voucher.ledger_append, voucher.ledger_post,
	voucher.ledger_post_run, voucher.usage_partition_guard, voucher.write_begin
	FROM voucher_finance, voucher_auditor;

GRANT EXECUTE ON FUNCTION voucher.ingest_batch, voucher.ingest_registry, voucher.batch_answer TO voucher_ingest;
GRANT EXECUTE ON FUNCTION voucher.ingest_cut() TO voucher_finance, voucher_auditor;
GRANT EXECUTE ON FUNCTION voucher.provider_add, voucher.provider_cert_add, voucher.provider_key_add,
	voucher.provider_key_revoke, voucher.facility_add, voucher.enterprise_import, voucher.relate,
	voucher.program_load, voucher.calendar_load, voucher.override_propose, voucher.override_confirm,
	voucher.run_store, voucher.run_approve, voucher.run_end, voucher.run_publish, voucher.run_disburse,
	voucher.usage_partitions_ensure, voucher.usage_partition_detach, voucher.usage_partitions,
	voucher.ledger_set_alg, voucher.acting_finance_user TO voucher_finance;
GRANT EXECUTE ON FUNCTION voucher.usage_partitions TO voucher_auditor;

-- The cut for auditors (audit checkpoint), who have no rights in schema voucher.
CREATE FUNCTION audit.ingest_cut() RETURNS timestamptz
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$ SELECT voucher.ingest_cut() $$;
REVOKE ALL ON FUNCTION audit.ingest_cut() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.ingest_cut() TO voucher_auditor, voucher_finance;
