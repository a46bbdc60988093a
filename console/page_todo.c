/* Pages still being built: each answers that it is not there yet. */
#include "console/console.h"
#include "console/html.h"

static void not_yet(req_t *r, const char *title)
{
	page_begin(r, title);
	H(&r->out, "<p>此页面尚未完成。</p>\n");
	page_end(r);
	reply_html(r, 501);
}

void page_enterprises(req_t *r)
{
	not_yet(r, "企业");
}
void page_enterprise(req_t *r, const char *uscc)
{
	(void)uscc;
	not_yet(r, "企业");
}
void page_run_export(req_t *r, int64_t run, const char *format)
{
	(void)run;
	(void)format;
	not_yet(r, "下载");
}
