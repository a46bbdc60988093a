/* The questions the engine asks of a programme (see program.h). */
#include <string.h>

#include "settlement/program.h"

static const char *const category_names[CAT_COUNT] = {
	"intelligent_compute", "supercomputing", "general_compute", "model_service", "corpus", "dataset",
	"model_purchase",
};

static const char *const flag_names[FLAG_COUNT] = {
	"sme",
	"model_developer",
	"maas_builder",
	"model_registered",
	"foundation_model",
	"credit_blacklisted",
	"intelligent_match",
};

static const char *const kind_names[KIND_COUNT] = {"compute", "corpus", "data", "model", "intelligent"};
static const char *const kind_zh[KIND_COUNT] = {"算力券", "语料券", "数据券", "模型券", "智能券"};
static const char *const recipient_names[RECIPIENT_COUNT] = {"enterprise", "institution"};

const char *category_name(category_t c)
{
	return (unsigned)c < CAT_COUNT ? category_names[c] : "unknown";
}

int category_parse(const char *s)
{
	for (int i = 0; i < CAT_COUNT; i++)
		if (!strcmp(category_names[i], s))
			return i;
	return -1;
}

const char *flag_name(flag_t f)
{
	return (unsigned)f < FLAG_COUNT ? flag_names[f] : "unknown";
}

int flag_parse(const char *s)
{
	for (int i = 0; i < FLAG_COUNT; i++)
		if (!strcmp(flag_names[i], s))
			return i;
	return -1;
}

const char *voucher_kind_name(voucher_kind_t k)
{
	return (unsigned)k < KIND_COUNT ? kind_names[k] : "unknown";
}

const char *voucher_kind_zh(voucher_kind_t k)
{
	return (unsigned)k < KIND_COUNT ? kind_zh[k] : "未知券种";
}

int voucher_kind_parse(const char *s)
{
	for (int i = 0; i < KIND_COUNT; i++)
		if (!strcmp(kind_names[i], s))
			return i;
	return -1;
}

const char *recipient_name(recipient_t r)
{
	return (unsigned)r < RECIPIENT_COUNT ? recipient_names[r] : "unknown";
}

int recipient_parse(const char *s)
{
	for (int i = 0; i < RECIPIENT_COUNT; i++)
		if (!strcmp(recipient_names[i], s))
			return i;
	return -1;
}

/* GB 32100-2015: the first character is the registration authority: 9 工商
 * (enterprises), 1 机构编制 (public institutions: universities, research
 * institutes), 5 民政 (private non-enterprise units, among them research
 * institutes).  docs/policies.md rule 1 (recipients). */
int recipient_of_uscc(const char *uscc)
{
	switch (uscc[0]) {
	case '9': return RECIPIENT_ENTERPRISE;
	case '1':
	case '5': return RECIPIENT_INSTITUTION;
	default: return -1;
	}
}

bool program_shares_group(const program_t *p, const program_t *q)
{
	if (!strcmp(p->id, q->id))
		return false;
	return (p->exclusivity_group[0] && !strcmp(p->exclusivity_group, q->exclusivity_group)) ||
	       (p->stacking_group[0] && !strcmp(p->stacking_group, q->stacking_group));
}

int32_t program_class_bp(const int32_t bp[2], char cls)
{
	return cls == 'A' ? bp[0] : cls == 'B' ? bp[1] : 0;
}

static bool division_matches(const char *pattern, const char *division)
{
	size_t n = strlen(pattern);
	return n == 6 ? !strcmp(pattern, division) : !strncmp(pattern, division, n);
}

bool program_in_jurisdiction(const program_t *p, const char *division)
{
	for (int i = 0; i < p->ndivisions; i++)
		if (division_matches(p->divisions[i], division))
			return true;
	if (p->optional_enabled)
		for (int i = 0; i < p->noptional; i++)
			if (division_matches(p->optional_divisions[i], division))
				return true;
	return false;
}

bool program_in_dates(const program_t *p, const char *day)
{
	/* YYYY-MM-DD compares correctly as text */
	if (strcmp(day, p->valid_from) < 0)
		return false;
	return p->valid_to[0] == '\0' || strcmp(day, p->valid_to) <= 0;
}

int32_t program_rate(const program_t *p, int category, char cls, uint32_t flags)
{
	for (int i = 0; i < p->nrates; i++) {
		const rate_rule_t *r = &p->rates[i];
		if (r->category >= 0 && r->category != category)
			continue;
		if (r->cls && r->cls != cls)
			continue;
		if (r->flag >= 0 && !(flags & (1u << r->flag)))
			continue;
		return r->rate_bp;
	}
	return 0;
}

int64_t program_cap(const program_t *p, uint32_t flags)
{
	int64_t cap = 0;
	for (int i = 0; i < p->ncaps; i++) {
		const cap_rule_t *c = &p->caps[i];
		if (c->flag >= 0 && !(flags & (1u << c->flag)))
			continue;
		if (c->cap_fen > cap)
			cap = c->cap_fen;
	}
	return cap;
}
