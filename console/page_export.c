/* The downloads of a run's page: /runs/N.csv and /runs/N.xlsx, the
 * spreadsheets of voucherctl export (settlement/export.c), written on the
 * signed-in person's own connection to a private temporary file, read back,
 * removed, and sent.  The exporter reads only audit.runs,
 * audit.program_versions and audit.run_lines: finance staff and auditors may
 * download. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "console/console.h"
#include "console/html.h"
#include "settlement/export.h"

/* a spreadsheet larger than this is not sent through the console (a run of
 * 100,000 lines is about 5 MB as xlsx, 20 MB as csv) */
#define MAX_DOWNLOAD (256u << 20)

/* Reads the whole file into b; false with errno's text in err. */
static bool slurp(const char *path, buf_t *b, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "reading the file back: %s", strerror(errno));
		return false;
	}
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && (uint64_t)st.st_size <= MAX_DOWNLOAD;
	if (!ok)
		snprintf(err, errlen, "the file is larger than %u MB", MAX_DOWNLOAD >> 20);
	char chunk[65536];
	while (ok) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "reading the file back: %s", strerror(errno));
			ok = false;
		} else if (n == 0) {
			break;
		} else if (b->len + (size_t)n > MAX_DOWNLOAD) {
			snprintf(err, errlen, "the file is larger than %u MB", MAX_DOWNLOAD >> 20);
			ok = false;
		} else {
			buf_append(b, chunk, (size_t)n);
		}
	}
	close(fd);
	return ok;
}

/* 桐乡市算力券-2026-03-批次1.xlsx: the programme's Chinese name, the period
 * and the run; a character a file name cannot hold becomes '_'. */
static void file_name(const export_info_t *info, int64_t run, const char *ext, buf_t *out)
{
	buf_t n = BUF_INIT;
	buf_printf(&n, "%s-%s-批次%" PRId64 ".%s", info->program_name, info->period, run, ext);
	for (size_t i = 0; i < n.len; i++) {
		unsigned char c = (unsigned char)n.data[i];
		if (c < 0x20 || c == 0x7f || strchr("/\\\"*:<>?|", c))
			n.data[i] = '_';
	}
	buf_puts(out, n.data);
	buf_free(&n);
}

void page_run_export(req_t *r, int64_t run, const char *format)
{
	bool xlsx = !strcmp(format, "xlsx");
	char back[64];
	snprintf(back, sizeof back, "/runs/%" PRId64, run);
	if (!r->s->finance && !r->s->auditor) {
		reply_error(r, 403, "只有财务或审计人员可以下载。", NULL);
		return;
	}
	if (!export_available(xlsx ? EXPORT_XLSX : EXPORT_CSV)) {
		reply_error(r, 501, "此控制台编译时未包含 Excel（XLSX）支持，请下载 CSV。", NULL);
		return;
	}
	buf_t dberr = BUF_INIT;
	PGconn *c = req_db(r, &dberr);
	if (!c) {
		reply_refused(r, "下载", dberr.data, back);
		buf_free(&dberr);
		return;
	}
	buf_free(&dberr);
	const char *tmpdir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/voucher-console-export-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	int fd = mkstemp(path); /* 0600: only this process's user may read it */
	if (fd < 0) {
		log_warn("download_failed", "user=%s run=%" PRId64 " why=%s", log_q(r->s->user), run,
			 log_q(strerror(errno)));
		reply_error(r, 500, "无法生成下载文件（临时文件）。", strerror(errno));
		return;
	}
	close(fd);
	export_opts_t opts = {.replace = true, .private_file = true, .timezone = "Asia/Shanghai"};
	export_info_t info;
	char err[600];
	buf_t data = BUF_INIT;
	bool ok = export_run(c, run, xlsx ? EXPORT_XLSX : EXPORT_CSV, path, &opts, &info, err, sizeof err) &&
		  slurp(path, &data, err, sizeof err);
	unlink(path);
	if (!ok) {
		log_info("download_failed", "user=%s run=%" PRId64 " format=%s why=%s", log_q(r->s->user), run, format,
			 log_q(err));
		buf_free(&data);
		if (info.failure == EXPORT_NO_RUN)
			reply_error(r, 404, "没有这个批次。", NULL);
		else
			reply_refused(r, "下载", err, back);
		return;
	}
	buf_t name = BUF_INIT;
	file_name(&info, run, xlsx ? "xlsx" : "csv", &name);
	log_info("download", "user=%s run=%" PRId64 " format=%s lines=%" PRId64 " bytes=%zu", log_q(r->s->user), run,
		 format, info.lines, data.len);
	reply_bytes(r,
		    xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
			 : "text/csv; charset=utf-8",
		    name.data, data.data, data.len);
	buf_free(&name);
	buf_free(&data);
}
