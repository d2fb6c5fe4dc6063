/*
 * GET /r/{token}: the customer's self-service re-test link from the
 * notification mail. A small plain HTML page in the customer's language
 * says what was found, requests a re-test (at most one per
 * retest_min_interval per case) and, on reload, shows its result. A forged or
 * expired link gets a clear page and never a re-test. Requests are also
 * limited per client address so the page cannot be used to hammer the database.
 */
#include "api/handler.h"
#include "common/config.h"
#include "common/retest_link.h"
#include "common/util.h"
#include "db/pstmt.h"
#include "db/query.h"
#include "db/retests.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Per client address: at most PAGE_BURST requests per PAGE_WINDOW_MS. */
#define PAGE_CLIENTS 256
#define PAGE_BURST 20
#define PAGE_WINDOW_MS 60000

struct page_text {
	const char *locale;
	const char *title;
	const char *found; /* %s address, %s finding, %s date */
	const char *requested;
	const char *running;
	const char *clean;
	const char *still_open;
	const char *resolved;
	const char *too_soon; /* %lld minutes */
	const char *flush;
	const char *forged;
	const char *expired;
	const char *slow_down;
	const char *unavailable;
};

static const struct page_text page_texts[] = {
	{"en", "Mail server re-test",
	 "On %s we found a problem with the mail server at %s: %s.",
	 "A re-test has been requested. It usually takes a few minutes; this page refreshes by itself.",
	 "The re-test is running. This page refreshes by itself.",
	 "The re-test found no open relay. Thank you for fixing it; any block will be lifted shortly.",
	 "The re-test still found the problem. Please check the server's relay settings and flush "
	 "its queue, then reload this page to try again.",
	 "This case is resolved. Nothing more needs to be done.",
	 "A re-test was requested recently. You can request the next one in %lld minutes.",
	 "Before a re-test, flush the server's mail queue so no relayed spam is still sent.",
	 "This link is not valid. Please use the link from our mail exactly as it was sent.",
	 "This link has expired. Please contact us to request a re-test.",
	 "Too many requests from your address. Please wait a minute and reload.",
	 "The service is busy. Please try again in a few minutes."},
	{"de", "Erneute Prüfung des Mailservers",
	 "Am %s haben wir beim Mailserver %s ein Problem festgestellt: %s.",
	 "Eine erneute Prüfung wurde angefordert. Das dauert meist einige Minuten; diese Seite "
	 "aktualisiert sich selbst.",
	 "Die Prüfung läuft. Diese Seite aktualisiert sich selbst.",
	 "Die Prüfung hat kein offenes Relay mehr gefunden. Danke! Eine Sperre wird in Kürze "
	 "aufgehoben.",
	 "Die Prüfung hat das Problem erneut gefunden. Bitte prüfen Sie die Relay-Einstellungen, "
	 "leeren Sie die Warteschlange und laden Sie diese Seite dann neu.",
	 "Dieser Fall ist erledigt. Es ist nichts weiter zu tun.",
	 "Vor kurzem wurde bereits eine Prüfung angefordert. Die nächste ist in %lld Minuten möglich.",
	 "Leeren Sie vor der Prüfung die Warteschlange des Servers, damit kein weitergeleiteter Spam "
	 "mehr versendet wird.",
	 "Dieser Link ist ungültig. Bitte verwenden Sie den Link genau so, wie er in unserer Mail steht.",
	 "Dieser Link ist abgelaufen. Bitte kontaktieren Sie uns für eine erneute Prüfung.",
	 "Zu viele Anfragen von Ihrer Adresse. Bitte warten Sie eine Minute.",
	 "Der Dienst ist ausgelastet. Bitte versuchen Sie es in einigen Minuten erneut."},
	{"nl", "Mailserver opnieuw testen",
	 "Op %s vonden we een probleem met de mailserver op %s: %s.",
	 "Er is een nieuwe test aangevraagd. Dat duurt meestal enkele minuten; deze pagina ververst "
	 "vanzelf.",
	 "De test loopt. Deze pagina ververst vanzelf.",
	 "De test vond geen open relay meer. Dank u; een blokkade wordt binnenkort opgeheven.",
	 "De test vond het probleem opnieuw. Controleer de relay-instellingen, leeg de wachtrij en "
	 "laad deze pagina daarna opnieuw.",
	 "Deze zaak is opgelost. Er hoeft niets meer te gebeuren.",
	 "Er is kort geleden al een test aangevraagd. De volgende kan over %lld minuten.",
	 "Leeg voor een test de wachtrij van de server, zodat er geen doorgestuurde spam meer "
	 "verstuurd wordt.",
	 "Deze link is ongeldig. Gebruik de link precies zoals hij in onze mail staat.",
	 "Deze link is verlopen. Neem contact met ons op voor een nieuwe test.",
	 "Te veel verzoeken vanaf uw adres. Wacht een minuut en probeer het opnieuw.",
	 "De dienst is druk. Probeer het over enkele minuten opnieuw."},
};

static const struct page_text *
page_text_for(const char *locale)
{
	for (size_t i = 0; locale && i < ARRAY_LEN(page_texts); i++) {
		if (strncmp(locale, page_texts[i].locale, 2) == 0)
			return &page_texts[i];
	}
	return &page_texts[0];
}

/* Without a case (forged link) the browser's first language choice decides. */
static const struct page_text *
page_text_browser(struct api_req *r)
{
	const char *al = api_header(r, "Accept-Language");

	return page_text_for(al);
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

/* A paragraph from a format and values; the values are escaped, the format is ours. */
static void __attribute__((format(printf, 3, 4)))
page_para(struct page *pg, const char *cls, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	page_raw(pg, "<p class=\"", 10);
	page_raw(pg, cls, strlen(cls));
	page_raw(pg, "\">", 2);
	page_esc(pg, text);
	page_raw(pg, "</p>\n", 5);
}

static void
page_start(struct page *pg, const struct page_text *t, bool refresh)
{
	page_raw(pg, "<!doctype html>\n<html lang=\"", 28);
	page_raw(pg, t->locale, strlen(t->locale));
	page_raw(pg, "\"><head><meta charset=\"utf-8\">", 30);
	if (refresh)
		page_raw(pg, "<meta http-equiv=\"refresh\" content=\"15\">", 40);
	page_raw(pg, "<title>", 7);
	page_esc(pg, t->title);
	page_raw(pg, "</title></head>\n<body><h1>", 26);
	page_esc(pg, t->title);
	page_raw(pg, "</h1>\n", 6);
}

static void
page_send(struct api_req *r, struct page *pg, int status)
{
	page_raw(pg, "</body></html>\n", 15);
	api_reply_text(r, status, "text/html; charset=utf-8", pg->p, pg->len);
	pg->p = NULL;
}

/* A page with one message and no case details. */
static void
page_simple(struct api_req *r, const struct page_text *t, int status, const char *cls,
	    const char *msg)
{
	struct page pg = {0};

	page_start(&pg, t, false);
	page_para(&pg, cls, "%s", msg);
	page_send(r, &pg, status);
}

/* The latest request's status ("pending", "running", "done") and whether it found a relay. */
static bool
page_request_status(struct api_req *r, const char *id, char status[16], bool *relay)
{
	const char *params[] = {id};
	char why[256], *out = NULL;
	json_t *doc;

	if (pstmt_text(r->db, &api_retest_get, params, &out, why, sizeof(why)) != PSTMT_OK)
		return false;
	doc = json_loads(out, 0, NULL);
	free(out);
	str_fmt(status, 16, "%s", json_string_value(json_object_get(doc, "status")) ?: "pending");
	*relay = json_is_true(json_object_get(doc, "relay_confirmed"));
	json_decref(doc);
	return true;
}

void
h_retest_page(struct api_req *r)
{
	const char *token = r->path_param[0], *secret = config_str(r->cfg, CFG_SECRET);
	char interval[24], idbuf[24], why[256], *out = NULL, status[16] = "";
	const char *params[2] = {idbuf, interval};
	uint64_t case_id = 0;
	int64_t expires = 0;
	enum retest_link_status ls = RETEST_LINK_MALFORMED;
	const struct page_text *t;
	struct page pg = {0};
	json_t *k;
	bool relay = false, have_request = false;

	if (!page_client_allowed(r->client_ip)) {
		api_set_header(r, "Retry-After", "60");
		page_simple(r, page_text_browser(r), 429, "error", page_text_browser(r)->slow_down);
		return;
	}
	if (*secret != '\0' && strlen(token) <= RETEST_LINK_TOKEN_MAX)
		ls = retest_link_verify(secret, token, (int64_t)time(NULL), &case_id, &expires);
	if (ls == RETEST_LINK_EXPIRED) {
		page_simple(r, page_text_browser(r), 410, "error", page_text_browser(r)->expired);
		return;
	}
	if (ls != RETEST_LINK_OK) {
		page_simple(r, page_text_browser(r), 403, "error", page_text_browser(r)->forged);
		return;
	}
	str_fmt(idbuf, sizeof(idbuf), "%llu", (unsigned long long)case_id);
	str_fmt(interval, sizeof(interval), "%lld",
		(long long)config_int(r->cfg, CFG_RETEST_MIN_INTERVAL));
	if (pstmt_text(r->db, &api_retest_page_case, params, &out, why, sizeof(why)) != PSTMT_OK) {
		/* A signed link names a case we made; if it is gone, treat the link as void. */
		page_simple(r, page_text_browser(r), out ? 503 : 403, "error",
			    page_text_browser(r)->forged);
		free(out);
		return;
	}
	k = json_loads(out, 0, NULL);
	free(out);
	t = page_text_for(json_string_value(json_object_get(k, "locale")));
	if (json_is_integer(json_object_get(k, "latest_request"))) {
		char rid[24];

		str_fmt(rid, sizeof(rid), "%lld",
			(long long)json_integer_value(json_object_get(k, "latest_request")));
		have_request = page_request_status(r, rid, status, &relay);
	}
	{
		const char *state = json_string_value(json_object_get(k, "state"));
		int64_t wait = json_integer_value(json_object_get(k, "retest_wait"));
		enum { SHOW_RESOLVED, SHOW_RUNNING, SHOW_TOO_SOON, SHOW_REQUESTED, SHOW_BUSY } show;
		int code = 200;

		if (strcmp(state, "resolved") == 0 || strcmp(state, "closed") == 0) {
			show = SHOW_RESOLVED;
		} else if (have_request && strcmp(status, "done") != 0) {
			show = SHOW_RUNNING;
		} else if (wait > 0) {
			show = SHOW_TOO_SOON;
		} else {
			struct retest_ask ask = {
			    .case_id = (int64_t)case_id,
			    .min_interval_s = config_int(r->cfg, CFG_RETEST_MIN_INTERVAL),
			    .actor = "customer-link"};
			PGconn *conn = pstmt_conn(r->db);
			const char *whyr = NULL;
			int64_t rqid;
			int s = conn != NULL ? retest_request(conn, &ask, &rqid, NULL, &whyr) : -1;

			show = s > 0 ? SHOW_REQUESTED : s == 0 ? SHOW_TOO_SOON : SHOW_BUSY;
			if (s == 0)
				wait = config_int(r->cfg, CFG_RETEST_MIN_INTERVAL);
		}
		page_start(&pg, t, show == SHOW_RUNNING || show == SHOW_REQUESTED);
		page_para(&pg, "finding", t->found, json_string_value(json_object_get(k, "opened_at")),
			  json_string_value(json_object_get(k, "address")),
			  json_string_value(json_object_get(k, "finding")));
		switch (show) {
		case SHOW_RESOLVED:
			page_para(&pg, "resolved", "%s", t->resolved);
			break;
		case SHOW_RUNNING:
			page_para(&pg, "running", "%s", t->running);
			break;
		case SHOW_TOO_SOON:
			if (have_request)
				page_para(&pg, relay ? "still-open" : "clean", "%s",
					  relay ? t->still_open : t->clean);
			page_para(&pg, "too-soon", t->too_soon, (long long)((wait + 59) / 60));
			api_set_header(r, "Retry-After", "%lld", (long long)wait);
			code = 429;
			break;
		case SHOW_REQUESTED:
			page_para(&pg, "requested", "%s", t->requested);
			page_para(&pg, "flush", "%s", t->flush);
			break;
		case SHOW_BUSY:
			page_para(&pg, "error", "%s", t->unavailable);
			code = 503;
			break;
		}
		json_decref(k);
		page_send(r, &pg, code);
	}
}
