/*
 * The SQL of `relayctl import`. The file's rows are COPYed into temporary
 * tables and merged with a handful of set-based statements, so 100,000 rows
 * take seconds; updates compare first so a re-import changes nothing.
 */
#include "db/import.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"

#include <stdlib.h>
#include <string.h>

#define COPY_CHUNK (256 * 1024)

struct copybuf {
	PGconn *conn;
	char *buf;
	size_t len;
	int failed;
};

static void
copy_flush(struct copybuf *cb)
{
	if (cb->len > 0 && !cb->failed && PQputCopyData(cb->conn, cb->buf, (int)cb->len) != 1)
		cb->failed = 1;
	cb->len = 0;
}

static void
copy_raw(struct copybuf *cb, const char *s, size_t n)
{
	if (cb->len + n > COPY_CHUNK)
		copy_flush(cb);
	memcpy(cb->buf + cb->len, s, n);
	cb->len += n;
}

/* A COPY text-format column: NULL as \N, backslash and control characters escaped. */
static void
copy_text(struct copybuf *cb, const char *s, bool last)
{
	if (s == NULL) {
		copy_raw(cb, "\\N", 2);
	} else {
		for (; *s; s++) {
			char esc[2] = {'\\', *s};

			if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r') {
				esc[1] = *s == '\t'   ? 't'
				         : *s == '\n' ? 'n'
				         : *s == '\r' ? 'r'
				                      : '\\';
				copy_raw(cb, esc, 2);
			} else {
				copy_raw(cb, s, 1);
			}
		}
	}
	copy_raw(cb, last ? "\n" : "\t", 1);
}

static int
copy_begin(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COPY_IN;

	if (!ok)
		log_error("db_error", "what=import_copy error=\"%s\"", db_result_message(res));
	PQclear(res);
	return ok ? 0 : -1;
}

static int
copy_end(struct copybuf *cb)
{
	PGresult *res;
	int rc = 0;

	copy_flush(cb);
	if (PQputCopyEnd(cb->conn, cb->failed ? "client failed" : NULL) != 1)
		cb->failed = 1;
	while ((res = PQgetResult(cb->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("db_error", "what=import_copy error=\"%s\"",
			          db_result_message(res));
			rc = -1;
		}
		PQclear(res);
	}
	return cb->failed ? -1 : rc;
}

/* "{a.example,b.example}": validated domain names need no quoting in an array literal. */
static char *
import_domains_text(const struct import_row *r)
{
	size_t len = 3, off = 1;
	char *out;

	for (int d = 0; d < r->ndomains; d++)
		len += strlen(r->domains[d]) + 1;
	out = xmalloc(len);
	out[0] = '{';
	for (int d = 0; d < r->ndomains; d++) {
		size_t n = strlen(r->domains[d]);

		if (d > 0)
			out[off++] = ',';
		memcpy(out + off, r->domains[d], n);
		off += n;
	}
	memcpy(out + off, "}", 2);
	return out;
}

static int
import_copy_rows(PGconn *conn, const struct import_result *res, char *buf)
{
	struct copybuf cb = {conn, buf, 0, 0};
	char line[16];

	if (copy_begin(conn, "COPY import_rows (line, ext_id, name, contact_email, locale, "
	                     "access_type, domains) FROM STDIN") < 0)
		return -1;
	for (size_t i = 0; i < res->nrows; i++) {
		const struct import_row *r = &res->rows[i];
		char *domains = r->domains_given ? import_domains_text(r) : NULL;

		snprintf(line, sizeof(line), "%d", r->line);
		copy_text(&cb, line, false);
		copy_text(&cb, r->customer, false);
		copy_text(&cb, r->name, false);
		copy_text(&cb, r->contact_email, false);
		copy_text(&cb, r->locale, false);
		copy_text(&cb, r->access_type, false);
		copy_text(&cb, domains, true);
		free(domains);
	}
	return copy_end(&cb);
}

static int
import_copy_targets(PGconn *conn, const struct import_result *res, char *buf)
{
	struct copybuf cb = {conn, buf, 0, 0};
	char line[16], ports[96], addr[ADDR_STRLEN];

	if (copy_begin(conn, "COPY import_targets (line, ext_id, address, ports, domains) "
	                     "FROM STDIN") < 0)
		return -1;
	for (size_t i = 0; i < res->nrows; i++) {
		const struct import_row *r = &res->rows[i];
		uint64_t size = cidr_size(&r->cidr);
		char *domains = NULL;

		snprintf(line, sizeof(line), "%d", r->line);
		import_ports_text(r->ports, r->nports, ports, sizeof(ports));
		if (r->domains_given)
			domains = import_domains_text(r);
		for (uint64_t k = 0; k < size; k++) {
			struct addr a;

			cidr_nth(&r->cidr, k, &a);
			addr_format(&a, addr, sizeof(addr));
			copy_text(&cb, line, false);
			copy_text(&cb, r->customer, false);
			copy_text(&cb, addr, false);
			copy_text(&cb, r->nports ? ports : NULL, false);
			copy_text(&cb, domains, true);
		}
		free(domains);
	}
	return copy_end(&cb);
}

static const char stage_rows_sql[] =
    "CREATE TEMP TABLE import_rows (line integer, ext_id text, name text, "
    " contact_email text, locale text, access_type text, domains text[]) ON COMMIT DROP";
static const char stage_targets_sql[] =
    "CREATE TEMP TABLE import_targets (line integer, ext_id text, address inet, "
    " ports integer[], domains text[]) ON COMMIT DROP";

/* The file holds each address once; overlapping CIDRs or repeats are errors at the later line. */
static const char duplicates_sql[] =
    "SELECT host(address), lines[1], lines[2] FROM ("
    " SELECT address, (array_agg(line ORDER BY line))[1:2] AS lines"
    " FROM import_targets GROUP BY address HAVING count(*) > 1) d "
    "ORDER BY lines[2] LIMIT 50";

/*
 * Omitted optional fields (NULL) keep what is stored. Inserts skip existing
 * keys before the CHECK constraints run (ON CONFLICT alone would evaluate
 * them for every row of a re-import); ON CONFLICT stays for a concurrent import.
 */
/*
 * A customer's mail domains on record are the union of its rows' domains
 * column, in the order the file first names them (already normal: lower
 * case, checked by common/mail_domain.c); a customer none of whose rows
 * gives domains keeps what is stored. The file is the billing system's
 * whole list, so a domain it no longer names leaves the record.
 */
static const char customers_sql[] =
    "CREATE TEMP TABLE import_customers ON COMMIT DROP AS"
    " SELECT r.ext_id, max(r.name) AS name, max(r.contact_email) AS contact_email,"
    " max(r.locale) AS locale, max(r.access_type) AS access_type, min(d.domains) AS domains"
    " FROM import_rows r LEFT JOIN ("
    "  SELECT ext_id, array_agg(domain ORDER BY first) AS domains FROM ("
    "   SELECT ext_id, domain, min(line::bigint * 64 + pos) AS first"
    "   FROM import_rows, unnest(domains) WITH ORDINALITY AS u(domain, pos)"
    "   GROUP BY ext_id, domain) f GROUP BY ext_id) d ON d.ext_id = r.ext_id"
    " GROUP BY r.ext_id";

static const char customers_update_sql[] =
    "UPDATE customers c SET name = COALESCE(i.name, c.name),"
    " contact_email = i.contact_email, locale = COALESCE(i.locale, c.locale),"
    " access_type = COALESCE(i.access_type, c.access_type),"
    " domains = COALESCE(i.domains, c.domains), updated_at = now()"
    " FROM import_customers i WHERE c.ext_id = i.ext_id"
    " AND (c.name, c.contact_email, c.locale, c.access_type, c.domains) IS DISTINCT FROM"
    " (COALESCE(i.name, c.name), i.contact_email, COALESCE(i.locale, c.locale),"
    "  COALESCE(i.access_type, c.access_type), COALESCE(i.domains, c.domains))";

static const char customers_insert_sql[] =
    "INSERT INTO customers (ext_id, name, contact_email, locale, access_type, domains)"
    " SELECT ext_id, COALESCE(name, ''), contact_email, COALESCE(locale, 'en'),"
    " COALESCE(access_type, 'business'), COALESCE(domains, '{}') FROM import_customers i"
    " WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.ext_id = i.ext_id)"
    " ON CONFLICT (ext_id) DO NOTHING";

/* An address listed under another customer moves to the customer the file names. */
static const char targets_update_sql[] =
    "UPDATE targets t SET customer_id = c.id, ports = COALESCE(i.ports, t.ports),"
    " domains = COALESCE(i.domains, t.domains), updated_at = now()"
    " FROM import_targets i JOIN customers c ON c.ext_id = i.ext_id"
    " WHERE t.address = i.address"
    " AND (t.customer_id, t.ports, t.domains) IS DISTINCT FROM"
    " (c.id, COALESCE(i.ports, t.ports), COALESCE(i.domains, t.domains))";

static const char targets_insert_sql[] =
    "INSERT INTO targets (customer_id, address, ports, domains)"
    " SELECT c.id, i.address, COALESCE(i.ports, $1::integer[]), COALESCE(i.domains, '{}')"
    " FROM import_targets i JOIN customers c ON c.ext_id = i.ext_id"
    " WHERE NOT EXISTS (SELECT 1 FROM targets t WHERE t.address = i.address)"
    " ORDER BY i.address ON CONFLICT (address) DO NOTHING";

/* Rows changed by a command, from PQcmdTuples; -1 when the command failed. */
static long
import_count(PGconn *conn, const char *what, const char *sql, int n, const char *const *params)
{
	PGresult *r = db_exec(conn, what, sql, n, params);
	long count;

	if (r == NULL)
		return -1;
	count = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return count;
}

static int
import_check_duplicates(PGconn *conn, struct import_result *res)
{
	PGresult *r = db_exec(conn, "import_duplicates", duplicates_sql, 0, NULL);
	int n;

	if (r == NULL)
		return -1;
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		int64_t line = 0;

		parse_i64(PQgetvalue(r, i, 2), 0, INT32_MAX, &line);
		import_add_error(res, (int)line, "address %s is also on line %s",
		                 PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	}
	PQclear(r);
	return n;
}

int
import_write(PGconn *conn, struct import_result *res, const char *default_ports, bool dry_run,
             struct import_counts *counts)
{
	char *buf = xmalloc(COPY_CHUNK);
	const char *params[1] = {default_ports};
	int dups;

	memset(counts, 0, sizeof(*counts));
	counts->targets_total = (long)res->ntargets;
	if (db_begin(conn) < 0)
		goto fail;
	/* Temporary tables get no statistics from autovacuum; ANALYZE picks hash joins. */
	if (db_cmd(conn, "import_stage", stage_rows_sql, 0, NULL) < 0 ||
	    db_cmd(conn, "import_stage", stage_targets_sql, 0, NULL) < 0 ||
	    import_copy_rows(conn, res, buf) < 0 || import_copy_targets(conn, res, buf) < 0 ||
	    db_cmd(conn, "import_analyze", "ANALYZE import_rows", 0, NULL) < 0 ||
	    db_cmd(conn, "import_analyze", "ANALYZE import_targets", 0, NULL) < 0)
		goto fail;
	if ((dups = import_check_duplicates(conn, res)) < 0)
		goto fail;
	if (dups > 0) {
		db_rollback(conn);
		free(buf);
		return -1;
	}
	if (db_cmd(conn, "import_customers", customers_sql, 0, NULL) < 0 ||
	    (counts->customers_changed = import_count(conn, "import_customers_update",
	                                              customers_update_sql, 0, NULL)) < 0 ||
	    (counts->customers_new = import_count(conn, "import_customers_insert",
	                                          customers_insert_sql, 0, NULL)) < 0 ||
	    (counts->targets_changed =
	         import_count(conn, "import_targets_update", targets_update_sql, 0, NULL)) < 0 ||
	    (counts->targets_new =
	         import_count(conn, "import_targets_insert", targets_insert_sql, 1, params)) < 0)
		goto fail;
	if (dry_run)
		db_rollback(conn);
	else if (db_commit(conn) < 0)
		goto fail;
	free(buf);
	return 0;
fail:
	db_rollback(conn);
	free(buf);
	return -1;
}
