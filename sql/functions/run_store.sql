-- Settlement: storing a draft run.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- A month is settled once it has ended in China time.
CREATE OR REPLACE FUNCTION voucher.period_ended(p_period text) RETURNS void
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

-- Stores a draft computed by voucherctl settle from the cut p_cutoff (taken
-- with voucher.ingest_cut), superseding the earlier draft of the same
-- programme and period.  What the database can check without the engine it
-- checks: who prepares, that the month has ended, that the programme version
-- is the one in force, the cut's age, that every line's granted_before is
-- what approved runs granted, and each line's and the totals' arithmetic.
-- The engine's amounts are checked by the approver's recomputation and by
-- audit verify.
CREATE OR REPLACE FUNCTION voucher.run_store(p_program text, p_version text, p_period text, p_as_of date,
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
