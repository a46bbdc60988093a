/* codes: every per-record rejection code of a 200 answer, once, for C and SQL.
 *
 * Codes are stable (returned to providers; never renamed).  Each entry is
 *   X(NAME, "code", BY, "detail")
 * NAME     the C name: REJ_NAME (metering/batch.h) is the code's string
 * BY       who sets it:
 *            METER     voucherd (metering/batch.c), before the database
 *            DB        the database (voucher.ingest_batch)
 *            BOTH      either (conflict: twice in one batch, or stored before)
 *            FALLBACK  the database's outcome for a record it could not
 *                      classify (a bug: never expected); not a /metrics label
 * detail   the answer's "detail" for codes the database sets (voucherd writes
 *          its own detail, naming the field, for the others: NULL)
 *
 * The order is the order of voucherd_records_rejected_total in /metrics.
 *
 * SQL: sql/gen_codes.c turns this list into build/.../reject_codes.sql
 * (voucher.rej_<code>() for each code the database sets, and
 * voucher.reject_detail(code)), which voucherctl migrate applies before
 * sql/functions/ingest_batch.sql, the function that uses them. */
#ifndef VOUCHER_CODES_H
#define VOUCHER_CODES_H

#define METER_RECORD_CODES(X)                                                                                         \
	X(INVALID_RECORD, "invalid_record", METER, NULL) /* not an object */                                          \
	X(MISSING_FIELD, "missing_field", METER, NULL)   /* a required field is absent */                             \
	X(UNKNOWN_FIELD, "unknown_field", METER, NULL)   /* a field docs/protocol.md does not define */               \
	X(WRONG_TYPE, "wrong_type", METER, NULL)         /* e.g. amount_fen not an integer */                         \
	X(RECORD_ID, "invalid_record_id", METER, NULL)                                                                \
	X(ENTERPRISE, "invalid_enterprise", METER, NULL) /* not a valid USCC */                                       \
	X(FACILITY, "invalid_facility", METER, NULL)     /* not 1..64 printable ASCII */                              \
	X(CATEGORY, "invalid_category", METER, NULL)                                                                  \
	X(PURPOSE, "invalid_purpose", METER, NULL)                                                                    \
	X(QUANTITY, "invalid_quantity", METER, NULL)                                                                  \
	X(UNIT, "invalid_unit", METER, NULL)                                                                          \
	X(AMOUNT, "invalid_amount", METER, NULL) /* negative outside an adjustment, or out of range */                \
	X(TIME, "invalid_time", METER, NULL)     /* not RFC 3339 with offset */                                       \
	X(TIME_ORDER, "time_order", METER, NULL) /* started_at > ended_at */                                          \
	X(FUTURE, "future_time", METER, NULL)    /* ended_at beyond now + clock skew */                               \
	X(CONTRACT, "invalid_contract_id", METER, NULL)                                                               \
	X(INVOICE, "invalid_invoice_no", METER, NULL)                                                                 \
	X(ADJUSTS, "invalid_adjusts", METER, NULL)               /* adjusts itself, or not a record id */             \
	X(SELLER, "invalid_seller", METER, NULL)                 /* not a valid USCC */                               \
	X(SELLER_REQUIRED, "seller_required", METER, NULL)       /* corpus or dataset without a seller */             \
	X(SELLER_NOT_ALLOWED, "seller_not_allowed", METER, NULL) /* a seller on another category */                   \
	X(UNKNOWN_FACILITY, "unknown_facility", DB, "facility is not registered to this provider")                    \
	X(ADJUSTS_UNKNOWN, "adjusts_unknown", DB,                                                                     \
	  "adjusts names no earlier plain record of this provider and enterprise")                                    \
	X(ADJUSTS_MISMATCH, "adjusts_mismatch", DB, /* not the facility, category, period, seller of its target */    \
	  "an adjustment must have the facility, category, started_at, ended_at and seller of the record it adjusts") \
	X(NET_NEGATIVE, "net_below_zero", DB, "the adjustment would take the net amount below zero")                  \
	X(CONFLICT, "conflict", BOTH, /* the database's detail; voucherd's names the batch */                         \
	  "record_id was stored before with different content")                                                       \
	X(NOT_STORED, "not_stored", FALLBACK, "record could not be stored")

/* REJ_NAME: the code's string. */
#define METER_CODE_STRING(name, code, by, detail) static const char REJ_##name[] = code;
METER_RECORD_CODES(METER_CODE_STRING)
#undef METER_CODE_STRING

/* same record_id twice in the batch with other content */
#define REJ_DUPLICATE_IN_BATCH REJ_CONFLICT

/* METER_CODE_LABEL(by, x): "x," for the codes that are /metrics labels,
 * nothing for the others. */
#define METER_CODE_LABEL(by, x) METER_CODE_LABEL_##by(x)
#define METER_CODE_LABEL_METER(x) x,
#define METER_CODE_LABEL_DB(x) x,
#define METER_CODE_LABEL_BOTH(x) x,
#define METER_CODE_LABEL_FALLBACK(x)

#endif
