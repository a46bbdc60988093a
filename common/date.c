/* date: calendar arithmetic (see common/date.h). */
#include "common/date.h"

#include <stdio.h>
#include <string.h>

bool date_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int date_days_in_month(int y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return mdays[m - 1] + (m == 2 && date_is_leap(y));
}

bool date_parse(const char *s, int min_year, int *y, int *m, int *d)
{
	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return false;
		} else if (s[i] < '0' || s[i] > '9') {
			return false; /* a NUL fails here, so no overread */
		}
	}
	if (s[10] != '\0')
		return false;
	int yy = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	int mm = (s[5] - '0') * 10 + (s[6] - '0');
	int dd = (s[8] - '0') * 10 + (s[9] - '0');
	if (yy < min_year || mm < 1 || mm > 12 || dd < 1 || dd > date_days_in_month(yy, mm))
		return false;
	if (y)
		*y = yy;
	if (m)
		*m = mm;
	if (d)
		*d = dd;
	return true;
}

int64_t date_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;                                   /* [0, 399] */
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

void date_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

void date_month_last_day(int y, int m, char out[11])
{
	snprintf(out, 11, "%04d-%02d-%02d", y, m, date_days_in_month(y, m));
}

bool date_utc_z_to_cn(const char *z, char *out, size_t outlen)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	if (outlen)
		out[0] = '\0';
	if (!z || strlen(z) != sizeof shape - 1)
		return false;
	for (size_t i = 0; i < sizeof shape - 1; i++)
		if (shape[i] == 'd' ? !(z[i] >= '0' && z[i] <= '9') : z[i] != shape[i])
			return false;
	char day[11];
	memcpy(day, z, 10);
	day[10] = '\0';
	int y, m, d;
	int hh = (z[11] - '0') * 10 + (z[12] - '0'), mi = (z[14] - '0') * 10 + (z[15] - '0'),
	    ss = (z[17] - '0') * 10 + (z[18] - '0');
	if (!date_parse(day, 0, &y, &m, &d) || hh > 23 || mi > 59 || ss > 60)
		return false;
	int64_t days = date_days_from_civil(y, m, d);
	hh += 8;
	if (hh >= 24) {
		hh -= 24;
		days++;
	}
	int64_t cy;
	date_civil_from_days(days, &cy, &m, &d);
	snprintf(out, outlen, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)cy, m, d, hh, mi, ss);
	return true;
}

void date_cn_month_start(int y, int m, char *out, size_t outlen)
{
	if (m > 12) {
		y += (m - 1) / 12;
		m = (m - 1) % 12 + 1;
	}
	snprintf(out, outlen, "%04d-%02d-01 00:00:00+08", y, m);
}

bool date_year_valid(const char *s)
{
	if (!s || strlen(s) != 4 || strspn(s, "0123456789") != 4)
		return false;
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	return y >= 2000 && y <= 2100;
}
