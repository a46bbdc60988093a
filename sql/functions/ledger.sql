-- The ledger: the hash chain and the postings of approvals and disbursements
-- (the chain's definition: sql/003_ledger.sql, README.md "Ledger and audit").
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

CREATE OR REPLACE FUNCTION voucher.ledger_field(p text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT int4send(octet_length(convert_to(coalesce(p, ''), 'UTF8'))) || convert_to(coalesce(p, ''), 'UTF8')
$$;

CREATE OR REPLACE FUNCTION voucher.ledger_canon(p_id bigint, p_at timestamptz, p_debit text, p_credit text,
	p_amount bigint, p_run bigint, p_memo text, p_alg text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT voucher.ledger_field(p_id::text)
	    || voucher.ledger_field(to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
	    || voucher.ledger_field(p_debit) || voucher.ledger_field(p_credit)
	    || voucher.ledger_field(p_amount::text) || voucher.ledger_field(p_run::text)
	    || voucher.ledger_field(p_memo) || voucher.ledger_field(p_alg)
$$;

-- The head of the chain: the last entry's id and hash (0 and 32 zero bytes
-- for an empty ledger).  Takes the chain's lock first: one writer at a time
-- (held to the end of the transaction), so entry ids have no gaps.
CREATE OR REPLACE FUNCTION voucher.ledger_head(OUT head_id bigint, OUT head_hash bytea, OUT head_alg text)
LANGUAGE plpgsql VOLATILE SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(7305412);
	SELECT alg INTO head_alg FROM voucher.ledger_config;
	SELECT e.entry_id, e.hash INTO head_id, head_hash FROM voucher.ledger_entries e
	 WHERE e.entry_id = (SELECT max(entry_id) FROM voucher.ledger_entries);
	IF NOT FOUND THEN
		head_id := 0;
		head_hash := decode(repeat('00', 32), 'hex');
	END IF;
END
$$;

-- Appends one posting after the entry (p_prev_id, p_prev_hash); returns its hash.
CREATE OR REPLACE FUNCTION voucher.ledger_append(p_prev_id bigint, p_prev_hash bytea, p_alg text, p_debit text,
	p_credit text, p_amount bigint, p_run bigint, p_memo text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = voucher, pg_temp AS $$
DECLARE
	v_at   timestamptz := date_trunc('microseconds', clock_timestamp());
	v_data bytea;
	v_hash bytea;
BEGIN
	IF p_amount <= 0 THEN
		RAISE EXCEPTION 'ledger: a posting moves a positive amount (got %)', p_amount;
	END IF;
	v_data := p_prev_hash || voucher.ledger_canon(p_prev_id + 1, v_at, p_debit, p_credit, p_amount, p_run,
						      p_memo, p_alg);
	v_hash := CASE p_alg WHEN 'sm3' THEN voucher.digest(v_data, 'sm3') ELSE sha256(v_data) END;
	INSERT INTO voucher.ledger_entries (entry_id, at, debit, credit, amount_fen, run_id, memo, alg,
		prev_hash, hash)
	VALUES (p_prev_id + 1, v_at, p_debit, p_credit, p_amount, p_run, p_memo, p_alg, p_prev_hash, v_hash);
	RETURN v_hash;
END
$$;

-- One posting at the head of the chain; returns its entry id.
CREATE OR REPLACE FUNCTION voucher.ledger_post(p_debit text, p_credit text, p_amount bigint, p_run bigint,
	p_memo text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = voucher, pg_temp AS $$
DECLARE
	v_head record;
BEGIN
	SELECT * INTO v_head FROM voucher.ledger_head();
	PERFORM voucher.ledger_append(v_head.head_id, v_head.head_hash, v_head.head_alg, p_debit, p_credit,
				      p_amount, p_run, p_memo);
	RETURN v_head.head_id + 1;
END
$$;

-- The hash of a deployment that must use 国密 algorithms: switch before the
-- first posting (an existing chain keeps the algorithm each entry names).
CREATE OR REPLACE FUNCTION voucher.ledger_set_alg(p_alg text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM voucher.ledger_entries) THEN
		RAISE EXCEPTION 'the ledger already has entries: its hash algorithm is fixed'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE voucher.ledger_config SET alg = p_alg;
END
$$;

-- The postings of a run's approval: the grants.  The head is read once and
-- carried along, so a run of any size posts in linear time.  (Disbursement
-- posts line by line: voucher.ledger_post_lines.)
CREATE OR REPLACE FUNCTION voucher.ledger_post_run(p_run bigint, p_event text) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run  record;
	v_line record;
	v_head record;
	v_id   bigint;
	v_hash bytea;
	v_year text;
	v_pool text;
	v_pay  text;
BEGIN
	IF p_event <> 'approved' THEN
		RAISE EXCEPTION 'ledger_post_run: % is posted line by line (voucher.ledger_post_lines)', p_event;
	END IF;
	SELECT * INTO v_run FROM voucher.runs WHERE run_id = p_run;
	SELECT * INTO v_head FROM voucher.ledger_head();
	v_id := v_head.head_id;
	v_hash := v_head.head_hash;
	v_year := left(v_run.period, 4);
	v_pool := 'pool/' || v_run.program || '/' || v_year;
	FOR v_line IN SELECT l.uscc, l.payable FROM voucher.run_lines l
		       WHERE l.run_id = p_run AND l.payable <> 0 ORDER BY l.uscc COLLATE "C"
	LOOP
		v_pay := 'payable/' || v_run.program || '/' || v_year || '/' || v_line.uscc;
		IF v_line.payable > 0 THEN
			v_hash := voucher.ledger_append(v_id, v_hash, v_head.head_alg, v_pay, v_pool, v_line.payable,
							p_run, 'grant ' || v_run.period);
		ELSE
			v_hash := voucher.ledger_append(v_id, v_hash, v_head.head_alg, v_pool, v_pay, -v_line.payable,
							p_run, 'recovery ' || v_run.period);
		END IF;
		v_id := v_id + 1;
	END LOOP;
	RETURN v_id - v_head.head_id;
END
$$;

-- The disbursement postings of some lines of a run (p_uscc, in that order):
-- payable -> paid, a recovery paid -> payable.  Same accounts, memo and chain
-- as before disbursement went line by line.
CREATE OR REPLACE FUNCTION voucher.ledger_post_lines(p_run bigint, p_uscc text[]) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run  record;
	v_line record;
	v_head record;
	v_id   bigint;
	v_hash bytea;
	v_year text;
	v_pay  text;
	v_paid text;
BEGIN
	SELECT * INTO v_run FROM voucher.runs WHERE run_id = p_run;
	SELECT * INTO v_head FROM voucher.ledger_head();
	v_id := v_head.head_id;
	v_hash := v_head.head_hash;
	v_year := left(v_run.period, 4);
	FOR v_line IN SELECT l.uscc, l.payable FROM unnest(p_uscc) WITH ORDINALITY AS u(uscc, n)
		       JOIN voucher.run_lines l ON l.run_id = p_run AND l.uscc = u.uscc
		      WHERE l.payable <> 0 ORDER BY u.n
	LOOP
		v_pay := 'payable/' || v_run.program || '/' || v_year || '/' || v_line.uscc;
		v_paid := 'paid/' || v_run.program || '/' || v_year || '/' || v_line.uscc;
		IF v_line.payable > 0 THEN
			v_hash := voucher.ledger_append(v_id, v_hash, v_head.head_alg, v_paid, v_pay, v_line.payable,
							p_run, 'disbursed ' || v_run.period);
		ELSE
			v_hash := voucher.ledger_append(v_id, v_hash, v_head.head_alg, v_pay, v_paid, -v_line.payable,
							p_run, 'recovered ' || v_run.period);
		END IF;
		v_id := v_id + 1;
	END LOOP;
	RETURN v_id - v_head.head_id;
END
$$;

-- The overview's totals of an approved run, by division (frozen with its
-- lines): what it grants and recovers, and the enterprises with a payable
-- that no earlier approved run of the programme and month had.
CREATE OR REPLACE FUNCTION voucher.run_totals_post(p_run bigint) RETURNS void
LANGUAGE sql VOLATILE SET search_path = voucher, pg_temp AS $$
	INSERT INTO voucher.run_division_totals (run_id, division, granted_fen, recovered_fen, enterprises)
	SELECT l.run_id, l.division, coalesce(sum(l.payable) FILTER (WHERE l.payable > 0), 0),
	       coalesce(-sum(l.payable) FILTER (WHERE l.payable < 0), 0),
	       count(*) FILTER (WHERE l.payable <> 0 AND NOT EXISTS (
		       SELECT 1 FROM voucher.runs r2
			 JOIN voucher.run_events a2 ON a2.run_id = r2.run_id AND a2.event = 'approved'
			 JOIN voucher.run_lines l2 ON l2.run_id = r2.run_id AND l2.uscc = l.uscc AND l2.payable <> 0
			WHERE r2.program = r.program AND r2.period = r.period AND r2.run_id <> p_run))
	  FROM voucher.run_lines l JOIN voucher.runs r ON r.run_id = l.run_id
	 WHERE l.run_id = p_run
	 GROUP BY l.run_id, l.division
$$;

-- Approval posts to the ledger, and the run's totals, in the same
-- transaction.  Disbursement posts line by line (voucher.run_disburse).
CREATE OR REPLACE FUNCTION voucher.run_events_post() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	IF NEW.event = 'approved' THEN
		PERFORM voucher.ledger_post_run(NEW.run_id, NEW.event);
		PERFORM voucher.run_totals_post(NEW.run_id);
	END IF;
	RETURN NEW;
END
$$;
