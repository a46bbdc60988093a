-- China's official calendar: working days and loads.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- China's working days: Monday to Friday unless a holiday, and the weekend
-- days the State Council swaps into working days.  NULL when the day's year is
-- not loaded (voucherctl calendar load): a notice is never computed on a guess.
CREATE OR REPLACE FUNCTION voucher.is_workday(p_day date) RETURNS boolean
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
CREATE OR REPLACE FUNCTION voucher.add_workdays(p_from date, p_n integer) RETURNS date
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

-- A new load of one year of the official calendar (p_days: 'YYYY-MM-DD',
-- p_kinds: holiday | workday, p_names).  The newest load is in force.
CREATE OR REPLACE FUNCTION voucher.calendar_load(p_year integer, p_source text, p_days date[], p_kinds text[],
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
