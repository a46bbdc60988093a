-- Overrides (一事一议): proposed by one finance user, confirmed by another.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- Checks an override against its programme (the version in force) and
-- the registry: the ceilings of the file's [overrides] section, and for a
-- programme whose overrides need a flag (Hangzhou: foundation_model) that
-- the enterprise holds it in the version in force today, and that a cap
-- only raises the programme's cap when the file says so.
CREATE OR REPLACE FUNCTION voucher.override_check(p_program text, p_enterprise text, p_rate integer, p_cap bigint)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = voucher, pg_temp AS $$
DECLARE
	v_text  text := (voucher.program_current(p_program)).text;
	v_rate  text;
	v_cap   text;
	v_flag  text;
	v_raise text;
	v_has   boolean;
BEGIN
	IF v_text IS NULL THEN
		RAISE EXCEPTION 'override: programme % is not loaded', p_program USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_rate := voucher.program_setting(v_text, 'overrides', 'max_rate_bp');
	v_cap := voucher.program_setting(v_text, 'overrides', 'max_cap_yuan');
	v_flag := voucher.program_setting(v_text, 'overrides', 'requires_flag');
	v_raise := voucher.program_setting(v_text, 'overrides', 'cap_raise_only');
	IF p_rate IS NOT NULL AND v_rate IS NULL THEN
		RAISE EXCEPTION 'override: programme % allows no rate overrides', p_program USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_rate IS NOT NULL AND p_rate > v_rate::integer THEN
		RAISE EXCEPTION 'override: % bp is above programme %''s ceiling of % bp', p_rate, p_program, v_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_cap IS NOT NULL AND v_cap IS NULL THEN
		RAISE EXCEPTION 'override: programme % allows no cap overrides', p_program USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_cap IS NOT NULL AND v_cap <> 'unlimited' AND p_cap > voucher.yuan_fen(v_cap) THEN
		RAISE EXCEPTION 'override: a cap of % yuan is above programme %''s ceiling of % yuan',
			to_char(p_cap / 100.0, 'FM999999999990.00'), p_program, v_cap USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_raise = 'yes' AND p_cap IS NOT NULL
	   AND p_cap <= voucher.yuan_fen(voucher.program_setting(v_text, 'caps', 'cap')) THEN
		RAISE EXCEPTION 'override: programme % only raises the cap above its % yuan; a cap of % yuan is refused',
			p_program, voucher.program_setting(v_text, 'caps', 'cap'), to_char(p_cap / 100.0, 'FM999999999990.00')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_flag IS NOT NULL THEN
		IF v_flag NOT IN ('sme', 'model_developer', 'maas_builder', 'model_registered', 'foundation_model') THEN
			RAISE EXCEPTION 'override: programme % requires the unknown flag %', p_program, v_flag;
		END IF;
		EXECUTE format('SELECT %I FROM voucher.enterprise_registry WHERE uscc = $1 AND valid_from <= $2 '
			       'ORDER BY valid_from DESC LIMIT 1', v_flag)
			INTO v_has USING p_enterprise, (now() AT TIME ZONE 'Asia/Shanghai')::date;
		IF v_has IS NOT TRUE THEN
			RAISE EXCEPTION 'override: programme % takes overrides only for enterprises flagged %, and % is not (in the registry version in force today)',
				p_program, v_flag, p_enterprise USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION voucher.override_propose(p_program text, p_enterprise text, p_year integer, p_rate integer,
	p_cap bigint, p_ref text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_id bigint;
BEGIN
	PERFORM voucher.acting_finance_user('override propose');
	PERFORM voucher.write_begin();
	IF NOT EXISTS (SELECT 1 FROM voucher.enterprises WHERE uscc = p_enterprise) THEN
		RAISE EXCEPTION 'override propose: enterprise % is not registered', p_enterprise
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM voucher.override_check(p_program, p_enterprise, p_rate, p_cap);
	INSERT INTO voucher.overrides (program, enterprise, year, rate_bp, cap_fen, ref)
	VALUES (p_program, p_enterprise, p_year, p_rate, p_cap, p_ref) RETURNING id INTO v_id;
	RETURN v_id;
END
$$;

-- Confirmation by a finance user other than the proposer; the checks run
-- again against the programme and registry in force now.
CREATE OR REPLACE FUNCTION voucher.override_confirm(p_id bigint) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_o  voucher.overrides;
	v_at timestamptz;
BEGIN
	PERFORM voucher.acting_finance_user('override confirm');
	PERFORM voucher.write_begin();
	SELECT * INTO v_o FROM voucher.overrides WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'override confirm: there is no override %', p_id USING ERRCODE = 'no_data_found';
	END IF;
	IF v_o.confirmed_at IS NOT NULL THEN
		RAISE EXCEPTION 'override confirm: override % was confirmed at % by %', p_id, v_o.confirmed_at,
			v_o.confirmed_by USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_o.added_by = session_user THEN
		RAISE EXCEPTION 'override confirm: override % was proposed by %: another finance user must confirm it',
			p_id, session_user USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM voucher.override_check(v_o.program, v_o.enterprise, v_o.rate_bp, v_o.cap_fen);
	v_at := clock_timestamp();
	UPDATE voucher.overrides SET confirmed_at = v_at, confirmed_by = session_user WHERE id = p_id;
	RETURN v_at;
END
$$;
