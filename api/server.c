/*
 * The api role: libmicrohttpd on its own pool of api_threads epoll worker
 * threads. Each worker has its own database connection (thread-local, opened
 * on first use), so a slow query holds up only that worker and never the
 * daemon's event loop. This file owns the request life cycle: route lookup
 * and auth from the headers alone (a refused request's body is never read),
 * body collection within api_max_body, dispatch, the reply, and the
 * whole-request deadline a slow-drip client cannot stretch.
 */
#include "api/api.h"
#include "api/handler.h"
#include "common/addr.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "db/pstmt.h"
#include "db/query.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/*
 * One request across access-handler calls: checked (route, query, token)
 * when its headers are in, then its body collected, then dispatched.
 */
struct api_upload {
	struct api_req req;
	char *buf;
	size_t len, cap;
	bool too_large;
};

/*
 * One open connection, for the whole-request deadline. microhttpd's own
 * timeout is an inactivity timeout, which a client dripping a byte every few
 * seconds never trips; the watchdog thread shuts such a socket down once its
 * current request has been arriving for longer than api_request_timeout.
 */
struct api_conn {
	int fd;
	int64_t start_ms; /* when the request now arriving began */
	bool receiving;   /* its headers or body are still arriving */
	bool shut;
	struct api_conn *prev, *next;
};

static struct {
	struct MHD_Daemon *mhd;
	const struct config *cfg;
	char *conninfo;
	size_t max_body;
	pthread_mutex_t lock; /* guards dbs */
	struct pstmt *dbs[64];
	int ndbs;
	/* The deadline watchdog. conns_lock also orders shutdown() before the
	 * close: microhttpd reports a connection closed before closing its fd. */
	pthread_mutex_t conns_lock;
	struct api_conn *conns;
	int64_t deadline_ms;
	pthread_t watchdog;
	bool watchdog_running;
	atomic_bool stopping;
	atomic_ulong deadline_closed;
} api_server = {.lock = PTHREAD_MUTEX_INITIALIZER, .conns_lock = PTHREAD_MUTEX_INITIALIZER};

static __thread struct pstmt *api_tls_db;

#define API_CSP                                                                                \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "        \
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

/* Replies by status, for /metrics. */
static const int api_statuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
				   409, 413, 415, 422, 429, 500, 503};
static atomic_ulong api_status_count[ARRAY_LEN(api_statuses) + 1];

size_t
api_status_list(const int **statuses)
{
	*statuses = api_statuses;
	return ARRAY_LEN(api_statuses);
}

unsigned long
api_status_requests(size_t i)
{
	return atomic_load(&api_status_count[i]);
}

static void
api_count_status(int status)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(api_statuses); i++) {
		if (api_statuses[i] == status)
			break;
	}
	atomic_fetch_add(&api_status_count[i], 1);
}

/* This worker's connection; NULL when the database cannot be reached. */
static struct pstmt *
api_thread_db(void)
{
	const char *why = NULL;

	if (api_tls_db != NULL)
		return pstmt_alive(api_tls_db) ? api_tls_db : NULL;
	api_tls_db = pstmt_connect(api_server.conninfo, &why);
	if (api_tls_db == NULL) {
		log_warn("api_db_down", "reason=\"%s\"", why);
		return NULL;
	}
	pthread_mutex_lock(&api_server.lock);
	if (api_server.ndbs < (int)ARRAY_LEN(api_server.dbs)) {
		api_server.dbs[api_server.ndbs++] = api_tls_db;
	}
	pthread_mutex_unlock(&api_server.lock);
	return api_tls_db;
}

static enum MHD_Result
api_send(struct MHD_Connection *c, struct api_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->resp == NULL)
		api_error(r, 500, "internal", "the handler sent no reply");
	resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
	r->resp = NULL; /* microhttpd frees it */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/*
	 * One strict policy for every reply: the dashboard and the re-test page
	 * load scripts, styles and data from this host only, and nothing inline.
	 */
	MHD_add_response_header(resp, "Content-Security-Policy", API_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	if (r->hdr_name != NULL)
		MHD_add_response_header(resp, r->hdr_name, r->hdr_value);
	ret = MHD_queue_response(c, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	api_count_status(r->status);
	log_debug("api_request", "method=%s status=%d actor=%s", r->method, r->status,
		  r->actor[0] ? r->actor : "-");
	return ret;
}

struct api_qcheck {
	const struct api_route *rt;
	const char *unknown;
};

static enum MHD_Result
api_query_check(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct api_qcheck *q = cls;

	(void)kind;
	(void)value;
	if (!api_route_has_query(q->rt, key)) {
		q->unknown = key;
		return MHD_NO;
	}
	return MHD_YES;
}

static bool
api_access_ok(struct api_req *r)
{
	enum api_access need = r->route->access;

	if (need == ACCESS_PUBLIC)
		return true;
	if (need == ACCESS_HEALTH) {
		if (config_bool(r->cfg, CFG_API_PUBLIC_HEALTH))
			return true;
		need = ACCESS_VIEWER;
	}
	if (r->db == NULL) {
		api_error(r, 503, "database_unavailable", "the database cannot be reached");
		return false;
	}
	if (!api_auth(r))
		return false;
	if ((int)r->role < (int)need) {
		api_error(r, 403, "forbidden", "this needs the %s role; the token has %s",
			  api_role_name((enum api_role)need), api_role_name(r->role));
		return false;
	}
	return true;
}

static void
api_client_ip(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct addr a;
	int port;

	str_fmt(buf, len, "-");
	if (ci != NULL && ci->client_addr != NULL &&
	    addr_from_sockaddr(ci->client_addr, &a, &port) == 0)
		addr_format(&a, buf, len);
}

/* Every write through the API is logged with the token that made it, refused ones too. */
static void
api_audit(struct api_req *r)
{
	char status[8], why[128];
	const char *params[] = {r->actor, r->method, r->url, status};

	if (r->actor[0] == '\0' || r->db == NULL || strcmp(r->method, "GET") == 0 ||
	    strcmp(r->method, "HEAD") == 0)
		return;
	str_fmt(status, sizeof(status), "%d", r->status);
	if (pstmt_cmd(r->db, &api_audit_write, params, why, sizeof(why)) != PSTMT_OK)
		log_warn("api_audit_failed", "actor=%s reason=\"%s\"", r->actor, why);
}

/* The document and the dashboard's files need no database: the page can say it is down. */
static bool
api_route_needs_db(const struct api_route *rt)
{
	return rt->access != ACCESS_HEALTH && rt->fn != h_openapi && rt->fn != h_web_index &&
	       rt->fn != h_web_file && rt->fn != h_web_chartjs;
}

/*
 * Everything decided from the request line and headers: the route, its query
 * parameters, the database and the token. false once a refusal is set, which
 * is then sent before a byte of the body is read.
 */
static bool
api_precheck(struct api_req *r)
{
	struct api_qcheck q = {0};

	r->route = api_route_match(r);
	if (r->route == NULL)
		return false; /* 404 or 405 already set */
	q.rt = r->route;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, api_query_check, &q);
	if (q.unknown != NULL) {
		char shown[65];

		str_fmt(shown, sizeof(shown), "%.64s", q.unknown);
		api_error(r, 400, "bad_parameter", "unknown query parameter '%s'", shown);
		return false;
	}
	r->db = api_thread_db();
	if (!api_access_ok(r))
		return false;
	if (r->db == NULL && api_route_needs_db(r->route)) {
		api_error(r, 503, "database_unavailable", "the database cannot be reached");
		return false;
	}
	return true;
}

static void
api_dispatch(struct api_req *r)
{
	/* A connection stays on its worker thread, but the database may have gone. */
	r->db = api_thread_db();
	if (r->db == NULL && api_route_needs_db(r->route)) {
		api_error(r, 503, "database_unavailable", "the database cannot be reached");
		return;
	}
	r->route->fn(r);
	api_audit(r);
}

/* ---- the whole-request deadline ---- */

static struct api_conn *
api_conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

/* receiving: a request starts arriving (true) or has arrived whole (false). */
static void
api_conn_mark(struct MHD_Connection *c, bool receiving)
{
	struct api_conn *ac = api_conn_of(c);

	if (ac == NULL)
		return;
	pthread_mutex_lock(&api_server.conns_lock);
	ac->receiving = receiving;
	if (receiving)
		ac->start_ms = now_mono_ms();
	pthread_mutex_unlock(&api_server.conns_lock);
}

static void
api_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		enum MHD_ConnectionNotificationCode toe)
{
	struct api_conn *ac = *socket_context;

	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		ac = xcalloc(1, sizeof(*ac));
		ac->fd = ci != NULL ? ci->connect_fd : -1;
		ac->start_ms = now_mono_ms();
		ac->receiving = true;
		pthread_mutex_lock(&api_server.conns_lock);
		ac->next = api_server.conns;
		if (ac->next != NULL)
			ac->next->prev = ac;
		api_server.conns = ac;
		pthread_mutex_unlock(&api_server.conns_lock);
		*socket_context = ac;
		return;
	}
	if (ac == NULL)
		return;
	pthread_mutex_lock(&api_server.conns_lock);
	if (ac->prev != NULL)
		ac->prev->next = ac->next;
	else
		api_server.conns = ac->next;
	if (ac->next != NULL)
		ac->next->prev = ac->prev;
	pthread_mutex_unlock(&api_server.conns_lock);
	free(ac);
	*socket_context = NULL;
}

/*
 * Shuts down the sockets whose request is overdue; microhttpd's worker then
 * sees the end of the stream and closes the connection on its own thread.
 */
static void *
api_watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&api_server.stopping)) {
		struct timespec tick = {0, 200 * 1000 * 1000};
		int64_t now = now_mono_ms();
		unsigned long n = 0;

		pthread_mutex_lock(&api_server.conns_lock);
		for (struct api_conn *ac = api_server.conns; ac != NULL; ac = ac->next) {
			if (!ac->receiving || ac->shut || ac->fd < 0 ||
			    now - ac->start_ms < api_server.deadline_ms)
				continue;
			shutdown(ac->fd, SHUT_RDWR);
			ac->shut = true;
			n++;
		}
		pthread_mutex_unlock(&api_server.conns_lock);
		if (n > 0) {
			atomic_fetch_add(&api_server.deadline_closed, n);
			log_info("api_deadline", "closed=%lu total=%lu timeout_ms=%lld", n,
				 atomic_load(&api_server.deadline_closed),
				 (long long)api_server.deadline_ms);
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}

static enum MHD_Result
api_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct api_upload *up = *con_cls;
	struct api_req *r;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (up == NULL) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		int64_t n;

		up = xcalloc(1, sizeof(*up));
		*con_cls = up;
		r = &up->req;
		r->conn = c;
		r->cfg = api_server.cfg;
		r->method = method;
		r->url = url;
		api_client_ip(c, r->client_ip, sizeof(r->client_ip));
		/*
		 * Refusals that need no body (unknown route, bad query, no or a bad
		 * token, a declared oversize body) go out now: microhttpd then
		 * closes the connection without reading what the client sends.
		 */
		if (cl != NULL && parse_i64(cl, 0, INT64_MAX, &n) == 0 &&
		    (uint64_t)n > api_server.max_body)
			up->too_large = true;
		else if (api_precheck(r))
			return MHD_YES;
		api_conn_mark(c, false);
		if (up->too_large)
			api_error(r, 413, "body_too_large", "the body is larger than %zu bytes",
				  api_server.max_body);
		ret = api_send(c, r);
		free(r->resp);
		r->resp = NULL;
		return ret;
	} else if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (up->req.status != 0)
			return MHD_YES; /* answered from the headers: the body is dropped */
		if (up->too_large || up->len + n > api_server.max_body) {
			up->too_large = true;
			return MHD_YES;
		}
		if (up->len + n + 1 > up->cap) {
			up->cap = (up->len + n + 1) * 2;
			if (up->cap > api_server.max_body + 1)
				up->cap = api_server.max_body + 1;
			up->buf = xrealloc(up->buf, up->cap);
		}
		memcpy(up->buf + up->len, upload_data, n);
		up->len += n;
		up->buf[up->len] = '\0';
		return MHD_YES;
	}

	api_conn_mark(c, false);
	r = &up->req;
	if (r->resp != NULL || r->status != 0)
		return MHD_YES; /* already answered from the headers */
	r->body = up->buf;
	r->body_len = up->len;
	if (up->too_large)
		api_error(r, 413, "body_too_large", "the body is larger than %zu bytes",
			  api_server.max_body);
	else
		api_dispatch(r);
	ret = api_send(c, r);
	free(r->resp);
	r->resp = NULL;
	return ret;
}

static void
api_completed(void *cls, struct MHD_Connection *c, void **con_cls,
	      enum MHD_RequestTerminationCode toe)
{
	struct api_upload *up = *con_cls;

	(void)cls;
	(void)toe;
	if (up != NULL) {
		free(up->req.resp);
		free(up->buf);
		free(up);
		*con_cls = NULL;
	}
	/* A kept-alive connection's next request gets a deadline of its own. */
	api_conn_mark(c, true);
}

static void
api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256], clean[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_censor(clean, sizeof(clean), msg, strlen(msg));
	log_warn("api_http", "reason=\"%s\"", clean);
}

int
api_role_start(const struct config *cfg, const char *conninfo)
{
	struct addr a;
	int port;
	struct sockaddr_storage ss;
	/* epoll, not select(): the daemon holds thousands of probe sockets, and
	 * select() cannot watch a descriptor numbered FD_SETSIZE (1024) or above. */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	unsigned threads = (unsigned)config_int(cfg, CFG_API_THREADS);
	unsigned max_conns = (unsigned)config_int(cfg, CFG_API_MAX_CONNECTIONS);
	unsigned per_ip = (unsigned)config_int(cfg, CFG_API_PER_IP_CONNECTIONS);
	unsigned timeout_s = (unsigned)config_int(cfg, CFG_API_REQUEST_TIMEOUT);
	const char *listen = config_str(cfg, CFG_API_LISTEN);

	if (api_server.mhd != NULL)
		return -1;
	if (addr_port_parse(listen, 8080, &a, &port) < 0) {
		log_error("api_start_failed", "reason=\"bad api_listen\" listen=%s", listen);
		return -1;
	}
	addr_to_sockaddr(&a, port, &ss);
	if (a.family == AF_INET6)
		flags |= MHD_USE_IPv6;
	api_server.cfg = cfg;
	(void)web_dir(); /* found before the workers start, so they only read it */
	api_server.conninfo = xstrdup(conninfo ? conninfo : "");
	api_server.max_body = (size_t)config_int(cfg, CFG_API_MAX_BODY);
	api_server.deadline_ms = (int64_t)timeout_s * 1000;
	atomic_store(&api_server.stopping, false);
	/* The logger goes first, or microhttpd logs the options before it to stderr itself. */
	api_server.mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, api_handle, NULL, MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_CONNECTION_LIMIT, max_conns,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED, api_completed, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, api_conn_notify, NULL, MHD_OPTION_END);
	if (api_server.mhd == NULL) {
		log_error("api_start_failed", "reason=\"cannot listen\" listen=%s", listen);
		free(api_server.conninfo);
		api_server.conninfo = NULL;
		return -1;
	}
	if (pthread_create(&api_server.watchdog, NULL, api_watchdog, NULL) != 0) {
		log_error("api_start_failed", "reason=\"no watchdog thread\" listen=%s", listen);
		api_role_stop();
		return -1;
	}
	api_server.watchdog_running = true;
	{
		char host[64];

		addr_format(&a, host, sizeof(host));
		log_info("api_started",
			 "listen=%s threads=%u poll=epoll max_connections=%u per_ip_connections=%u "
			 "request_timeout_s=%u dashboard=http://%s%s%s:%d/ web=%s",
			 listen, threads, max_conns, per_ip, timeout_s,
			 a.family == AF_INET6 ? "[" : "", host, a.family == AF_INET6 ? "]" : "",
			 port, web_dir() ? web_dir() : "missing");
	}
	return 0;
}

void
api_role_stop(void)
{
	if (api_server.mhd == NULL)
		return;
	atomic_store(&api_server.stopping, true);
	if (api_server.watchdog_running)
		pthread_join(api_server.watchdog, NULL);
	api_server.watchdog_running = false;
	/* Joins the workers, so no thread still uses a connection closed below. */
	MHD_stop_daemon(api_server.mhd);
	api_server.mhd = NULL;
	pthread_mutex_lock(&api_server.lock);
	for (int i = 0; i < api_server.ndbs; i++)
		pstmt_close(api_server.dbs[i]);
	api_server.ndbs = 0;
	pthread_mutex_unlock(&api_server.lock);
	free(api_server.conninfo);
	api_server.conninfo = NULL;
	log_info("api_stopped", "%s", "");
}
