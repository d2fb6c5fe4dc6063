/*
 * Filing a complaint: one row in complaints that the workflow runner takes
 * up (NOTIFY relayaudit_workflow). Every way a complaint arrives (the API's
 * JSON body, a report posted as message/rfc822, relayctl complaint --mail)
 * files it here, so they all reach the same workflow path.
 */
#ifndef RELAYAUDIT_COMPLAINTS_H
#define RELAYAUDIT_COMPLAINTS_H

#include "db/pstmt.h"

struct complaint_in {
	const char *address; /* the reported address, already checked */
	const char *source;  /* who reported it, e.g. "arf abuse from fbl@example.net"; may be NULL */
	const char *raw;     /* the report kept as evidence (valid UTF-8); may be NULL */
	const char *actor;   /* "token:NAME", "relayctl" */
};

/*
 * Files the complaint; on PSTMT_OK *json is the new complaint as a JSON
 * object (malloc'd): id, address, case_id, known_target, status, received_at.
 * An address no target covers is recorded all the same (known_target false).
 */
enum pstmt_status complaints_file(struct pstmt *db, const struct complaint_in *in, char **json,
				  char *why, size_t whylen);

#endif
