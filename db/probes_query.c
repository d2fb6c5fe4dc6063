/* SQL for the API's probe endpoints: lists without evidence, one with all of it. */
#include "db/query.h"
#include "db/query_json.h"

const struct pstmt_stmt api_probes_list = {
	"api_probes_list",
	API_PAGE_DESC("SELECT p.id AS k, " API_PROBE_JSON " AS obj FROM probes p"
		      " WHERE ($1::verdict IS NULL OR p.verdict = $1::verdict)"
		      " AND ($2::inet IS NULL OR p.address = $2::inet)"
		      " AND ($3::cidr IS NULL OR p.address <<= $3::cidr)"
		      " AND ($4::bigint IS NULL OR p.id < $4::bigint)",
		      "$5"),
	5, true};

const struct pstmt_stmt api_probe_get = {
	"api_probe_get",
	"SELECT json_build_object('probe', " API_PROBE_JSON ", 'banner', p.banner,"
	" 'trick_alone', p.trick_alone,"
	" 'confirm_deadline', p.confirm_deadline, 'confirmed_at', p.confirmed_at,"
	" 'evidence', p.evidence, 'attempts', coalesce((SELECT json_agg(json_build_object("
	" 'idx', a.idx, 'sender', a.sender, 'form', a.form, 'backscatter', a.backscatter,"
	" 'mail_from', a.mail_from, 'rcpt_to', a.rcpt_to, 'mail_code', a.mail_code,"
	" 'rcpt_code', a.rcpt_code, 'data_code', a.data_code, 'eod_code', a.eod_code,"
	" 'stage', a.stage, 'outcome', a.outcome, 'rcpts', a.rcpts) ORDER BY a.idx) FROM probe_attempts a"
	" WHERE a.probe_id = p.id), '[]'::json),"
	" 'receipts', coalesce((SELECT json_agg(json_build_object('id', s.id, 'received_at',"
	" s.received_at, 'peer', host(s.peer), 'is_bounce', s.is_bounce, 'attempt', s.attempt,"
	" 'token_where', s.token_where, 'applied', s.applied, 'anomaly', s.anomaly,"
	" 'orphan_at', s.orphan_at, 'via_target', s.via_target, 'received_chain',"
	" s.received_chain) ORDER BY s.id) FROM sink_receipts s"
	" WHERE s.probe_id = p.id), '[]'::json),"
	/* Receipts that changed nothing, with the reason: a replay is visible here. */
	" 'anomalies', coalesce((SELECT json_agg(json_build_object('receipt', s.id,"
	" 'received_at', s.received_at, 'peer', host(s.peer), 'attempt', s.attempt,"
	" 'reason', s.anomaly, 'via_target', s.via_target) ORDER BY s.id) FROM sink_receipts s"
	" WHERE s.probe_id = p.id AND s.anomaly IS NOT NULL), '[]'::json))"
	" FROM probes p WHERE p.id = $1::bigint",
	1, false};
