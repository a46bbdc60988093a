#include "audit/audit_runs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/verify.h"
#include "settlement/engine.h"
#include "settlement/run.h"

/* the compared columns of a run line, in the order they are reported */
enum { L_USCC, L_ELIG, L_ENT, L_CAP, L_BEFORE, L_DIFF, L_PAY, L_STATUS, L_NCOLS };
static const char *const col_name[L_NCOLS] = {
	"uscc", "eligible_amount_ytd", "entitlement_ytd", "cap", "granted_before", "difference", "payable", "status",
};

/* the first column of a stored line that differs from the recomputed one, or
 * -1; got receives the recomputed value */
static int line_differs(PGresult *s, int row, const eng_line_t *l, char *got, size_t gotlen)
{
	const int64_t v[] = {0,         l->eligible_ytd, l->entitlement_ytd, l->cap, l->granted_before, l->difference,
			     l->payable};
	for (int k = L_ELIG; k <= L_PAY; k++) {
		snprintf(got, gotlen, "%" PRId64, v[k]);
		if (strcmp(PQgetvalue(s, row, k), got) != 0)
			return k;
	}
	snprintf(got, gotlen, "%s", eng_status_name(l->status));
	if (strcmp(PQgetvalue(s, row, L_STATUS), got) != 0)
		return L_STATUS;
	return -1;
}

/* the stored totals of the run (columns 8-12 of the runs query) against the
 * recomputation */
static bool totals_differ(PGresult *r, int row, const run_calc_t *rc, size_t nlines, char *what, size_t whatlen)
{
	char got[32];
	const char *name[] = {"pool_left_fen", "total_payable", "total_recovered", "total_asked", "lines"};
	const int64_t v[] = {rc->tot.pool_left, rc->tot.payable, rc->tot.recovered, rc->tot.asked, (int64_t)nlines};
	for (int k = 0; k < 5; k++) {
		bool isnull = PQgetisnull(r, row, 8 + k);
		if (k == 0 && v[0] < 0) {
			if (isnull)
				continue;
			snprintf(got, sizeof got, "no pool");
		} else {
			snprintf(got, sizeof got, "%" PRId64, v[k]);
			if (!isnull && strcmp(PQgetvalue(r, row, 8 + k), got) == 0)
				continue;
		}
		snprintf(what, whatlen, "%s stored %s, recomputed %s", name[k],
			 isnull ? "none" : PQgetvalue(r, row, 8 + k), got);
		return true;
	}
	return false;
}

/* whether a month of the year of period is archived: its records are no
 * longer all here.  1 if so (said on stderr: the run is not recomputed), 0 if
 * not, -1 on error */
static int run_archived(PGconn *c, const char *id, const char *prog, const char *period, char *err, size_t errlen)
{
	const char *yp[] = {period};
	PGresult *arch = PQexecParams(c,
				      "SELECT to_char(min(month), 'YYYY-MM') FROM usage_archives "
				      "WHERE extract(year FROM month) = substr($1, 1, 4)::integer",
				      1, NULL, yp, NULL, NULL, 0);
	if (PQresultStatus(arch) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading the archived months: %s", PQerrorMessage(c));
		PQclear(arch);
		return -1;
	}
	int archived = 0;
	if (!PQgetisnull(arch, 0, 0)) {
		fprintf(audit_progress(),
			"audit verify: run %s (%s, %s) not recomputed: %s and maybe other months "
			"of its year are archived\n",
			id, prog, period, PQgetvalue(arch, 0, 0));
		archived = 1;
	}
	PQclear(arch);
	return archived;
}

/* compares the recomputed lines that are shown with the stored ones, both in
 * USCC order (byte order): a merge.  *nlines: how many matched */
static bool lines_match(PGresult *stored, const run_calc_t *rc, const char *id, const char *prog, const char *period,
			size_t *nlines, char *err, size_t errlen)
{
	size_t k = 0;
	int j = 0, ns = PQntuples(stored);
	for (;;) {
		while (k < rc->nents && !run_line_shown(&rc->lines[k]))
			k++;
		if (k == rc->nents && j == ns)
			return true;
		int o = k == rc->nents ? 1 : j == ns ? -1 : strcmp(rc->ents[k].uscc, PQgetvalue(stored, j, 0));
		if (o > 0) {
			snprintf(err, errlen,
				 "run %s (%s, %s): enterprise %s: a line the recomputation does not "
				 "produce",
				 id, prog, period, PQgetvalue(stored, j, 0));
			return false;
		}
		if (o < 0) {
			snprintf(err, errlen,
				 "run %s (%s, %s): enterprise %s: missing line (recomputed payable %" PRId64
				 ", status %s)",
				 id, prog, period, rc->ents[k].uscc, rc->lines[k].payable,
				 eng_status_name(rc->lines[k].status));
			return false;
		}
		char got[32];
		int col = line_differs(stored, j, &rc->lines[k], got, sizeof got);
		if (col >= 0) {
			snprintf(err, errlen, "run %s (%s, %s): enterprise %s: %s stored %s, recomputed %s", id, prog,
				 period, rc->ents[k].uscc, col_name[col], PQgetvalue(stored, j, col), got);
			return false;
		}
		(*nlines)++;
		k++;
		j++;
	}
}

/* recomputes approved run i of runs into rc and compares it with its stored
 * lines and totals */
static bool verify_run(PGconn *c, PGresult *runs, int i, run_calc_t *rc, char *err, size_t errlen)
{
	const char *id = PQgetvalue(runs, i, 0), *prog = PQgetvalue(runs, i, 1), *period = PQgetvalue(runs, i, 2);
	char e2[400];
	run_basis_t basis = {.version = PQgetvalue(runs, i, 3),
			     .as_of = PQgetvalue(runs, i, 4),
			     .cutoff = PQgetvalue(runs, i, 5),
			     .registry_at = PQgetvalue(runs, i, 5),
			     .approved_before = PQgetvalue(runs, i, 7),
			     .quiet = true};
	if (!run_compute(c, prog, period, &basis, rc, e2, sizeof e2)) {
		snprintf(err, errlen, "run %s (%s, %s): cannot recompute: %s", id, prog, period, e2);
		return false;
	}
	const char *sp[] = {id};
	PGresult *stored = PQexecParams(c,
					"SELECT uscc, eligible_amount_ytd, entitlement_ytd, cap, granted_before, "
					"difference, payable, status FROM run_lines WHERE run_id = $1 "
					"ORDER BY uscc COLLATE \"C\"",
					1, NULL, sp, NULL, NULL, 0);
	bool ok = false;
	size_t nlines = 0;
	char what[160];
	if (PQresultStatus(stored) != PGRES_TUPLES_OK)
		snprintf(err, errlen, "run %s: reading its lines: %s", id, PQerrorMessage(c));
	else if (lines_match(stored, rc, id, prog, period, &nlines, err, errlen)) {
		if (totals_differ(runs, i, rc, nlines, what, sizeof what))
			snprintf(err, errlen, "run %s (%s, %s): %s", id, prog, period, what);
		else {
			fprintf(audit_progress(), "audit verify: run %s recomputed (%zu lines)\n", id, nlines);
			ok = true;
		}
	}
	PQclear(stored);
	return ok;
}

bool audit_verify_runs(PGconn *c, int64_t *runs_checked, char *err, size_t errlen)
{
	PGresult *runs = NULL;
	run_calc_t rc;
	memset(&rc, 0, sizeof rc);
	bool ok = false;
	*runs_checked = 0;

	/* the recomputation (settlement/run.c) names tables without a schema:
	 * here they are the audit views, so that an auditor can run it */
	PQclear(PQexec(c, "SET LOCAL search_path = audit, pg_catalog"));
	/* approved runs, in approval order; a run sees the registry as it
	 * stood at its cut-off (data_cutoff: voucher.ingest_cut) */
	runs = PQexec(c, "SELECT r.run_id, r.program, r.period, r.program_version, r.as_of::text, r.data_cutoff::text, "
			 "  r.prepared_at::text, a.at::text, r.pool_left_fen, r.total_payable, r.total_recovered, "
			 "  r.total_asked, r.lines "
			 "FROM runs r "
			 "LEFT JOIN run_events a ON a.run_id = r.run_id AND a.event = 'approved' "
			 "WHERE a.run_id IS NOT NULL "
			 "ORDER BY a.at NULLS FIRST, r.run_id");
	if (PQresultStatus(runs) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading the approved runs: %s", PQerrorMessage(c));
		goto failed;
	}
	for (int i = 0; i < PQntuples(runs); i++) {
		const char *id = PQgetvalue(runs, i, 0), *prog = PQgetvalue(runs, i, 1),
			   *period = PQgetvalue(runs, i, 2);
		if (PQgetisnull(runs, i, 7)) {
			snprintf(err, errlen, "run %s (%s, %s): has review events but no approval", id, prog, period);
			goto failed;
		}
		int archived = run_archived(c, id, prog, period, err, errlen);
		if (archived < 0)
			goto failed;
		if (archived)
			continue;
		if (!verify_run(c, runs, i, &rc, err, errlen))
			goto failed;
		run_calc_free(&rc);
		(*runs_checked)++;
	}
	ok = true;
failed:
	PQclear(runs);
	run_calc_free(&rc);
	return ok;
}
