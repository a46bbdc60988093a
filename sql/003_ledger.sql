-- The ledger: double entry, append only, hash-chained (README.md "Ledger and audit").
--
-- Every posting moves amount_fen from the credit account to the debit
-- account; an account's balance is the sum of its debits minus the sum of its
-- credits, so the whole ledger sums to zero.  Accounts are named
--   pool/<programme>/<year>              what the programme-year has given (negative)
--   payable/<programme>/<year>/<payee>   granted and not yet paid out
--   paid/<programme>/<year>/<payee>      paid out
-- Approval moves each line's payable from the pool to the payee's payable
-- account (a recovery the other way); disbursement moves it from payable to
-- paid (a recovery from paid back to payable).
--
-- The chain: hash(n) = H(hash(n-1) || canon(n)), hash(0) = 32 zero bytes, H
-- SHA-256 or SM3 (voucher.ledger_config; SM3 through pgcrypto).  canon is the
-- concatenation, in this order, of entry_id, at, debit, credit, amount_fen,
-- run_id, memo, alg, each as a 4-byte big-endian byte length followed by its
-- UTF-8 bytes; numbers in decimal, at as YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC),
-- an absent run_id as the empty string.  voucherctl audit verify recomputes it
-- independently (audit/ledger.c).

CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA voucher;

CREATE TABLE voucher.ledger_config (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	alg  text NOT NULL CHECK (alg IN ('sha256', 'sm3'))
);
INSERT INTO voucher.ledger_config (alg) VALUES ('sha256');

CREATE TABLE voucher.ledger_entries (
	entry_id   bigint PRIMARY KEY CHECK (entry_id >= 1),
	at         timestamptz NOT NULL,
	debit      text NOT NULL,
	credit     text NOT NULL CHECK (credit <> debit),
	amount_fen bigint NOT NULL CHECK (amount_fen > 0),
	run_id     bigint REFERENCES voucher.runs(run_id),
	memo       text NOT NULL,
	alg        text NOT NULL CHECK (alg IN ('sha256', 'sm3')),
	prev_hash  bytea NOT NULL,
	hash       bytea NOT NULL
);
CREATE INDEX ledger_entries_debit ON voucher.ledger_entries (debit);
CREATE INDEX ledger_entries_credit ON voucher.ledger_entries (credit);
CREATE INDEX ledger_entries_run ON voucher.ledger_entries (run_id);
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON voucher.ledger_entries
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON voucher.ledger_entries
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

CREATE FUNCTION voucher.ledger_field(p text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT int4send(octet_length(convert_to(coalesce(p, ''), 'UTF8'))) || convert_to(coalesce(p, ''), 'UTF8')
$$;

CREATE FUNCTION voucher.ledger_canon(p_id bigint, p_at timestamptz, p_debit text, p_credit text,
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
CREATE FUNCTION voucher.ledger_head(OUT head_id bigint, OUT head_hash bytea, OUT head_alg text)
LANGUAGE plpgsql VOLATILE SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(7305412);  -- VOUCHER_LOCK_LEDGER (common/locks.h)
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
CREATE FUNCTION voucher.ledger_append(p_prev_id bigint, p_prev_hash bytea, p_alg text, p_debit text,
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
CREATE FUNCTION voucher.ledger_post(p_debit text, p_credit text, p_amount bigint, p_run bigint,
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
REVOKE ALL ON FUNCTION voucher.ledger_head, voucher.ledger_append, voucher.ledger_post FROM PUBLIC;

-- The hash of a deployment that must use 国密 algorithms: switch before the
-- first posting (an existing chain keeps the algorithm each entry names).
CREATE FUNCTION voucher.ledger_set_alg(p_alg text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM voucher.ledger_entries) THEN
		RAISE EXCEPTION 'the ledger already has entries: its hash algorithm is fixed'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE voucher.ledger_config SET alg = p_alg;
END
$$;
REVOKE ALL ON FUNCTION voucher.ledger_set_alg FROM PUBLIC;

-- The postings of one run: approval (the grants) or disbursement.  The head
-- is read once and carried along, so a run of any size posts in linear time.
CREATE FUNCTION voucher.ledger_post_run(p_run bigint, p_event text) RETURNS integer
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
	v_paid text;
BEGIN
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
		v_paid := 'paid/' || v_run.program || '/' || v_year || '/' || v_line.uscc;
		IF p_event = 'approved' AND v_line.payable > 0 THEN
			v_hash := voucher.ledger_append(v_id, v_hash, v_head.head_alg, v_pay, v_pool, v_line.payable,
							p_run, 'grant ' || v_run.period);
		ELSIF p_event = 'approved' THEN
			v_hash := voucher.ledger_append(v_id, v_hash, v_head.head_alg, v_pool, v_pay, -v_line.payable,
							p_run, 'recovery ' || v_run.period);
		ELSIF v_line.payable > 0 THEN
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
REVOKE ALL ON FUNCTION voucher.ledger_post_run FROM PUBLIC;

-- Approval and disbursement post to the ledger in the same transaction.
CREATE FUNCTION voucher.run_events_post() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	IF NEW.event IN ('approved', 'disbursed') THEN
		PERFORM voucher.ledger_post_run(NEW.run_id, NEW.event);
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER run_events_post AFTER INSERT ON voucher.run_events
	FOR EACH ROW EXECUTE FUNCTION voucher.run_events_post();

CREATE VIEW audit.ledger_entries AS
	SELECT entry_id, at, debit, credit, amount_fen, run_id, memo, alg, hash, prev_hash
	  FROM voucher.ledger_entries;

-- Balances: every account's, derived from the entries.
CREATE VIEW audit.ledger_balances AS
	SELECT account, sum(amount) AS balance_fen, count(*) AS postings
	  FROM (SELECT debit AS account, amount_fen AS amount FROM voucher.ledger_entries
		UNION ALL
		SELECT credit, -amount_fen FROM voucher.ledger_entries) p
	 GROUP BY account;

CREATE VIEW audit.grants AS
	SELECT run_id, program, year, uscc, amount_fen FROM voucher.grants;

GRANT SELECT ON audit.ledger_entries, audit.ledger_balances, audit.grants TO voucher_auditor, voucher_finance;
GRANT SELECT ON voucher.ledger_entries, voucher.ledger_config TO voucher_finance;
GRANT EXECUTE ON FUNCTION voucher.ledger_set_alg TO voucher_finance;

-- A clean cut through ingest.  Every ingest transaction holds lock 7305413
-- shared; a reader that must see "everything that arrived up to time T, and
-- nothing after" does, in one session:
--   SELECT pg_advisory_lock(7305413);            -- waits for ingests in flight
--   BEGIN ISOLATION LEVEL REPEATABLE READ;
--   SELECT now();                                -- the snapshot and the cut-off
--   SELECT pg_advisory_unlock(7305413);          -- ingest resumes
-- Every batch and record committed before the snapshot has received_at <= now()
-- and a smaller seq; every later one has received_at > now() (its ingest began
-- after the unlock).  So a run recomputed later from "received_at <= cut-off"
-- sees exactly the records the run saw, and a checkpoint of the first N batches
-- (by seq) never gains a batch afterwards.  (settle: settlement/run.c)
