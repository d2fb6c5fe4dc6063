/*
 * Keeping what could not be processed: a refused complaint report is written
 * whole to a quarantine directory, with the reason beside it, so no report is
 * ever lost and an operator can fix and re-submit it.
 */
#ifndef RELAYAUDIT_QUARANTINE_H
#define RELAYAUDIT_QUARANTINE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Writes data (and then the rest of `more` when not NULL: a report too large
 * to read into memory) to DIR/YYYYmmddTHHMMSSZ-XXXXXX.eml and the reason to
 * the same name with ".why"; the directory is created when missing. The
 * file appears complete or not at all (written under a dot name, renamed).
 * Returns 0 with *path (malloc'd) or -1 with *why.
 */
int quarantine_keep(const char *dir, const char *data, size_t len, FILE *more, const char *reason,
		    char **path, const char **why);

#endif
