/* daemon/pghosts: the hosts of a multi-host conninfo, rotated to start at
 * the one voucherd last found primary. */
#include <criterion/criterion.h>
#include <string.h>

#include "daemon/pghosts.h"

/* the value of key in a NULL-terminated keyword/value list, or NULL */
static const char *param(const char *const *k, const char *const *v, const char *key)
{
	for (int i = 0; k[i]; i++)
		if (!strcmp(k[i], key))
			return v[i];
	return NULL;
}

Test(unit_pghosts, two_hosts_rotate_and_ask_for_a_primary)
{
	pghosts_t h;
	char err[256];
	cr_assert(pghosts_parse(&h, "host=db1,db2 port=5432,5433 dbname=voucher user=voucher_ingest connect_timeout=3",
				err, sizeof err),
		  "%s", err);
	cr_assert_eq(h.nhosts, 2);
	cr_assert_eq(h.connect_timeout_s, 3);
	cr_assert_str_eq(h.label[0], "db1:5432");
	cr_assert_str_eq(h.label[1], "db2:5433");
	const char *const *k, *const *v;
	pghosts_params(&h, 0, &k, &v);
	cr_assert_str_eq(param(k, v, "host"), "db1,db2");
	cr_assert_str_eq(param(k, v, "port"), "5432,5433");
	cr_assert_str_eq(param(k, v, "target_session_attrs"), "read-write");
	cr_assert_str_eq(param(k, v, "dbname"), "voucher");
	cr_assert_str_eq(param(k, v, "user"), "voucher_ingest");
	pghosts_params(&h, 1, &k, &v);
	cr_assert_str_eq(param(k, v, "host"), "db2,db1");
	cr_assert_str_eq(param(k, v, "port"), "5433,5432");
	cr_assert_eq(pghosts_find(&h, "db2", "5433"), 1);
	cr_assert_eq(pghosts_find(&h, "db1", "5432"), 0);
	cr_assert_eq(pghosts_find(&h, "db1", "5433"), -1);
	cr_assert_eq(pghosts_find(&h, "db", "5432"), -1);
	pghosts_free(&h);
}

Test(unit_pghosts, one_port_for_every_host_and_a_uri)
{
	pghosts_t h;
	char err[256];
	cr_assert(pghosts_parse(&h, "postgresql://a,b,c:6000/voucher?target_session_attrs=primary", err, sizeof err),
		  "%s", err);
	cr_assert_eq(h.nhosts, 3);
	cr_assert_str_eq(h.label[2], "c:6000");
	const char *const *k, *const *v;
	pghosts_params(&h, 2, &k, &v);
	cr_assert_str_eq(param(k, v, "host"), "c,a,b");
	/* the conninfo's own choice stands */
	cr_assert_str_eq(param(k, v, "target_session_attrs"), "primary");
	pghosts_free(&h);
}

Test(unit_pghosts, one_host_is_left_as_it_is)
{
	pghosts_t h;
	char err[256];
	cr_assert(pghosts_parse(&h, "host=/run/postgresql dbname=voucher", err, sizeof err), "%s", err);
	cr_assert_eq(h.nhosts, 1);
	const char *const *k, *const *v;
	pghosts_params(&h, 0, &k, &v);
	cr_assert_str_eq(param(k, v, "host"), "/run/postgresql");
	cr_assert_null(param(k, v, "target_session_attrs"), "a single host is not asked to be read-write");
	cr_assert_null(param(k, v, "port"));
	pghosts_free(&h);
	cr_assert(pghosts_parse(&h, "", err, sizeof err), "%s", err);
	cr_assert_eq(h.nhosts, 1);
	pghosts_free(&h);
}

Test(unit_pghosts, lists_of_different_lengths_are_refused)
{
	pghosts_t h;
	char err[256];
	cr_assert_not(pghosts_parse(&h, "host=a,b,c port=1,2", err, sizeof err));
	cr_assert(strstr(err, "database.conninfo"), "%s", err);
	cr_assert(strstr(err, "3 hosts"), "%s", err);
	cr_assert_not(pghosts_parse(&h, "host=a,b hostaddr=127.0.0.1", err, sizeof err));
	cr_assert_not(pghosts_parse(&h, "host=a nosuchkey=1", err, sizeof err));
	cr_assert(strstr(err, "nosuchkey"), "%s", err);
	cr_assert_not(pghosts_parse(&h, "host=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", err, sizeof err));
	cr_assert(strstr(err, "more than 16 hosts"), "%s", err);
}
