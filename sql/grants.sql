-- Who may call which function and read which view (README.md "Who may do
-- what").  Re-applied by every `voucherctl migrate`, last, after sql/views/
-- and sql/functions/, as voucher_owner: a function or view added there gets
-- its rights here.  Rights on tables are given by the migration that makes
-- the table (sql/0NN_*.sql).  Every statement here is idempotent.

------------------------------------------------------------------ schemas

REVOKE ALL ON SCHEMA voucher FROM PUBLIC;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA voucher TO voucher_ingest, voucher_finance, voucher_notice;
GRANT USAGE ON SCHEMA audit TO voucher_auditor, voucher_finance;

------------------------------------------------------------------ functions

-- None for PUBLIC.  Those that run with the caller's rights (helpers) may be
-- called by the staff roles; those that run with the owner's are granted one
-- by one.
DO $grants$
DECLARE
	f regprocedure;
	d boolean;
BEGIN
	FOR f, d IN SELECT p.oid::regprocedure, p.prosecdef FROM pg_proc p
		  WHERE p.pronamespace = 'voucher'::regnamespace AND p.proowner = 'voucher_owner'::regrole
		    AND p.prokind = 'f' LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
		IF NOT d THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO voucher_finance, voucher_auditor', f);
		END IF;
	END LOOP;
END
$grants$;
-- ...except the ledger writers, which only the approval trigger uses
REVOKE EXECUTE ON FUNCTION voucher.ledger_head, voucher.ledger_append, voucher.ledger_post,
	voucher.ledger_post_run, voucher.ledger_post_lines, voucher.run_totals_post, voucher.usage_partition_guard,
	voucher.write_begin
	FROM voucher_finance, voucher_auditor;

GRANT EXECUTE ON FUNCTION voucher.ingest_batch, voucher.ingest_registry, voucher.batch_answer TO voucher_ingest;
GRANT EXECUTE ON FUNCTION voucher.ingest_cut() TO voucher_finance, voucher_auditor;
GRANT EXECUTE ON FUNCTION voucher.provider_add, voucher.provider_cert_add, voucher.provider_key_add,
	voucher.provider_key_revoke, voucher.facility_add, voucher.enterprise_import, voucher.relate, voucher.relate_seller,
	voucher.program_load, voucher.calendar_load, voucher.override_propose, voucher.override_confirm,
	voucher.run_store, voucher.run_approve, voucher.run_end, voucher.run_publish, voucher.run_disburse,
	voucher.objection_add, voucher.objection_resolve,
	voucher.usage_partitions_ensure, voucher.usage_partition_detach, voucher.usage_partitions,
	voucher.ledger_set_alg, voucher.acting_finance_user TO voucher_finance;
GRANT EXECUTE ON FUNCTION voucher.usage_partitions TO voucher_auditor;

-- The public notice: the one right of voucher_notice (with USAGE on schema
-- voucher to reach it); auditors, who have no rights in schema voucher, call
-- audit.notice.
GRANT EXECUTE ON FUNCTION voucher.notice(bigint) TO voucher_notice, voucher_finance, voucher_auditor;
REVOKE ALL ON FUNCTION audit.notice(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.notice(bigint) TO voucher_auditor, voucher_finance;

-- The cut for auditors (audit checkpoint), who have no rights in schema voucher.
REVOKE ALL ON FUNCTION audit.ingest_cut() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.ingest_cut() TO voucher_auditor, voucher_finance;

------------------------------------------------------------------ views

-- The audit views: read by the auditor and finance, written by nobody.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA audit
	FROM PUBLIC, voucher_finance, voucher_ingest, voucher_auditor, voucher_notice;
GRANT SELECT ON audit.batches, audit.provider_keys, audit.providers, audit.facilities,
	audit.enterprise_versions, audit.related_parties, audit.related_sellers, audit.usage_records, audit.usage_keys,
	audit.usage_archives, audit.unregistered_usage,
	audit.runs, audit.run_lines, audit.run_events, audit.program_versions, audit.overrides,
	audit.approval_refusals, audit.superuser_acts,
	audit.ledger_entries, audit.ledger_balances, audit.grants,
	audit.objections, audit.line_disbursements, audit.run_line_objections, audit.pool_overview, audit.pools
	TO voucher_auditor, voucher_finance;

-- The registry and calendar in force: finance reads them.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
	ON voucher.enterprise_registry, voucher.calendar_years, voucher.calendar_days
	FROM PUBLIC, voucher_finance, voucher_ingest, voucher_auditor;
GRANT SELECT ON voucher.enterprise_registry, voucher.calendar_years, voucher.calendar_days TO voucher_finance;
