#include "common/db.h"

#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/money.h"

static char last_state[6];

PGconn *db_connect(const char *conninfo, const char *prog, bool need_primary)
{
	if (!conninfo)
		conninfo = getenv("VOUCHER_DB");
	if (!conninfo)
		conninfo = "";
	/* target_session_attrs before dbname: the conninfo's own value wins */
	const char *keys[] = {"target_session_attrs", "dbname", "fallback_application_name", "options", NULL};
	/* dates and times are shown in China Standard Time unless PGTZ says otherwise */
	const char *opts = getenv("PGTZ") ? "-c client_min_messages=warning"
					  : "-c client_min_messages=warning -c TimeZone=Asia/Shanghai";
	const char *vals[] = {need_primary ? "read-write" : "any", conninfo, prog, opts, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c) {
		fprintf(stderr, "%s: out of memory connecting to the database\n", prog);
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(c);
		fprintf(stderr,
			"%s: cannot connect to the database: %s"
			"  (give --db CONNINFO, or set VOUCHER_DB or the PG* variables)\n",
			prog, msg);
		if (strstr(msg, "does not exist") && strstr(msg, "database"))
			fprintf(stderr,
				"  the database is missing: create it as a PostgreSQL superuser, for example\n"
				"    createdb -O postgres -E UTF8 voucher     (or: psql -c 'CREATE DATABASE voucher')\n"
				"  then run 'voucherctl --db \"... dbname=voucher\" migrate' as a superuser: it creates\n"
				"  the roles voucher_owner, voucher_ingest, voucher_finance, voucher_auditor and the schema\n");
		PQfinish(c);
		return NULL;
	}
	PQsetClientEncoding(c, "UTF8");
	return c;
}

PGresult *db_exec(PGconn *c, const char *what, const char *sql, int nparams, const char *const *params)
{
	last_state[0] = '\0';
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	snprintf(last_state, sizeof last_state, "%s", state ? state : "");
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	fprintf(stderr, "%s: %s%s%s\n", what, msg ? msg : PQerrorMessage(c), detail ? " — " : "", detail ? detail : "");
	PQclear(r);
	return NULL;
}

bool db_run(PGconn *c, const char *what, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = db_exec(c, what, sql, nparams, params);
	if (!r)
		return false;
	PQclear(r);
	return true;
}

PGresult *db_query(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	if (err && errlen)
		snprintf(err, errlen, "%s", PQerrorMessage(c));
	PQclear(r);
	return NULL;
}

PGresult *db_query_msg(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
	if (err && errlen) {
		snprintf(err, errlen, "%s%s%s", msg ? msg : PQerrorMessage(c), detail ? " — " : "",
			 detail ? detail : "");
		size_t k = strlen(err);
		while (k && (err[k - 1] == '\n' || err[k - 1] == ' '))
			err[--k] = '\0';
	}
	PQclear(r);
	return NULL;
}

bool db_command(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
{
	PGresult *r = db_query(c, sql, n, params, err, errlen);
	PQclear(r);
	return r != NULL;
}

/* The write functions of the database (sql/006_integrity.sql) take the
 * ingest barrier themselves: no role may take it by hand. */
bool db_begin(PGconn *c)
{
	return db_run(c, "begin", "BEGIN", 0, NULL);
}

bool db_commit(PGconn *c)
{
	return db_run(c, "commit", "COMMIT", 0, NULL);
}

void db_rollback(PGconn *c)
{
	PQclear(PQexec(c, "ROLLBACK"));
}

static bool get_i64(const PGresult *r, int row, int col, const char *name, bool null_ok, int64_t *out, bool *is_null,
		    char *err, size_t errlen)
{
	if (!r || row < 0 || row >= PQntuples(r) || col < 0 || col >= PQnfields(r)) {
		if (err && errlen)
			snprintf(err, errlen, "%s (row %d): no such field in the result", name, row);
		return false;
	}
	if (PQgetisnull(r, row, col)) {
		if (null_ok) {
			*is_null = true;
			*out = 0;
			return true;
		}
		if (err && errlen)
			snprintf(err, errlen, "%s (row %d): NULL", name, row);
		return false;
	}
	const char *v = PQgetvalue(r, row, col);
	int64_t x;
	if (!money_parse_i64(v, &x)) {
		if (err && errlen)
			snprintf(err, errlen, "%s (row %d): '%.40s' is not a 64-bit integer", name, row, v);
		return false;
	}
	if (is_null)
		*is_null = false;
	*out = x;
	return true;
}

bool db_get_i64(const PGresult *r, int row, int col, const char *name, int64_t *out, char *err, size_t errlen)
{
	return get_i64(r, row, col, name, false, out, NULL, err, errlen);
}

bool db_get_i64_null(const PGresult *r, int row, int col, const char *name, int64_t *out, bool *is_null, char *err,
		     size_t errlen)
{
	return get_i64(r, row, col, name, true, out, is_null, err, errlen);
}

void db_array_add(buf_t *b, const char *s)
{
	buf_putc(b, b->len == 0 ? '{' : ',');
	if (!s) {
		buf_puts(b, "NULL");
		return;
	}
	buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

void db_array_end(buf_t *b)
{
	if (b->len == 0)
		buf_putc(b, '{');
	buf_putc(b, '}');
}

const char *db_last_sqlstate(void)
{
	return last_state;
}
