/* voucherctl program load | list | show, and override add.
 *
 * A programme file is stored whole, as an immutable version whose id is the
 * SHA-256 of its bytes; settle uses the newest version of a programme and the
 * run records which.  Overrides (一事一议) are checked against the ceilings of
 * the programme's newest version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/buf.h"
#include "common/db.h"
#include "common/hex.h"
#include "common/money.h"
#include "common/validate.h"
#include "ctl/ctl.h"
#include "ctl/output.h"
#include "settlement/program.h"
#include "settlement/settle.h"

static const char usage_program[] = "usage: voucherctl program load FILE\n"
				    "       voucherctl program list\n"
				    "       voucherctl program show ID [--version V]\n"
				    "\n"
				    "load checks a programme file (settlement/programs/README.md describes the\n"
				    "format; errors name the line) and stores it as a new immutable version\n"
				    "identified by the SHA-256 of its bytes.  Loading the same bytes again changes\n"
				    "nothing.  settle uses the newest version of a programme.\n"
				    "show prints the stored file of the newest version (or --version V, a prefix\n"
				    "of the version id is enough) exactly as loaded.\n";

static const char usage_override[] =
	"usage: voucherctl override propose --program ID --enterprise USCC --year Y\n"
	"                                   [--rate-bp N] [--cap-fen N] --ref DOCUMENT\n"
	"       voucherctl override confirm ID\n"
	"       voucherctl [--format table|csv|json] override list [--program ID] [--year Y]\n"
	"\n"
	"一事一议: a rate and/or a cap for one enterprise in one programme-year, with\n"
	"the document that decided it.  Overrides are money: one finance user proposes\n"
	"(prints 'override <id> ...'), another confirms, and the override counts from\n"
	"its confirmation on.  The programme's ceilings bound it (Wuxi: 6000 bp and\n"
	"10,000,000 yuan; Hangzhou: only for an enterprise flagged foundation_model in\n"
	"the registry, and only a cap above 8,000,000 yuan); a programme without\n"
	"override ceilings refuses overrides.  They are checked when proposed and again\n"
	"when confirmed.  A newer confirmed override for the same programme, enterprise\n"
	"and year takes the place of the older one; all stay on record.\n"
	"list shows amounts in yuan (json: in fen) and who proposed and confirmed.\n";

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(data, len, md);
	hex_encode(md, 32, out);
}

static int program_load(ctl_t *ctx, int argc, char **argv)
{
	const char *pos[1];
	int rc = ctl_parse_args(argc, argv, 2, NULL, pos, 1, "program load", usage_program);
	if (rc >= 0)
		return rc;
	buf_t text = BUF_INIT;
	if (!ctl_read_file("program load", pos[0], 1 << 20, &text)) {
		buf_free(&text);
		return CTL_FAIL;
	}
	program_t *p = xcalloc(1, sizeof *p);
	char err[300];
	rc = CTL_FAIL;
	if (!program_parse(text.data, text.len, p, err, sizeof err)) {
		fprintf(stderr, "program load: %s:%s\nnothing was loaded\n", pos[0], err);
		goto done;
	}
	char version[65];
	sha256_hex(text.data, text.len, version);
	PGconn *c = ctl_conn(ctx);
	if (!c)
		goto done;
	const char *params[] = {p->id, text.data};
	if (!db_begin(c))
		goto done;
	/* the database computes the version (SHA-256 of the text) itself */
	PGresult *r = db_exec(c, "program load",
			      "SELECT CASE WHEN added THEN 1 ELSE 0 END, loaded, version "
			      "FROM voucher.program_load($1, $2)",
			      2, params);
	if (!r) {
		db_rollback(c);
		goto done;
	}
	if (!db_commit(c)) {
		PQclear(r);
		goto done;
	}
	if (atoi(PQgetvalue(r, 0, 0)) == 1)
		printf("loaded programme %s version %.12s (%s)\n", p->id, version, p->name);
	else
		printf("programme %s version %.12s is already loaded (%s); nothing changed\n", p->id, version,
		       PQgetvalue(r, 0, 1));
	PQclear(r);
	rc = CTL_OK;
done:
	free(p);
	buf_free(&text);
	return rc;
}

static int program_list(ctl_t *ctx, int argc, char **argv)
{
	int rc = ctl_parse_args(argc, argv, 2, NULL, NULL, 0, "program list", usage_program);
	if (rc >= 0)
		return rc;
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	PGresult *r = db_exec(c, "program list",
			      "SELECT DISTINCT ON (program) program, left(version, 12), loaded_at, loaded_by, "
			      "(SELECT count(*) FROM voucher.program_versions w WHERE w.program = v.program), text "
			      "FROM voucher.program_versions v ORDER BY program, loaded_at DESC, version",
			      0, NULL);
	if (!r)
		return CTL_FAIL;
	int n = PQntuples(r);
	/* the name and dates come from the stored file itself */
	const char **cells = xcalloc((size_t)n * 8 + 1, sizeof *cells);
	char(*names)[201] = xcalloc((size_t)n + 1, sizeof *names);
	char(*dates)[32] = xcalloc((size_t)n + 1, sizeof *dates);
	program_t *p = xcalloc(1, sizeof *p);
	for (int i = 0; i < n; i++) {
		char err[256];
		if (program_parse(PQgetvalue(r, i, 5), (size_t)PQgetlength(r, i, 5), p, err, sizeof err)) {
			snprintf(names[i], sizeof names[i], "%s", p->name);
			snprintf(dates[i], sizeof dates[i], "%s..%s", p->valid_from, p->valid_to[0] ? p->valid_to : "");
		} else {
			snprintf(names[i], sizeof names[i], "(does not parse)");
		}
		const char *row[] = {
			PQgetvalue(r, i, 0), names[i],           dates[i], PQgetvalue(r, i, 1), PQgetvalue(r, i, 4),
			PQgetvalue(r, i, 2), PQgetvalue(r, i, 3)};
		memcpy(cells + (size_t)i * 7, row, sizeof row);
	}
	static const out_col_t cols[] = {
		{"program", OUT_TEXT}, {"name", OUT_TEXT},           {"in_force", OUT_TEXT},  {"version", OUT_TEXT},
		{"versions", OUT_INT}, {"loaded_at", OUT_TIMESTAMP}, {"loaded_by", OUT_TEXT},
	};
	out_rows_t rows = out_rows_array(cells, n, 7);
	bool ok = out_list(stdout, ctx->format, cols, 7, &rows);
	free(p);
	free(dates);
	free(names);
	free(cells);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

static int program_show(ctl_t *ctx, int argc, char **argv)
{
	const char *pos[1], *version = NULL;
	const struct ctl_opt opts[] = {{"--version", &version, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, pos, 1, "program show", usage_program);
	if (rc >= 0)
		return rc;
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	const char *params[] = {pos[0], version ? version : ""};
	PGresult *r = db_exec(c, "program show",
			      "SELECT version, text, loaded_at, loaded_by FROM voucher.program_versions "
			      "WHERE program = $1 AND version LIKE $2 || '%' ORDER BY loaded_at DESC, version LIMIT 2",
			      2, params);
	if (!r)
		return CTL_FAIL;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "program show: no programme '%s'%s%s is loaded (voucherctl program list)\n", pos[0],
			version ? " with version " : "", version ? version : "");
		PQclear(r);
		return CTL_FAIL;
	}
	if (version && PQntuples(r) > 1) {
		fprintf(stderr, "program show: version prefix '%s' is ambiguous; give more of it\n", version);
		PQclear(r);
		return CTL_FAIL;
	}
	if (ctx->format == FMT_TABLE) {
		printf("; programme %s version %s, loaded %s by %s\n", pos[0], PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2),
		       PQgetvalue(r, 0, 3));
		fwrite(PQgetvalue(r, 0, 1), 1, (size_t)PQgetlength(r, 0, 1), stdout);
	} else {
		static const out_col_t cols[] = {{"version", OUT_TEXT},
						 {"text", OUT_TEXT},
						 {"loaded_at", OUT_TIMESTAMP},
						 {"loaded_by", OUT_TEXT}};
		if (!out_show(stdout, ctx->format, cols, 4, r, 0)) {
			PQclear(r);
			return CTL_FAIL;
		}
	}
	PQclear(r);
	return CTL_OK;
}

int cmd_program(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {
		{"load", program_load}, {"list", program_list}, {"show", program_show}, {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "program", subs, usage_program);
}

/* ------------------------------------------------------------------ overrides */

static bool parse_int64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static int override_propose(ctl_t *ctx, int argc, char **argv)
{
	const char *prog_id, *uscc, *year_s, *rate_s, *cap_s, *ref;
	const struct ctl_opt opts[] = {{"--program", &prog_id, false},
				       {"--enterprise", &uscc, false},
				       {"--year", &year_s, false},
				       {"--rate-bp", &rate_s, false},
				       {"--cap-fen", &cap_s, false},
				       {"--ref", &ref, false},
				       {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, "override propose", usage_override);
	if (rc >= 0)
		return rc;
	int64_t year, rate = 0, cap = 0;
	if (!prog_id || !uscc || !year_s || !ref)
		return ctl_usage_error(usage_override,
				       "override propose: --program, --enterprise, --year and --ref are required");
	if (!rate_s && !cap_s)
		return ctl_usage_error(usage_override, "override propose: give --rate-bp, --cap-fen or both");
	if (!uscc_valid(uscc))
		return ctl_usage_error(usage_override, "override propose: %s is not a valid unified social credit code",
				       uscc);
	if (!parse_int64(year_s, 2000, 2100, &year))
		return ctl_usage_error(usage_override, "override propose: --year must be a year like 2026");
	if (rate_s && !parse_int64(rate_s, 1, 10000, &rate))
		return ctl_usage_error(usage_override,
				       "override propose: --rate-bp must be 1..10000 (basis points: 6000 = 60%%)");
	if (cap_s && !parse_int64(cap_s, 0, INT64_MAX, &cap))
		return ctl_usage_error(usage_override,
				       "override propose: --cap-fen must be a whole number of fen >= 0");
	if (!text_field(ref, 300))
		return ctl_usage_error(usage_override, "override propose: --ref must be 1..300 bytes of text");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	program_t *p = xcalloc(1, sizeof *p);
	char err[300];
	rc = CTL_FAIL;
	if (!settle_load_program(c, prog_id, p, NULL, 0, err, sizeof err)) {
		fprintf(stderr, "override propose: %s\n", err);
		goto done;
	}
	char a[32], b[32];
	if (rate_s && !p->override_rate_allowed) {
		fprintf(stderr, "override propose: programme %s allows no rate overrides; nothing was added\n", p->id);
		goto done;
	}
	if (rate_s && rate > p->override_max_rate_bp) {
		fprintf(stderr,
			"override propose: %lld bp is above programme %s's ceiling of %d bp; nothing was added\n",
			(long long)rate, p->id, p->override_max_rate_bp);
		goto done;
	}
	if (cap_s && !p->override_cap_allowed) {
		fprintf(stderr, "override propose: programme %s allows no cap overrides; nothing was added\n", p->id);
		goto done;
	}
	if (cap_s && !p->override_cap_unlimited && cap > p->override_max_cap_fen) {
		money_format_yuan(cap, a, sizeof a);
		money_format_yuan(p->override_max_cap_fen, b, sizeof b);
		fprintf(stderr,
			"override propose: a cap of %s yuan is above programme %s's ceiling of %s yuan; nothing was added\n",
			a, p->id, b);
		goto done;
	}
	char rate_txt[16], cap_txt[24];
	snprintf(rate_txt, sizeof rate_txt, "%lld", (long long)rate);
	snprintf(cap_txt, sizeof cap_txt, "%lld", (long long)cap);
	const char *params[] = {p->id, uscc, year_s, rate_s ? rate_txt : NULL, cap_s ? cap_txt : NULL, ref};
	if (!db_begin(c))
		goto done;
	PGresult *r =
		db_exec(c, "override propose",
			"SELECT voucher.override_propose($1, $2, $3::integer, $4::integer, $5::bigint, $6)", 6, params);
	if (!r) {
		db_rollback(c);
		goto done;
	}
	if (!db_commit(c)) {
		PQclear(r);
		goto done;
	}
	printf("override %s proposed: programme %s, enterprise %s, year %s", PQgetvalue(r, 0, 0), p->id, uscc, year_s);
	if (rate_s)
		printf(", rate %s bp", rate_txt);
	if (cap_s) {
		money_format_yuan(cap, a, sizeof a);
		printf(", cap %s yuan", a);
	}
	printf(", ref %s\nit counts once another finance user confirms it: voucherctl override confirm %s\n", ref,
	       PQgetvalue(r, 0, 0));
	PQclear(r);
	rc = CTL_OK;
done:
	free(p);
	return rc;
}

static int override_confirm(ctl_t *ctx, int argc, char **argv)
{
	const char *pos[1];
	int rc = ctl_parse_args(argc, argv, 2, NULL, pos, 1, "override confirm", usage_override);
	if (rc >= 0)
		return rc;
	int64_t id;
	if (!parse_int64(pos[0], 1, INT64_MAX, &id))
		return ctl_usage_error(usage_override, "override confirm: ID is the number override propose printed");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	PGresult *r = db_exec(c, "override confirm", "SELECT voucher.override_confirm($1::bigint)", 1, pos);
	if (!r)
		return CTL_FAIL;
	printf("override %s confirmed at %s; it counts in runs prepared from now on\n", pos[0], PQgetvalue(r, 0, 0));
	PQclear(r);
	return CTL_OK;
}

static int override_list(ctl_t *ctx, int argc, char **argv)
{
	const char *prog_id, *year_s;
	const struct ctl_opt opts[] = {{"--program", &prog_id, false}, {"--year", &year_s, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, "override list", usage_override);
	if (rc >= 0)
		return rc;
	int64_t year;
	if (year_s && !parse_int64(year_s, 2000, 2100, &year))
		return ctl_usage_error(usage_override,
				       "override list: --year must be a year from 2000 to 2100, e.g. 2026");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	if (prog_id && !ctl_program_known(c, "override list", prog_id))
		return CTL_FAIL;
	static const out_col_t cols[] = {{"id", OUT_INT},
					 {"program", OUT_TEXT},
					 {"enterprise", OUT_TEXT},
					 {"year", OUT_INT},
					 {"rate_bp", OUT_INT},
					 {"cap", OUT_MONEY_FEN},
					 {"ref", OUT_TEXT},
					 {"status", OUT_TEXT},
					 {"proposed_at", OUT_TIMESTAMP},
					 {"proposed_by", OUT_TEXT},
					 {"confirmed_at", OUT_TIMESTAMP},
					 {"confirmed_by", OUT_TEXT}};
	const char *p[] = {prog_id, year_s};
	PGresult *r = db_exec(c, "override list",
			      "SELECT id, program, enterprise, year, rate_bp, cap_fen, ref, "
			      "  CASE WHEN confirmed_at IS NULL THEN 'proposed' ELSE 'confirmed' END, "
			      "  added_at, added_by, confirmed_at, confirmed_by "
			      "FROM audit.overrides WHERE ($1::text IS NULL OR program = $1) "
			      "  AND ($2::integer IS NULL OR year = $2::integer) ORDER BY id",
			      2, p);
	if (!r)
		return CTL_FAIL;
	bool ok = out_print(stdout, ctx->format, cols, 12, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

static int override_add(ctl_t *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return ctl_usage_error(usage_override, "override add is now two steps: override propose, then "
					       "override confirm by another finance user");
}

int cmd_override(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {{"propose", override_propose},
					      {"confirm", override_confirm},
					      {"list", override_list},
					      {"add", override_add},
					      {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "override", subs, usage_override);
}
