#include "daemon/writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "daemon/pghosts.h"

/* Each batch's ingest_batch opens one subtransaction (its fast path); past 64
 * in one transaction PostgreSQL's per-backend subtransaction cache overflows
 * and every other session's snapshots get slower. */
#define GROUP_LIMIT 64
#define CONNECT_TIMEOUT_S 10
#define RETRY_MAX_ATTEMPTS 3

typedef enum { WC_DOWN, WC_CONNECTING, WC_IDLE, WC_BUSY } wc_state_t;

typedef struct wconn {
	writer_t *w;
	int id;
	PGconn *pg;
	wc_state_t state;
	int sock;
	struct event *rev;   /* readable (persistent while connected) */
	struct event *wev;   /* writable (armed while output is pending) */
	struct event *timer; /* reconnect backoff / connect timeout */
	PostgresPollingStatusType poll;
	int failures;        /* consecutive failed connection attempts */
	int tried;           /* the host index this connection's attempt started at */
	bool was_up;         /* connected at least once: the next connection is a reconnection */
	int64_t up_since_ms; /* when the current connection became ready */

	/* the group in flight: results arrive as BEGIN, jobs..., COMMIT, SYNC */
	wjob_t **group;
	int ngroup;
	int cur;           /* index of the statement whose result comes next: 0 BEGIN, 1..n, n+1 COMMIT */
	bool have_result;  /* a result of statement cur arrived; a NULL ends it */
	bool failed;       /* some statement of the group failed */
	bool rolling_back; /* a ROLLBACK + Sync was sent after a failed group */
	bool committed;
	char first_error[256];
	char first_state[6];
} wconn_t;

struct writer {
	struct event_base *base;
	pghosts_t hosts;
	int start; /* the host the next attempt starts at: the one last found primary */
	int connect_timeout_s;
	int reply_timeout_s; /* a transaction without its answer this long is given up on */
	char primary[256];   /* host:port of the node last connected to */
	uint64_t switches;   /* times a connection found the primary elsewhere than before */
	wconn_t *conns;
	int nconns;
	int group_max;
	size_t queue_max;
	wjob_t *head, *tail;
	size_t queued;
	size_t in_flight;
	bool known_down; /* every connection failed since the last success */
	bool closing;
	writer_stats_t st;
};

static void conn_start(wconn_t *c);
static int64_t mono_ms(void);
static void conn_lost(wconn_t *c, const char *why);
static void conn_io(evutil_socket_t fd, short what, void *arg);
static void kick(writer_t *w);

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------------------- queue */

static void push_back(writer_t *w, wjob_t *j)
{
	j->next = NULL;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->queued++;
}

static void push_front(writer_t *w, wjob_t *j)
{
	j->next = w->head;
	w->head = j;
	if (!w->tail)
		w->tail = j;
	w->queued++;
}

static wjob_t *pop_front(writer_t *w)
{
	wjob_t *j = w->head;
	if (!j)
		return NULL;
	w->head = j->next;
	if (!w->head)
		w->tail = NULL;
	j->next = NULL;
	w->queued--;
	return j;
}

static void finish_job(wjob_t *j, wjob_status_t st)
{
	j->status = st;
	if (st != WJOB_OK && j->result) {
		PQclear(j->result);
		j->result = NULL;
	}
	j->done(j); /* may free j */
}

static void fail_queue(writer_t *w)
{
	wjob_t *j;
	while ((j = pop_front(w)) != NULL) {
		snprintf(j->error, sizeof j->error, "database unavailable");
		finish_job(j, WJOB_DB_DOWN);
	}
}

/* ----------------------------------------------------------------- connections */

static int conns_up(const writer_t *w)
{
	int n = 0;
	for (int i = 0; i < w->nconns; i++)
		n += w->conns[i].state == WC_IDLE || w->conns[i].state == WC_BUSY;
	return n;
}

static void update_known_down(writer_t *w)
{
	bool all_failed = true;
	for (int i = 0; i < w->nconns; i++) {
		wconn_t *c = &w->conns[i];
		if (c->state == WC_IDLE || c->state == WC_BUSY || c->failures == 0)
			all_failed = false;
	}
	if (all_failed && !w->known_down && !w->closing) {
		w->known_down = true;
		log_warn("db_unavailable", "queued=%zu", w->queued);
	}
	if (w->known_down && conns_up(w) == 0)
		fail_queue(w);
}

static void conn_clear_events(wconn_t *c)
{
	if (c->rev) {
		event_free(c->rev);
		c->rev = NULL;
	}
	if (c->wev) {
		event_free(c->wev);
		c->wev = NULL;
	}
	c->sock = -1;
}

static void conn_arm(wconn_t *c, bool want_write)
{
	int s = PQsocket(c->pg);
	if (s != c->sock) {
		conn_clear_events(c);
		c->sock = s;
		if (s < 0)
			return;
		c->rev = event_new(c->w->base, s, EV_READ | EV_PERSIST, conn_io, c);
		c->wev = event_new(c->w->base, s, EV_WRITE, conn_io, c);
		event_add(c->rev, NULL);
	}
	if (want_write)
		event_add(c->wev, NULL);
	else
		event_del(c->wev);
}

static void arm_timer(wconn_t *c, long us)
{
	struct timeval tv = {us / 1000000, us % 1000000};
	evtimer_add(c->timer, &tv);
}

static void retry_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	wconn_t *c = arg;
	if (c->state == WC_CONNECTING) {
		/* the connect timeout fired: a host that accepts connections and
		 * never answers (frozen, cut off) held the attempt.  The next one
		 * starts past the host libpq was trying (it names it while
		 * connecting), or else past the one this attempt started at. */
		writer_t *w = c->w;
		int stuck = pghosts_find(&w->hosts, PQhost(c->pg), PQport(c->pg));
		if (stuck < 0)
			stuck = c->tried;
		log_warn("db_connect_timeout", "conn=%d host=%s", c->id, log_q(w->hosts.label[stuck]));
		if (w->hosts.nhosts > 1 && w->start == c->tried)
			w->start = (stuck + 1) % w->hosts.nhosts;
		PQfinish(c->pg);
		c->pg = NULL;
		conn_clear_events(c);
		c->state = WC_DOWN;
		c->failures++;
		update_known_down(c->w);
		arm_timer(c, 500000);
		return;
	}
	if (c->state == WC_BUSY) {
		/* no answer to a transaction sent reply_timeout_s ago: the server
		 * is hung or cut off.  Its fate is unknown, as when a connection
		 * breaks: run it again elsewhere (storing is idempotent). */
		char why[96];
		snprintf(why, sizeof why, "no answer within %d s", c->w->reply_timeout_s);
		log_warn("db_reply_timeout", "conn=%d host=%s in_flight=%d", c->id, log_q(c->w->primary), c->ngroup);
		conn_lost(c, why);
		return;
	}
	if (c->state == WC_DOWN && !c->w->closing)
		conn_start(c);
}

/* The connection broke: re-run what was in flight elsewhere, or fail it. */
static void conn_lost(wconn_t *c, const char *why)
{
	writer_t *w = c->w;
	bool was_up = c->state == WC_IDLE || c->state == WC_BUSY;
	if (was_up && !w->closing)
		log_warn("db_connection_lost", "conn=%d in_flight=%d reason=%s", c->id, c->ngroup, log_q(why));
	for (int i = c->ngroup - 1; i >= 0; i--) {
		wjob_t *j = c->group[i];
		w->in_flight--;
		if (j->result) {
			PQclear(j->result);
			j->result = NULL;
		}
		if (++j->attempts < RETRY_MAX_ATTEMPTS && !w->closing) {
			j->alone = true;
			push_front(w, j);
		} else {
			snprintf(j->error, sizeof j->error, "database connection lost");
			finish_job(j, WJOB_DB_DOWN);
		}
	}
	c->ngroup = 0;
	c->rolling_back = false;
	evtimer_del(c->timer);
	PQfinish(c->pg);
	c->pg = NULL;
	conn_clear_events(c);
	c->state = WC_DOWN;
	/* an attempt that failed counts towards "the database is down" (the
	 * queue is failed when every connection has failed); a connection that
	 * was up and broke (the server went away, the primary moved, no answer)
	 * is first tried again, and its jobs wait for that attempt: at once, or
	 * after 250 ms if it broke within a second of connecting, so that a
	 * server dropping every connection is not retried in a tight loop (the
	 * jobs' own attempts are counted all the same) */
	bool brief = was_up && mono_ms() - c->up_since_ms < 1000;
	if (!was_up)
		c->failures++;
	w->st.reconnects++;
	update_known_down(w);
	if (!w->closing) {
		/* first retry at once (after 250 ms if the connection lasted under a
		 * second), then 250 ms, 500 ms, 1 s, capped at 1 s */
		long us = brief              ? 250000
			  : c->failures <= 1 ? 1000
			  : c->failures == 2 ? 250000
			  : c->failures == 3 ? 500000
					     : 1000000;
		arm_timer(c, us);
	}
	kick(w); /* other connections may take the re-queued jobs */
}

static void conn_start(wconn_t *c)
{
	writer_t *w = c->w;
	const char *const *keys, *const *vals;
	c->tried = w->start;
	pghosts_params(&w->hosts, c->tried, &keys, &vals);
	c->pg = PQconnectStartParams(keys, vals, 0);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		c->state = WC_CONNECTING; /* conn_lost expects a state */
		conn_lost(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	c->state = WC_CONNECTING;
	c->poll = PGRES_POLLING_WRITING;
	c->sock = -1;
	conn_arm(c, true);
	arm_timer(c, w->connect_timeout_s * 1000000L);
}

/* Which node the connection reached: the next attempts start there, and a
 * node other than the last one is a switch of primary. */
static void conn_note_host(wconn_t *c)
{
	writer_t *w = c->w;
	const char *host = PQhost(c->pg), *port = PQport(c->pg);
	char label[256];
	snprintf(label, sizeof label, "%s:%s", host ? host : "", port ? port : "");
	int i = pghosts_find(&w->hosts, host, port);
	if (i >= 0)
		w->start = i;
	if (w->primary[0] && strcmp(w->primary, label) != 0) {
		w->switches++;
		log_warn("db_primary_changed", "conn=%d from=%s to=%s switches=%" PRIu64, c->id, log_q(w->primary),
			 log_q(label), w->switches);
	}
	snprintf(w->primary, sizeof w->primary, "%s", label);
}

static void notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void conn_connect_step(wconn_t *c)
{
	c->poll = PQconnectPoll(c->pg);
	switch (c->poll) {
	case PGRES_POLLING_FAILED: {
		char msg[256];
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(c->pg));
		msg[strcspn(msg, "\n")] = '\0';
		if (c->failures == 0 || c->failures % 20 == 0)
			log_warn("db_connect_failed", "conn=%d reason=%s", c->id, log_q(msg));
		evtimer_del(c->timer);
		conn_lost(c, msg);
		return;
	}
	case PGRES_POLLING_OK: break;
	case PGRES_POLLING_READING: conn_arm(c, false); return;
	default: conn_arm(c, true); return;
	}
	evtimer_del(c->timer);
	if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
		conn_lost(c, "cannot enter non-blocking pipeline mode");
		return;
	}
	PQsetNoticeProcessor(c->pg, notice_ignore, NULL);
	conn_note_host(c);
	c->state = WC_IDLE;
	bool recovered = c->w->known_down || c->failures > 0 || c->was_up;
	c->was_up = true;
	c->up_since_ms = mono_ms();
	c->failures = 0;
	c->w->known_down = false;
	conn_arm(c, false);
	log_info(recovered ? "db_reconnected" : "db_connected", "conn=%d host=%s", c->id, log_q(c->w->primary));
	kick(c->w);
}

/* ----------------------------------------------------------------- groups */

static bool send_group(wconn_t *c)
{
	PGconn *pg = c->pg;
	if (!PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
		return false;
	for (int i = 0; i < c->ngroup; i++) {
		wjob_t *j = c->group[i];
		if (!PQsendQueryParams(pg, j->sql, j->nparams, NULL, j->values, j->lengths, j->formats, 0))
			return false;
	}
	if (!PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
		return false;
	if (!PQpipelineSync(pg))
		return false;
	int f = PQflush(pg);
	if (f < 0)
		return false;
	conn_arm(c, f == 1);
	return true;
}

static void start_group(writer_t *w, wconn_t *c)
{
	c->ngroup = 0;
	wjob_t *j = pop_front(w);
	c->group[c->ngroup++] = j;
	if (!j->alone && j->groupable) {
		while (c->ngroup < w->group_max && w->head && w->head->groupable && !w->head->alone)
			c->group[c->ngroup++] = pop_front(w);
	}
	w->in_flight += (size_t)c->ngroup;
	c->cur = 0;
	c->have_result = false;
	c->failed = false;
	c->rolling_back = false;
	c->committed = false;
	c->first_error[0] = '\0';
	c->first_state[0] = '\0';
	c->state = WC_BUSY;
	arm_timer(c, w->reply_timeout_s * 1000000L);
	if (!send_group(c)) {
		char msg[256];
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(c->pg));
		msg[strcspn(msg, "\n")] = '\0';
		conn_lost(c, msg);
	}
}

static void kick(writer_t *w)
{
	if (w->closing)
		return;
	for (int i = 0; i < w->nconns && w->head; i++)
		if (w->conns[i].state == WC_IDLE)
			start_group(w, &w->conns[i]);
}

static bool retryable_state(const char *s)
{
	/* serialization failure, deadlock: the same work may succeed again */
	return !strcmp(s, "40001") || !strcmp(s, "40P01");
}

bool writer_sqlstate_db_fault(const char *s)
{
	if (!s || strlen(s) != 5)
		return true;
	static const char *const classes[] = {"08", "53", "57", "58"};
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (!strncmp(s, classes[i], 2))
			return true;
	static const char *const states[] = {"25006", "40001", "40P01", "55P03", "42501"};
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		if (!strcmp(s, states[i]))
			return true;
	return false;
}

static void group_done(wconn_t *c)
{
	writer_t *w = c->w;
	int n = c->ngroup;
	c->ngroup = 0;
	c->state = WC_IDLE;
	evtimer_del(c->timer);
	w->in_flight -= (size_t)n;
	if (c->committed) {
		w->st.groups_committed++;
		w->st.jobs_committed += (uint64_t)n;
		for (int i = 0; i < n; i++)
			finish_job(c->group[i], WJOB_OK);
	} else if (n > 1) {
		/* re-run each alone, in the original order */
		w->st.groups_split++;
		for (int i = n - 1; i >= 0; i--) {
			wjob_t *j = c->group[i];
			if (j->result) {
				PQclear(j->result);
				j->result = NULL;
			}
			j->alone = true;
			push_front(w, j);
		}
		log_warn("db_group_split", "conn=%d jobs=%d sqlstate=%s reason=%s", c->id, n, c->first_state,
			 log_q(c->first_error));
	} else {
		wjob_t *j = c->group[0];
		if (retryable_state(c->first_state) && ++j->attempts < RETRY_MAX_ATTEMPTS) {
			push_front(w, j);
		} else {
			snprintf(j->error, sizeof j->error, "%s", c->first_error);
			snprintf(j->sqlstate, sizeof j->sqlstate, "%s", c->first_state);
			log_emit(writer_sqlstate_db_fault(c->first_state) ? LOG_WARN : LOG_ERROR, "db_statement_failed",
				 "sqlstate=%s reason=%s", c->first_state, log_q(c->first_error));
			finish_job(j, WJOB_ERROR);
		}
	}
	kick(w);
}

static void take_result(wconn_t *c, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	int n = c->ngroup;
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok && !c->failed) {
		c->failed = true;
		const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(c->first_error, sizeof c->first_error, "%s",
			 m                              ? m
			 : st == PGRES_PIPELINE_ABORTED ? "pipeline aborted"
							: PQresStatus(st));
		snprintf(c->first_state, sizeof c->first_state, "%s", s ? s : "");
	}
	if (c->cur >= 1 && c->cur <= n && ok) {
		wjob_t *j = c->group[c->cur - 1];
		if (j->result)
			PQclear(j->result);
		j->result = r;
		return;
	}
	if (c->cur == n + 1 && ok && !c->failed && !strcmp(PQcmdStatus(r), "COMMIT"))
		c->committed = true;
	PQclear(r);
}

/* With several hosts, a transaction refused because the node became read
 * only (25006: demoted to a standby in place) or is shutting down (57P01-3)
 * means the primary moved.  With one host there is nowhere else to go: the
 * failure is the database's (writer_sqlstate_db_fault) and answered 503. */
static bool stepped_down(const wconn_t *c)
{
	const char *s = c->first_state;
	return c->failed && c->w->hosts.nhosts > 1 &&
	       (!strcmp(s, "25006") || !strcmp(s, "57P01") || !strcmp(s, "57P02") || !strcmp(s, "57P03"));
}

static void conn_read_results(wconn_t *c)
{
	if (!PQconsumeInput(c->pg)) {
		char msg[256];
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(c->pg));
		msg[strcspn(msg, "\n")] = '\0';
		conn_lost(c, msg);
		return;
	}
	while (c->state == WC_BUSY && !PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (!r) {
			if (c->have_result) {
				c->have_result = false;
				c->cur++;
				continue;
			}
			break;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			if (!c->committed && !c->rolling_back && stepped_down(c)) {
				/* the node is no longer the primary (a standby now, or
				 * shutting down): find the one that is, and run the
				 * group again there */
				conn_lost(c, c->first_error);
				return;
			}
			/* after an error inside BEGIN ... COMMIT the server stays in the
			 * aborted transaction past the Sync: end it before anything else */
			if (!c->committed && !c->rolling_back && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
				c->rolling_back = true;
				if (!PQsendQueryParams(c->pg, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0) ||
				    !PQpipelineSync(c->pg) || PQflush(c->pg) < 0) {
					conn_lost(c, "cannot send ROLLBACK");
					return;
				}
				c->cur = c->ngroup + 2; /* results of ROLLBACK are not job results */
				continue;
			}
			c->rolling_back = false;
			group_done(c);
			return; /* group_done may have started the next group on c */
		}
		c->have_result = true;
		take_result(c, r);
	}
	if (c->state == WC_IDLE) {
		/* an idle connection should get nothing; drain notifications */
		PGnotify *nt;
		while ((nt = PQnotifies(c->pg)) != NULL)
			PQfreemem(nt);
	}
	if (PQstatus(c->pg) == CONNECTION_BAD)
		conn_lost(c, "connection closed by the server");
}

static void conn_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	wconn_t *c = arg;
	if (c->state == WC_CONNECTING) {
		conn_connect_step(c);
		return;
	}
	if (c->state == WC_DOWN)
		return;
	if (what & EV_WRITE) {
		int f = PQflush(c->pg);
		if (f < 0) {
			conn_lost(c, "write failed");
			return;
		}
		conn_arm(c, f == 1);
	}
	if (what & EV_READ)
		conn_read_results(c);
}

/* ----------------------------------------------------------------- API */

writer_t *writer_new(struct event_base *base, const char *conninfo, const writer_opts_t *o, char *err, size_t errlen)
{
	writer_t *w = xcalloc(1, sizeof *w);
	if (!pghosts_parse(&w->hosts, conninfo, err, errlen)) {
		free(w);
		return NULL;
	}
	int nconns = o->connections, group_max = o->group_max;
	size_t queue_max = o->queue_max;
	w->base = base;
	w->connect_timeout_s = w->hosts.connect_timeout_s >= 1 ? w->hosts.connect_timeout_s : CONNECT_TIMEOUT_S;
	w->reply_timeout_s = o->reply_timeout_s >= 1 ? o->reply_timeout_s : 30;
	w->nconns = nconns;
	w->queue_max = queue_max;
	w->group_max = group_max < 1 ? 1 : group_max > GROUP_LIMIT ? GROUP_LIMIT : group_max;
	w->conns = xcalloc((size_t)nconns, sizeof *w->conns);
	w->st.conns_total = nconns;
	for (int i = 0; i < nconns; i++) {
		wconn_t *c = &w->conns[i];
		c->w = w;
		c->id = i;
		c->sock = -1;
		c->group = xcalloc((size_t)w->group_max, sizeof *c->group);
		c->timer = evtimer_new(base, retry_timer_cb, c);
		conn_start(c);
	}
	return w;
}

wjob_status_t writer_submit(writer_t *w, wjob_t *job)
{
	if (w->closing || w->known_down || w->queued >= w->queue_max)
		return WJOB_DB_DOWN;
	job->status = WJOB_OK;
	job->result = NULL;
	job->error[0] = '\0';
	job->sqlstate[0] = '\0';
	job->attempts = 0;
	job->alone = false;
	push_back(w, job);
	kick(w);
	return WJOB_OK;
}

bool writer_queue_full(const writer_t *w)
{
	return w->queued >= w->queue_max;
}

bool writer_db_up(const writer_t *w)
{
	return conns_up(w) > 0;
}

bool writer_idle(const writer_t *w)
{
	return w->queued == 0 && w->in_flight == 0;
}

void writer_get_stats(const writer_t *w, writer_stats_t *st)
{
	*st = w->st;
	st->queued = w->queued;
	st->in_flight = w->in_flight;
	st->conns_up = conns_up(w);
	st->conns_total = w->nconns;
	st->primary = w->primary;
	st->primary_switches = w->switches;
	st->hosts = w->hosts.nhosts;
}

void writer_free(writer_t *w)
{
	if (!w)
		return;
	w->closing = true;
	for (int i = 0; i < w->nconns; i++) {
		wconn_t *c = &w->conns[i];
		if (c->pg)
			conn_lost(c, "shutting down");
		evtimer_del(c->timer);
		event_free(c->timer);
		free(c->group);
	}
	fail_queue(w);
	free(w->conns);
	pghosts_free(&w->hosts);
	free(w);
}
