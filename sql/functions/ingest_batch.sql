-- Ingest: storing one signed batch (docs/protocol.md).
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- Stores one signed batch whose signature and field rules the daemon checked.
-- The record codes it sets, voucher.rej_*(), and their details,
-- voucher.reject_detail(), are generated from metering/codes.h (sql/gen_codes.c).
--
-- r_*: the valid records (not rejected, not repeated inside the batch), in
-- batch order, one array per column, all of the same length: r_index is the
-- record's position in the body's "records", r_qty the normalized decimal,
-- r_adj NULL for a plain record, r_sel the seller (NULL but for corpus and
-- dataset; the whole array may be left out, for a caller of the form before
-- sellers);
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
CREATE OR REPLACE FUNCTION voucher.ingest_batch(
	p_provider text, p_batch_id text, p_digest text, p_key_id text, p_alg text,
	p_created timestamptz, p_content_digest text, p_signature_input text, p_signature text,
	p_body bytea, p_record_count integer, p_rejected jsonb, p_dups_in_batch integer,
	r_index integer[], r_id text[], r_ent text[], r_fac text[], r_cat text[], r_pur text[],
	r_qty text[], r_unit text[], r_amt bigint[], r_st timestamptz[], r_en timestamptz[],
	r_con text[], r_inv text[], r_adj text[], r_hash bytea[], r_sel text[] DEFAULT NULL)
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
	PERFORM pg_advisory_xact_lock_shared(7305413);
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
	   OR cardinality(r_adj) <> cardinality(r_index) OR cardinality(r_hash) <> cardinality(r_index)
	   OR (r_sel IS NOT NULL AND cardinality(r_sel) <> cardinality(r_index)) THEN
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
			contract_id, invoice_no, adjusts, content_hash, seller)
		SELECT p_provider, x.id, p_batch_id, x.ent, x.fac, x.cat, x.pur, x.qty::numeric, x.unit,
		       x.amt, x.st, x.en, x.con, x.inv, NULL, x.h, x.sel
		  FROM unnest(r_id, r_ent, r_fac, r_cat, r_pur, r_qty, r_unit, r_amt, r_st, r_en, r_con,
			      r_inv, r_adj, r_hash, r_sel)
		       AS x(id, ent, fac, cat, pur, qty, unit, amt, st, en, con, inv, adj, h, sel)
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
			contract_id, invoice_no, adjusts, content_hash, seller)
		SELECT p_provider, x.id, p_batch_id, x.ent, x.fac, x.cat, x.pur, x.qty::numeric, x.unit,
		       x.amt, x.st, x.en, x.con, x.inv, NULL, x.h, x.sel
		  FROM unnest(r_id, r_ent, r_fac, r_cat, r_pur, r_qty, r_unit, r_amt, r_st, r_en, r_con,
			      r_inv, r_adj, r_hash, r_sel)
		       AS x(id, ent, fac, cat, pur, qty, unit, amt, st, en, con, inv, adj, h, sel)
		  JOIN k ON k.record_id = x.id
		 WHERE x.adj IS NULL AND x.fac = ANY (v_facs);
	END IF;

	IF v_nadj > 0 THEN
		FOR v_adj IN
			SELECT x.* FROM unnest(r_index, r_id, r_ent, r_fac, r_cat, r_pur, r_qty, r_unit,
					       r_amt, r_st, r_en, r_con, r_inv, r_adj, r_hash, r_sel)
			       AS x(i, id, ent, fac, cat, pur, qty, unit, amt, st, en, con, inv, adj, h, sel)
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
			       u.ended_at, u.seller INTO v_target
			  FROM voucher.usage_keys k
			  JOIN voucher.usage_records u ON u.provider = k.provider AND u.batch_id = k.batch_id
			   AND u.ended_at = k.ended_at AND u.record_id = k.record_id
			 WHERE k.provider = p_provider AND k.record_id = v_adj.adj;
			IF NOT FOUND OR v_target.adjusts IS NOT NULL OR v_target.enterprise <> v_adj.ent THEN
				v_adj_rej := v_adj_rej || jsonb_build_object(v_adj.i::text, voucher.rej_adjusts_unknown());
				CONTINUE;
			END IF;
			IF v_target.facility <> v_adj.fac OR v_target.category <> v_adj.cat
			   OR v_target.started_at <> v_adj.st OR v_target.ended_at <> v_adj.en
			   OR v_target.seller IS DISTINCT FROM v_adj.sel THEN
				v_adj_rej := v_adj_rej || jsonb_build_object(v_adj.i::text, voucher.rej_adjusts_mismatch());
				CONTINUE;
			END IF;
			-- an adjustment has its target's ended_at: one partition
			SELECT v_target.amount_fen + coalesce(sum(u.amount_fen), 0) + v_adj.amt INTO v_net
			  FROM voucher.usage_records u
			 WHERE u.provider = p_provider AND u.adjusts = v_adj.adj AND u.ended_at = v_target.ended_at;
			IF v_net < 0 THEN
				v_adj_rej := v_adj_rej || jsonb_build_object(v_adj.i::text, voucher.rej_net_below_zero());
				CONTINUE;
			END IF;
			INSERT INTO voucher.usage_keys (provider, record_id, ended_at, batch_id, content_hash)
			VALUES (p_provider, v_adj.id, v_adj.en, p_batch_id, v_adj.h);
			INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility,
				category, purpose, quantity, unit, amount_fen, started_at, ended_at,
				contract_id, invoice_no, adjusts, content_hash, seller)
			VALUES (p_provider, v_adj.id, p_batch_id, v_adj.ent, v_adj.fac, v_adj.cat, v_adj.pur,
				v_adj.qty::numeric, v_adj.unit, v_adj.amt, v_adj.st, v_adj.en, v_adj.con,
				v_adj.inv, v_adj.adj, v_adj.h, v_adj.sel);
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
				 WHEN NOT x.fac_ok THEN voucher.rej_unknown_facility()
				 WHEN v_fast AND x.adj IS NULL THEN 'accepted'
				 ELSE coalesce((SELECT CASE
							 WHEN k.content_hash <> x.h THEN voucher.rej_conflict()
							 WHEN k.batch_id = p_batch_id THEN 'accepted'
							 ELSE 'duplicate'
						       END
						  FROM voucher.usage_keys k
						 WHERE k.provider = p_provider AND k.record_id = x.id),
					       v_adj_rej ->> x.i::text, voucher.rej_not_stored())
			       END AS outcome
			  FROM x
		), rej AS (
			SELECT c.i AS idx, to_jsonb(c.id) AS record_id, c.outcome AS code,
			       voucher.reject_detail(c.outcome) AS detail
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
