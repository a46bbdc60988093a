/* verify: audit verify's checks in order, one snapshot (audit/verify.h). */
#include "audit/verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit_batches.h"
#include "audit/audit_runs.h"
#include "audit/ledger.h"
#include "common/db.h"

static FILE *progress;

void audit_set_progress(FILE *f)
{
	progress = f;
}

FILE *audit_progress(void)
{
	return progress ? progress : stderr;
}

const char *audit_check_name(audit_check_t check)
{
	static const char *const names[AUDIT_NCHECKS] = {"batches",  "ledger chain",  "checkpoint",
							 "postings", "disbursements", "runs recomputed"};
	return (int)check >= 0 && (int)check < AUDIT_NCHECKS ? names[check] : "?";
}

/* The postings each approved (and disbursed) run calls for, against those in
 * the ledger: any difference either way is the first failure. */
static bool verify_postings(PGconn *c, int64_t *runs, char *err, size_t errlen)
{
	PGresult *r = PQexec(
		c,
		"WITH runs AS (SELECT run_id, program, left(period, 4) AS y, period, status FROM audit.runs "
		"  WHERE status IN ('approved', 'published', 'disbursed')), "
		"exp AS ("
		"  SELECT r.run_id, CASE WHEN l.payable > 0 THEN 'payable/' || r.program || '/' || r.y || '/' || l.uscc "
		"    ELSE 'pool/' || r.program || '/' || r.y END AS debit, "
		"    CASE WHEN l.payable > 0 THEN 'pool/' || r.program || '/' || r.y "
		"    ELSE 'payable/' || r.program || '/' || r.y || '/' || l.uscc END AS credit, abs(l.payable) AS amount "
		"  FROM runs r JOIN audit.run_lines l ON l.run_id = r.run_id WHERE l.payable <> 0 "
		"  UNION ALL "
		"  SELECT r.run_id, CASE WHEN l.payable > 0 THEN 'paid/' || r.program || '/' || r.y || '/' || l.uscc "
		"    ELSE 'payable/' || r.program || '/' || r.y || '/' || l.uscc END, "
		"    CASE WHEN l.payable > 0 THEN 'payable/' || r.program || '/' || r.y || '/' || l.uscc "
		"    ELSE 'paid/' || r.program || '/' || r.y || '/' || l.uscc END, abs(l.payable) "
		"  FROM runs r JOIN audit.line_disbursements d ON d.run_id = r.run_id AND r.status = 'disbursed' "
		"  JOIN audit.run_lines l ON l.run_id = d.run_id AND l.uscc = d.uscc WHERE l.payable <> 0), "
		"act AS (SELECT run_id, debit, credit, amount_fen AS amount FROM audit.ledger_entries), "
		"diff AS ((SELECT 'missing' AS what, * FROM (SELECT * FROM exp EXCEPT ALL SELECT * FROM act) a) "
		"  UNION ALL (SELECT 'unexpected', * FROM (SELECT * FROM act EXCEPT ALL SELECT * FROM exp) b)) "
		"SELECT (SELECT count(*) FROM runs), "
		"  (SELECT coalesce(sum(balance_fen), 0) FROM audit.ledger_balances), "
		"  d.what, d.run_id, d.debit, d.credit, d.amount "
		"FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT * FROM diff ORDER BY run_id NULLS FIRST, debit, credit, amount "
		"  LIMIT 1) d ON true");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading runs and postings: %s", PQerrorMessage(c));
		PQclear(r);
		return false;
	}
	bool ok = true;
	if (!db_get_i64(r, 0, 0, "count(runs)", runs, err, errlen)) {
		ok = false;
	} else if (strcmp(PQgetvalue(r, 0, 1), "0") != 0) {
		snprintf(err, errlen, "the ledger does not sum to zero (%s fen)", PQgetvalue(r, 0, 1));
		ok = false;
	} else if (!PQgetisnull(r, 0, 2)) {
		const char *what = PQgetvalue(r, 0, 2);
		snprintf(err, errlen, "run %s: %s posting %s -> %s of %s fen (%s)",
			 PQgetisnull(r, 0, 3) ? "(none)" : PQgetvalue(r, 0, 3), what, PQgetvalue(r, 0, 5),
			 PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 6),
			 !strcmp(what, "missing") ? "the run's lines call for it but the ledger lacks it"
						  : "the ledger has it but no approved run's lines call for it");
		ok = false;
	}
	PQclear(r);
	return ok;
}

/* No line disbursed before its run's notice ended, nor while an objection
 * to it was open, nor after one was upheld; and the overview's totals
 * (audit.pool_overview, written at approval and disbursement) are those of
 * the lines: the first that does not hold is the failure. */
static bool verify_line_disbursements(PGconn *c, char *err, size_t errlen)
{
	PGresult *r = PQexec(
		c, "SELECT 'run ' || d.run_id || ': the line of ' || d.uscc || ' was disbursed at ' || d.at || "
		   "  CASE WHEN r.notice_ends IS NULL OR (d.at AT TIME ZONE 'Asia/Shanghai')::date <= r.notice_ends "
		   "    THEN ' before the notice ended' "
		   "    ELSE ' while objection ' || o.objection_id || ' to it was ' || coalesce(o.outcome, 'open') END "
		   "FROM audit.line_disbursements d JOIN audit.runs r ON r.run_id = d.run_id "
		   "LEFT JOIN audit.objections o ON o.run_id = d.run_id AND o.uscc = d.uscc AND o.raised_at <= d.at "
		   "  AND (o.resolved_at IS NULL OR o.resolved_at > d.at OR o.outcome = 'upheld') "
		   "WHERE o.objection_id IS NOT NULL OR r.notice_ends IS NULL "
		   "   OR (d.at AT TIME ZONE 'Asia/Shanghai')::date <= r.notice_ends "
		   "ORDER BY d.run_id, d.uscc LIMIT 1");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading disbursements and objections: %s", PQerrorMessage(c));
		PQclear(r);
		return false;
	}
	bool ok = PQntuples(r) == 0;
	if (!ok)
		snprintf(err, errlen, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!ok)
		return false;
	/* the overview from the lines: an enterprise counts in the month (and
	 * division) of its first approved line with a payable */
	r = PQexec(c,
		   "WITH l AS (SELECT r.program, left(r.period, 4)::integer AS year, r.period AS month, l.division, "
		   "  l.uscc, l.payable, r.approved_at, d.run_id IS NOT NULL AS paid FROM audit.runs r "
		   "  JOIN audit.run_lines l ON l.run_id = r.run_id "
		   "  LEFT JOIN audit.line_disbursements d ON d.run_id = l.run_id AND d.uscc = l.uscc "
		   "  WHERE r.status IN ('approved', 'published', 'disbursed')), "
		   "firsts AS (SELECT DISTINCT ON (program, month, uscc) program, month, uscc, division FROM l "
		   "  WHERE payable <> 0 ORDER BY program, month, uscc, approved_at), "
		   "direct AS (SELECT l.program, l.year, l.month, l.division, "
		   "  coalesce(sum(l.payable) FILTER (WHERE l.payable > 0), 0)::bigint AS granted_fen, "
		   "  coalesce(-sum(l.payable) FILTER (WHERE l.payable < 0), 0)::bigint AS recovered_fen, "
		   "  coalesce(sum(l.payable) FILTER (WHERE l.payable > 0 AND l.paid), 0)::bigint AS paid_fen, "
		   "  (SELECT count(*) FROM firsts f WHERE f.program = l.program AND f.month = l.month "
		   "   AND f.division = l.division) AS enterprises FROM l GROUP BY 1, 2, 3, 4), "
		   "o AS (SELECT program, year, month, division, granted_fen, recovered_fen, paid_fen, enterprises "
		   "  FROM audit.pool_overview), "
		   "diff AS ((SELECT 'the lines give' AS what, * FROM (SELECT * FROM direct EXCEPT SELECT * FROM o) a) "
		   "  UNION ALL (SELECT 'the overview says', * FROM (SELECT * FROM o EXCEPT SELECT * FROM direct) b)) "
		   "SELECT what || ' ' || program || ' ' || month || ' division ' || division || ': granted ' || "
		   "  granted_fen || ' fen, recovered ' || recovered_fen || ' fen, paid ' || paid_fen || ' fen, ' || "
		   "  enterprises || ' enterprises' FROM diff ORDER BY program, month, division, what LIMIT 1");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading the overview: %s", PQerrorMessage(c));
		PQclear(r);
		return false;
	}
	ok = PQntuples(r) == 0;
	if (!ok)
		snprintf(err, errlen, "audit.pool_overview disagrees with the lines: %s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return ok;
}

/* records the outcome of one check; false stops the rest */
static bool done(audit_verify_out_t *out, audit_check_t check, bool ok)
{
	out->state[check] = ok ? AUDIT_HELD : AUDIT_FAILED;
	return ok;
}

bool audit_verify_all(PGconn *c, const audit_verify_in_t *in, audit_verify_out_t *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->alg, sizeof out->alg, "none");
	char *err = out->err;
	size_t errlen = sizeof out->err;
	FILE *pr = audit_progress();
	if (PQtransactionStatus(c) != PQTRANS_IDLE) {
		snprintf(err, errlen, "audit verify: called inside a transaction");
		return false;
	}
	char e[400];
	if (!db_command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, e, sizeof e)) {
		snprintf(err, errlen, "starting the snapshot: %s", e);
		return false;
	}
	bool ok = done(out, AUDIT_CHECK_BATCHES, audit_verify_batches(c, &out->batches, err, errlen));
	if (ok)
		fprintf(pr, "audit verify: %" PRId64 " stored batches and their signatures hold\n", out->batches);
	uint8_t head[32];
	if (ok)
		ok = done(out, AUDIT_CHECK_LEDGER,
			  ledger_walk_db(c, &out->ledger_entries, head, out->alg, sizeof out->alg, err, errlen));
	if (ok)
		fprintf(pr, "audit verify: ledger chain of %" PRId64 " entries holds\n", out->ledger_entries);
	bool with_cp = in && (in->checkpoint_path || in->checkpoint_text);
	if (ok && with_cp) {
		const char *name = in->checkpoint_name   ? in->checkpoint_name
				   : in->checkpoint_path ? in->checkpoint_path
							 : "(text)";
		if (in->checkpoint_path)
			ok = checkpoint_check(c, in->checkpoint_path, in->pub_pem_path, &out->cp, err, errlen);
		else
			ok = checkpoint_check_text(c, in->checkpoint_text, in->checkpoint_len, in->pub_pem_path,
						   &out->cp, err, errlen);
		out->has_checkpoint = out->cp.time_cn[0] != '\0';
		done(out, AUDIT_CHECK_CHECKPOINT, ok);
		if (ok)
			fprintf(pr,
				"audit verify: checkpoint %s of %s (China time; key %.16s…) is extended: %" PRId64
				" ledger entries, %" PRId64 " batches then\n",
				name, out->cp.time_cn, out->cp.fingerprint, out->cp.ledger_size, out->cp.batches_size);
	}
	if (ok)
		ok = done(out, AUDIT_CHECK_POSTINGS, verify_postings(c, &out->runs, err, errlen));
	if (ok)
		ok = done(out, AUDIT_CHECK_DISBURSEMENTS, verify_line_disbursements(c, err, errlen));
	if (ok)
		ok = done(out, AUDIT_CHECK_RUNS, audit_verify_runs(c, &out->recomputed, err, errlen));
	db_rollback(c);
	out->held = ok;
	return ok;
}

void audit_verify_summary(const audit_verify_out_t *out, buf_t *line)
{
	if (!out->held) {
		buf_printf(line, "audit verify: FAILED: %s", out->err);
		return;
	}
	buf_printf(line, "audit verify: ok: %" PRId64 " stored batches and their signatures hold; ", out->batches);
	if (out->state[AUDIT_CHECK_CHECKPOINT] == AUDIT_HELD)
		buf_printf(line, "the checkpoint of %s China time (key fingerprint %s) is extended; ", out->cp.time_cn,
			   out->cp.fingerprint);
	buf_printf(line,
		   "ledger chain of %" PRId64 " entries (%s) holds; the postings of %" PRId64
		   " approved runs agree with their lines and disbursements; the ledger sums to zero; %" PRId64
		   " approved runs recomputed from the stored records and their programme versions agree line by line",
		   out->ledger_entries, out->ledger_entries ? out->alg : "empty", out->runs, out->recomputed);
}
