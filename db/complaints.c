/*
 * The one statement that files a complaint (see complaints.h). The case it
 * names is the address's active case at filing time, for the reader; the
 * workflow runner decides what the complaint does.
 */
#include "db/complaints.h"

static const struct pstmt_stmt complaints_file_stmt = {
	"complaints_file",
	"WITH ins AS (INSERT INTO complaints (address, source, raw, actor, case_id)"
	" SELECT $1::inet, coalesce($2, ''), coalesce($3, ''), $4, (SELECT k.id FROM cases k"
	" WHERE k.address = $1::inet AND k.state NOT IN ('resolved', 'closed'))"
	" RETURNING id, address, case_id, received_at)"
	" SELECT json_build_object('id', ins.id, 'address', host(ins.address), 'case_id', ins.case_id,"
	" 'known_target', EXISTS (SELECT 1 FROM targets t WHERE t.address = ins.address),"
	" 'status', 'queued', 'received_at', ins.received_at),"
	" pg_notify('relayaudit_workflow', 'complaint ' || ins.id) FROM ins",
	4, false};

enum pstmt_status
complaints_file(struct pstmt *db, const struct complaint_in *in, char **json, char *why,
		size_t whylen)
{
	const char *params[] = {in->address, in->source, in->raw, in->actor};

	return pstmt_text(db, &complaints_file_stmt, params, json, why, whylen);
}
