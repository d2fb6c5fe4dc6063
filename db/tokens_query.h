/*
 * SQL for api_tokens: the bearer tokens of the HTTP API, stored as SHA-256
 * hashes. Used by the API (lookup) and by `relayctl token`.
 */
#ifndef RELAYAUDIT_TOKENS_QUERY_H
#define RELAYAUDIT_TOKENS_QUERY_H

#include "db/pstmt.h"

/* $1 hash (hex) -> name, role of a live token; marks it used. */
extern const struct pstmt_stmt api_tokens_lookup;
/* $1 name, $2 role, $3 hash (hex) -> id; no row when a live token has the name. */
extern const struct pstmt_stmt api_tokens_create;
/* $1 name -> name of the token revoked; no row when none was live. */
extern const struct pstmt_stmt api_tokens_revoke;
/* -> name, role, created_at, last_used_at, revoked_at of every token. */
extern const struct pstmt_stmt api_tokens_list;

#endif
