/* voucherctl enterprise ...: the enterprises of the registry.
 *
 * Enterprises with their effective-dated registry facts (imported from the
 * bureau's CSV file, read by common/csv.c); related parties.  Every argument
 * is checked before the database is touched, every statement is
 * parameterized, and every change is one transaction: a command that fails
 * has changed nothing.
 *
 * Exit codes: 0 done (also "already related": relating is idempotent),
 * 1 refused or failed (the message says what to do), 2 the command line is
 * wrong (a missing or unknown option, or a value that can never be right). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/csv.h"
#include "common/db.h"
#include "common/validate.h"
#include "ctl/ctl.h"
#include "ctl/output.h"
#include "ctl/registry.h"
#include "metering/division.h"

#define CSV_MAX ((size_t)2 << 30)
#define IMPORT_PROGRESS 50000 /* rows between progress lines */

static const char usage_enterprise[] =
	"usage: voucherctl enterprise import FILE.csv\n"
	"       voucherctl enterprise list\n"
	"       voucherctl enterprise show USCC\n"
	"       voucherctl enterprise relate USCC --provider CODE | --seller USCC [--backdate]\n"
	"Run 'voucherctl enterprise SUBCOMMAND --help' for details.\n";

static const char usage_import[] = "usage: voucherctl enterprise import FILE.csv [--backdate]\n"
				   "Imports the bureau's enterprise registry.  FILE.csv is UTF-8 (a BOM is allowed),\n"
				   "RFC 4180 (quote a field that contains a comma or a quote, doubling the quote),\n"
				   "CRLF or LF line ends, with exactly this header:\n"
				   "  uscc,name,division,sme,model_developer,maas_builder,model_registered,\n"
				   "  foundation_model,credit_blacklisted,performance_grade[,valid_from]\n"
				   "  [,intelligent_match]\n"
				   "(the optional columns by name, each at most once, in either order).\n"
				   "uscc is the credit code of an enterprise (registration authority 9) or of an\n"
				   "institution such as a university or research institute (1 or 5), with its\n"
				   "check character.  Flags are 1 or 0 (empty = 0), performance_grade A-D or\n"
				   "empty, valid_from YYYY-MM-DD (default today, China time); intelligent_match 1:\n"
				   "the enterprise chose 免审配套, automatic matching of the Hangzhou compute voucher\n"
				   "(default 0).  Each row becomes the version of the\n"
				   "enterprise's facts in force from valid_from.  Nothing is overwritten: importing\n"
				   "the same uscc and valid_from again with other facts adds a newer import of that\n"
				   "version, which runs prepared after it use; approved runs keep recomputing from\n"
				   "the imports they saw.  A row whose facts equal the version in force is left\n"
				   "alone.  Every row is checked first: if any row is wrong, all wrong rows are\n"
				   "listed as FILE:LINE and nothing is imported.\n"
				   "division is checked against the GB/T 2260 table shipped with voucherctl\n"
				   "(metering/gb2260.txt): a code that does not exist is refused, an abolished one\n"
				   "(e.g. 330103 下城区, 2021) is refused naming the code that replaced it.  Only\n"
				   "浙江省 (33) and 江苏省 (32) are listed down to county level; a county code of\n"
				   "another province is accepted when its province and prefecture exist.\n"
				   "A version effective in a month that an approved run already settled is refused\n"
				   "unless --backdate is given; it is then recorded as backdated (audit exceptions).\n";

static const char usage_enterprise_list[] =
	"usage: voucherctl [--format table|csv|json] enterprise list\n"
	"Lists every registered enterprise with the version of its facts in force today\n"
	"(or, for one registered only from a later date, that first version).\n";

static const char usage_enterprise_show[] =
	"usage: voucherctl [--format table|csv|json] enterprise show USCC\n"
	"Shows the facts in force today, every version, the related providers and the\n"
	"related sellers.\n";

static const char usage_relate[] =
	"usage: voucherctl enterprise relate USCC --provider CODE [--backdate]\n"
	"       voucherctl enterprise relate USCC --seller USCC [--backdate]\n"
	"Records a related party (关联方) of the enterprise, one of:\n"
	"  --provider CODE  a registered provider: its records for this enterprise count\n"
	"                   for nothing in settlement;\n"
	"  --seller USCC    the credit code of a seller of corpus or datasets (registered\n"
	"                   or not): the records that name it as seller for this\n"
	"                   enterprise count for nothing.\n"
	"The enterprise must be registered.  Relating twice changes nothing.  A relation counts\n"
	"for every record of the enterprise, past ones included, so once any run is\n"
	"approved it is a backdated change: refused unless --backdate is given, and then\n"
	"recorded as such (audit exceptions).\n";

/* ------------------------------------------------------------------ enterprise import */

static const char *const import_cols[] = {
	"uscc",
	"name",
	"division",
	"sme",
	"model_developer",
	"maas_builder",
	"model_registered",
	"foundation_model",
	"credit_blacklisted",
	"performance_grade",
};
enum { IC_USCC, IC_NAME, IC_DIVISION, IC_FLAG0, IC_GRADE = 9, IC_REQUIRED = 10 };
#define IMPORT_FLAGS 6

/* The optional columns after the required ones, by name: where each is (-1:
 * absent). */
struct imp_cols {
	int n; /* columns in all */
	int valid_from, intelligent_match;
};

struct imp_row {
	long line;
	char uscc[19];
	char division[7];
	char grade;          /* 0 = none */
	char valid_from[11]; /* "" = today */
	bool flag[IMPORT_FLAGS];
	bool intelligent_match;
	char *name;
};

/* Open-addressing set of usccs -> row index, to find a uscc given twice. */
struct uscc_set {
	int *slot; /* row index + 1, 0 = empty */
	size_t cap, n;
};

static uint64_t uscc_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Returns the index of the row that had this uscc, or -1 after adding it. */
static int uscc_set_add(struct uscc_set *s, const struct imp_row *rows, int idx)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 1024;
		int *nslot = xcalloc(ncap, sizeof *nslot);
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slot[i])
				continue;
			size_t j = uscc_hash(rows[s->slot[i] - 1].uscc) & (ncap - 1);
			while (nslot[j])
				j = (j + 1) & (ncap - 1);
			nslot[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = nslot;
		s->cap = ncap;
	}
	size_t j = uscc_hash(rows[idx].uscc) & (s->cap - 1);
	while (s->slot[j]) {
		if (!strcmp(rows[s->slot[j] - 1].uscc, rows[idx].uscc))
			return s->slot[j] - 1;
		j = (j + 1) & (s->cap - 1);
	}
	s->slot[j] = idx + 1;
	s->n++;
	return -1;
}

/* Appends a COPY text-format field. */
static void copy_text(buf_t *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': buf_puts(b, "\\\\"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		default: buf_putc(b, *s);
		}
	}
}

/* A flag field: 1, 0 or empty (0); false if it is none of them. */
static bool import_flag(const char *f, bool *out)
{
	if (!strcmp(f, "1"))
		*out = true;
	else if (!strcmp(f, "0") || !*f)
		*out = false;
	else
		return false;
	return true;
}

/* Checks one data record; appends what is wrong (if anything) to problems. */
static void import_check(const csv_rec_t *rec, const struct imp_cols *ic, struct imp_row *row, buf_t *problems)
{
#define PROBLEM(...)                               \
	do {                                       \
		if (problems->len)                 \
			buf_puts(problems, "; ");  \
		buf_printf(problems, __VA_ARGS__); \
	} while (0)
	if (rec->n != ic->n) {
		PROBLEM("%d fields, the header has %d", rec->n, ic->n);
		return;
	}
	const char *uscc = csv_field(rec, IC_USCC);
	if (uscc_valid(uscc))
		memcpy(row->uscc, uscc, 19);
	else
		PROBLEM("uscc '%.40s' %s", uscc, reg_bad_uscc_hint);
	const char *name = csv_field(rec, IC_NAME);
	const char *np = reg_name_problem(name);
	if (np)
		PROBLEM("name %s", np);
	else
		row->name = xstrdup(name);
	const char *div = csv_field(rec, IC_DIVISION);
	char why[300];
	division_verdict_t dv = DIVISION_UNKNOWN;
	if (!division_valid(div))
		PROBLEM("division '%.20s' is not a GB/T 2260 county-level code (six digits, e.g. 330483)", div);
	else if ((dv = division_check(div, NULL, why, sizeof why)) == DIVISION_IN_FORCE || dv == DIVISION_UNLISTED)
		memcpy(row->division, div, 7); /* UNLISTED: a province the table does not list by county */
	else
		PROBLEM("division %s", why);
	for (int i = 0; i < IMPORT_FLAGS; i++) {
		const char *f = csv_field(rec, IC_FLAG0 + i);
		if (!import_flag(f, &row->flag[i]))
			PROBLEM("%s must be 1, 0 or empty, not '%.20s'", import_cols[IC_FLAG0 + i], f);
	}
	const char *g = csv_field(rec, IC_GRADE);
	if (!*g)
		row->grade = 0;
	else if (g[0] >= 'A' && g[0] <= 'D' && !g[1])
		row->grade = g[0];
	else
		PROBLEM("performance_grade must be A, B, C, D or empty, not '%.20s'", g);
	if (ic->intelligent_match >= 0) {
		const char *f = csv_field(rec, ic->intelligent_match);
		if (!import_flag(f, &row->intelligent_match))
			PROBLEM("intelligent_match must be 1, 0 or empty, not '%.20s'", f);
	}
	if (ic->valid_from >= 0) {
		const char *v = csv_field(rec, ic->valid_from);
		if (!*v)
			row->valid_from[0] = '\0';
		else if (ctl_date_valid(v))
			memcpy(row->valid_from, v, 11);
		else
			PROBLEM("valid_from '%.20s' is not a real date YYYY-MM-DD", v);
	}
#undef PROBLEM
}

/* Sends the rows with COPY into the temporary table enterprise_import. */
static bool import_copy(PGconn *c, const char *what, const struct imp_row *rows, int nrows)
{
	PGresult *r =
		PQexec(c, "COPY pg_temp.enterprise_import (line, uscc, valid_from, name, "
			  "division, sme, model_developer, maas_builder, model_registered, "
			  "foundation_model, credit_blacklisted, performance_grade, intelligent_match) FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		fprintf(stderr, "%s: %s", what, PQerrorMessage(c));
		PQclear(r);
		return false;
	}
	PQclear(r);
	buf_t b = BUF_INIT;
	bool ok = true;
	for (int i = 0; i < nrows && ok; i++) {
		const struct imp_row *w = &rows[i];
		buf_printf(&b, "%ld\t%s\t%s\t", w->line, w->uscc, w->valid_from[0] ? w->valid_from : "\\N");
		copy_text(&b, w->name);
		buf_printf(&b, "\t%s", w->division);
		for (int f = 0; f < IMPORT_FLAGS; f++)
			buf_puts(&b, w->flag[f] ? "\tt" : "\tf");
		if (w->grade)
			buf_printf(&b, "\t%c", w->grade);
		else
			buf_puts(&b, "\t\\N");
		buf_puts(&b, w->intelligent_match ? "\tt\n" : "\tf\n");
		if (b.len >= 256 * 1024 || i + 1 == nrows) {
			ok = PQputCopyData(c, b.data, (int)b.len) == 1;
			buf_reset(&b);
		}
		if ((i + 1) % IMPORT_PROGRESS == 0 && i + 1 < nrows)
			fprintf(stderr, "%s: %d of %d rows sent\n", what, i + 1, nrows);
	}
	buf_free(&b);
	if (PQputCopyEnd(c, ok ? NULL : "voucherctl: sending failed") != 1)
		ok = false;
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			fprintf(stderr, "%s: %s\n", what, msg ? msg : PQerrorMessage(c));
			ok = false;
		}
		PQclear(r);
	}
	return ok;
}

/* The rows of an import, as read and checked. */
struct import {
	struct imp_row *rows;
	int nrows, caprows;
	struct uscc_set seen;
};

/* Reads the file and refuses what cannot be UTF-8 text; false (printed). */
static bool import_read(const char *what, const char *path, buf_t *file)
{
	if (!ctl_read_file(what, path, CSV_MAX, file))
		return false;
	if (file->len >= 2 && ((unsigned char)file->data[0] == 0xff || (unsigned char)file->data[0] == 0xfe) &&
	    ((unsigned char)file->data[1] == 0xfe || (unsigned char)file->data[1] == 0xff)) {
		fprintf(stderr, "%s: %s is UTF-16; save it as \"CSV UTF-8\"\n", what, path);
		return false;
	}
	if (memchr(file->data, '\0', file->len)) {
		fprintf(stderr, "%s: %s holds NUL bytes: it is not a UTF-8 text file (save it as \"CSV UTF-8\")\n",
			what, path);
		return false;
	}
	return true;
}

/* Reads the header: the ten required columns in order, then the optional
 * ones by name (each at most once, in any order).  Fills ic; false (printed)
 * if the header is not that. */
static bool import_header(csv_t *csv, csv_rec_t *rec, const char *path, struct imp_cols *ic)
{
	char err[256];
	int got = csv_next(csv, rec, err, sizeof err);
	if (got <= 0) {
		fprintf(stderr, "%s:1: %s\n", path, got == 0 ? "the file is empty: the header is missing" : err);
		return false;
	}
	ic->n = rec->n;
	ic->valid_from = ic->intelligent_match = -1;
	bool header_ok = rec->n >= IC_REQUIRED;
	for (int i = 0; header_ok && i < IC_REQUIRED; i++)
		header_ok = !strcmp(csv_field(rec, i), import_cols[i]);
	for (int i = IC_REQUIRED; header_ok && i < rec->n; i++) {
		const char *name = csv_field(rec, i);
		int *at = !strcmp(name, "valid_from")          ? &ic->valid_from
			  : !strcmp(name, "intelligent_match") ? &ic->intelligent_match
							       : NULL;
		header_ok = at && *at < 0;
		if (header_ok)
			*at = i;
	}
	if (!header_ok) {
		fprintf(stderr,
			"%s:1: the header must be exactly\n  uscc,name,division,sme,model_developer,"
			"maas_builder,model_registered,foundation_model,credit_blacklisted,"
			"performance_grade\nfollowed by the optional columns valid_from and intelligent_match, "
			"each at most once, in either order\n",
			path);
		return false;
	}
	return true;
}

/* Adds a data record as a row, checked; false (printed) if it is wrong. */
static bool import_row(struct import *im, const csv_rec_t *rec, const struct imp_cols *ic, const char *path,
		       buf_t *problems)
{
	if (im->nrows == im->caprows) {
		im->caprows = im->caprows ? 2 * im->caprows : 1024;
		im->rows = xrealloc(im->rows, (size_t)im->caprows * sizeof *im->rows);
	}
	struct imp_row *row = &im->rows[im->nrows];
	memset(row, 0, sizeof *row);
	row->line = rec->line;
	buf_reset(problems);
	import_check(rec, ic, row, problems);
	im->nrows++;
	if (row->uscc[0]) {
		int prev = uscc_set_add(&im->seen, im->rows, im->nrows - 1);
		if (prev >= 0) {
			if (problems->len)
				buf_puts(problems, "; ");
			buf_printf(problems, "uscc %s is already on line %ld (one row per enterprise)", row->uscc,
				   im->rows[prev].line);
		}
	}
	if (problems->len) {
		fprintf(stderr, "%s:%ld: %s\n", path, row->line, problems->data);
		return false;
	}
	return true;
}

/* Reads and checks every data record (all of them: every wrong one is
 * listed); returns the number of wrong ones. */
static int import_rows(struct import *im, csv_t *csv, csv_rec_t *rec, const struct imp_cols *ic, const char *path)
{
	buf_t problems = BUF_INIT;
	char err[256];
	int nbad = 0;
	for (;;) {
		int got = csv_next(csv, rec, err, sizeof err);
		if (got == 0)
			break;
		if (got < 0) {
			fprintf(stderr, "%s:%ld: %s\n", path, rec->line, err);
			nbad++;
			continue;
		}
		if (rec->n == 1 && csv_field(rec, 0)[0] == '\0')
			continue; /* a blank line */
		if (!import_row(im, rec, ic, path, &problems))
			nbad++;
	}
	buf_free(&problems);
	return nbad;
}

/* Stages the rows and imports them in one transaction: CTL_OK, or CTL_FAIL
 * (printed). */
static int import_send(ctl_t *ctx, const char *what, const struct import *im, bool backdate)
{
	PGconn *c = ctl_conn(ctx);
	if (!c || !db_begin(c))
		return CTL_FAIL;
	if (!db_run(c, what,
		    "CREATE TEMP TABLE enterprise_import (line bigint, uscc text, valid_from date, name text, "
		    "division text, sme boolean, model_developer boolean, maas_builder boolean, "
		    "model_registered boolean, foundation_model boolean, credit_blacklisted boolean, "
		    "performance_grade text, intelligent_match boolean NOT NULL DEFAULT false) ON COMMIT DROP",
		    0, NULL) ||
	    !import_copy(c, what, im->rows, im->nrows))
		goto failed;
	/* the owner's function reads the rows staged here: a version with the
	 * same facts as the one in force is left alone (who imported it stays
	 * true), any other row is a new version; nothing is overwritten */
	if (!db_run(c, what, "GRANT SELECT ON pg_temp.enterprise_import TO voucher_owner", 0, NULL))
		goto failed;
	const char *ip[] = {backdate ? "true" : "false"};
	PGresult *ir = db_exec(c, what, "SELECT * FROM voucher.enterprise_import($1::boolean)", 1, ip);
	if (!ir)
		goto failed;
	long added = atol(PQgetvalue(ir, 0, 0)), changed = atol(PQgetvalue(ir, 0, 1)),
	     backdated = atol(PQgetvalue(ir, 0, 2));
	PQclear(ir);
	if (!db_commit(c))
		return CTL_FAIL;
	long unchanged = im->nrows - changed, updated = changed - added;
	printf("imported %d enterprises (%ld new, %ld updated", im->nrows, added, updated);
	if (unchanged > 0)
		printf(", %ld unchanged", unchanged);
	if (backdated > 0)
		printf(", %ld versions backdated", backdated);
	printf(")\n");
	return CTL_OK;
failed:
	db_rollback(c);
	fprintf(stderr, "%s: nothing was imported\n", what);
	return CTL_FAIL;
}

static int enterprise_import(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "enterprise import";
	const char *pos[1], *backdate = NULL;
	const struct ctl_opt opts[] = {{"--backdate", &backdate, true}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, pos, 1, what, usage_import);
	if (rc >= 0)
		return rc;
	const char *path = pos[0];
	buf_t file = BUF_INIT;
	csv_rec_t rec = CSV_REC_INIT;
	struct import im = {NULL, 0, 0, {NULL, 0, 0}};
	rc = CTL_FAIL;
	if (!import_read(what, path, &file))
		goto done;
	csv_t csv;
	csv_init(&csv, file.data, file.len);
	struct imp_cols ic;
	if (!import_header(&csv, &rec, path, &ic))
		goto done;
	/* every row, checked; nothing is sent before all are good */
	int nbad = import_rows(&im, &csv, &rec, &ic, path);
	if (nbad) {
		fprintf(stderr, "%s: %d bad row%s; nothing was imported\n", what, nbad, nbad == 1 ? "" : "s");
		goto done;
	}
	if (im.nrows == 0) {
		fprintf(stderr, "%s: %s has a header but no rows; nothing was imported\n", what, path);
		goto done;
	}
	rc = import_send(ctx, what, &im, backdate != NULL);
done:
	for (int i = 0; i < im.nrows; i++)
		free(im.rows[i].name);
	free(im.rows);
	free(im.seen.slot);
	csv_rec_free(&rec);
	buf_free(&file);
	return rc;
}

/* ------------------------------------------------------------------ enterprise list / show */

static const out_col_t version_cols[] = {
	{"uscc", OUT_TEXT},
	{"name", OUT_TEXT},
	{"division", OUT_TEXT},
	{"sme", OUT_BOOL},
	{"model_developer", OUT_BOOL},
	{"maas_builder", OUT_BOOL},
	{"model_registered", OUT_BOOL},
	{"foundation_model", OUT_BOOL},
	{"credit_blacklisted", OUT_BOOL},
	{"performance_grade", OUT_TEXT},
	{"intelligent_match", OUT_BOOL},
	{"valid_from", OUT_TEXT},
	{"imported_at", OUT_TIMESTAMP},
	{"imported_by", OUT_TEXT},
};
#define VERSION_FACTS                                                    \
	"v.name, v.division, v.sme, v.model_developer, v.maas_builder, " \
	"v.model_registered, v.foundation_model, v.credit_blacklisted, " \
	"v.performance_grade, v.intelligent_match, v.valid_from, v.imported_at, v.imported_by"
#define VERSION_COLS "v.uscc, " VERSION_FACTS
#define NVERSION_COLS ((int)(sizeof version_cols / sizeof version_cols[0]))
/* the version in force today first, else the earliest later one */
#define CURRENT_ORDER                         \
	"v.valid_from <= " TODAY_CN " DESC, " \
	"CASE WHEN v.valid_from <= " TODAY_CN " THEN v.valid_from END DESC, v.valid_from"

static int enterprise_list(ctl_t *ctx, int argc, char **argv)
{
	int rc = ctl_parse_args(argc, argv, 2, NULL, NULL, 0, "enterprise list", usage_enterprise_list);
	if (rc >= 0)
		return rc;
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	PGresult *r = db_exec(c, "enterprise list",
			      "SELECT DISTINCT ON (v.uscc) " VERSION_COLS
			      " FROM voucher.enterprise_registry v ORDER BY v.uscc, " CURRENT_ORDER,
			      0, NULL);
	if (!r)
		return CTL_FAIL;
	/* imported_at/by are in show; the list stays narrow */
	bool ok = out_print(stdout, ctx->format, version_cols, NVERSION_COLS - 2, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

static int enterprise_show(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "enterprise show";
	const char *pos[1];
	int rc = ctl_parse_args(argc, argv, 2, NULL, pos, 1, what, usage_enterprise_show);
	if (rc >= 0)
		return rc;
	const char *uscc = pos[0];
	if (!uscc_valid(uscc))
		return ctl_usage_error(usage_enterprise_show, "%s: '%s' %s", what, uscc, reg_bad_uscc_hint);
	static const out_col_t rcols[] = {
		{"provider", OUT_TEXT},
		{"name", OUT_TEXT},
		{"added_at", OUT_TIMESTAMP},
		{"added_by", OUT_TEXT},
	};
	PGconn *c = ctl_conn(ctx);
	if (!c || !reg_begin_read(c))
		return CTL_FAIL;
	const char *p[] = {uscc};
	static const out_col_t scols[] = {
		{"seller", OUT_TEXT},
		{"name", OUT_TEXT},
		{"added_at", OUT_TIMESTAMP},
		{"added_by", OUT_TEXT},
	};
	PGresult *cur = NULL, *all = NULL, *rel = NULL, *sel = NULL;
	rc = CTL_FAIL;
	if (!reg_enterprise_exists(c, what, uscc))
		goto failed;
	cur = db_exec(c, what,
		      "SELECT " VERSION_COLS " FROM voucher.enterprise_registry v "
		      "WHERE v.uscc = $1 AND v.valid_from <= " TODAY_CN " ORDER BY v.valid_from DESC LIMIT 1",
		      1, p);
	all = cur ? db_exec(c, what,
			    "SELECT " VERSION_FACTS " FROM voucher.enterprise_registry v "
			    "WHERE v.uscc = $1 ORDER BY v.valid_from",
			    1, p)
		  : NULL;
	rel = all ? db_exec(c, what,
			    "SELECT r.provider, p.name, r.added_at, r.added_by "
			    "FROM voucher.related_parties r JOIN voucher.providers p ON p.code = r.provider "
			    "WHERE r.uscc = $1 ORDER BY r.provider",
			    1, p)
		  : NULL;
	/* a seller's name when the registry knows it, as an enterprise or a provider */
	sel = rel ? db_exec(c, what,
			    "SELECT r.seller, coalesce((SELECT v.name FROM voucher.enterprise_registry v "
			    "    WHERE v.uscc = r.seller ORDER BY v.valid_from DESC, v.imported_at DESC LIMIT 1), "
			    "  (SELECT p.name FROM voucher.providers p WHERE p.uscc = r.seller ORDER BY p.code LIMIT 1)), "
			    "  r.added_at, r.added_by "
			    "FROM voucher.related_sellers r WHERE r.uscc = $1 ORDER BY r.seller",
			    1, p)
		  : NULL;
	if (!sel)
		goto failed;
	out_rows_t crow = out_rows_pg(cur), arow = out_rows_pg(all), rrow = out_rows_pg(rel), srow = out_rows_pg(sel);
	out_doc_t d;
	out_doc_begin(&d, stdout, ctx->format);
	out_doc_record(&d, "current", version_cols, NVERSION_COLS, &crow, 0);
	/* the versions without the uscc column: it would repeat the same value */
	out_doc_list(&d, "versions", version_cols + 1, NVERSION_COLS - 1, &arow);
	out_doc_list(&d, "related_providers", rcols, 4, &rrow);
	out_doc_list(&d, "related_sellers", scols, 4, &srow);
	rc = out_doc_end(&d) ? CTL_OK : CTL_FAIL;
failed:
	PQclear(sel);
	PQclear(rel);
	PQclear(all);
	PQclear(cur);
	db_rollback(c); /* read only */
	return rc;
}

/* ------------------------------------------------------------------ enterprise relate */

/* The relation of an enterprise to a registered provider or to a seller's
 * credit code (exactly one of them): relate_sql writes it, seen_sql reads
 * the one stored before; both take (uscc, other). */
struct relation {
	const char *kind; /* "provider" or "seller" */
	const char *relate_sql, *seen_sql, *effect;
};

static const struct relation rel_provider = {
	"provider",
	"SELECT * FROM voucher.relate($1, $2, $3::boolean)",
	"SELECT added_at, added_by FROM voucher.related_parties WHERE uscc = $1 AND provider = $2",
	"that provider's records for it count for nothing",
};

static const struct relation rel_seller = {
	"seller",
	"SELECT * FROM voucher.relate_seller($1, $2, $3::boolean)",
	"SELECT added_at, added_by FROM voucher.related_sellers WHERE uscc = $1 AND seller = $2",
	"the corpus and datasets that seller sold it count for nothing",
};

static int enterprise_relate(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "enterprise relate";
	const char *provider = NULL, *seller = NULL, *backdate = NULL, *pos[1];
	const struct ctl_opt opts[] = {{"--provider", &provider, false},
				       {"--seller", &seller, false},
				       {"--backdate", &backdate, true},
				       {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, pos, 1, what, usage_relate);
	if (rc >= 0)
		return rc;
	const char *uscc = pos[0];
	if (!provider == !seller)
		return ctl_usage_error(usage_relate, "%s: exactly one of --provider CODE and --seller USCC is required",
				       what);
	if (!uscc_valid(uscc))
		return ctl_usage_error(usage_relate, "%s: '%s' %s", what, uscc, reg_bad_uscc_hint);
	if (provider && !printable_id(provider, CODE_MAX))
		return ctl_usage_error(usage_relate, "%s: '%s' is not a provider code", what, provider);
	if (seller && !uscc_valid(seller))
		return ctl_usage_error(usage_relate, "%s: --seller '%s' %s", what, seller, reg_bad_uscc_hint);
	const struct relation *how = provider ? &rel_provider : &rel_seller;
	const char *other = provider ? provider : seller;
	PGconn *c = ctl_conn(ctx);
	if (!c || !db_begin(c))
		return CTL_FAIL;
	PGresult *r = NULL;
	rc = CTL_FAIL;
	/* a seller need not be registered: any credit code may sell */
	if (!reg_enterprise_exists(c, what, uscc) || (provider && !reg_provider_exists(c, what, provider)))
		goto failed;
	const char *p[] = {uscc, other, backdate ? "true" : "false"};
	r = db_exec(c, what, how->relate_sql, 3, p);
	if (!r)
		goto failed;
	if (PQntuples(r) == 0) {
		PQclear(r);
		r = db_exec(c, what, how->seen_sql, 2, p);
		if (!r || PQntuples(r) != 1)
			goto failed;
		printf("enterprise %s is already related to %s %s (since %s, by %s); nothing changed\n", uscc,
		       how->kind, other, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		db_rollback(c);
		rc = CTL_OK;
		goto done;
	}
	if (!db_commit(c))
		goto done;
	printf("enterprise %s is now related to %s %s: %s\n", uscc, how->kind, other, how->effect);
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
done:
	PQclear(r);
	return rc;
}

int cmd_enterprise(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {{"import", enterprise_import},
					      {"list", enterprise_list},
					      {"show", enterprise_show},
					      {"relate", enterprise_relate},
					      {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "enterprise", subs, usage_enterprise);
}
