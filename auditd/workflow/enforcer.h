/*
 * The enforcer executor: claims block/unblock/escalate actions and runs the
 * enforcer hook for each, never through a shell:
 *
 *   enforcer_command ACTION ADDRESS MODE CASE_ID   (JSON description on stdin,
 *   RELAYAUDIT_ACTION_KEY / _ID / _ATTEMPT in the environment)
 *
 * Exit 0 means applied. Anything else (or a timeout) is retried with
 * backoff and shown on the case. The same key may be delivered twice after
 * a crash; the hook contract is that applying an action twice is a no-op.
 */
#ifndef RELAYAUDIT_ENFORCER_H
#define RELAYAUDIT_ENFORCER_H

#include <libpq-fe.h>
#include <stddef.h>

struct config;

/*
 * Runs argv[0] with argv, feeding input on stdin, for at most timeout_ms.
 * Returns the exit status (0..255), or -1 when it could not run, was killed
 * by a signal or timed out; err holds the first line of its stderr or why.
 */
int enforcer_exec(char *const argv[], char *const envp_extra[], const char *input, int timeout_ms,
                  char *err, size_t errlen);

/*
 * The hooks in flight of one workflow thread. Each pass calls
 * enforcer_pump(): it records the outcome of the hooks that ended and starts
 * hooks for newly claimed actions (at most max_starts), without waiting for
 * any, so a hook that hangs holds up only its own action, never the mails,
 * the cases or a shutdown. Returns how many hooks ended or started, or -1
 * on a database error.
 */
struct enforcer_pool;
struct enforcer_pool *enforcer_pool_new(void);
int enforcer_pump(struct enforcer_pool *pool, PGconn *conn, const struct config *cfg,
                  const char *node, int max_starts);
int enforcer_pool_running(const struct enforcer_pool *pool);
/*
 * Records the hooks that have ended; kills the process group of every one
 * still running, and its action goes back to pending, due at once (or, when
 * conn is NULL, once its lease runs out).
 */
void enforcer_pool_abort(struct enforcer_pool *pool, PGconn *conn, const struct config *cfg);
void enforcer_pool_free(struct enforcer_pool *pool);

/* Retry delay after attempt n: base * 2^(n-1), at most an hour. */
long enforcer_backoff(long base, int attempt);

#endif
