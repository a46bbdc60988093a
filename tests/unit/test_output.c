/* ctl/output.c: the listing formats, on rows made in C (no database). */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/output.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const out_col_t cols[] = {
	{"name", OUT_TEXT}, {"count", OUT_INT}, {"amount", OUT_MONEY_FEN}, {"ok", OUT_BOOL}, {"at", OUT_TIMESTAMP},
};

/* Prints rows (nrows x 5 cells) in fmt into a malloc'd string. */
static char *render(ctl_format_t fmt, const char *const *cells, int nrows)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert(f);
	out_rows_t rows = out_rows_array(cells, nrows, N(cols));
	cr_assert(out_list(f, fmt, cols, N(cols), &rows));
	fclose(f);
	return text;
}

Test(unit_output, csv_bom_header_crlf)
{
	static const char *const cells[] = {"a", "1", "100", "t", "2026-03-02 10:00:00+08"};
	char *s = render(FMT_CSV, cells, 1);
	cr_expect_str_eq(s, "\xef\xbb\xbf"
			    "name,count,amount,ok,at\r\n"
			    "a,1,1.00,1,2026-03-02T10:00:00+08:00\r\n");
	/* exactly one BOM, at the very start */
	cr_expect_null(strstr(s + 3, "\xef\xbb\xbf"));
	free(s);
	/* no rows: BOM and header still */
	s = render(FMT_CSV, cells, 0);
	cr_expect_str_eq(s, "\xef\xbb\xbfname,count,amount,ok,at\r\n");
	free(s);
}

Test(unit_output, csv_quoting)
{
	static const char *const cells[] = {
		"桐乡某某, 有限公司", "1", "0", "f", NULL, "say \"hi\"", "2",  "0",  "f",  NULL,
		"two\r\nlines",       "3", "0", "f", NULL, "lf\nonly",   "4",  "0",  "f",  NULL,
		"plain text",         "5", "0", "f", NULL, "",           NULL, NULL, NULL, NULL,
	};
	char *s = render(FMT_CSV, cells, 6);
	cr_expect_str_eq(s, "\xef\xbb\xbf"
			    "name,count,amount,ok,at\r\n"
			    "\"桐乡某某, 有限公司\",1,0.00,0,\r\n"
			    "\"say \"\"hi\"\"\",2,0.00,0,\r\n"
			    "\"two\r\nlines\",3,0.00,0,\r\n"
			    "\"lf\nonly\",4,0.00,0,\r\n"
			    "plain text,5,0.00,0,\r\n"
			    ",,,,\r\n");
	free(s);
}

Test(unit_output, csv_formula_guard)
{
	static const char *const cells[] = {
		"=SUM(A1:A9)", "-3", "-500", "t", NULL, "+86 571", "0", "0", "t", NULL, "-cmd", "0", "0", "t", NULL,
		"@A1",         "0",  "0",    "t", NULL, "\tx",     "0", "0", "t", NULL, "\rx",  "0", "0", "t", NULL,
		"=\"a,b\"",    "0",  "0",    "t", NULL, "a=b",     "0", "0", "t", NULL,
	};
	char *s = render(FMT_CSV, cells, 8);
	cr_expect_str_eq(s, "\xef\xbb\xbf"
			    "name,count,amount,ok,at\r\n"
			    "'=SUM(A1:A9),-3,-5.00,1,\r\n" /* numbers and money keep their sign */
			    "'+86 571,0,0.00,1,\r\n"
			    "'-cmd,0,0.00,1,\r\n"
			    "'@A1,0,0.00,1,\r\n"
			    "'\tx,0,0.00,1,\r\n"
			    "\"'\rx\",0,0.00,1,\r\n"
			    "\"'=\"\"a,b\"\"\",0,0.00,1,\r\n"
			    "a=b,0,0.00,1,\r\n");
	free(s);
}

Test(unit_output, money_formats)
{
	static const struct {
		const char *fen, *yuan;
	} cases[] = {
		{"0", "0.00"},
		{"5", "0.05"},
		{"50", "0.50"},
		{"100", "1.00"},
		{"-1", "-0.01"},
		{"-12345", "-123.45"},
		{"100000000", "1000000.00"},
		{"9223372036854775807", "92233720368547758.07"},
		{"-9223372036854775808", "-92233720368547758.08"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *cells[] = {"x", "1", cases[i].fen, "t", NULL};
		char *s = render(FMT_CSV, cells, 1);
		char want[256];
		snprintf(want, sizeof want, "\xef\xbb\xbfname,count,amount,ok,at\r\nx,1,%s,1,\r\n", cases[i].yuan);
		cr_expect_str_eq(s, want, "csv of %s fen", cases[i].fen);
		free(s);
		s = render(FMT_TABLE, cells, 1);
		cr_expect_not_null(strstr(s, cases[i].yuan), "table of %s fen: %s", cases[i].fen, s);
		free(s);
		s = render(FMT_JSON, cells, 1);
		char key[128];
		snprintf(key, sizeof key, "\"amount\": %s,", cases[i].fen);
		cr_expect_not_null(strstr(s, key), "json of %s fen: %s", cases[i].fen, s);
		free(s);
	}
}

Test(unit_output, json_types)
{
	static const char *const cells[] = {
		"桐乡 \"q\" \\ \n\t\x01",    "42", "-1234", "t", "2026-03-02 10:00:00.25+08", NULL, NULL, NULL, "f",
		"2026-03-02 02:00:00+05:30",
	};
	char *s = render(FMT_JSON, cells, 2);
	json_error_t e;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &e);
	cr_assert_not_null(j, "json: %s in %s", e.text, s);
	cr_assert(json_is_array(j) && json_array_size(j) == 2);
	json_t *a = json_array_get(j, 0), *b = json_array_get(j, 1);
	cr_expect_str_eq(json_string_value(json_object_get(a, "name")), "桐乡 \"q\" \\ \n\t\x01");
	cr_expect(json_is_integer(json_object_get(a, "count")));
	cr_expect_eq(json_integer_value(json_object_get(a, "count")), 42);
	cr_expect(json_is_integer(json_object_get(a, "amount")));
	cr_expect_eq(json_integer_value(json_object_get(a, "amount")), -1234); /* fen, not yuan */
	cr_expect(json_is_true(json_object_get(a, "ok")));
	cr_expect_str_eq(json_string_value(json_object_get(a, "at")), "2026-03-02T10:00:00.25+08:00");
	cr_expect(json_is_null(json_object_get(b, "name")));
	cr_expect(json_is_null(json_object_get(b, "count")));
	cr_expect(json_is_null(json_object_get(b, "amount")));
	cr_expect(json_is_false(json_object_get(b, "ok")));
	cr_expect_str_eq(json_string_value(json_object_get(b, "at")), "2026-03-02T02:00:00+05:30");
	json_decref(j);
	free(s);
	s = render(FMT_JSON, cells, 0);
	cr_expect_str_eq(s, "[]\n");
	free(s);
}

Test(unit_output, display_width)
{
	cr_expect_eq(out_display_width(""), 0);
	cr_expect_eq(out_display_width("abc"), 3);
	cr_expect_eq(out_display_width("桐乡市"), 6);
	cr_expect_eq(out_display_width("AI有限公司"), 10);
	cr_expect_eq(out_display_width("（全角）"), 8);         /* U+FF08 fullwidth parentheses */
	cr_expect_eq(out_display_width("한국"), 4);             /* Hangul syllables */
	cr_expect_eq(out_display_width("é"), 1);                /* U+00E9, narrow */
	cr_expect_eq(out_display_width("\xf0\xa0\x80\x80"), 2); /* U+20000, CJK extension B */
	cr_expect_eq(out_display_width("\xff"), 1);             /* not UTF-8: one column */
}

/* In a table, every line has its columns at the same display column, with
 * Chinese characters counted twice. */
Test(unit_output, table_alignment_with_chinese)
{
	static const char *const cells[] = {
		"桐乡某某科技", "7", "123456", "t", "2026-03-02 10:00:00.123456+08", "ab", "1234", "5", "f", NULL,
	};
	char *s = render(FMT_TABLE, cells, 2);
	/* widths: name 12 (6 wide chars), count 5, amount 7 ("1234.56"), ok 3, at 22 */
	cr_expect_str_eq(s, "name          count   amount  ok   at\n"
			    "------------  -----  -------  ---  ----------------------\n"
			    "桐乡某某科技      7  1234.56  yes  2026-03-02 10:00:00+08\n"
			    "ab             1234     0.05  no\n");
	free(s);
}

Test(unit_output, table_control_characters)
{
	static const char *const cells[] = {"a\x1b[31mred\nx\xc2\x9b", "1", "0", "t", NULL};
	char *s = render(FMT_TABLE, cells, 1);
	cr_expect_null(strchr(s, '\x1b'));
	cr_expect_not_null(strstr(s, "a?[31mred?x?"), "%s", s);
	free(s);
}

Test(unit_output, show_record)
{
	static const char *const cells[] = {"桐乡", "7", "250", "t", NULL};
	out_rows_t rows = out_rows_array(cells, 1, N(cols));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	out_doc_t d;
	out_doc_begin(&d, f, FMT_TABLE);
	out_doc_record(&d, "thing", cols, N(cols), &rows, 0);
	out_rows_t none = out_rows_array(cells, 0, N(cols));
	out_doc_list(&d, "parts", cols, 2, &none);
	cr_assert(out_doc_end(&d));
	fclose(f);
	cr_expect_str_eq(text, "name:   桐乡\n"
			       "count:  7\n"
			       "amount: 2.50\n"
			       "ok:     yes\n"
			       "at:\n"
			       "\n"
			       "parts:\n"
			       "  (none)\n");
	free(text);

	f = open_memstream(&text, &len);
	out_doc_begin(&d, f, FMT_JSON);
	out_doc_record(&d, "thing", cols, N(cols), &rows, 0);
	out_doc_list(&d, "parts", cols, N(cols), &rows);
	out_doc_record(&d, "missing", cols, N(cols), &rows, 5);
	cr_assert(out_doc_end(&d));
	fclose(f);
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	cr_assert_not_null(j, "json: %s in %s", e.text, text);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "thing"), "amount")), 250);
	cr_expect_eq(json_array_size(json_object_get(j, "parts")), 1);
	cr_expect(json_is_null(json_object_get(j, "missing")));
	json_decref(j);
	free(text);

	f = open_memstream(&text, &len);
	out_doc_begin(&d, f, FMT_CSV);
	out_doc_record(&d, "thing", cols, 3, &rows, 0);
	out_doc_list(&d, "parts", cols, 1, &rows);
	cr_assert(out_doc_end(&d));
	fclose(f);
	cr_expect_str_eq(text, "\xef\xbb\xbfthing\r\nname,count,amount\r\n桐乡,7,2.50\r\n"
			       "\r\nparts\r\nname\r\n桐乡\r\n");
	free(text);
}

/* Headers for people: Chinese labels in a table, aligned by display width
 * (a CJK character is two columns); csv and json keep the English names; a
 * division shows its name from the GB/T 2260 table in a table only. */
static char *render_labelled(ctl_format_t fmt)
{
	static const out_col_t lc[] = {{"division", OUT_DIVISION}, {"payable", OUT_MONEY_FEN}, {"note", OUT_TEXT}};
	static const char *const labels[] = {"行政区划", "本次拨付(元)", "备注"};
	static const char *const cells[] = {"330106", "100", "追回", "110105", "123456", "x"};
	out_rows_t rows = out_rows_array(cells, 2, 3);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert(out_list_labelled(f, fmt, lc, labels, 3, &rows));
	fclose(f);
	return text;
}

Test(unit_output, labelled_headers)
{
	char *t = render_labelled(FMT_TABLE);
	cr_expect_str_eq(t,
			 "行政区划       本次拨付(元)  备注\n"
			 "-------------  ------------  ----\n"
			 "330106 西湖区          1.00  追回\n"
			 "110105              1234.56  x\n",
			 "%s", t);
	free(t);
	t = render_labelled(FMT_CSV);
	cr_expect_str_eq(t,
			 "\xef\xbb\xbf"
			 "division,payable,note\r\n330106,1.00,追回\r\n110105,1234.56,x\r\n",
			 "%s", t);
	free(t);
	t = render_labelled(FMT_JSON);
	cr_expect(strstr(t, "\"division\": \"330106\"") || strstr(t, "\"division\":\"330106\""), "%s", t);
	cr_expect(!strstr(t, "西湖区") && !strstr(t, "行政区划"), "%s", t);
	free(t);
}
