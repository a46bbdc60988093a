-- Settlement: programme versions, overrides, the official calendar, runs and
-- their review chain (docs/policies.md rule 8, README.md "Settlement").

-- A programme file, stored whole; its version is the SHA-256 of its bytes.
-- A changed file is a new version; a version never changes.
CREATE TABLE voucher.program_versions (
	version    text PRIMARY KEY CHECK (version ~ '^[0-9a-f]{64}$'),
	program    text NOT NULL CHECK (program ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
	text       text NOT NULL,
	loaded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	loaded_by  text NOT NULL DEFAULT session_user
);
CREATE INDEX program_versions_program ON voucher.program_versions (program, loaded_at);
CREATE TRIGGER program_versions_append_only BEFORE UPDATE OR DELETE ON voucher.program_versions
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();

-- 一事一议: a rate and/or cap for (programme, enterprise, year), with the
-- document that decided it.  The newest entry for a key is the one in force.
CREATE TABLE voucher.overrides (
	id         bigserial PRIMARY KEY,
	program    text NOT NULL,
	enterprise text NOT NULL REFERENCES voucher.enterprises(uscc),
	year       integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
	rate_bp    integer CHECK (rate_bp BETWEEN 1 AND 10000),
	cap_fen    bigint CHECK (cap_fen >= 0),
	ref        text NOT NULL CHECK (length(ref) BETWEEN 1 AND 300),
	added_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
	added_by   text NOT NULL DEFAULT session_user,
	CHECK (rate_bp IS NOT NULL OR cap_fen IS NOT NULL)
);
CREATE INDEX overrides_key ON voucher.overrides (program, year, enterprise, id);
CREATE TRIGGER overrides_append_only BEFORE UPDATE OR DELETE ON voucher.overrides
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();

-- China's official calendar: weekdays that are holidays and weekend days that
-- are working days (调休).  Every other Monday-Friday is a working day.
-- A year counts as loaded when it has a row in calendar_years.
CREATE TABLE voucher.calendar_years (
	year       integer PRIMARY KEY,
	source     text NOT NULL,
	loaded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	loaded_by  text NOT NULL DEFAULT session_user
);
CREATE TABLE voucher.calendar_days (
	day        date PRIMARY KEY,
	kind       text NOT NULL CHECK (kind IN ('holiday', 'workday')),
	name       text NOT NULL,
	year       integer NOT NULL REFERENCES voucher.calendar_years(year) ON DELETE CASCADE
);

-- A settlement run of one programme for one month.  A draft may be replaced
-- by a new draft of the same programme and period; from approval on, the run
-- and its lines never change (trigger below): publish and disburse are events.
CREATE TABLE voucher.runs (
	run_id          bigserial PRIMARY KEY,
	program         text NOT NULL,
	program_version text NOT NULL REFERENCES voucher.program_versions(version),
	period          text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
	as_of           date NOT NULL,            -- the run's date (China time): eligibility of enterprises
	data_cutoff     timestamptz NOT NULL,     -- records received after this are not in the run
	prepared_by     text NOT NULL DEFAULT session_user,
	prepared_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
	pool_left_fen   bigint,                   -- NULL: no pool
	total_payable   bigint NOT NULL,
	total_recovered bigint NOT NULL,
	total_asked     bigint NOT NULL,
	lines           integer NOT NULL
);
CREATE INDEX runs_program_period ON voucher.runs (program, period);

CREATE TABLE voucher.run_lines (
	run_id              bigint NOT NULL REFERENCES voucher.runs(run_id) ON DELETE CASCADE,
	uscc                text NOT NULL,
	enterprise          text NOT NULL,
	division            text NOT NULL,
	eligible_amount_ytd bigint NOT NULL,
	entitlement_ytd     bigint NOT NULL,
	cap                 bigint NOT NULL,
	granted_before      bigint NOT NULL,
	difference          bigint NOT NULL,
	payable             bigint NOT NULL,
	status              text NOT NULL CHECK (status IN ('payable', 'recovery', 'withheld', 'none')),
	note                text NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, uscc)
);

-- The review chain.  'approved' needs a database user other than the preparer
-- (checked in voucher.run_approve); 'published' starts the notice of five
-- working days; 'disbursed' is refused before the notice has ended.
CREATE TABLE voucher.run_events (
	run_id      bigint NOT NULL REFERENCES voucher.runs(run_id),
	event       text NOT NULL CHECK (event IN ('approved', 'published', 'disbursed')),
	at          timestamptz NOT NULL DEFAULT clock_timestamp(),
	by_user     text NOT NULL DEFAULT session_user,
	notice_ends date,            -- published: the last working day of the notice
	payment_ref text,            -- disbursed
	PRIMARY KEY (run_id, event)
);
CREATE TRIGGER run_events_append_only BEFORE UPDATE OR DELETE ON voucher.run_events
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();

-- What approved runs granted: one row per line that moved money.  The sum per
-- (programme, year, enterprise) is granted_before of the next run; the sum per
-- (programme, year) is what the pool has given.
CREATE TABLE voucher.grants (
	run_id     bigint NOT NULL REFERENCES voucher.runs(run_id),
	program    text NOT NULL,
	year       integer NOT NULL,
	uscc       text NOT NULL,
	amount_fen bigint NOT NULL,
	PRIMARY KEY (run_id, uscc)
);
CREATE INDEX grants_key ON voucher.grants (program, year, uscc);
CREATE TRIGGER grants_append_only BEFORE UPDATE OR DELETE ON voucher.grants
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER grants_no_truncate BEFORE TRUNCATE ON voucher.grants
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

-- An approved run and its lines are frozen: only drafts may be replaced.
CREATE FUNCTION voucher.refuse_change_if_approved() RETURNS trigger
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
CREATE TRIGGER runs_frozen BEFORE UPDATE OR DELETE ON voucher.runs
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change_if_approved();
CREATE TRIGGER run_lines_frozen BEFORE INSERT OR UPDATE OR DELETE ON voucher.run_lines
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change_if_approved();
CREATE TRIGGER runs_no_truncate BEFORE TRUNCATE ON voucher.runs
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER run_lines_no_truncate BEFORE TRUNCATE ON voucher.run_lines
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

-- Approval: a different database user than the preparer, a draft that is the
-- newest of its programme and period, and no other approved run for them that
-- this one has not seen.  Posts the grants.  Runs as the owner so that finance
-- users need no direct rights on run_events and grants.
CREATE FUNCTION voucher.run_approve(p_run bigint) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run record;
BEGIN
	SELECT * INTO v_run FROM voucher.runs WHERE run_id = p_run FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % does not exist', p_run USING ERRCODE = 'no_data_found';
	END IF;
	IF EXISTS (SELECT 1 FROM voucher.run_events WHERE run_id = p_run) THEN
		RAISE EXCEPTION 'run % is already approved', p_run USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_run.prepared_by = session_user THEN
		RAISE EXCEPTION 'run % was prepared by %: another user must approve it', p_run, session_user
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	-- a run computed before another run of the programme-year was approved
	-- used stale grants: it must be settled again
	IF EXISTS (SELECT 1 FROM voucher.runs r JOIN voucher.run_events e ON e.run_id = r.run_id
		    AND e.event = 'approved'
		    WHERE r.program = v_run.program AND left(r.period, 4) = left(v_run.period, 4)
		      AND e.at > v_run.prepared_at) THEN
		RAISE EXCEPTION 'run %: another run of % in % was approved after it was prepared; settle again',
			p_run, v_run.program, left(v_run.period, 4) USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- months are settled in order: a run for an earlier month than one
	-- already approved would pay again what a later run recovered
	IF EXISTS (SELECT 1 FROM voucher.runs r JOIN voucher.run_events e ON e.run_id = r.run_id
		    AND e.event = 'approved'
		    WHERE r.program = v_run.program AND left(r.period, 4) = left(v_run.period, 4)
		      AND r.period > v_run.period) THEN
		RAISE EXCEPTION 'run %: a later month of % in % is already approved; settle that month again instead',
			p_run, v_run.program, left(v_run.period, 4) USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO voucher.run_events (run_id, event) VALUES (p_run, 'approved');
	INSERT INTO voucher.grants (run_id, program, year, uscc, amount_fen)
	SELECT p_run, v_run.program, left(v_run.period, 4)::integer, l.uscc, l.payable
	  FROM voucher.run_lines l WHERE l.run_id = p_run AND l.payable <> 0;
	RETURN session_user;
END
$$;

-- China's working days: Monday to Friday unless a holiday, and the weekend
-- days the State Council swaps into working days.  NULL when the day's year is
-- not loaded (voucherctl calendar load): a notice is never computed on a guess.
CREATE FUNCTION voucher.is_workday(p_day date) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN NOT EXISTS (SELECT 1 FROM voucher.calendar_years y
				  WHERE y.year = extract(year FROM p_day)::integer) THEN NULL
		WHEN d.kind = 'workday' THEN true
		WHEN d.kind = 'holiday' THEN false
		ELSE extract(isodow FROM p_day) < 6
	END
	  FROM (SELECT 1) one
	  LEFT JOIN voucher.calendar_days d ON d.day = p_day
$$;

-- The n-th working day after p_from (p_from itself not counted).
CREATE FUNCTION voucher.add_workdays(p_from date, p_n integer) RETURNS date
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_day date := p_from;
	v_left integer := p_n;
	v_work boolean;
BEGIN
	WHILE v_left > 0 LOOP
		v_day := v_day + 1;
		v_work := voucher.is_workday(v_day);
		IF v_work IS NULL THEN
			RAISE EXCEPTION 'the official calendar for % is not loaded: run voucherctl calendar load with that year''s file',
				extract(year FROM v_day) USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v_work THEN
			v_left := v_left - 1;
		END IF;
	END LOOP;
	RETURN v_day;
END
$$;

-- Publishing starts the public notice today (China time): it lasts five
-- working days after today (细则 六: 公示5个工作日).
CREATE FUNCTION voucher.run_publish(p_run bigint) RETURNS date
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_ends date;
BEGIN
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

-- Disbursement is recorded only after the notice has ended (China time).
CREATE FUNCTION voucher.run_disburse(p_run bigint, p_ref text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_ends date;
BEGIN
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

CREATE VIEW audit.runs AS
	SELECT r.run_id, r.program, r.period,
	       CASE WHEN d.run_id IS NOT NULL THEN 'disbursed' WHEN p.run_id IS NOT NULL THEN 'published'
		    WHEN a.run_id IS NOT NULL THEN 'approved' ELSE 'draft' END AS status, r.prepared_by,
	       a.by_user AS approved_by, r.program_version, r.prepared_at AS created_at,
	       a.at AS approved_at, p.at AS published_at, p.notice_ends, d.at AS disbursed_at,
	       d.payment_ref, r.as_of, r.data_cutoff, r.total_payable, r.total_recovered,
	       r.prepared_at, r.pool_left_fen, r.total_asked, r.lines
	  FROM voucher.runs r
	  LEFT JOIN voucher.run_events a ON a.run_id = r.run_id AND a.event = 'approved'
	  LEFT JOIN voucher.run_events p ON p.run_id = r.run_id AND p.event = 'published'
	  LEFT JOIN voucher.run_events d ON d.run_id = r.run_id AND d.event = 'disbursed';

CREATE VIEW audit.run_lines AS
	SELECT l.run_id, r.program, r.period, l.uscc, l.enterprise, l.division, l.eligible_amount_ytd,
	       l.entitlement_ytd, l.cap, l.granted_before, l.difference, l.payable, l.status, l.note
	  FROM voucher.run_lines l JOIN voucher.runs r ON r.run_id = l.run_id;

CREATE VIEW audit.run_events AS
	SELECT run_id, event, at, by_user, notice_ends, payment_ref FROM voucher.run_events;

CREATE VIEW audit.program_versions AS
	SELECT version, program, text, loaded_at, loaded_by FROM voucher.program_versions;

CREATE VIEW audit.overrides AS
	SELECT id, program, enterprise, year, rate_bp, cap_fen, ref, added_at, added_by FROM voucher.overrides;

GRANT SELECT ON audit.runs, audit.run_lines, audit.run_events, audit.program_versions, audit.overrides
	TO voucher_auditor, voucher_finance;

GRANT SELECT ON ALL TABLES IN SCHEMA voucher TO voucher_finance;
GRANT INSERT ON voucher.program_versions, voucher.overrides, voucher.calendar_days,
	voucher.calendar_years, voucher.runs, voucher.run_lines TO voucher_finance;
GRANT DELETE ON voucher.runs, voucher.run_lines, voucher.calendar_days, voucher.calendar_years
	TO voucher_finance;
GRANT USAGE ON SEQUENCE voucher.runs_run_id_seq, voucher.overrides_id_seq TO voucher_finance;
REVOKE ALL ON FUNCTION voucher.run_approve, voucher.run_publish, voucher.run_disburse FROM PUBLIC;
GRANT EXECUTE ON FUNCTION voucher.run_approve, voucher.run_publish, voucher.run_disburse
	TO voucher_finance;

-- settle sums a year of usage by these columns first: with their combined
-- number of distinct values known, PostgreSQL sums in parallel and in memory
CREATE STATISTICS voucher.usage_records_settle_groups (ndistinct)
	ON enterprise, provider, facility, category FROM voucher.usage_records;
