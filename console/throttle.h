/* throttle: failed sign-ins counted per user name and per client address.
 * After max failures within window seconds, a key is locked for lockout
 * seconds: the console then refuses to try the password at all (it never
 * reaches the database).  A success clears the key.  At most cap keys are
 * kept; the one seen longest ago makes room.  Times are passed in, so that
 * tests can walk the clock. */
#ifndef VOUCHER_CONSOLE_THROTTLE_H
#define VOUCHER_CONSOLE_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct throttle throttle_t;

throttle_t *throttle_new(int64_t max_failures, int64_t window_s, int64_t lockout_s, size_t cap);
void throttle_free(throttle_t *t);
/* True if key is locked at now; *retry_s says for how long. */
bool throttle_locked(throttle_t *t, const char *key, int64_t now, int64_t *retry_s);
/* Counts a failure; true if the key is locked from now on. */
bool throttle_fail(throttle_t *t, const char *key, int64_t now);
void throttle_clear(throttle_t *t, const char *key);
size_t throttle_size(const throttle_t *t);

#endif
