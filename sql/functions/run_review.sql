-- The review chain of a run: approve, return or discard, publish, disburse
-- (docs/policies.md rule 8, README.md "Settlement").
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- A draft's state: NULL while it is a draft, else the event that ended it.
CREATE OR REPLACE FUNCTION voucher.run_ended(p_run bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = voucher, pg_temp AS $$
	SELECT e.event FROM voucher.run_events e WHERE e.run_id = p_run
	 ORDER BY CASE e.event WHEN 'approved' THEN 0 ELSE 1 END LIMIT 1
$$;

-- What changed since a draft's cut-off that a new settle would see: the
-- reason a stale draft may not be approved, or NULL.
CREATE OR REPLACE FUNCTION voucher.run_stale(p_run bigint) RETURNS text
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
	IF EXISTS (SELECT 1 FROM voucher.related_parties WHERE added_at > v_run.data_cutoff)
	   OR EXISTS (SELECT 1 FROM voucher.related_sellers WHERE added_at > v_run.data_cutoff) THEN
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

-- Approval: a different database user than the preparer, a draft that is the
-- newest of its programme and period, and no other approved run for them that
-- this one has not seen.  Posts the grants.  Runs as the owner so that finance
-- users need no direct rights on run_events and grants.
CREATE OR REPLACE FUNCTION voucher.run_approve(p_run bigint, p_comment text DEFAULT NULL)
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
CREATE OR REPLACE FUNCTION voucher.run_end(p_run bigint, p_event text, p_comment text) RETURNS void
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

-- Publishing starts the public notice today (China time): it lasts five
-- working days after today (细则 六: 公示5个工作日).
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

-- Disbursement, after the notice has ended (China time), line by line:
-- every line with a payable not yet disbursed and with no open and no upheld
-- objection is recorded in voucher.line_disbursements with the payment
-- reference and posted to the ledger (payable -> paid; a recovery back).  The
-- first disbursement of a run is its 'disbursed' event.  A later call pays
-- the lines held back whose objections were dismissed since; a line with an
-- upheld objection is never paid by this run (a later run corrects it).
-- Calls for one run, and objections to it, take turns (the run's row lock).
CREATE OR REPLACE FUNCTION voucher.run_disburse(p_run bigint, p_ref text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_ends  date;
	v_at    timestamptz;
	v_lines text[];
	v_held  bigint;
BEGIN
	PERFORM voucher.acting_finance_user('run disburse');
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'run disburse: call it in a READ COMMITTED transaction, so that it sees the objections before it'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM 1 FROM voucher.runs WHERE run_id = p_run FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'no_data_found';
	END IF;
	SELECT notice_ends INTO v_ends FROM voucher.run_events WHERE run_id = p_run AND event = 'published';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % is not published: publish it and wait for the notice to end', p_run
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (now() AT TIME ZONE 'Asia/Shanghai')::date <= v_ends THEN
		RAISE EXCEPTION 'run %: the public notice runs until % (5 working days); disburse after it', p_run, v_ends
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_ref IS NULL OR length(p_ref) NOT BETWEEN 1 AND 200 THEN
		RAISE EXCEPTION 'a payment reference of 1 to 200 characters is required' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT array_agg(l.uscc ORDER BY l.uscc COLLATE "C") FILTER (WHERE NOT EXISTS (
			SELECT 1 FROM voucher.objections o WHERE o.run_id = l.run_id AND o.uscc = l.uscc
			   AND (o.outcome IS NULL OR o.outcome = 'upheld'))),
	       count(*) FILTER (WHERE EXISTS (
			SELECT 1 FROM voucher.objections o WHERE o.run_id = l.run_id AND o.uscc = l.uscc
			   AND o.outcome IS NULL)
		   AND NOT EXISTS (
			SELECT 1 FROM voucher.objections o WHERE o.run_id = l.run_id AND o.uscc = l.uscc
			   AND o.outcome = 'upheld'))
	  INTO v_lines, v_held
	  FROM voucher.run_lines l
	 WHERE l.run_id = p_run AND l.payable <> 0
	   AND NOT EXISTS (SELECT 1 FROM voucher.line_disbursements d WHERE d.run_id = l.run_id AND d.uscc = l.uscc);
	IF v_lines IS NULL AND v_held > 0 THEN
		RAISE EXCEPTION 'run %: % lines are held by open objections; resolve them, then disburse again',
			p_run, v_held USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_lines IS NULL AND EXISTS (SELECT 1 FROM voucher.run_events WHERE run_id = p_run AND event = 'disbursed') THEN
		RAISE EXCEPTION 'run % is already disbursed', p_run USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_at := clock_timestamp();
	INSERT INTO voucher.run_events (run_id, event, at, payment_ref) VALUES (p_run, 'disbursed', v_at, p_ref)
		ON CONFLICT (run_id, event) DO NOTHING;
	IF v_lines IS NOT NULL THEN
		INSERT INTO voucher.line_disbursements (run_id, uscc, payment_ref, at)
		SELECT p_run, u, p_ref, v_at FROM unnest(v_lines) u;
		INSERT INTO voucher.disbursement_totals (run_id, division, at, payment_ref, paid_fen, recovered_fen, lines)
		SELECT p_run, l.division, v_at, p_ref, coalesce(sum(l.payable) FILTER (WHERE l.payable > 0), 0),
		       coalesce(-sum(l.payable) FILTER (WHERE l.payable < 0), 0), count(*)
		  FROM unnest(v_lines) u JOIN voucher.run_lines l ON l.run_id = p_run AND l.uscc = u
		 GROUP BY l.division;
		PERFORM voucher.ledger_post_lines(p_run, v_lines);
	END IF;
END
$$;
