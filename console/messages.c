#include "console/messages.h"

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* An English pattern (POSIX extended, anchored by the table) and its Chinese,
 * where \1..\9 stand for the pattern's groups.  Order matters: the first that
 * matches wins. */
static const struct {
	const char *en;
	const char *zh;
} table[] = {
	{"^run ([0-9]+) was prepared by ([^:]+): another user must approve it",
	 "批次 \\1 由 \\2 编制：编制人不能批准自己编制的批次，须由另一名财务人员批准。"},
	{"^run ([0-9]+) is not a draft: it was approved", "批次 \\1 已批准，不是草稿。"},
	{"^run ([0-9]+) is not a draft: it was returned", "批次 \\1 已退回，不是草稿。"},
	{"^run ([0-9]+) is not a draft: it was discarded", "批次 \\1 已作废，不是草稿。"},
	{"^run ([0-9]+) is not a draft: it was superseded", "批次 \\1 已被同月新的草稿取代，不是草稿。"},
	{"^run ([0-9]+) is not a draft: it was (.*)", "批次 \\1 不是草稿（\\2）。"},
	{"^run ([0-9]+): a later month of ([^ ]+) in ([0-9]+) is already approved",
	 "批次 \\1：\\2 在 \\3 年更晚月份的批次已批准；请重新结算那个月份。"},
	{"^run ([0-9]+): its inputs changed after its cut-off ([0-9: -]+) \\(China time\\): (.*); settle again",
	 "批次 \\1：截止时间 \\2（北京时间）之后输入数据已变化（\\3），不能批准；请重新结算。"},
	{"^run ([0-9]+) does not exist", "批次 \\1 不存在。"},
	{"^run return: a comment saying why is required", "退回须填写审核意见，说明原因。"},
	{"^run ([0-9]+) is not approved: approve it first", "批次 \\1 尚未批准：请先批准再发布公示。"},
	{"^run ([0-9]+) is already published", "批次 \\1 已发布公示。"},
	{"^run ([0-9]+) is not published", "批次 \\1 尚未公示：须先发布公示，公示期满后才能拨付。"},
	{"^run ([0-9]+): the public notice runs until ([0-9-]+)",
	 "批次 \\1：公示期至 \\2（5个工作日），公示期满后才能拨付。"},
	{"^run ([0-9]+) is already disbursed", "批次 \\1 已全部拨付。"},
	{"^run ([0-9]+): ([0-9]+) lines? (is|are) held by open objections",
	 "批次 \\1：剩余 \\2 行因异议未处理而暂缓拨付；异议处理后才能拨付。"},
	{"^a payment reference of 1 to 200 characters is required", "须填写拨付凭证号（1至200个字符）。"},
	{"^([^:]+): refused to the superuser ([^;]+);", "超级用户 \\2 不能执行此操作：请以本人的财务账户登录。"},
	{"^([^:]+): ([^ ]+) is not a finance user", "\\2 不是财务人员，不能执行此操作。"},
	{"^override confirm: override ([0-9]+) was proposed by ([^:]+): another finance user must confirm it",
	 "一事一议 \\1 由 \\2 提出：须由另一名财务人员确认。"},
	{"^override confirm: override ([0-9]+) was confirmed at (.*) by (.*)", "一事一议 \\1 已于 \\2 由 \\3 确认。"},
	{"^override confirm: there is no override ([0-9]+)", "一事一议 \\1 不存在。"},
	{"^override propose: enterprise ([^ ]+) is not registered", "企业 \\1 未在企业名录中登记。"},
	/* overrides (voucher.override_check and the table's checks), the exact
	 * forms first; the looser patterns after them catch older wordings */
	{"^override: ([0-9]+) bp is above programme ([^ ']+)'s ceiling of ([0-9]+) bp",
	 "补贴比例 \\1 基点超过项目 \\2 规定的上限 \\3 基点（100 基点 = 1%）。"},
	{"^override: a cap of ([0-9.]+) yuan is above programme ([^ ']+)'s ceiling of ([0-9.]+) yuan",
	 "上限 \\1 元超过项目 \\2 规定的最高额 \\3 元。"},
	{"^override: programme ([^ ]+) takes overrides only for enterprises flagged foundation_model, and ([^ ]+) is not",
	 "项目 \\1 只为登记为基础大模型企业（foundation_model）的企业一事一议，企业 \\2 在现行企业名录中没有该标记。"},
	{"^override: programme ([^ ]+) requires the unknown flag (.*)",
	 "项目 \\1 的一事一议条件引用了未知的企业标记 \\2，请检查项目文件。"},
	{"^new row for relation \"overrides\" violates check constraint \"overrides_rate_bp_check\"",
	 "补贴比例须在 0.01% 至 100% 之间（1 至 10000 基点）。"},
	{"^new row for relation \"overrides\" violates check constraint \"overrides_cap_fen_check\"",
	 "上限金额不能为负数。"},
	{"^new row for relation \"overrides\" violates check constraint \"overrides_ref_check\"",
	 "文件依据须为 1 至 300 个字符。"},
	{"^new row for relation \"overrides\" violates check constraint \"overrides_year_check\"",
	 "年度须在 2000 至 2100 之间。"},
	{"^new row for relation \"overrides\" violates check constraint \"overrides_check\"",
	 "补贴比例和上限至少填写一项。"},
	{"^value \"([^\"]*)\" is out of range for type (integer|bigint)", "数值 \\1 超出范围。"},
	{"^override: ([0-9]+) bp is above programme (.*)", "比例 \\1 基点超过了项目规定的上限（\\2）。"},
	{"^override: a cap of ([0-9.]+) yuan is above programme (.*)", "上限 \\1 元超过了项目规定的最高额（\\2）。"},
	{"^override: programme ([^ ]+) allows no cap overrides", "项目 \\1 不允许调整上限。"},
	{"^override: programme ([^ ]+) allows no rate overrides", "项目 \\1 不允许调整补贴比例。"},
	{"^override: programme ([^ ]+) is not loaded", "项目 \\1 未加载。"},
	{"^override: programme ([^ ]+) only raises the cap above its ([0-9.]+) yuan; a cap of ([0-9.]+) yuan is refused",
	 "项目 \\1 只能将上限调高到 \\2 元以上；\\3 元不被接受。"},
	{"^override: programme ([^ ]+) takes overrides only for enterprises flagged ([^,]+), and ([^ ]+) is not",
	 "项目 \\1 只对标记为 \\2 的企业一事一议，企业 \\3 没有该标记。"},
	{"^objection ([0-9]+) does not exist", "异议 \\1 不存在。"},
	{"^objection ([0-9]+) was already resolved \\(([a-z]+)\\) by ([^ ]+) at (.*)",
	 "异议 \\1 已由 \\3 于 \\4 处理过。"},
	{"^objection add: run ([0-9]+) has no line with a payable for (.*)",
	 "批次 \\1 中没有企业 \\2 的拨付行，不能对其登记异议。"},
	{"^objection add: run ([0-9]+) is not published", "批次 \\1 尚未公示：异议针对的是公示名单。"},
	{"^objection add: the objection is 1 to 2000 characters", "异议内容须为 1 至 2000 个字符。"},
	{"^objection resolve: a resolution of 1 to 2000 characters", "须填写处理意见（1 至 2000 个字符），说明理由。"},
	{"^objection resolve: the outcome is dismissed or upheld", "处理结果须为“异议不成立”或“异议成立”。"},
	{"^run ([0-9]+) is not published: there is no notice of it", "批次 \\1 尚未公示，没有公示页。"},
	{"^permission denied for (schema|table|view|function|relation) (.*)", "权限不足：您的角色无权访问 \\2。"},
	{"^canceling statement due to statement timeout", "查询超时，请缩小范围后重试。"},
};
#define NTABLE (sizeof table / sizeof table[0])

void msg_first_line(const char *msg, buf_t *out)
{
	if (!msg)
		return;
	if (!strncmp(msg, "ERROR:  ", 8))
		msg += 8;
	size_t n = strcspn(msg, "\n");
	buf_append(out, msg, n);
}

size_t msg_patterns_broken(void)
{
	size_t bad = 0;
	for (size_t i = 0; i < NTABLE; i++) {
		regex_t re;
		if (regcomp(&re, table[i].en, REG_EXTENDED) != 0) {
			bad++;
			continue;
		}
		/* every \\N of the Chinese names a group the pattern has */
		for (const char *z = table[i].zh; *z; z++)
			if (*z == '\\' && z[1] >= '1' && z[1] <= '9' && (size_t)(z[1] - '0') > re.re_nsub)
				bad++;
		regfree(&re);
	}
	return bad;
}

void msg_chinese(const char *msg, buf_t *out)
{
	buf_t line = BUF_INIT;
	msg_first_line(msg, &line);
	const char *s = line.data ? line.data : "";
	/* compiled once, kept for the life of the process (one thread) */
	static regex_t re[NTABLE];
	static bool compiled[NTABLE], tried;
	if (!tried) {
		tried = true;
		for (size_t i = 0; i < NTABLE; i++)
			compiled[i] = regcomp(&re[i], table[i].en, REG_EXTENDED) == 0;
	}
	for (size_t i = 0; i < NTABLE; i++) {
		regmatch_t m[10];
		if (!compiled[i] || regexec(&re[i], s, 10, m, 0) != 0)
			continue;
		for (const char *z = table[i].zh; *z; z++) {
			if (*z == '\\' && z[1] >= '1' && z[1] <= '9') {
				int g = z[1] - '0';
				if (m[g].rm_so >= 0)
					buf_append(out, s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
				z++;
			} else {
				buf_putc(out, *z);
			}
		}
		buf_free(&line);
		return;
	}
	buf_puts(out, "数据库拒绝了此操作：");
	buf_puts(out, s);
	buf_free(&line);
}
