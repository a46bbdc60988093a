/* chart: bar charts drawn on the server as inline SVG (<svg class="chart">),
 * for the 资金概览 page.  No JavaScript and no style attribute (the
 * Content-Security-Policy forbids both): colours are presentation attributes
 * (fill=) from a fixed palette, every number is written through H()'s %d,
 * every label through %s, and each bar carries a <title> (the browser's
 * tooltip) with its amount in yuan.
 *
 * Amounts are int64 fen.  Bar lengths are integer pixels computed by
 * chart_scale() in 128-bit arithmetic (money_muldiv_floor): no floating point
 * near an amount.  The scale's end is chart_nice_max() of the largest amount,
 * so that the axis is labelled with round yuan figures. */
#ifndef VOUCHER_CONSOLE_CHART_H
#define VOUCHER_CONSOLE_CHART_H

#include <stdint.h>

#include "common/buf.h"

/* The length in pixels of a bar for value on a scale whose end, max, is full
 * pixels: floor(value * full / max), computed without overflow.  0 for a
 * value <= 0 or a max <= 0; at least 1 for a positive value (a small amount
 * stays visible); at most full (a value above max is cut at the end). */
int chart_scale(int64_t value, int64_t max, int full);

/* The end of a scale that holds max: the smallest 1, 2 or 5 x 10^k fen with
 * k >= 2 (whole yuan: 1, 2, 5, 10, 20, 50 ... yuan) that is >= max, so that
 * quarters of it are round amounts.  100 (1 yuan) for max <= 100; max itself
 * when no such number fits in int64. */
int64_t chart_nice_max(int64_t max);

/* The number of series a chart may draw (the palette: granted, paid,
 * recovered). */
#define CHART_MAX_SERIES 3

/* Grouped vertical bars: ncat categories (labels[c], e.g. months) with nser
 * bars each (names[s]); values[c * nser + s] in fen.  id and title name the
 * <svg> element (id= and its <title>/aria-label). */
void chart_columns(buf_t *b, const char *id, const char *title, int ncat, const char *const *labels, int nser,
		   const char *const *names, const int64_t *values);

/* The same as horizontal bars, one row per category (e.g. districts), with
 * each bar's amount written after it. */
void chart_hbars(buf_t *b, const char *id, const char *title, int ncat, const char *const *labels, int nser,
		 const char *const *names, const int64_t *values);

#endif
