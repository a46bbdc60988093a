/* daemon/writer against a real PostgreSQL: the paths that need the database
 * to fail at the right moment.
 *
 *   - a group whose transaction fails is rolled back and split: each of its
 *     jobs runs again alone, in order, so that only the bad one fails
 *     (groups_split, the db_group_split line, the rows stored);
 *   - a job that fails alone with SQLSTATE 40001 (serialization failure) is
 *     run again, up to 3 attempts in all, then failed with its SQLSTATE;
 *   - following the primary: a conninfo whose first host is down, a
 *     transaction with no answer within reply_timeout_s, a node that says it
 *     is read only (stepped down) with two hosts and with one.
 *
 * The writer runs in the test process on its own event loop, with one
 * connection as the superuser of the test's own database.  The failures come
 * from that database: a statement that cannot run, a trigger that raises
 * 40001 while a (non-transactional) sequence is below a limit, and a real
 * conflict between two REPEATABLE READ updates of one row. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/writer.h"
#include "tests/integration/support.h"

static PGconn *db;
static char ci[256];
static struct event_base *base;
static writer_t *w;

/* the order in which jobs finished */
static wjob_t *finished[16];
static int nfinished;

/* stderr, where the writer logs, goes to a file while the writer runs */
static char logfile[300];
static int saved_stderr = -1;

static void job_done(wjob_t *j)
{
	cr_assert(nfinished < 16);
	finished[nfinished++] = j;
	if (j->result) {
		PQclear(j->result);
		j->result = NULL;
	}
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
		  PQerrorMessage(c));
	PQclear(r);
}

static void setup(void)
{
	db = t_newdb(ci, sizeof ci);
	exec_ok(db, "CREATE TABLE public.w (id integer PRIMARY KEY, v integer NOT NULL)");
	/* attempts are counted by a sequence: nextval is not undone by a rollback */
	exec_ok(db, "CREATE SEQUENCE public.attempts");
	/* rows with id >= 100 fail with 40001 while fewer than flaky_limit
	 * attempts were made (the limit is a database setting of the test) */
	exec_ok(db, "CREATE FUNCTION public.flaky() RETURNS trigger LANGUAGE plpgsql AS $$ "
		    "BEGIN "
		    "  IF nextval('public.attempts') <= current_setting('voucher_test.flaky_limit')::integer THEN "
		    "    RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = 'serialization_failure'; "
		    "  END IF; "
		    "  RETURN NEW; "
		    "END $$");
	exec_ok(db, "CREATE TRIGGER flaky BEFORE INSERT ON public.w FOR EACH ROW WHEN (NEW.id >= 100) "
		    "EXECUTE FUNCTION public.flaky()");
	nfinished = 0;
	const char *tmp = getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp";
	snprintf(logfile, sizeof logfile, "%s/writer-XXXXXX", tmp);
	int fd = mkstemp(logfile);
	cr_assert(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	base = event_base_new();
	cr_assert(base);
}

static void restore_stderr(void)
{
	if (saved_stderr >= 0) {
		fflush(stderr);
		dup2(saved_stderr, 2);
		close(saved_stderr);
		saved_stderr = -1;
	}
}

static void teardown(void)
{
	if (w)
		writer_free(w);
	w = NULL;
	if (base)
		event_base_free(base);
	base = NULL;
	restore_stderr();
	if (logfile[0])
		unlink(logfile);
	logfile[0] = '\0';
	if (db)
		PQfinish(db);
	db = NULL;
}

TestSuite(writer_db, .init = setup, .fini = teardown, .timeout = 60);

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* runs the event loop until cond() holds (10 s at most) */
static void pump_until(bool (*cond)(void), const char *what)
{
	double end = now_s() + 10;
	while (!cond()) {
		cr_assert(now_s() < end, "timed out waiting for %s", what);
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static int want_finished;
static bool all_finished(void)
{
	return nfinished >= want_finished;
}

/* the writer's log so far (stderr stays redirected); caller frees */
static char *writer_log(void)
{
	fflush(stderr);
	return t_slurp(logfile, NULL);
}

static int count_lines(const char *log, const char *needle)
{
	int n = 0;
	for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void insert_job(wjob_t *j, const char *id, const char *v)
{
	memset(j, 0, sizeof *j);
	j->sql = "INSERT INTO public.w (id, v) VALUES ($1::integer, $2::integer)";
	j->nparams = 2;
	j->values[0] = id;
	j->values[1] = v;
	j->lengths[0] = (int)strlen(id);
	j->lengths[1] = (int)strlen(v);
	j->groupable = true;
	j->done = job_done;
}

/* a writer with one connection, group_max 8, on conninfo */
static writer_t *new_writer(const char *conninfo, int reply_timeout_s)
{
	writer_opts_t o = {.connections = 1, .queue_max = 100, .group_max = 8, .reply_timeout_s = reply_timeout_s};
	char err[256];
	writer_t *x = writer_new(base, conninfo, &o, err, sizeof err);
	cr_assert(x, "%s", err);
	return x;
}

/* a writer with one connection, group_max 8; the jobs are queued before the
 * connection is up, so that its first group takes them all at once */
static void run_jobs(wjob_t *jobs, int n)
{
	w = new_writer(ci, 30);
	for (int i = 0; i < n; i++)
		cr_assert_eq(writer_submit(w, &jobs[i]), WJOB_OK);
	want_finished = n;
	pump_until(all_finished, "the jobs to finish");
	cr_assert(writer_idle(w));
}

static void flaky_limit(int n)
{
	char sql[200];
	snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" SET voucher_test.flaky_limit = %d", PQdb(db), n);
	exec_ok(db, sql);
}

static const char *ids(void)
{
	return t_scalar(db, "SELECT coalesce(string_agg(id || '=' || v, ',' ORDER BY id), '') FROM public.w");
}

Test(writer_db, a_failed_group_is_split_and_the_others_commit_alone)
{
	flaky_limit(0);
	wjob_t jobs[3];
	insert_job(&jobs[0], "1", "10");
	insert_job(&jobs[1], "2", "not a number"); /* 22P02: fails alone too */
	insert_job(&jobs[2], "3", "30");
	run_jobs(jobs, 3);

	/* each job once, in the original order */
	cr_assert_eq(nfinished, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(finished[i], &jobs[i], "job %d finished as number %d", (int)(finished[i] - jobs), i);
	cr_assert_eq(jobs[0].status, WJOB_OK);
	cr_assert_eq(jobs[2].status, WJOB_OK);
	cr_assert_eq(jobs[1].status, WJOB_ERROR);
	cr_assert_str_eq(jobs[1].sqlstate, "22P02", "%s", jobs[1].error);
	cr_assert_not(writer_sqlstate_db_fault(jobs[1].sqlstate));

	writer_stats_t st;
	writer_get_stats(w, &st);
	cr_assert_eq(st.groups_split, 1);
	cr_assert_eq(st.groups_committed, 2, "the two good jobs, each alone");
	cr_assert_eq(st.jobs_committed, 2);
	cr_assert_eq(st.reconnects, 0);
	cr_assert_str_eq(ids(), "1=10,3=30");

	char *log = writer_log();
	cr_assert_eq(count_lines(log, "event=db_group_split"), 1, "%s", log);
	cr_assert(strstr(log, "event=db_group_split conn=0 jobs=3 sqlstate=22P02 "), "%s", log);
	cr_assert_eq(count_lines(log, "event=db_statement_failed"), 1, "%s", log);
	cr_assert(strstr(log, "event=db_statement_failed sqlstate=22P02 "), "%s", log);
	free(log);
}

Test(writer_db, a_serialization_failure_alone_is_run_again)
{
	flaky_limit(1);
	wjob_t job;
	insert_job(&job, "100", "1");
	run_jobs(&job, 1);

	cr_assert_eq(job.status, WJOB_OK, "%s %s", job.sqlstate, job.error);
	cr_assert_str_eq(t_scalar(db, "SELECT last_value FROM public.attempts"), "2", "one failure, one retry");
	writer_stats_t st;
	writer_get_stats(w, &st);
	cr_assert_eq(st.groups_split, 0);
	cr_assert_eq(st.groups_committed, 1);
	cr_assert_eq(st.jobs_committed, 1);
	cr_assert_str_eq(ids(), "100=1");
	char *log = writer_log();
	cr_assert_eq(count_lines(log, "event=db_statement_failed"), 0, "%s", log);
	free(log);
}

Test(writer_db, serialization_failures_give_up_after_three_attempts)
{
	flaky_limit(1000);
	wjob_t job;
	insert_job(&job, "100", "1");
	run_jobs(&job, 1);

	cr_assert_eq(job.status, WJOB_ERROR);
	cr_assert_str_eq(job.sqlstate, "40001", "%s", job.error);
	cr_assert_str_eq(job.error, "injected serialization failure");
	/* the database's fault: the daemon answers 503, the client retries */
	cr_assert(writer_sqlstate_db_fault(job.sqlstate));
	cr_assert_str_eq(t_scalar(db, "SELECT last_value FROM public.attempts"), "3");
	writer_stats_t st;
	writer_get_stats(w, &st);
	cr_assert_eq(st.groups_committed, 0);
	cr_assert_eq(st.jobs_committed, 0);
	cr_assert_str_eq(ids(), "");
	char *log = writer_log();
	cr_assert_eq(count_lines(log, "event=db_statement_failed"), 1, "%s", log);
	cr_assert(strstr(log, "level=warn event=db_statement_failed sqlstate=40001 "), "%s", log);
	free(log);
}

/* 40001 inside a group: the group is split, and the job that fails again
 * alone with 40001 is retried once more and commits */
Test(writer_db, a_serialization_failure_in_a_group_splits_it_then_retries)
{
	flaky_limit(2);
	wjob_t jobs[3];
	insert_job(&jobs[0], "1", "10");
	insert_job(&jobs[1], "100", "20");
	insert_job(&jobs[2], "3", "30");
	run_jobs(jobs, 3);

	for (int i = 0; i < 3; i++) {
		cr_assert_eq(finished[i], &jobs[i]);
		cr_assert_eq(jobs[i].status, WJOB_OK, "job %d: %s %s", i, jobs[i].sqlstate, jobs[i].error);
	}
	/* in the group, alone, alone again */
	cr_assert_str_eq(t_scalar(db, "SELECT last_value FROM public.attempts"), "3");
	writer_stats_t st;
	writer_get_stats(w, &st);
	cr_assert_eq(st.groups_split, 1);
	cr_assert_eq(st.groups_committed, 3);
	cr_assert_eq(st.jobs_committed, 3);
	cr_assert_str_eq(ids(), "1=10,3=30,100=20");
	char *log = writer_log();
	cr_assert(strstr(log, "event=db_group_split conn=0 jobs=3 sqlstate=40001 "), "%s", log);
	cr_assert_eq(count_lines(log, "event=db_statement_failed"), 0, "%s", log);
	free(log);
}

/* a real conflict: the writer's REPEATABLE READ update waits for another
 * session's update of the same row, which commits; the writer gets 40001
 * ("could not serialize access due to concurrent update") and its retry, in a
 * new transaction, applies on top of the other update */
static PGconn *watch;
static bool writer_waits_for_lock(void)
{
	const char *n = t_scalar(watch, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
					"AND wait_event_type = 'Lock' AND query LIKE 'UPDATE public.w%'");
	return atoi(n) == 1;
}

Test(writer_db, a_real_serialization_conflict_is_retried)
{
	flaky_limit(0);
	exec_ok(db, "INSERT INTO public.w VALUES (1, 1)");
	char sql[200];
	snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" SET default_transaction_isolation = 'repeatable read'",
		 PQdb(db));
	exec_ok(db, sql);
	watch = PQconnectdb(ci);
	cr_assert(PQstatus(watch) == CONNECTION_OK, "%s", PQerrorMessage(watch));
	/* the test's session holds the row (it connected before the ALTER, and
	 * says so anyway) */
	exec_ok(db, "BEGIN ISOLATION LEVEL READ COMMITTED");
	exec_ok(db, "UPDATE public.w SET v = v + 1 WHERE id = 1");

	wjob_t job;
	memset(&job, 0, sizeof job);
	job.sql = "UPDATE public.w SET v = v + 10 + 0 * nextval('public.attempts') WHERE id = 1";
	job.groupable = true;
	job.done = job_done;
	w = new_writer(ci, 30);
	cr_assert_eq(writer_submit(w, &job), WJOB_OK);
	pump_until(writer_waits_for_lock, "the writer to wait for the row lock");
	exec_ok(db, "COMMIT");
	want_finished = 1;
	pump_until(all_finished, "the job to finish");
	PQfinish(watch);
	watch = NULL;

	cr_assert_eq(job.status, WJOB_OK, "%s %s", job.sqlstate, job.error);
	/* two attempts: the first failed with 40001 after the other commit */
	cr_assert_str_eq(t_scalar(db, "SELECT last_value FROM public.attempts"), "2");
	cr_assert_str_eq(ids(), "1=12");
	writer_stats_t st;
	writer_get_stats(w, &st);
	cr_assert_eq(st.groups_committed, 1);
	cr_assert_eq(st.groups_split, 0);
}

/* submits one job and runs the loop until it finished */
static void run_one(wjob_t *job)
{
	cr_assert_eq(writer_submit(w, job), WJOB_OK);
	want_finished = 1;
	pump_until(all_finished, "the job to finish");
}

/* "host=A,B port=PA,PB" around the test database: A the first host (port
 * pa), B the test's own; dbname and user as in ci */
static void two_hosts(char *out, size_t len, const char *a, const char *pa)
{
	PQconninfoOption *o = PQconninfoParse(ci, NULL);
	cr_assert(o);
	const char *host = "", *port = "5432", *dbname = "", *user = "";
	for (PQconninfoOption *p = o; p->keyword; p++) {
		if (!p->val)
			continue;
		if (!strcmp(p->keyword, "host"))
			host = p->val;
		else if (!strcmp(p->keyword, "port"))
			port = p->val;
		else if (!strcmp(p->keyword, "dbname"))
			dbname = p->val;
		else if (!strcmp(p->keyword, "user"))
			user = p->val;
	}
	snprintf(out, len, "host=%s,%s port=%s,%s dbname=%s user=%s connect_timeout=2", a ? a : host, host,
		 pa ? pa : port, port, dbname, user);
	PQconninfoFree(o);
}

Test(writer_db, the_first_host_down_the_second_is_found)
{
	char two[512];
	/* nothing listens on 127.0.0.1:1: refused at once, libpq goes on */
	two_hosts(two, sizeof two, "127.0.0.1", "1");
	w = new_writer(two, 30);
	wjob_t job;
	insert_job(&job, "1", "1");
	run_one(&job);
	cr_assert_eq(job.status, WJOB_OK, "%s %s", job.sqlstate, job.error);
	writer_stats_t st;
	writer_get_stats(w, &st);
	cr_assert_eq(st.hosts, 2);
	cr_assert_eq(st.primary_switches, 0);
	/* the second host, as libpq names it */
	cr_assert_not(strncmp(st.primary, "127.0.0.1:", 10) == 0, "%s", st.primary);
	char *log = writer_log();
	cr_assert(strstr(log, "event=db_connected conn=0 host="), "%s", log);
	free(log);
}

Test(writer_db, a_transaction_unanswered_is_given_up_and_run_again)
{
	/* the first attempt sleeps past reply_timeout_s = 1, the second not */
	w = new_writer(ci, 1);
	wjob_t job;
	memset(&job, 0, sizeof job);
	job.sql = "SELECT pg_sleep(CASE WHEN nextval('public.attempts') = 1 THEN 4 ELSE 0 END)";
	job.groupable = true;
	job.done = job_done;
	run_one(&job);
	cr_assert_eq(job.status, WJOB_OK, "%s %s", job.sqlstate, job.error);
	cr_assert_str_eq(t_scalar(db, "SELECT last_value FROM public.attempts"), "2");
	writer_stats_t st;
	writer_get_stats(w, &st);
	cr_assert_geq(st.reconnects, 1);
	char *log = writer_log();
	cr_assert(strstr(log, "event=db_reply_timeout conn=0"), "%s", log);
	cr_assert(strstr(log, "reason=\"no answer within 1 s\""), "%s", log);
	free(log);
}

/* a job refused with 25006 (read only) on its first attempt */
static void read_only_once_job(wjob_t *job)
{
	exec_ok(db, "CREATE OR REPLACE FUNCTION public.ro_once() RETURNS integer LANGUAGE plpgsql AS $$ "
		    "BEGIN "
		    "  IF nextval('public.attempts') = 1 THEN "
		    "    RAISE EXCEPTION 'cannot execute INSERT in a read-only transaction' "
		    "      USING ERRCODE = 'read_only_sql_transaction'; "
		    "  END IF; "
		    "  RETURN 1; "
		    "END $$");
	memset(job, 0, sizeof *job);
	job->sql = "SELECT public.ro_once()";
	job->groupable = true;
	job->done = job_done;
}

Test(writer_db, a_node_that_stepped_down_is_left_for_the_primary)
{
	/* two hosts (the same server twice): read only means the primary moved */
	char two[512];
	two_hosts(two, sizeof two, NULL, NULL);
	w = new_writer(two, 30);
	wjob_t job;
	read_only_once_job(&job);
	run_one(&job);
	cr_assert_eq(job.status, WJOB_OK, "%s %s", job.sqlstate, job.error);
	cr_assert_str_eq(t_scalar(db, "SELECT last_value FROM public.attempts"), "2");
	char *log = writer_log();
	cr_assert(strstr(log, "event=db_connection_lost conn=0 in_flight=1 reason=\"cannot execute INSERT"), "%s", log);
	free(log);
}

Test(writer_db, with_one_host_read_only_is_the_databases_failure)
{
	w = new_writer(ci, 30);
	wjob_t job;
	read_only_once_job(&job);
	run_one(&job);
	cr_assert_eq(job.status, WJOB_ERROR);
	cr_assert_str_eq(job.sqlstate, "25006");
	cr_assert(writer_sqlstate_db_fault(job.sqlstate));
	cr_assert_str_eq(t_scalar(db, "SELECT last_value FROM public.attempts"), "1");
}
