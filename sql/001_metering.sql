-- The metering schema: registry, stored batches, usage records, the ingest
-- functions the daemon calls, and the first audit views.
-- Runs as voucher_owner (see 000_roles.sql), inside the migration transaction.

CREATE SCHEMA IF NOT EXISTS voucher;
CREATE SCHEMA audit;
REVOKE ALL ON SCHEMA voucher FROM PUBLIC;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;

-- Refuses UPDATE, DELETE and TRUNCATE: stored evidence is append only, for
-- every role, the owner included.  Corrections are new rows.
CREATE FUNCTION voucher.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'voucher: % on %.% is refused: this table is append only',
		TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege';
END
$$;

------------------------------------------------------------------ registry

CREATE TABLE voucher.providers (
	code        text PRIMARY KEY CHECK (code ~ '^[!-~]{1,64}$'),
	name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	uscc        text NOT NULL CHECK (uscc ~ '^[0-9A-HJ-NP-RTUW-Y]{18}$'),
	created_at  timestamptz NOT NULL DEFAULT now(),
	created_by  text NOT NULL DEFAULT session_user
);

-- A provider's TLS client certificates, identified by SHA-256 fingerprint of the DER.
CREATE TABLE voucher.provider_certs (
	fingerprint text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
	provider    text NOT NULL REFERENCES voucher.providers(code),
	subject     text NOT NULL,
	not_after   timestamptz NOT NULL,
	pem         text NOT NULL,
	added_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	added_by    text NOT NULL DEFAULT session_user
);

-- A provider's batch-signing keys.  revoked_at set once; a revoked key signs nothing.
CREATE TABLE voucher.provider_keys (
	provider    text NOT NULL REFERENCES voucher.providers(code),
	key_id      text NOT NULL CHECK (key_id ~ '^[!-~]{1,128}$'),
	alg         text NOT NULL CHECK (alg IN ('ed25519', 'sm2-sm3')),
	public_pem  text NOT NULL,
	valid_from  timestamptz NOT NULL DEFAULT now(),
	valid_to    timestamptz,
	revoked_at  timestamptz,
	added_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	added_by    text NOT NULL DEFAULT session_user,
	PRIMARY KEY (provider, key_id),
	CHECK (valid_to IS NULL OR valid_to > valid_from)
);

CREATE TABLE voucher.facilities (
	provider    text NOT NULL REFERENCES voucher.providers(code),
	facility    text NOT NULL CHECK (facility ~ '^[!-~]{1,64}$'),
	division    text NOT NULL CHECK (division ~ '^[0-9]{6}$'),
	class       text NOT NULL CHECK (class IN ('A', 'B')),
	added_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	added_by    text NOT NULL DEFAULT session_user,
	PRIMARY KEY (provider, facility)
);

CREATE TABLE voucher.enterprises (
	uscc        text PRIMARY KEY CHECK (uscc ~ '^[0-9A-HJ-NP-RTUW-Y]{18}$'),
	first_seen  timestamptz NOT NULL DEFAULT now()
);

-- Effective-dated registry facts about an enterprise.  The version in force on
-- day D is the one with the greatest valid_from <= D.  A re-import with the
-- same valid_from replaces that version (the bureau corrected its own entry).
CREATE TABLE voucher.enterprise_versions (
	uscc               text NOT NULL REFERENCES voucher.enterprises(uscc),
	valid_from         date NOT NULL,
	name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	division           text NOT NULL CHECK (division ~ '^[0-9]{6}$'),
	sme                boolean NOT NULL DEFAULT false,
	model_developer    boolean NOT NULL DEFAULT false,
	maas_builder       boolean NOT NULL DEFAULT false,
	model_registered   boolean NOT NULL DEFAULT false,
	foundation_model   boolean NOT NULL DEFAULT false,
	credit_blacklisted boolean NOT NULL DEFAULT false,
	performance_grade  text CHECK (performance_grade IN ('A', 'B', 'C', 'D')),
	imported_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
	imported_by        text NOT NULL DEFAULT session_user,
	PRIMARY KEY (uscc, valid_from)
);

-- 关联方: a provider related to an enterprise; its records count for nothing.
CREATE TABLE voucher.related_parties (
	uscc        text NOT NULL REFERENCES voucher.enterprises(uscc),
	provider    text NOT NULL REFERENCES voucher.providers(code),
	added_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	added_by    text NOT NULL DEFAULT session_user,
	PRIMARY KEY (uscc, provider)
);

------------------------------------------------------------------ usage

-- Every accepted batch: the raw signed body and headers, exactly as received,
-- and the answer sent (a retry with the same digest gets these bytes again).
CREATE TABLE voucher.batches (
	seq             bigserial NOT NULL UNIQUE, -- order of arrival (see voucher.ingest_barrier)
	provider        text NOT NULL REFERENCES voucher.providers(code),
	batch_id        text NOT NULL CHECK (batch_id ~ '^[!-~]{1,64}$'),
	digest          text NOT NULL,          -- hex SHA-256 of body
	received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
	key_id          text NOT NULL,
	alg             text NOT NULL,
	sig_created     timestamptz NOT NULL,
	content_digest  text NOT NULL,          -- the headers, verbatim
	signature_input text NOT NULL,
	signature       text NOT NULL,
	body            bytea NOT NULL,
	record_count    integer NOT NULL,
	accepted        integer NOT NULL,
	duplicates      integer NOT NULL,
	rejected        integer NOT NULL,
	answer          text NOT NULL,
	PRIMARY KEY (provider, batch_id),
	FOREIGN KEY (provider, key_id) REFERENCES voucher.provider_keys(provider, key_id)
);

CREATE TABLE voucher.usage_records (
	provider     text NOT NULL,
	record_id    text NOT NULL,
	batch_id     text NOT NULL,
	enterprise   text NOT NULL,
	facility     text NOT NULL,
	category     text NOT NULL CHECK (category IN ('intelligent_compute', 'supercomputing',
	             'general_compute', 'model_service', 'corpus', 'dataset', 'model_purchase')),
	purpose      text CHECK (purpose IN ('training', 'inference', 'application')),
	quantity     numeric NOT NULL,
	unit         text NOT NULL CHECK (unit IN ('card_hour', 'core_hour', 'pflops_day', 'tokens', 'item')),
	amount_fen   bigint NOT NULL,
	started_at   timestamptz NOT NULL,
	ended_at     timestamptz NOT NULL,
	contract_id  text NOT NULL,
	invoice_no   text,
	adjusts      text,
	content_hash bytea NOT NULL,
	received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (provider, record_id),
	FOREIGN KEY (provider, batch_id) REFERENCES voucher.batches(provider, batch_id)
		DEFERRABLE INITIALLY DEFERRED,
	FOREIGN KEY (provider, facility) REFERENCES voucher.facilities(provider, facility),
	CHECK (started_at <= ended_at),
	CHECK (adjusts IS NOT NULL OR amount_fen >= 0)
);
CREATE INDEX usage_records_enterprise_ended ON voucher.usage_records (enterprise, ended_at);
CREATE INDEX usage_records_batch ON voucher.usage_records (provider, batch_id);
CREATE INDEX usage_records_adjusts ON voucher.usage_records (provider, adjusts)
	WHERE adjusts IS NOT NULL;

CREATE TRIGGER batches_append_only BEFORE UPDATE OR DELETE ON voucher.batches
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER batches_no_truncate BEFORE TRUNCATE ON voucher.batches
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER usage_records_append_only BEFORE UPDATE OR DELETE ON voucher.usage_records
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER usage_records_no_truncate BEFORE TRUNCATE ON voucher.usage_records
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

------------------------------------------------------------------ ingest functions

-- What the daemon needs in memory: certificate fingerprints and signing keys.
CREATE FUNCTION voucher.ingest_registry()
RETURNS TABLE (kind text, provider text, ident text, alg text, pem text,
	       valid_from timestamptz, valid_to timestamptz, revoked boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
	SELECT 'cert', c.provider, c.fingerprint, NULL, NULL, NULL::timestamptz, c.not_after, false
	  FROM voucher.provider_certs c
	UNION ALL
	SELECT 'key', k.provider, k.key_id, k.alg, k.public_pem, k.valid_from, k.valid_to,
	       k.revoked_at IS NOT NULL
	  FROM voucher.provider_keys k
$$;

-- The stored answer to one of the caller's batches, or NULL.
CREATE FUNCTION voucher.batch_answer(p_provider text, p_batch_id text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
	SELECT answer FROM voucher.batches WHERE provider = p_provider AND batch_id = p_batch_id
$$;

-- Stores one signed batch whose signature and field rules the daemon checked.
--
-- p_records: the valid records, as made by meter_batch_records_json();
-- p_rejected: the records the daemon rejected (JSON array of
-- {index, record_id, code, detail}); p_dups_in_batch: records the daemon found
-- repeated inside the batch with identical content.
--
-- Returns (200, answer, replay) for a new batch (replay false) or a repeated
-- batch with the same digest (replay true: the first answer, nothing stored),
-- (409, NULL, true) for a batch id already used with another digest, and
-- (403, code, false) when the key is unknown, revoked or not valid at p_created.
--
-- Concurrency: the batch id is serialized by an advisory lock, so the same batch
-- on two connections (or two daemons) is stored once and both get the same
-- answer.  Records are inserted with ON CONFLICT DO NOTHING, so a record id
-- racing in two batches is stored once; an adjustment takes a lock on its
-- target so that the net of a record and its adjustments never drops below 0.
CREATE FUNCTION voucher.ingest_batch(
	p_provider text, p_batch_id text, p_digest text, p_key_id text, p_alg text,
	p_created timestamptz, p_content_digest text, p_signature_input text, p_signature text,
	p_body bytea, p_record_count integer, p_records jsonb, p_rejected jsonb,
	p_dups_in_batch integer)
RETURNS TABLE (status integer, answer text, replay boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_prev     record;
	v_adj      record;
	v_target   record;
	v_net      bigint;
	v_accepted integer;
	v_dups     integer;
	v_nrej     integer;
	v_adj_rej  jsonb := '{}'::jsonb; -- index -> code, for adjustments refused below
	v_rejected json;
	v_answer   text;
BEGIN
	-- readers that need a clean cut (settle, audit checkpoint) take this lock
	-- exclusively for a moment: see voucher.ingest_barrier
	PERFORM pg_advisory_xact_lock_shared(7305413);  -- VOUCHER_LOCK_INGEST (common/locks.h)
	PERFORM pg_advisory_xact_lock(hashtextextended('batch ' || p_provider || ' ' || p_batch_id, 0));
	SELECT b.digest, b.answer INTO v_prev
	  FROM voucher.batches b WHERE b.provider = p_provider AND b.batch_id = p_batch_id;
	IF FOUND THEN
		IF v_prev.digest = p_digest THEN
			RETURN QUERY SELECT 200, v_prev.answer, true;
		ELSE
			RETURN QUERY SELECT 409, NULL::text, true;
		END IF;
		RETURN;
	END IF;

	PERFORM 1 FROM voucher.provider_keys k
	 WHERE k.provider = p_provider AND k.key_id = p_key_id AND k.alg = p_alg;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 403, 'unknown_key'::text, false;
		RETURN;
	END IF;
	PERFORM 1 FROM voucher.provider_keys k
	 WHERE k.provider = p_provider AND k.key_id = p_key_id AND k.revoked_at IS NULL;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 403, 'key_revoked'::text, false;
		RETURN;
	END IF;
	PERFORM 1 FROM voucher.provider_keys k
	 WHERE k.provider = p_provider AND k.key_id = p_key_id
	   AND p_created >= k.valid_from AND (k.valid_to IS NULL OR p_created < k.valid_to);
	IF NOT FOUND THEN
		RETURN QUERY SELECT 403, 'key_not_valid'::text, false;
		RETURN;
	END IF;

	-- plain records, set-based; a record whose facility is not registered to
	-- this provider is left out (and classified below)
	INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility,
		category, purpose, quantity, unit, amount_fen, started_at, ended_at,
		contract_id, invoice_no, adjusts, content_hash)
	SELECT p_provider, x.id, p_batch_id, x.ent, x.fac, x.cat, x.pur, x.qty, x.unit, x.amt,
	       x.st, x.en, x.con, x.inv, NULL, decode(x.h, 'hex')
	  FROM jsonb_to_recordset(p_records) AS x(i integer, id text, ent text, fac text, cat text,
		pur text, qty numeric, unit text, amt bigint, st timestamptz, en timestamptz,
		con text, inv text, adj text, h text)
	  JOIN voucher.facilities f ON f.provider = p_provider AND f.facility = x.fac
	 WHERE x.adj IS NULL
	 ORDER BY x.i
	ON CONFLICT (provider, record_id) DO NOTHING;

	-- adjustments, in batch order, each after its target (which may be earlier
	-- in this batch); the lock on the target keeps the net check exact
	FOR v_adj IN
		SELECT x.* FROM jsonb_to_recordset(p_records) AS x(i integer, id text, ent text,
			fac text, cat text, pur text, qty numeric, unit text, amt bigint, st timestamptz,
			en timestamptz, con text, inv text, adj text, h text)
		 WHERE x.adj IS NOT NULL
		   AND EXISTS (SELECT 1 FROM voucher.facilities f
				WHERE f.provider = p_provider AND f.facility = x.fac)
		 ORDER BY x.i
	LOOP
		PERFORM pg_advisory_xact_lock(hashtextextended('adj ' || p_provider || ' ' || v_adj.adj, 0));
		PERFORM 1 FROM voucher.usage_records u
		 WHERE u.provider = p_provider AND u.record_id = v_adj.id;
		IF FOUND THEN
			CONTINUE; -- stored before: a duplicate or a conflict, classified below
		END IF;
		SELECT u.enterprise, u.amount_fen, u.adjusts, u.facility, u.category, u.started_at,
		       u.ended_at INTO v_target
		  FROM voucher.usage_records u
		 WHERE u.provider = p_provider AND u.record_id = v_adj.adj;
		IF NOT FOUND OR v_target.adjusts IS NOT NULL OR v_target.enterprise <> v_adj.ent THEN
			v_adj_rej := v_adj_rej || jsonb_build_object(v_adj.i::text, 'adjusts_unknown');
			CONTINUE;
		END IF;
		-- an adjustment corrects the record it adjusts: the same service, so
		-- the same facility, category and period (it is settled with it)
		IF v_target.facility <> v_adj.fac OR v_target.category <> v_adj.cat
		   OR v_target.started_at <> v_adj.st OR v_target.ended_at <> v_adj.en THEN
			v_adj_rej := v_adj_rej || jsonb_build_object(v_adj.i::text, 'adjusts_mismatch');
			CONTINUE;
		END IF;
		SELECT v_target.amount_fen + coalesce(sum(u.amount_fen), 0) + v_adj.amt INTO v_net
		  FROM voucher.usage_records u
		 WHERE u.provider = p_provider AND u.adjusts = v_adj.adj;
		IF v_net < 0 THEN
			v_adj_rej := v_adj_rej || jsonb_build_object(v_adj.i::text, 'net_below_zero');
			CONTINUE;
		END IF;
		INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility,
			category, purpose, quantity, unit, amount_fen, started_at, ended_at,
			contract_id, invoice_no, adjusts, content_hash)
		VALUES (p_provider, v_adj.id, p_batch_id, v_adj.ent, v_adj.fac, v_adj.cat, v_adj.pur,
			v_adj.qty, v_adj.unit, v_adj.amt, v_adj.st, v_adj.en, v_adj.con, v_adj.inv,
			v_adj.adj, decode(v_adj.h, 'hex'))
		ON CONFLICT (provider, record_id) DO NOTHING;
	END LOOP;

	-- classify every record in one pass: stored now (this batch id), stored
	-- before with the same content (duplicate) or other content (conflict),
	-- or refused here; then merge with what the daemon rejected
	WITH x AS (
		SELECT x.i, x.id, x.adj, decode(x.h, 'hex') AS h,
		       EXISTS (SELECT 1 FROM voucher.facilities f
			       WHERE f.provider = p_provider AND f.facility = x.fac) AS fac_ok
		  FROM jsonb_to_recordset(p_records) AS x(i integer, id text, fac text, adj text, h text)
	), c AS (
		SELECT x.i, x.id,
		       CASE
			 WHEN NOT x.fac_ok THEN 'unknown_facility'
			 WHEN u.record_id IS NULL THEN coalesce(v_adj_rej ->> x.i::text, 'not_stored')
			 WHEN u.content_hash <> x.h THEN 'conflict'
			 WHEN u.batch_id = p_batch_id THEN 'accepted'
			 ELSE 'duplicate'
		       END AS outcome
		  FROM x
		  LEFT JOIN voucher.usage_records u ON u.provider = p_provider AND u.record_id = x.id
	), rej AS (
		SELECT c.i AS idx, to_jsonb(c.id) AS record_id, c.outcome AS code,
		       CASE c.outcome
			 WHEN 'unknown_facility' THEN 'facility is not registered to this provider'
			 WHEN 'adjusts_unknown' THEN 'adjusts names no earlier plain record of this provider and enterprise'
			 WHEN 'adjusts_mismatch' THEN 'an adjustment must have the facility, category, started_at and ended_at of the record it adjusts'
			 WHEN 'net_below_zero' THEN 'the adjustment would take the net amount below zero'
			 WHEN 'conflict' THEN 'record_id was stored before with different content'
			 ELSE 'record could not be stored'
		       END AS detail
		  FROM c WHERE c.outcome NOT IN ('accepted', 'duplicate')
		UNION ALL
		SELECT (e ->> 'index')::integer, e -> 'record_id', e ->> 'code', e ->> 'detail'
		  FROM jsonb_array_elements(coalesce(p_rejected, '[]'::jsonb)) e
	)
	SELECT (SELECT count(*) FROM c WHERE c.outcome = 'accepted'),
	       p_dups_in_batch + (SELECT count(*) FROM c WHERE c.outcome = 'duplicate'),
	       (SELECT count(*) FROM rej),
	       (SELECT coalesce(json_agg(json_build_object('index', rej.idx, 'record_id', rej.record_id,
				'code', rej.code, 'detail', rej.detail) ORDER BY rej.idx), '[]'::json)
		  FROM rej)
	  INTO v_accepted, v_dups, v_nrej, v_rejected;

	v_answer := json_build_object('batch_id', p_batch_id, 'accepted', v_accepted,
		'duplicates', v_dups, 'rejected', v_rejected)::text;

	INSERT INTO voucher.batches (provider, batch_id, digest, key_id, alg, sig_created,
		content_digest, signature_input, signature, body, record_count, accepted,
		duplicates, rejected, answer)
	VALUES (p_provider, p_batch_id, p_digest, p_key_id, p_alg, p_created, p_content_digest,
		p_signature_input, p_signature, p_body, p_record_count, v_accepted, v_dups,
		v_nrej, v_answer);

	RETURN QUERY SELECT 200, v_answer, false;
END
$$;

REVOKE ALL ON FUNCTION voucher.ingest_batch FROM PUBLIC;
REVOKE ALL ON FUNCTION voucher.ingest_registry FROM PUBLIC;
REVOKE ALL ON FUNCTION voucher.batch_answer FROM PUBLIC;
GRANT USAGE ON SCHEMA voucher TO voucher_ingest;
GRANT EXECUTE ON FUNCTION voucher.ingest_batch, voucher.ingest_registry, voucher.batch_answer
	TO voucher_ingest;

------------------------------------------------------------------ audit views

CREATE VIEW audit.batches AS
	SELECT seq, provider, batch_id, received_at, digest, key_id, alg, record_count,
	       accepted, duplicates, rejected, sig_created, content_digest, signature_input,
	       signature, body
	  FROM voucher.batches;

-- what an auditor needs to check every stored signature and the registry
CREATE VIEW audit.provider_keys AS
	SELECT provider, key_id, alg, public_pem, valid_from, valid_to, revoked_at, added_at, added_by
	  FROM voucher.provider_keys;
CREATE VIEW audit.providers AS
	SELECT code, name, uscc, created_at, created_by FROM voucher.providers;
CREATE VIEW audit.facilities AS
	SELECT provider, facility, division, class, added_at, added_by FROM voucher.facilities;
CREATE VIEW audit.enterprise_versions AS
	SELECT uscc, valid_from, name, division, sme, model_developer, maas_builder, model_registered,
	       foundation_model, credit_blacklisted, performance_grade, imported_at, imported_by
	  FROM voucher.enterprise_versions;
CREATE VIEW audit.related_parties AS
	SELECT uscc, provider, added_at, added_by FROM voucher.related_parties;

CREATE VIEW audit.usage_records AS
	SELECT provider, record_id, batch_id, enterprise, facility, category, purpose, quantity,
	       unit, amount_fen, started_at, ended_at, contract_id, invoice_no, adjusts, received_at
	  FROM voucher.usage_records;

GRANT USAGE ON SCHEMA audit TO voucher_auditor, voucher_finance;
GRANT SELECT ON audit.batches, audit.usage_records, audit.provider_keys, audit.providers,
	audit.facilities, audit.enterprise_versions, audit.related_parties TO voucher_auditor, voucher_finance;
GRANT USAGE ON SCHEMA voucher TO voucher_finance;
GRANT SELECT ON ALL TABLES IN SCHEMA voucher TO voucher_finance;
GRANT INSERT, UPDATE ON voucher.providers, voucher.provider_certs, voucher.provider_keys,
	voucher.facilities, voucher.enterprises, voucher.enterprise_versions,
	voucher.related_parties TO voucher_finance;
