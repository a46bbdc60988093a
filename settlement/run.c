#include "settlement/run.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/date.h"
#include "common/db.h"
#include "common/money.h"
#include "settlement/engine.h"
#include "settlement/program.h"
#include "settlement/settle.h"

static double elapsed_since(const struct timespec *t0)
{
	/* progress display only: seconds since t0 */
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

#define PROGRESS(t0, ...)                                                        \
	do {                                                                     \
		fprintf(stderr, "settle: %6.1fs ", elapsed_since(t0));           \
		fprintf(stderr, __VA_ARGS__);                                    \
		fputc('\n', stderr);                                             \
	} while (0)

static bool exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "%s", PQerrorMessage(c));
	PQclear(r);
	return ok;
}

static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(c));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* The programme's jurisdiction as LIKE patterns ("330402", "3301%"), the
 * optional divisions only when switched on: a first filter in SQL; the
 * engine's rule 1 decides. */
static void jurisdiction_patterns(const program_t *p, buf_t *out)
{
	buf_putc(out, '{');
	bool first = true;
	for (int pass = 0; pass < 2; pass++) {
		int n = pass ? (p->optional_enabled ? p->noptional : 0) : p->ndivisions;
		for (int i = 0; i < n; i++) {
			const char *d = pass ? p->optional_divisions[i] : p->divisions[i];
			buf_printf(out, "%s\"%s%s\"", first ? "" : ",", d, strlen(d) < 6 ? "%" : "");
			first = false;
		}
	}
	buf_putc(out, '}');
}

static void categories_array(const program_t *p, buf_t *out)
{
	buf_putc(out, '{');
	bool first = true;
	for (int i = 0; i < CAT_COUNT; i++)
		if (p->categories[i]) {
			buf_printf(out, "%s%s", first ? "" : ",", category_name((category_t)i));
			first = false;
		}
	buf_putc(out, '}');
}

/* a group row of one of the two usage queries */
struct grow {
	PGresult *res;
	int row;
};

static int cmp_row(const void *a, const void *b)
{
	const struct grow *x = a, *y = b;
	return strcmp(PQgetvalue(x->res, x->row, 0), PQgetvalue(y->res, y->row, 0));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *status_text(eng_status_t s)
{
	return eng_status_name(s);
}

/* a registry row that existed at $n (NULL: every row that exists now) */
#define SEEN(col, n) "($" #n "::timestamptz IS NULL OR " col " <= $" #n "::timestamptz)"

/* alias is the import in force of its version (uscc, valid_from) as the
 * registry stood at $n: no newer import of the same version was stamped by
 * then (a re-import adds a version; nothing is overwritten) */
#define EV_NEWEST(alias, n)                                                                              \
	"NOT EXISTS (SELECT 1 FROM enterprise_versions nv WHERE nv.uscc = " alias ".uscc "              \
	"AND nv.valid_from = " alias ".valid_from AND (nv.imported_at, nv.id) > (" alias ".imported_at, " \
	alias ".id) AND " SEEN("nv.imported_at", n) ")"

/* a grant of a run approved before $n (NULL: every grant) */
#define GRANTED(alias, n)                                                                               \
	"($" #n "::timestamptz IS NULL OR EXISTS (SELECT 1 FROM run_events ge "                 \
	"WHERE ge.run_id = " alias ".run_id AND ge.event = 'approved' AND ge.at < $" #n "::timestamptz))"

bool run_line_shown(const eng_line_t *l)
{
	return l->eligible_ytd != 0 || l->granted_before != 0 || l->entitlement_ytd != 0 || l->payable != 0;
}

void run_calc_free(run_calc_t *rc)
{
	free(rc->prog);
	free(rc->partners);
	free(rc->ents);
	free(rc->lines);
	PQclear(rc->facts);
	memset(rc, 0, sizeof *rc);
}

/* the programme: the newest stored version, or the given one */
static bool load_version(PGconn *c, const char *program, const char *version, run_calc_t *rc, char *err,
			 size_t errlen)
{
	if (!version)
		return settle_load_program(c, program, rc->prog, rc->program_version, sizeof rc->program_version, err,
					   errlen);
	const char *p[] = {version};
	PGresult *r = query(c, "SELECT program, text FROM program_versions WHERE version = $1", 1, p, err,
			    errlen);
	if (!r)
		return false;
	bool ok = false;
	char perr[256];
	if (PQntuples(r) == 0)
		snprintf(err, errlen, "programme version %.12s is not stored", version);
	else if (strcmp(PQgetvalue(r, 0, 0), program) != 0)
		snprintf(err, errlen, "programme version %.12s is of programme %s, not %s", version,
			 PQgetvalue(r, 0, 0), program);
	else if (!program_parse(PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1), rc->prog, perr, sizeof perr))
		snprintf(err, errlen, "stored programme %s version %.12s does not parse: %s", program, version, perr);
	else
		ok = true;
	if (ok)
		snprintf(rc->program_version, sizeof rc->program_version, "%s", version);
	PQclear(r);
	return ok;
}

bool run_compute(PGconn *c, const char *program, const char *period, const run_basis_t *basis, run_calc_t *rc,
		 char *err, size_t errlen)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(rc, 0, sizeof *rc);
	rc->prog = xcalloc(1, sizeof *rc->prog);
	rc->partners = xcalloc(ENG_MAX_PARTNERS, sizeof *rc->partners);
	program_t *prog = rc->prog, *partners = rc->partners;
	PGresult *rg = NULL, *rg2 = NULL, *r = NULL;
	struct grow *rows = NULL;
	eng_group_t *groups = NULL;
	const char **usccs = NULL, **ent_keys = NULL;
	buf_t b1 = BUF_INIT, b2 = BUF_INIT, sql = BUF_INIT, flags = BUF_INIT;
	bool ok = false, quiet = basis->quiet;
	int npartners = 0;

	int year = atoi(period), month = atoi(period + 5);
	if (strlen(period) != 7 || period[4] != '-' || month < 1 || month > 12) {
		snprintf(err, errlen, "period '%s' is not YYYY-MM", period);
		goto failed;
	}
	char y_start[40], m_end[40], period_end_day[11], year_txt[8];
	date_cn_month_start(year, 1, y_start, sizeof y_start);
	date_cn_month_start(year, month + 1, m_end, sizeof m_end);
	date_month_last_day(year, month, period_end_day);
	snprintf(year_txt, sizeof year_txt, "%d", year);

	if (!load_version(c, program, basis->version, rc, err, errlen))
		goto failed;

	/* the other programmes of its exclusivity group: their newest versions
	 * (as they stood at registry_at) */
	if (prog->exclusivity_group[0]) {
		const char *p[] = {prog->id, basis->registry_at};
		r = query(c, "SELECT DISTINCT ON (program) program, text FROM program_versions "
			     "WHERE program <> $1 AND " SEEN("loaded_at", 2) " ORDER BY program, loaded_at DESC, version",
			  2, p, err, errlen);
		if (!r)
			goto failed;
		for (int i = 0; i < PQntuples(r); i++) {
			program_t *q = &partners[npartners];
			char perr[256];
			if (!program_parse(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1), q, perr, sizeof perr))
				continue;
			if (strcmp(q->exclusivity_group, prog->exclusivity_group) != 0)
				continue;
			if (npartners == ENG_MAX_PARTNERS) {
				snprintf(err, errlen, "exclusivity group %s has more than %d programmes",
					 prog->exclusivity_group, ENG_MAX_PARTNERS + 1);
				goto failed;
			}
			npartners++;
		}
		PQclear(r);
		r = NULL;
	}
	rc->npartners = npartners;

	if (basis->as_of && basis->cutoff) {
		snprintf(rc->as_of, sizeof rc->as_of, "%s", basis->as_of);
		snprintf(rc->cutoff, sizeof rc->cutoff, "%s", basis->cutoff);
	} else {
		r = query(c, "SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date::text, now()::text", 0, NULL, err,
			  errlen);
		if (!r)
			goto failed;
		snprintf(rc->as_of, sizeof rc->as_of, "%s", basis->as_of ? basis->as_of : PQgetvalue(r, 0, 0));
		snprintf(rc->cutoff, sizeof rc->cutoff, "%s", basis->cutoff ? basis->cutoff : PQgetvalue(r, 0, 1));
		PQclear(r);
		r = NULL;
	}

	/* usage of the year up to the end of the month, arrived by the cut-off,
	 * summed by enterprise, category, facility class, the enterprise's
	 * division on the record's day (China time), whether that day is in the
	 * programme's dates (and each partner's), and whether the provider is
	 * related */
	jurisdiction_patterns(prog, &b1);
	categories_array(prog, &b2);
	/* Two queries, merged below.  (a) enterprises with one registry version:
	 * usage is summed first, over the big table alone (parallel, with the
	 * extended statistics of 002_settlement.sql), then joined to the small
	 * tables.  (b) enterprises with several versions: summed per day, so that
	 * each day's records take the division in force that day.  $8: the
	 * registry as it stood then (NULL: now). */
	int np = 8;
	const char *params[8 + 2 * ENG_MAX_PARTNERS];
	params[0] = y_start;
	params[1] = m_end;
	params[2] = rc->cutoff;
	params[3] = b2.data;
	params[4] = b1.data;
	params[5] = prog->valid_from;
	params[6] = prog->valid_to[0] ? prog->valid_to : NULL;
	params[7] = basis->registry_at;
	/* a day D in China time is [D 00:00+08, D+1 00:00+08) */
	buf_puts(&flags, "(u.ended_at >= ($6::date::timestamp AT TIME ZONE 'Asia/Shanghai') AND ($7::date IS NULL "
			 "OR u.ended_at < (($7::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))) AS in_dates, (0");
	for (int k = 0; k < npartners; k++) {
		buf_printf(&flags,
			   " | CASE WHEN u.ended_at >= ($%d::date::timestamp AT TIME ZONE 'Asia/Shanghai') AND "
			   "($%d::date IS NULL OR u.ended_at < (($%d::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')) "
			   "THEN %d ELSE 0 END",
			   np + 1, np + 2, np + 2, 1 << k);
		params[np++] = partners[k].valid_from;
		params[np++] = partners[k].valid_to[0] ? partners[k].valid_to : NULL;
	}
	buf_puts(&flags, ") AS bits");
	static const char where_usage[] =
		"u.ended_at >= $1::timestamptz AND u.ended_at < $2::timestamptz AND u.received_at <= $3::timestamptz "
		"AND u.category = ANY($4::text[])";
	buf_printf(&sql,
		   "WITH a AS (SELECT u.enterprise, u.provider, u.facility, u.category, %s, "
		   "  sum(u.amount_fen) AS amt FROM usage_records u WHERE %s GROUP BY 1, 2, 3, 4, 5, 6) "
		   "SELECT a.enterprise, a.category, f.class, ev.division, a.in_dates, (rp.uscc IS NOT NULL), a.bits, "
		   "  sum(a.amt)::text "
		   "FROM a JOIN facilities f ON f.provider = a.provider AND f.facility = a.facility "
		   "  AND " SEEN("f.added_at", 8) " "
		   "JOIN enterprise_versions ev ON ev.uscc = a.enterprise AND " SEEN("ev.imported_at", 8) " "
		   "  AND " EV_NEWEST("ev", 8) " "
		   "LEFT JOIN related_parties rp ON rp.uscc = a.enterprise AND rp.provider = a.provider "
		   "  AND " SEEN("rp.added_at", 8) " "
		   "WHERE ev.division LIKE ANY($5::text[]) AND NOT EXISTS (SELECT 1 FROM enterprise_versions v2 "
		   "  WHERE v2.uscc = ev.uscc AND v2.valid_from <> ev.valid_from AND " SEEN("v2.imported_at", 8) ") "
		   "GROUP BY 1, 2, 3, 4, 5, 6, 7",
		   flags.data, where_usage);
	if (!quiet)
		PROGRESS(&t0, "programme %s version %.12s, period %s: reading usage of %d up to the end of the month",
			 prog->id, rc->program_version, period, year);
	if (!exec_ok(c, "SET LOCAL work_mem = '256MB'", err, errlen) || !exec_ok(c, "SET LOCAL jit = off", err, errlen))
		goto failed;
	rg = query(c, sql.data, np, params, err, errlen);
	if (!rg)
		goto failed;
	buf_reset(&sql);
	buf_printf(&sql,
		   "WITH m AS (SELECT uscc FROM enterprise_versions WHERE " SEEN("imported_at", 8) " "
		   "  GROUP BY uscc HAVING count(DISTINCT valid_from) > 1), "
		   "ev AS (SELECT v.uscc, v.division, v.valid_from, "
		   "  lead(v.valid_from) OVER (PARTITION BY v.uscc ORDER BY v.valid_from) AS valid_until, "
		   "  row_number() OVER (PARTITION BY v.uscc ORDER BY v.valid_from) AS rn "
		   "  FROM enterprise_versions v JOIN m ON m.uscc = v.uscc WHERE " SEEN("v.imported_at", 8) " "
		   "  AND " EV_NEWEST("v", 8) "), "
		   "a AS (SELECT u.enterprise, u.provider, u.facility, u.category, %s, "
		   "  (u.ended_at AT TIME ZONE 'Asia/Shanghai')::date AS day, sum(u.amount_fen) AS amt "
		   "  FROM usage_records u WHERE %s AND u.enterprise IN (SELECT uscc FROM m) "
		   "  GROUP BY 1, 2, 3, 4, 5, 6, 7) "
		   "SELECT a.enterprise, a.category, f.class, ev.division, a.in_dates, (rp.uscc IS NOT NULL), a.bits, "
		   "  sum(a.amt)::text "
		   "FROM a JOIN facilities f ON f.provider = a.provider AND f.facility = a.facility "
		   "  AND " SEEN("f.added_at", 8) " "
		   "JOIN ev ON ev.uscc = a.enterprise AND (ev.valid_from <= a.day OR ev.rn = 1) "
		   "  AND (ev.valid_until IS NULL OR a.day < ev.valid_until) "
		   "LEFT JOIN related_parties rp ON rp.uscc = a.enterprise AND rp.provider = a.provider "
		   "  AND " SEEN("rp.added_at", 8) " "
		   "WHERE ev.division LIKE ANY($5::text[]) "
		   "GROUP BY 1, 2, 3, 4, 5, 6, 7",
		   flags.data, where_usage);
	rg2 = query(c, sql.data, np, params, err, errlen);
	if (!rg2)
		goto failed;
	/* both results, in enterprise order */
	size_t na = (size_t)PQntuples(rg), nb = (size_t)PQntuples(rg2);
	size_t ng = na + nb;
	rows = xcalloc(ng + 1, sizeof *rows);
	for (size_t i = 0; i < ng; i++) {
		rows[i].res = i < na ? rg : rg2;
		rows[i].row = (int)(i < na ? i : i - na);
	}
	qsort(rows, ng, sizeof *rows, cmp_row);
	rc->ngroups = ng;

	/* the enterprises: those with usage, and those granted before this year */
	size_t nu = 0;
	usccs = xcalloc(ng + 1, sizeof *usccs);
	for (size_t i = 0; i < ng; i++) {
		const char *u = PQgetvalue(rows[i].res, rows[i].row, 0);
		if (nu == 0 || strcmp(usccs[nu - 1], u) != 0)
			usccs[nu++] = u;
	}
	buf_reset(&b1);
	buf_putc(&b1, '{');
	for (size_t i = 0; i < nu; i++)
		buf_printf(&b1, "%s%s", i ? "," : "", usccs[i]);
	buf_putc(&b1, '}');
	if (!quiet)
		PROGRESS(&t0, "%zu usage groups for %zu enterprises; reading the registry", ng, nu);
	/* $6: the registry as it stood then; $7: grants of runs approved before */
	const char *ep[] = {b1.data, period_end_day, rc->as_of, prog->id, year_txt, basis->registry_at,
			    basis->approved_before};
	rc->facts = query(c,
		   "WITH e AS (SELECT unnest($1::text[]) AS uscc "
		   "  UNION SELECT gr.uscc FROM grants gr WHERE gr.program = $4 AND gr.year = $5::integer "
		   "  AND " GRANTED("gr", 7) ") "
		   "SELECT e.uscc, f.sme, f.model_developer, f.maas_builder, f.model_registered, "
		   "  f.foundation_model, f.credit_blacklisted, r.credit_blacklisted, "
		   "  coalesce(r.performance_grade, ''), r.name, r.division, coalesce(g.granted, 0)::text, "
		   "  o.rate_bp, o.cap_fen "
		   "FROM e "
		   "JOIN LATERAL (SELECT * FROM enterprise_versions v WHERE v.uscc = e.uscc "
		   "  AND " SEEN("v.imported_at", 6) " "
		   "  ORDER BY (v.valid_from <= $2::date) DESC, "
		   "  CASE WHEN v.valid_from <= $2::date THEN v.valid_from END DESC, v.valid_from, "
		   "  v.imported_at DESC, v.id DESC LIMIT 1) f ON true "
		   "JOIN LATERAL (SELECT * FROM enterprise_versions v WHERE v.uscc = e.uscc "
		   "  AND " SEEN("v.imported_at", 6) " "
		   "  ORDER BY (v.valid_from <= $3::date) DESC, "
		   "  CASE WHEN v.valid_from <= $3::date THEN v.valid_from END DESC, v.valid_from, "
		   "  v.imported_at DESC, v.id DESC LIMIT 1) r ON true "
		   "LEFT JOIN (SELECT gr.uscc, sum(gr.amount_fen) AS granted FROM grants gr "
		   "  WHERE gr.program = $4 AND gr.year = $5::integer AND " GRANTED("gr", 7) " GROUP BY gr.uscc) g "
		   "  ON g.uscc = e.uscc "
		   "LEFT JOIN LATERAL (SELECT o.rate_bp, o.cap_fen FROM overrides o "
		   "  WHERE o.program = $4 AND o.year = $5::integer AND o.enterprise = e.uscc "
		   "  AND o.confirmed_at IS NOT NULL AND " SEEN("o.confirmed_at", 6) " "
		   "  ORDER BY o.confirmed_at DESC, o.id DESC LIMIT 1) o ON true "
		   "ORDER BY e.uscc COLLATE \"C\"",
		   7, ep, err, errlen);
	if (!rc->facts)
		goto failed;
	PGresult *re = rc->facts;
	size_t ne = (size_t)PQntuples(re);
	rc->ents = xcalloc(ne + 1, sizeof *rc->ents);
	ent_keys = xcalloc(ne + 1, sizeof *ent_keys);
	for (size_t i = 0; i < ne; i++) {
		eng_enterprise_t *e = &rc->ents[i];
		int row = (int)i;
		snprintf(e->uscc, sizeof e->uscc, "%s", PQgetvalue(re, row, 0));
		ent_keys[i] = PQgetvalue(re, row, 0);
		for (int fl = 0; fl <= FLAG_CREDIT_BLACKLISTED; fl++)
			if (PQgetvalue(re, row, 1 + fl)[0] == 't')
				e->flags |= 1u << fl;
		e->blacklisted = PQgetvalue(re, row, 7)[0] == 't';
		e->grade_d = PQgetvalue(re, row, 8)[0] == 'D';
		int64_t rate;
		bool no_rate, no_cap;
		if (!db_get_i64(re, row, 11, "granted", &e->granted_before, err, errlen) ||
		    !db_get_i64_null(re, row, 12, "overrides.rate_bp", &rate, &no_rate, err, errlen) ||
		    !db_get_i64_null(re, row, 13, "overrides.cap_fen", &e->override_cap_fen, &no_cap, err, errlen))
			goto failed;
		/* the engine checks 0..10000; here only that it fits before the cast */
		if (rate < INT32_MIN || rate > INT32_MAX) {
			snprintf(err, errlen, "overrides.rate_bp of %s: %" PRId64 " is out of range", e->uscc, rate);
			goto failed;
		}
		e->has_rate_override = !no_rate;
		e->override_rate_bp = (int32_t)rate;
		e->has_cap_override = !no_cap;
	}
	rc->nents = ne;
	groups = xcalloc(ng + 1, sizeof *groups);
	for (size_t i = 0; i < ng; i++) {
		PGresult *gr = rows[i].res;
		int row = rows[i].row;
		eng_group_t *g = &groups[i];
		const char *key = PQgetvalue(gr, row, 0);
		const char **hit = bsearch(&key, ent_keys, ne, sizeof *ent_keys, cmp_str);
		if (!hit) {
			snprintf(err, errlen, "enterprise %s of the usage is missing from the registry query", key);
			goto failed;
		}
		g->ent = (uint32_t)(hit - ent_keys);
		g->category = category_parse(PQgetvalue(gr, row, 1));
		g->cls = PQgetvalue(gr, row, 2)[0];
		snprintf(g->division, sizeof g->division, "%s", PQgetvalue(gr, row, 3));
		g->in_dates = PQgetvalue(gr, row, 4)[0] == 't';
		g->related = PQgetvalue(gr, row, 5)[0] == 't';
		int64_t bits;
		if (!db_get_i64(gr, row, 6, "usage.bits", &bits, err, errlen) ||
		    !db_get_i64(gr, row, 7, "usage.sum(amount_fen)", &g->amount_fen, err, errlen))
			goto failed;
		/* a partner's bit the query did not ask for would be a rule 7 decision on nothing */
		if (bits < 0 || bits >= ((int64_t)1 << npartners)) {
			snprintf(err, errlen, "usage.bits (row %d): %" PRId64 " names no partner", row, bits);
			goto failed;
		}
		g->partner_in_dates = (uint32_t)bits;
	}

	/* what approved runs granted in the programme-year */
	const char *pp[] = {prog->id, year_txt, basis->approved_before};
	r = query(c, "SELECT coalesce(sum(gr.amount_fen), 0)::text FROM grants gr "
		     "WHERE gr.program = $1 AND gr.year = $2::integer AND " GRANTED("gr", 3),
		  3, pp, err, errlen);
	if (!r)
		goto failed;
	eng_input_t in = {.prog = prog, .npartners = npartners, .ents = rc->ents, .nents = ne, .groups = groups,
			  .ngroups = ng};
	if (!db_get_i64(r, 0, 0, "grants.sum(amount_fen)", &in.pool_granted_fen, err, errlen))
		goto failed;
	PQclear(r);
	r = NULL;
	for (int k = 0; k < npartners; k++)
		in.partners[k] = &partners[k];
	rc->lines = xcalloc(ne + 1, sizeof *rc->lines);
	if (!quiet)
		PROGRESS(&t0, "computing %zu enterprises", ne);
	if (!eng_settle(&in, rc->lines, &rc->tot, err, errlen))
		goto failed;
	ok = true;
failed:
	PQclear(r);
	PQclear(rg);
	PQclear(rg2);
	free(rows);
	free(usccs);
	free(ent_keys);
	free(groups);
	buf_free(&b1);
	buf_free(&b2);
	buf_free(&sql);
	buf_free(&flags);
	return ok;
}

bool settle_run(PGconn *c, const char *program, const char *period, bool dry_run, settle_summary_t *sum,
		char *err, size_t errlen)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(sum, 0, sizeof *sum);
	run_calc_t rc;
	memset(&rc, 0, sizeof rc);
	PGresult *r = NULL;
	bool ok = false, in_tx = false;
	char cutoff[64], as_of[11];

	/* only a month that has ended (China time) is settled */
	const char *pp[] = {period};
	r = query(c, "SELECT voucher.period_ended($1)", 1, pp, err, errlen);
	if (!r)
		goto failed;
	PQclear(r);
	/* a clean cut through ingest (voucher.ingest_cut, sql/006_integrity.sql):
	 * every record and registry row stamped by the cut-off is committed
	 * before the snapshot below, every later one is stamped after it */
	r = query(c, "SELECT t::text, (t AT TIME ZONE 'Asia/Shanghai')::date::text FROM voucher.ingest_cut() t", 0,
		  NULL, err, errlen);
	if (!r)
		goto failed;
	snprintf(cutoff, sizeof cutoff, "%s", PQgetvalue(r, 0, 0));
	snprintf(as_of, sizeof as_of, "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	r = NULL;
	if (!exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", err, errlen))
		goto failed;
	in_tx = true;
	/* run_compute names tables without a schema: settle reads the tables
	 * themselves, audit verify the audit views of the same names */
	if (!exec_ok(c, "SET LOCAL search_path = voucher, pg_catalog", err, errlen))
		goto failed;

	run_basis_t basis = {.cutoff = cutoff, .as_of = as_of, .registry_at = cutoff};
	if (!run_compute(c, program, period, &basis, &rc, err, errlen))
		goto failed;
	snprintf(sum->program_version, sizeof sum->program_version, "%s", rc.program_version);
	snprintf(sum->as_of, sizeof sum->as_of, "%s", rc.as_of);
	sum->groups = rc.ngroups;
	const eng_totals_t tot = rc.tot;
	sum->payable = tot.payable;
	sum->recovered = tot.recovered;
	sum->asked = tot.asked;
	sum->pool_left = tot.pool_left;

	for (size_t i = 0; i < rc.nents; i++) {
		eng_line_t *l = &rc.lines[i];
		if (!run_line_shown(l))
			continue;
		sum->lines++;
		sum->payable_lines += l->status == ST_PAYABLE;
		sum->recovery_lines += l->status == ST_RECOVERY;
		sum->withheld_lines += l->status == ST_WITHHELD;
	}
	if (dry_run) {
		exec_ok(c, "ROLLBACK", err, errlen);
		in_tx = false;
		ok = true;
		goto done;
	}

	PROGRESS(&t0, "storing %zu lines", sum->lines);
	/* the owner's voucher.run_store checks what it can and stores the draft,
	 * superseding the earlier draft of the same programme and period */
	enum { A_USCC, A_NAME, A_DIV, A_ELIG, A_ENT, A_CAP, A_GB, A_DIFF, A_PAY, A_STATUS, A_NOTE, A_N };
	buf_t arr[A_N];
	for (int k = 0; k < A_N; k++)
		arr[k] = (buf_t)BUF_INIT;
	for (size_t i = 0; i < rc.nents; i++) {
		eng_line_t *l = &rc.lines[i];
		if (!run_line_shown(l))
			continue;
		char v[6][24];
		const int64_t nums[6] = {l->eligible_ytd, l->entitlement_ytd, l->cap, l->granted_before, l->difference,
					 l->payable};
		for (int k = 0; k < 6; k++)
			snprintf(v[k], sizeof v[k], "%" PRId64, nums[k]);
		db_array_add(&arr[A_USCC], rc.ents[i].uscc);
		db_array_add(&arr[A_NAME], PQgetvalue(rc.facts, (int)i, 9));
		db_array_add(&arr[A_DIV], PQgetvalue(rc.facts, (int)i, 10));
		for (int k = 0; k < 6; k++)
			db_array_add(&arr[A_ELIG + k], v[k]);
		db_array_add(&arr[A_STATUS], status_text(l->status));
		db_array_add(&arr[A_NOTE], l->note);
	}
	for (int k = 0; k < A_N; k++)
		db_array_end(&arr[k]);
	char pay[24], rec[24], ask[24], left[24];
	snprintf(pay, sizeof pay, "%" PRId64, tot.payable);
	snprintf(rec, sizeof rec, "%" PRId64, tot.recovered);
	snprintf(ask, sizeof ask, "%" PRId64, tot.asked);
	snprintf(left, sizeof left, "%" PRId64, tot.pool_left);
	const char *rp[] = {rc.prog->id, sum->program_version, period, sum->as_of, cutoff,
			    tot.pool_left < 0 ? NULL : left, pay, rec, ask, arr[A_USCC].data, arr[A_NAME].data,
			    arr[A_DIV].data, arr[A_ELIG].data, arr[A_ENT].data, arr[A_CAP].data, arr[A_GB].data,
			    arr[A_DIFF].data, arr[A_PAY].data, arr[A_STATUS].data, arr[A_NOTE].data};
	r = query(c, "SELECT voucher.run_store($1, $2, $3, $4::date, $5::timestamptz, $6::bigint, $7::bigint, "
		     "$8::bigint, $9::bigint, $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], "
		     "$15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::text[], $20::text[])",
		  20, rp, err, errlen);
	for (int k = 0; k < A_N; k++)
		buf_free(&arr[k]);
	if (!r)
		goto failed;
	if (!db_get_i64(r, 0, 0, "runs.run_id", &sum->run_id, err, errlen))
		goto failed;
	PQclear(r);
	r = NULL;
	if (!exec_ok(c, "COMMIT", err, errlen))
		goto failed;
	in_tx = false;
	PROGRESS(&t0, "done");
	ok = true;
	goto done;
failed:
	if (r)
		PQclear(r);
	r = NULL;
	if (in_tx)
		PQclear(PQexec(c, "ROLLBACK"));
done:
	if (r)
		PQclear(r);
	run_calc_free(&rc);
	return ok;
}
