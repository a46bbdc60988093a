/* trace: grants -> ledger entries -> records and batches (see audit/trace.h). */
#include "audit/trace.h"

#include "common/db.h"

PGresult *audit_trace_grants(PGconn *c, const char *uscc, const char *program, const char *year, char *err,
			     size_t errlen)
{
	const char *p[] = {uscc, program, year};
	return db_query_msg(
		c,
		"SELECT g.run_id, r.period, r.status, r.approved_by, r.program_version, g.amount_fen, "
		"  (SELECT string_agg(e.entry_id::text, ' ' ORDER BY e.entry_id) FROM audit.ledger_entries e "
		"   WHERE e.run_id = g.run_id AND (e.debit LIKE '%/' || $1 OR e.credit LIKE '%/' || $1)), "
		"  g.program "
		"FROM audit.grants g JOIN audit.runs r ON r.run_id = g.run_id "
		"WHERE g.uscc = $1 AND ($2::text IS NULL OR g.program = $2) AND g.year = $3::integer "
		"ORDER BY g.run_id",
		3, p, err, errlen);
}

PGresult *audit_trace_entries(PGconn *c, const char *uscc, const char *program, const char *year, char *err,
			      size_t errlen)
{
	const char *p[] = {uscc, program, year};
	return db_query_msg(c,
			    "SELECT e.entry_id, e.at, e.debit, e.credit, e.amount_fen, e.run_id, e.memo, g.program "
			    "FROM audit.grants g JOIN audit.ledger_entries e ON e.run_id = g.run_id "
			    "  AND (e.debit LIKE '%/' || $1 OR e.credit LIKE '%/' || $1) "
			    "WHERE g.uscc = $1 AND ($2::text IS NULL OR g.program = $2) AND g.year = $3::integer "
			    "ORDER BY e.entry_id",
			    3, p, err, errlen);
}

PGresult *audit_trace_records(PGconn *c, const char *uscc, const char *year, char *err, size_t errlen)
{
	const char *p[] = {uscc, year};
	return db_query_msg(
		c,
		"SELECT u.provider, u.record_id, u.category, u.ended_at, u.amount_fen, u.adjusts, u.invoice_no, "
		"  u.batch_id, b.received_at, b.key_id, b.alg, b.digest, u.seller "
		"FROM audit.usage_records u JOIN audit.batches b ON b.provider = u.provider AND b.batch_id = u.batch_id "
		"WHERE u.enterprise = $1 AND u.ended_at >= ($2 || '-01-01 00:00+08')::timestamptz "
		"  AND u.ended_at < (($2::integer + 1)::text || '-01-01 00:00+08')::timestamptz "
		"ORDER BY u.ended_at, u.provider, u.record_id",
		2, p, err, errlen);
}
