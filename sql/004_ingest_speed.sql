-- Ingest at the speed of the database (issue 5).
--
-- 1. Records arrive as one binary array per column instead of one JSON
--    document: PostgreSQL reads them without parsing text (voucher.ingest_batch,
--    first defined in 005_usage_partitions.sql; its current text is
--    sql/functions/ingest_batch.sql).
-- 2. usage_records loses its two foreign keys.  Each fired a trigger per
--    inserted row (the batch one again at COMMIT): together 11 us a record,
--    more than the insert itself.  What they guaranteed is kept by other means:
--    - ingest_batch is the only writer of usage_records (voucher_ingest may
--      only call it; no other role has INSERT), it stores a record only if its
--      facility is registered to the provider, and it inserts the batch row in
--      the same transaction;
--    - facilities become append only (a trigger below), so a stored record's
--      facility cannot be renamed or deleted away;
--    - batches were append only already, and `audit verify` reports any usage
--      record without its batch, and any record that is not in its batch's
--      signed body.
-- 3. The common case, a batch of new records, is one plain INSERT (no
--    ON CONFLICT, no look-up per record): a record id stored before makes it
--    fail with unique_violation, and only then is the batch stored the careful
--    way (ON CONFLICT DO NOTHING, then each record classified).
-- 4. Batch bodies are compressed with lz4 rather than pglz: 5x less CPU for
--    the same signed bytes (they are stored, not changed).

ALTER TABLE voucher.usage_records DROP CONSTRAINT usage_records_provider_batch_id_fkey;
ALTER TABLE voucher.usage_records DROP CONSTRAINT usage_records_provider_facility_fkey;

CREATE TRIGGER facilities_append_only BEFORE UPDATE OR DELETE ON voucher.facilities
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER facilities_no_truncate BEFORE TRUNCATE ON voucher.facilities
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

ALTER TABLE voucher.batches ALTER COLUMN body SET COMPRESSION lz4;

DROP FUNCTION voucher.ingest_batch(text, text, text, text, text, timestamptz, text, text, text,
	bytea, integer, jsonb, jsonb, integer);

-- The new voucher.ingest_batch, which takes the records as arrays, is defined
-- in 005_usage_partitions.sql, once usage_records has its final shape (the
-- migrations of one `voucherctl migrate` run in one transaction); its current
-- text is sql/functions/ingest_batch.sql, re-applied by every migrate.
