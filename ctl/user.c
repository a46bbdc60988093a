/* voucherctl user add: staff log in as their own PostgreSQL role, so that
 * the database itself knows who prepared, approved or confirmed what
 * (session_user).  This creates that role with a SCRAM-SHA-256 password,
 * computed here (PQencryptPasswordConn): the password never reaches the
 * server or its logs in clear. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/db.h"
#include "ctl/ctl.h"

static const char usage_user[] =
	"usage: voucherctl user add NAME --role finance|auditor|notice [--password-file FILE]\n"
	"\n"
	"Creates the PostgreSQL login role NAME, a member of voucher_finance (prepares,\n"
	"approves, publishes, disburses; confirms others' overrides), voucher_auditor\n"
	"(reads the audit views) or voucher_notice (reads the public notice of published\n"
	"runs, credit codes masked, and nothing else: for the console's public pages),\n"
	"with a SCRAM-SHA-256 password: the first line of FILE,\n"
	"else typed twice at the terminal, else the first line of standard input.\n"
	"NAME is 1-63 of a-z, 0-9 and _, starting with a letter.  Run it as a superuser\n"
	"or a role with CREATEROLE; an existing role is left alone (an error).\n";

static bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return strncmp(s, "pg_", 3) != 0 && strncmp(s, "voucher_", 8) != 0;
}

/* one line without its end, at most 1023 bytes; false at EOF */
static bool read_line(FILE *f, char *out, size_t len)
{
	if (!fgets(out, (int)len, f))
		return false;
	out[strcspn(out, "\r\n")] = '\0';
	return true;
}

static bool read_password(const char *file, char *pw, size_t len)
{
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f) {
			perror(file);
			return false;
		}
		bool ok = read_line(f, pw, len);
		fclose(f);
		if (!ok)
			fprintf(stderr, "user add: %s is empty\n", file);
		return ok;
	}
	if (!isatty(STDIN_FILENO))
		return read_line(stdin, pw, len);
	struct termios old, quiet;
	tcgetattr(STDIN_FILENO, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	char again[1024];
	fputs("password: ", stderr);
	bool ok = read_line(stdin, pw, len);
	fputs("\nagain: ", stderr);
	ok = ok && read_line(stdin, again, sizeof again);
	fputc('\n', stderr);
	tcsetattr(STDIN_FILENO, TCSANOW, &old);
	if (ok && strcmp(pw, again) != 0) {
		fprintf(stderr, "user add: the two passwords differ\n");
		ok = false;
	}
	explicit_bzero(again, sizeof again);
	return ok;
}

static int user_add(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "user add";
	const char *role = NULL, *pwfile = NULL, *pos[1];
	const struct ctl_opt opts[] = {
		{"--role", &role, false}, {"--password-file", &pwfile, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, pos, 1, what, usage_user);
	if (rc >= 0)
		return rc;
	if (!name_valid(pos[0]))
		return ctl_usage_error(usage_user,
				       "%s: NAME must be 1-63 of a-z, 0-9, _ starting with a letter "
				       "(and not pg_* or voucher_*)",
				       what);
	const char *group = !role                      ? NULL
			    : !strcmp(role, "finance") ? "voucher_finance"
			    : !strcmp(role, "auditor") ? "voucher_auditor"
			    : !strcmp(role, "notice")  ? "voucher_notice"
						       : NULL;
	if (!group)
		return ctl_usage_error(usage_user, "%s: --role finance, auditor or notice is required", what);
	char pw[1024];
	if (!read_password(pwfile, pw, sizeof pw))
		return CTL_FAIL;
	if (strlen(pw) < 8) {
		explicit_bzero(pw, sizeof pw);
		fprintf(stderr, "%s: the password must have at least 8 characters; nothing was created\n", what);
		return CTL_FAIL;
	}
	PGconn *c = ctl_conn(ctx);
	if (!c) {
		explicit_bzero(pw, sizeof pw);
		return CTL_FAIL;
	}
	char *verifier = PQencryptPasswordConn(c, pw, pos[0], "scram-sha-256");
	explicit_bzero(pw, sizeof pw);
	if (!verifier) {
		fprintf(stderr, "%s: %s", what, PQerrorMessage(c));
		return CTL_FAIL;
	}
	rc = CTL_FAIL;
	const char *p[] = {pos[0], verifier, group};
	PGresult *r = NULL;
	if (!db_begin(c))
		goto done;
	r = db_exec(c, what, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, p);
	if (!r)
		goto failed;
	if (PQntuples(r) > 0) {
		fprintf(stderr, "%s: a role %s exists already; nothing was created\n", what, pos[0]);
		goto failed;
	}
	PQclear(r);
	/* DDL takes no parameters: the statement is built by format() with %I
	 * and %L, from parameters */
	r = db_exec(c, what,
		    "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', $1::text, $2::text, $3::text)", 3, p);
	if (!r)
		goto failed;
	if (!db_run(c, what, PQgetvalue(r, 0, 0), 0, NULL)) {
		fprintf(stderr, "%s: (creating roles needs a superuser or CREATEROLE)\n", what);
		goto failed;
	}
	if (!db_commit(c))
		goto done;
	printf("created login role %s (%s); it signs in with its own password\n", pos[0], group);
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
	fprintf(stderr, "%s: nothing was created\n", what);
done:
	PQclear(r);
	PQfreemem(verifier);
	return rc;
}

int cmd_user(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {{"add", user_add}, {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "user", subs, usage_user);
}
