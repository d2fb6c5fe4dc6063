/*
 * SQL for the proof shown in customers' mails (see evidence.h): the sink's
 * receipt of a probe joined to the attempt it names.
 */
#include "db/evidence.h"
#include "db/db.h"

#include <stdlib.h>
#include <string.h>

int
db_probe_proof(PGconn *conn, int64_t probe_id, struct db_proof *out)
{
	char id[24];
	const char *params[] = {id};
	PGresult *res;
	int found;

	memset(out, 0, sizeof(*out));
	db_fmt_i64(id, probe_id);
	res = db_exec(conn, "probe_proof",
	              "SELECT a.token, to_char(r.received_at AT TIME ZONE 'UTC',"
	              " 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), host(r.peer)"
	              " FROM sink_receipts r JOIN probe_attempts a"
	              "   ON a.probe_id = r.probe_id AND a.idx = r.attempt"
	              " WHERE r.probe_id = $1::bigint AND NOT r.is_bounce ORDER BY r.id LIMIT 1",
	              1, params);
	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		out->token = db_col_dup(res, 0, 0);
		out->received_at = db_col_dup(res, 0, 1);
		out->peer = db_col_dup(res, 0, 2);
	}
	PQclear(res);
	return found;
}

void
db_proof_clear(struct db_proof *p)
{
	free(p->token);
	free(p->received_at);
	free(p->peer);
	memset(p, 0, sizeof(*p));
}
