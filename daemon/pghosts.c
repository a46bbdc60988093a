#include "daemon/pghosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/buf.h"

/* Splits a comma list into out[]; the count, or -1 past PGHOSTS_MAX. */
static int split(const char *s, char **out)
{
	int n = 0;
	const char *p = s;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (n == PGHOSTS_MAX)
			return -1;
		out[n] = xmalloc(len + 1);
		memcpy(out[n], p, len);
		out[n][len] = '\0';
		n++;
		if (!e)
			return n;
		p = e + 1;
	}
}

static const char *port_of(const pghosts_t *h, int i)
{
	if (!h->has_port)
		return "5432";
	const char *p = h->port[h->nports == 1 ? 0 : i];
	return *p ? p : "5432";
}

bool pghosts_parse(pghosts_t *h, const char *conninfo, char *err, size_t errlen)
{
	memset(h, 0, sizeof *h);
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
	if (!opts) {
		snprintf(err, errlen, "database.conninfo: %s", perr ? perr : "out of memory");
		if (perr) {
			size_t k = strlen(err);
			while (k && err[k - 1] == '\n')
				err[--k] = '\0';
			PQfreemem(perr);
		}
		return false;
	}
	int n = 0;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		n++;
	h->keys = xcalloc((size_t)n + 1, sizeof *h->keys);
	h->vals = xcalloc((size_t)n + 1, sizeof *h->vals);
	h->pkeys = xcalloc((size_t)n + 2, sizeof *h->pkeys);
	h->pvals = xcalloc((size_t)n + 2, sizeof *h->pvals);
	int nh = 0, na = 0;
	bool ok = true;
	for (PQconninfoOption *o = opts; o->keyword && ok; o++) {
		if (!o->val)
			continue;
		if (!strcmp(o->keyword, "host")) {
			h->has_host = true;
			ok = (nh = split(o->val, h->host)) > 0;
		} else if (!strcmp(o->keyword, "hostaddr")) {
			h->has_hostaddr = true;
			ok = (na = split(o->val, h->hostaddr)) > 0;
		} else if (!strcmp(o->keyword, "port")) {
			h->has_port = true;
			ok = (h->nports = split(o->val, h->port)) > 0;
		} else {
			if (!strcmp(o->keyword, "target_session_attrs"))
				h->has_tsa = true;
			if (!strcmp(o->keyword, "connect_timeout"))
				h->connect_timeout_s = atoi(o->val);
			h->keys[h->nopts] = xstrdup(o->keyword);
			h->vals[h->nopts] = xstrdup(o->val);
			h->nopts++;
		}
	}
	PQconninfoFree(opts);
	if (!ok) {
		snprintf(err, errlen, "database.conninfo: more than %d hosts", PGHOSTS_MAX);
		pghosts_free(h);
		return false;
	}
	h->nhosts = nh > na ? nh : na;
	if (h->nhosts == 0)
		h->nhosts = 1;
	if ((h->has_host && h->has_hostaddr && nh != na) || (h->nports > 1 && h->nports != h->nhosts)) {
		snprintf(err, errlen,
			 "database.conninfo: %d hosts, %d host addresses and %d ports: the lists must be as long "
			 "as each other (one port applies to every host)",
			 nh, na, h->nports);
		pghosts_free(h);
		return false;
	}
	for (int i = 0; i < h->nhosts; i++) {
		const char *name = h->has_host && *h->host[i] ? h->host[i] : h->has_hostaddr ? h->hostaddr[i] : "";
		buf_t b = BUF_INIT;
		buf_printf(&b, "%s:%s", name, port_of(h, i));
		h->label[i] = buf_steal(&b);
	}
	return true;
}

/* list[start], list[start+1], ... joined with commas */
static char *rotated(char *const *list, int n, int start)
{
	buf_t b = BUF_INIT;
	for (int k = 0; k < n; k++) {
		if (k)
			buf_putc(&b, ',');
		buf_puts(&b, list[(start + k) % n]);
	}
	return buf_steal(&b);
}

void pghosts_params(pghosts_t *h, int start, const char *const **keys, const char *const **vals)
{
	free(h->rot_host);
	free(h->rot_hostaddr);
	free(h->rot_port);
	h->rot_host = h->rot_hostaddr = h->rot_port = NULL;
	if (start < 0 || start >= h->nhosts)
		start = 0;
	int k = 0;
	for (int i = 0; i < h->nopts; i++) {
		h->pkeys[k] = h->keys[i];
		h->pvals[k++] = h->vals[i];
	}
	if (h->has_host) {
		h->rot_host = rotated(h->host, h->nhosts, start);
		h->pkeys[k] = "host";
		h->pvals[k++] = h->rot_host;
	}
	if (h->has_hostaddr) {
		h->rot_hostaddr = rotated(h->hostaddr, h->nhosts, start);
		h->pkeys[k] = "hostaddr";
		h->pvals[k++] = h->rot_hostaddr;
	}
	if (h->has_port) {
		h->rot_port = h->nports == 1 ? xstrdup(h->port[0]) : rotated(h->port, h->nhosts, start);
		h->pkeys[k] = "port";
		h->pvals[k++] = h->rot_port;
	}
	if (h->nhosts > 1 && !h->has_tsa) {
		h->pkeys[k] = "target_session_attrs";
		h->pvals[k++] = "read-write";
	}
	h->pkeys[k] = NULL;
	h->pvals[k] = NULL;
	*keys = h->pkeys;
	*vals = h->pvals;
}

int pghosts_find(const pghosts_t *h, const char *host, const char *port)
{
	if (!host || !port)
		return -1;
	for (int i = 0; i < h->nhosts; i++) {
		const char *l = h->label[i];
		size_t hl = strlen(host);
		if (!strncmp(l, host, hl) && l[hl] == ':' && !strcmp(l + hl + 1, port))
			return i;
		/* host named, connected by hostaddr: PQhost names the host */
		if (h->has_host && h->has_hostaddr && !strcmp(h->hostaddr[i], host) && !strcmp(port_of(h, i), port))
			return i;
	}
	return -1;
}

void pghosts_free(pghosts_t *h)
{
	for (int i = 0; i < h->nopts; i++) {
		free(h->keys[i]);
		free(h->vals[i]);
	}
	for (int i = 0; i < PGHOSTS_MAX; i++) {
		free(h->host[i]);
		free(h->hostaddr[i]);
		free(h->port[i]);
		free(h->label[i]);
	}
	free(h->keys);
	free(h->vals);
	free(h->pkeys);
	free(h->pvals);
	free(h->rot_host);
	free(h->rot_hostaddr);
	free(h->rot_port);
	memset(h, 0, sizeof *h);
}
