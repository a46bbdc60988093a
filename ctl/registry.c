#include "ctl/ctl.h"
int cmd_provider(ctl_t *ctx, int argc, char **argv) { (void)ctx; (void)argc; (void)argv; return CTL_USAGE; }
int cmd_enterprise(ctl_t *ctx, int argc, char **argv) { (void)ctx; (void)argc; (void)argv; return CTL_USAGE; }
