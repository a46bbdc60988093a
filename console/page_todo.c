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

void page_overview(req_t *r)
{
	not_yet(r, "资金概览");
}
void page_overrides(req_t *r)
{
	not_yet(r, "一事一议");
}
void do_override(req_t *r, const char *action)
{
	(void)action;
	not_yet(r, "一事一议");
}
void page_audit(req_t *r)
{
	not_yet(r, "审计");
}
void do_audit_verify(req_t *r)
{
	not_yet(r, "审计");
}
const char *zh_division(const char *code)
{
	return code;
}
