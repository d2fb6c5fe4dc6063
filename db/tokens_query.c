/*
 * SQL for api_tokens. A revoked token keeps its row (the audit trail names
 * it as actor) until a new token takes over the name.
 */
#include "db/tokens_query.h"

const struct pstmt_stmt api_tokens_lookup = {
	"tokens_lookup",
	"UPDATE api_tokens SET last_used_at = now()"
	" WHERE token_hash = decode($1, 'hex') AND revoked_at IS NULL"
	" RETURNING name, role::text",
	1, false};

const struct pstmt_stmt api_tokens_create = {
	"tokens_create",
	"INSERT INTO api_tokens (name, role, token_hash) VALUES ($1, $2::api_role, decode($3, 'hex'))"
	" ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, token_hash = EXCLUDED.token_hash,"
	"   created_at = now(), revoked_at = NULL, last_used_at = NULL"
	"   WHERE api_tokens.revoked_at IS NOT NULL"
	" RETURNING id",
	3, false};

const struct pstmt_stmt api_tokens_revoke = {
	"tokens_revoke",
	"UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL"
	" RETURNING name",
	1, false};

const struct pstmt_stmt api_tokens_list = {
	"tokens_list",
	"SELECT name, role::text,"
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" coalesce(to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
	" coalesce(to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-')"
	" FROM api_tokens ORDER BY name",
	0, false};
