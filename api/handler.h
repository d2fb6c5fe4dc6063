/*
 * What the API's pieces share: the request being served, the one route
 * table's row type, the reply helpers (json.c) and the auth roles (auth.c).
 * Handlers never talk to microhttpd or libpq directly.
 */
#ifndef RELAYAUDIT_API_HANDLER_H
#define RELAYAUDIT_API_HANDLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pstmt;
struct pstmt_stmt;
struct config;
struct MHD_Connection;

enum api_access {
	ACCESS_PUBLIC, /* anyone: the customers' re-test links, the OpenAPI document */
	ACCESS_HEALTH, /* anyone when api_public_health = yes, else viewer */
	ACCESS_VIEWER,
	ACCESS_OPERATOR,
	ACCESS_ADMIN,
};

/* Roles in rising order of power; the values compare. */
enum api_role { ROLE_NONE = 0, ROLE_VIEWER = ACCESS_VIEWER, ROLE_OPERATOR, ROLE_ADMIN };

/* One field of a JSON request body. */
enum api_ftype { FT_STRING, FT_INT, FT_BOOL, FT_INT_ARRAY, FT_STRING_ARRAY };
struct api_field {
	const char *name;
	enum api_ftype type;
	bool required;
	const char *help;
};

struct api_req;
typedef void (*api_handler_fn)(struct api_req *r);

struct api_route {
	const char *method;
	const char *pattern; /* "/v1/targets/{ip}": a {name} matches one segment */
	enum api_access access;
	api_handler_fn fn;
	const char *query; /* accepted query parameters, comma-separated; others are 400 */
	const struct api_field *body; /* JSON body fields, or NULL when no JSON body */
	int ok_status;
	const char *produces; /* content type of the success reply */
	const char *summary;
};

#define API_MAX_PATH_PARAMS 4

struct api_req {
	struct MHD_Connection *conn;
	const struct config *cfg;
	const struct api_route *route;
	struct pstmt *db;
	const char *method;
	const char *url;
	const char *path_param[API_MAX_PATH_PARAMS];
	char path_buf[512]; /* the URL split into segments, path_param points here */
	char *body;
	size_t body_len;
	/* The authenticated caller: "token:NAME" as written to every actor column. */
	char actor[80];
	enum api_role role;
	char client_ip[64];

	/* The reply the handler built. */
	int status;
	char *resp; /* malloc'd */
	size_t resp_len;
	const char *content_type;
	const char *hdr_name, *hdr_value; /* one extra header (Location, Retry-After, Allow) */
	char hdr_buf[256];
};

/* json.c: replies. Each sets status, body and content type on r. */
void api_reply_json(struct api_req *r, int status, json_t *doc); /* steals doc */
void api_reply_text(struct api_req *r, int status, const char *content_type, char *body,
		    size_t len); /* steals body */
/* Reply JSON text that came from the database, unparsed. */
void api_reply_json_text(struct api_req *r, int status, char *text);
/*
 * csv.c: items (an array of objects) as text/csv with a header row of
 * columns, one row per item in that column order (200).
 */
void api_reply_csv(struct api_req *r, json_t *items, const char *const *columns);
void api_error(struct api_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void api_set_header(struct api_req *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Parses the JSON body against r->route->body: 415 unless the content type is
 * JSON, 400 when it does not parse, 422 for a non-object, an unknown field, a
 * wrong type or a missing required field. NULL after replying.
 */
json_t *api_body(struct api_req *r);
/* Request header or NULL. */
const char *api_header(struct api_req *r, const char *name);
/* Query parameter or NULL. */
const char *api_query(struct api_req *r, const char *name);
/* The status of a pstmt call turned into a reply; true when it was PSTMT_OK. */
bool api_db_ok(struct api_req *r, int pstmt_status, const char *why, const char *what);
/* A JSON value as text for a statement parameter (strings unquoted); malloc'd or NULL. */
char *api_json_param(json_t *v);

/* routes.c */
const struct api_route *api_routes(size_t *count);
/* Finds the route for method and url; fills path params. 404 / 405 replies on failure. */
const struct api_route *api_route_match(struct api_req *r);
bool api_route_has_query(const struct api_route *rt, const char *name);

/* auth.c */
/* Sets r->role and r->actor from the Authorization header; false after replying 401/503. */
bool api_auth(struct api_req *r);
/* SHA-256 of a token, hex. */
void api_token_hash_hex(const char *token, char out[65]);
const char *api_role_name(enum api_role role);

/* Runs a statement answering one JSON document and replies it (or the error). */
void api_reply_query(struct api_req *r, const struct pstmt_stmt *stmt, const char *const *params,
		     int ok_status, const char *what);

/* params.c: path and query parameters; each returns false after replying 400. */
bool api_param_addr(struct api_req *r, const char *s, char out[64]); /* canonical text */
bool api_param_cidr(struct api_req *r, const char *name, const char **out, char buf[64]);
bool api_param_id(struct api_req *r, const char *s, const char *what);
bool api_param_ext_id(struct api_req *r, const char *s); /* a customer's ext_id, NULL passes */
/* Query parameter that must be one of the '|'-separated choices when present. */
bool api_param_choice(struct api_req *r, const char *name, const char *choices,
		      const char **out);
bool api_param_bool(struct api_req *r, const char *name, const char **out);
bool api_param_duration(struct api_req *r, const char *name, char out[24]);
/* Body value checks (422). */
bool api_body_addr(struct api_req *r, json_t *doc, const char *field, char out[64]);
bool api_body_choice(struct api_req *r, json_t *doc, const char *field, const char *choices);
bool api_body_domains(struct api_req *r, json_t *doc, const char *field);
extern const char API_CASE_STATES[];
/* "no_smtp|rejected_banner|...": the verdict table's names for api_param_choice. */
const char *api_verdicts(void);

/* Parameters every list shares: limit (1..1000, default 50) and cursor; false after 400. */
bool api_page_params(struct api_req *r, char limit[16], const char **cursor);

/* Handlers, one file per resource. */
void h_health(struct api_req *r);
void h_metrics(struct api_req *r);
void h_openapi(struct api_req *r);
void h_whoami(struct api_req *r);
void h_stats(struct api_req *r);
void h_blocklist(struct api_req *r);
void h_customers_list(struct api_req *r);
void h_customer_get(struct api_req *r);
void h_customer_create(struct api_req *r);
void h_customer_update(struct api_req *r);
void h_customer_delete(struct api_req *r);
void h_targets_list(struct api_req *r);
void h_target_get(struct api_req *r);
void h_target_create(struct api_req *r);
void h_target_update(struct api_req *r);
void h_target_delete(struct api_req *r);
void h_targets_import(struct api_req *r);
void h_target_retest(struct api_req *r);
void h_retest_get(struct api_req *r);
void h_probes_list(struct api_req *r);
void h_probe_get(struct api_req *r);
void h_cases_list(struct api_req *r);
void h_case_get(struct api_req *r);
void h_case_action(struct api_req *r);
void h_complaint_create(struct api_req *r);
void h_sweep_create(struct api_req *r);
void h_sweep_get(struct api_req *r);
void h_sweeps_list(struct api_req *r);
void h_retest_page(struct api_req *r);
void h_retest_page_post(struct api_req *r);
void h_retest_page_status(struct api_req *r);
/* web.c: the dashboard's static files. */
void h_web_index(struct api_req *r);
void h_web_file(struct api_req *r);
void h_web_chartjs(struct api_req *r);
/* The dashboard's directory (build tree or install), found once; NULL when missing. */
const char *web_dir(void);

/* Field tables of the JSON bodies (the OpenAPI document renders them too). */
extern const struct api_field api_customer_fields[], api_customer_update_fields[],
	api_target_fields[], api_target_update_fields[], api_case_action_fields[],
	api_complaint_fields[], api_sweep_fields[];

#endif
