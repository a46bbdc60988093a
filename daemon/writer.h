/* writer: the daemon's path to PostgreSQL, driven by the event loop.
 *
 * A few libpq connections in non-blocking pipeline mode.  Jobs (one SQL
 * statement with parameters each) wait in one FIFO queue; an idle connection
 * takes up to group_max groupable jobs and runs them as one transaction:
 *   BEGIN; job 1; ...; job n; COMMIT; Sync
 * A job's done() is called only after its transaction's COMMIT has been
 * confirmed by the server.  If any job of a group fails, the transaction is
 * rolled back and each of its jobs is run again alone, so that one bad batch
 * costs only itself.  If a connection breaks with jobs in flight, their fate
 * is unknown: they are run again (the ingest function is idempotent) on
 * another connection, or failed with WJOB_DB_DOWN when none is up.
 * Broken connections reconnect by themselves with a short backoff.
 *
 * Following the primary: the conninfo may list several hosts (a failover
 * formation, docs/ha.md).  Each connection attempt then asks for a
 * read-write session, starting at the host last found primary; an attempt
 * whose first host does not answer within connect_timeout starts at the next
 * one.  A transaction with no answer within reply_timeout_s, or refused
 * because its node stepped down (25006 read-only, 57P0x shutting down), is
 * treated as a broken connection: reopened on the primary, the group run
 * again.  Each node reached other than the last is counted as a switch.
 *
 * Ownership: the caller owns the job memory and the parameter buffers; they
 * must stay valid until done() is called.  done() is called exactly once per
 * accepted job; on WJOB_OK it receives job->result and must PQclear() it.
 * The writer never touches a job after calling done(), so done() may free it.
 */
#ifndef VOUCHER_WRITER_H
#define VOUCHER_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <libpq-fe.h>

#define WJOB_MAX_PARAMS 32

typedef enum {
	WJOB_OK = 0,
	WJOB_DB_DOWN, /* no connection to the database: answer 503 */
	WJOB_ERROR,   /* the statement failed on its own: error[] says why */
} wjob_status_t;

typedef struct wjob wjob_t;
typedef void (*wjob_done_fn)(wjob_t *job);

struct wjob {
	const char *sql;
	int nparams;
	const char *values[WJOB_MAX_PARAMS];
	int lengths[WJOB_MAX_PARAMS];
	int formats[WJOB_MAX_PARAMS]; /* 0 text, 1 binary */
	bool groupable;               /* may share a transaction with others */
	wjob_done_fn done;
	void *arg;

	wjob_status_t status;
	PGresult *result;
	char error[256];
	char sqlstate[6];

	/* writer-private */
	wjob_t *next;
	int attempts;
	bool alone;
};

typedef struct writer writer_t;

typedef struct writer_stats {
	size_t queued;    /* jobs waiting */
	size_t in_flight; /* jobs sent, not yet done */
	int conns_up;
	int conns_total;
	uint64_t groups_committed;
	uint64_t jobs_committed;
	uint64_t groups_split; /* groups rolled back and re-run job by job */
	uint64_t reconnects;
	const char *primary;       /* host:port of the node last connected to ("" before any) */
	uint64_t primary_switches; /* times the primary was found on another node */
	int hosts;                 /* hosts in the conninfo */
} writer_stats_t;

typedef struct writer_opts {
	int connections;
	size_t queue_max;
	int group_max;
	int reply_timeout_s; /* database.reply_timeout_s */
} writer_opts_t;

/* NULL with err if the conninfo cannot be parsed (see daemon/pghosts.h). */
writer_t *writer_new(struct event_base *base, const char *conninfo, const writer_opts_t *o, char *err, size_t errlen);
/* Queues a job.  Returns WJOB_OK if queued (done() will be called), or
 * WJOB_DB_DOWN if the database is known to be unreachable or the queue is full;
 * then done() is never called. */
wjob_status_t writer_submit(writer_t *w, wjob_t *job) __attribute__((warn_unused_result));
bool writer_queue_full(const writer_t *w);
bool writer_db_up(const writer_t *w);
void writer_get_stats(const writer_t *w, writer_stats_t *st);
/* True when nothing is queued or in flight. */
bool writer_idle(const writer_t *w);
/* Whether a failed statement's SQLSTATE (job->sqlstate) is the database's own
 * failure rather than the job's: connection (class 08), resources such as a
 * full disk (53), operator intervention and cancels (57), system and I/O
 * errors (58), a read-only database or standby (25006), serialization
 * failures and deadlocks left after the retries (40001, 40P01), a lock not
 * available (55P03), missing privileges, a deployment problem (42501), and
 * no SQLSTATE at all (libpq's own errors).  Anything else from a job the
 * caller validated is a bug in the caller or the SQL. */
bool writer_sqlstate_db_fault(const char *sqlstate);
/* Closes the connections; jobs still queued get WJOB_DB_DOWN. */
void writer_free(writer_t *w);

#endif
