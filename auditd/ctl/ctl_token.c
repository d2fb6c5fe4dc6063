/*
 * relayctl token create|revoke|list: the API's bearer tokens. A token is
 * random, printed once at creation and stored only as its SHA-256 hash.
 */
#include "api/handler.h"
#include "auditd/ctl/ctl.h"
#include "common/config.h"
#include "common/util.h"
#include "db/db.h"
#include "db/pstmt.h"
#include "db/tokens_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_RANDOM_BYTES 24

static int
token_usage(FILE *out)
{
	fprintf(out, "usage: relayctl token create --name NAME --role viewer|operator|admin [-c FILE]\n"
			"       relayctl token revoke NAME [-c FILE]\n"
			"       relayctl token list [-c FILE]\n");
	return out == stdout ? 0 : 2;
}

static int
token_run(struct pstmt *db, const struct pstmt_stmt *st, const char *const *params,
	  struct pstmt_rows *res)
{
	char why[256];
	int s = pstmt_rows(db, st, params, res, why, sizeof(why));

	if (s != PSTMT_OK) {
		fprintf(stderr, "relayctl: token: %s\n", why);
		return -1;
	}
	return 0;
}

static int
token_create(struct pstmt *db, const char *name, const char *role)
{
	uint8_t raw[TOKEN_RANDOM_BYTES];
	char token[3 + 2 * TOKEN_RANDOM_BYTES + 1] = "ra_", hash[65];
	const char *params[] = {name, role, hash};
	struct pstmt_rows res;
	int rows;

	if (strcmp(role, "viewer") != 0 && strcmp(role, "operator") != 0 &&
	    strcmp(role, "admin") != 0) {
		fprintf(stderr, "relayctl: token: role must be viewer, operator or admin\n");
		return 2;
	}
	random_bytes(raw, sizeof(raw));
	hex_encode(raw, sizeof(raw), token + 3);
	api_token_hash_hex(token, hash);
	if (token_run(db, &api_tokens_create, params, &res) < 0)
		return 1;
	rows = res.n;
	pstmt_rows_free(&res);
	if (rows != 1) {
		fprintf(stderr, "relayctl: token: a live token named '%s' exists; revoke it first\n",
			name);
		return 1;
	}
	printf("%s\n", token);
	fprintf(stderr, "token '%s' (%s) created; it is shown only this once\n", name, role);
	return 0;
}

static int
token_revoke(struct pstmt *db, const char *name)
{
	const char *params[] = {name};
	struct pstmt_rows res;
	int rows;

	if (token_run(db, &api_tokens_revoke, params, &res) < 0)
		return 1;
	rows = res.n;
	pstmt_rows_free(&res);
	if (rows != 1) {
		fprintf(stderr, "relayctl: token: no live token named '%s'\n", name);
		return 1;
	}
	printf("revoked %s\n", name);
	return 0;
}

static int
token_list(struct pstmt *db)
{
	struct pstmt_rows res;

	if (token_run(db, &api_tokens_list, NULL, &res) < 0)
		return 1;
	printf("%-24s %-9s %-21s %-21s %s\n", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED");
	for (int i = 0; i < res.n; i++)
		printf("%-24s %-9s %-21s %-21s %s\n", pstmt_cell(&res, i, 0), pstmt_cell(&res, i, 1),
		       pstmt_cell(&res, i, 2), pstmt_cell(&res, i, 3), pstmt_cell(&res, i, 4));
	pstmt_rows_free(&res);
	return 0;
}

int
ctl_token(int argc, char **argv)
{
	const char *path = NULL, *name = NULL, *role = NULL, *pos = NULL;
	struct config *cfg;
	struct pstmt *db;
	char *conninfo;
	const char *why = NULL;
	int rc;

	if (ctl_help_wanted(argc, argv))
		return token_usage(stdout);

	if (argc < 2)
		return token_usage(stderr);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			role = argv[++i];
		else if (argv[i][0] != '-' && pos == NULL)
			pos = argv[i];
		else
			return token_usage(stderr);
	}
	if (strcmp(argv[1], "create") == 0 ? (name == NULL || role == NULL || pos != NULL)
	    : strcmp(argv[1], "revoke") == 0 ? (pos == NULL || name != NULL || role != NULL)
	    : strcmp(argv[1], "list") == 0 ? (pos != NULL || name != NULL || role != NULL)
					   : true)
		return token_usage(stderr);
	if ((cfg = conf_load(path)) == NULL)
		return 1;
	conninfo = db_conninfo(cfg, &why);
	db = conninfo ? pstmt_connect_cli(conninfo) : NULL;
	if (conninfo == NULL)
		fprintf(stderr, "relayctl: %s\n", why);
	free(conninfo);
	if (db == NULL) {
		config_free(cfg);
		return 1;
	}
	if (strcmp(argv[1], "create") == 0)
		rc = token_create(db, name, role);
	else if (strcmp(argv[1], "revoke") == 0)
		rc = token_revoke(db, pos);
	else
		rc = token_list(db);
	pstmt_close(db);
	config_free(cfg);
	return rc;
}
