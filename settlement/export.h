/* export: the spreadsheets finance staff hand to the treasury: a settlement
 * run's lines as csv or xlsx, with Chinese headers (README.md "Settlement";
 * used by voucherctl export and the console's downloads).
 *
 * The programme is parsed from the run's own programme version
 * (audit.program_versions), not the newest, so that an old run exports as it
 * was.  Everything is read in one REPEATABLE READ READ ONLY transaction of
 * the caller's connection (one snapshot for the header, the totals and the
 * lines; the lines through a cursor, in constant memory), and only from the
 * audit views audit.runs, audit.program_versions and audit.run_lines: finance
 * staff and auditors may export.  The lines must add up to the run's own
 * totals, or nothing is written.
 *
 * The file is written as a temporary file next to path (same directory, so
 * that the rename is atomic) and moved into place only when complete: a
 * failure leaves nothing behind.  Without opts->replace an existing file is
 * never replaced, not even one that appeared while writing (link(2)
 * refuses). */
#ifndef VOUCHER_EXPORT_H
#define VOUCHER_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

typedef enum { EXPORT_CSV, EXPORT_XLSX } export_format_t;

typedef struct export_opts {
	bool replace;      /* an existing file at path may be replaced (voucherctl export --force) */
	bool private_file; /* the file stays mode 0600 (a temporary file); else 0666 less the umask */
	/* the time zone of the times in the xlsx summary (编制时间 ...), for
	 * this export only (SET LOCAL); NULL: the connection's (voucherctl sets
	 * Asia/Shanghai unless PGTZ says otherwise) */
	const char *timezone;
} export_opts_t;

typedef enum {
	EXPORT_FAILED = 1, /* err says why */
	EXPORT_NO_RUN,     /* there is no such run */
	EXPORT_EXISTS,     /* path exists (or appeared meanwhile) and replace is off */
} export_failure_t;

/* What was exported (filled on success, as far as known on failure). */
typedef struct export_info {
	char run_status[16];    /* draft, approved, published, disbursed, ... */
	char program[65];       /* the programme's id */
	char program_name[201]; /* name = in the run's own version (e.g. 桐乡市算力券), else the id */
	char period[8];         /* YYYY-MM */
	bool payee_provider;    /* the programme pays the providers (兑付) */
	int64_t lines;
	int64_t total_payable, total_recovered; /* fen: the run's totals, which the lines add up to */
	export_failure_t failure;               /* on failure */
	bool began_writing;                     /* on failure: the temporary file had been made (and is gone) */
} export_info_t;

/* Whether this build can write the format (xlsx needs libxlsxwriter). */
bool export_available(export_format_t f);

/* Writes run's lines to path (see above).  opts may be NULL (no replace, the
 * umask's mode), info may be NULL.  On failure returns false with a message
 * in err (English, one line; it does not name the command). */
bool export_run(PGconn *c, int64_t run, export_format_t f, const char *path, const export_opts_t *opts,
		export_info_t *info, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The run's status and a line's status in Chinese, as the export writes them
 * (草稿（未审核）, 已审核, 已公示, 已拨付; 应拨付, 追回, 暂缓, 无变动). */
const char *export_run_status_zh(const char *status);
const char *export_line_status_zh(const char *status);

#endif
