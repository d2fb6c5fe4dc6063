/* SQL for the API's customer endpoints. */
#include "db/query.h"
#include "db/query_json.h"

const struct pstmt_stmt api_customers_list = {
	"api_customers_list",
	API_PAGE_ASC("SELECT cu.id AS k, " API_CUSTOMER_JSON " AS obj FROM customers cu"
		     " WHERE ($1::text IS NULL OR strpos(lower(cu.ext_id || ' ' || cu.name || ' '"
		     " || cu.contact_email || ' ' || array_to_string(cu.domains, ' ')), lower($1)) > 0)"
		     " AND ($2::bigint IS NULL OR cu.id > $2::bigint)",
		     "$3"),
	3, true};

const struct pstmt_stmt api_customer_get = {
	"api_customer_get",
	"SELECT json_build_object('customer', " API_CUSTOMER_JSON ", 'target_count',"
	" (SELECT count(*) FROM targets t WHERE t.customer_id = cu.id), 'targets',"
	" coalesce((SELECT json_agg(host(x.address) ORDER BY x.address) FROM (SELECT address FROM"
	" targets t WHERE t.customer_id = cu.id ORDER BY address LIMIT 100) x), '[]'::json),"
	" 'active_cases', (SELECT count(*) FROM cases k WHERE k.customer_id = cu.id"
	" AND k.state NOT IN ('resolved', 'closed')))"
	" FROM customers cu WHERE cu.ext_id = $1",
	1, false};

const struct pstmt_stmt api_customer_create = {
	"api_customer_create",
	"INSERT INTO customers AS cu (ext_id, name, contact_email, locale, access_type,"
	" enforce_mode, domains) VALUES ($1, coalesce($2, ''), $3, coalesce($4, 'en'),"
	" coalesce($5, 'business'), nullif($6, ''),"
	" CASE WHEN $7::text IS NULL THEN '{}'::text[] ELSE " DOMAINS_OF("$7") " END)"
	" RETURNING " API_CUSTOMER_JSON,
	7, false};

const struct pstmt_stmt api_customer_update = {
	"api_customer_update",
	"UPDATE customers AS cu SET name = coalesce($2, name),"
	" contact_email = coalesce($3, contact_email), locale = coalesce($4, locale),"
	" access_type = coalesce($5, access_type),"
	" enforce_mode = CASE WHEN $6::text IS NULL THEN enforce_mode ELSE nullif($6, '') END,"
	" domains = CASE WHEN $7::text IS NULL THEN domains ELSE " DOMAINS_OF("$7") " END,"
	" updated_at = now() WHERE ext_id = $1 RETURNING " API_CUSTOMER_JSON,
	7, false};

const struct pstmt_stmt api_customer_delete = {
	"api_customer_delete",
	"WITH d AS (DELETE FROM customers WHERE ext_id = $1 RETURNING id, ext_id)"
	" SELECT json_build_object('deleted', d.ext_id, 'targets_deleted',"
	" (SELECT count(*) FROM targets t WHERE t.customer_id = d.id)) FROM d",
	1, false};
