/*
 * A re-test request, written once for every caller: the API (operator or
 * cron, by address), the customers' signed link (by case, rate limited) and
 * the workflow (a complaint or an operator action on a case).
 */
#ifndef RELAYAUDIT_DB_RETESTS_H
#define RELAYAUDIT_DB_RETESTS_H

#include <libpq-fe.h>
#include <stdint.h>

/* Who asks for what; give exactly one of target_id, address and (with min_interval_s) case_id. */
struct retest_ask {
	int64_t target_id;      /* 0 = by address or by case */
	const char *address;    /* NULL = by id or by case */
	int64_t case_id;        /* the case it answers; 0 = the address's active case, if any */
	int64_t min_interval_s; /* by case (the customers' link): at most once per interval, 0 = no limit */
	const char *actor;      /* requested_by */
};

/*
 * Makes the request: a retest_requests row and the target due now at
 * priority 3, in one statement, so two clicks at once make one request. An
 * excluded target is never re-tested (nor is a case resolved or closed, when
 * asked by case). Returns 1 made (*id, and *json the request as the API
 * shows it when json != NULL, malloc'd), 0 nothing made (no such target,
 * excluded, or too soon), -1 database error (logged, *why set).
 */
int retest_request(PGconn *conn, const struct retest_ask *ask, int64_t *id, char **json,
                   const char **why);

#endif
