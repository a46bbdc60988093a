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

#define PROGRESS(t0, ...)                                              \
	do {                                                           \
		fprintf(stderr, "settle: %6.1fs ", elapsed_since(t0)); \
		fprintf(stderr, __VA_ARGS__);                          \
		fputc('\n', stderr);                                   \
	} while (0)

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
	const char *key; /* its enterprise */
};

static int cmp_row(const void *a, const void *b)
{
	const struct grow *x = a, *y = b;
	return strcmp(x->key, y->key);
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
#define EV_NEWEST(alias, n)                                                                                     \
	"NOT EXISTS (SELECT 1 FROM enterprise_versions nv WHERE nv.uscc = " alias ".uscc "                      \
	"AND nv.valid_from = " alias ".valid_from AND (nv.imported_at, nv.id) > (" alias ".imported_at, " alias \
	".id) AND " SEEN("nv.imported_at", n) ")"

/* a grant of a run approved before $n (NULL: every grant) */
#define GRANTED(alias, n)                                                       \
	"($" #n "::timestamptz IS NULL OR EXISTS (SELECT 1 FROM run_events ge " \
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

/* The columns of a result, looked up by name once (PQfnumber); every one
 * must be there, so that a changed query fails here and not as a wrong
 * column read below. */
static bool columns_of(const PGresult *r, const char *what, const char *const *names, int n, int *col, char *err,
		       size_t errlen)
{
	for (int k = 0; k < n; k++) {
		col[k] = PQfnumber(r, names[k]);
		if (col[k] < 0) {
			snprintf(err, errlen, "%s: the result has no column %s", what, names[k]);
			return false;
		}
	}
	return true;
}

/* the programme: the newest stored version, or the given one */
static bool load_version(PGconn *c, const char *program, const char *version, run_calc_t *rc, char *err, size_t errlen)
{
	if (!version)
		return settle_load_program(c, program, rc->prog, rc->program_version, sizeof rc->program_version, err,
					   errlen);
	const char *p[] = {version};
	PGresult *r = db_query(c, "SELECT program, text FROM program_versions WHERE version = $1", 1, p, err, errlen);
	if (!r)
		return false;
	int col[2];
	static const char *const names[] = {"program", "text"};
	bool ok = false;
	char perr[256];
	if (!columns_of(r, "program_versions", names, 2, col, err, errlen))
		;
	else if (PQntuples(r) == 0)
		snprintf(err, errlen, "programme version %.12s is not stored", version);
	else if (strcmp(PQgetvalue(r, 0, col[0]), program) != 0)
		snprintf(err, errlen, "programme version %.12s is of programme %s, not %s", version,
			 PQgetvalue(r, 0, col[0]), program);
	else if (!program_parse(PQgetvalue(r, 0, col[1]), (size_t)PQgetlength(r, 0, col[1]), rc->prog, perr,
				sizeof perr))
		snprintf(err, errlen, "stored programme %s version %.12s does not parse: %s", program, version, perr);
	else
		ok = true;
	if (ok)
		snprintf(rc->program_version, sizeof rc->program_version, "%s", version);
	PQclear(r);
	return ok;
}

/* the columns of the two usage queries (both select the same list) */
enum {
	U_ENTERPRISE,
	U_CATEGORY,
	U_CLASS,
	U_DIVISION,
	U_IN_DATES,
	U_RELATED,
	U_SELLER_RELATED,
	U_MARKETPLACE,
	U_BITS,
	U_AMOUNT,
	U_NCOLS
};
static const char *const usage_cols[U_NCOLS] = {"enterprise", "category",  "class",          "division",
						"in_dates",   "related",   "seller_related", "marketplace",
						"bits",       "amount_fen"};
#define USAGE_SELECT                                                                                            \
	"SELECT a.enterprise, a.category, f.class, ev.division, a.in_dates, (rp.uscc IS NOT NULL) AS related, " \
	"  (rs.uscc IS NOT NULL) AS seller_related, (pr.kind = 'marketplace') AS marketplace, "                 \
	"  a.bits, sum(a.amt)::text AS amount_fen "
/* the provider's kind and the related sellers (rule 1), joined to the sums a
 * ($8: the registry as it stood then) */
#define USAGE_JOIN_SELLERS                                                                                         \
	"JOIN providers pr ON pr.code = a.provider "                                                               \
	"LEFT JOIN related_sellers rs ON rs.uscc = a.enterprise AND rs.seller = a.seller AND " SEEN("rs.added_at", \
												    8) " "

/* the columns of the registry facts, besides one per flag named flag_name() */
enum { F_USCC, F_BLACKLISTED, F_GRADE, F_NAME, F_DIVISION, F_GRANTED, F_RATE_BP, F_CAP_FEN, F_NCOLS };
static const char *const facts_cols[F_NCOLS] = {"uscc",     "blacklisted", "grade",   "name",
						"division", "granted",     "rate_bp", "cap_fen"};

/* run_compute's working state, between its steps */
typedef struct compute {
	PGconn *c;
	const run_basis_t *basis;
	run_calc_t *rc;
	struct timespec t0;
	bool quiet;
	int year;
	char y_start[40], m_end[40], period_end_day[11], year_txt[8];
	PGresult *rg, *rg2; /* the two usage queries */
	int ucol[U_NCOLS];  /* their columns (the same in both) */
	struct grow *rows;  /* their rows, in enterprise order */
	size_t ngroups;
	const char **usccs; /* the enterprises with usage, once each */
	size_t nusccs;
	const char **ent_keys; /* rc->ents[i].uscc, as stored in rc->facts */
	eng_group_t *groups;
	char *err;
	size_t errlen;
} compute_t;

/* the period "YYYY-MM": the year's start, the month's end, its last day */
static bool period_bounds(compute_t *x, const char *period)
{
	int year = atoi(period), month = atoi(period + 5);
	if (strlen(period) != 7 || period[4] != '-' || month < 1 || month > 12) {
		snprintf(x->err, x->errlen, "period '%s' is not YYYY-MM", period);
		return false;
	}
	x->year = year;
	date_cn_month_start(year, 1, x->y_start, sizeof x->y_start);
	date_cn_month_start(year, month + 1, x->m_end, sizeof x->m_end);
	date_month_last_day(year, month, x->period_end_day);
	snprintf(x->year_txt, sizeof x->year_txt, "%d", year);
	return true;
}

/* the other programmes of its exclusivity group and of its stacking group
 * (rules 7 and 9): their newest versions (as they stood at registry_at) */
static bool load_partners(compute_t *x)
{
	run_calc_t *rc = x->rc;
	const program_t *prog = rc->prog;
	rc->npartners = 0;
	if (!prog->exclusivity_group[0] && !prog->stacking_group[0])
		return true;
	const char *p[] = {prog->id, x->basis->registry_at};
	PGresult *r =
		db_query(x->c,
			 "SELECT DISTINCT ON (program) program, text FROM program_versions "
			 "WHERE program <> $1 AND " SEEN("loaded_at", 2) " ORDER BY program, loaded_at DESC, version",
			 2, p, x->err, x->errlen);
	if (!r)
		return false;
	int col[2];
	static const char *const names[] = {"program", "text"};
	bool ok = columns_of(r, "program_versions", names, 2, col, x->err, x->errlen);
	for (int i = 0; ok && i < PQntuples(r); i++) {
		program_t *q = &rc->partners[rc->npartners];
		char perr[256];
		if (!program_parse(PQgetvalue(r, i, col[1]), (size_t)PQgetlength(r, i, col[1]), q, perr, sizeof perr))
			continue;
		if (!program_shares_group(prog, q))
			continue;
		if (rc->npartners == ENG_MAX_PARTNERS) {
			snprintf(x->err, x->errlen, "the groups of %s have more than %d programmes", prog->id,
				 ENG_MAX_PARTNERS);
			ok = false;
			break;
		}
		rc->npartners++;
	}
	PQclear(r);
	return ok;
}

/* the run's date and cut-off: the basis's, else now */
static bool run_clock(compute_t *x)
{
	run_calc_t *rc = x->rc;
	const run_basis_t *basis = x->basis;
	if (basis->as_of && basis->cutoff) {
		snprintf(rc->as_of, sizeof rc->as_of, "%s", basis->as_of);
		snprintf(rc->cutoff, sizeof rc->cutoff, "%s", basis->cutoff);
		return true;
	}
	PGresult *r = db_query(
		x->c, "SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date::text AS as_of, now()::text AS cutoff", 0,
		NULL, x->err, x->errlen);
	if (!r)
		return false;
	int col[2];
	static const char *const names[] = {"as_of", "cutoff"};
	bool ok = columns_of(r, "now()", names, 2, col, x->err, x->errlen);
	if (ok) {
		snprintf(rc->as_of, sizeof rc->as_of, "%s", basis->as_of ? basis->as_of : PQgetvalue(r, 0, col[0]));
		snprintf(rc->cutoff, sizeof rc->cutoff, "%s", basis->cutoff ? basis->cutoff : PQgetvalue(r, 0, col[1]));
	}
	PQclear(r);
	return ok;
}

/* Whether the days of the usage read (the year up to the end of the
 * period) are all within dates from..to (1), none is (0), or some are (-1):
 * a flag that is the same for every record is a constant in the query, not
 * an expression evaluated on each of millions of rows. */
static int dates_cover(const compute_t *x, const char *from, const char *to)
{
	char year_first[11];
	snprintf(year_first, sizeof year_first, "%04d-01-01", x->year);
	if (strcmp(from, x->period_end_day) > 0 || (to[0] && strcmp(to, year_first) < 0))
		return 0;
	if (strcmp(from, year_first) <= 0 && (!to[0] || strcmp(to, x->period_end_day) >= 0))
		return 1;
	return -1;
}

/* read_usage's parameters ($1..$8, then two per partner whose dates cut the
 * year) and its flags columns: in_dates, and bits (bit k: the day is in
 * partner k's dates).  $6 and $7 are always typed (by the CTE d of the
 * queries), even when in_dates is a constant. */
static int usage_params(compute_t *x, buf_t *juris, buf_t *cats, buf_t *flags, const char **params)
{
	run_calc_t *rc = x->rc;
	const program_t *prog = rc->prog, *partners = rc->partners;
	jurisdiction_patterns(prog, juris);
	categories_array(prog, cats);
	int np = 8;
	params[0] = x->y_start;
	params[1] = x->m_end;
	params[2] = rc->cutoff;
	params[3] = cats->data;
	params[4] = juris->data;
	params[5] = prog->valid_from;
	params[6] = prog->valid_to[0] ? prog->valid_to : NULL;
	params[7] = x->basis->registry_at;
	/* a day D in China time is [D 00:00+08, D+1 00:00+08) */
	int own = dates_cover(x, prog->valid_from, prog->valid_to);
	if (own >= 0)
		buf_printf(flags, "%s AS in_dates, (0", own ? "true" : "false");
	else
		buf_puts(flags,
			 "(u.ended_at >= ($6::date::timestamp AT TIME ZONE 'Asia/Shanghai') AND ($7::date IS NULL "
			 "OR u.ended_at < (($7::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))) AS in_dates, (0");
	for (int k = 0; k < rc->npartners; k++) {
		int cover = dates_cover(x, partners[k].valid_from, partners[k].valid_to);
		if (cover >= 0) {
			buf_printf(flags, " | %d", cover ? 1 << k : 0);
			continue;
		}
		buf_printf(
			flags,
			" | CASE WHEN u.ended_at >= ($%d::date::timestamp AT TIME ZONE 'Asia/Shanghai') AND "
			"($%d::date IS NULL OR u.ended_at < (($%d::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')) "
			"THEN %d ELSE 0 END",
			np + 1, np + 2, np + 2, 1 << k);
		params[np++] = partners[k].valid_from;
		params[np++] = partners[k].valid_to[0] ? partners[k].valid_to : NULL;
	}
	buf_puts(flags, ") AS bits");
	return np;
}

/* Reads the usage of the year up to the end of the month, arrived by the
 * cut-off, summed by enterprise, category, facility class, the enterprise's
 * division on the record's day (China time), whether that day is in the
 * programme's dates (and each partner's), whether the provider is related,
 * whether the seller (corpus, dataset) is, and whether the provider is a
 * marketplace.  Two queries, merged by merge_usage.  (a) enterprises with one
 * registry version: usage is summed first, over the big table alone
 * (parallel, with the extended statistics of 002_settlement.sql), then joined
 * to the small tables.  (b) enterprises with several versions: summed per
 * day, so that each day's records take the division in force that day.  $8:
 * the registry as it stood then (NULL: now). */
static bool read_usage(compute_t *x, const char *period)
{
	run_calc_t *rc = x->rc;
	const program_t *prog = rc->prog;
	buf_t juris = BUF_INIT, cats = BUF_INIT, sql = BUF_INIT, flags = BUF_INIT;
	bool ok = false;
	const char *params[8 + 2 * ENG_MAX_PARTNERS];
	int np = usage_params(x, &juris, &cats, &flags, params);
	/* the seller matters only to the marketplace-only categories (rule 1):
	 * a programme without them does not read the column at all, so that the
	 * scan of the big table stops short of its last column */
	bool sellers = false;
	for (int c = 0; c < CAT_COUNT; c++)
		sellers |= prog->categories[c] && eng_marketplace_only(c);
	const char *seller = sellers ? "u.seller" : "NULL::text";
	static const char where_usage[] =
		"u.ended_at >= $1::timestamptz AND u.ended_at < $2::timestamptz AND u.received_at <= $3::timestamptz "
		"AND u.category = ANY($4::text[])";
	buf_printf(
		&sql,
		"WITH d AS (SELECT $6::date AS valid_from, $7::date AS valid_to), "
		"a AS (SELECT u.enterprise, u.provider, u.facility, u.category, %s AS seller, %s, "
		"  sum(u.amount_fen) AS amt FROM usage_records u WHERE %s GROUP BY 1, 2, 3, 4, 5, 6, 7) " USAGE_SELECT
		"FROM a JOIN facilities f ON f.provider = a.provider AND f.facility = a.facility "
		"  AND " SEEN("f.added_at", 8) " " USAGE_JOIN_SELLERS "JOIN enterprise_versions ev ON ev.uscc = a.enterprise AND " SEEN(
			"ev.imported_at",
			8) " "
			   "  AND " EV_NEWEST(
				   "ev",
				   8) " "
				      "LEFT JOIN related_parties rp ON rp.uscc = a.enterprise AND rp.provider = a.provider "
				      "  AND " SEEN(
					      "rp.added_at",
					      8) " "
						 "WHERE ev.division LIKE ANY($5::text[]) AND NOT EXISTS (SELECT 1 FROM enterprise_versions v2 "
						 "  WHERE v2.uscc = ev.uscc AND v2.valid_from <> ev.valid_from AND " SEEN(
							 "v2.imported_at", 8) ") "
									      "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
		seller, flags.data, where_usage);
	if (!x->quiet)
		PROGRESS(&x->t0,
			 "programme %s version %.12s, period %s: reading usage of %d up to the end of the month",
			 prog->id, rc->program_version, period, x->year);
	if (!db_command(x->c, "SET LOCAL work_mem = '256MB'", 0, NULL, x->err, x->errlen) ||
	    !db_command(x->c, "SET LOCAL jit = off", 0, NULL, x->err, x->errlen))
		goto done;
	x->rg = db_query(x->c, sql.data, np, params, x->err, x->errlen);
	if (!x->rg || !columns_of(x->rg, "usage", usage_cols, U_NCOLS, x->ucol, x->err, x->errlen))
		goto done;
	buf_reset(&sql);
	buf_printf(
		&sql,
		"WITH d AS (SELECT $6::date AS valid_from, $7::date AS valid_to), "
		"m AS (SELECT uscc FROM enterprise_versions WHERE " SEEN(
			"imported_at",
			8) " "
			   "  GROUP BY uscc HAVING count(DISTINCT valid_from) > 1), "
			   "ev AS (SELECT v.uscc, v.division, v.valid_from, "
			   "  lead(v.valid_from) OVER (PARTITION BY v.uscc ORDER BY v.valid_from) AS valid_until, "
			   "  row_number() OVER (PARTITION BY v.uscc ORDER BY v.valid_from) AS rn "
			   "  FROM enterprise_versions v JOIN m ON m.uscc = v.uscc WHERE " SEEN(
				   "v.imported_at",
				   8) " "
				      "  AND " EV_NEWEST(
					      "v",
					      8) "), "
						 "a AS (SELECT u.enterprise, u.provider, u.facility, u.category, %s AS seller, %s, "
						 "  (u.ended_at AT TIME ZONE 'Asia/Shanghai')::date AS day, sum(u.amount_fen) AS amt "
						 "  FROM usage_records u WHERE %s AND u.enterprise IN (SELECT uscc FROM m) "
						 "  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) " USAGE_SELECT
						 "FROM a JOIN facilities f ON f.provider = a.provider AND f.facility = a.facility "
						 "  AND " SEEN(
							 "f.added_at",
							 8) " " USAGE_JOIN_SELLERS
							    "JOIN ev ON ev.uscc = a.enterprise AND (ev.valid_from <= a.day OR ev.rn = 1) "
							    "  AND (ev.valid_until IS NULL OR a.day < ev.valid_until) "
							    "LEFT JOIN related_parties rp ON rp.uscc = a.enterprise AND rp.provider = a.provider "
							    "  AND " SEEN("rp.added_at",
									  8) " "
									     "WHERE ev.division LIKE ANY($5::text[]) "
									     "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
		seller, flags.data, where_usage);
	x->rg2 = db_query(x->c, sql.data, np, params, x->err, x->errlen);
	if (!x->rg2)
		goto done;
	/* merge_usage reads both results through x->ucol */
	int col2[U_NCOLS];
	if (!columns_of(x->rg2, "usage (several registry versions)", usage_cols, U_NCOLS, col2, x->err, x->errlen))
		goto done;
	if (memcmp(col2, x->ucol, sizeof col2) != 0) {
		snprintf(x->err, x->errlen, "the two usage queries select their columns in different orders");
		goto done;
	}
	ok = true;
done:
	buf_free(&juris);
	buf_free(&cats);
	buf_free(&sql);
	buf_free(&flags);
	return ok;
}

/* both usage results as one list in enterprise order, and the enterprises
 * in it, once each */
static void merge_usage(compute_t *x)
{
	size_t na = (size_t)PQntuples(x->rg), nb = (size_t)PQntuples(x->rg2);
	size_t ng = na + nb;
	int ce = x->ucol[U_ENTERPRISE];
	x->rows = xcalloc(ng + 1, sizeof *x->rows);
	for (size_t i = 0; i < ng; i++) {
		struct grow *g = &x->rows[i];
		g->res = i < na ? x->rg : x->rg2;
		g->row = (int)(i < na ? i : i - na);
		g->key = PQgetvalue(g->res, g->row, ce);
	}
	qsort(x->rows, ng, sizeof *x->rows, cmp_row);
	x->ngroups = ng;
	x->rc->ngroups = ng;
	x->usccs = xcalloc(ng + 1, sizeof *x->usccs);
	size_t nu = 0;
	for (size_t i = 0; i < ng; i++) {
		const char *u = x->rows[i].key;
		if (nu == 0 || strcmp(x->usccs[nu - 1], u) != 0)
			x->usccs[nu++] = u;
	}
	x->nusccs = nu;
}

/* the registry facts of the enterprises: those with usage, and those
 * granted before this year.  $6: the registry as it stood then; $7: grants
 * of runs approved before. */
static bool read_facts(compute_t *x)
{
	run_calc_t *rc = x->rc;
	buf_t list = BUF_INIT;
	buf_putc(&list, '{');
	for (size_t i = 0; i < x->nusccs; i++)
		buf_printf(&list, "%s%s", i ? "," : "", x->usccs[i]);
	buf_putc(&list, '}');
	if (!x->quiet)
		PROGRESS(&x->t0, "%zu usage groups for %zu enterprises; reading the registry", x->ngroups, x->nusccs);
	const char *ep[] = {list.data,
			    x->period_end_day,
			    rc->as_of,
			    rc->prog->id,
			    x->year_txt,
			    x->basis->registry_at,
			    x->basis->approved_before};
	rc->facts = db_query(
		x->c,
		"WITH e AS (SELECT unnest($1::text[]) AS uscc "
		"  UNION SELECT gr.uscc FROM grants gr WHERE gr.program = $4 AND gr.year = $5::integer "
		"  AND " GRANTED(
			"gr",
			7) ") "
			   "SELECT e.uscc, f.sme, f.model_developer, f.maas_builder, f.model_registered, "
			   "  f.foundation_model, f.credit_blacklisted, f.intelligent_match, "
			   "  r.credit_blacklisted AS blacklisted, "
			   "  coalesce(r.performance_grade, '') AS grade, r.name, r.division, "
			   "  coalesce(g.granted, 0)::text AS granted, o.rate_bp, o.cap_fen "
			   "FROM e "
			   "JOIN LATERAL (SELECT * FROM enterprise_versions v WHERE v.uscc = e.uscc "
			   "  AND " SEEN(
				   "v.imported_at",
				   6) " "
				      "  ORDER BY (v.valid_from <= $2::date) DESC, "
				      "  CASE WHEN v.valid_from <= $2::date THEN v.valid_from END DESC, v.valid_from, "
				      "  v.imported_at DESC, v.id DESC LIMIT 1) f ON true "
				      "JOIN LATERAL (SELECT * FROM enterprise_versions v WHERE v.uscc = e.uscc "
				      "  AND " SEEN(
					      "v.imported_at",
					      6) " "
						 "  ORDER BY (v.valid_from <= $3::date) DESC, "
						 "  CASE WHEN v.valid_from <= $3::date THEN v.valid_from END DESC, v.valid_from, "
						 "  v.imported_at DESC, v.id DESC LIMIT 1) r ON true "
						 "LEFT JOIN (SELECT gr.uscc, sum(gr.amount_fen) AS granted FROM grants gr "
						 "  WHERE gr.program = $4 AND gr.year = $5::integer AND " GRANTED(
							 "gr",
							 7) " GROUP BY gr.uscc) g "
							    "  ON g.uscc = e.uscc "
							    "LEFT JOIN LATERAL (SELECT o.rate_bp, o.cap_fen FROM overrides o "
							    "  WHERE o.program = $4 AND o.year = $5::integer AND o.enterprise = e.uscc "
							    "  AND o.confirmed_at IS NOT NULL AND " SEEN(
								    "o.confirmed_at",
								    6) " "
								       "  ORDER BY o.confirmed_at DESC, o.id DESC LIMIT 1) o ON true "
								       "ORDER BY e.uscc COLLATE \"C\"",
		7, ep, x->err, x->errlen);
	buf_free(&list);
	return rc->facts != NULL;
}

/* the engine's enterprises from the registry facts (rc->ents[i] is row i) */
static bool facts_to_enterprises(compute_t *x)
{
	run_calc_t *rc = x->rc;
	PGresult *re = rc->facts;
	int col[F_NCOLS], flag_col[FLAG_COUNT];
	if (!columns_of(re, "registry facts", facts_cols, F_NCOLS, col, x->err, x->errlen))
		return false;
	for (int fl = 0; fl < FLAG_COUNT; fl++) {
		const char *name = flag_name((flag_t)fl);
		if (!columns_of(re, "registry facts", &name, 1, &flag_col[fl], x->err, x->errlen))
			return false;
	}
	rc->facts_name_col = col[F_NAME];
	rc->facts_division_col = col[F_DIVISION];
	size_t ne = (size_t)PQntuples(re);
	rc->ents = xcalloc(ne + 1, sizeof *rc->ents);
	x->ent_keys = xcalloc(ne + 1, sizeof *x->ent_keys);
	for (size_t i = 0; i < ne; i++) {
		eng_enterprise_t *e = &rc->ents[i];
		int row = (int)i;
		snprintf(e->uscc, sizeof e->uscc, "%s", PQgetvalue(re, row, col[F_USCC]));
		x->ent_keys[i] = PQgetvalue(re, row, col[F_USCC]);
		for (int fl = 0; fl < FLAG_COUNT; fl++)
			if (PQgetvalue(re, row, flag_col[fl])[0] == 't')
				e->flags |= 1u << fl;
		e->blacklisted = PQgetvalue(re, row, col[F_BLACKLISTED])[0] == 't';
		e->grade_d = PQgetvalue(re, row, col[F_GRADE])[0] == 'D';
		int64_t rate;
		bool no_rate, no_cap;
		if (!db_get_i64(re, row, col[F_GRANTED], "granted", &e->granted_before, x->err, x->errlen) ||
		    !db_get_i64_null(re, row, col[F_RATE_BP], "overrides.rate_bp", &rate, &no_rate, x->err,
				     x->errlen) ||
		    !db_get_i64_null(re, row, col[F_CAP_FEN], "overrides.cap_fen", &e->override_cap_fen, &no_cap,
				     x->err, x->errlen))
			return false;
		/* the engine checks 0..10000; here only that it fits before the cast */
		if (rate < INT32_MIN || rate > INT32_MAX) {
			snprintf(x->err, x->errlen, "overrides.rate_bp of %s: %" PRId64 " is out of range", e->uscc,
				 rate);
			return false;
		}
		e->has_rate_override = !no_rate;
		e->override_rate_bp = (int32_t)rate;
		e->has_cap_override = !no_cap;
	}
	rc->nents = ne;
	return true;
}

/* the engine's groups from the usage rows, each pointing at its enterprise */
static bool usage_to_groups(compute_t *x)
{
	const int *col = x->ucol;
	size_t ne = x->rc->nents;
	x->groups = xcalloc(x->ngroups + 1, sizeof *x->groups);
	for (size_t i = 0; i < x->ngroups; i++) {
		PGresult *gr = x->rows[i].res;
		int row = x->rows[i].row;
		eng_group_t *g = &x->groups[i];
		const char *key = x->rows[i].key;
		const char **hit = bsearch(&key, x->ent_keys, ne, sizeof *x->ent_keys, cmp_str);
		if (!hit) {
			snprintf(x->err, x->errlen, "enterprise %s of the usage is missing from the registry query",
				 key);
			return false;
		}
		g->ent = (uint32_t)(hit - x->ent_keys);
		g->category = category_parse(PQgetvalue(gr, row, col[U_CATEGORY]));
		g->cls = PQgetvalue(gr, row, col[U_CLASS])[0];
		snprintf(g->division, sizeof g->division, "%s", PQgetvalue(gr, row, col[U_DIVISION]));
		g->in_dates = PQgetvalue(gr, row, col[U_IN_DATES])[0] == 't';
		g->related = PQgetvalue(gr, row, col[U_RELATED])[0] == 't';
		g->seller_related = PQgetvalue(gr, row, col[U_SELLER_RELATED])[0] == 't';
		g->marketplace = PQgetvalue(gr, row, col[U_MARKETPLACE])[0] == 't';
		int64_t bits;
		if (!db_get_i64(gr, row, col[U_BITS], "usage.bits", &bits, x->err, x->errlen) ||
		    !db_get_i64(gr, row, col[U_AMOUNT], "usage.sum(amount_fen)", &g->amount_fen, x->err, x->errlen))
			return false;
		/* a partner's bit the query did not ask for would be a rule 7 decision on nothing */
		if (bits < 0 || bits >= ((int64_t)1 << x->rc->npartners)) {
			snprintf(x->err, x->errlen, "usage.bits (row %d): %" PRId64 " names no partner", row, bits);
			return false;
		}
		g->partner_in_dates = (uint32_t)bits;
	}
	return true;
}

/* what approved runs granted in the programme-year, then the engine */
static bool compute_lines(compute_t *x)
{
	run_calc_t *rc = x->rc;
	const char *pp[] = {rc->prog->id, x->year_txt, x->basis->approved_before};
	PGresult *r = db_query(x->c,
			       "SELECT coalesce(sum(gr.amount_fen), 0)::text AS granted FROM grants gr "
			       "WHERE gr.program = $1 AND gr.year = $2::integer AND " GRANTED("gr", 3),
			       3, pp, x->err, x->errlen);
	if (!r)
		return false;
	eng_input_t in = {.prog = rc->prog,
			  .npartners = rc->npartners,
			  .ents = rc->ents,
			  .nents = rc->nents,
			  .groups = x->groups,
			  .ngroups = x->ngroups};
	int col;
	static const char *const names[] = {"granted"};
	bool ok = columns_of(r, "grants", names, 1, &col, x->err, x->errlen) &&
		  db_get_i64(r, 0, col, "grants.sum(amount_fen)", &in.pool_granted_fen, x->err, x->errlen);
	PQclear(r);
	if (!ok)
		return false;
	for (int k = 0; k < rc->npartners; k++)
		in.partners[k] = &rc->partners[k];
	rc->lines = xcalloc(rc->nents + 1, sizeof *rc->lines);
	if (!x->quiet)
		PROGRESS(&x->t0, "computing %zu enterprises", rc->nents);
	return eng_settle(&in, rc->lines, &rc->tot, x->err, x->errlen);
}

bool run_compute(PGconn *c, const char *program, const char *period, const run_basis_t *basis, run_calc_t *rc,
		 char *err, size_t errlen)
{
	compute_t x = {.c = c, .basis = basis, .rc = rc, .quiet = basis->quiet, .err = err, .errlen = errlen};
	clock_gettime(CLOCK_MONOTONIC, &x.t0);
	memset(rc, 0, sizeof *rc);
	rc->prog = xcalloc(1, sizeof *rc->prog);
	rc->partners = xcalloc(ENG_MAX_PARTNERS, sizeof *rc->partners);
	bool ok = period_bounds(&x, period) && load_version(c, program, basis->version, rc, err, errlen) &&
		  load_partners(&x) && run_clock(&x) && read_usage(&x, period);
	if (ok) {
		merge_usage(&x);
		ok = read_facts(&x) && facts_to_enterprises(&x) && usage_to_groups(&x) && compute_lines(&x);
	}
	PQclear(x.rg);
	PQclear(x.rg2);
	free(x.rows);
	free(x.usccs);
	free(x.ent_keys);
	free(x.groups);
	return ok;
}

/* Refuses a month that has not ended (China time), then takes a clean cut
 * through ingest (voucher.ingest_cut, sql/006_integrity.sql): every record
 * and registry row stamped by the cut-off is committed before the snapshot
 * taken after it, every later one is stamped after it. */
static bool settle_cut(PGconn *c, const char *period, char *cutoff, size_t cutofflen, char *as_of, size_t as_oflen,
		       char *err, size_t errlen)
{
	const char *pp[] = {period};
	if (!db_command(c, "SELECT voucher.period_ended($1)", 1, pp, err, errlen))
		return false;
	PGresult *r = db_query(c,
			       "SELECT t::text AS cutoff, (t AT TIME ZONE 'Asia/Shanghai')::date::text AS as_of "
			       "FROM voucher.ingest_cut() t",
			       0, NULL, err, errlen);
	if (!r)
		return false;
	int col[2];
	static const char *const names[] = {"cutoff", "as_of"};
	bool ok = columns_of(r, "ingest_cut", names, 2, col, err, errlen);
	if (ok) {
		snprintf(cutoff, cutofflen, "%s", PQgetvalue(r, 0, col[0]));
		snprintf(as_of, as_oflen, "%s", PQgetvalue(r, 0, col[1]));
	}
	PQclear(r);
	return ok;
}

/* the summary's figures: totals, and the lines a run stores, by status */
static void summarize(const run_calc_t *rc, settle_summary_t *sum)
{
	snprintf(sum->program_version, sizeof sum->program_version, "%s", rc->program_version);
	snprintf(sum->as_of, sizeof sum->as_of, "%s", rc->as_of);
	sum->groups = rc->ngroups;
	sum->payable = rc->tot.payable;
	sum->recovered = rc->tot.recovered;
	sum->asked = rc->tot.asked;
	sum->pool_left = rc->tot.pool_left;
	for (size_t i = 0; i < rc->nents; i++) {
		const eng_line_t *l = &rc->lines[i];
		if (!run_line_shown(l))
			continue;
		sum->lines++;
		sum->payable_lines += l->status == ST_PAYABLE;
		sum->recovery_lines += l->status == ST_RECOVERY;
		sum->withheld_lines += l->status == ST_WITHHELD;
	}
}

/* The owner's voucher.run_store checks what it can and stores the draft,
 * superseding the earlier draft of the same programme and period; the lines
 * go as one array per column. */
static bool store_draft(PGconn *c, const run_calc_t *rc, const char *period, const char *cutoff, settle_summary_t *sum,
			char *err, size_t errlen)
{
	enum { A_USCC, A_NAME, A_DIV, A_ELIG, A_ENT, A_CAP, A_GB, A_DIFF, A_PAY, A_STATUS, A_NOTE, A_N };
	buf_t arr[A_N];
	for (int k = 0; k < A_N; k++)
		arr[k] = (buf_t)BUF_INIT;
	for (size_t i = 0; i < rc->nents; i++) {
		const eng_line_t *l = &rc->lines[i];
		if (!run_line_shown(l))
			continue;
		char v[6][24];
		const int64_t nums[6] = {l->eligible_ytd,   l->entitlement_ytd, l->cap,
					 l->granted_before, l->difference,      l->payable};
		for (int k = 0; k < 6; k++)
			snprintf(v[k], sizeof v[k], "%" PRId64, nums[k]);
		db_array_add(&arr[A_USCC], rc->ents[i].uscc);
		db_array_add(&arr[A_NAME], PQgetvalue(rc->facts, (int)i, rc->facts_name_col));
		db_array_add(&arr[A_DIV], PQgetvalue(rc->facts, (int)i, rc->facts_division_col));
		for (int k = 0; k < 6; k++)
			db_array_add(&arr[A_ELIG + k], v[k]);
		db_array_add(&arr[A_STATUS], status_text(l->status));
		db_array_add(&arr[A_NOTE], l->note);
	}
	for (int k = 0; k < A_N; k++)
		db_array_end(&arr[k]);
	const eng_totals_t tot = rc->tot;
	char pay[24], rec[24], ask[24], left[24];
	snprintf(pay, sizeof pay, "%" PRId64, tot.payable);
	snprintf(rec, sizeof rec, "%" PRId64, tot.recovered);
	snprintf(ask, sizeof ask, "%" PRId64, tot.asked);
	snprintf(left, sizeof left, "%" PRId64, tot.pool_left);
	const char *rp[] = {rc->prog->id,
			    sum->program_version,
			    period,
			    sum->as_of,
			    cutoff,
			    tot.pool_left < 0 ? NULL : left,
			    pay,
			    rec,
			    ask,
			    arr[A_USCC].data,
			    arr[A_NAME].data,
			    arr[A_DIV].data,
			    arr[A_ELIG].data,
			    arr[A_ENT].data,
			    arr[A_CAP].data,
			    arr[A_GB].data,
			    arr[A_DIFF].data,
			    arr[A_PAY].data,
			    arr[A_STATUS].data,
			    arr[A_NOTE].data};
	PGresult *r = db_query(
		c,
		"SELECT voucher.run_store($1, $2, $3, $4::date, $5::timestamptz, $6::bigint, $7::bigint, "
		"$8::bigint, $9::bigint, $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], "
		"$15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::text[], $20::text[]) AS run_id",
		20, rp, err, errlen);
	for (int k = 0; k < A_N; k++)
		buf_free(&arr[k]);
	if (!r)
		return false;
	int col;
	static const char *const names[] = {"run_id"};
	bool ok = columns_of(r, "run_store", names, 1, &col, err, errlen) &&
		  db_get_i64(r, 0, col, "runs.run_id", &sum->run_id, err, errlen);
	PQclear(r);
	return ok;
}

bool settle_run(PGconn *c, const char *program, const char *period, bool dry_run, settle_summary_t *sum, char *err,
		size_t errlen)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(sum, 0, sizeof *sum);
	run_calc_t rc;
	memset(&rc, 0, sizeof rc);
	char cutoff[64], as_of[11];

	if (!settle_cut(c, period, cutoff, sizeof cutoff, as_of, sizeof as_of, err, errlen))
		return false;
	if (!db_command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL, err, errlen))
		return false;
	/* run_compute names tables without a schema: settle reads the tables
	 * themselves, audit verify the audit views of the same names */
	run_basis_t basis = {.cutoff = cutoff, .as_of = as_of, .registry_at = cutoff};
	bool ok = db_command(c, "SET LOCAL search_path = voucher, pg_catalog", 0, NULL, err, errlen) &&
		  run_compute(c, program, period, &basis, &rc, err, errlen);
	if (ok)
		summarize(&rc, sum);
	if (ok && dry_run) {
		/* as before: a failed ROLLBACK of a dry run leaves its message, not a failure */
		bool rolled_back = db_command(c, "ROLLBACK", 0, NULL, err, errlen);
		(void)rolled_back;
		run_calc_free(&rc);
		return true;
	}
	if (ok) {
		PROGRESS(&t0, "storing %zu lines", sum->lines);
		ok = store_draft(c, &rc, period, cutoff, sum, err, errlen) &&
		     db_command(c, "COMMIT", 0, NULL, err, errlen);
	}
	if (ok)
		PROGRESS(&t0, "done");
	else
		db_rollback(c); /* after a failed COMMIT too, as before: a no-op then */
	run_calc_free(&rc);
	return ok;
}
