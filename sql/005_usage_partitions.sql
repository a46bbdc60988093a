-- Usage records partitioned by month (issue 6), so that old months can be
-- detached and archived: accounting records are kept for 30 years, and a
-- detached month is one table to dump, checksum and store.
--
-- The month of a record is the month of its ended_at in China Standard Time,
-- as settlement counts it.  Partitions are named usage_YYYY_MM; a record whose
-- month has no partition lands in usage_other (the default partition), so
-- ingest never fails for a date.  voucher.usage_partitions_ensure creates
-- months ahead (voucherctl partition ensure); voucher.usage_partition_detach
-- archives one (voucherctl partition detach).
--
-- PostgreSQL enforces uniqueness on a partitioned table only together with
-- the partition key, but a record id must be unique per provider whatever its
-- month (it is the idempotency key).  voucher.usage_keys holds every record id
-- ever stored, with its ended_at, in one unpartitioned table that is never
-- archived: a record sent again years later is still a duplicate, and the key
-- leads to the record's partition.

------------------------------------------------------------------ record ids

CREATE TABLE voucher.usage_keys (
	provider     text NOT NULL,
	record_id    text NOT NULL,
	ended_at     timestamptz NOT NULL,  -- which partition (or archive) holds the record
	batch_id     text NOT NULL,         -- the batch that stored it
	content_hash bytea NOT NULL,        -- so that a record sent again is told duplicate or conflict,
	                                    -- even once its month is archived
	PRIMARY KEY (provider, record_id)
);
CREATE TRIGGER usage_keys_append_only BEFORE UPDATE OR DELETE ON voucher.usage_keys
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER usage_keys_no_truncate BEFORE TRUNCATE ON voucher.usage_keys
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

-- one row per detached month
CREATE TABLE voucher.usage_archives (
	month       date PRIMARY KEY CHECK (extract(day FROM month) = 1),
	table_name  text NOT NULL,
	records     bigint NOT NULL,
	amount_fen  numeric NOT NULL,
	detached_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	detached_by text NOT NULL DEFAULT session_user
);
CREATE TRIGGER usage_archives_append_only BEFORE UPDATE OR DELETE ON voucher.usage_archives
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER usage_archives_no_truncate BEFORE TRUNCATE ON voucher.usage_archives
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

------------------------------------------------------------------ the partitioned table

DROP VIEW audit.usage_records;
DROP STATISTICS voucher.usage_records_settle_groups;
ALTER TABLE voucher.usage_records RENAME TO usage_records_unpartitioned;
ALTER INDEX voucher.usage_records_pkey RENAME TO usage_records_unpartitioned_pkey;
ALTER INDEX voucher.usage_records_enterprise_ended RENAME TO usage_records_unpartitioned_enterprise_ended;
ALTER INDEX voucher.usage_records_batch RENAME TO usage_records_unpartitioned_batch;
ALTER INDEX voucher.usage_records_adjusts RENAME TO usage_records_unpartitioned_adjusts;

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
	CHECK (started_at <= ended_at),
	CHECK (adjusts IS NOT NULL OR amount_fen >= 0)
) PARTITION BY RANGE (ended_at);
-- No primary key here: the key of a record is (provider, record_id), kept
-- unique in usage_keys, which holds the batch and the ended_at that lead to
-- the record through usage_records_batch (a unique index here would have to
-- include ended_at and would cost every insert a third B-tree for nothing).
-- audit verify checks that keys and records match one to one.
CREATE INDEX usage_records_enterprise_ended ON voucher.usage_records (enterprise, ended_at);
CREATE INDEX usage_records_batch ON voucher.usage_records (provider, batch_id);
CREATE INDEX usage_records_adjusts ON voucher.usage_records (provider, adjusts) WHERE adjusts IS NOT NULL;
-- row triggers are cloned onto every partition, present and future
CREATE TRIGGER usage_records_append_only BEFORE UPDATE OR DELETE ON voucher.usage_records
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER usage_records_no_truncate BEFORE TRUNCATE ON voucher.usage_records
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();
CREATE STATISTICS voucher.usage_records_settle_groups (ndistinct)
	ON enterprise, provider, facility, category FROM voucher.usage_records;

-- TRUNCATE of a partition itself does not fire the parent's statement trigger
CREATE FUNCTION voucher.usage_partition_guard(p_table text) RETURNS void
LANGUAGE plpgsql SET search_path = voucher, pg_temp AS $$
BEGIN
	EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON voucher.%I '
		       'FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change()', p_table);
END
$$;
REVOKE ALL ON FUNCTION voucher.usage_partition_guard FROM PUBLIC;

CREATE TABLE voucher.usage_other PARTITION OF voucher.usage_records DEFAULT;
SELECT voucher.usage_partition_guard('usage_other');

CREATE FUNCTION voucher.usage_partition_name(p_month date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'usage_' || to_char(p_month, 'YYYY_MM') $$;

-- Creates the monthly partitions from p_from's month through p_to's that do
-- not exist yet.  A month is skipped, with a note, when it was archived, or
-- when records of it wait in usage_other (they stay there: moving stored
-- records is not something this function does).
CREATE FUNCTION voucher.usage_partitions_ensure(p_from date, p_to date)
RETURNS TABLE (month date, partition text, created boolean, note text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	m    date := date_trunc('month', p_from)::date;
	v_lo timestamptz;
	v_hi timestamptz;
BEGIN
	IF p_to < p_from OR p_to > p_from + interval '20 years' THEN
		RAISE EXCEPTION 'usage_partitions_ensure: % .. % is not a range of at most 20 years', p_from, p_to
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	WHILE m <= p_to LOOP
		month := m;
		partition := voucher.usage_partition_name(m);
		created := false;
		v_lo := m::timestamp AT TIME ZONE 'Asia/Shanghai';
		v_hi := (m + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai';
		IF to_regclass('voucher.' || partition) IS NOT NULL THEN
			note := 'exists';
		ELSIF EXISTS (SELECT 1 FROM voucher.usage_archives a WHERE a.month = m) THEN
			note := 'archived';
		ELSIF EXISTS (SELECT 1 FROM voucher.usage_other o WHERE o.ended_at >= v_lo AND o.ended_at < v_hi) THEN
			note := 'records of this month are in usage_other; not created';
		ELSE
			EXECUTE format('CREATE TABLE voucher.%I PARTITION OF voucher.usage_records '
				       'FOR VALUES FROM (%L) TO (%L)', partition, v_lo, v_hi);
			PERFORM voucher.usage_partition_guard(partition);
			created := true;
			note := 'created';
		END IF;
		RETURN NEXT;
		m := (m + interval '1 month')::date;
	END LOOP;
END
$$;

-- Detaches one month into voucher.archive_usage_YYYY_MM (still append only,
-- still readable by finance) and records it in usage_archives.  Only months
-- before last year: settlement reads a whole year for the annual caps, and
-- the audit recomputes approved runs from the stored records.
CREATE FUNCTION voucher.usage_partition_detach(p_month date)
RETURNS SETOF voucher.usage_archives
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	m       date := date_trunc('month', p_month)::date;
	v_name  text := voucher.usage_partition_name(m);
	v_arch  text := 'archive_' || voucher.usage_partition_name(m);
	v_first date := make_date(extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')::integer - 1, 1, 1);
BEGIN
	IF m >= v_first THEN
		RAISE EXCEPTION 'usage_partition_detach: % is in this year or the last; a month can be archived from % on',
			to_char(m, 'YYYY-MM'), make_date(extract(year FROM m)::integer + 2, 1, 1)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF to_regclass('voucher.' || v_name) IS NULL THEN
		RAISE EXCEPTION 'usage_partition_detach: there is no partition % (archived already, or never created)', v_name
			USING ERRCODE = 'undefined_table';
	END IF;
	EXECUTE format('ALTER TABLE voucher.usage_records DETACH PARTITION voucher.%I', v_name);
	EXECUTE format('ALTER TABLE voucher.%I RENAME TO %I', v_name, v_arch);
	-- the archive refuses changes like the table it came from
	EXECUTE format('CREATE TRIGGER archive_append_only BEFORE UPDATE OR DELETE ON voucher.%I '
		       'FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change()', v_arch);
	RETURN QUERY EXECUTE format(
		'INSERT INTO voucher.usage_archives (month, table_name, records, amount_fen) '
		'SELECT %L, %L, count(*), coalesce(sum(amount_fen), 0) FROM voucher.%I RETURNING *', m, v_arch, v_arch);
END
$$;

-- the months as they are: partitions, the default, archives
CREATE FUNCTION voucher.usage_partitions()
RETURNS TABLE (partition text, month date, state text, records bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
	SELECT c.relname::text,
	       CASE WHEN c.relname = 'usage_other' THEN NULL
		    ELSE to_date(substr(c.relname, 7), 'YYYY_MM') END,
	       CASE WHEN c.relname = 'usage_other' THEN 'default' ELSE 'attached' END,
	       coalesce(s.n_live_tup, 0)
	  FROM pg_inherits i
	  JOIN pg_class c ON c.oid = i.inhrelid
	  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
	 WHERE i.inhparent = 'voucher.usage_records'::regclass
	UNION ALL
	SELECT a.table_name, a.month, 'archived', a.records FROM voucher.usage_archives a
	ORDER BY 2 NULLS LAST, 1
$$;

-- the months to come: from the first month of the existing records (or
-- January 2025) through December 2028; then move the records over
SELECT count(*) FROM voucher.usage_partitions_ensure(
	least(coalesce((SELECT min(ended_at AT TIME ZONE 'Asia/Shanghai')::date FROM voucher.usage_records_unpartitioned),
		       '2025-01-01'), '2025-01-01'),
	'2028-12-01');
INSERT INTO voucher.usage_keys (provider, record_id, ended_at, batch_id, content_hash)
	SELECT provider, record_id, ended_at, batch_id, content_hash FROM voucher.usage_records_unpartitioned;
INSERT INTO voucher.usage_records SELECT * FROM voucher.usage_records_unpartitioned;
DROP TABLE voucher.usage_records_unpartitioned;

------------------------------------------------------------------ ingest

-- Stores one signed batch whose signature and field rules the daemon checked.
--
-- r_*: the valid records (not rejected, not repeated inside the batch), in
-- batch order, one array per column, all of the same length: r_index is the
-- record's position in the body's "records", r_qty the normalized decimal,
-- r_adj NULL for a plain record;
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
-- answer.  A record id racing in two batches is stored once: the plain INSERT
-- of its key in the second waits for the first and fails, and the careful
-- path then finds the key taken; an adjustment takes a lock on its target so that the net
-- of a record and its adjustments never drops below 0.
--
-- The common case, a batch of new records, is two plain INSERTs (its keys,
-- its records) with no look-up per record; if a key was taken before, the
-- unique_violation is caught in a subtransaction and the batch is stored the
-- careful way: ON CONFLICT DO NOTHING on the keys, only the records whose keys
-- were taken now, and every record classified from usage_keys.
CREATE FUNCTION voucher.ingest_batch(
	p_provider text, p_batch_id text, p_digest text, p_key_id text, p_alg text,
	p_created timestamptz, p_content_digest text, p_signature_input text, p_signature text,
	p_body bytea, p_record_count integer, p_rejected jsonb, p_dups_in_batch integer,
	r_index integer[], r_id text[], r_ent text[], r_fac text[], r_cat text[], r_pur text[],
	r_qty text[], r_unit text[], r_amt bigint[], r_st timestamptz[], r_en timestamptz[],
	r_con text[], r_inv text[], r_adj text[], r_hash bytea[])
RETURNS TABLE (status integer, answer text, replay boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_prev     record;
	v_adj      record;
	v_target   record;
	v_net      bigint;
	v_facs     text[];
	v_fast     boolean := true;
	v_plain    integer;
	v_nadj     integer;
	v_accepted integer;
	v_dups     integer;
	v_nrej     integer;
	v_adj_rej  jsonb := '{}'::jsonb;
	v_rejected json;
	v_answer   text;
BEGIN
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
	IF cardinality(r_id) IS DISTINCT FROM cardinality(r_index) OR cardinality(r_ent) <> cardinality(r_index)
	   OR cardinality(r_fac) <> cardinality(r_index) OR cardinality(r_cat) <> cardinality(r_index)
	   OR cardinality(r_pur) <> cardinality(r_index) OR cardinality(r_qty) <> cardinality(r_index)
	   OR cardinality(r_unit) <> cardinality(r_index) OR cardinality(r_amt) <> cardinality(r_index)
	   OR cardinality(r_st) <> cardinality(r_index) OR cardinality(r_en) <> cardinality(r_index)
	   OR cardinality(r_con) <> cardinality(r_index) OR cardinality(r_inv) <> cardinality(r_index)
	   OR cardinality(r_adj) <> cardinality(r_index) OR cardinality(r_hash) <> cardinality(r_index) THEN
		RAISE EXCEPTION 'ingest_batch: the record arrays differ in length' USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT coalesce(array_agg(f.facility), '{}') INTO v_facs
	  FROM voucher.facilities f
	 WHERE f.provider = p_provider AND f.facility IN (SELECT DISTINCT unnest(r_fac));
	SELECT count(*) FILTER (WHERE x.adj IS NULL AND x.fac = ANY (v_facs)),
	       count(*) FILTER (WHERE x.adj IS NOT NULL)
	  INTO v_plain, v_nadj
	  FROM unnest(r_fac, r_adj) AS x(fac, adj);

	-- plain records: new ones take their keys and go in with two plain
	-- INSERTs; if any key was taken before, the careful way
	BEGIN
		INSERT INTO voucher.usage_keys (provider, record_id, ended_at, batch_id, content_hash)
		SELECT p_provider, x.id, x.en, p_batch_id, x.h
		  FROM unnest(r_id, r_fac, r_en, r_adj, r_hash) AS x(id, fac, en, adj, h)
		 WHERE x.adj IS NULL AND x.fac = ANY (v_facs);
		INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility,
			category, purpose, quantity, unit, amount_fen, started_at, ended_at,
			contract_id, invoice_no, adjusts, content_hash)
		SELECT p_provider, x.id, p_batch_id, x.ent, x.fac, x.cat, x.pur, x.qty::numeric, x.unit,
		       x.amt, x.st, x.en, x.con, x.inv, NULL, x.h
		  FROM unnest(r_id, r_ent, r_fac, r_cat, r_pur, r_qty, r_unit, r_amt, r_st, r_en, r_con,
			      r_inv, r_adj, r_hash)
		       AS x(id, ent, fac, cat, pur, qty, unit, amt, st, en, con, inv, adj, h)
		 WHERE x.adj IS NULL AND x.fac = ANY (v_facs);
	EXCEPTION WHEN unique_violation THEN
		v_fast := false;
	END;
	IF NOT v_fast THEN
		-- only the records whose keys are taken now
		WITH k AS (
			INSERT INTO voucher.usage_keys (provider, record_id, ended_at, batch_id, content_hash)
			SELECT p_provider, x.id, x.en, p_batch_id, x.h
			  FROM unnest(r_id, r_fac, r_en, r_adj, r_hash) AS x(id, fac, en, adj, h)
			 WHERE x.adj IS NULL AND x.fac = ANY (v_facs)
			ON CONFLICT (provider, record_id) DO NOTHING
			RETURNING record_id
		)
		INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility,
			category, purpose, quantity, unit, amount_fen, started_at, ended_at,
			contract_id, invoice_no, adjusts, content_hash)
		SELECT p_provider, x.id, p_batch_id, x.ent, x.fac, x.cat, x.pur, x.qty::numeric, x.unit,
		       x.amt, x.st, x.en, x.con, x.inv, NULL, x.h
		  FROM unnest(r_id, r_ent, r_fac, r_cat, r_pur, r_qty, r_unit, r_amt, r_st, r_en, r_con,
			      r_inv, r_adj, r_hash)
		       AS x(id, ent, fac, cat, pur, qty, unit, amt, st, en, con, inv, adj, h)
		  JOIN k ON k.record_id = x.id
		 WHERE x.adj IS NULL AND x.fac = ANY (v_facs);
	END IF;

	IF v_nadj > 0 THEN
		FOR v_adj IN
			SELECT x.* FROM unnest(r_index, r_id, r_ent, r_fac, r_cat, r_pur, r_qty, r_unit,
					       r_amt, r_st, r_en, r_con, r_inv, r_adj, r_hash)
			       AS x(i, id, ent, fac, cat, pur, qty, unit, amt, st, en, con, inv, adj, h)
			 WHERE x.adj IS NOT NULL AND x.fac = ANY (v_facs)
			 ORDER BY x.i
		LOOP
			PERFORM pg_advisory_xact_lock(hashtextextended('adj ' || p_provider || ' ' || v_adj.adj, 0));
			PERFORM 1 FROM voucher.usage_keys k
			 WHERE k.provider = p_provider AND k.record_id = v_adj.id;
			IF FOUND THEN
				CONTINUE;
			END IF;
			SELECT u.enterprise, u.amount_fen, u.adjusts, u.facility, u.category, u.started_at,
			       u.ended_at INTO v_target
			  FROM voucher.usage_keys k
			  JOIN voucher.usage_records u ON u.provider = k.provider AND u.batch_id = k.batch_id
			   AND u.ended_at = k.ended_at AND u.record_id = k.record_id
			 WHERE k.provider = p_provider AND k.record_id = v_adj.adj;
			IF NOT FOUND OR v_target.adjusts IS NOT NULL OR v_target.enterprise <> v_adj.ent THEN
				v_adj_rej := v_adj_rej || jsonb_build_object(v_adj.i::text, 'adjusts_unknown');
				CONTINUE;
			END IF;
			IF v_target.facility <> v_adj.fac OR v_target.category <> v_adj.cat
			   OR v_target.started_at <> v_adj.st OR v_target.ended_at <> v_adj.en THEN
				v_adj_rej := v_adj_rej || jsonb_build_object(v_adj.i::text, 'adjusts_mismatch');
				CONTINUE;
			END IF;
			-- an adjustment has its target's ended_at: one partition
			SELECT v_target.amount_fen + coalesce(sum(u.amount_fen), 0) + v_adj.amt INTO v_net
			  FROM voucher.usage_records u
			 WHERE u.provider = p_provider AND u.adjusts = v_adj.adj AND u.ended_at = v_target.ended_at;
			IF v_net < 0 THEN
				v_adj_rej := v_adj_rej || jsonb_build_object(v_adj.i::text, 'net_below_zero');
				CONTINUE;
			END IF;
			INSERT INTO voucher.usage_keys (provider, record_id, ended_at, batch_id, content_hash)
			VALUES (p_provider, v_adj.id, v_adj.en, p_batch_id, v_adj.h);
			INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility,
				category, purpose, quantity, unit, amount_fen, started_at, ended_at,
				contract_id, invoice_no, adjusts, content_hash)
			VALUES (p_provider, v_adj.id, p_batch_id, v_adj.ent, v_adj.fac, v_adj.cat, v_adj.pur,
				v_adj.qty::numeric, v_adj.unit, v_adj.amt, v_adj.st, v_adj.en, v_adj.con,
				v_adj.inv, v_adj.adj, v_adj.h);
		END LOOP;
	END IF;

	IF v_fast AND v_nadj = 0 AND v_plain = cardinality(r_index) THEN
		v_accepted := v_plain;
		v_dups := p_dups_in_batch;
		v_nrej := jsonb_array_length(coalesce(p_rejected, '[]'::jsonb));
		SELECT coalesce(json_agg(json_build_object('index', (e ->> 'index')::integer,
				'record_id', e -> 'record_id', 'code', e ->> 'code', 'detail', e ->> 'detail')
				ORDER BY (e ->> 'index')::integer), '[]'::json)
		  INTO v_rejected
		  FROM jsonb_array_elements(coalesce(p_rejected, '[]'::jsonb)) e;
	ELSE
		WITH x AS (
			SELECT x.i, x.id, x.adj, x.h, x.fac = ANY (v_facs) AS fac_ok
			  FROM unnest(r_index, r_id, r_fac, r_adj, r_hash) AS x(i, id, fac, adj, h)
		), c AS (
			SELECT x.i, x.id,
			       CASE
				 WHEN NOT x.fac_ok THEN 'unknown_facility'
				 WHEN v_fast AND x.adj IS NULL THEN 'accepted'
				 ELSE coalesce((SELECT CASE
							 WHEN k.content_hash <> x.h THEN 'conflict'
							 WHEN k.batch_id = p_batch_id THEN 'accepted'
							 ELSE 'duplicate'
						       END
						  FROM voucher.usage_keys k
						 WHERE k.provider = p_provider AND k.record_id = x.id),
					       v_adj_rej ->> x.i::text, 'not_stored')
			       END AS outcome
			  FROM x
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
	END IF;

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
GRANT EXECUTE ON FUNCTION voucher.ingest_batch TO voucher_ingest;

------------------------------------------------------------------ views and grants

CREATE VIEW audit.usage_records AS
	SELECT provider, record_id, batch_id, enterprise, facility, category, purpose, quantity,
	       unit, amount_fen, started_at, ended_at, contract_id, invoice_no, adjusts, received_at
	  FROM voucher.usage_records;
CREATE VIEW audit.usage_keys AS
	SELECT provider, record_id, ended_at, batch_id, content_hash FROM voucher.usage_keys;
CREATE VIEW audit.usage_archives AS
	SELECT month, table_name, records, amount_fen, detached_at, detached_by FROM voucher.usage_archives;
GRANT SELECT ON audit.usage_records, audit.usage_keys, audit.usage_archives TO voucher_auditor, voucher_finance;
GRANT SELECT ON voucher.usage_records, voucher.usage_keys, voucher.usage_archives TO voucher_finance;
REVOKE ALL ON FUNCTION voucher.usage_partitions_ensure, voucher.usage_partition_detach,
	voucher.usage_partitions FROM PUBLIC;
GRANT EXECUTE ON FUNCTION voucher.usage_partitions_ensure, voucher.usage_partition_detach,
	voucher.usage_partitions TO voucher_finance;
GRANT EXECUTE ON FUNCTION voucher.usage_partitions TO voucher_auditor;
