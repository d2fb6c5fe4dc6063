/*
 * A probe result as JSON (jansson): the one rendering shared by
 * `relayctl probe --json` and the daemon's stored evidence.
 */
#ifndef RELAYAUDIT_PROBE_JSON_H
#define RELAYAUDIT_PROBE_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "probe-engine/probe.h"

/*
 * One attempt: index, sender, form, mail_from, rcpt_to, token, replies,
 * stage, outcome, rcpts. Tokens (in token, mail_from, rcpt_to) are shortened
 * to their first TOKEN_SHOWN characters unless show_tokens.
 */
json_t *probe_json_attempt(const struct probe_attempt *a, bool show_tokens);
/*
 * The whole result: ip, port, verdict, backscatter, trick, reason, error,
 * banner, ehlo, host, duration_ms, connections, attempts (array) and, when
 * with_transcript, the transcript. Tokens shortened everywhere in it unless
 * show_tokens (relayctl probe --show-tokens): stored evidence never has them.
 */
json_t *probe_json_result(const struct probe_result *r, bool with_transcript, bool show_tokens);

#endif
