/* chart: inline SVG bar charts (console/chart.h). */
#include "console/chart.h"

#include "common/money.h"
#include "console/html.h"

int chart_scale(int64_t value, int64_t max, int full)
{
	if (value <= 0 || max <= 0 || full <= 0)
		return 0;
	if (value >= max)
		return full;
	int64_t len = 0;
	/* value < max, so value * full / max < full: it always fits */
	if (!money_muldiv_floor(value, full, max, &len))
		return full;
	return len < 1 ? 1 : (int)len;
}

int64_t chart_nice_max(int64_t max)
{
	if (max <= 100)
		return 100;
	/* p runs over 10^2 .. 10^18; 5 x 10^18 still fits in int64 */
	for (int64_t p = 100;; p *= 10) {
		if (max <= p)
			return p;
		if (max <= 2 * p)
			return 2 * p;
		if (max <= 5 * p)
			return 5 * p;
		if (p > INT64_MAX / 10)
			return max;
	}
}

/* the palette, as presentation attributes: granted, paid, recovered */
static void fill(buf_t *b, int s)
{
	switch (s) {
	case 0: H(b, " fill=\"#8c1c13\""); break;
	case 1: H(b, " fill=\"#2e7d32\""); break;
	default: H(b, " fill=\"#d08a1a\""); break;
	}
}

static void legend(buf_t *b, int x0, int nser, const char *const *names)
{
	for (int s = 0; s < nser; s++) {
		int x = x0 + s * 130;
		H(b, "<rect x=\"%d\" y=\"6\" width=\"12\" height=\"12\"", x);
		fill(b, s);
		H(b, "/><text x=\"%d\" y=\"16\">%s（元）</text>\n", x + 16, names[s]);
	}
}

static int64_t largest(int n, const int64_t *values)
{
	int64_t m = 0;
	for (int i = 0; i < n; i++)
		if (values[i] > m)
			m = values[i];
	return m;
}

enum { COL_LEFT = 120, COL_RIGHT = 16, COL_TOP = 32, COL_PLOT = 200, COL_GROUP = 56 };

void chart_columns(buf_t *b, const char *id, const char *title, int ncat, const char *const *labels, int nser,
		   const char *const *names, const int64_t *values)
{
	if (nser > CHART_MAX_SERIES)
		nser = CHART_MAX_SERIES;
	int width = COL_LEFT + ncat * COL_GROUP + COL_RIGHT, bottom = COL_TOP + COL_PLOT, height = bottom + 30;
	int64_t end = chart_nice_max(largest(ncat * nser, values));
	H(b,
	  "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	  "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\"><title>%s</title>\n",
	  id, width, height, width, height, title, title);
	legend(b, COL_LEFT, nser, names);
	/* the amount axis: five round figures in yuan, with grid lines */
	for (int k = 0; k <= 4; k++) {
		int64_t v = end / 4 * k;
		int y = bottom - chart_scale(v, end, COL_PLOT);
		H(b,
		  "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d5dbe1\"/>"
		  "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%Y</text>\n",
		  COL_LEFT, y, width - COL_RIGHT, y, COL_LEFT - 6, y + 4, v);
	}
	int bw = (COL_GROUP - 12) / (nser > 0 ? nser : 1);
	for (int c = 0; c < ncat; c++) {
		int x0 = COL_LEFT + c * COL_GROUP + 6;
		for (int s = 0; s < nser; s++) {
			int64_t v = values[c * nser + s];
			int h = chart_scale(v, end, COL_PLOT);
			if (h == 0)
				continue;
			H(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"", x0 + s * bw, bottom - h, bw - 2, h);
			fill(b, s);
			H(b, "><title>%s %s：%Y 元</title></rect>\n", labels[c], names[s], v);
		}
		H(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x0 + (COL_GROUP - 12) / 2,
		  bottom + 18, labels[c]);
	}
	H(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#5b6773\"/>\n</svg>\n", COL_LEFT, bottom,
	  width - COL_RIGHT, bottom);
}

enum { ROW_LEFT = 150, ROW_PLOT = 480, ROW_RIGHT = 150, ROW_TOP = 32, ROW_BAR = 11 };

void chart_hbars(buf_t *b, const char *id, const char *title, int ncat, const char *const *labels, int nser,
		 const char *const *names, const int64_t *values)
{
	if (nser > CHART_MAX_SERIES)
		nser = CHART_MAX_SERIES;
	int row = nser * ROW_BAR + 10, width = ROW_LEFT + ROW_PLOT + ROW_RIGHT, bottom = ROW_TOP + ncat * row,
	    height = bottom + 24;
	int64_t end = chart_nice_max(largest(ncat * nser, values));
	H(b,
	  "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	  "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\"><title>%s</title>\n",
	  id, width, height, width, height, title, title);
	legend(b, ROW_LEFT, nser, names);
	for (int k = 0; k <= 4; k++) {
		int64_t v = end / 4 * k;
		int x = ROW_LEFT + chart_scale(v, end, ROW_PLOT);
		H(b,
		  "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d5dbe1\"/>"
		  "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%Y</text>\n",
		  x, ROW_TOP, x, bottom, x, bottom + 16, v);
	}
	for (int c = 0; c < ncat; c++) {
		int y0 = ROW_TOP + c * row + 5;
		H(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", ROW_LEFT - 8,
		  y0 + (nser * ROW_BAR) / 2 + 4, labels[c]);
		for (int s = 0; s < nser; s++) {
			int64_t v = values[c * nser + s];
			int w = chart_scale(v, end, ROW_PLOT), y = y0 + s * ROW_BAR;
			if (w > 0) {
				H(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"", ROW_LEFT, y, w, ROW_BAR - 2);
				fill(b, s);
				H(b, "><title>%s %s：%Y 元</title></rect>", labels[c], names[s], v);
			}
			if (v != 0)
				H(b, "<text x=\"%d\" y=\"%d\">%Y</text>\n", ROW_LEFT + w + 4, y + ROW_BAR - 2, v);
		}
	}
	H(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#5b6773\"/>\n</svg>\n", ROW_LEFT, ROW_TOP,
	  ROW_LEFT, bottom);
}
