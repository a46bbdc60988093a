/* placeholder until this command lands */
#include <stdio.h>
#include "ctl/ctl.h"
int cmd_export(ctl_t *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	fprintf(stderr, "voucherctl %s: not available yet\n", argv[0]);
	return CTL_FAIL;
}
int cmd_statement(ctl_t *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	fprintf(stderr, "voucherctl %s: not available yet\n", argv[0]);
	return CTL_FAIL;
}
