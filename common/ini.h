/* ini: the INI files of voucherd and voucher-console, read against one table
 * of known keys.  A file with an unknown section or key, a key given twice, a
 * missing required key or a value out of range is refused with a message
 * naming "section.key" and the line.  Values are stored into a struct at each
 * key's offset: strings are malloc'd (ini_free releases them), integers are
 * int64_t, booleans bool. */
#ifndef VOUCHER_INI_H
#define VOUCHER_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { INI_STR, INI_INT, INI_HOSTPORT, INI_LEVEL, INI_BOOL } ini_type_t;

typedef struct ini_key {
	const char *section;
	const char *name;
	ini_type_t type;
	const char *dflt; /* NULL: required */
	int64_t min, max; /* INI_INT bounds */
	size_t off;       /* where the value goes in the struct */
	bool reloadable;  /* SIGHUP applies a change (the caller decides what that means) */
} ini_key_t;

/* Reads f into base.  lines[i] (n entries, may be NULL) gets the line of key i,
 * 0 for a default.  On failure writes "path:line: section.key: why" into err
 * and returns false; base may then hold some values: ini_free it. */
bool ini_read(FILE *f, const char *path, const ini_key_t *keys, size_t n, void *base, int *lines, char *err,
	      size_t errlen);
/* Frees the strings of base (not base itself). */
void ini_free(const ini_key_t *keys, size_t n, void *base);
/* Calls fn for every key whose value differs between a and b. */
void ini_changed(const ini_key_t *keys, size_t n, const void *a, const void *b,
		 void (*fn)(const char *section, const char *key, bool reloadable, void *arg), void *arg);

/* Splits "host:port" / "[v6]:port" into host (no brackets) and port. */
bool ini_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
/* localhost, 127.0.0.0/8 or ::1 (also as ::ffff:127.x.x.x); a name that could
 * resolve anywhere is not. */
bool ini_host_is_loopback(const char *hostport);

#endif
