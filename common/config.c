/*
 * The option table and the relayaudit.conf parser. Adding an option means
 * one enum entry in config.h and one row here; nothing else.
 */
#include "common/config.h"
#include "common/addr.h"
#include "common/log.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *valid_listen(const char *v);
static const char *valid_cidr(const char *v);
static const char *valid_domain(const char *v);
static const char *valid_port(const char *v);
static const char *valid_secret(const char *v);
static const char *valid_email(const char *v);
static const char *valid_hostport(const char *v);
static const char *valid_nameserver(const char *v);
static const char *valid_smarthost(const char *v);
static const char *valid_webhook_url(const char *v);

#define DAY 86400
#define MB (1024 * 1024)

static const struct config_option options[CFG__COUNT] = {
	{CFG_DATABASE, "database", CFGT_STRING, 0, 0, "", NULL,
	 "PostgreSQL conninfo. Empty: RELAYAUDIT_DATABASE, else the embedded cluster of make run.",
	 NULL},
	{CFG_NODE_NAME, "node_name", CFGT_STRING, 0, 0, "", NULL,
	 "Name of this node in leases and logs; empty means the host name.", valid_domain},
	{CFG_ROLES, "roles", CFGT_LIST, 0, 0, "probe,sink,workflow,api,dnsbl",
	 "probe|sink|workflow|api|dnsbl",
	 "Roles this daemon runs in its one event loop.", NULL},
	{CFG_LOG_LEVEL, "log_level", CFGT_ENUM, 0, 0, "info", "debug|info|warn|error",
	 "Least severe level logged.", NULL},
	{CFG_SECRET, "secret", CFGT_STRING, 0, 0, "", NULL,
	 "HMAC key for probe tokens and re-test links (at least 16 characters). Same on every "
	 "node.",
	 valid_secret},

	{CFG_PROBE_PORTS, "probe_ports", CFGT_LIST, 0, 0, "25,465,587", NULL,
	 "Ports probed on each target unless the target names its own.", valid_port},
	{CFG_PROBE_TLS_PORTS, "probe_tls_ports", CFGT_LIST, 0, 0, "465", NULL,
	 "Ports that speak TLS from the first byte (implicit TLS); the others use STARTTLS "
	 "where a refusal asks for it.",
	 valid_port},
	{CFG_PROBE_CONCURRENCY, "probe_concurrency", CFGT_INT, 1, 100000, "1000", NULL,
	 "Probes in flight at once (further capped by the file-descriptor budget).", NULL},
	{CFG_PROBE_RATE, "probe_rate", CFGT_INT, 0, 1000000, "200", NULL,
	 "New connections per second; 0 = unlimited.", NULL},
	{CFG_PROBE_PER_NET, "probe_per_net", CFGT_INT, 0, 100000, "4", NULL,
	 "Concurrent connections per /24 (IPv4) or /64 (IPv6); 0 = unlimited.", NULL},
	{CFG_PROBE_THREADS, "probe_threads", CFGT_INT, 0, 64, "0", NULL,
	 "Event loops (threads) the probe engine and the sink run; 0 = one per online core. "
	 "Targets go to a loop by their /24 (/64), so probe_per_net holds; probe_concurrency "
	 "and probe_rate stay global.", NULL},
	{CFG_PROBE_TIMEOUT, "probe_timeout", CFGT_DURATION, 1, 3600, "30s", NULL,
	 "Longest wait for one connect or reply.", NULL},
	{CFG_PROBE_DEADLINE, "probe_deadline", CFGT_DURATION, 1, DAY, "10m", NULL,
	 "Longest whole probe of one target, greylisting retries included.", NULL},
	{CFG_GREYLIST_WAIT, "greylist_wait", CFGT_DURATION, 0, DAY, "5m", NULL,
	 "Delay before a 4xx attempt is retried.", NULL},
	{CFG_HELO_NAME, "helo_name", CFGT_STRING, 0, 0, "", NULL,
	 "Name sent in EHLO/HELO; empty means node_name, else the host name when fully "
	 "qualified, else relayaudit.invalid.",
	 valid_domain},
	{CFG_OUTSIDE_DOMAIN, "outside_domain", CFGT_STRING, 0, 0, "relayaudit-outside.invalid",
	 NULL, "Domain of the 'outside' test sender.", valid_domain},
	{CFG_CONTACT, "contact", CFGT_STRING, 0, 0, "", NULL,
	 "Contact named in test messages; empty means abuse@ the first sink domain.",
	 valid_email},
	{CFG_EXCLUDE, "exclude", CFGT_LIST, 0, 0, "", NULL,
	 "Ranges never probed (comma-separated CIDRs).", valid_cidr},
	{CFG_FD_RESERVE, "fd_reserve", CFGT_INT, 16, 100000, "64", NULL,
	 "File descriptors kept back from probing for the database, sink and API.", NULL},
	{CFG_LOOPBACK_ONLY, "loopback_only", CFGT_BOOL, 0, 0, "no", NULL,
	 "Probe nothing outside 127.0.0.0/8 and ::1 (demos and tests; the environment variable "
	 "RELAYAUDIT_LOOPBACK_ONLY=1 forces it on).",
	 NULL},

	{CFG_LOG_NO_SMTP, "log_no_smtp", CFGT_BOOL, 0, 0, "no", NULL,
	 "Log no_smtp verdicts at info too (the demo does); at ISP scale most probes are no_smtp, "
	 "so they are logged at debug.", NULL},
	{CFG_SINK_LISTEN, "sink_listen", CFGT_STRING, 0, 0, "127.0.0.1:2525", NULL,
	 "Address:port the sink receives on (the sink domain's MX points here).", valid_listen},
	{CFG_SINK_DOMAIN, "sink_domain", CFGT_LIST, 0, 0, "sink.relayaudit.test", NULL,
	 "Domains the sink accepts mail for; every relay test addresses the first.",
	 valid_domain},
	{CFG_SINK_MAX_MESSAGE, "sink_max_message", CFGT_INT, 1024, 64 * MB, "1048576", NULL,
	 "Largest message the sink accepts, in bytes.", NULL},
	{CFG_SINK_MAX_RCPTS, "sink_max_rcpts", CFGT_INT, 1, 10000, "100", NULL,
	 "Recipients per message at the sink.", NULL},
	{CFG_SINK_MAX_SESSIONS, "sink_max_sessions", CFGT_INT, 1, 100000, "500", NULL,
	 "Concurrent sink sessions.", NULL},
	{CFG_SINK_PER_PEER, "sink_per_peer", CFGT_INT, 1, 10000, "20", NULL,
	 "Concurrent sink sessions from one address.", NULL},
	{CFG_SINK_TIMEOUT, "sink_timeout", CFGT_DURATION, 1, 3600, "60s", NULL,
	 "Idle time before the sink drops a session.", NULL},
	{CFG_SINK_TLS_CERT, "sink_tls_cert", CFGT_STRING, 0, 0, "", NULL,
	 "PEM certificate (chain) the sink offers with STARTTLS; empty offers no STARTTLS.",
	 NULL},
	{CFG_SINK_TLS_KEY, "sink_tls_key", CFGT_STRING, 0, 0, "", NULL,
	 "PEM private key of sink_tls_cert.", NULL},
	{CFG_CONFIRM_WINDOW, "confirm_window", CFGT_DURATION, 0, 7 * DAY, "15m", NULL,
	 "How long an accepted test waits for delivery before accepted_not_relayed.", NULL},

	{CFG_SCHEDULE_BATCH, "schedule_batch", CFGT_INT, 1, 100000, "500", NULL,
	 "Targets claimed per lease query.", NULL},
	{CFG_LEASE_TIME, "lease_time", CFGT_DURATION, 10, DAY, "15m", NULL,
	 "How long a claimed target stays leased to a node.", NULL},
	{CFG_POLL_INTERVAL, "poll_interval", CFGT_DURATION, 1, 3600, "5s", NULL,
	 "How often the scheduler looks for due targets when not woken by NOTIFY.", NULL},
	{CFG_PROBE_INTERVAL, "probe_interval", CFGT_DURATION, 60, 365 * DAY, "7d", NULL,
	 "Default time between periodic probes of a target.", NULL},
	{CFG_INTERVAL_JITTER, "interval_jitter", CFGT_INT, 0, 50, "10", NULL,
	 "Random spread of the next probe time, in percent of the interval.", NULL},
	{CFG_NO_SMTP_INTERVAL, "no_smtp_interval", CFGT_DURATION, 60, 365 * DAY, "30d", NULL,
	 "Time between probes of targets with no SMTP service.", NULL},
	{CFG_RETENTION, "retention", CFGT_DURATION, DAY, 3650 * DAY, "180d", NULL,
	 "Probe rows older than this are pruned (cases keep their evidence).", NULL},
	{CFG_RESULT_BUFFER, "result_buffer", CFGT_INT, 100, 10000000, "200000", NULL,
	 "Finished results held in memory while the database is away.", NULL},
	{CFG_SHUTDOWN_GRACE, "shutdown_grace", CFGT_DURATION, 0, 3600, "30s", NULL,
	 "On TERM, how long in-flight probes may finish before leases are released.", NULL},

	{CFG_IMPORT_MAX_CIDR, "import_max_cidr", CFGT_INT, 1, 16777216, "65536", NULL,
	 "Largest CIDR range (in addresses) one import row may expand to.", NULL},

	{CFG_ENFORCER_COMMAND, "enforcer_command", CFGT_STRING, 0, 0,
	 "/usr/share/relayaudit/enforcers/log-only", NULL,
	 "Executable run as: CMD block|unblock|escalate ADDRESS MODE CASE_ID.", NULL},
	{CFG_ENFORCE_MODE_DEFAULT, "enforce_mode", CFGT_ENUM, 0, 0, "port25_inbound",
	 "port25_inbound|smarthost", "Enforcement mode for customers whose access type names none.",
	 NULL},
	{CFG_ESCALATE_AFTER, "escalate_after", CFGT_DURATION, 1, 365 * DAY, "3d", NULL,
	 "An unresolved blocked case escalates after this long.", NULL},
	{CFG_REMINDER_AFTER, "reminder_after", CFGT_DURATION, 1, 365 * DAY, "1d", NULL,
	 "A notified case with no re-test gets a reminder after this long.", NULL},
	{CFG_SMARTHOST, "smarthost", CFGT_STRING, 0, 0, "", NULL,
	 "smtp://HOST:PORT or smtps://HOST:PORT (implicit TLS) notification mail is delivered "
	 "to (libcurl); a bare HOST:PORT means smtp://. Empty writes mails to outbox_dir.",
	 valid_smarthost},
	{CFG_SMARTHOST_USER, "smarthost_user", CFGT_STRING, 0, 0, "", NULL,
	 "User name for AUTH at the smarthost; empty sends no AUTH.", NULL},
	{CFG_SMARTHOST_PASSWORD_FILE, "smarthost_password_file", CFGT_STRING, 0, 0, "", NULL,
	 "File whose first line is the smarthost password (never the password itself here).",
	 NULL},
	{CFG_SMARTHOST_TLS, "smarthost_tls", CFGT_ENUM, 0, 0, "starttls", "none|starttls|required",
	 "TLS to the smarthost: none, starttls (when offered), required (STARTTLS or smtps, or "
	 "no delivery). Credentials are never sent without TLS.",
	 NULL},
	{CFG_SMARTHOST_TLS_CA, "smarthost_tls_ca", CFGT_STRING, 0, 0, "", NULL,
	 "PEM CA file the smarthost's certificate is verified against; empty: the system's "
	 "CAs. The certificate is always verified.",
	 NULL},
	{CFG_NOTIFY_FROM, "notify_from", CFGT_STRING, 0, 0, "abuse@isp.example", NULL,
	 "From: address of notification mails.", valid_email},
	{CFG_OUTBOX_DIR, "outbox_dir", CFGT_STRING, 0, 0, "/var/lib/relayaudit/outbox", NULL,
	 "Directory notification mails are written to when no smarthost is set.", NULL},
	{CFG_COMPLAINT_QUARANTINE_DIR, "complaint_quarantine_dir", CFGT_STRING, 0, 0,
	 "/var/lib/relayaudit/quarantine",
	 NULL, "Directory refused complaint reports are kept in, each with a .why file.", NULL},

	{CFG_DNSBL_ZONES, "dnsbl_zones", CFGT_LIST, 0, 0, "", NULL,
	 "DNS blocklist zones customers' addresses are checked against (the dnsbl role); a new "
	 "listing asks for a re-test.", valid_domain},
	{CFG_DNSBL_NAMESERVERS, "dnsbl_nameservers", CFGT_LIST, 0, 0, "", NULL,
	 "Nameservers (ip or ip:port) the DNSBL checks ask; never the system resolver.",
	 valid_nameserver},
	{CFG_DNSBL_INTERVAL, "dnsbl_interval", CFGT_DURATION, 1, 7 * DAY, "6h", NULL,
	 "Time between two DNSBL checks of every address.", NULL},
	{CFG_DNSBL_RATE, "dnsbl_rate", CFGT_INT, 1, 10000, "50", NULL,
	 "DNSBL queries sent per second at most.", NULL},
	{CFG_DNSBL_TIMEOUT, "dnsbl_timeout", CFGT_DURATION, 1, 60, "5s", NULL,
	 "How long one DNSBL query waits for an answer (one retry); no answer changes nothing.",
	 NULL},
	{CFG_PROBE_RDNS, "probe_rdns", CFGT_BOOL, 0, 0, "no", NULL,
	 "Look up the reverse DNS name of a target that has none, asking dnsbl_nameservers (never "
	 "the system resolver); when the greeting and EHLO reply name no host, it gives the "
	 "spoof-domain senders and the greeting as the target their name.", NULL},
	{CFG_PROBE_RDNS_TIMEOUT, "probe_rdns_timeout", CFGT_DURATION, 1, 30, "3s", NULL,
	 "How long a target waits for its reverse DNS name before it is probed without one.", NULL},
	{CFG_RETEST_URL, "retest_url", CFGT_STRING, 0, 0, "http://127.0.0.1:8080/r/", NULL,
	 "Base of customers' self-service re-test links.", NULL},
	{CFG_RETEST_LINK_TTL, "retest_link_ttl", CFGT_DURATION, 60, 365 * DAY, "14d", NULL,
	 "How long a re-test link stays valid.", NULL},
	{CFG_RETEST_MIN_INTERVAL, "retest_min_interval", CFGT_DURATION, 0, DAY, "15m", NULL,
	 "Least time between two customer re-tests of one case.", NULL},
	{CFG_ISP_NAME, "isp_name", CFGT_STRING, 0, 0, "Example ISP", NULL,
	 "The ISP's name as customers read it in mails and on the re-test page.", NULL},
	{CFG_ISP_EMAIL, "isp_contact_email", CFGT_STRING, 0, 0, "abuse@isp.example", NULL,
	 "Contact address customers are given in mails and on the re-test page.", valid_email},
	{CFG_ISP_PHONE, "isp_contact_phone", CFGT_STRING, 0, 0, "", NULL,
	 "Contact phone number customers are given; empty leaves it out.", NULL},
	{CFG_TEMPLATE_DIR, "template_dir", CFGT_STRING, 0, 0, "", NULL,
	 "Operator's template directory (LOCALE/KIND.txt, LOCALE/words.txt), read before the "
	 "shipped templates; empty: only the shipped ones.", NULL},
	{CFG_COMPLAINT_UNBLOCK, "complaint_unblock", CFGT_ENUM, 0, 0, "operator",
	 "after_clean_retest|operator",
	 "Who lifts a block that a spam complaint caused: an operator (a clean re-test is shown to "
	 "them as a reason), or a clean re-test after complaint_min_block.", NULL},
	{CFG_COMPLAINT_MIN_BLOCK, "complaint_min_block", CFGT_DURATION, 0, 365 * DAY, "1h", NULL,
	 "Shortest time a complaint block stays, even after a clean re-test.", NULL},
	{CFG_REPROBE_AFTER, "reprobe_after", CFGT_DURATION, 1, 30 * DAY, "6h", NULL,
	 "A suspicious acceptance or backscatter is probed again this soon.", NULL},
	{CFG_MAX_REMINDERS, "max_reminders", CFGT_INT, 0, 100, "3", NULL,
	 "Reminders sent for a notified case before only the periodic probes follow it.", NULL},
	{CFG_RETRY_BACKOFF, "retry_backoff", CFGT_DURATION, 1, DAY, "1m", NULL,
	 "First retry delay of a failed mail or enforcer hook; doubles per attempt up to 1h.",
	 NULL},
	{CFG_MAIL_MAX_ATTEMPTS, "mail_max_attempts", CFGT_INT, 1, 1000, "12", NULL,
	 "Delivery attempts of one notification mail before it is recorded as failed.", NULL},
	{CFG_ENFORCER_TIMEOUT, "enforcer_timeout", CFGT_DURATION, 1, 3600, "30s", NULL,
	 "Longest run of one enforcer hook call; it is killed and retried after this.", NULL},
	{CFG_WEBHOOK_URL, "webhook_url", CFGT_STRING, 0, 0, "", NULL,
	 "http:// or https:// URL every case event is POSTed to as signed JSON (libcurl), for a "
	 "ticket system; empty: no webhook (events still queue, and are sent once it is set).",
	 valid_webhook_url},
	{CFG_WEBHOOK_TIMEOUT, "webhook_timeout", CFGT_DURATION, 1, 120, "10s", NULL,
	 "Longest time one webhook request may take (connect and answer); then it is retried.",
	 NULL},
	{CFG_WEBHOOK_SECRET_FILE, "webhook_secret_file", CFGT_STRING, 0, 0, "", NULL,
	 "File whose first line is the key of the webhook's HMAC-SHA-256 signature; empty: secret "
	 "is the key.", NULL},
	{CFG_WEBHOOK_MAX_ATTEMPTS, "webhook_max_attempts", CFGT_INT, 1, 1000, "12", NULL,
	 "Delivery attempts of one case event before it is recorded as failed (backoff as "
	 "retry_backoff).", NULL},

	{CFG_API_LISTEN, "api_listen", CFGT_STRING, 0, 0, "127.0.0.1:8080", NULL,
	 "Address:port of the HTTP API.", valid_listen},
	{CFG_API_THREADS, "api_threads", CFGT_INT, 1, 64, "4", NULL,
	 "HTTP worker threads, each with its own database connection.", NULL},
	{CFG_API_PUBLIC_HEALTH, "api_public_health", CFGT_BOOL, 0, 0, "yes", NULL,
	 "Serve /v1/health and /metrics without a token.", NULL},
	{CFG_API_MAX_BODY, "api_max_body", CFGT_INT, 1024, 64 * MB, "1048576", NULL,
	 "Largest request body accepted, in bytes (413 beyond).", NULL},
	{CFG_API_MAX_CONNECTIONS, "api_max_connections", CFGT_INT, 16, 100000, "1000", NULL,
	 "HTTP connections open at once; counted in the daemon's descriptor budget.", NULL},
	{CFG_API_PER_IP_CONNECTIONS, "api_per_ip_connections", CFGT_INT, 1, 100000, "32", NULL,
	 "HTTP connections one client address may hold open at once (more are closed at "
	 "once), so one host cannot lock the others out.",
	 NULL},
	{CFG_API_REQUEST_TIMEOUT, "api_request_timeout", CFGT_DURATION, 1, 3600, "30s", NULL,
	 "Whole-request deadline: a request's headers and body must have arrived within this "
	 "time of its start, however slowly they drip; also the idle keep-alive limit.",
	 NULL},
};

struct config_value {
	char *text; /* as written */
	int64_t num;
	bool flag;
	char *origin;
};

struct config {
	struct config_value v[CFG__COUNT];
};

static const char *
valid_listen(const char *v)
{
	struct addr a;
	int port;

	return addr_port_parse(v, 0, &a, &port) < 0 ? "want IP:PORT or [IPv6]:PORT" : NULL;
}

static const char *
valid_hostport(const char *v)
{
	const char *colon = strrchr(v, ':');
	int64_t port;

	if (*v == '\0')
		return NULL;
	if (colon == NULL || colon == v || parse_i64(colon + 1, 1, 65535, &port) < 0)
		return "want HOST:PORT";
	return NULL;
}

/* smtp://HOST:PORT, smtps://HOST:PORT, or HOST:PORT (smtp://). */
static const char *
valid_smarthost(const char *v)
{
	if (strncmp(v, "smtp://", 7) == 0)
		v += 7;
	else if (strncmp(v, "smtps://", 8) == 0)
		v += 8;
	else if (strstr(v, "://") != NULL)
		return "want smtp://HOST:PORT or smtps://HOST:PORT";
	if (strchr(v, '/') != NULL)
		return "want smtp://HOST:PORT or smtps://HOST:PORT (no path)";
	return valid_hostport(v);
}

/* Empty, or http(s)://HOST... with no space or control character (libcurl parses the rest). */
static const char *
valid_webhook_url(const char *v)
{
	size_t skip;

	if (*v == '\0')
		return NULL;
	if (strncmp(v, "http://", 7) == 0)
		skip = 7;
	else if (strncmp(v, "https://", 8) == 0)
		skip = 8;
	else
		return "want http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH";
	if (v[skip] == '\0' || v[skip] == '/')
		return "the URL names no host";
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "the URL holds a space or control character";
	}
	return NULL;
}

static const char *
valid_cidr(const char *v)
{
	struct cidr c;
	const char *why = NULL;

	return cidr_parse(v, &c, &why) < 0 ? why : NULL;
}

static const char *
valid_nameserver(const char *v)
{
	struct addr a;
	int port;

	return addr_port_parse(v, 53, &a, &port) < 0 ? "a nameserver is ip or ip:port" : NULL;
}

static const char *
valid_domain(const char *v)
{
	size_t len = strlen(v);

	if (len == 0)
		return NULL;
	if (len > 253)
		return "name longer than 253 characters";
	for (const char *p = v; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return "a domain name has only letters, digits, '-' and '.'";
	}
	if (v[0] == '.' || v[0] == '-' || strstr(v, "..") != NULL)
		return "not a domain name";
	return NULL;
}

static const char *
valid_port(const char *v)
{
	int64_t port;

	return parse_i64(v, 1, 65535, &port) < 0 ? "want a port number 1..65535" : NULL;
}

static const char *
valid_secret(const char *v)
{
	return (*v != '\0' && strlen(v) < 16) ? "at least 16 characters" : NULL;
}

static const char *
valid_email(const char *v)
{
	const char *at;

	if (*v == '\0')
		return NULL;
	at = strchr(v, '@');
	if (at == NULL || at == v || strchr(at + 1, '@') != NULL || strpbrk(v, " <>\",;") != NULL)
		return "want local@domain";
	return valid_domain(at + 1);
}

const struct config_option *
config_options(void)
{
	return options;
}

const struct config_option *
config_option_find(const char *name)
{
	for (int i = 0; i < CFG__COUNT; i++) {
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	}
	return NULL;
}

static bool
choice_ok(const char *choices, const char *word, size_t len)
{
	const char *p = choices;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);

		if (n == len && strncmp(p, word, len) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

/* Parses value for opt into *out; NULL or a message in why_buf. */
static const char *
config_parse_value(const struct config_option *opt, const char *value, struct config_value *out,
		   char *why_buf, size_t why_len)
{
	const char *why;

	switch (opt->type) {
	case CFGT_STRING:
		if (opt->validate && (why = opt->validate(value)) != NULL)
			return why;
		break;
	case CFGT_INT:
		if (parse_i64(value, opt->min, opt->max, &out->num) < 0) {
			snprintf(why_buf, why_len, "want a whole number in %lld..%lld",
				 (long long)opt->min, (long long)opt->max);
			return why_buf;
		}
		break;
	case CFGT_DURATION:
		if (parse_duration(value, &out->num) < 0 || out->num < opt->min ||
		    out->num > opt->max) {
			snprintf(why_buf, why_len,
				 "want a duration (e.g. 30s, 15m, 2h, 3d) in %llds..%llds",
				 (long long)opt->min, (long long)opt->max);
			return why_buf;
		}
		break;
	case CFGT_BOOL:
		if (parse_bool(value, &out->flag) < 0)
			return "want yes or no";
		break;
	case CFGT_ENUM:
		if (!choice_ok(opt->choices, value, strlen(value))) {
			snprintf(why_buf, why_len, "want one of %s", opt->choices);
			return why_buf;
		}
		break;
	case CFGT_LIST: {
		const char *p = value;

		while (*p) {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);
			char word[256];

			while (n > 0 && isspace((unsigned char)*p))
				p++, n--;
			while (n > 0 && isspace((unsigned char)p[n - 1]))
				n--;
			if (n == 0 || n >= sizeof(word))
				return "empty or overlong list item";
			memcpy(word, p, n);
			word[n] = '\0';
			if (opt->choices && !choice_ok(opt->choices, word, n)) {
				snprintf(why_buf, why_len, "'%.64s' is not one of %.120s", word,
					 opt->choices);
				return why_buf;
			}
			if (opt->validate && (why = opt->validate(word)) != NULL) {
				snprintf(why_buf, why_len, "'%.64s': %.150s", word, why);
				return why_buf;
			}
			p = comma ? comma + 1 : p + n;
		}
		break;
	}
	}
	return NULL;
}

/* Stores a value known to be valid; lists are normalised to "a,b,c". */
static void
config_store(struct config *cfg, const struct config_option *opt, const char *value,
	     const struct config_value *parsed, const char *origin)
{
	struct config_value *v = &cfg->v[opt->key];

	free(v->text);
	free(v->origin);
	if (opt->type == CFGT_LIST) {
		char *norm = xmalloc(strlen(value) + 1), *q = norm;

		for (const char *p = value; *p; p++) {
			if (!isspace((unsigned char)*p))
				*q++ = *p;
		}
		*q = '\0';
		v->text = norm;
	} else {
		v->text = xstrdup(value);
	}
	v->num = parsed->num;
	v->flag = parsed->flag;
	v->origin = xstrdup(origin);
}

struct config *
config_new(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	const char *env;
	char why[256];

	for (int i = 0; i < CFG__COUNT; i++) {
		struct config_value parsed = {0};

		if ((int)options[i].key != i)
			fatal("reason=\"option table out of order\" option=%s", options[i].name);
		if (config_parse_value(&options[i], options[i].def, &parsed, why, sizeof(why)))
			fatal("reason=\"bad default\" option=%s", options[i].name);
		config_store(cfg, &options[i], options[i].def, &parsed, "default");
	}
	env = getenv("RELAYAUDIT_DATABASE");
	if (env != NULL && *env != '\0') {
		struct config_value parsed = {0};

		config_store(cfg, &options[CFG_DATABASE], env, &parsed, "env RELAYAUDIT_DATABASE");
	}
	return cfg;
}

bool
config_loopback_only(const struct config *cfg)
{
	const char *env = getenv("RELAYAUDIT_LOOPBACK_ONLY");

	return config_bool(cfg, CFG_LOOPBACK_ONLY) || (env != NULL && strcmp(env, "1") == 0);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (int i = 0; i < CFG__COUNT; i++) {
		free(cfg->v[i].text);
		free(cfg->v[i].origin);
	}
	free(cfg);
}

static void
report_stderr(void *arg, const char *msg)
{
	fprintf(stderr, "%s\n", msg);
}

static void
reportf(config_report_fn report, void *arg, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(arg, msg);
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/*
 * A conninfo holds a password as "password=..." or, as a URI, as
 * postgresql://user:secret@host. (common/ has no libpq to parse it.)
 */
static bool
conninfo_has_password(const char *v)
{
	const char *rest = NULL, *at;

	if (strstr(v, "password") != NULL)
		return true;
	if (strncmp(v, "postgresql://", 13) == 0)
		rest = v + 13;
	else if (strncmp(v, "postgres://", 11) == 0)
		rest = v + 11;
	if (rest == NULL || (at = strchr(rest, '@')) == NULL)
		return false;
	return memchr(rest, ':', (size_t)(at - rest)) != NULL;
}

/*
 * The value as an error message may show it: a secret, or a conninfo with a
 * password, never appears in output or logs, rejected or not.
 */
static const char *
config_value_shown(const struct config_option *opt, const char *value)
{
	if (opt->key == CFG_SECRET && *value != '\0')
		return "(secret, not shown)";
	if (opt->key == CFG_DATABASE && conninfo_has_password(value))
		return "(holds a password, not shown)";
	return value;
}

int
config_load(struct config *cfg, const char *path, config_report_fn report, void *arg)
{
	FILE *f;
	char line[4096], why_buf[256];
	int lineno = 0, errors = 0;
	int seen_at[CFG__COUNT] = {0};
	bool holds_password = false;
	struct stat st;

	if (report == NULL)
		report = report_stderr;
	f = fopen(path, "r");
	if (f == NULL) {
		reportf(report, arg, "%s: cannot open: %s", path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq, *key, *value;
		const struct config_option *opt;
		struct config_value parsed = {0};
		const char *why;
		char origin[600];

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			reportf(report, arg, "%s:%d: line longer than %zu bytes", path, lineno,
				sizeof(line) - 2);
			errors++;
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			reportf(report, arg, "%s:%d: expected 'key = value'", path, lineno);
			errors++;
			continue;
		}
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		opt = config_option_find(key);
		if (opt == NULL) {
			reportf(report, arg, "%s:%d: unknown option '%s'", path, lineno, key);
			errors++;
			continue;
		}
		if (seen_at[opt->key]) {
			reportf(report, arg, "%s:%d: %s is already set at line %d", path, lineno,
				key, seen_at[opt->key]);
			errors++;
			continue;
		}
		seen_at[opt->key] = lineno;
		why = config_parse_value(opt, value, &parsed, why_buf, sizeof(why_buf));
		if (why != NULL) {
			reportf(report, arg, "%s:%d: %s = '%s': %s", path, lineno, key,
				config_value_shown(opt, value), why);
			errors++;
			continue;
		}
		if ((opt->key == CFG_DATABASE && conninfo_has_password(value)) ||
		    (opt->key == CFG_SECRET && *value != '\0'))
			holds_password = true;
		snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
		config_store(cfg, opt, value, &parsed, origin);
	}
	fclose(f);
	if (holds_password && stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		log_warn("config_readable", "file=%s reason=\"holds a password or secret but is "
					    "readable by group or others; chmod 600 it\"",
			 path);
	return errors;
}

const char *
config_set(struct config *cfg, const char *name, const char *value)
{
	static char why_buf[256];
	const struct config_option *opt = config_option_find(name);
	struct config_value parsed = {0};
	const char *why;

	if (opt == NULL)
		return "unknown option";
	why = config_parse_value(opt, value, &parsed, why_buf, sizeof(why_buf));
	if (why != NULL)
		return why;
	config_store(cfg, opt, value, &parsed, "command line");
	return NULL;
}

const char *
config_str(const struct config *cfg, enum config_key key)
{
	return cfg->v[key].text;
}

int64_t
config_int(const struct config *cfg, enum config_key key)
{
	return cfg->v[key].num;
}

bool
config_bool(const struct config *cfg, enum config_key key)
{
	return cfg->v[key].flag;
}

char **
config_list(const struct config *cfg, enum config_key key, size_t *n)
{
	const char *p = cfg->v[key].text != NULL ? cfg->v[key].text : "";
	char **words = xcalloc(strlen(p) / 2 + 2, sizeof(char *));
	size_t k = 0;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *w = p;

		while (len > 0 && isspace((unsigned char)*w))
			w++, len--;
		while (len > 0 && isspace((unsigned char)w[len - 1]))
			len--;
		if (len > 0)
			words[k++] = xstrndup(w, len);
		p = comma ? comma + 1 : p + strlen(p);
	}
	if (n != NULL)
		*n = k;
	return words;
}

void
config_list_free(char **words)
{
	for (size_t i = 0; words != NULL && words[i] != NULL; i++)
		free(words[i]);
	free(words);
}

bool
config_list_has(const struct config *cfg, enum config_key key, const char *word)
{
	char **words = config_list(cfg, key, NULL);
	bool found = false;

	for (size_t i = 0; words[i] != NULL && !found; i++)
		found = strcmp(words[i], word) == 0;
	config_list_free(words);
	return found;
}

const struct config_option *
config_option_of(enum config_key key)
{
	for (int i = 0; i < CFG__COUNT; i++) {
		if (options[i].key == key)
			return &options[i];
	}
	return NULL;
}

const char *
config_origin(const struct config *cfg, enum config_key key)
{
	return cfg->v[key].origin;
}

void
config_print(const struct config *cfg, FILE *out)
{
	for (int i = 0; i < CFG__COUNT; i++) {
		const char *text = cfg->v[i].text;

		if (i == CFG_SECRET && *text != '\0')
			text = "********";
		if (i == CFG_DATABASE && conninfo_has_password(text))
			text = "******** (holds a password)";
		fprintf(out, "%s = %s  # %s\n", options[i].name, text, cfg->v[i].origin);
	}
}

static const char *
type_name(const struct config_option *opt, char *buf, size_t len)
{
	switch (opt->type) {
	case CFGT_STRING: return "string";
	case CFGT_INT:
		snprintf(buf, len, "integer %lld..%lld", (long long)opt->min, (long long)opt->max);
		return buf;
	case CFGT_DURATION:
		snprintf(buf, len, "duration %llds..%llds", (long long)opt->min,
			 (long long)opt->max);
		return buf;
	case CFGT_BOOL: return "yes/no";
	case CFGT_ENUM:
		snprintf(buf, len, "one of %s", opt->choices);
		return buf;
	case CFGT_LIST:
		if (opt->choices) {
			snprintf(buf, len, "list of %s", opt->choices);
			return buf;
		}
		return "list";
	}
	return "?";
}

/* Writes s with '|' as "\|" (or as '/' when slash), so it stays inside one Markdown cell. */
static void
print_cell(FILE *out, const char *s, bool slash)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs(slash ? "/" : "\\|", out);
		else
			fputc(*s, out);
	}
}

void
config_print_reference(FILE *out)
{
	char buf[128];

	fprintf(out, "| option | type | default | meaning |\n|---|---|---|---|\n");
	for (int i = 0; i < CFG__COUNT; i++) {
		fprintf(out, "| `%s` | ", options[i].name);
		/* Choices read better as probe/sink than as escaped bars. */
		print_cell(out, type_name(&options[i], buf, sizeof(buf)), true);
		if (*options[i].def) {
			fputs(" | `", out);
			print_cell(out, options[i].def, false);
			fputs("` | ", out);
		} else {
			fputs(" | (empty) | ", out);
		}
		print_cell(out, options[i].help, false);
		fputs(" |\n", out);
	}
}

void
config_print_example(FILE *out)
{
	char buf[128];

	fprintf(out, "# relayaudit.conf: every option with its default, commented out.\n"
		     "# Generated by `relayctl config example` from the option table;\n"
		     "# `relayctl config check -c FILE` validates a file. Lines are\n"
		     "# \"key = value\"; '#' starts a comment. A file that sets `secret` or a\n"
		     "# database password should be mode 600.\n");
	for (int i = 0; i < CFG__COUNT; i++) {
		fprintf(out, "\n# %s\n# (%s)\n#%s =%s%s\n", options[i].help,
			type_name(&options[i], buf, sizeof(buf)), options[i].name,
			*options[i].def ? " " : "", options[i].def);
	}
}

/* Writes s as roff text: backslashes escaped, a leading '.' or '\'' made literal. */
static void
print_roff(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else
			fputc(*s, out);
	}
}

void
config_print_man(FILE *out)
{
	char buf[128];

	for (int i = 0; i < CFG__COUNT; i++) {
		fputs(".TP\n.B ", out);
		print_roff(out, options[i].name);
		fputs("\n", out);
		print_roff(out, type_name(&options[i], buf, sizeof(buf)));
		if (*options[i].def) {
			fputs("; default \\fB", out);
			print_roff(out, options[i].def);
			fputs("\\fR", out);
		} else {
			fputs("; default empty", out);
		}
		fputs(".\n", out);
		print_roff(out, options[i].help);
		fputs("\n", out);
	}
}
