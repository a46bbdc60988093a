/* voucherctl audit (verify, checkpoint, trace, duplicates, exceptions), and
 * ledger balances.
 *
 * audit verify reads only the audit views, so an auditor (voucher_auditor)
 * can run it; its checks are audit/verify.c's (the console's 审计 page runs
 * the same): every stored batch, the ledger's hash chain recomputed, a
 * checkpoint if given, the postings against the approved runs and the
 * disbursed lines, the disbursements against the notice and the objections,
 * the overview against the lines, and every approved run recomputed.  It
 * names the first thing that does not hold and exits 1.  audit exceptions'
 * query is audit/exceptions.c's, which the console shows too. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/db.h"
#include "common/money.h"
#include "ctl/ctl.h"
#include "ctl/output.h"
#include "audit/audit_batches.h"
#include "audit/audit_runs.h"
#include "audit/checkpoint.h"
#include "audit/exceptions.h"
#include "audit/trace.h"
#include "settlement/program.h"
#include "audit/ledger.h"
#include "audit/verify.h"

static const char usage_audit[] = "usage: voucherctl audit verify [--checkpoint FILE [--pub PEM]]\n"
				  "       voucherctl audit checkpoint --sign-key PEM --out FILE\n"
				  "       voucherctl audit trace --enterprise USCC --program ID --year Y\n"
				  "       voucherctl audit duplicates\n"
				  "       voucherctl audit exceptions [--year Y]\n"
				  "\n"
				  "Checks, reading only the audit views (an auditor may run it):\n"
				  "  - every stored batch: its digest from the stored body bytes, its signature\n"
				  "    against the provider's key valid when it was signed, and its place in the\n"
				  "    Merkle tree over all batches; every usage record belongs to a stored batch;\n"
				  "  - the ledger's hash chain: every entry's hash recomputed from its contents\n"
				  "    and the hash before it (SHA-256, or SM3 where the ledger uses it), entry\n"
				  "    ids without gaps;\n"
				  "  - that the ledger holds exactly the postings the approved runs and the\n"
				  "    disbursed lines call for, line by line, and sums to zero; that no line was\n"
				  "    disbursed before its notice ended or while an objection to it was open or\n"
				  "    upheld; that the overview (audit.pool_overview) is the sum of the lines;\n"
				  "  - every approved run, recomputed from the stored records, the registry as it\n"
				  "    stood when the run was prepared and the run's own programme version, line\n"
				  "    by line.\n"
				  "  - with --checkpoint FILE (written earlier by audit checkpoint and kept outside\n"
				  "    the database): its signature (the key is in the file; --pub PEM insists on\n"
				  "    a key you hold), and that today's ledger and batches extend what it saw:\n"
				  "    catches truncation and wholesale rewrites that a chain alone cannot.\n"
				  "Names the first thing that does not hold and exits 1; exits 0 when all hold.\n"
				  "Progress goes to stderr.\n"
				  "\n"
				  "checkpoint: signs (Ed25519 or SM2 private key, PKCS#8 PEM) the ledger's size\n"
				  "and head hash, the number of stored batches and their Merkle root, and the\n"
				  "time (the file holds UTC; voucherctl shows it in China time), into FILE\n"
				  "(never overwritten).  Mail it, print it, publish it with the notice:\n"
				  "anything that later disagrees with it was changed afterwards.\n"
				  "\n"
				  "exceptions: what an auditor looks at first, one line each (kind, at, by,\n"
				  "subject, detail): acts of superusers on the registry, programmes, overrides and\n"
				  "calendars; backdated registry versions and relations; superseded, returned and\n"
				  "discarded drafts; refused approvals; override proposals and confirmations;\n"
				  "objections to a notice raised, dismissed and upheld; and\n"
				  "usage from unregistered credit codes, by month and provider.  --year Y keeps\n"
				  "that year (China time).\n"
				  "\n"
				  "trace: from one enterprise's grants in a programme-year down to the ledger\n"
				  "entries, the records of that year and the signed batches they came in.\n"
				  "duplicates: invoice numbers and contract ids behind records of more than one\n"
				  "provider, enterprise or programme (a programme counted a record when an approved\n"
				  "run gave its enterprise an eligible amount that year in a category the\n"
				  "programme lists); those of them counted by programmes of more than one kind of\n"
				  "voucher (a programme's kind follows its categories: compute categories\n"
				  "算力券 compute, corpus 语料券 corpus, dataset 数据券 data, model_purchase 模型券\n"
				  "model), i.e. one contract subsidised twice; and records whose net amount a\n"
				  "later adjustment pushed to zero after the enterprise had been granted a\n"
				  "subsidy that year.\n";

static const char usage_ledger[] = "usage: voucherctl ledger balances [--program ID] [--year Y] [--enterprise USCC]\n"
				   "       voucherctl ledger alg sha256|sm3\n"
				   "\n"
				   "balances: every account's balance (debits minus credits), derived from the\n"
				   "entries (--program: an unknown programme is an error; --year: 2000-2100):\n"
				   "pool/<programme>/<year> (negative: given out),\n"
				   "payable/<programme>/<year>/<payee>, paid/<programme>/<year>/<payee>.\n"
				   "alg: the hash of the ledger chain, chosen before the first posting (SM3 for\n"
				   "deployments that must use 国密 algorithms).\n";

static int audit_verify(ctl_t *ctx, int argc, char **argv)
{
	const char *cpfile, *pub;
	const struct ctl_opt opts[] = {{"--checkpoint", &cpfile, false}, {"--pub", &pub, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, "audit verify", usage_audit);
	if (rc >= 0)
		return rc;
	if (pub && !cpfile)
		return ctl_usage_error(usage_audit, "audit verify: --pub goes with --checkpoint");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	/* the checks themselves are audit/verify.c's, which the console runs too */
	const audit_verify_in_t in = {.checkpoint_path = cpfile, .checkpoint_name = cpfile, .pub_pem_path = pub};
	audit_verify_out_t *out = xcalloc(1, sizeof *out);
	bool ok = audit_verify_all(c, &in, out);
	buf_t line = BUF_INIT;
	audit_verify_summary(out, &line);
	printf("%s\n", line.data);
	buf_free(&line);
	free(out);
	return ok ? CTL_OK : CTL_FAIL;
}

static int audit_checkpoint(ctl_t *ctx, int argc, char **argv)
{
	const char *key, *out;
	const struct ctl_opt opts[] = {{"--sign-key", &key, false}, {"--out", &out, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, "audit checkpoint", usage_audit);
	if (rc >= 0)
		return rc;
	if (!key || !out)
		return ctl_usage_error(usage_audit, "audit checkpoint: --sign-key and --out are required");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	checkpoint_t cp;
	char err[512];
	if (!checkpoint_write(c, key, out, &cp, err, sizeof err)) {
		fprintf(stderr, "audit checkpoint: %s\nnothing was written\n", err);
		return CTL_FAIL;
	}
	printf("checkpoint %s written: %s China time, %" PRId64 " ledger entries, %" PRId64
	       " batches; signing key fingerprint %s\n",
	       out, cp.time_cn, cp.ledger_size, cp.batches_size, cp.fingerprint);
	return CTL_OK;
}

static int audit_trace(ctl_t *ctx, int argc, char **argv)
{
	const char *uscc, *program, *year;
	const struct ctl_opt opts[] = {{"--enterprise", &uscc, false},
				       {"--program", &program, false},
				       {"--year", &year, false},
				       {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, "audit trace", usage_audit);
	if (rc >= 0)
		return rc;
	if (!uscc || !program || !year)
		return ctl_usage_error(usage_audit, "audit trace: --enterprise, --program and --year are required");
	if (!ctl_year_valid(year))
		return ctl_usage_error(usage_audit, "audit trace: --year must be a year from 2000 to 2100, e.g. 2026");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	if (!ctl_program_known(c, "audit trace", program))
		return CTL_FAIL;
	char err[600];
	PGresult *g = audit_trace_grants(c, uscc, program, year, err, sizeof err);
	if (!g) {
		fprintf(stderr, "audit trace: %s\n", err);
		return CTL_FAIL;
	}
	PGresult *u = audit_trace_records(c, uscc, year, err, sizeof err);
	if (!u) {
		fprintf(stderr, "audit trace: %s\n", err);
		PQclear(g);
		return CTL_FAIL;
	}
	static const out_col_t gcols[] = {
		{"run_id", OUT_INT},          {"period", OUT_TEXT},          {"status", OUT_TEXT},
		{"approved_by", OUT_TEXT},    {"program_version", OUT_TEXT}, {"granted", OUT_MONEY_FEN},
		{"ledger_entries", OUT_TEXT},
	};
	static const out_col_t ucols[] = {
		{"provider", OUT_TEXT},      {"record_id", OUT_TEXT},   {"category", OUT_TEXT},
		{"ended_at", OUT_TIMESTAMP}, {"amount", OUT_MONEY_FEN}, {"adjusts", OUT_TEXT},
		{"invoice_no", OUT_TEXT},    {"batch_id", OUT_TEXT},    {"batch_received_at", OUT_TIMESTAMP},
		{"key_id", OUT_TEXT},        {"alg", OUT_TEXT},         {"batch_digest", OUT_TEXT},
		{"seller", OUT_TEXT},
	};
	out_doc_t d;
	out_doc_begin(&d, stdout, ctx->format);
	out_rows_t gr = out_rows_pg(g), ur = out_rows_pg(u);
	out_doc_list(&d, "grants", gcols, 7, &gr);
	out_doc_list(&d, "records and the signed batches they came in", ucols, 13, &ur);
	bool ok = out_doc_end(&d);
	PQclear(g);
	PQclear(u);
	return ok ? CTL_OK : CTL_FAIL;
}

/* Which programmes counted a record: those with an approved line for its
 * enterprise and year with an eligible amount, whose programme version lists
 * its category.  Entries sorted by key "year|uscc|programme", so that the
 * programmes of one enterprise-year are neighbours. */
struct counted_entry {
	char *key;
	bool cats[CAT_COUNT];
	const char *kind; /* the programme's voucher kind (program_kind) */
};

struct counted {
	struct counted_entry *e;
	size_t n;
};

/* The voucher kind of a programme, derived from its categories (the first
 * kind it lists, in this order): compute categories 算力券 "compute", corpus
 * 语料券 "corpus", dataset 数据券 "data", model_purchase 模型券 "model". */
static const char *program_kind(const program_t *p)
{
	static const struct {
		category_t cat;
		const char *kind;
	} kinds[] = {
		{CAT_INTELLIGENT_COMPUTE, "compute"}, {CAT_SUPERCOMPUTING, "compute"}, {CAT_GENERAL_COMPUTE, "compute"},
		{CAT_MODEL_SERVICE, "compute"},       {CAT_CORPUS, "corpus"},          {CAT_DATASET, "data"},
		{CAT_MODEL_PURCHASE, "model"},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (p->categories[kinds[i].cat])
			return kinds[i].kind;
	return NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct counted_entry *)a)->key, ((const struct counted_entry *)b)->key);
}

static bool load_counted(PGconn *c, struct counted *ct)
{
	PGresult *r = db_exec(c, "audit duplicates",
			      "SELECT DISTINCT ON (r.program, left(r.period, 4), l.uscc) "
			      "  left(r.period, 4) || '|' || l.uscc || '|' || r.program, v.text "
			      "FROM audit.runs r JOIN audit.run_lines l ON l.run_id = r.run_id "
			      "JOIN audit.program_versions v ON v.version = r.program_version "
			      "WHERE r.status <> 'draft' AND l.eligible_amount_ytd > 0 "
			      "ORDER BY r.program, left(r.period, 4), l.uscc, r.approved_at DESC",
			      0, NULL);
	if (!r)
		return false;
	ct->n = (size_t)PQntuples(r);
	ct->e = xcalloc(ct->n + 1, sizeof *ct->e);
	program_t *p = xcalloc(1, sizeof *p);
	for (size_t i = 0; i < ct->n; i++) {
		char perr[64];
		ct->e[i].key = xstrdup(PQgetvalue(r, (int)i, 0));
		if (program_parse(PQgetvalue(r, (int)i, 1), (size_t)PQgetlength(r, (int)i, 1), p, perr, sizeof perr)) {
			memcpy(ct->e[i].cats, p->categories, sizeof ct->e[i].cats);
			ct->e[i].kind = program_kind(p);
		}
	}
	free(p);
	PQclear(r);
	qsort(ct->e, ct->n, sizeof *ct->e, cmp_entry);
	return true;
}

static void free_counted(struct counted *ct)
{
	for (size_t i = 0; i < ct->n; i++)
		free(ct->e[i].key);
	free(ct->e);
}

/* the first entry whose key starts with prefix, or n */
static size_t counted_lower(const struct counted *ct, const char *prefix)
{
	size_t lo = 0, hi = ct->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ct->e[mid].key, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* appends name to a space-separated set in b if it is not there */
static void set_add(buf_t *b, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = b->data; p && *p;) {
		size_t m = strcspn(p, " ");
		if (m == n && !strncmp(p, name, n))
			return;
		p += m + (p[m] == ' ');
	}
	if (b->len)
		buf_putc(b, ' ');
	buf_puts(b, name);
}

static size_t set_size(const buf_t *b)
{
	size_t n = b->len ? 1 : 0;
	for (size_t i = 0; i < b->len; i++)
		n += b->data[i] == ' ';
	return n;
}

/* the rows of audit duplicates' first list, and the strings they point into */
struct dup_rows {
	const char **cells;
	char **owned;
	int rows, nowned;
};

static void dup_rows_free(struct dup_rows *dr)
{
	for (int i = 0; i < dr->nowned; i++)
		free(dr->owned[i]);
	free(dr->owned);
	free(dr->cells);
}

/* invoice numbers and contract ids with more than one record */
static PGresult *dup_records(PGconn *c)
{
	return db_exec(c, "audit duplicates",
		       "WITH k AS (SELECT 'invoice_no' AS kind, invoice_no AS value, provider, enterprise, category, "
		       "  to_char(ended_at AT TIME ZONE 'Asia/Shanghai', 'YYYY') AS y, amount_fen "
		       "  FROM audit.usage_records WHERE invoice_no IS NOT NULL "
		       "  UNION ALL SELECT 'contract_id', contract_id, provider, enterprise, category, "
		       "  to_char(ended_at AT TIME ZONE 'Asia/Shanghai', 'YYYY'), amount_fen FROM audit.usage_records) "
		       "SELECT kind, value, provider, enterprise, category, y, amount_fen FROM k "
		       "WHERE (kind, value) IN (SELECT kind, value FROM k GROUP BY 1, 2 HAVING count(*) > 1) "
		       "ORDER BY kind, value COLLATE \"C\"",
		       0, NULL);
}

/* records refunded to zero after their enterprise was granted for the year */
static PGresult *dup_refunds(PGconn *c)
{
	return db_exec(
		c, "audit duplicates",
		"WITH net AS (SELECT o.provider, o.record_id, o.enterprise, o.ended_at, o.amount_fen, "
		"  o.amount_fen + coalesce(sum(a.amount_fen), 0) AS net, max(a.received_at) AS last_adjusted "
		"  FROM audit.usage_records o JOIN audit.usage_records a "
		"    ON a.provider = o.provider AND a.adjusts = o.record_id "
		"  WHERE o.adjusts IS NULL GROUP BY o.provider, o.record_id, o.enterprise, o.ended_at, o.amount_fen) "
		"SELECT n.provider, n.record_id, n.enterprise, n.amount_fen, n.last_adjusted, "
		"  (SELECT min(r.approved_at) FROM audit.runs r JOIN audit.run_lines l ON l.run_id = r.run_id "
		"   WHERE l.uscc = n.enterprise AND l.payable > 0 AND r.approved_at IS NOT NULL "
		"     AND left(r.period, 4) = to_char(n.ended_at AT TIME ZONE 'Asia/Shanghai', 'YYYY')) "
		"    AS first_grant "
		"FROM net n WHERE n.net = 0 AND EXISTS (SELECT 1 FROM audit.runs r "
		"  JOIN audit.run_lines l ON l.run_id = r.run_id WHERE l.uscc = n.enterprise AND l.payable > 0 "
		"  AND r.approved_at < n.last_adjusted "
		"  AND left(r.period, 4) = to_char(n.ended_at AT TIME ZONE 'Asia/Shanghai', 'YYYY')) "
		"ORDER BY n.enterprise, n.provider, n.record_id",
		0, NULL);
}

/* adds to progs the programmes that counted record j of recs, and their
 * voucher kinds to kinds */
static void dup_add_programs(const struct counted *ct, PGresult *recs, int j, buf_t *progs, buf_t *kinds)
{
	int cat = category_parse(PQgetvalue(recs, j, 4));
	char prefix[64];
	snprintf(prefix, sizeof prefix, "%s|%s|", PQgetvalue(recs, j, 5), PQgetvalue(recs, j, 3));
	size_t plen = strlen(prefix);
	for (size_t k = counted_lower(ct, prefix); cat >= 0 && k < ct->n && !strncmp(ct->e[k].key, prefix, plen); k++)
		if (ct->e[k].cats[cat]) {
			set_add(progs, ct->e[k].key + plen);
			if (ct->e[k].kind)
				set_add(kinds, ct->e[k].kind);
		}
}

/* a string of dr's, freed with it */
static char *dup_own(struct dup_rows *dr, char *s)
{
	dr->owned[dr->nowned++] = s;
	return s;
}

/* adds a row to dr for the records from i on that share its kind and value,
 * if they span more than one provider, enterprise or programme, and a row
 * to kr if programmes of more than one voucher kind counted them (the same
 * contract or invoice subsidised by two kinds of voucher).  Returns the
 * first record past them, or -1 (said on stderr) if their amounts cannot be
 * summed. */
static int dup_group(const struct counted *ct, PGresult *recs, int i, struct dup_rows *dr, struct dup_rows *kr)
{
	int nr = PQntuples(recs), j = i;
	buf_t prov = BUF_INIT, ent = BUF_INIT, progs = BUF_INIT, kinds = BUF_INIT;
	int64_t amount = 0;
	bool sum_ok = true;
	for (; j < nr && !strcmp(PQgetvalue(recs, j, 0), PQgetvalue(recs, i, 0)) &&
	       !strcmp(PQgetvalue(recs, j, 1), PQgetvalue(recs, i, 1));
	     j++) {
		set_add(&prov, PQgetvalue(recs, j, 2));
		set_add(&ent, PQgetvalue(recs, j, 3));
		/* checked: the records of one invoice may sum past int64 */
		int64_t a;
		char why[160];
		if (!db_get_i64(recs, j, 6, "amount_fen", &a, why, sizeof why)) {
			fprintf(stderr, "audit duplicates: %s %s: %s\n", PQgetvalue(recs, i, 0), PQgetvalue(recs, i, 1),
				why);
			sum_ok = false;
			break;
		}
		if (!money_add(amount, a, &amount)) {
			fprintf(stderr, "audit duplicates: %s %s: the amounts of its records overflow 64 bits\n",
				PQgetvalue(recs, i, 0), PQgetvalue(recs, i, 1));
			sum_ok = false;
			break;
		}
		dup_add_programs(ct, recs, j, &progs, &kinds);
	}
	char amt[24], cnt[16];
	snprintf(amt, sizeof amt, "%lld", (long long)amount);
	snprintf(cnt, sizeof cnt, "%d", j - i);
	if (sum_ok && set_size(&kinds) > 1) {
		const char *row[] = {PQgetvalue(recs, i, 0),           PQgetvalue(recs, i, 1),
				     dup_own(kr, xstrdup(kinds.data)), dup_own(kr, xstrdup(progs.data)),
				     dup_own(kr, xstrdup(cnt)),        dup_own(kr, xstrdup(amt))};
		memcpy(kr->cells + (size_t)kr->rows * 6, row, sizeof row);
		kr->rows++;
	}
	if (sum_ok && (set_size(&prov) > 1 || set_size(&ent) > 1 || set_size(&progs) > 1)) {
		const char *row[] = {PQgetvalue(recs, i, 0),         PQgetvalue(recs, i, 1),
				     dup_own(dr, buf_steal(&prov)),  dup_own(dr, buf_steal(&ent)),
				     dup_own(dr, buf_steal(&progs)), dup_own(dr, xstrdup(cnt)),
				     dup_own(dr, xstrdup(amt))};
		memcpy(dr->cells + (size_t)dr->rows * 7, row, sizeof row);
		dr->rows++;
	}
	buf_free(&prov);
	buf_free(&ent);
	buf_free(&progs);
	buf_free(&kinds);
	return sum_ok ? j : -1;
}

static int dup_print(ctl_t *ctx, const struct dup_rows *dup, const struct dup_rows *kinds, PGresult *ref)
{
	static const out_col_t dcols[] = {
		{"kind", OUT_TEXT},     {"value", OUT_TEXT},  {"providers", OUT_TEXT},   {"enterprises", OUT_TEXT},
		{"programs", OUT_TEXT}, {"records", OUT_INT}, {"amount", OUT_MONEY_FEN},
	};
	static const out_col_t kcols[] = {
		{"kind", OUT_TEXT},     {"value", OUT_TEXT},  {"voucher_kinds", OUT_TEXT},
		{"programs", OUT_TEXT}, {"records", OUT_INT}, {"amount", OUT_MONEY_FEN},
	};
	static const out_col_t rcols[] = {
		{"provider", OUT_TEXT},    {"record_id", OUT_TEXT},        {"enterprise", OUT_TEXT},
		{"amount", OUT_MONEY_FEN}, {"refunded_at", OUT_TIMESTAMP}, {"first_grant_at", OUT_TIMESTAMP},
	};
	out_doc_t d;
	out_doc_begin(&d, stdout, ctx->format);
	out_rows_t dr = out_rows_array(dup->cells, dup->rows, 7), kr = out_rows_array(kinds->cells, kinds->rows, 6),
		   rr = out_rows_pg(ref);
	out_doc_list(&d, "invoices and contracts behind records of more than one provider, enterprise or programme",
		     dcols, 7, &dr);
	out_doc_list(&d, "invoices and contracts subsidised by more than one kind of voucher", kcols, 6, &kr);
	out_doc_list(&d, "records refunded to zero after the enterprise was granted", rcols, 6, &rr);
	return out_doc_end(&d) ? CTL_OK : CTL_FAIL;
}

static int audit_duplicates(ctl_t *ctx, int argc, char **argv)
{
	int rc = ctl_parse_args(argc, argv, 2, NULL, NULL, 0, "audit duplicates", usage_audit);
	if (rc >= 0)
		return rc;
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	struct counted ct = {0};
	if (!load_counted(c, &ct))
		return CTL_FAIL;
	PGresult *recs = dup_records(c);
	if (!recs) {
		free_counted(&ct);
		return CTL_FAIL;
	}
	int nr = PQntuples(recs);
	struct dup_rows dr = {0}, kr = {0};
	dr.cells = xcalloc((size_t)nr * 7 + 1, sizeof *dr.cells);
	dr.owned = xcalloc((size_t)nr * 5 + 1, sizeof *dr.owned);
	kr.cells = xcalloc((size_t)nr * 6 + 1, sizeof *kr.cells);
	kr.owned = xcalloc((size_t)nr * 4 + 1, sizeof *kr.owned);
	bool sum_ok = true;
	for (int i = 0; i < nr && sum_ok;) {
		i = dup_group(&ct, recs, i, &dr, &kr);
		sum_ok = i >= 0;
	}
	free_counted(&ct);
	PGresult *ref = sum_ok ? dup_refunds(c) : NULL;
	if (!ref) {
		dup_rows_free(&dr);
		dup_rows_free(&kr);
		PQclear(recs);
		return CTL_FAIL;
	}
	rc = dup_print(ctx, &dr, &kr, ref);
	dup_rows_free(&dr);
	dup_rows_free(&kr);
	PQclear(recs);
	PQclear(ref);
	return rc;
}

static int audit_exceptions_cmd(ctl_t *ctx, int argc, char **argv)
{
	const char *year = NULL;
	const struct ctl_opt opts[] = {{"--year", &year, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, "audit exceptions", usage_audit);
	if (rc >= 0)
		return rc;
	if (year && !ctl_year_valid(year))
		return ctl_usage_error(usage_audit,
				       "audit exceptions: --year must be a year from 2000 to 2100, e.g. 2026");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	static const out_col_t cols[] = {{"kind", OUT_TEXT},
					 {"at", OUT_TIMESTAMP},
					 {"by", OUT_TEXT},
					 {"subject", OUT_TEXT},
					 {"detail", OUT_TEXT}};
	char err[600];
	PGresult *r = audit_exceptions(c, year, err, sizeof err);
	if (!r) {
		const char *m = strncmp(err, "ERROR:  ", 8) ? err : err + 8;
		fprintf(stderr, "audit exceptions: %.*s\n", (int)strcspn(m, "\n"), m);
		return CTL_FAIL;
	}
	bool ok = out_print(stdout, ctx->format, cols, 5, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

int cmd_audit(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {{"verify", audit_verify},
					      {"trace", audit_trace},
					      {"checkpoint", audit_checkpoint},
					      {"duplicates", audit_duplicates},
					      {"exceptions", audit_exceptions_cmd},
					      {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "audit", subs, usage_audit);
}

static int ledger_balances(ctl_t *ctx, int argc, char **argv)
{
	const char *program, *year, *uscc;
	const struct ctl_opt opts[] = {{"--program", &program, false},
				       {"--year", &year, false},
				       {"--enterprise", &uscc, false},
				       {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, "ledger balances", usage_ledger);
	if (rc >= 0)
		return rc;
	if (year && !ctl_year_valid(year))
		return ctl_usage_error(usage_ledger,
				       "ledger balances: --year must be a year from 2000 to 2100, e.g. 2026");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	if (program && !ctl_program_known(c, "ledger balances", program))
		return CTL_FAIL;
	const char *p[] = {program, year, uscc};
	PGresult *r = db_exec(c, "ledger balances",
			      "SELECT account, balance_fen, postings FROM audit.ledger_balances "
			      "WHERE ($1::text IS NULL OR split_part(account, '/', 2) = $1) "
			      "AND ($2::text IS NULL OR split_part(account, '/', 3) = $2) "
			      "AND ($3::text IS NULL OR split_part(account, '/', 4) = $3) "
			      "ORDER BY split_part(account, '/', 2), split_part(account, '/', 3), account",
			      3, p);
	if (!r)
		return CTL_FAIL;
	static const out_col_t cols[] = {{"account", OUT_TEXT}, {"balance", OUT_MONEY_FEN}, {"postings", OUT_INT}};
	static const char *const labels[] = {"账户", "余额(元)", "记账笔数"}; /* table only */
	bool ok = out_print_labelled(stdout, ctx->format, cols, labels, 3, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

static int ledger_alg(ctl_t *ctx, int argc, char **argv)
{
	const char *pos[1];
	int rc = ctl_parse_args(argc, argv, 2, NULL, pos, 1, "ledger alg", usage_ledger);
	if (rc >= 0)
		return rc;
	if (strcmp(pos[0], "sha256") && strcmp(pos[0], "sm3"))
		return ctl_usage_error(usage_ledger, "ledger alg: sha256 or sm3");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	if (!db_run(c, "ledger alg", "SELECT voucher.ledger_set_alg($1)", 1, pos))
		return CTL_FAIL;
	printf("the ledger chain will use %s\n", pos[0]);
	return CTL_OK;
}

int cmd_ledger(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {{"balances", ledger_balances}, {"alg", ledger_alg}, {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "ledger", subs, usage_ledger);
}
