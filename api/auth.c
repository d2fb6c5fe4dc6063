/*
 * Bearer-token authentication. Tokens are looked up by their SHA-256 hash;
 * a small cache keeps a hit from costing a query on every request, and its
 * short lifetime bounds how long a revoked token keeps working (about 1 s).
 */
#include "api/handler.h"
#include "common/hmac.h"
#include "common/util.h"
#include "db/pstmt.h"
#include "db/tokens_query.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_CACHE_SIZE 64
#define AUTH_CACHE_MS 1000
#define AUTH_TOKEN_MAX 128

struct auth_entry {
	char hash[65];
	char name[65];
	enum api_role role;
	int64_t expires_ms;
};

static struct auth_entry auth_cache[AUTH_CACHE_SIZE];
static pthread_mutex_t auth_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
	enum api_role role;
	const char *name;
} auth_roles[] = {
	{ROLE_VIEWER, "viewer"},
	{ROLE_OPERATOR, "operator"},
	{ROLE_ADMIN, "admin"},
};

const char *
api_role_name(enum api_role role)
{
	for (size_t i = 0; i < ARRAY_LEN(auth_roles); i++) {
		if (auth_roles[i].role == role)
			return auth_roles[i].name;
	}
	return "none";
}

static enum api_role
auth_role_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_LEN(auth_roles); i++) {
		if (strcmp(auth_roles[i].name, s) == 0)
			return auth_roles[i].role;
	}
	return ROLE_NONE;
}

void
api_token_hash_hex(const char *token, char out[65])
{
	uint8_t h[SHA256_LEN];

	sha256(token, strlen(token), h);
	hex_encode(h, sizeof(h), out);
}

static bool
auth_cache_get(const char *hash, struct auth_entry *out)
{
	int64_t now = now_mono_ms();
	bool hit = false;

	pthread_mutex_lock(&auth_lock);
	for (int i = 0; i < AUTH_CACHE_SIZE; i++) {
		if (auth_cache[i].expires_ms > now && strcmp(auth_cache[i].hash, hash) == 0) {
			*out = auth_cache[i];
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(&auth_lock);
	return hit;
}

static void
auth_cache_put(const struct auth_entry *e)
{
	int victim = 0;

	pthread_mutex_lock(&auth_lock);
	for (int i = 0; i < AUTH_CACHE_SIZE; i++) {
		if (strcmp(auth_cache[i].hash, e->hash) == 0) {
			victim = i;
			break;
		}
		if (auth_cache[i].expires_ms < auth_cache[victim].expires_ms)
			victim = i;
	}
	auth_cache[victim] = *e;
	pthread_mutex_unlock(&auth_lock);
}

static bool
auth_lookup(struct api_req *r, const char *hash, struct auth_entry *e)
{
	const char *params[] = {hash};
	char why[256];
	struct pstmt_rows res;
	int s;

	if (auth_cache_get(hash, e))
		return true;
	s = pstmt_rows(r->db, &api_tokens_lookup, params, &res, why, sizeof(why));
	if (!api_db_ok(r, s, why, "token lookup"))
		return false;
	if (res.n != 1) {
		pstmt_rows_free(&res);
		api_set_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		api_error(r, 401, "unauthorized", "unknown or revoked token");
		return false;
	}
	memset(e, 0, sizeof(*e));
	str_fmt(e->hash, sizeof(e->hash), "%s", hash);
	str_fmt(e->name, sizeof(e->name), "%s", pstmt_cell(&res, 0, 0));
	e->role = auth_role_parse(pstmt_cell(&res, 0, 1));
	e->expires_ms = now_mono_ms() + AUTH_CACHE_MS;
	pstmt_rows_free(&res);
	auth_cache_put(e);
	return true;
}

bool
api_auth(struct api_req *r)
{
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
	const char *tok;
	char hash[65];
	struct auth_entry e;

	r->role = ROLE_NONE;
	r->actor[0] = '\0';
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		api_set_header(r, "WWW-Authenticate", "Bearer");
		api_error(r, 401, "unauthorized", "send Authorization: Bearer TOKEN");
		return false;
	}
	tok = h + 7;
	while (*tok == ' ')
		tok++;
	if (*tok == '\0' || strlen(tok) > AUTH_TOKEN_MAX) {
		api_set_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		api_error(r, 401, "unauthorized", "malformed token");
		return false;
	}
	api_token_hash_hex(tok, hash);
	if (!auth_lookup(r, hash, &e))
		return false;
	r->role = e.role;
	str_fmt(r->actor, sizeof(r->actor), "token:%s", e.name);
	return true;
}

/* GET /v1/whoami: the dashboard shows the role and offers only what it allows. */
void
h_whoami(struct api_req *r)
{
	const char *name = strncmp(r->actor, "token:", 6) == 0 ? r->actor + 6 : r->actor;

	api_reply_json(r, 200, json_pack("{s:s,s:s,s:s}", "name", name, "actor", r->actor, "role",
					 api_role_name(r->role)));
}
