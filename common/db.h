/* db: small helpers around libpq for the command-line tools (blocking use).
 * The daemon talks to the database through daemon/writer (non-blocking). */
#ifndef VOUCHER_DB_H
#define VOUCHER_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* Connects with conninfo if not NULL, else $VOUCHER_DB, else libpq's PG*
 * variables.  On failure prints a message naming what to check to stderr and
 * returns NULL.  application_name is set to prog.  A conninfo may name
 * several hosts ("host=a,b port=5432,5432"): with need_primary the first one
 * that accepts writes is taken (target_session_attrs=read-write), otherwise
 * the first that answers (a standby will do); a target_session_attrs in the
 * conninfo itself wins. */
PGconn *db_connect(const char *conninfo, const char *prog, bool need_primary);

/* PQexecParams with text parameters and text results.  Returns the result
 * if its status is PGRES_COMMAND_OK or PGRES_TUPLES_OK, else prints
 * "<what>: <server message>" to stderr, clears the result and returns NULL. */
PGresult *db_exec(PGconn *c, const char *what, const char *sql, int nparams, const char *const *params);
/* The same for statements whose result is not needed.  */
bool db_run(PGconn *c, const char *what, const char *sql, int nparams, const char *const *params)
	__attribute__((warn_unused_result));

/* For library code that reports through an error buffer instead of stderr:
 * PQexecParams with text parameters and text results (n 0 and params NULL
 * for a plain statement).  Returns the result if its status is
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK; else copies libpq's message
 * (PQerrorMessage, as the server sent it) into err, clears the result and
 * returns NULL.  Does not touch db_last_sqlstate(). */
PGresult *db_query(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* db_query with err holding the server's message as db_exec prints it
 * ("primary — detail", without libpq's "ERROR:  " and the line break): for
 * messages shown to people by library code. */
PGresult *db_query_msg(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The same for statements whose result is not needed. */
bool db_command(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
	__attribute__((warn_unused_result));

bool db_begin(PGconn *c) __attribute__((warn_unused_result));
bool db_commit(PGconn *c) __attribute__((warn_unused_result));
void db_rollback(PGconn *c);

/* The checked reader of integers from a result: amounts (fen), counts, ids,
 * epoch microseconds.  The field at (row, col) must be a whole number that
 * fits int64_t (money_parse_i64: no blanks, no fraction, no junk, no
 * overflow).  On failure returns false and, if err is given, says
 * "<name> (row N): NULL" or "<name> (row N): 'text' is not a 64-bit
 * integer"; *out is left alone, so a caller can never go on with 0.
 * db_get_i64 refuses NULL; db_get_i64_null takes it, setting *is_null (and
 * *out = 0). */
bool db_get_i64(const PGresult *r, int row, int col, const char *name, int64_t *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
bool db_get_i64_null(const PGresult *r, int row, int col, const char *name, int64_t *out, bool *is_null, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* A one-dimensional array literal in PostgreSQL's text form, for a
 * parameter: db_array_add appends one element (NULL: SQL NULL), quoted. */
struct buf;
void db_array_add(struct buf *b, const char *s);
/* Closes the literal ("{}" when nothing was added). */
void db_array_end(struct buf *b);

/* The SQLSTATE of the last error seen by db_exec/db_run ("" if none). */
const char *db_last_sqlstate(void);

#endif
