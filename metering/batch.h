/* batch: the request body of POST /v1/usage-batches, parsed strictly and
 * validated record by record.
 *
 * The body is {"batch_id": str, "provider": str, "records": [record, ...]}
 * (no other keys; duplicate keys anywhere are refused; see docs/protocol.md,
 * "The body").  A body that is not that shape is refused whole
 * (meter_batch_parse returns false).  A record that breaks a field rule is
 * rejected alone: its reject_code is set and it is not stored.
 *
 * Rules checked here need no database.  Rules that do (facility registered to
 * the provider, adjustment target exists and the net stays >= 0, record id
 * already stored) are checked by the database function voucher.ingest_batch.
 */
#ifndef VOUCHER_BATCH_H
#define VOUCHER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "metering/json.h"

/* The per-record rejection codes, REJ_*: metering/codes.h (one list for C and SQL). */
#include "metering/codes.h"

#define METER_MAX_ID 64

typedef struct meter_record {
	int index; /* position in "records" */
	/* Strings point into the parsed JSON document (valid until meter_batch_free). */
	const char *record_id; /* may be NULL if absent or not a string */
	const char *enterprise;
	const char *facility;
	const char *category;
	const char *purpose; /* NULL if absent */
	const char *quantity;
	const char *unit;
	const char *contract_id;
	const char *invoice_no; /* NULL if absent */
	const char *adjusts;    /* NULL if absent */
	const char *seller;     /* NULL if absent (required for corpus and dataset, refused otherwise) */
	char quantity_norm[48]; /* decimal_normalize()d */
	int64_t amount_fen;
	int64_t started_us, ended_us; /* microseconds since the epoch, UTC */
	uint8_t content_hash[32];     /* SHA-256 of the canonical encoding, see below */

	const char *reject_code; /* NULL: valid so far */
	char reject_detail[160]; /* human text, names the field; never the value */
	bool duplicate_in_batch; /* same record_id earlier in the batch with the same content */
} meter_record_t;

typedef struct meter_batch {
	mj_doc_t *root; /* the parsed body (metering/json.h) */
	const char *batch_id;
	const char *provider;
	size_t n;
	meter_record_t *recs;
	size_t n_valid; /* records with reject_code == NULL and !duplicate_in_batch */
} meter_batch_t;

typedef struct meter_limits {
	size_t max_records; /* more records: refused whole, code "too_many_records" (413) */
	int64_t now_us;     /* for the future-time rule */
	int64_t clock_skew_s;
} meter_limits_t;

/* Parses and validates.  On false, *code is a stable code ("malformed_json",
 * "duplicate_key", "invalid_body", "invalid_batch_id", "too_many_records",
 * "empty_batch") and err a one-line explanation; nothing in out needs freeing.
 * On true, the caller must meter_batch_free(out). */
bool meter_batch_parse(const void *body, size_t len, const meter_limits_t *lim, meter_batch_t *out, const char **code,
		       char *err, size_t errlen);
void meter_batch_free(meter_batch_t *b);

/* The canonical content encoding hashed into content_hash: for each field in
 * the order record_id, enterprise, facility, category, purpose, quantity_norm,
 * unit, amount_fen (decimal text), started_us (decimal text), ended_us,
 * contract_id, invoice_no, adjusts: a 4-byte big-endian length then the bytes;
 * an absent optional field is length 0xFFFFFFFF with no bytes.  Then, only
 * when present, seller, encoded the same way: a record without a seller
 * hashes as it did before the field existed, so a record stored then and sent
 * again is still a duplicate.  Two records with the same id are "identical"
 * exactly when their hashes are equal. */
void meter_record_hash(meter_record_t *r);

/* The valid, non-duplicate records as one PostgreSQL binary array per column
 * (common/pgarray.h), in batch order - the r_* parameters of
 * voucher.ingest_batch: index int4[], record_id, enterprise, facility,
 * category, purpose text[], quantity_norm text[], unit text[], amount_fen
 * int8[], started_at, ended_at timestamptz[], contract_id, invoice_no,
 * adjusts text[], content_hash bytea[], seller text[].  Absent optionals are
 * NULL elements. */
enum {
	MC_INDEX,
	MC_ID,
	MC_ENT,
	MC_FAC,
	MC_CAT,
	MC_PUR,
	MC_QTY,
	MC_UNIT,
	MC_AMT,
	MC_ST,
	MC_EN,
	MC_CON,
	MC_INV,
	MC_ADJ,
	MC_HASH,
	MC_SEL,
	METER_NCOLS
};
void meter_batch_columns(const meter_batch_t *b, buf_t cols[METER_NCOLS]);
/* Appends the records rejected here as [{"index":..,"record_id":..|null,"code":..,"detail":..}]. */
void meter_batch_rejected_json(const meter_batch_t *b, buf_t *out);

#endif
