/*
 * /r/{token}: the customer's self-service re-test link from the notification
 * mail. GET (and HEAD) only show a page in the customer's language: the
 * finding in plain words, the steps (fix, empty the queue, then ask) and a
 * button; only its POST requests a re-test (at most one per
 * retest_min_interval per case), so mail gateways that open links change
 * nothing. /r/{token}/status answers the page's polling with the result.
 * A forged or expired link gets a clear page and never a re-test. Requests
 * are limited per client address so the page cannot hammer the database.
 * Every sentence comes from templates/<locale>/words.txt (page.*, error.*),
 * so an operator rewords it without a rebuild.
 */
#include "api/handler.h"
#include "common/refusal.h"
#include "common/config.h"
#include "common/log.h"
#include "common/retest_link.h"
#include "common/template.h"
#include "common/util.h"
#include "db/pstmt.h"
#include "db/query.h"
#include "db/retests.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Per client address: at most PAGE_BURST requests per PAGE_WINDOW_MS. */
#define PAGE_CLIENTS 256
#define PAGE_BURST 60 /* the page polls its status every 5 s */
#define PAGE_WINDOW_MS 60000

/* The words of one locale, loaded per request: an operator's change shows at once. */
struct page_text {
	char locale[8];
	struct tmpl_words w;
	struct tmpl_dirs dirs;
};

static char *page_shipped_dir;
static pthread_once_t page_shipped_once = PTHREAD_ONCE_INIT;

static void
page_shipped_init(void)
{
	page_shipped_dir = tmpl_shipped_dir();
}

static void
page_text_load(struct page_text *t, const struct config *cfg, const char *want)
{
	const char *why = NULL;

	pthread_once(&page_shipped_once, page_shipped_init);
	t->dirs = (struct tmpl_dirs){config_str(cfg, CFG_TEMPLATE_DIR), page_shipped_dir};
	tmpl_locale(&t->dirs, want, t->locale);
	if (tmpl_words_load(&t->dirs, t->locale, &t->w, &why) < 0) {
		/* The page still says something: the keys, and the log says why. */
		log_warn("page_words_missing", "locale=%s reason=\"%s\"", t->locale, why);
		memset(&t->w, 0, sizeof(t->w));
	}
}

static void
page_text_free(struct page_text *t)
{
	tmpl_words_free(&t->w);
}

/* Without a case (forged link) the browser's first language choice decides. */
static void
page_text_browser(struct page_text *t, struct api_req *r)
{
	page_text_load(t, r->cfg, api_header(r, "Accept-Language"));
}

/* A sentence of the page with its {{variables}} filled; new string. */
static char *
page_say(const struct page_text *t, const char *key, const struct tmpl_var *vars, size_t nvars)
{
	const char *text = tmpl_word(&t->w, key), *why = NULL;
	char *out;

	if (text == NULL)
		return xstrdup(key);
	out = tmpl_expand(&t->dirs, t->locale, text, vars, nvars, &why);
	return out ? out : xstrdup(text);
}

static struct {
	pthread_mutex_t lock;
	struct {
		char ip[64];
		int64_t window_start;
		int count;
	} c[PAGE_CLIENTS];
} page_limit = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool
page_client_allowed(const char *ip)
{
	int64_t now = now_mono_ms();
	int slot = -1, oldest = 0;
	bool ok;

	pthread_mutex_lock(&page_limit.lock);
	for (int i = 0; i < PAGE_CLIENTS; i++) {
		if (strcmp(page_limit.c[i].ip, ip) == 0) {
			slot = i;
			break;
		}
		if (page_limit.c[i].window_start < page_limit.c[oldest].window_start)
			oldest = i;
	}
	if (slot < 0) {
		slot = oldest;
		str_fmt(page_limit.c[slot].ip, sizeof(page_limit.c[slot].ip), "%s", ip);
		page_limit.c[slot].window_start = now;
		page_limit.c[slot].count = 0;
	}
	if (now - page_limit.c[slot].window_start > PAGE_WINDOW_MS) {
		page_limit.c[slot].window_start = now;
		page_limit.c[slot].count = 0;
	}
	ok = ++page_limit.c[slot].count <= PAGE_BURST;
	pthread_mutex_unlock(&page_limit.lock);
	return ok;
}

/* HTML-escaped copy of s appended to the page. */
struct page {
	char *p;
	size_t len, cap;
};

static void
page_raw(struct page *pg, const char *s, size_t n)
{
	if (pg->len + n + 1 > pg->cap) {
		pg->cap = (pg->len + n + 1) * 2;
		pg->p = xrealloc(pg->p, pg->cap);
	}
	memcpy(pg->p + pg->len, s, n);
	pg->len += n;
	pg->p[pg->len] = '\0';
}

static void
page_esc(struct page *pg, const char *s)
{
	static const struct {
		char c;
		const char *ent;
	} ents[] = {{'<', "&lt;"}, {'>', "&gt;"}, {'&', "&amp;"}, {'"', "&quot;"}, {'\'', "&#39;"}};

	for (; s && *s; s++) {
		const char *ent = NULL;

		for (size_t i = 0; i < ARRAY_LEN(ents); i++) {
			if (ents[i].c == *s)
				ent = ents[i].ent;
		}
		if (ent)
			page_raw(pg, ent, strlen(ent));
		else
			page_raw(pg, s, 1);
	}
}

static void
page_str(struct page *pg, const char *s)
{
	page_raw(pg, s, strlen(s));
}

/* One paragraph: the sentence under key, filled and escaped. */
static void
page_para(struct page *pg, const char *cls, const struct page_text *t, const char *key,
	  const struct tmpl_var *vars, size_t nvars)
{
	char *text = page_say(t, key, vars, nvars);

	if (*text != '\0') {
		page_str(pg, "<p class=\"");
		page_str(pg, cls);
		page_str(pg, "\">");
		page_esc(pg, text);
		page_str(pg, "</p>\n");
	}
	free(text);
}

/* The ISP's name and contact, from the config. */
static void
page_contact(struct page *pg, const struct config *cfg, const struct page_text *t)
{
	const char *phone = config_str(cfg, CFG_ISP_PHONE);
	struct tmpl_var vars[] = {{"isp_name", config_str(cfg, CFG_ISP_NAME)},
				  {"isp_email", config_str(cfg, CFG_ISP_EMAIL)},
				  {"isp_phone", phone}};

	page_para(pg, "contact", t, *phone ? "contact_phone" : "contact", vars, ARRAY_LEN(vars));
	page_para(pg, "footer", t, "page.footer", vars, ARRAY_LEN(vars));
}

static void
page_start(struct page *pg, const struct page_text *t, bool refresh)
{
	char *title = page_say(t, "page.title", NULL, 0);

	page_str(pg, "<!doctype html>\n<html lang=\"");
	page_str(pg, t->locale);
	page_str(pg, "\"><head><meta charset=\"utf-8\">"
		     "<meta name=\"viewport\" content=\"width=device-width\">"
		     "<meta name=\"robots\" content=\"noindex\">");
	/* Without script the page reloads itself; a GET changes nothing. */
	if (refresh)
		page_str(pg, "<noscript><meta http-equiv=\"refresh\" content=\"15\"></noscript>");
	page_str(pg, "<title>");
	page_esc(pg, title);
	/* Style and script are files (api/web/): the CSP allows nothing inline. */
	page_str(pg, "</title><link rel=\"stylesheet\" href=\"/web/retest.css\">"
		     "<script src=\"/web/retest.js\" defer></script></head>\n<body><h1>");
	page_esc(pg, title);
	page_str(pg, "</h1>\n");
	free(title);
}

static void
page_send(struct api_req *r, struct page *pg, int status)
{
	page_str(pg, "</body></html>\n");
	api_reply_text(r, status, "text/html; charset=utf-8", pg->p, pg->len);
	pg->p = NULL;
}

/* A page with one sentence (an error) and the contact, in the browser's language. */
static void
page_error(struct api_req *r, int status, const char *key)
{
	struct page_text t;
	struct page pg = {0};

	page_text_browser(&t, r);
	page_start(&pg, &t, false);
	page_para(&pg, "error", &t, key, NULL, 0);
	page_contact(&pg, r->cfg, &t);
	page_send(r, &pg, status);
	page_text_free(&t);
}

/*
 * Where the case stands for the customer: one state, computed the same way
 * for the page and for its status endpoint.
 */
enum page_state {
	PS_READY,
	PS_TOO_SOON,
	PS_RUNNING,
	PS_CLEAN,
	PS_STILL_OPEN,
	PS_RESOLVED,
	PS_REFUSED
};
static const char *const page_state_names[] = {"ready",      "too_soon", "running", "clean",
					       "still_open", "resolved", "refused"};

struct page_case {
	json_t *k; /* the case row (api_retest_page_case) */
	struct page_text t;
	enum page_state state;
	int64_t wait;      /* seconds until the next re-test may be asked for */
	bool complaint_kept; /* a complaint block waits for an operator */
	const struct refusal *refused; /* why the prober would never run a re-test */
};

static void
page_case_free(struct page_case *pc)
{
	json_decref(pc->k);
	pc->k = NULL;
	page_text_free(&pc->t);
}

/* The words key of a state's message; NULL when the state needs none besides the button. */
static const char *
page_state_key(const struct page_case *pc)
{
	switch (pc->state) {
	case PS_READY: return NULL;
	case PS_TOO_SOON: return NULL;
	case PS_RUNNING: return "page.running";
	case PS_CLEAN: return pc->complaint_kept ? "page.clean_kept" : "page.clean";
	case PS_STILL_OPEN: return "page.still_open";
	case PS_RESOLVED: return "page.resolved";
	case PS_REFUSED: return "page.refused";
	}
	return NULL;
}

/* Why a re-test cannot run, in the page's language (English when words.txt has no word). */
static const char *
page_refusal(const struct page_case *pc)
{
	char key[64];
	const char *w;

	if (pc->refused == NULL)
		return "";
	str_fmt(key, sizeof(key), "refusal.%s", pc->refused->code);
	w = tmpl_word(&pc->t.w, key);
	return w != NULL ? w : pc->refused->text;
}

static char *
page_state_message(const struct page_case *pc)
{
	const char *key = page_state_key(pc);
	struct tmpl_var v[] = {{"reason", page_refusal(pc)}};

	return key ? page_say(&pc->t, key, v, ARRAY_LEN(v)) : NULL;
}

static bool
page_can_request(const struct page_case *pc)
{
	return pc->wait <= 0 && (pc->state == PS_READY || pc->state == PS_STILL_OPEN ||
				 (pc->state == PS_CLEAN && !pc->complaint_kept));
}

/*
 * Verifies the link and loads its case. On failure the reply (403, 410,
 * 429, 503) is already set and false is returned.
 */
static bool
page_case_load(struct api_req *r, struct page_case *pc)
{
	const char *token = r->path_param[0], *secret = config_str(r->cfg, CFG_SECRET);
	char interval[24], idbuf[24], why[256], *out = NULL;
	const char *params[2] = {idbuf, interval};
	uint64_t case_id = 0;
	int64_t expires = 0;
	enum retest_link_status ls = RETEST_LINK_MALFORMED;
	const char *state, *finding;
	json_t *rq;

	memset(pc, 0, sizeof(*pc));
	if (!page_client_allowed(r->client_ip)) {
		api_set_header(r, "Retry-After", "60");
		page_error(r, 429, "error.429");
		return false;
	}
	if (*secret != '\0' && strlen(token) <= RETEST_LINK_TOKEN_MAX)
		ls = retest_link_verify(secret, token, (int64_t)time(NULL), &case_id, &expires);
	if (ls == RETEST_LINK_EXPIRED) {
		page_error(r, 410, "error.410");
		return false;
	}
	if (ls != RETEST_LINK_OK) {
		page_error(r, 403, "error.403");
		return false;
	}
	str_fmt(idbuf, sizeof(idbuf), "%llu", (unsigned long long)case_id);
	str_fmt(interval, sizeof(interval), "%lld",
		(long long)config_int(r->cfg, CFG_RETEST_MIN_INTERVAL));
	if (pstmt_text(r->db, &api_retest_page_case, params, &out, why, sizeof(why)) != PSTMT_OK) {
		/* A signed link names a case we made; if it is gone, treat the link as void. */
		page_error(r, out ? 503 : 403, out ? "error.503" : "error.403");
		free(out);
		return false;
	}
	pc->k = json_loads(out, 0, NULL);
	free(out);
	if (pc->k == NULL) {
		page_error(r, 503, "error.503");
		return false;
	}
	page_text_load(&pc->t, r->cfg, json_string_value(json_object_get(pc->k, "locale")));
	pc->wait = json_integer_value(json_object_get(pc->k, "retest_wait"));
	state = json_string_value(json_object_get(pc->k, "state")) ?: "";
	finding = json_string_value(json_object_get(pc->k, "finding")) ?: "";
	pc->complaint_kept = strcmp(finding, "complaint") == 0 &&
			     strcmp(config_str(r->cfg, CFG_COMPLAINT_UNBLOCK), "operator") == 0;
	rq = json_object_get(pc->k, "request");
	pc->refused = refusal_of_retest(r->cfg, json_string_value(json_object_get(pc->k, "address")),
					json_is_true(json_object_get(pc->k, "excluded")));
	if (strcmp(state, "resolved") == 0 || strcmp(state, "closed") == 0)
		pc->state = PS_RESOLVED;
	else if (pc->refused != NULL)
		/* Never queued: the prober would not run it, and the page would wait for ever. */
		pc->state = PS_REFUSED;
	else if (json_is_object(rq) && !json_is_true(json_object_get(rq, "done")))
		pc->state = PS_RUNNING;
	else if (json_is_object(rq))
		pc->state = json_is_true(json_object_get(rq, "relay")) ? PS_STILL_OPEN : PS_CLEAN;
	else
		pc->state = pc->wait > 0 ? PS_TOO_SOON : PS_READY;
	return true;
}

static void
page_too_soon(struct page *pg, const struct page_case *pc, int64_t wait)
{
	char minutes[24];
	struct tmpl_var v[] = {{"minutes", minutes}};

	str_fmt(minutes, sizeof(minutes), "%lld", (long long)((wait + 59) / 60));
	page_para(pg, "too-soon", &pc->t, "page.too_soon", v, ARRAY_LEN(v));
}

/* GET and HEAD /r/{token}: the page; nothing changes. */
void
h_retest_page(struct api_req *r)
{
	struct page_case pc;
	struct page pg = {0};
	char key[64], *finding, *msg;
	bool poll;
	int code;

	if (!page_case_load(r, &pc))
		return;
	poll = pc.state == PS_RUNNING;
	page_start(&pg, &pc.t, poll);
	str_fmt(key, sizeof(key), "finding.%s",
		json_string_value(json_object_get(pc.k, "finding")) ?: "other");
	if (tmpl_word(&pc.t.w, key) == NULL)
		str_fmt(key, sizeof(key), "finding.other");
	finding = page_say(&pc.t, key, NULL, 0);
	{
		struct tmpl_var v[] = {
		    {"opened", json_string_value(json_object_get(pc.k, "opened_at"))},
		    {"address", json_string_value(json_object_get(pc.k, "address"))},
		    {"finding", finding}};

		page_para(&pg, "finding", &pc.t, "page.found", v, ARRAY_LEN(v));
	}
	free(finding);
	if (pc.state != PS_RESOLVED) {
		static const char *const steps[] = {"page.step_fix", "page.step_flush",
						    "page.step_ask"};
		char *s = page_say(&pc.t, "page.steps", NULL, 0);

		page_str(&pg, "<h2>");
		page_esc(&pg, s);
		page_str(&pg, "</h2>\n<ol>");
		free(s);
		for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
			s = page_say(&pc.t, steps[i], NULL, 0);
			page_str(&pg, "<li>");
			page_esc(&pg, s);
			page_str(&pg, "</li>\n");
			free(s);
		}
		page_str(&pg, "</ol>\n");
	}
	msg = page_state_message(&pc);
	page_str(&pg, "<p id=\"status\" class=\"");
	page_str(&pg, page_state_names[pc.state]);
	page_str(&pg, poll ? "\" data-poll=\"1\">" : "\">");
	page_esc(&pg, msg ?: "");
	page_str(&pg, "</p>\n");
	free(msg);
	if (pc.wait > 0 && pc.state != PS_RESOLVED && pc.state != PS_RUNNING)
		page_too_soon(&pg, &pc, pc.wait);
	/* The button is always in the page, hidden until a re-test may be asked for. */
	msg = page_say(&pc.t, "page.button", NULL, 0);
	page_str(&pg, "<form id=\"ask\" method=\"post\" action=\"");
	page_esc(&pg, r->path_param[0]);
	page_str(&pg, "\"");
	if (!page_can_request(&pc))
		page_str(&pg, " hidden");
	page_str(&pg, "><input type=\"hidden\" name=\"token\" value=\"");
	page_esc(&pg, r->path_param[0]);
	page_str(&pg, "\"><button type=\"submit\">");
	page_esc(&pg, msg);
	page_str(&pg, "</button></form>\n");
	free(msg);
	if (poll) {
		msg = page_say(&pc.t, "page.noscript", NULL, 0);
		page_str(&pg, "<noscript><p>");
		page_esc(&pg, msg);
		page_str(&pg, "</p></noscript>\n");
		free(msg);
	}
	page_contact(&pg, r->cfg, &pc.t);
	code = pc.state == PS_REFUSED ? 409 : 200;
	/* api/web/retest.js polls the status endpoint while a re-test runs. */
	page_case_free(&pc);
	page_send(r, &pg, code);
}

/* GET /r/{token}/status: what the page shows, as JSON, for its polling. */
void
h_retest_page_status(struct api_req *r)
{
	struct page_case pc;
	char *msg;

	if (!page_case_load(r, &pc))
		return;
	msg = page_state_message(&pc);
	api_reply_json(r, 200,
		       json_pack("{s:s, s:s?, s:b, s:I}", "state", page_state_names[pc.state],
				 "message", msg, "can_request", page_can_request(&pc), "retry_in",
				 (json_int_t)(pc.wait > 0 ? pc.wait : 0)));
	free(msg);
	page_case_free(&pc);
}

/*
 * POST /r/{token}: the page's button. Requests the re-test when the case's
 * limit allows and sends the browser back to the page (303), which then
 * follows the result.
 */
void
h_retest_page_post(struct api_req *r)
{
	struct page_case pc;
	struct page pg = {0};
	int64_t wait;
	int made;

	if (!page_case_load(r, &pc))
		return;
	page_start(&pg, &pc.t, false);
	if (!page_can_request(&pc)) {
		const char *key = page_state_key(&pc);

		if (pc.state == PS_RESOLVED || pc.state == PS_RUNNING || pc.state == PS_REFUSED ||
		    (pc.state == PS_CLEAN && pc.complaint_kept)) {
			struct tmpl_var v[] = {{"reason", page_refusal(&pc)}};

			page_para(&pg, page_state_names[pc.state], &pc.t, key, v, ARRAY_LEN(v));
			page_case_free(&pc);
			page_send(r, &pg, 409);
			return;
		}
		wait = pc.wait > 0 ? pc.wait : config_int(r->cfg, CFG_RETEST_MIN_INTERVAL);
		page_too_soon(&pg, &pc, wait);
		api_set_header(r, "Retry-After", "%lld", (long long)wait);
		page_case_free(&pc);
		page_send(r, &pg, 429);
		return;
	}
	{
		struct retest_ask ask = {
		    .case_id = (int64_t)json_integer_value(json_object_get(pc.k, "id")),
		    .min_interval_s = config_int(r->cfg, CFG_RETEST_MIN_INTERVAL),
		    .actor = "customer-link"};
		PGconn *conn = pstmt_conn(r->db);
		const char *whyr = NULL;
		int64_t rqid;

		made = conn != NULL ? retest_request(conn, &ask, &rqid, NULL, &whyr) : -1;
	}
	if (made > 0) {
		page_para(&pg, "requested", &pc.t, "page.requested", NULL, 0);
		api_set_header(r, "Location", "%s", r->path_param[0]);
		page_case_free(&pc);
		page_send(r, &pg, 303);
		return;
	}
	if (made == 0) { /* another click was first */
		wait = config_int(r->cfg, CFG_RETEST_MIN_INTERVAL);
		page_too_soon(&pg, &pc, wait);
		api_set_header(r, "Retry-After", "%lld", (long long)wait);
		page_case_free(&pc);
		page_send(r, &pg, 429);
		return;
	}
	page_para(&pg, "error", &pc.t, "error.503", NULL, 0);
	page_case_free(&pc);
	page_send(r, &pg, 503);
}
