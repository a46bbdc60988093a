-- Audit views of metering: registry, batches, records (schema audit; README.md "Database").
-- Columns are only ever added to the audit views, at the end.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

CREATE OR REPLACE VIEW audit.batches AS
	SELECT seq, provider, batch_id, received_at, digest, key_id, alg, record_count,
	       accepted, duplicates, rejected, sig_created, content_digest, signature_input,
	       signature, body
	  FROM voucher.batches;

-- what an auditor needs to check every stored signature and the registry
CREATE OR REPLACE VIEW audit.provider_keys AS
	SELECT provider, key_id, alg, public_pem, valid_from, valid_to, revoked_at, added_at, added_by
	  FROM voucher.provider_keys;

CREATE OR REPLACE VIEW audit.providers AS
	SELECT code, name, uscc, created_at, created_by, kind FROM voucher.providers;

CREATE OR REPLACE VIEW audit.facilities AS
	SELECT provider, facility, division, class, added_at, added_by FROM voucher.facilities;

CREATE OR REPLACE VIEW audit.enterprise_versions AS
	SELECT uscc, valid_from, name, division, sme, model_developer, maas_builder, model_registered,
	       foundation_model, credit_blacklisted, performance_grade, imported_at, imported_by, id, backdated,
	       intelligent_match
	  FROM voucher.enterprise_versions;

CREATE OR REPLACE VIEW audit.related_parties AS
	SELECT uscc, provider, added_at, added_by, backdated FROM voucher.related_parties;

CREATE OR REPLACE VIEW audit.related_sellers AS
	SELECT uscc, seller, added_at, added_by, backdated FROM voucher.related_sellers;

CREATE OR REPLACE VIEW audit.usage_records AS
	SELECT provider, record_id, batch_id, enterprise, facility, category, purpose, quantity,
	       unit, amount_fen, started_at, ended_at, contract_id, invoice_no, adjusts, received_at, seller
	  FROM voucher.usage_records;

CREATE OR REPLACE VIEW audit.usage_keys AS
	SELECT provider, record_id, ended_at, batch_id, content_hash FROM voucher.usage_keys;

CREATE OR REPLACE VIEW audit.usage_archives AS
	SELECT month, table_name, records, amount_fen, detached_at, detached_by FROM voucher.usage_archives;

-- Usage from credit codes that are not registered, by month and provider:
-- metered, never settled.
CREATE OR REPLACE VIEW audit.unregistered_usage AS
	SELECT to_char(u.ended_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month, u.provider,
	       count(DISTINCT u.enterprise) AS enterprises, count(*) AS records, sum(u.amount_fen) AS amount_fen
	  FROM voucher.usage_records u
	 WHERE NOT EXISTS (SELECT 1 FROM voucher.enterprises e WHERE e.uscc = u.enterprise)
	 GROUP BY 1, 2;
