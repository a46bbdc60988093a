/* locks: the PostgreSQL advisory-lock keys of voucherd, by name.  The SQL
 * migrations (sql/) use the same numbers and name them in a comment. */
#ifndef VOUCHER_LOCKS_H
#define VOUCHER_LOCKS_H

/* voucherctl migrate: one migration at a time (pg_advisory_xact_lock) */
#define VOUCHER_LOCK_MIGRATE 7305411
/* the ledger: postings take turns (sql/003_ledger.sql) */
#define VOUCHER_LOCK_LEDGER 7305412
/* the ingest barrier: every ingest and registry transaction holds it shared,
 * voucher.ingest_cut takes it exclusively for a clean cut
 * (sql/001_metering.sql, sql/006_integrity.sql) */
#define VOUCHER_LOCK_INGEST 7305413

/* the key as SQL text, for a statement: VOUCHER_LOCK_SQL(VOUCHER_LOCK_MIGRATE) is "7305411" */
#define VOUCHER_LOCK_STR_(k) #k
#define VOUCHER_LOCK_SQL(k) VOUCHER_LOCK_STR_(k)

#endif
