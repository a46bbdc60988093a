#include "daemon/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

const char *const REGISTRY_SQL = "SELECT kind, provider, ident, alg, pem, "
				 "coalesce(extract(epoch FROM valid_from)::bigint, 0), "
				 "coalesce(extract(epoch FROM valid_to)::bigint, 0), revoked "
				 "FROM voucher.ingest_registry() ORDER BY kind, provider, ident";

static int cmp_cert(const void *a, const void *b)
{
	return strcmp(((const reg_cert_t *)a)->fingerprint, ((const reg_cert_t *)b)->fingerprint);
}

static int cmp_key(const void *a, const void *b)
{
	const reg_key_t *x = a, *y = b;
	int c = strcmp(x->provider, y->provider);
	return c ? c : strcmp(x->key_id, y->key_id);
}

static bool is_fingerprint(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* Lists row i as left out; the identifiers are cut to fit (and may be what
 * was wrong), the reason never quotes the PEM. */
static void add_bad(registry_t *reg, const char *kind, const char *prov, const char *ident, const char *reason)
{
	reg_bad_t *b = &reg->bad[reg->nbad++];
	snprintf(b->kind, sizeof b->kind, "%s", kind);
	snprintf(b->provider, sizeof b->provider, "%s", prov);
	snprintf(b->ident, sizeof b->ident, "%s", ident);
	snprintf(b->reason, sizeof b->reason, "%s", reason);
}

registry_t *registry_build(const PGresult *r, char *err, size_t errlen)
{
	registry_t *reg = xcalloc(1, sizeof *reg);
	int n = PQntuples(r);
	if (PQnfields(r) != 8) {
		snprintf(err, errlen, "registry query returned %d columns", PQnfields(r));
		registry_free(reg);
		return NULL;
	}
	reg->certs = xcalloc((size_t)n, sizeof *reg->certs);
	reg->keys = xcalloc((size_t)n, sizeof *reg->keys);
	reg->bad = xcalloc((size_t)n, sizeof *reg->bad);
	/* each row stands alone: one that cannot be used is left out and the
	 * rest still load, so one provider's broken key stops nobody else */
	for (int i = 0; i < n; i++) {
		const char *kind = PQgetvalue(r, i, 0);
		const char *prov = PQgetvalue(r, i, 1);
		const char *ident = PQgetvalue(r, i, 2);
		bool cert = !strcmp(kind, "cert");
		if (!cert && strcmp(kind, "key") != 0) {
			add_bad(reg, "?", prov, ident, "unknown kind of row");
			continue;
		}
		if (!*prov || strlen(prov) > 64 || !*ident || strlen(ident) > 128) {
			add_bad(reg, kind, prov, ident, "identifier empty or too long");
			continue;
		}
		if (cert) {
			if (!is_fingerprint(ident)) {
				add_bad(reg, kind, prov, ident, "fingerprint is not 64 lowercase hex digits");
				continue;
			}
			reg_cert_t *c = &reg->certs[reg->ncerts++];
			snprintf(c->fingerprint, sizeof c->fingerprint, "%s", ident);
			snprintf(c->provider, sizeof c->provider, "%s", prov);
			continue;
		}
		reg_key_t *k = &reg->keys[reg->nkeys];
		memset(k, 0, sizeof *k);
		snprintf(k->provider, sizeof k->provider, "%s", prov);
		snprintf(k->key_id, sizeof k->key_id, "%s", ident);
		if (PQgetisnull(r, i, 3) || !sig_alg_parse(PQgetvalue(r, i, 3), &k->alg)) {
			add_bad(reg, kind, prov, ident, "unknown alg");
			continue;
		}
		char why[128];
		k->pub = PQgetisnull(r, i, 4) ? NULL
					      : sig_load_public(PQgetvalue(r, i, 4), (size_t)PQgetlength(r, i, 4),
								k->alg, why, sizeof why);
		if (!k->pub) {
			add_bad(reg, kind, prov, ident, PQgetisnull(r, i, 4) ? "no public key" : why);
			continue;
		}
		k->valid_from = strtoll(PQgetvalue(r, i, 5), NULL, 10);
		k->valid_to = strtoll(PQgetvalue(r, i, 6), NULL, 10);
		k->revoked = PQgetvalue(r, i, 7)[0] == 't';
		reg->nkeys++;
	}
	qsort(reg->certs, reg->ncerts, sizeof *reg->certs, cmp_cert);
	qsort(reg->keys, reg->nkeys, sizeof *reg->keys, cmp_key);
	return reg;
}

void registry_free(registry_t *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->nkeys; i++)
		EVP_PKEY_free(reg->keys[i].pub);
	free(reg->keys);
	free(reg->certs);
	free(reg->bad);
	free(reg);
}

const char *registry_provider(const registry_t *reg, const char *fingerprint)
{
	if (!reg)
		return NULL;
	reg_cert_t probe;
	snprintf(probe.fingerprint, sizeof probe.fingerprint, "%s", fingerprint);
	const reg_cert_t *c = bsearch(&probe, reg->certs, reg->ncerts, sizeof *reg->certs, cmp_cert);
	return c ? c->provider : NULL;
}

const reg_key_t *registry_key(const registry_t *reg, const char *provider, const char *key_id)
{
	if (!reg || strlen(provider) > 64 || strlen(key_id) > 128)
		return NULL;
	reg_key_t probe;
	snprintf(probe.provider, sizeof probe.provider, "%s", provider);
	snprintf(probe.key_id, sizeof probe.key_id, "%s", key_id);
	return bsearch(&probe, reg->keys, reg->nkeys, sizeof *reg->keys, cmp_key);
}

const reg_bad_t *registry_bad(const registry_t *reg, const char *kind, const char *provider, const char *ident)
{
	if (!reg)
		return NULL;
	for (size_t i = 0; i < reg->nbad; i++) {
		const reg_bad_t *b = &reg->bad[i];
		if (!strcmp(b->kind, kind) && !strcmp(b->provider, provider) && !strcmp(b->ident, ident))
			return b;
	}
	return NULL;
}
