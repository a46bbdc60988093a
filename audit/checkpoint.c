#include "audit/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "common/date.h"
#include "common/db.h"
#include "common/hex.h"
#include "common/validate.h"
#include "audit/audit_batches.h"
#include "audit/ledger.h"

static bool unhex32(const char *s, size_t len, uint8_t out[32])
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < 64; i++) {
		char ch = s[i];
		int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
		if (v < 0)
			return false;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return true;
}

static void fingerprint(const uint8_t *der, size_t len, char out[65])
{
	uint8_t h[32];
	SHA256(der, len, h);
	hex_encode(h, 32, out);
}

/* ------------------------------------------------------------ keys */

EVP_PKEY *checkpoint_load_key(const char *path, sig_alg_t *alg, char *err, size_t errlen)
{
	char e1[160];
	EVP_PKEY *k = sig_load_private_file(path, SIG_ALG_ED25519, e1, sizeof e1);
	if (k) {
		*alg = SIG_ALG_ED25519;
		return k;
	}
	k = sig_load_private_file(path, SIG_ALG_SM2_SM3, err, errlen);
	if (k) {
		*alg = SIG_ALG_SM2_SM3;
		return k;
	}
	if (!strstr(e1, "not an Ed25519"))
		snprintf(err, errlen, "%s: %s", path, e1);
	else
		snprintf(err, errlen, "%s: neither an Ed25519 nor an SM2 private key", path);
	return NULL;
}

/* DER SPKI of a key; false if it does not fit cap. */
static bool spki_of(EVP_PKEY *k, uint8_t *out, size_t cap, size_t *len)
{
	int n = i2d_PUBKEY(k, NULL);
	if (n <= 0 || (size_t)n > cap) {
		ERR_clear_error();
		return false;
	}
	unsigned char *p = out;
	if (i2d_PUBKEY(k, &p) != n) {
		ERR_clear_error();
		return false;
	}
	*len = (size_t)n;
	return true;
}

/* The embedded SPKI as a key usable for alg (through PEM, so that
 * sig_load_public checks its type and makes an SM2 key of an EC one). */
static EVP_PKEY *spki_key(const checkpoint_t *cp, char *err, size_t errlen)
{
	const unsigned char *p = cp->spki;
	EVP_PKEY *raw = d2i_PUBKEY(NULL, &p, (long)cp->spki_len);
	if (!raw || p != cp->spki + cp->spki_len) {
		EVP_PKEY_free(raw);
		ERR_clear_error();
		snprintf(err, errlen, "public_key is not a DER SubjectPublicKeyInfo");
		return NULL;
	}
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long n = 0;
	EVP_PKEY *k = NULL;
	if (b && PEM_write_bio_PUBKEY(b, raw) == 1 && (n = BIO_get_mem_data(b, &pem)) > 0) {
		char e[160];
		k = sig_load_public(pem, (size_t)n, cp->alg, e, sizeof e);
		if (!k)
			snprintf(err, errlen, "public_key: %s", e);
	} else {
		ERR_clear_error();
		snprintf(err, errlen, "public_key cannot be read");
	}
	BIO_free(b);
	EVP_PKEY_free(raw);
	return k;
}

/* ------------------------------------------------------------ the text */

bool checkpoint_format(checkpoint_t *cp, EVP_PKEY *priv, sig_alg_t alg, buf_t *out, char *err, size_t errlen)
{
	cp->alg = alg;
	if (!spki_of(priv, cp->spki, sizeof cp->spki, &cp->spki_len)) {
		snprintf(err, errlen, "cannot encode the public key");
		return false;
	}
	fingerprint(cp->spki, cp->spki_len, cp->fingerprint);
	char lr[65], br[65];
	hex_encode(cp->ledger_root, 32, lr);
	hex_encode(cp->batches_root, 32, br);
	buf_reset(out);
	buf_printf(out,
		   "voucherd-checkpoint v1\ntime %s\nledger_size %" PRId64 "\nledger_root %s\nledger_alg %s\n"
		   "batches_size %" PRId64 "\nbatches_root %s\nalg %s\npublic_key ",
		   cp->time, cp->ledger_size, lr, cp->ledger_alg, cp->batches_size, br, sig_alg_name(alg));
	b64_encode(cp->spki, cp->spki_len, out);
	buf_putc(out, '\n');
	cp->signed_len = out->len;
	if (!sig_sign(priv, alg, out->data, out->len, cp->sig, &cp->sig_len)) {
		snprintf(err, errlen, "signing the checkpoint failed");
		return false;
	}
	buf_puts(out, "signature ");
	b64_encode(cp->sig, cp->sig_len, out);
	buf_putc(out, '\n');
	return true;
}

/* Base64 in its one canonical form (padding bits zero), so that no two
 * spellings of a file carry the same signature. */
static bool b64_canonical(const char *v, size_t vl, uint8_t *out, size_t cap, size_t *outlen)
{
	if (!b64_decode(v, vl, out, cap, outlen) || *outlen == 0)
		return false;
	buf_t b = BUF_INIT;
	b64_encode(out, *outlen, &b);
	bool ok = b.len == vl && !memcmp(b.data, v, vl);
	buf_free(&b);
	return ok;
}

static bool parse_size(const char *v, size_t n, int64_t *out)
{
	if (n == 0 || n > 18 || (n > 1 && v[0] == '0'))
		return false;
	int64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return true;
}

static bool parse_time(const char *v, size_t n, char *out, size_t cap)
{
	/* exactly YYYY-MM-DDTHH:MM:SSZ */
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	if (n != sizeof shape - 1 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == 'd' ? !(v[i] >= '0' && v[i] <= '9') : v[i] != shape[i])
			return false;
	memcpy(out, v, n);
	out[n] = '\0';
	int64_t us;
	return rfc3339_parse(out, &us);
}

bool checkpoint_parse(const char *text, size_t len, checkpoint_t *cp, char *err, size_t errlen)
{
	static const char *const keys[] = {"voucherd-checkpoint", "time",         "ledger_size",  "ledger_root",
					   "ledger_alg",          "batches_size", "batches_root", "alg",
					   "public_key",          "signature"};
	memset(cp, 0, sizeof *cp);
	if (len > CHECKPOINT_MAX) {
		snprintf(err, errlen, "longer than %d bytes: not a checkpoint", CHECKPOINT_MAX);
		return false;
	}
	size_t off = 0;
	for (size_t li = 0; li < sizeof keys / sizeof keys[0]; li++) {
		const char *line = text + off;
		const char *nl = memchr(line, '\n', len - off);
		if (!nl) {
			snprintf(err, errlen, "line %zu: missing or not ended by a newline (expected \"%s\")", li + 1,
				 keys[li]);
			return false;
		}
		size_t ll = (size_t)(nl - line), kl = strlen(keys[li]);
		if (ll <= kl + 1 || memcmp(line, keys[li], kl) != 0 || line[kl] != ' ') {
			snprintf(err, errlen, "line %zu: expected \"%s <value>\"", li + 1, keys[li]);
			return false;
		}
		const char *v = line + kl + 1;
		size_t vl = ll - kl - 1;
		for (size_t i = 0; i < vl; i++)
			if (v[i] <= ' ' || v[i] > '~') {
				snprintf(err, errlen,
					 "line %zu (%s): the value has a space or a byte that is not printable ASCII",
					 li + 1, keys[li]);
				return false;
			}
		bool ok = true;
		char alg[16];
		switch (li) {
		case 0: ok = vl == 2 && !memcmp(v, "v1", 2); break;
		case 1:
			ok = parse_time(v, vl, cp->time, sizeof cp->time) &&
			     date_utc_z_to_cn(cp->time, cp->time_cn, sizeof cp->time_cn);
			break;
		case 2: ok = parse_size(v, vl, &cp->ledger_size); break;
		case 3: ok = unhex32(v, vl, cp->ledger_root); break;
		case 4:
			ok = vl < sizeof cp->ledger_alg;
			if (ok) {
				memcpy(cp->ledger_alg, v, vl);
				cp->ledger_alg[vl] = '\0';
				ok = cp->ledger_size == 0
					     ? !strcmp(cp->ledger_alg, "none")
					     : !strcmp(cp->ledger_alg, "sha256") || !strcmp(cp->ledger_alg, "sm3");
			}
			break;
		case 5: ok = parse_size(v, vl, &cp->batches_size); break;
		case 6: ok = unhex32(v, vl, cp->batches_root); break;
		case 7:
			ok = vl < sizeof alg;
			if (ok) {
				memcpy(alg, v, vl);
				alg[vl] = '\0';
				ok = sig_alg_parse(alg, &cp->alg);
			}
			break;
		case 8: ok = b64_canonical(v, vl, cp->spki, sizeof cp->spki, &cp->spki_len); break;
		case 9:
			cp->signed_len = off;
			ok = b64_canonical(v, vl, cp->sig, sizeof cp->sig, &cp->sig_len);
			break;
		}
		if (!ok) {
			snprintf(err, errlen, "line %zu: not a valid %s", li + 1, keys[li]);
			return false;
		}
		off += ll + 1;
	}
	if (off != len) {
		snprintf(err, errlen, "bytes after the signature line");
		return false;
	}
	if (cp->ledger_size == 0) {
		static const uint8_t zero[32];
		if (memcmp(cp->ledger_root, zero, 32) != 0) {
			snprintf(err, errlen, "an empty ledger's root is 64 zeros");
			return false;
		}
	}
	fingerprint(cp->spki, cp->spki_len, cp->fingerprint);
	return true;
}

static char *slurp(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	char *p = xmalloc(max + 2);
	size_t n = fread(p, 1, max + 1, f);
	bool bad = ferror(f);
	fclose(f);
	if (bad || n > max) {
		snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "too long");
		free(p);
		return NULL;
	}
	p[n] = '\0';
	*len = n;
	return p;
}

bool checkpoint_verify_sig(const char *text, const checkpoint_t *cp, const char *pub_pem_path, char *err, size_t errlen)
{
	EVP_PKEY *k = spki_key(cp, err, errlen);
	if (!k)
		return false;
	bool ok = true;
	if (pub_pem_path) {
		size_t n = 0;
		char *pem = slurp(pub_pem_path, 65536, &n, err, errlen);
		EVP_PKEY *given = NULL;
		char e[160];
		uint8_t a[512], b[512];
		size_t al = 0, bl = 0;
		if (!pem) {
			ok = false;
		} else if (!(given = sig_load_public(pem, n, cp->alg, e, sizeof e))) {
			snprintf(err, errlen, "%s: %s", pub_pem_path, e);
			ok = false;
		} else if (!spki_of(given, a, sizeof a, &al) || !spki_of(k, b, sizeof b, &bl) || al != bl ||
			   memcmp(a, b, al) != 0) {
			snprintf(err, errlen, "the checkpoint's public_key (SHA-256 %s) is not the key in %s",
				 cp->fingerprint, pub_pem_path);
			ok = false;
		}
		EVP_PKEY_free(given);
		free(pem);
	}
	if (ok && !sig_verify(k, cp->alg, text, cp->signed_len, cp->sig, cp->sig_len)) {
		snprintf(err, errlen, "the signature does not verify (the file was changed after it was signed)");
		ok = false;
	}
	EVP_PKEY_free(k);
	return ok;
}

/* ------------------------------------------------------------ the database */

/* a read-only snapshot; err says "<what>: <server message>" */
static bool begin_read_only(PGconn *c, const char *what, char *err, size_t errlen)
{
	char e[512];
	if (db_command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, e, sizeof e))
		return true;
	snprintf(err, errlen, "%s: %s", what, e);
	return false;
}

static bool hex32_col(const char *s, uint8_t out[32])
{
	return unhex32(s, strlen(s), out);
}

/* Walks the whole chain (audit/ledger.c), so that only a chain that
 * holds is signed: its size, head hash and the head's algorithm. */
static bool ledger_head(PGconn *c, int64_t *size, uint8_t head[32], char *alg, size_t alglen, char *err, size_t errlen)
{
	return ledger_walk_db(c, size, head, alg, alglen, err, errlen);
}

/* Reads the checkpoint's contents through the ingest barrier. */
static bool read_state(PGconn *c, checkpoint_t *cp, char *err, size_t errlen)
{
	if (PQtransactionStatus(c) != PQTRANS_IDLE) {
		snprintf(err, errlen, "checkpoint_write: called inside a transaction");
		return false;
	}
	/* the cut (voucher.ingest_cut): every batch received by it is committed
	 * before the snapshot below, and the batches received by it are the
	 * first ones by seq (later ones began after the cut) */
	char cut[64];
	char e[512];
	PGresult *r = db_query(c,
			       "SELECT t::text, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
			       "FROM audit.ingest_cut() t",
			       0, NULL, e, sizeof e);
	bool ok = r && PQntuples(r) == 1;
	if (ok) {
		snprintf(cut, sizeof cut, "%s", PQgetvalue(r, 0, 0));
		snprintf(cp->time, sizeof cp->time, "%s", PQgetvalue(r, 0, 1));
		date_utc_z_to_cn(cp->time, cp->time_cn, sizeof cp->time_cn);
	} else {
		snprintf(err, errlen, "taking the ingest cut: %s", r ? PQerrorMessage(c) : e);
	}
	PQclear(r);
	if (ok)
		ok = begin_read_only(c, "starting the snapshot", err, errlen);
	int64_t upto = 0;
	if (ok) {
		const char *p[] = {cut};
		r = db_query(c, "SELECT count(*) FROM audit.batches WHERE received_at <= $1::timestamptz", 1, p, e,
			     sizeof e);
		ok = r && db_get_i64(r, 0, 0, "batches", &upto, err, errlen);
		if (!r)
			snprintf(err, errlen, "counting the batches: %s", e);
		PQclear(r);
	}
	if (ok)
		ok = ledger_head(c, &cp->ledger_size, cp->ledger_root, cp->ledger_alg, sizeof cp->ledger_alg, err,
				 errlen);
	if (ok)
		ok = audit_batches_root(c, upto, cp->batches_root, &cp->batches_size, err, errlen);
	db_rollback(c);
	return ok;
}

/* temp file, fsync, link(2) (never replaces out_path), fsync the directory. */
static bool write_new_file(const char *out_path, const char *data, size_t len, char *err, size_t errlen)
{
	buf_t tmp = BUF_INIT;
	buf_printf(&tmp, "%s.tmp-%ld", out_path, (long)getpid());
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp.data, strerror(errno));
		buf_free(&tmp);
		return false;
	}
	bool ok = true;
	size_t off = 0;
	while (ok && off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ok = false;
		else
			off += (size_t)n;
	}
	if (ok)
		ok = fsync(fd) == 0;
	if (close(fd) != 0)
		ok = false;
	if (!ok)
		snprintf(err, errlen, "writing %s: %s", tmp.data, strerror(errno));
	if (ok && link(tmp.data, out_path) != 0) {
		snprintf(err, errlen,
			 errno == EEXIST ? "%s exists: a checkpoint is never overwritten" : "cannot create %s",
			 out_path);
		ok = false;
	}
	unlink(tmp.data);
	if (ok) {
		char *d = xstrdup(out_path);
		int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
		free(d);
	}
	buf_free(&tmp);
	return ok;
}

bool checkpoint_write(PGconn *c, const char *sign_key_pem_path, const char *out_path, checkpoint_t *cp_out, char *err,
		      size_t errlen)
{
	struct stat sb;
	if (lstat(out_path, &sb) == 0) {
		snprintf(err, errlen, "%s exists: a checkpoint is never overwritten", out_path);
		return false;
	}
	sig_alg_t alg;
	EVP_PKEY *k = checkpoint_load_key(sign_key_pem_path, &alg, err, errlen);
	if (!k)
		return false;
	checkpoint_t cp;
	memset(&cp, 0, sizeof cp);
	buf_t text = BUF_INIT;
	bool ok = read_state(c, &cp, err, errlen) && checkpoint_format(&cp, k, alg, &text, err, errlen);
	EVP_PKEY_free(k);
	if (ok) {
		/* never hand out a file that does not verify */
		checkpoint_t back;
		ok = checkpoint_parse(text.data, text.len, &back, err, errlen) &&
		     checkpoint_verify_sig(text.data, &back, NULL, err, errlen);
	}
	if (ok)
		ok = write_new_file(out_path, text.data, text.len, err, errlen);
	buf_free(&text);
	if (ok && cp_out)
		*cp_out = cp;
	return ok;
}

/* The database against a checkpoint that verified. */
static bool check_db(PGconn *c, const checkpoint_t *cp, char *err, size_t errlen)
{
	char e[512];
	PGresult *r = db_query(c, "SELECT coalesce(max(entry_id), 0) FROM audit.ledger_entries", 0, NULL, e, sizeof e);
	if (!r) {
		snprintf(err, errlen, "reading the ledger: %s", e);
		return false;
	}
	int64_t have;
	bool read = db_get_i64(r, 0, 0, "max(entry_id)", &have, err, errlen);
	PQclear(r);
	if (!read)
		return false;
	if (have < cp->ledger_size) {
		snprintf(err, errlen,
			 "the ledger has %" PRId64 " entries, the checkpoint of %s (China time) saw %" PRId64
			 " (entries were removed)",
			 have, cp->time_cn, cp->ledger_size);
		return false;
	}
	if (cp->ledger_size > 0) {
		char id[24];
		snprintf(id, sizeof id, "%" PRId64, cp->ledger_size);
		const char *p[] = {id};
		r = db_query(c, "SELECT encode(hash, 'hex'), alg FROM audit.ledger_entries WHERE entry_id = $1", 1, p,
			     e, sizeof e);
		if (!r) {
			snprintf(err, errlen, "reading the ledger: %s", e);
			return false;
		}
		uint8_t h[32];
		bool ok = PQntuples(r) == 1 && hex32_col(PQgetvalue(r, 0, 0), h) && !memcmp(h, cp->ledger_root, 32) &&
			  !strcmp(PQgetvalue(r, 0, 1), cp->ledger_alg);
		if (!ok)
			snprintf(err, errlen,
				 "ledger entry %s: its hash is not the checkpoint's ledger_root "
				 "(the ledger the checkpoint of %s (China time) saw was rewritten)",
				 id, cp->time_cn);
		PQclear(r);
		if (!ok)
			return false;
	}
	uint8_t root[32];
	int64_t n = 0;
	if (!audit_batches_root(c, cp->batches_size, root, &n, e, sizeof e)) {
		if (n < cp->batches_size)
			snprintf(err, errlen,
				 "%" PRId64 " batches are stored, the checkpoint of %s (China time) saw %" PRId64
				 " (batches were deleted)",
				 n, cp->time_cn, cp->batches_size);
		else
			snprintf(err, errlen, "%s", e);
		return false;
	}
	if (memcmp(root, cp->batches_root, 32) != 0) {
		snprintf(err, errlen,
			 "the Merkle root of the first %" PRId64 " batches is not the checkpoint's "
			 "batches_root (a batch the checkpoint of %s (China time) saw was deleted or changed)",
			 cp->batches_size, cp->time_cn);
		return false;
	}
	return true;
}

bool checkpoint_check(PGconn *c, const char *path, const char *pub_pem_path, checkpoint_t *cp_out, char *err,
		      size_t errlen)
{
	size_t len = 0;
	char *text = slurp(path, CHECKPOINT_MAX, &len, err, errlen);
	if (!text)
		return false;
	bool ok = checkpoint_check_text(c, text, len, pub_pem_path, cp_out, err, errlen);
	free(text);
	return ok;
}

bool checkpoint_check_text(PGconn *c, const char *text, size_t len, const char *pub_pem_path, checkpoint_t *cp_out,
			   char *err, size_t errlen)
{
	if (len > CHECKPOINT_MAX) {
		snprintf(err, errlen, "the checkpoint is too long (more than %d bytes)", CHECKPOINT_MAX);
		return false;
	}
	/* checkpoint_parse and the signature read a NUL-terminated copy */
	char *copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	checkpoint_t cp;
	bool ok = checkpoint_parse(copy, len, &cp, err, errlen) &&
		  checkpoint_verify_sig(copy, &cp, pub_pem_path, err, errlen);
	free(copy);
	if (!ok)
		return false;
	if (cp_out)
		*cp_out = cp;
	bool own = PQtransactionStatus(c) == PQTRANS_IDLE;
	if (own && !begin_read_only(c, "starting a transaction", err, errlen))
		return false;
	ok = check_db(c, &cp, err, errlen);
	if (own)
		db_rollback(c);
	return ok;
}
