/*
 * THE route table of the HTTP API: method, path pattern, who may call it,
 * handler, accepted query parameters, body fields. The dispatcher, the
 * auth check and the OpenAPI document all read this one table.
 */
#include "api/handler.h"
#include "common/util.h"

#include <string.h>

#define JSON "application/json"
#define LIST "limit,cursor"

static const struct api_route routes[] = {
	{"GET", "/v1/health", ACCESS_HEALTH, h_health, NULL, NULL, 200, JSON,
	 "Database reachable and the roles running on each node"},
	{"GET", "/metrics", ACCESS_HEALTH, h_metrics, NULL, NULL, 200, "text/plain",
	 "Prometheus metrics"},
	{"GET", "/v1/openapi.json", ACCESS_PUBLIC, h_openapi, NULL, NULL, 200, JSON,
	 "This document"},

	{"GET", "/v1/whoami", ACCESS_VIEWER, h_whoami, NULL, NULL, 200, JSON,
	 "The calling token's name and role"},

	{"GET", "/v1/customers", ACCESS_VIEWER, h_customers_list, LIST ",q", NULL, 200, JSON,
	 "List customers (q: substring of ext_id, name or contact)"},
	{"POST", "/v1/customers", ACCESS_OPERATOR, h_customer_create, NULL, api_customer_fields,
	 201, JSON, "Create a customer"},
	{"GET", "/v1/customers/{ext_id}", ACCESS_VIEWER, h_customer_get, NULL, NULL, 200, JSON,
	 "One customer with its targets"},
	{"PATCH", "/v1/customers/{ext_id}", ACCESS_OPERATOR, h_customer_update, NULL,
	 api_customer_update_fields, 200, JSON, "Change a customer"},
	{"DELETE", "/v1/customers/{ext_id}", ACCESS_ADMIN, h_customer_delete, NULL, NULL, 200,
	 JSON, "Delete a customer and its targets"},

	{"GET", "/v1/targets", ACCESS_VIEWER, h_targets_list,
	 LIST ",verdict,state,cidr,customer,excluded", NULL, 200, JSON,
	 "List targets (verdict: last verdict, state: active case state)"},
	{"POST", "/v1/targets", ACCESS_OPERATOR, h_target_create, NULL, api_target_fields, 201,
	 JSON, "Create a target"},
	{"POST", "/v1/targets/import", ACCESS_OPERATOR, h_targets_import, "dry_run", NULL, 200,
	 JSON, "Bulk import: the relayctl import file as text/csv or application/x-ndjson, all or nothing"},
	{"GET", "/v1/targets/{ip}", ACCESS_VIEWER, h_target_get, NULL, NULL, 200, JSON,
	 "One target with its latest probes and active case"},
	{"PATCH", "/v1/targets/{ip}", ACCESS_OPERATOR, h_target_update, NULL,
	 api_target_update_fields, 200, JSON, "Change a target"},
	{"DELETE", "/v1/targets/{ip}", ACCESS_ADMIN, h_target_delete, NULL, NULL, 200, JSON,
	 "Delete a target"},
	{"POST", "/v1/targets/{ip}/retest", ACCESS_OPERATOR, h_target_retest, NULL, NULL, 202, JSON,
	 "Request a re-test now; follow it at /v1/retests/{id}"},
	{"GET", "/v1/retests/{id}", ACCESS_VIEWER, h_retest_get, NULL, NULL, 200, JSON,
	 "Progress and result of a re-test request"},

	{"GET", "/v1/probes", ACCESS_VIEWER, h_probes_list, LIST ",verdict,target,cidr", NULL, 200,
	 JSON, "List probes, newest first"},
	{"GET", "/v1/probes/{id}", ACCESS_VIEWER, h_probe_get, NULL, NULL, 200, JSON,
	 "One probe with its evidence and transcript"},

	{"GET", "/v1/cases", ACCESS_VIEWER, h_cases_list,
	 LIST ",state,older_than,cidr,finding,customer,format", NULL, 200, JSON,
	 "List cases, newest first (older_than: opened at least this long ago, e.g. 3d;"
	 " finding: what opened it; customer: ext_id; format=csv: text/csv, the next page's"
	 " cursor in X-Next-Cursor)"},
	{"GET", "/v1/cases/{id}", ACCESS_VIEWER, h_case_get, NULL, NULL, 200, JSON,
	 "One case with its event log and pending commands"},
	{"POST", "/v1/cases/{id}/actions", ACCESS_OPERATOR, h_case_action, NULL,
	 api_case_action_fields, 202, JSON,
	 "Queue an operator action (block, unblock, escalate, close, reopen, note) for the workflow"},
	{"POST", "/v1/complaints", ACCESS_OPERATOR, h_complaint_create, NULL, api_complaint_fields,
	 202, JSON, "Record a spam complaint; the workflow blocks and schedules a test"},

	{"POST", "/v1/sweeps", ACCESS_OPERATOR, h_sweep_create, NULL, api_sweep_fields, 201, JSON,
	 "Probe all targets, a range or a customer's targets soon"},
	{"GET", "/v1/sweeps", ACCESS_VIEWER, h_sweeps_list, LIST ",running", NULL, 200, JSON,
	 "List sweeps with their progress, newest first (running: only unfinished ones)"},
	{"GET", "/v1/sweeps/{id}", ACCESS_VIEWER, h_sweep_get, NULL, NULL, 200, JSON,
	 "Progress of a sweep"},

	{"GET", "/v1/stats", ACCESS_VIEWER, h_stats, NULL, NULL, 200, JSON,
	 "Counts for dashboards: verdicts, case states, per day, time to remediate, outbox and"
	 " enforcer queues"},
	{"GET", "/v1/blocklist", ACCESS_VIEWER, h_blocklist, "format,family", NULL, 200, "text/plain",
	 "Blocked addresses (format: plain, rbldnsd, csv or json; csv and json say since when and why;"
	 " rbldnsd with family=4 is an ip4set dataset, with family=6 an ip6trie one)"},

	{"GET", "/", ACCESS_PUBLIC, h_web_index, NULL, NULL, 200, "text/html",
	 "The abuse desk's dashboard (signs in with an API token)"},
	{"GET", "/web/{file}", ACCESS_PUBLIC, h_web_file, NULL, NULL, 200, "text/javascript",
	 "The dashboard's scripts, style sheet and images"},
	{"GET", "/javascript/chart.js/{file}", ACCESS_PUBLIC, h_web_chartjs, NULL, NULL, 200,
	 "text/javascript", "Chart.js from Debian's libjs-chart.js (/usr/share/javascript/chart.js)"},
	{"GET", "/r/{token}", ACCESS_PUBLIC, h_retest_page, NULL, NULL, 200, "text/html",
	 "Customers' self-service re-test page (signed link from the notification mail); "
	 "shows the finding and a button, changes nothing"},
	{"POST", "/r/{token}", ACCESS_PUBLIC, h_retest_page_post, NULL, NULL, 303, "text/html",
	 "The page's button: requests the re-test (rate limited per case), then back to the page"},
	{"GET", "/r/{token}/status", ACCESS_PUBLIC, h_retest_page_status, NULL, NULL, 200, JSON,
	 "What the re-test page shows, for its polling: state, message, can_request"},
};

const struct api_route *
api_routes(size_t *count)
{
	*count = ARRAY_LEN(routes);
	return routes;
}

bool
api_route_has_query(const struct api_route *rt, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = rt->query; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

/* Matches the segments of url against pattern; fills params. */
static bool
api_route_fits(const char *pattern, char **segs, int nsegs, const char **params)
{
	int i = 0, np = 0;
	const char *p = pattern;

	while (*p == '/') {
		const char *end;
		size_t len;

		p++;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (i >= nsegs)
			return false;
		if (p[0] == '{') {
			if (segs[i][0] == '\0' || np >= API_MAX_PATH_PARAMS)
				return false;
			params[np++] = segs[i];
		} else if (strlen(segs[i]) != len || strncmp(segs[i], p, len) != 0) {
			return false;
		}
		i++;
		p += len;
	}
	return i == nsegs;
}

const struct api_route *
api_route_match(struct api_req *r)
{
	char *segs[16];
	int nsegs = 0;
	char allow[128] = "";
	size_t alen = 0;

	if (str_fmt(r->path_buf, sizeof(r->path_buf), "%s", r->url) < 0 || r->url[0] != '/') {
		api_error(r, 404, "not_found", "no such resource");
		return NULL;
	}
	for (char *p = r->path_buf; *p == '/';) {
		char *end;

		if (nsegs == (int)ARRAY_LEN(segs)) {
			api_error(r, 404, "not_found", "no such resource");
			return NULL;
		}
		*p++ = '\0';
		segs[nsegs++] = p;
		end = strchr(p, '/');
		if (end == NULL)
			break;
		p = end;
	}
	/*
	 * The pattern with the most literal segments wins, so /v1/targets/import
	 * is never taken for /v1/targets/{ip}; then the method picks the row.
	 */
	const char *best = NULL;
	int best_literals = -1;

	for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
		const char *params[API_MAX_PATH_PARAMS] = {0};
		int literals = 0;

		if (!api_route_fits(routes[i].pattern, segs, nsegs, params))
			continue;
		for (const char *p = routes[i].pattern; *p; p++)
			literals += p[0] == '/' && p[1] != '{';
		if (literals > best_literals) {
			best_literals = literals;
			best = routes[i].pattern;
		}
	}
	for (size_t i = 0; best != NULL && i < ARRAY_LEN(routes); i++) {
		const char *params[API_MAX_PATH_PARAMS] = {0};

		if (strcmp(routes[i].pattern, best) != 0)
			continue;
		api_route_fits(routes[i].pattern, segs, nsegs, params);
		if (strcmp(routes[i].method, r->method) == 0 ||
		    (strcmp(r->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
			memcpy(r->path_param, params, sizeof(params));
			return &routes[i];
		}
		if (alen + strlen(routes[i].method) + 3 < sizeof(allow))
			alen += (size_t)snprintf(allow + alen, sizeof(allow) - alen, "%s%s",
						 alen ? ", " : "", routes[i].method);
	}
	if (alen > 0) {
		api_set_header(r, "Allow", "%s", allow);
		api_error(r, 405, "method_not_allowed", "allowed here: %s", allow);
	} else {
		api_error(r, 404, "not_found", "no such resource");
	}
	return NULL;
}
