-- Registry writes: providers, certificates, keys, facilities, enterprises, relations;
-- backdating.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- Is a registry or relation change effective from p_from backdated: does
-- an approved run already cover its month?  Returns that run, or NULL.
CREATE OR REPLACE FUNCTION voucher.approved_run_covering(p_from date) RETURNS text
LANGUAGE sql STABLE SET search_path = voucher, pg_temp AS $$
	SELECT 'run ' || r.run_id || ' (' || r.program || ', ' || r.period || ')'
	  FROM voucher.runs r JOIN voucher.run_events e ON e.run_id = r.run_id AND e.event = 'approved'
	 WHERE r.period >= to_char(p_from, 'YYYY-MM')
	 ORDER BY r.period, r.run_id LIMIT 1
$$;

CREATE OR REPLACE FUNCTION voucher.check_backdate(p_what text, p_from date, p_backdate boolean) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run text := voucher.approved_run_covering(p_from);
BEGIN
	IF v_run IS NOT NULL AND NOT p_backdate THEN
		RAISE EXCEPTION '%: effective from %, a month that approved % already settled; to record it anyway, as a backdated change, pass --backdate',
			p_what, p_from, v_run USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN v_run IS NOT NULL;
END
$$;

-- p_kind: compute (the default) or marketplace (a data-trading platform,
-- whose corpus and dataset records name their seller).
CREATE OR REPLACE FUNCTION voucher.provider_add(p_code text, p_name text, p_uscc text, p_kind text DEFAULT 'compute')
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM voucher.write_begin();
	RETURN QUERY INSERT INTO voucher.providers (code, name, uscc, kind) VALUES (p_code, p_name, p_uscc, p_kind)
		ON CONFLICT (code) DO NOTHING RETURNING code;
END
$$;

CREATE OR REPLACE FUNCTION voucher.provider_cert_add(p_fingerprint text, p_provider text, p_subject text,
	p_not_after timestamptz, p_pem text) RETURNS SETOF integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM voucher.write_begin();
	IF encode(sha256(decode(regexp_replace(regexp_replace(p_pem, '-----[A-Z ]+-----', '', 'g'), '\s', '', 'g'),
				'base64')), 'hex') <> p_fingerprint THEN
		RAISE EXCEPTION 'provider cert add: the fingerprint is not the SHA-256 of the certificate'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY INSERT INTO voucher.provider_certs (fingerprint, provider, subject, not_after, pem)
		VALUES (p_fingerprint, p_provider, p_subject, p_not_after, p_pem)
		ON CONFLICT (fingerprint) DO NOTHING RETURNING 1;
END
$$;

CREATE OR REPLACE FUNCTION voucher.provider_key_add(p_provider text, p_key_id text, p_alg text, p_pem text,
	p_valid_from timestamptz, p_valid_to timestamptz)
RETURNS TABLE (valid_from timestamptz, valid_to timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM voucher.write_begin();
	RETURN QUERY INSERT INTO voucher.provider_keys AS k (provider, key_id, alg, public_pem, valid_from, valid_to)
		VALUES (p_provider, p_key_id, p_alg, p_pem, coalesce(p_valid_from, now()), p_valid_to)
		ON CONFLICT (provider, key_id) DO NOTHING RETURNING k.valid_from, k.valid_to;
END
$$;

-- Revocation takes the ingest barrier exclusively: the batches in flight
-- commit first (received before the revocation), every later one sees it.
CREATE OR REPLACE FUNCTION voucher.provider_key_revoke(p_provider text, p_key_id text) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_at timestamptz;
BEGIN
	PERFORM set_config('idle_in_transaction_session_timeout', '30s', true);
	PERFORM set_config('lock_timeout', '30s', true);
	PERFORM pg_advisory_xact_lock(7305413);
	UPDATE voucher.provider_keys SET revoked_at = clock_timestamp()
	 WHERE provider = p_provider AND key_id = p_key_id AND revoked_at IS NULL
	RETURNING revoked_at INTO v_at;
	RETURN v_at;
END
$$;

CREATE OR REPLACE FUNCTION voucher.facility_add(p_provider text, p_facility text, p_division text, p_class text)
RETURNS SETOF integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM voucher.write_begin();
	RETURN QUERY INSERT INTO voucher.facilities (provider, facility, division, class)
		VALUES (p_provider, p_facility, p_division, p_class)
		ON CONFLICT (provider, facility) DO NOTHING RETURNING 1;
END
$$;

-- Imports the rows of the caller's pg_temp.enterprise_import (made by
-- voucherctl enterprise import, and granted to voucher_owner for this
-- call; intelligent_match is false where the file has no such column): new
-- enterprises (and institutions), and a new version wherever the facts differ from
-- the version in force for (uscc, valid_from).
CREATE OR REPLACE FUNCTION voucher.enterprise_import(p_backdate boolean)
RETURNS TABLE (added bigint, versions bigint, backdated bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_today date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
	v_from  date;
BEGIN
	PERFORM voucher.write_begin();
	CREATE TEMP TABLE enterprise_import_new ON COMMIT DROP AS
	SELECT i.line, i.uscc, coalesce(i.valid_from, v_today) AS valid_from, i.name, i.division, i.sme,
	       i.model_developer, i.maas_builder, i.model_registered, i.foundation_model,
	       i.credit_blacklisted, i.performance_grade, i.intelligent_match
	  FROM pg_temp.enterprise_import i
	 WHERE NOT EXISTS (SELECT 1 FROM voucher.enterprise_registry v
			    WHERE v.uscc = i.uscc AND v.valid_from = coalesce(i.valid_from, v_today)
			      AND (v.name, v.division, v.sme, v.model_developer, v.maas_builder, v.model_registered,
				   v.foundation_model, v.credit_blacklisted, v.performance_grade, v.intelligent_match)
				  IS NOT DISTINCT FROM
				  (i.name, i.division, i.sme, i.model_developer, i.maas_builder, i.model_registered,
				   i.foundation_model, i.credit_blacklisted, i.performance_grade, i.intelligent_match));
	SELECT min(n.valid_from) INTO v_from FROM pg_temp.enterprise_import_new n
	 WHERE voucher.approved_run_covering(n.valid_from) IS NOT NULL;
	IF v_from IS NOT NULL THEN
		PERFORM voucher.check_backdate('enterprise import', v_from, p_backdate);
	END IF;
	WITH ins AS (INSERT INTO voucher.enterprises (uscc)
		     SELECT uscc FROM pg_temp.enterprise_import ORDER BY line
		     ON CONFLICT (uscc) DO NOTHING RETURNING 1)
	SELECT count(*) INTO added FROM ins;
	WITH ins AS (INSERT INTO voucher.enterprise_versions (uscc, valid_from, name, division, sme,
			     model_developer, maas_builder, model_registered, foundation_model,
			     credit_blacklisted, performance_grade, intelligent_match, backdated)
		     SELECT n.uscc, n.valid_from, n.name, n.division, n.sme, n.model_developer, n.maas_builder,
			    n.model_registered, n.foundation_model, n.credit_blacklisted, n.performance_grade,
			    n.intelligent_match, voucher.approved_run_covering(n.valid_from) IS NOT NULL
		       FROM pg_temp.enterprise_import_new n ORDER BY n.line
		     RETURNING enterprise_versions.backdated)
	SELECT count(*), count(*) FILTER (WHERE ins.backdated) INTO versions, backdated FROM ins;
	DROP TABLE pg_temp.enterprise_import_new;
	RETURN NEXT;
END
$$;

-- 关联方: a relation counts for every record of the enterprise, past ones
-- included, so once any run is approved it is a backdated change.
CREATE OR REPLACE FUNCTION voucher.relate(p_uscc text, p_provider text, p_backdate boolean) RETURNS SETOF integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run text := voucher.approved_run_covering('0001-01-01');
BEGIN
	PERFORM voucher.write_begin();
	IF EXISTS (SELECT 1 FROM voucher.related_parties WHERE uscc = p_uscc AND provider = p_provider) THEN
		RETURN;
	END IF;
	IF v_run IS NOT NULL AND NOT p_backdate THEN
		RAISE EXCEPTION 'enterprise relate: a relation counts for every record of the enterprise, and approved % already settled some; to record it anyway, as a backdated change, pass --backdate',
			v_run USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY INSERT INTO voucher.related_parties (uscc, provider, backdated)
		VALUES (p_uscc, p_provider, v_run IS NOT NULL) ON CONFLICT (uscc, provider) DO NOTHING RETURNING 1;
END
$$;

-- 关联方 among sellers: the seller (any credit code, registered or not) of a
-- corpus or dataset record is related to the enterprise; as voucher.relate, a
-- relation counts for every record of the enterprise, so once any run is
-- approved it is a backdated change.
CREATE OR REPLACE FUNCTION voucher.relate_seller(p_uscc text, p_seller text, p_backdate boolean) RETURNS SETOF integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_run text := voucher.approved_run_covering('0001-01-01');
BEGIN
	PERFORM voucher.write_begin();
	IF EXISTS (SELECT 1 FROM voucher.related_sellers WHERE uscc = p_uscc AND seller = p_seller) THEN
		RETURN;
	END IF;
	IF v_run IS NOT NULL AND NOT p_backdate THEN
		RAISE EXCEPTION 'enterprise relate: a relation counts for every record of the enterprise, and approved % already settled some; to record it anyway, as a backdated change, pass --backdate',
			v_run USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY INSERT INTO voucher.related_sellers (uscc, seller, backdated)
		VALUES (p_uscc, p_seller, v_run IS NOT NULL) ON CONFLICT (uscc, seller) DO NOTHING RETURNING 1;
END
$$;
