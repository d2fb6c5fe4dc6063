/*
 * Operational endpoints: /v1/health, /metrics (Prometheus text), /v1/stats
 * and /v1/blocklist (plain, rbldnsd datasets per address family, CSV or JSON).
 */
#include "api/handler.h"
#include "common/config.h"
#include "common/util.h"
#include "db/pstmt.h"
#include "db/query.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* server.c: replies counted by status. */
size_t api_status_list(const int **statuses);
unsigned long api_status_requests(size_t i);

void
h_health(struct api_req *r)
{
	char why[256], *nodes = NULL;
	json_t *doc, *roles = json_array();
	char **list = config_list(r->cfg, CFG_ROLES, NULL);
	int s = r->db ? pstmt_text(r->db, &api_health_nodes, NULL, &nodes, why, sizeof(why))
		      : PSTMT_DOWN;
	bool up = s == PSTMT_OK;

	for (size_t i = 0; list[i] != NULL; i++)
		json_array_append_new(roles, json_string(list[i]));
	config_list_free(list);
	doc = json_pack("{s:s,s:s,s:o,s:o}", "status", up ? "ok" : "unavailable", "database",
			up ? "ok" : "unreachable", "roles", roles, "nodes",
			up ? json_loads(nodes, 0, NULL) : json_array());
	free(nodes);
	api_reply_json(r, up ? 200 : 503, doc);
}

/* A growing text buffer for the metrics page. */
struct mbuf {
	char *p;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3)))
mbuf_add(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n + 1;
		b->p = xrealloc(b->p, b->cap);
	}
}

static const struct {
	const char *name;
	const char *type;
	const char *help;
	const struct pstmt_stmt *stmt;
} metric_families[] = {
	{"relayaudit_probes_total", "counter", "Probes finished, by verdict (counted as written).",
	 &api_metric_probes},
	{"relayaudit_probes_in_flight", "gauge", "Probes running now, by node.",
	 &api_metric_in_flight},
	{"relayaudit_due_targets", "gauge", "Targets due for a probe (the queue depth).",
	 &api_metric_due},
	{"relayaudit_cases", "gauge", "Cases by state.", &api_metric_cases},
	{"relayaudit_outbox", "gauge", "Notification mails pending or failed.", &api_metric_outbox},
	{"relayaudit_webhook_deliveries", "gauge",
	 "Case events for webhook_url pending or failed for good.", &api_metric_webhook},
	{"relayaudit_enforcer_failures", "gauge", "Enforcement actions that failed for good.",
	 &api_metric_enforcer},
	{"relayaudit_sink_receipts_total", "counter", "Messages received by the sink.",
	 &api_metric_receipts},
	{"relayaudit_receipt_anomalies_total", "counter",
	 "Receipts their attempt could not have caused (replayed, late, refused DATA...), by reason.",
	 &api_metric_anomalies},
	{"relayaudit_receipts_orphaned", "gauge",
	 "Receipts waiting for their probe row (a node died before writing it).",
	 &api_metric_orphans},
	{"relayaudit_complaints_total", "counter", "Complaints filed (API, report mails).",
	 &api_metric_complaints},
	{"relayaudit_dnsbl_listings_total", "counter", "New DNSBL listings of customers' addresses.",
	 &api_metric_dnsbl},
};

/*
 * The probe duration histogram from its counters: one row per bucket by
 * upper bound in ms (bounds live in migration 009), "inf" last; cumulated here.
 */
static bool
metrics_duration(struct api_req *r, struct mbuf *b)
{
	uint64_t cum = 0;
	double sum_ms;
	char why[256];
	struct pstmt_rows res, sum;

	if (pstmt_rows(r->db, &api_metric_duration, NULL, &res, why, sizeof(why)) != PSTMT_OK)
		return false;
	if (pstmt_rows(r->db, &api_metric_duration_sum, NULL, &sum, why, sizeof(why)) != PSTMT_OK) {
		pstmt_rows_free(&res);
		return false;
	}
	sum_ms = sum.n > 0 ? strtod(pstmt_cell(&sum, 0, 1), NULL) : 0;
	pstmt_rows_free(&sum);
	mbuf_add(b, "# HELP relayaudit_probe_duration_seconds Probe duration.\n"
		    "# TYPE relayaudit_probe_duration_seconds histogram\n");
	for (int i = 0; i < res.n; i++) {
		const char *le = pstmt_cell(&res, i, 0);

		cum += strtoull(pstmt_cell(&res, i, 1), NULL, 10);
		if (strcmp(le, "inf") == 0)
			mbuf_add(b, "relayaudit_probe_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				 (unsigned long long)cum);
		else
			mbuf_add(b, "relayaudit_probe_duration_seconds_bucket{le=\"%g\"} %llu\n",
				 strtod(le, NULL) / 1000.0, (unsigned long long)cum);
	}
	pstmt_rows_free(&res);
	mbuf_add(b, "relayaudit_probe_duration_seconds_sum %.3f\n", sum_ms / 1000.0);
	mbuf_add(b, "relayaudit_probe_duration_seconds_count %llu\n", (unsigned long long)cum);
	return true;
}

void
h_metrics(struct api_req *r)
{
	struct mbuf b = {xmalloc(4096), 0, 4096};
	bool up = r->db != NULL;
	const int *statuses;
	size_t nstatus = api_status_list(&statuses);

	for (size_t f = 0; up && f < ARRAY_LEN(metric_families); f++) {
		char why[256];
		struct pstmt_rows res;

		if (pstmt_rows(r->db, metric_families[f].stmt, NULL, &res, why, sizeof(why)) !=
		    PSTMT_OK) {
			up = false;
			break;
		}
		mbuf_add(&b, "# HELP %s %s\n# TYPE %s %s\n", metric_families[f].name,
			 metric_families[f].help, metric_families[f].name, metric_families[f].type);
		for (int i = 0; i < res.n; i++) {
			const char *labels = pstmt_cell(&res, i, 0);

			mbuf_add(&b, "%s%s%s%s %s\n", metric_families[f].name, *labels ? "{" : "",
				 labels, *labels ? "}" : "", pstmt_cell(&res, i, 1));
		}
		pstmt_rows_free(&res);
	}
	if (up)
		up = metrics_duration(r, &b);
	mbuf_add(&b, "# HELP relayaudit_database_up Whether the API reaches the database.\n"
		     "# TYPE relayaudit_database_up gauge\nrelayaudit_database_up %d\n",
		 up ? 1 : 0);
	mbuf_add(&b, "# HELP relayaudit_database_errors_total Database errors seen by the API.\n"
		     "# TYPE relayaudit_database_errors_total counter\n"
		     "relayaudit_database_errors_total{component=\"api\"} %lu\n",
		 pstmt_error_count());
	mbuf_add(&b, "# HELP relayaudit_api_requests_total API replies by status.\n"
		     "# TYPE relayaudit_api_requests_total counter\n");
	for (size_t i = 0; i < nstatus; i++)
		mbuf_add(&b, "relayaudit_api_requests_total{code=\"%d\"} %lu\n", statuses[i],
			 api_status_requests(i));
	api_reply_text(r, 200, "text/plain; version=0.0.4", b.p, b.len);
}

void
h_stats(struct api_req *r)
{
	api_reply_query(r, &api_stats, NULL, 200, "stats");
}

void
h_blocklist(struct api_req *r)
{
	const char *fmt, *family;
	const char *accept = NULL;
	struct mbuf b = {xmalloc(4096), 0, 4096};
	char why[256];
	struct pstmt_rows res;
	int s;

	if (!api_param_choice(r, "format", "plain|rbldnsd|csv|json", &fmt)) {
		free(b.p);
		return;
	}
	if (fmt == NULL) {
		accept = api_header(r, "Accept");
		fmt = accept && strstr(accept, "application/json") ? "json" : "plain";
	}
	/* rbldnsd loads one dataset type per file: family=4 ip4set, family=6 ip6trie. */
	if (!api_param_choice(r, "family", "4|6", &family)) {
		free(b.p);
		return;
	}
	if (family != NULL && strcmp(fmt, "rbldnsd") != 0) {
		api_error(r, 400, "bad_parameter", "family applies to format=rbldnsd");
		free(b.p);
		return;
	}
	s = pstmt_rows(r->db, &api_blocklist, NULL, &res, why, sizeof(why));
	if (!api_db_ok(r, s, why, "blocklist")) {
		free(b.p);
		return;
	}
	if (strcmp(fmt, "json") == 0) {
		json_t *items = json_array();

		for (int i = 0; i < res.n; i++)
			json_array_append_new(items,
					      json_pack("{s:s,s:I,s:s,s:s}", "address",
							pstmt_cell(&res, i, 0), "case_id",
							(json_int_t)strtoll(pstmt_cell(&res, i, 1), NULL, 10),
							"blocked_at", pstmt_cell(&res, i, 2), "why",
							pstmt_cell(&res, i, 4)));
		pstmt_rows_free(&res);
		free(b.p);
		api_reply_json(r, 200, json_pack("{s:o,s:i}", "items", items, "count",
						 (int)json_array_size(items)));
		return;
	}
	if (strcmp(fmt, "rbldnsd") == 0) {
		/* Without family both are listed, for reading; rbldnsd wants one per file. */
		const char *dataset = family == NULL ? "ip4set/ip6trie"
				    : strcmp(family, "6") == 0 ? "ip6trie" : "ip4set";

		mbuf_add(&b, "# relayaudit blocklist: open SMTP relays (rbldnsd %s)\n"
			     ":127.0.0.2:Open SMTP relay, blocked by relayaudit\n", dataset);
		for (int i = 0; i < res.n; i++) {
			bool v6 = strcmp(pstmt_cell(&res, i, 3), "6") == 0;

			if (family == NULL || strcmp(pstmt_cell(&res, i, 3), family) == 0)
				mbuf_add(&b, "%s%s\n", pstmt_cell(&res, i, 0), v6 ? "/128" : "");
		}
	} else if (strcmp(fmt, "csv") == 0) {
		/* RFC 4180; every field is an address, a number, a timestamp or a verdict name. */
		mbuf_add(&b, "address,case_id,blocked_at,why\r\n");
		for (int i = 0; i < res.n; i++)
			mbuf_add(&b, "%s,%s,%s,%s\r\n", pstmt_cell(&res, i, 0), pstmt_cell(&res, i, 1),
				 pstmt_cell(&res, i, 2), pstmt_cell(&res, i, 4));
	} else {
		for (int i = 0; i < res.n; i++)
			mbuf_add(&b, "%s\n", pstmt_cell(&res, i, 0));
	}
	pstmt_rows_free(&res);
	api_reply_text(r, 200,
		       strcmp(fmt, "csv") == 0 ? "text/csv; charset=utf-8" : "text/plain; charset=utf-8",
		       b.p, b.len);
}
