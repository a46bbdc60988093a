/* statement: the 对账单 of one enterprise for one year (see
 * settlement/statement.h). */
#include "settlement/statement.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/date.h"
#include "common/db.h"
#include "common/money.h"
#include "settlement/engine.h"
#include "settlement/program.h"

typedef __int128 i128;

/* ------------------------------------------------------------------ tables */

int st_rows(const st_table_t *t)
{
	return t->ncols > 0 ? (int)(t->n / (size_t)t->ncols) : 0;
}

const char *st_get(const st_table_t *t, int row, int col)
{
	if (row < 0 || col < 0 || col >= t->ncols || row >= st_rows(t))
		return NULL;
	return t->cell[(size_t)row * (size_t)t->ncols + (size_t)col];
}

static void add(st_table_t *t, const char *s)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->cell = xrealloc(t->cell, t->cap * sizeof *t->cell);
	}
	t->cell[t->n++] = s ? xstrdup(s) : NULL;
}

static void addf(st_table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(st_table_t *t, const char *fmt, ...)
{
	buf_t b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	add(t, b.data ? b.data : "");
	buf_free(&b);
}

static void add_i64(st_table_t *t, int64_t v)
{
	addf(t, "%" PRId64, v);
}

/* A result's cell, NULL for SQL NULL. */
static const char *pg(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static void table_free(st_table_t *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cell[i]);
	free(t->cell);
	memset(t, 0, sizeof *t);
}

void statement_free(statement_t *st)
{
	table_free(&st->enterprise);
	table_free(&st->grants);
	table_free(&st->records);
	table_free(&st->subtotals);
}

/* ------------------------------------------------------------------ the pure pieces */

void statement_why_zh(st_why_t why, const char *detail, char *out, size_t outlen)
{
	switch (why) {
	case ST_WHY_COUNTS: snprintf(out, outlen, "%s", ""); return;
	case ST_WHY_CATEGORY: snprintf(out, outlen, "类别不在补助范围"); return;
	case ST_WHY_DATES: snprintf(out, outlen, "不在项目有效期内"); return;
	case ST_WHY_JURISDICTION:
		if (detail && *detail)
			snprintf(out, outlen, "不在本项目辖区（当日登记区划 %s）", detail);
		else
			snprintf(out, outlen, "不在本项目辖区（当日未登记）");
		return;
	case ST_WHY_RELATED: snprintf(out, outlen, "关联方交易"); return;
	case ST_WHY_FACILITY: snprintf(out, outlen, "算力设施未登记"); return;
	case ST_WHY_PARTNER:
		snprintf(out, outlen, "已计入 %s（就高不重复）", detail && *detail ? detail : "同组其他项目");
		return;
	case ST_WHY_NO_RATE: snprintf(out, outlen, "无适用的补助比例"); return;
	case ST_WHY_RECIPIENT: {
		bool ent = detail && strstr(detail, "enterprise"), inst = detail && strstr(detail, "institution");
		snprintf(out, outlen, "领取对象不符（仅限%s）",
			 ent && inst ? "企业、高校及科研机构"
			 : inst      ? "高校及科研机构"
				     : "企业");
		return;
	}
	case ST_WHY_MARKETPLACE: snprintf(out, outlen, "非交易平台购买"); return;
	case ST_WHY_SELLER: snprintf(out, outlen, "卖方为关联方"); return;
	case ST_WHY_WITHHELD: {
		bool black = detail && strstr(detail, "blacklisted"), grade = detail && strstr(detail, "grade_d");
		if (black && grade)
			snprintf(out, outlen, "暂缓（失信；绩效评价 D 类）");
		else if (grade)
			snprintf(out, outlen, "暂缓（绩效评价 D 类）");
		else
			snprintf(out, outlen, "暂缓（失信）");
		return;
	}
	}
	snprintf(out, outlen, "不计入");
}

/* floor(a / b) for b > 0 */
static i128 floor_div(i128 a, i128 b)
{
	i128 q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* the order in which a rate group's leftover fen are given: by rate, then
 * the largest remainder first, then the earlier record */
typedef struct share_key {
	int32_t rate;
	int32_t rem; /* amount × rate mod 10000, 0..9999 */
	size_t i;
} share_key_t;

static int share_cmp(const void *a, const void *b)
{
	const share_key_t *x = a, *y = b;
	if (x->rate != y->rate)
		return x->rate < y->rate ? -1 : 1;
	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

bool statement_shares(size_t n, const int64_t *amount, const int32_t *rate_bp, int64_t *share)
{
	share_key_t *k = xcalloc(n + 1, sizeof *k);
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		i128 prod = (i128)amount[i] * rate_bp[i];
		i128 q = floor_div(prod, 10000);
		k[i] = (share_key_t){.rate = rate_bp[i], .rem = (int32_t)(prod - q * 10000), .i = i};
		if (q > INT64_MAX || q < INT64_MIN) {
			ok = false;
			share[i] = 0;
		} else {
			share[i] = (int64_t)q;
		}
	}
	qsort(k, n, sizeof *k, share_cmp);
	for (size_t a = 0; ok && a < n;) {
		size_t b = a;
		i128 sum_rem = 0;
		while (b < n && k[b].rate == k[a].rate)
			sum_rem += k[b++].rem;
		/* floor(Σ prod / 10000) - Σ floor(prod / 10000), less than b - a */
		size_t extra = k[a].rate == 0 ? 0 : (size_t)(sum_rem / 10000);
		for (size_t c = a; c < a + extra; c++)
			if (!money_add(share[k[c].i], 1, &share[k[c].i]))
				ok = false;
		a = b;
	}
	free(k);
	return ok;
}

/* ------------------------------------------------------------------ reading */

static const char *payee_text(const program_t *p)
{
	return p->payee_provider ? "provider (兑付)" : "enterprise (后补助)";
}

static bool parse_version(const char *text, int len, program_t *p, char *err, size_t errlen)
{
	char perr[256];
	if (program_parse(text, (size_t)len, p, perr, sizeof perr))
		return true;
	snprintf(err, errlen, "the stored programme version does not parse: %s", perr);
	return false;
}

/* The grants of approved runs to the enterprise in the year. */
static bool read_grants(PGconn *c, const char *const *key, st_table_t *out, char *err, size_t errlen)
{
	PGresult *r =
		db_query_msg(c,
			     "SELECT g.run_id, g.program, r.period, r.approved_at, g.amount_fen, r.status, "
			     "  r.disbursed_at IS NOT NULL, r.disbursed_at, r.payment_ref, v.text "
			     "FROM audit.grants g JOIN audit.runs r ON r.run_id = g.run_id "
			     "JOIN audit.program_versions v ON v.version = r.program_version "
			     "WHERE g.uscc = $1 AND g.year = $2::integer AND ($3::text IS NULL OR g.program = $3) "
			     "ORDER BY g.program, r.period, g.run_id",
			     3, key, err, errlen);
	if (!r)
		return false;
	program_t *p = xcalloc(1, sizeof *p);
	bool ok = false;
	for (int i = 0; i < PQntuples(r); i++) {
		if (!parse_version(PQgetvalue(r, i, 9), PQgetlength(r, i, 9), p, err, errlen))
			goto failed;
		add(out, PQgetvalue(r, i, 0));
		add(out, PQgetvalue(r, i, 1));
		add(out, p->name);
		add(out, PQgetvalue(r, i, 2));
		add(out, pg(r, i, 3));
		add(out, PQgetvalue(r, i, 4));
		add(out, PQgetvalue(r, i, 4)[0] == '-' ? "recovery" : "grant");
		add(out, payee_text(p));
		add(out, PQgetvalue(r, i, 5));
		add(out, PQgetvalue(r, i, 6));
		add(out, pg(r, i, 7));
		add(out, pg(r, i, 8));
	}
	ok = true;
failed:
	free(p);
	PQclear(r);
	return ok;
}

/* The run a programme's part of the statement follows: the latest approved
 * run of the year with a line for the enterprise. */
enum {
	B_RUN,
	B_PERIOD,
	B_CUTOFF,
	B_ELIGIBLE,
	B_ENTITLEMENT,
	B_CAP,
	B_STATUS,
	B_NOTE,
	B_TEXT,
	B_GRANTED,
	B_AS_OF,
};

/* The other programmes of prog's exclusivity group and of its stacking
 * group, their newest versions as they stood at the run's cut-off (as
 * settlement/run.c load_partners). */
static bool read_partners(PGconn *c, const program_t *prog, const char *cutoff, program_t *partners, int *n, char *err,
			  size_t errlen)
{
	*n = 0;
	if (!prog->exclusivity_group[0] && !prog->stacking_group[0])
		return true;
	const char *p[] = {prog->id, cutoff};
	PGresult *r = db_query_msg(c,
				   "SELECT DISTINCT ON (program) program, text FROM audit.program_versions "
				   "WHERE program <> $1 AND loaded_at <= $2::timestamptz "
				   "ORDER BY program, loaded_at DESC, version",
				   2, p, err, errlen);
	if (!r)
		return false;
	bool ok = true;
	for (int i = 0; i < PQntuples(r); i++) {
		program_t *q = &partners[*n];
		char perr[256];
		if (!program_parse(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1), q, perr, sizeof perr))
			continue;
		if (!program_shares_group(prog, q))
			continue;
		if (*n == ENG_MAX_PARTNERS) {
			snprintf(err, errlen, "the groups of %s have more than %d programmes", prog->id,
				 ENG_MAX_PARTNERS);
			ok = false;
			break;
		}
		(*n)++;
	}
	PQclear(r);
	return ok;
}

/* The registry version of the enterprise in force on day $2 as the registry
 * stood at $3 (the newest import of a version decides; before the first
 * version, the first), as settlement/run.c reads it. */
#define EV_ON(day, at)                                                                                    \
	"(SELECT * FROM audit.enterprise_versions v WHERE v.uscc = $1 AND v.imported_at <= " at " "       \
	"  ORDER BY (v.valid_from <= " day ") DESC, CASE WHEN v.valid_from <= " day " THEN v.valid_from " \
	"  END DESC, v.valid_from, v.imported_at DESC, v.id DESC LIMIT 1)"

/* The enterprise as the run saw it: flags at the end of its period,
 * blacklist and grade on its date, its override. */
static bool read_enterprise(PGconn *c, const char *uscc, const char *period_end, const char *as_of, const char *cutoff,
			    const char *program, const char *year, eng_enterprise_t *e, char *err, size_t errlen)
{
	const char *p[] = {uscc, period_end, as_of, cutoff, program, year};
	PGresult *r = db_query_msg(
		c,
		"SELECT f.sme, f.model_developer, f.maas_builder, f.model_registered, f.foundation_model, "
		"  f.credit_blacklisted, f.intelligent_match, r.credit_blacklisted, coalesce(r.performance_grade, ''), "
		"  o.rate_bp, o.cap_fen "
		"FROM (SELECT 1) one "
		"JOIN LATERAL " EV_ON(
			"$2::date",
			"$4::timestamptz") " f ON true "
					   "JOIN LATERAL " EV_ON(
						   "$3::date",
						   "$4::timestamptz") " r ON true "
								      "LEFT JOIN LATERAL (SELECT o.rate_bp, o.cap_fen FROM audit.overrides o "
								      "  WHERE o.program = $5 AND o.year = $6::integer AND o.enterprise = $1 "
								      "  AND o.confirmed_at IS NOT NULL AND o.confirmed_at <= $4::timestamptz "
								      "  ORDER BY o.confirmed_at DESC, o.id DESC LIMIT 1) o ON true",
		6, p, err, errlen);
	if (!r)
		return false;
	bool ok = false;
	memset(e, 0, sizeof *e);
	snprintf(e->uscc, sizeof e->uscc, "%s", uscc);
	if (PQntuples(r) != 1) {
		snprintf(err, errlen, "enterprise %s was not registered at the run's cut-off %s", uscc, cutoff);
		goto done;
	}
	/* the flags in flag_t order: sme .. intelligent_match */
	_Static_assert(FLAG_COUNT == 7, "a column per flag above");
	for (int fl = 0; fl < FLAG_COUNT; fl++)
		if (PQgetvalue(r, 0, fl)[0] == 't')
			e->flags |= 1u << fl;
	e->blacklisted = PQgetvalue(r, 0, FLAG_COUNT)[0] == 't';
	e->grade_d = !strcmp(PQgetvalue(r, 0, FLAG_COUNT + 1), "D");
	int64_t v;
	if (!PQgetisnull(r, 0, FLAG_COUNT + 2)) {
		if (!money_parse_i64(PQgetvalue(r, 0, FLAG_COUNT + 2), &v) || v < 0 || v > 10000) {
			snprintf(err, errlen, "override rate '%s' is out of range", PQgetvalue(r, 0, FLAG_COUNT + 2));
			goto done;
		}
		e->has_rate_override = true;
		e->override_rate_bp = (int32_t)v;
	}
	if (!PQgetisnull(r, 0, FLAG_COUNT + 3)) {
		if (!money_parse_i64(PQgetvalue(r, 0, FLAG_COUNT + 3), &v) || v < 0) {
			snprintf(err, errlen, "override cap '%s' is out of range", PQgetvalue(r, 0, FLAG_COUNT + 3));
			goto done;
		}
		e->has_cap_override = true;
		e->override_cap_fen = v;
	}
	ok = true;
done:
	PQclear(r);
	return ok;
}

/* the columns of the records query */
enum {
	U_PROVIDER,
	U_RECORD,
	U_BATCH,
	U_FACILITY,
	U_CATEGORY,
	U_ENDED_AT,
	U_AMOUNT,
	U_ADJUSTS,
	U_DAY,
	U_DIVISION,
	U_RELATED,
	U_CLASS,
	U_PROVIDER_NAME,
	U_SELLER,
	U_MARKETPLACE,
	U_SELLER_RELATED,
};

/* The enterprise's records of the year up to the end of the run's period,
 * arrived by its cut-off, with what rule 1 looks at as the run saw it. */
static PGresult *read_records(PGconn *c, const char *uscc, const char *from, const char *until, const char *cutoff,
			      char *err, size_t errlen)
{
	const char *q[] = {uscc, from, until, cutoff};
	return db_query_msg(
		c,
		"SELECT u.provider, u.record_id, u.batch_id, u.facility, u.category, u.ended_at, u.amount_fen, "
		"  u.adjusts, d.day::text, ev.division, rp.uscc IS NOT NULL, f.class, coalesce(pr.name, ''), "
		"  u.seller, coalesce(pr.kind = 'marketplace', false), rs.uscc IS NOT NULL "
		"FROM audit.usage_records u "
		"CROSS JOIN LATERAL (SELECT (u.ended_at AT TIME ZONE 'Asia/Shanghai')::date AS day) d "
		/* the enterprise's division on the record's day: the version in
		 * force then, else its first (as settle reads it) */
		"LEFT JOIN LATERAL (SELECT v.division FROM audit.enterprise_versions v WHERE v.uscc = u.enterprise "
		"  AND v.imported_at <= $4::timestamptz "
		"  ORDER BY (v.valid_from <= d.day) DESC, CASE WHEN v.valid_from <= d.day THEN v.valid_from END DESC, "
		"  v.valid_from, v.imported_at DESC, v.id DESC LIMIT 1) ev ON true "
		"LEFT JOIN audit.related_parties rp ON rp.uscc = u.enterprise AND rp.provider = u.provider "
		"  AND rp.added_at <= $4::timestamptz "
		"LEFT JOIN audit.facilities f ON f.provider = u.provider AND f.facility = u.facility "
		"  AND f.added_at <= $4::timestamptz "
		"LEFT JOIN audit.related_sellers rs ON rs.uscc = u.enterprise AND rs.seller = u.seller "
		"  AND rs.added_at <= $4::timestamptz "
		"LEFT JOIN audit.providers pr ON pr.code = u.provider "
		"WHERE u.enterprise = $1 AND u.ended_at >= $2::timestamptz AND u.ended_at < $3::timestamptz "
		"  AND u.received_at <= $4::timestamptz "
		"ORDER BY u.ended_at, u.provider, u.record_id",
		4, q, err, errlen);
}

/* The records of one programme judged as its run judged them: each record
 * is a group of its own for the engine. */
typedef struct judged {
	st_why_t *why;
	int *partner;
	int32_t *rate; /* applied; 0 when it does not count */
	int *first;    /* rule 9: the stacking partner it is also eligible for, -1: none */
	int32_t *first_rate;
	int64_t *amount;
	int64_t *share;
	eng_line_t line;     /* the engine's line for the enterprise from these records */
	int64_t eligible;    /* Σ amount of the records with a rate */
	int64_t subsidy;     /* Σ share */
	int64_t counted_sum; /* Σ amount of the counted records */
} judged_t;

static void judged_free(judged_t *j)
{
	free(j->why);
	free(j->partner);
	free(j->rate);
	free(j->first);
	free(j->first_rate);
	free(j->amount);
	free(j->share);
}

static bool judge(const program_t *prog, const program_t *partners, int npartners, const eng_enterprise_t *e,
		  const PGresult *r, bool withheld, judged_t *j, char *err, size_t errlen)
{
	size_t n = (size_t)PQntuples(r);
	j->why = xcalloc(n + 1, sizeof *j->why);
	j->partner = xcalloc(n + 1, sizeof *j->partner);
	j->rate = xcalloc(n + 1, sizeof *j->rate);
	j->first = xcalloc(n + 1, sizeof *j->first);
	j->first_rate = xcalloc(n + 1, sizeof *j->first_rate);
	j->amount = xcalloc(n + 1, sizeof *j->amount);
	j->share = xcalloc(n + 1, sizeof *j->share);
	eng_group_t *g = xcalloc(n + 1, sizeof *g);
	bool ok = false;
	eng_input_t in;
	memset(&in, 0, sizeof in);
	in.prog = prog;
	for (int k = 0; k < npartners; k++)
		in.partners[k] = &partners[k];
	in.npartners = npartners;
	in.ents = e;
	in.nents = 1;
	in.groups = g;
	in.ngroups = n;
	for (size_t i = 0; i < n; i++) {
		int row = (int)i;
		const char *day = PQgetvalue(r, row, U_DAY), *cls = PQgetvalue(r, row, U_CLASS);
		int cat = category_parse(PQgetvalue(r, row, U_CATEGORY));
		if (!money_parse_i64(PQgetvalue(r, row, U_AMOUNT), &j->amount[i])) {
			snprintf(err, errlen, "record %s: its amount is not a whole number",
				 PQgetvalue(r, row, U_RECORD));
			goto done;
		}
		g[i].ent = 0;
		g[i].category = cat < 0 ? 0 : cat;
		g[i].cls = PQgetisnull(r, row, U_CLASS) ? 0 : cls[0];
		snprintf(g[i].division, sizeof g[i].division, "%s",
			 PQgetisnull(r, row, U_DIVISION) ? "" : PQgetvalue(r, row, U_DIVISION));
		g[i].in_dates = program_in_dates(prog, day);
		g[i].related = PQgetvalue(r, row, U_RELATED)[0] == 't';
		g[i].marketplace = PQgetvalue(r, row, U_MARKETPLACE)[0] == 't';
		g[i].seller_related = PQgetvalue(r, row, U_SELLER_RELATED)[0] == 't';
		for (int k = 0; k < npartners; k++)
			if (program_in_dates(&partners[k], day))
				g[i].partner_in_dates |= 1u << k;
		g[i].amount_fen = j->amount[i];
		if (cat < 0) { /* a category this build does not know: no programme lists it */
			j->why[i] = ST_WHY_CATEGORY;
			g[i].cls = 0; /* nor does the engine count it */
		}
	}
	eng_totals_t tot;
	if (!eng_settle(&in, &j->line, &tot, err, errlen))
		goto done;
	for (size_t i = 0; i < n; i++) {
		j->partner[i] = -1;
		j->first[i] = -1;
		if (j->why[i] != ST_WHY_COUNTS)
			continue;
		int32_t ordinary;
		switch (eng_group_why(&in, e, &g[i], &j->partner[i], &ordinary)) {
		case ENG_WHY_COUNTS: break;
		case ENG_WHY_CATEGORY: j->why[i] = ST_WHY_CATEGORY; continue;
		case ENG_WHY_DATES: j->why[i] = ST_WHY_DATES; continue;
		case ENG_WHY_JURISDICTION: j->why[i] = ST_WHY_JURISDICTION; continue;
		case ENG_WHY_RECIPIENT: j->why[i] = ST_WHY_RECIPIENT; continue;
		case ENG_WHY_MARKETPLACE: j->why[i] = ST_WHY_MARKETPLACE; continue;
		case ENG_WHY_RELATED: j->why[i] = ST_WHY_RELATED; continue;
		case ENG_WHY_SELLER_RELATED: j->why[i] = ST_WHY_SELLER; continue;
		case ENG_WHY_FACILITY: j->why[i] = ST_WHY_FACILITY; continue;
		case ENG_WHY_PARTNER: j->why[i] = ST_WHY_PARTNER; continue;
		}
		/* rules 3, 9 and 10: the rate that applies to it */
		j->rate[i] = eng_group_rate(&in, e, &g[i], j->line.small_buyer, &j->first[i], &j->first_rate[i]);
		if (j->rate[i] == 0)
			j->why[i] = ST_WHY_NO_RATE;
		else if (withheld)
			j->why[i] = ST_WHY_WITHHELD;
	}
	if (!statement_shares(n, j->amount, j->rate, j->share)) {
		snprintf(err, errlen, "the subsidies of the records do not add up in 64 bits");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (j->rate[i] == 0)
			continue;
		if (!money_add(j->eligible, j->amount[i], &j->eligible) ||
		    !money_add(j->subsidy, j->share[i], &j->subsidy) ||
		    (j->why[i] == ST_WHY_COUNTS && !money_add(j->counted_sum, j->amount[i], &j->counted_sum))) {
			snprintf(err, errlen, "the amounts of the records do not add up in 64 bits");
			goto done;
		}
	}
	ok = true;
done:
	free(g);
	return ok;
}

/* For one programme: the latest approved run of the year with a line for
 * the enterprise, the records behind it and a subtotal. */
static bool statement_programme(PGconn *c, const char *uscc, const char *year, const char *program, st_table_t *records,
				st_table_t *subtotals, char *err, size_t errlen)
{
	const char *k[] = {uscc, year, program};
	PGresult *b = db_query_msg(
		c,
		"SELECT r.run_id, r.period, r.data_cutoff, l.eligible_amount_ytd, l.entitlement_ytd, l.cap, "
		"  l.status, l.note, v.text, "
		"  (SELECT coalesce(sum(g.amount_fen), 0) FROM audit.grants g "
		"    WHERE g.program = r.program AND g.year = $2::integer AND g.uscc = $1)::bigint, "
		"  r.as_of::text "
		"FROM audit.runs r JOIN audit.run_lines l ON l.run_id = r.run_id AND l.uscc = $1 "
		"JOIN audit.program_versions v ON v.version = r.program_version "
		"WHERE r.program = $3 AND left(r.period, 4)::integer = $2::integer AND r.approved_at IS NOT NULL "
		"ORDER BY r.period DESC, r.run_id DESC LIMIT 1",
		3, k, err, errlen);
	if (!b)
		return false;
	PGresult *r = NULL;
	program_t *p = xcalloc(1, sizeof *p);
	program_t *partners = xcalloc(ENG_MAX_PARTNERS, sizeof *partners);
	judged_t j;
	memset(&j, 0, sizeof j);
	bool ok = false;
	if (PQntuples(b) == 0) {
		ok = true; /* no approved line: nothing to list */
		goto done;
	}
	if (!parse_version(PQgetvalue(b, 0, B_TEXT), PQgetlength(b, 0, B_TEXT), p, err, errlen))
		goto done;
	/* the year up to the end of the run's period, China time */
	const char *period = PQgetvalue(b, 0, B_PERIOD), *cutoff = PQgetvalue(b, 0, B_CUTOFF);
	int y = atoi(period), m = atoi(period + 5);
	if (strlen(period) != 7 || m < 1 || m > 12) {
		snprintf(err, errlen, "run %s: period '%s' is not YYYY-MM", PQgetvalue(b, 0, B_RUN), period);
		goto done;
	}
	char from[40], until[40], period_end[11];
	date_cn_month_start(y, 1, from, sizeof from);
	date_cn_month_start(y, m + 1, until, sizeof until);
	date_month_last_day(y, m, period_end);
	int npartners;
	eng_enterprise_t e;
	if (!read_partners(c, p, cutoff, partners, &npartners, err, errlen) ||
	    !read_enterprise(c, uscc, period_end, PQgetvalue(b, 0, B_AS_OF), cutoff, program, year, &e, err, errlen))
		goto done;
	r = read_records(c, uscc, from, until, cutoff, err, errlen);
	if (!r)
		goto done;
	bool withheld = !strcmp(PQgetvalue(b, 0, B_STATUS), "withheld");
	if (!judge(p, partners, npartners, &e, r, withheld, &j, err, errlen))
		goto done;
	const char *standing = e.blacklisted && e.grade_d ? "blacklisted grade_d"
			       : e.grade_d                ? "grade_d"
			       : e.blacklisted            ? "blacklisted"
							  : NULL;
	char recipients[32];
	snprintf(recipients, sizeof recipients, "%s%s%s", p->recipients[RECIPIENT_ENTERPRISE] ? "enterprise" : "",
		 p->recipients[RECIPIENT_ENTERPRISE] && p->recipients[RECIPIENT_INSTITUTION] ? "," : "",
		 p->recipients[RECIPIENT_INSTITUTION] ? "institution" : "");
	int64_t sum = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		char why[300];
		const char *detail = j.why[i] == ST_WHY_PARTNER
					     ? (partners[j.partner[i]].name[0] ? partners[j.partner[i]].name
									       : partners[j.partner[i]].id)
				     : j.why[i] == ST_WHY_JURISDICTION ? pg(r, i, U_DIVISION)
				     : j.why[i] == ST_WHY_WITHHELD     ? standing
				     : j.why[i] == ST_WHY_RECIPIENT    ? recipients
								       : NULL;
		statement_why_zh(j.why[i], detail, why, sizeof why);
		if (!money_add(sum, j.amount[i], &sum)) {
			snprintf(err, errlen, "the amounts of %s do not add up in 64 bits", program);
			goto done;
		}
		add(records, program);
		for (int col = U_PROVIDER; col <= U_ADJUSTS; col++)
			add(records, pg(r, i, col));
		add(records, j.why[i] == ST_WHY_COUNTS ? "t" : "f");
		add(records, why);
		add(records, PQgetvalue(r, i, U_DAY));
		if (j.rate[i] != 0) {
			addf(records, "%" PRId32, j.rate[i]);
			add_i64(records, j.share[i]);
		} else {
			add(records, NULL);
			add(records, NULL);
		}
		add(records, PQgetvalue(r, i, U_PROVIDER_NAME));
		add(records, pg(r, i, U_SELLER));
		if (j.first[i] >= 0) {
			const program_t *f = &partners[j.first[i]];
			add(records, f->name[0] ? f->name : f->id);
			addf(records, "%" PRId32, j.first_rate[i]);
		} else {
			add(records, NULL);
			add(records, NULL);
		}
	}
	int64_t eligible, entitlement;
	if (!money_parse_i64(PQgetvalue(b, 0, B_ELIGIBLE), &eligible) ||
	    !money_parse_i64(PQgetvalue(b, 0, B_ENTITLEMENT), &entitlement)) {
		snprintf(err, errlen, "run %s: its line's amounts are not whole numbers", PQgetvalue(b, 0, B_RUN));
		goto done;
	}
	/* the records behind the run's line: their eligible amounts, and their
	 * subsidies (clamped at 0 as rule 3 clamps the entitlement) */
	bool agrees = j.eligible == eligible && (j.subsidy < 0 ? 0 : j.subsidy) == entitlement;
	add(subtotals, program);
	add(subtotals, p->name);
	add(subtotals, payee_text(p));
	add(subtotals, PQgetvalue(b, 0, B_RUN));
	add(subtotals, period);
	add(subtotals, cutoff);
	addf(subtotals, "%d", PQntuples(r));
	add_i64(subtotals, sum);
	add_i64(subtotals, j.counted_sum);
	add(subtotals, PQgetvalue(b, 0, B_ELIGIBLE));
	add(subtotals, agrees ? "t" : "f");
	add(subtotals, PQgetvalue(b, 0, B_ENTITLEMENT));
	add(subtotals, PQgetvalue(b, 0, B_CAP));
	add(subtotals, PQgetvalue(b, 0, B_GRANTED));
	add(subtotals, PQgetvalue(b, 0, B_STATUS));
	add(subtotals, PQgetvalue(b, 0, B_NOTE));
	add_i64(subtotals, j.subsidy);
	add(subtotals, voucher_kind_zh((voucher_kind_t)p->kind));
	ok = true;
done:
	judged_free(&j);
	free(partners);
	free(p);
	PQclear(r);
	PQclear(b);
	return ok;
}

bool statement_build(PGconn *c, const char *uscc, const char *year, const char *program, const char *timezone,
		     statement_t *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof *st);
	st->enterprise.ncols = ST_E_NCOLS;
	st->grants.ncols = ST_G_NCOLS;
	st->records.ncols = ST_R_NCOLS;
	st->subtotals.ncols = ST_S_NCOLS;
	err[0] = '\0';
	if (PQtransactionStatus(c) != PQTRANS_IDLE) {
		snprintf(err, errlen, "the connection is busy (in a transaction)");
		return false;
	}
	PGresult *ent = NULL, *progs = NULL;
	bool ok = false;
	if (!db_command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err, errlen))
		return false;
	if (timezone) {
		const char *tz[] = {timezone};
		PGresult *t = db_query_msg(c, "SELECT set_config('TimeZone', $1, true)", 1, tz, err, errlen);
		if (!t)
			goto failed;
		PQclear(t);
	}
	const char *key[] = {uscc, year, program};
	ent = db_query_msg(
		c,
		"SELECT v.uscc, v.name, v.division, $2::integer, $3::text FROM audit.enterprise_versions v "
		"WHERE v.uscc = $1 "
		"ORDER BY (v.valid_from <= (now() AT TIME ZONE 'Asia/Shanghai')::date) DESC, "
		"  CASE WHEN v.valid_from <= (now() AT TIME ZONE 'Asia/Shanghai')::date THEN v.valid_from END "
		"DESC, v.valid_from, v.imported_at DESC, v.id DESC LIMIT 1",
		3, key, err, errlen);
	if (!ent)
		goto failed;
	if (PQntuples(ent) == 0) {
		st->not_registered = true;
		snprintf(err, errlen, "enterprise %s is not registered", uscc);
		goto failed;
	}
	for (int col = 0; col < ST_E_NCOLS; col++)
		add(&st->enterprise, pg(ent, 0, col));
	if (!read_grants(c, key, &st->grants, err, errlen))
		goto failed;
	progs = db_query_msg(c,
			     "SELECT DISTINCT r.program FROM audit.runs r "
			     "JOIN audit.run_lines l ON l.run_id = r.run_id AND l.uscc = $1 "
			     "WHERE left(r.period, 4)::integer = $2::integer AND r.approved_at IS NOT NULL "
			     "  AND ($3::text IS NULL OR r.program = $3) "
			     "ORDER BY 1",
			     3, key, err, errlen);
	if (!progs)
		goto failed;
	for (int i = 0; i < PQntuples(progs); i++)
		if (!statement_programme(c, uscc, year, PQgetvalue(progs, i, 0), &st->records, &st->subtotals, err,
					 errlen))
			goto failed;
	ok = true;
failed:
	db_rollback(c); /* read only */
	PQclear(ent);
	PQclear(progs);
	return ok;
}
