-- Migration checksums: voucherctl migrate stores the SHA-256 (hex) of each
-- migration's text when it applies it, fills it in for the migrations applied
-- before this one, and refuses to run when an applied migration's text no
-- longer matches (README.md "Database").  An applied migration is history:
-- a change goes into a new migration.
ALTER TABLE voucher.schema_migrations ADD COLUMN checksum text CHECK (checksum ~ '^[0-9a-f]{64}$');
