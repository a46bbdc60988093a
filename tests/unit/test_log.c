/* common/log: the per-event-kind rate limit and its log_suppressed line. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"

static char path[64];
static int saved = -1;

/* sends stderr to a file until capture_end() */
static void capture_begin(void)
{
	snprintf(path, sizeof path, "/tmp/vlog-%d.txt", (int)getpid());
	fflush(stderr);
	saved = dup(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	dup2(fd, 2);
	close(fd);
}

static char *capture_end(void)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *f = fopen(path, "r");
	cr_assert(f);
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(path);
	return text;
}

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* waits for the start of a wall-clock second, so that a short loop stays in one */
static void at_second_start(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	usleep((useconds_t)(1000000 - tv.tv_usec) + 1000);
}

Test(unit_log, a_flood_of_one_kind_is_cut_and_counted)
{
	capture_begin();
	at_second_start();
	for (int i = 0; i < 1000; i++)
		log_info("flood", "i=%d", i);
	for (int i = 0; i < 5; i++)
		log_info("other_kind", "i=%d", i);
	usleep(1100000);
	log_flush();
	char *t = capture_end();
	cr_assert_eq(count(t, "event=flood "), LOG_RATE_PER_S, "%s", t);
	/* the first lines are the ones kept */
	cr_assert(strstr(t, "event=flood i=0\n") && strstr(t, "event=flood i=19\n"), "%s", t);
	cr_assert_eq(count(t, "event=other_kind "), 5, "%s", t);
	char want[80];
	snprintf(want, sizeof want, "level=warn event=log_suppressed kind=flood suppressed=%d\n",
		 1000 - LOG_RATE_PER_S);
	cr_assert_eq(count(t, want), 1, "%s", t);
	cr_assert_eq(count(t, "event=log_suppressed"), 1, "%s", t);
}

Test(unit_log, the_count_comes_with_the_next_line_of_any_kind_and_the_kind_logs_again)
{
	capture_begin();
	at_second_start();
	for (int i = 0; i < 50; i++)
		log_warn("refused", "n=%d", i);
	usleep(1100000);
	log_info("unrelated", "%s", "");
	log_warn("refused", "n=%d", 50);
	char *t = capture_end();
	char *sup = strstr(t, "event=log_suppressed kind=refused suppressed=30\n");
	cr_assert(sup, "%s", t);
	/* reported before the line that triggered it, and the kind writes again */
	cr_assert(strstr(t, "event=unrelated") > sup, "%s", t);
	cr_assert(strstr(t, "event=refused n=50\n") > sup, "%s", t);
}

Test(unit_log, below_the_level_counts_nothing_and_no_limit_means_every_line)
{
	capture_begin();
	at_second_start();
	log_set_level(LOG_WARN);
	for (int i = 0; i < 100; i++)
		log_debug("quiet", "i=%d", i);
	log_set_level(LOG_INFO);
	log_set_rate(0);
	for (int i = 0; i < 100; i++)
		log_info("loud", "i=%d", i);
	log_set_rate(LOG_RATE_PER_S);
	usleep(1100000);
	log_flush();
	char *t = capture_end();
	cr_assert_eq(count(t, "event=quiet"), 0, "%s", t);
	cr_assert_eq(count(t, "event=loud "), 100, "%s", t);
	cr_assert_eq(count(t, "log_suppressed"), 0, "%s", t);
}
