-- The ingest barrier (advisory lock 7305413): writers hold it shared, the cut takes it
-- for a moment (README.md "Ledger and audit").
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- Every registry and programme write holds the ingest barrier shared, as
-- ingest does, so that settle's cut (voucher.ingest_cut) sees every write
-- stamped before it and none after.  A transaction that holds it may not sit
-- idle: it would hold up every cut and, behind the cut, ingest.
CREATE OR REPLACE FUNCTION voucher.write_begin() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = voucher, pg_temp AS $$
BEGIN
	PERFORM set_config('idle_in_transaction_session_timeout', '30s', true);
	PERFORM pg_advisory_xact_lock_shared(7305413);
END
$$;

-- The clean cut through ingest, for settle and checkpoints (replaces taking
-- the barrier's lock by hand, which any role could hold for ever): waits for
-- the ingest and registry transactions in flight (new ones wait behind it),
-- reads the clock while none is in flight, and lets them go.  Everything
-- stamped at or before the returned time (received_at, imported_at,
-- added_at, ...) is committed, and everything after is stamped later; a
-- snapshot taken after this call and filtered on "<= the cut" is exact.
-- Call it outside a transaction, then begin the REPEATABLE READ one.
CREATE OR REPLACE FUNCTION voucher.ingest_cut() RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	v_at timestamptz;
BEGIN
	PERFORM set_config('lock_timeout', '30s', true);
	PERFORM pg_advisory_lock(7305413);
	v_at := clock_timestamp();
	PERFORM pg_advisory_unlock(7305413);
	RETURN v_at;
END
$$;

-- The cut for auditors (audit checkpoint), who have no rights in schema voucher.
CREATE OR REPLACE FUNCTION audit.ingest_cut() RETURNS timestamptz
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$ SELECT voucher.ingest_cut() $$;
