-- Programme files: settings, the version in force, loading.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- One setting of a stored programme file ([section] key = value), read the
-- way settlement/program.c reads it: a comment starts with ';' or '#' at the
-- start of a line or after a space.  NULL when absent.
CREATE OR REPLACE FUNCTION voucher.program_setting(p_text text, p_section text, p_key text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v_line    text;
	v_section text := '';
	v_m       text[];
BEGIN
	FOREACH v_line IN ARRAY regexp_split_to_array(p_text, E'\n') LOOP
		v_line := btrim(regexp_replace(v_line, '(^|[ \t])[;#].*$', ''), E' \t\r');
		IF v_line ~ '^\[.*\]$' THEN
			v_section := btrim(substr(v_line, 2, length(v_line) - 2));
		ELSIF v_section = p_section THEN
			v_m := regexp_match(v_line, '^([A-Za-z0-9_]+)[ \t]*=[ \t]*(.*)$');
			IF v_m IS NOT NULL AND v_m[1] = p_key THEN
				RETURN v_m[2];
			END IF;
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;

-- yuan ("8000000", "1.5") to fen
CREATE OR REPLACE FUNCTION voucher.yuan_fen(p text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (p::numeric * 100)::bigint $$;

-- The newest version of a programme (NULL: none loaded).
CREATE OR REPLACE FUNCTION voucher.program_current(p_program text) RETURNS voucher.program_versions
LANGUAGE sql STABLE SET search_path = voucher, pg_temp AS $$
	SELECT * FROM voucher.program_versions WHERE program = p_program
	 ORDER BY loaded_at DESC, version LIMIT 1
$$;

-- A programme file, stored whole; its version is the SHA-256 of its text,
-- computed here, and the time of loading is the database's.
CREATE OR REPLACE FUNCTION voucher.program_load(p_program text, p_text text)
RETURNS TABLE (version text, added boolean, loaded text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_version text := encode(sha256(convert_to(p_text, 'UTF8')), 'hex');
	v_n       integer;
BEGIN
	PERFORM voucher.write_begin();
	IF voucher.program_setting(p_text, 'program', 'id') IS DISTINCT FROM p_program THEN
		RAISE EXCEPTION 'program load: the file''s [program] id is not %', p_program
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO voucher.program_versions (version, program, text) VALUES (v_version, p_program, p_text)
		ON CONFLICT ON CONSTRAINT program_versions_pkey DO NOTHING;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN QUERY SELECT v_version, v_n = 1,
		(SELECT pv.program || ' at ' || to_char(pv.loaded_at, 'YYYY-MM-DD HH24:MI:SS')
		   FROM voucher.program_versions pv WHERE pv.version = v_version);
END
$$;
