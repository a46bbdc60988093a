/* pghosts: the hosts of a libpq conninfo, for a writer that follows the
 * primary of a failover formation.
 *
 * libpq already tries every host of a multi-host conninfo
 * ("host=a,b port=5432,5432") in order and, with
 * target_session_attrs=read-write, skips standbys.  Two things it leaves to a
 * non-blocking caller (PQconnectStart + PQconnectPoll): it ignores
 * connect_timeout, so a host that accepts TCP but never answers (a machine
 * frozen or cut off) holds the attempt until the caller gives up, and the
 * next attempt would start with the same host again.  So the writer starts
 * each attempt at a host of its choosing: the one last found primary, or the
 * one after a host that timed out.  pghosts_params() builds the parameters of
 * such an attempt: the conninfo's own, with the host, hostaddr and port lists
 * rotated to begin at that host, and target_session_attrs=read-write added
 * when there are several hosts and the conninfo does not say otherwise. */
#ifndef VOUCHER_PGHOSTS_H
#define VOUCHER_PGHOSTS_H

#include <stdbool.h>
#include <stddef.h>

#define PGHOSTS_MAX 16

typedef struct pghosts {
	int nhosts;               /* 1 for a single host or none (the default socket) */
	int connect_timeout_s;    /* the conninfo's connect_timeout, or 0 */
	char *label[PGHOSTS_MAX]; /* "host:port" of each, as PQhost/PQport name them */
	/* private: the parsed options and the split lists */
	int nopts;
	char **keys, **vals;
	char *host[PGHOSTS_MAX], *hostaddr[PGHOSTS_MAX], *port[PGHOSTS_MAX];
	int nports;
	bool has_host, has_hostaddr, has_port, has_tsa;
	/* the rotated lists and the arrays handed to libpq */
	char *rot_host, *rot_hostaddr, *rot_port;
	const char **pkeys, **pvals;
} pghosts_t;

/* Parses conninfo (key=value or URI).  False with err when libpq cannot
 * parse it, or it names more than PGHOSTS_MAX hosts, or the host, hostaddr
 * and port lists do not have matching lengths (a port list of one applies to
 * every host). */
bool pghosts_parse(pghosts_t *h, const char *conninfo, char *err, size_t errlen);
/* The keywords and values (NULL-terminated, for PQconnectStartParams with
 * expand_dbname 0) of an attempt that tries the hosts from index start on,
 * wrapping round.  Valid until the next call or pghosts_free. */
void pghosts_params(pghosts_t *h, int start, const char *const **keys, const char *const **vals);
/* The index whose label is "host:port", or -1. */
int pghosts_find(const pghosts_t *h, const char *host, const char *port);
void pghosts_free(pghosts_t *h);

#endif
