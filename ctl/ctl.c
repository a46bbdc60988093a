/* Shared by every voucherctl command (and linked into the tests). */
#include "common/db.h"
#include "ctl/ctl.h"

PGconn *ctl_conn(ctl_t *ctx)
{
	if (!ctx->conn)
		ctx->conn = db_connect(ctx->db, "voucherctl");
	return ctx->conn;
}
