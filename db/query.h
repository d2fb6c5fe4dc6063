/*
 * Every statement the HTTP API runs, by the db/<name>_query.c file that holds it.
 * Parameters are text ($n comments give their meaning); NULL means "not
 * given" wherever a filter or a field is optional. Statements answering one
 * document return it as JSON text in the first column.
 */
#ifndef RELAYAUDIT_QUERY_H
#define RELAYAUDIT_QUERY_H

#include "db/pstmt.h"

/* db/customers_query.c */
extern const struct pstmt_stmt api_customers_list; /* $1 q $2 cursor $3 limit */
extern const struct pstmt_stmt api_customer_get; /* $1 ext_id */
/* $1 ext_id $2 name $3 contact_email $4 locale $5 access_type $6 enforce_mode */
extern const struct pstmt_stmt api_customer_create;
extern const struct pstmt_stmt api_customer_update; /* same, ext_id selects */
extern const struct pstmt_stmt api_customer_delete; /* $1 ext_id */

/* db/targets_query.c */
/* $1 verdict $2 case state $3 cidr $4 customer $5 excluded $6 cursor $7 limit */
extern const struct pstmt_stmt api_targets_list, api_targets_list_verdict;
extern const struct pstmt_stmt api_target_get; /* $1 address */
/* $1 address $2 customer $3 ports (JSON) $4 domains (JSON) $5 excluded $6 interval s $7 default ports */
extern const struct pstmt_stmt api_target_create;
extern const struct pstmt_stmt api_target_update; /* $1..$6 as create */
extern const struct pstmt_stmt api_target_delete; /* $1 address */
extern const struct pstmt_stmt api_target_state; /* $1 address -> excluded */
extern const struct pstmt_stmt api_retest_get; /* $1 id */

/* db/probes_query.c */
extern const struct pstmt_stmt api_probes_list; /* $1 verdict $2 target $3 cidr $4 cursor $5 limit */
extern const struct pstmt_stmt api_probe_get; /* $1 id */

/* db/cases_query.c */
extern const struct pstmt_stmt api_cases_list, api_cases_list_state; /* $1 state $2 older_than s $3 cidr $4 cursor $5 limit $6 finding $7 customer */
extern const struct pstmt_stmt api_cases_by_state; /* $1 state $2 cursor $3 limit */
extern const struct pstmt_stmt api_case_get; /* $1 id */
extern const struct pstmt_stmt api_case_command; /* $1 id $2 action $3 note $4 actor */
extern const struct pstmt_stmt api_retest_page_case; /* $1 case id $2 retest_min_interval s */

/* db/sweeps_query.c */
extern const struct pstmt_stmt api_sweep_get; /* $1 id */
extern const struct pstmt_stmt api_sweeps_list; /* $1 cursor $2 running $3 limit */

/* db/ops_query.c: health, metrics, stats, blocklist, audit */
extern const struct pstmt_stmt api_health_nodes;
extern const struct pstmt_stmt api_stats;
extern const struct pstmt_stmt api_blocklist; /* -> address, case id, blocked_at, family, finding rows */
extern const struct pstmt_stmt api_audit_write; /* $1 actor $2 method $3 path $4 status */
extern const struct pstmt_stmt api_metric_probes, api_metric_duration, api_metric_in_flight,
	api_metric_due, api_metric_cases, api_metric_outbox, api_metric_webhook, api_metric_enforcer,
	api_metric_receipts, api_metric_complaints, api_metric_dnsbl, api_metric_duration_sum,
	api_metric_anomalies, api_metric_orphans;

#endif
