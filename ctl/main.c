/* voucherctl: global options, then one sub-command.  See usage(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "ctl/ctl.h"

static const char usage_text[] =
	"usage: voucherctl [--db CONNINFO] [--format table|csv|json] COMMAND ...\n"
	"\n"
	"The database is --db CONNINFO, else $VOUCHER_DB, else libpq's PG* variables.\n"
	"Listings print a table by default; csv is UTF-8 with a BOM and amounts in yuan,\n"
	"json has amounts in fen.\n"
	"\n"
	"commands:\n"
	"  migrate                                   apply missing schema migrations\n"
	"  provider add CODE --name NAME --uscc USCC\n"
	"  provider list | show CODE\n"
	"  provider cert add CODE --cert FILE.pem\n"
	"  provider key add CODE KEYID --alg ed25519|sm2-sm3 --pub FILE.pem\n"
	"                   [--valid-from T] [--valid-to T]\n"
	"  provider key revoke CODE KEYID\n"
	"  provider facility add CODE FACILITY --division DIV --class A|B\n"
	"  enterprise import FILE.csv [--backdate]   header: uscc,name,division,sme,\n"
	"        model_developer,maas_builder,model_registered,foundation_model,\n"
	"        credit_blacklisted,performance_grade[,valid_from]\n"
	"  enterprise show USCC\n"
	"  enterprise list\n"
	"  enterprise relate USCC --provider CODE [--backdate]  related party: its records count for nothing\n"
	"  program load FILE                         store a programme file as a new version\n"
	"  program list | show ID                    programmes and their versions\n"
	"  override propose --program ID --enterprise USCC --year Y [--rate-bp N] [--cap-fen N] --ref DOC\n"
	"  override confirm ID | list [--program ID] [--year Y]   by a finance user other than the proposer\n"
	"  user add NAME --role finance|auditor [--password-file FILE]   a login role, SCRAM password\n"
	"  calendar load FILE                        official holidays and swapped working days\n"
	"  calendar list | show YEAR | workdays --from DATE --count N\n"
	"  partition list | ensure --until YYYY-MM [--from YYYY-MM] | detach --month YYYY-MM\n"
	"  settle --program ID --period YYYY-MM [--dry-run]\n"
	"  run list [--program ID] | show RUN\n"
	"  run approve RUN [--comment TEXT] | return RUN --comment TEXT | discard RUN\n"
	"  run publish RUN | disburse RUN --ref PAYMENT_BATCH\n"
	"  export RUN --format csv|xlsx --out FILE\n"
	"  statement --enterprise USCC --year Y [--program ID]\n"
	"  ledger balances [--program ID] [--year Y] [--enterprise USCC] | alg sha256|sm3\n"
	"  audit verify [--checkpoint FILE]          re-check batches, ledger, postings and runs\n"
	"  audit checkpoint --sign-key PEM --out FILE\n"
	"  audit trace --enterprise USCC --program ID --year Y | audit duplicates\n"
	"  audit exceptions [--year Y]               superuser acts, backdated changes, ended drafts,\n"
	"                                            refused approvals, overrides, unregistered usage\n"
	"\n"
	"Run 'voucherctl COMMAND --help' for the options of one command.\n";

struct command {
	const char *name;
	int (*fn)(ctl_t *, int, char **);
};

static const struct command commands[] = {
	{"migrate", cmd_migrate},     {"provider", cmd_provider},   {"enterprise", cmd_enterprise},
	{"program", cmd_program},     {"override", cmd_override},   {"calendar", cmd_calendar},
	{"partition", cmd_partition}, {"settle", cmd_settle},       {"run", cmd_run},
	{"export", cmd_export},       {"statement", cmd_statement}, {"audit", cmd_audit},
	{"ledger", cmd_ledger},       {"user", cmd_user},           {NULL, NULL},
};

static bool parse_format(const char *s, ctl_format_t *f)
{
	if (!strcmp(s, "table"))
		*f = FMT_TABLE;
	else if (!strcmp(s, "csv"))
		*f = FMT_CSV;
	else if (!strcmp(s, "json"))
		*f = FMT_JSON;
	else
		return false;
	return true;
}

/* Global options may appear before the command or anywhere after it: they
 * are taken out of argv here so that sub-commands see only their own. */
int main(int argc, char **argv)
{
	ctl_t ctx = {.db = NULL, .format = FMT_TABLE, .conn = NULL};
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	int n = 0;
	if (!rest)
		return CTL_FAIL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		/* export has a --format of its own (csv|xlsx) */
		bool own_format = n > 0 && !strcmp(rest[0], "export");
		if (own_format && (!strcmp(a, "--format") || !strncmp(a, "--format=", 9))) {
			rest[n++] = argv[i];
			if (!strcmp(a, "--format") && i + 1 < argc)
				rest[n++] = argv[++i];
			continue;
		}
		if (!strcmp(a, "--db") || !strcmp(a, "--format")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "voucherctl: %s needs a value\n", a);
				free(rest);
				return CTL_USAGE;
			}
			if (!strcmp(a, "--db")) {
				ctx.db = argv[++i];
			} else if (!parse_format(argv[++i], &ctx.format)) {
				fprintf(stderr, "voucherctl: --format must be table, csv or json\n");
				free(rest);
				return CTL_USAGE;
			}
		} else if (!strncmp(a, "--db=", 5)) {
			ctx.db = a + 5;
		} else if (!strncmp(a, "--format=", 9)) {
			if (!parse_format(a + 9, &ctx.format)) {
				fprintf(stderr, "voucherctl: --format must be table, csv or json\n");
				free(rest);
				return CTL_USAGE;
			}
		} else if (n == 0 && (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help"))) {
			fputs(usage_text, stdout);
			free(rest);
			return CTL_OK;
		} else {
			rest[n++] = argv[i];
		}
	}
	int rc = CTL_USAGE;
	if (n == 0) {
		fputs(usage_text, stderr);
	} else {
		const struct command *c;
		for (c = commands; c->name; c++)
			if (!strcmp(c->name, rest[0]))
				break;
		if (c->name) {
			/* auditors may point voucherctl at a standby; every other
			 * command is sent to the primary of a multi-host conninfo */
			ctx.read_only = !strcmp(c->name, "audit");
			rc = c->fn(&ctx, n, rest);
		} else {
			fprintf(stderr, "voucherctl: unknown command '%s' (voucherctl --help lists them)\n", rest[0]);
		}
	}
	if (rc == CTL_FAIL && ctx.conn && PQstatus(ctx.conn) == CONNECTION_BAD)
		fputs("voucherctl: the connection to the database was lost (the server stopped, or its machine was lost\n"
		      "  and a standby is taking over).  A change whose commit was not answered may or may not be\n"
		      "  stored: look (for a run: voucherctl run list), then run the command again; a --db that names\n"
		      "  every node finds the new primary.\n",
		      stderr);
	if (ctx.conn)
		PQfinish(ctx.conn);
	free(rest);
	return rc;
}
