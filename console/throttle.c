#include "console/throttle.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

struct entry {
	char *key;
	int64_t count, window_start, locked_until, seen;
};

struct throttle {
	int64_t max, window, lockout;
	size_t cap, n;
	struct entry *e;
};

throttle_t *throttle_new(int64_t max_failures, int64_t window_s, int64_t lockout_s, size_t cap)
{
	throttle_t *t = xcalloc(1, sizeof *t);
	t->max = max_failures;
	t->window = window_s;
	t->lockout = lockout_s;
	t->cap = cap ? cap : 1;
	t->e = xcalloc(t->cap, sizeof *t->e);
	return t;
}

void throttle_free(throttle_t *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].key);
	free(t->e);
	free(t);
}

static struct entry *find(throttle_t *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].key, key))
			return &t->e[i];
	return NULL;
}

bool throttle_locked(throttle_t *t, const char *key, int64_t now, int64_t *retry_s)
{
	struct entry *e = find(t, key);
	if (!e || e->locked_until <= now)
		return false;
	if (retry_s)
		*retry_s = e->locked_until - now;
	return true;
}

bool throttle_fail(throttle_t *t, const char *key, int64_t now)
{
	struct entry *e = find(t, key);
	if (!e) {
		if (t->n == t->cap) {
			/* make room: the key seen longest ago */
			size_t old = 0;
			for (size_t i = 1; i < t->n; i++)
				if (t->e[i].seen < t->e[old].seen)
					old = i;
			free(t->e[old].key);
			t->e[old] = t->e[--t->n];
		}
		e = &t->e[t->n++];
		memset(e, 0, sizeof *e);
		e->key = xstrdup(key);
		e->window_start = now;
	}
	e->seen = now;
	if (now - e->window_start >= t->window) {
		e->window_start = now;
		e->count = 0;
	}
	e->count++;
	if (e->count >= t->max) {
		e->locked_until = now + t->lockout;
		e->count = 0;
		e->window_start = now;
	}
	return e->locked_until > now;
}

void throttle_clear(throttle_t *t, const char *key)
{
	struct entry *e = find(t, key);
	if (!e)
		return;
	free(e->key);
	*e = t->e[--t->n];
}

size_t throttle_size(const throttle_t *t)
{
	return t->n;
}
