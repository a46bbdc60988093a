-- The console (issue 13): the public notice (公示) of a published run and
-- objections (异议) to its lines.  Disbursement line by line is
-- voucher.run_disburse (functions/run_review.sql).
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- A credit code as the public sees it: the first 6 and the last 4 characters
-- (18 in all: 6 + 8 masked + 4).
CREATE OR REPLACE FUNCTION voucher.uscc_mask(p_uscc text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT left(p_uscc, 6) || '********' || right(p_uscc, 4)
$$;

-- The public notice of a published run (细则 六: 公示5个工作日 on the
-- bureau's website): one row per line with a payable or a recovery, by
-- division then enterprise, the credit code masked here so that the public
-- role (voucher_notice) never reads a whole one.  The notice runs from the
-- first working day after publication to notice_ends.  Refused (no_data_found)
-- unless the run is published.
CREATE OR REPLACE FUNCTION voucher.notice(p_run bigint)
RETURNS TABLE (program text, program_name text, period text, published_at timestamptz, notice_ends date,
	       notice_first_day date, uscc_masked text, enterprise text, division text, payable_fen bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run   voucher.runs;
	v_pub   voucher.run_events;
	v_name  text;
	v_first date;
BEGIN
	SELECT * INTO v_run FROM voucher.runs r WHERE r.run_id = p_run;
	SELECT * INTO v_pub FROM voucher.run_events e WHERE e.run_id = p_run AND e.event = 'published';
	IF v_run.run_id IS NULL OR v_pub.run_id IS NULL THEN
		RAISE EXCEPTION 'run % is not published: there is no notice of it', p_run USING ERRCODE = 'no_data_found';
	END IF;
	v_name := (SELECT voucher.program_setting(v.text, 'program', 'name') FROM voucher.program_versions v
		    WHERE v.version = v_run.program_version);
	v_first := voucher.add_workdays((v_pub.at AT TIME ZONE 'Asia/Shanghai')::date, 1);
	RETURN QUERY
	SELECT v_run.program, coalesce(v_name, v_run.program), v_run.period, v_pub.at, v_pub.notice_ends, v_first,
	       voucher.uscc_mask(l.uscc), l.enterprise, l.division, l.payable
	  FROM voucher.run_lines l
	 WHERE l.run_id = p_run AND l.payable <> 0
	 ORDER BY l.division, l.enterprise, l.uscc;
END
$$;

-- An objection (异议) to a line of a published run, entered by a finance
-- user: the line must have a payable or a recovery.  Returns its id.
CREATE OR REPLACE FUNCTION voucher.objection_add(p_run bigint, p_uscc text, p_text text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_id bigint;
	v_payable bigint;
BEGIN
	PERFORM voucher.acting_finance_user('objection add');
	IF p_text IS NULL OR length(btrim(p_text)) = 0 OR length(p_text) > 2000 THEN
		RAISE EXCEPTION 'objection add: the objection is 1 to 2000 characters' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- takes turns with run_disburse: a disbursement after this sees the objection
	PERFORM 1 FROM voucher.runs WHERE run_id = p_run FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'no_data_found';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM voucher.run_events WHERE run_id = p_run AND event = 'published') THEN
		RAISE EXCEPTION 'objection add: run % is not published: objections are to the public notice', p_run
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT l.payable INTO v_payable FROM voucher.run_lines l WHERE l.run_id = p_run AND l.uscc = p_uscc;
	IF NOT FOUND OR v_payable = 0 THEN
		RAISE EXCEPTION 'objection add: run % has no line with a payable for %', p_run, p_uscc
			USING ERRCODE = 'no_data_found';
	END IF;
	INSERT INTO voucher.objections (run_id, uscc, objection) VALUES (p_run, p_uscc, p_text)
		RETURNING objection_id INTO v_id;
	RETURN v_id;
END
$$;

-- The resolution of an objection, once: dismissed (the line may be
-- disbursed) or upheld (this run never pays the line; a later run corrects
-- it), with the reason.
CREATE OR REPLACE FUNCTION voucher.objection_resolve(p_id bigint, p_outcome text, p_resolution text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_o voucher.objections;
BEGIN
	PERFORM voucher.acting_finance_user('objection resolve');
	IF p_outcome IS NULL OR p_outcome NOT IN ('dismissed', 'upheld') THEN
		RAISE EXCEPTION 'objection resolve: the outcome is dismissed or upheld' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_resolution IS NULL OR length(btrim(p_resolution)) = 0 OR length(p_resolution) > 2000 THEN
		RAISE EXCEPTION 'objection resolve: a resolution of 1 to 2000 characters saying why is required'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_o FROM voucher.objections WHERE objection_id = p_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'objection % does not exist', p_id USING ERRCODE = 'no_data_found';
	END IF;
	-- takes turns with run_disburse on the run, then with other resolutions
	PERFORM 1 FROM voucher.runs WHERE run_id = v_o.run_id FOR UPDATE;
	SELECT * INTO v_o FROM voucher.objections WHERE objection_id = p_id FOR UPDATE;
	IF v_o.outcome IS NOT NULL THEN
		RAISE EXCEPTION 'objection % was already resolved (%) by % at %', p_id, v_o.outcome, v_o.resolved_by,
			v_o.resolved_at USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE voucher.objections SET resolved_at = clock_timestamp(), resolved_by = session_user, outcome = p_outcome,
	       resolution = p_resolution
	 WHERE objection_id = p_id;
END
$$;

-- The notice for auditors, who have no rights in schema voucher.
CREATE OR REPLACE FUNCTION audit.notice(p_run bigint)
RETURNS TABLE (program text, program_name text, period text, published_at timestamptz, notice_ends date,
	       notice_first_day date, uscc_masked text, enterprise text, division text, payable_fen bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
	SELECT * FROM voucher.notice(p_run)
$$;
