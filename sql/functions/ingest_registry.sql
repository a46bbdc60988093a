-- What voucherd reads: its registry and stored answers.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- What the daemon needs in memory: certificate fingerprints and signing keys.
CREATE OR REPLACE FUNCTION voucher.ingest_registry()
RETURNS TABLE (kind text, provider text, ident text, alg text, pem text,
	       valid_from timestamptz, valid_to timestamptz, revoked boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
	SELECT 'cert', c.provider, c.fingerprint, NULL, NULL, NULL::timestamptz, c.not_after, false
	  FROM voucher.provider_certs c
	UNION ALL
	SELECT 'key', k.provider, k.key_id, k.alg, k.public_pem, k.valid_from, k.valid_to,
	       k.revoked_at IS NOT NULL
	  FROM voucher.provider_keys k
$$;

-- The stored answer to one of the caller's batches, or NULL.
CREATE OR REPLACE FUNCTION voucher.batch_answer(p_provider text, p_batch_id text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
	SELECT answer FROM voucher.batches WHERE provider = p_provider AND batch_id = p_batch_id
$$;
