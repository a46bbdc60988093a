/* The console's server side, for main.c (see console.h for the pages). */
#ifndef VOUCHER_CONSOLE_SERVER_H
#define VOUCHER_CONSOLE_SERVER_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "console/console.h"

SSL_CTX *console_tls_ctx(const console_config_t *cfg, char *err, size_t errlen);
void console_http_attach(console_t *con);
/* Closes sessions idle longer than console.session_idle_s. */
void console_sweep(console_t *con);
void console_sessions_free(console_t *con);

/* static files (page.c) */
extern const char console_css[];
extern const char console_favicon[];

#endif
