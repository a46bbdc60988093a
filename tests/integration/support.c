#include "tests/integration/support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void t_require_db(void)
{
	if (!getenv("VOUCHER_TEST_PGHOST") || !getenv("VOUCHER_TEST_TEMPLATE"))
		cr_skip_test("no test database (run through tests/run.sh / make test)");
}

static PGconn *connect_or_fail(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK, "connect %s: %s", conninfo, PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

PGconn *t_newdb(char *conninfo, size_t len)
{
	t_require_db();
	const char *host = getenv("VOUCHER_TEST_PGHOST");
	const char *port = getenv("VOUCHER_TEST_PGPORT") ? getenv("VOUCHER_TEST_PGPORT") : "5432";
	const char *tmpl = getenv("VOUCHER_TEST_TEMPLATE");
	char admin[512];
	snprintf(admin, sizeof admin, "host=%s port=%s dbname=postgres user=postgres", host, port);
	PGconn *a = connect_or_fail(admin);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char name[64];
	snprintf(name, sizeof name, "t_%d_%ld", (int)getpid(), (long)(ts.tv_nsec / 1000));
	char sql[256];
	/* CREATE DATABASE ... TEMPLATE fails if another session is connected to the
	 * template at that moment (a parallel test copying it): retry briefly. */
	PGresult *r = NULL;
	for (int attempt = 0; attempt < 100; attempt++) {
		snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\" TEMPLATE \"%s\"", name, tmpl);
		r = PQexec(a, sql);
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			break;
		PQclear(r);
		r = NULL;
		usleep(50000);
	}
	cr_assert(r != NULL, "create database %s: %s", name, PQerrorMessage(a));
	PQclear(r);
	PQfinish(a);
	snprintf(conninfo, len, "host=%s port=%s dbname=%s user=postgres", host, port, name);
	return connect_or_fail(conninfo);
}

void t_conninfo_as(const char *conninfo, const char *role, char *out, size_t len)
{
	const char *u = strstr(conninfo, " user=");
	size_t n = u ? (size_t)(u - conninfo) : strlen(conninfo);
	snprintf(out, len, "%.*s user=%s", (int)n, conninfo, role);
}

static void slurp(int fd, char *buf, size_t cap)
{
	size_t used = 0;
	char tmp[4096];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof tmp)) > 0) {
		if (buf && used + 1 < cap) {
			size_t k = (size_t)n;
			if (k > cap - 1 - used)
				k = cap - 1 - used;
			memcpy(buf + used, tmp, k);
			used += k;
		}
	}
	if (buf && cap)
		buf[used] = '\0';
}

int t_run(const char *cmd, char *out, size_t outcap, char *err, size_t errcap)
{
	char of[] = "/tmp/vtest-outXXXXXX", ef[] = "/tmp/vtest-errXXXXXX";
	int ofd = mkstemp(of), efd = mkstemp(ef);
	cr_assert(ofd >= 0 && efd >= 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ofd, 1);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert(rc == 0, "spawn %s", cmd);
	int st = 0;
	waitpid(pid, &st, 0);
	lseek(ofd, 0, SEEK_SET);
	lseek(efd, 0, SEEK_SET);
	slurp(ofd, out, outcap);
	slurp(efd, err, errcap);
	close(ofd);
	close(efd);
	unlink(of);
	unlink(ef);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *t_scalar(PGconn *c, const char *sql)
{
	static char val[4096];
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	cr_assert(PQntuples(r) == 1, "%s: %d rows", sql, PQntuples(r));
	snprintf(val, sizeof val, "%s", PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return val;
}

const char *t_root_path(const char *rel)
{
	static char slots[4][1024];
	static unsigned i;
	char *o = slots[i++ % 4];
	const char *root = getenv("VOUCHER_TEST_ROOT") ? getenv("VOUCHER_TEST_ROOT") : ".";
	snprintf(o, 1024, "%s/%s", root, rel);
	return o;
}

const char *t_vector_path(const char *name)
{
	static char slots[4][1024];
	static unsigned i;
	char *o = slots[i++ % 4];
	const char *dir = getenv("VOUCHER_VECTORS") ? getenv("VOUCHER_VECTORS") : "../shared/vectors";
	snprintf(o, 1024, "%s/%s", dir, name);
	return o;
}
