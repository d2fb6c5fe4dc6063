/*
 * relayaudit.conf: "key = value" lines, '#' comments. Every option is
 * declared once in the table in config.c (name, type, range, default, help);
 * the parser, `relayctl config check`, the reference in docs/operating.md and
 * relayaudit.conf(5) all read it.
 */
#ifndef RELAYAUDIT_CONFIG_H
#define RELAYAUDIT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One enum entry per row of the option table, in the same order. */
enum config_key {
	/* general */
	CFG_DATABASE,
	CFG_NODE_NAME,
	CFG_ROLES,
	CFG_LOG_LEVEL,
	CFG_SECRET,
	/* probe engine */
	CFG_PROBE_PORTS,
	CFG_PROBE_TLS_PORTS,
	CFG_PROBE_CONCURRENCY,
	CFG_PROBE_RATE,
	CFG_PROBE_PER_NET,
	CFG_PROBE_THREADS,
	CFG_PROBE_TIMEOUT,
	CFG_PROBE_DEADLINE,
	CFG_GREYLIST_WAIT,
	CFG_HELO_NAME,
	CFG_OUTSIDE_DOMAIN,
	CFG_CONTACT,
	CFG_EXCLUDE,
	CFG_FD_RESERVE,
	CFG_LOOPBACK_ONLY,
	CFG_LOG_NO_SMTP,
	/* sink */
	CFG_SINK_LISTEN,
	CFG_SINK_DOMAIN,
	CFG_SINK_MAX_MESSAGE,
	CFG_SINK_MAX_RCPTS,
	CFG_SINK_MAX_SESSIONS,
	CFG_SINK_PER_PEER,
	CFG_SINK_TIMEOUT,
	CFG_SINK_TLS_CERT,
	CFG_SINK_TLS_KEY,
	CFG_CONFIRM_WINDOW,
	/* scheduler */
	CFG_SCHEDULE_BATCH,
	CFG_LEASE_TIME,
	CFG_POLL_INTERVAL,
	CFG_PROBE_INTERVAL,
	CFG_INTERVAL_JITTER,
	CFG_NO_SMTP_INTERVAL,
	CFG_RETENTION,
	CFG_RESULT_BUFFER,
	CFG_SHUTDOWN_GRACE,
	/* import */
	CFG_IMPORT_MAX_CIDR,
	/* workflow */
	CFG_ENFORCER_COMMAND,
	CFG_ENFORCE_MODE_DEFAULT,
	CFG_ESCALATE_AFTER,
	CFG_REMINDER_AFTER,
	CFG_SMARTHOST,
	CFG_SMARTHOST_USER,
	CFG_SMARTHOST_PASSWORD_FILE,
	CFG_SMARTHOST_TLS,
	CFG_SMARTHOST_TLS_CA,
	CFG_NOTIFY_FROM,
	CFG_OUTBOX_DIR,
	CFG_COMPLAINT_QUARANTINE_DIR,
	/* dnsbl */
	CFG_DNSBL_ZONES,
	CFG_DNSBL_NAMESERVERS,
	CFG_DNSBL_INTERVAL,
	CFG_DNSBL_RATE,
	CFG_DNSBL_TIMEOUT,
	CFG_PROBE_RDNS,
	CFG_PROBE_RDNS_TIMEOUT,
	CFG_RETEST_URL,
	CFG_RETEST_LINK_TTL,
	CFG_RETEST_MIN_INTERVAL,
	CFG_ISP_NAME,
	CFG_ISP_EMAIL,
	CFG_ISP_PHONE,
	CFG_TEMPLATE_DIR,
	CFG_COMPLAINT_UNBLOCK,
	CFG_COMPLAINT_MIN_BLOCK,
	CFG_REPROBE_AFTER,
	CFG_MAX_REMINDERS,
	CFG_RETRY_BACKOFF,
	CFG_MAIL_MAX_ATTEMPTS,
	CFG_ENFORCER_TIMEOUT,
	CFG_WEBHOOK_URL,
	CFG_WEBHOOK_TIMEOUT,
	CFG_WEBHOOK_SECRET_FILE,
	CFG_WEBHOOK_MAX_ATTEMPTS,
	/* api */
	CFG_API_LISTEN,
	CFG_API_THREADS,
	CFG_API_PUBLIC_HEALTH,
	CFG_API_MAX_BODY,
	CFG_API_MAX_CONNECTIONS,
	CFG_API_PER_IP_CONNECTIONS,
	CFG_API_REQUEST_TIMEOUT,
	CFG__COUNT
};

enum config_type {
	CFGT_STRING,
	CFGT_INT,      /* integer within [min, max] */
	CFGT_DURATION, /* seconds within [min, max]; accepts 30s, 15m, 2h, 3d */
	CFGT_BOOL,
	CFGT_ENUM,     /* one of the '|'-separated words in choices */
	CFGT_LIST,     /* comma-separated words, each checked by the option's validator */
};

struct config_option {
	enum config_key key;
	const char *name;
	enum config_type type;
	int64_t min, max;
	const char *def; /* default as it would be written in the file */
	const char *choices; /* CFGT_ENUM, and CFGT_LIST when the words are fixed */
	const char *help;
	/* Extra check for strings and list items; returns NULL or why it is wrong. */
	const char *(*validate)(const char *value);
};

struct config;

typedef void (*config_report_fn)(void *arg, const char *msg);

const struct config_option *config_options(void);
const struct config_option *config_option_find(const char *name);

struct config *config_new(void); /* all defaults; RELAYAUDIT_DATABASE applied */
void config_free(struct config *cfg);

/*
 * Reads path into cfg. Every error is reported as "file:line: ..." through
 * report (stderr when NULL); returns the number of errors (0 = loaded).
 */
int config_load(struct config *cfg, const char *path, config_report_fn report, void *arg);
/* Sets one option (command-line override); NULL or why it was refused. */
const char *config_set(struct config *cfg, const char *name, const char *value);

const char *config_str(const struct config *cfg, enum config_key key);
int64_t config_int(const struct config *cfg, enum config_key key);
bool config_bool(const struct config *cfg, enum config_key key);
/* loopback_only, or RELAYAUDIT_LOOPBACK_ONLY=1 in the environment (the test suite forces it). */
bool config_loopback_only(const struct config *cfg);
/*
 * THE accessor for list options: the words in order (comma-separated, blanks
 * around them trimmed) as a NULL-terminated array, *n set when n != NULL.
 * Free with config_list_free.
 */
char **config_list(const struct config *cfg, enum config_key key, size_t *n);
void config_list_free(char **words);
/* True when the list option holds word (case-sensitive). */
bool config_list_has(const struct config *cfg, enum config_key key, const char *word);
/* The option's row in the table (its type and range). */
const struct config_option *config_option_of(enum config_key key);
/* Where the value came from: "default", "env", "FILE:LINE" or "command line". */
const char *config_origin(const struct config *cfg, enum config_key key);

/* The effective configuration, one "key = value  # origin" line each; secrets masked. */
void config_print(const struct config *cfg, FILE *out);
/* The option table as a Markdown table, for docs/operating.md. */
void config_print_reference(FILE *out);
/* A relayaudit.conf with every option commented out at its default (deploy/relayaudit.conf.example). */
void config_print_example(FILE *out);
/* The option table as man(7) paragraphs, for the OPTIONS section of relayaudit.conf(5). */
void config_print_man(FILE *out);

#endif
