/* Shared by every voucherctl command (and linked into the tests). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/date.h"
#include "common/db.h"
#include "ctl/ctl.h"

PGconn *ctl_conn(ctl_t *ctx)
{
	if (!ctx->conn)
		ctx->conn = db_connect(ctx->db, "voucherctl", !ctx->read_only);
	return ctx->conn;
}

/* Prints "voucherctl: <message>", the synopsis lines of usage and a pointer
 * to --help to stderr; returns CTL_USAGE. */
int ctl_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;
	fputs("voucherctl ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	const char *p = usage;
	while (!strncmp(p, "usage:", 6) || !strncmp(p, "       ", 7)) {
		size_t n = strcspn(p, "\n");
		fprintf(stderr, "%.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
	fputs("(add --help for the details)\n", stderr);
	return CTL_USAGE;
}

/* Parses argv[first..argc-1]: the options in opts ("--x VALUE" or "--x=VALUE",
 * each at most once) and exactly npos positional arguments into pos.  "--"
 * ends the options.  Returns -1 to go on, CTL_OK after printing the help for
 * --help, CTL_USAGE after a usage error. */
int ctl_parse_args(int argc, char **argv, int first, const struct ctl_opt *opts, const char **pos, int npos,
		   const char *what, const char *usage)
{
	int n = 0;
	bool opts_done = false;
	for (const struct ctl_opt *o = opts; o && o->name; o++)
		*o->val = NULL;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		if (!opts_done && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			fputs(usage, stdout);
			return CTL_OK;
		}
		if (!opts_done && !strcmp(a, "--")) {
			opts_done = true;
			continue;
		}
		if (opts_done || a[0] != '-' || a[1] == '\0') {
			if (n >= npos)
				return ctl_usage_error(usage, "%s: unexpected argument '%s'", what, a);
			pos[n++] = a;
			continue;
		}
		const struct ctl_opt *o;
		size_t len = strcspn(a, "=");
		for (o = opts; o && o->name; o++)
			if (strlen(o->name) == len && !strncmp(a, o->name, len))
				break;
		if (!o || !o->name)
			return ctl_usage_error(usage, "%s: unknown option '%.*s'", what, (int)len, a);
		if (*o->val)
			return ctl_usage_error(usage, "%s: %s given twice", what, o->name);
		if (o->flag) {
			if (a[len] == '=')
				return ctl_usage_error(usage, "%s: %s takes no value", what, o->name);
			*o->val = "";
		} else if (a[len] == '=') {
			*o->val = a + len + 1;
		} else {
			if (i + 1 >= argc)
				return ctl_usage_error(usage, "%s: %s needs a value", what, o->name);
			*o->val = argv[++i];
		}
	}
	if (n < npos)
		return ctl_usage_error(usage, "%s: missing argument%s", what, npos - n > 1 ? "s" : "");
	return -1;
}

/* YYYY-MM-DD, a real calendar date, year 1900-9999 */
bool ctl_date_valid(const char *s)
{
	return date_parse(s, 1900, NULL, NULL, NULL);
}

bool ctl_year_valid(const char *s)
{
	return date_year_valid(s);
}

bool ctl_program_known(PGconn *c, const char *what, const char *id)
{
	const char *p[] = {id};
	PGresult *r = db_exec(c, what, "SELECT 1 FROM audit.program_versions WHERE program = $1 LIMIT 1", 1, p);
	if (!r)
		return false;
	bool known = PQntuples(r) > 0;
	PQclear(r);
	if (!known)
		fprintf(stderr, "%s: there is no programme %s (voucherctl program list)\n", what, id);
	return known;
}

/* Reads a whole file into out; at most max bytes. */
bool ctl_read_file(const char *what, const char *path, size_t max, buf_t *out)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: cannot open %s: %s\n", what, path, strerror(errno));
		return false;
	}
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
		if (out->len + n > max) {
			fprintf(stderr, "%s: %s is larger than %zu bytes; is it the right file?\n", what, path, max);
			goto failed;
		}
		buf_append(out, tmp, n);
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: cannot read %s: %s\n", what, path, strerror(errno));
		goto failed;
	}
	fclose(f);
	if (!out->data)
		buf_reserve(out, 0);
	return true;
failed:
	fclose(f);
	return false;
}

int ctl_dispatch(ctl_t *ctx, int argc, char **argv, const char *what, const struct ctl_sub *subs, const char *usage)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	if (!sub)
		return ctl_usage_error(usage, "%s: which subcommand?", what);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		fputs(usage, stdout);
		return CTL_OK;
	}
	for (const struct ctl_sub *s = subs; s->name; s++)
		if (!strcmp(sub, s->name))
			return s->fn(ctx, argc, argv);
	return ctl_usage_error(usage, "%s: unknown subcommand '%s'", what, sub);
}
