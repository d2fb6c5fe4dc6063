/*
 * /r/{token}: the customer's self-service re-test link from the notification
 * mail. GET (and HEAD) only show a page in the customer's language: the
 * finding in plain words, the steps (fix, empty the queue, then ask) and a
 * button; only its POST requests a re-test (at most one per
 * retest_min_interval per case), so mail gateways that open links change
 * nothing. /r/{token}/status answers the page's polling with the result.
 * A forged or expired link gets a clear page and never a re-test. Requests
 * are limited per client address so the page cannot hammer the database.
 */
#include "api/handler.h"
#include "common/config.h"
#include "common/retest_link.h"
#include "common/util.h"
#include "db/pstmt.h"
#include "db/query.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Per client address: at most PAGE_BURST requests per PAGE_WINDOW_MS. */
#define PAGE_CLIENTS 256
#define PAGE_BURST 60 /* the page polls its status every 5 s */
#define PAGE_WINDOW_MS 60000

struct page_text {
	const char *locale;
	const char *title;
	const char *found;       /* %s date, %s address, %s finding in words */
	const char *finding[5];  /* relay_confirmed, accepted_not_relayed, backscatter, complaint, other */
	const char *steps_title;
	const char *step_fix;
	const char *step_flush;
	const char *step_ask;
	const char *button;
	const char *requested;
	const char *running;
	const char *clean;
	const char *still_open;
	const char *resolved;
	const char *too_soon;    /* %lld minutes */
	const char *contact;     /* %s ISP name, %s address */
	const char *phone;       /* %s number */
	const char *noscript;
	const char *forged;
	const char *expired;
	const char *slow_down;
	const char *unavailable;
};

/* The finding column of a case, in the order of page_text.finding[]. */
static const char *const page_findings[] = {"relay_confirmed", "accepted_not_relayed",
					    "backscatter", "complaint"};

static const struct page_text page_texts[] = {
	{"en", "Re-test of your mail server",
	 "On %s our test of your mail server at %s found that it %s.",
	 {"is an open relay: it passed a test message from outside your network on to an outside "
	  "address, as spammers would use it",
	  "accepts mail from outside your network for outside addresses, which spammers can abuse",
	  "sends bounces for mail to unknown users to forged senders (backscatter)",
	  "was named in a complaint about spam sent from this address", "has a problem"},
	 "What to do",
	 "Fix the server's relay settings: it may pass on mail for other domains only for your "
	 "own networks and for users who log in. The mail we sent you shows how for common mail "
	 "servers.",
	 "Empty the server's mail queue, so no spam that is still waiting goes out once the block "
	 "is lifted.",
	 "Then ask for a re-test with the button below. It takes a few minutes; this page shows "
	 "the result.",
	 "Test my mail server again",
	 "A re-test has been requested. This page shows the result when it is there.",
	 "The re-test is running. This page shows the result when it is there.",
	 "The re-test found no open relay. Thank you for fixing it; any block will be lifted shortly.",
	 "The re-test still found the problem. Please check the relay settings again and empty the "
	 "queue, then ask for another re-test.",
	 "This case is resolved. Nothing more needs to be done.",
	 "You can ask for the next re-test in %lld minutes.",
	 "Questions? The abuse desk of %s: %s", "Phone: %s",
	 "Reload this page to see the result.",
	 "This link is not valid. Please use the link from our mail exactly as it was sent.",
	 "This link has expired. Please contact us to ask for a re-test.",
	 "Too many requests from your address. Please wait a minute and reload.",
	 "The service is busy. Please try again in a few minutes."},
	{"de", "Erneuter Test Ihres Mailservers",
	 "Am %s hat unser Test Ihres Mailservers %s ergeben, dass er %s.",
	 {"ein offenes Relay ist: Er hat eine Testnachricht von außerhalb Ihres Netzes an eine "
	  "fremde Adresse weitergeleitet, so wie Spammer ihn nutzen würden",
	  "Mail von außerhalb Ihres Netzes für fremde Adressen annimmt, was Spammer missbrauchen "
	  "können",
	  "für Mail an unbekannte Empfänger Fehlermeldungen an gefälschte Absender schickt "
	  "(Backscatter)",
	  "in einer Beschwerde über Spam von dieser Adresse genannt wurde", "ein Problem hat"},
	 "Was zu tun ist",
	 "Korrigieren Sie die Relay-Einstellungen des Servers: Er darf Mail an fremde Domains nur "
	 "für Ihre eigenen Netze und für angemeldete Benutzer weiterleiten. Unsere Mail zeigt, wie "
	 "das bei gängigen Mailservern geht.",
	 "Leeren Sie die Warteschlange des Servers, damit kein wartender Spam versandt wird, "
	 "sobald die Sperre aufgehoben ist.",
	 "Fordern Sie dann mit der Schaltfläche unten einen erneuten Test an. Er dauert einige "
	 "Minuten; diese Seite zeigt das Ergebnis.",
	 "Meinen Mailserver erneut testen",
	 "Ein erneuter Test wurde angefordert. Diese Seite zeigt das Ergebnis, sobald es vorliegt.",
	 "Der Test läuft. Diese Seite zeigt das Ergebnis, sobald es vorliegt.",
	 "Der Test hat kein offenes Relay mehr gefunden. Danke! Eine Sperre wird in Kürze "
	 "aufgehoben.",
	 "Der Test hat das Problem erneut gefunden. Bitte prüfen Sie die Relay-Einstellungen noch "
	 "einmal, leeren Sie die Warteschlange und fordern Sie dann einen neuen Test an.",
	 "Dieser Fall ist erledigt. Es ist nichts weiter zu tun.",
	 "Der nächste Test kann in %lld Minuten angefordert werden.",
	 "Fragen? Die Abuse-Abteilung von %s: %s", "Telefon: %s",
	 "Laden Sie diese Seite neu, um das Ergebnis zu sehen.",
	 "Dieser Link ist ungültig. Bitte verwenden Sie den Link genau so, wie er in unserer Mail "
	 "steht.",
	 "Dieser Link ist abgelaufen. Bitte kontaktieren Sie uns für einen erneuten Test.",
	 "Zu viele Anfragen von Ihrer Adresse. Bitte warten Sie eine Minute und laden Sie neu.",
	 "Der Dienst ist ausgelastet. Bitte versuchen Sie es in einigen Minuten erneut."},
	{"nl", "Nieuwe test van uw mailserver",
	 "Op %s vond onze test van uw mailserver op %s dat hij %s.",
	 {"een open relay is: hij stuurde een testbericht van buiten uw netwerk door naar een "
	  "extern adres, zoals spammers hem zouden gebruiken",
	  "mail van buiten uw netwerk voor externe adressen aanneemt, wat spammers kunnen "
	  "misbruiken",
	  "voor mail aan onbekende gebruikers foutmeldingen naar vervalste afzenders stuurt "
	  "(backscatter)",
	  "genoemd werd in een klacht over spam vanaf dit adres", "een probleem heeft"},
	 "Wat u moet doen",
	 "Herstel de relay-instellingen van de server: hij mag mail voor andere domeinen alleen "
	 "doorsturen voor uw eigen netwerken en voor gebruikers die inloggen. Onze mail laat zien "
	 "hoe dat gaat bij veelgebruikte mailservers.",
	 "Maak de wachtrij van de server leeg, zodat er geen wachtende spam verstuurd wordt zodra "
	 "de blokkade is opgeheven.",
	 "Vraag daarna met de knop hieronder een nieuwe test aan. Die duurt enkele minuten; deze "
	 "pagina toont de uitslag.",
	 "Test mijn mailserver opnieuw",
	 "Er is een nieuwe test aangevraagd. Deze pagina toont de uitslag zodra die er is.",
	 "De test loopt. Deze pagina toont de uitslag zodra die er is.",
	 "De test vond geen open relay meer. Dank u; een blokkade wordt binnenkort opgeheven.",
	 "De test vond het probleem opnieuw. Controleer de relay-instellingen nog eens, maak de "
	 "wachtrij leeg en vraag daarna een nieuwe test aan.",
	 "Deze zaak is opgelost. Er hoeft niets meer te gebeuren.",
	 "U kunt over %lld minuten een volgende test aanvragen.",
	 "Vragen? De abuse-afdeling van %s: %s", "Telefoon: %s",
	 "Laad deze pagina opnieuw om de uitslag te zien.",
	 "Deze link is ongeldig. Gebruik de link precies zoals hij in onze mail staat.",
	 "Deze link is verlopen. Neem contact met ons op voor een nieuwe test.",
	 "Te veel verzoeken vanaf uw adres. Wacht een minuut en laad de pagina opnieuw.",
	 "De dienst is druk. Probeer het over enkele minuten opnieuw."},
	{"fr", "Nouveau test de votre serveur de messagerie",
	 "Le %s, notre test de votre serveur de messagerie %s a constaté qu'il %s.",
	 {"est un relais ouvert : il a transmis un message de test venant de l'extérieur de votre "
	  "réseau à une adresse extérieure, comme le feraient des spammeurs",
	  "accepte du courrier venant de l'extérieur de votre réseau pour des adresses "
	  "extérieures, ce que des spammeurs peuvent exploiter",
	  "envoie des avis de non-remise pour des destinataires inconnus à des expéditeurs "
	  "falsifiés (backscatter)",
	  "a été cité dans une plainte pour spam envoyé depuis cette adresse", "a un problème"},
	 "Que faire",
	 "Corrigez les réglages de relais du serveur : il ne doit transmettre le courrier pour "
	 "d'autres domaines que pour vos propres réseaux et pour les utilisateurs authentifiés. "
	 "Notre message explique comment faire sur les serveurs courants.",
	 "Videz la file d'attente du serveur, afin qu'aucun spam en attente ne parte dès la levée "
	 "du blocage.",
	 "Demandez ensuite un nouveau test avec le bouton ci-dessous. Il dure quelques minutes ; "
	 "cette page en affiche le résultat.",
	 "Tester de nouveau mon serveur",
	 "Un nouveau test a été demandé. Cette page en affichera le résultat dès qu'il sera connu.",
	 "Le test est en cours. Cette page en affichera le résultat dès qu'il sera connu.",
	 "Le test n'a plus trouvé de relais ouvert. Merci ; un éventuel blocage sera levé sous peu.",
	 "Le test a de nouveau trouvé le problème. Vérifiez encore les réglages de relais, videz "
	 "la file d'attente, puis demandez un nouveau test.",
	 "Ce dossier est clos. Vous n'avez plus rien à faire.",
	 "Vous pourrez demander le prochain test dans %lld minutes.",
	 "Des questions ? Le service abuse de %s : %s", "Téléphone : %s",
	 "Rechargez cette page pour voir le résultat.",
	 "Ce lien n'est pas valide. Utilisez le lien de notre message tel qu'il a été envoyé.",
	 "Ce lien a expiré. Contactez-nous pour demander un nouveau test.",
	 "Trop de requêtes depuis votre adresse. Attendez une minute puis rechargez la page.",
	 "Le service est surchargé. Réessayez dans quelques minutes."},
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
page_str(struct page *pg, const char *s)
{
	page_raw(pg, s, strlen(s));
}

/* The ISP's name and contact, from the config. */
static void
page_contact(struct page *pg, const struct config *cfg, const struct page_text *t)
{
	const char *phone = config_str(cfg, CFG_ISP_PHONE);

	page_para(pg, "contact", t->contact, config_str(cfg, CFG_ISP_NAME),
		  config_str(cfg, CFG_ISP_EMAIL));
	if (*phone != '\0')
		page_para(pg, "contact", t->phone, phone);
}

static void
page_start(struct page *pg, const struct page_text *t, bool refresh)
{
	page_raw(pg, "<!doctype html>\n<html lang=\"", 28);
	page_raw(pg, t->locale, strlen(t->locale));
	page_raw(pg, "\"><head><meta charset=\"utf-8\">", 30);
	page_str(pg, "<meta name=\"viewport\" content=\"width=device-width\">"
		     "<meta name=\"robots\" content=\"noindex\">");
	/* Without script the page reloads itself; a GET changes nothing. */
	if (refresh)
		page_str(pg, "<noscript><meta http-equiv=\"refresh\" content=\"15\"></noscript>");
	page_str(pg, "<title>");
	page_esc(pg, t->title);
	page_str(pg, "</title><style>body{font-family:sans-serif;max-width:40em;margin:2em auto;"
		     "padding:0 1em;line-height:1.4}.still_open,.error{color:#a00}"
		     ".clean,.resolved{color:#070}button{font-size:1.1em;padding:.4em 1em}"
		     "</style></head>\n<body><h1>");
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
	page_contact(&pg, r->cfg, t);
	page_send(r, &pg, status);
}

/*
 * Where the case stands for the customer: one state, computed the same way
 * for the page and for its status endpoint.
 */
enum page_state { PS_READY, PS_TOO_SOON, PS_RUNNING, PS_CLEAN, PS_STILL_OPEN, PS_RESOLVED };
static const char *const page_state_names[] = {"ready",   "too_soon",   "running",
					       "clean",   "still_open", "resolved"};

struct page_case {
	json_t *k;              /* the case row (api_retest_page_case) */
	const struct page_text *t;
	enum page_state state;
	int64_t wait;           /* seconds until the next re-test may be asked for */
};

static void
page_case_free(struct page_case *pc)
{
	json_decref(pc->k);
	pc->k = NULL;
}

/* The message for a state; NULL when the state needs none besides the button. */
static const char *
page_state_message(const struct page_text *t, enum page_state st)
{
	switch (st) {
	case PS_READY: return NULL;
	case PS_TOO_SOON: return NULL;
	case PS_RUNNING: return t->running;
	case PS_CLEAN: return t->clean;
	case PS_STILL_OPEN: return t->still_open;
	case PS_RESOLVED: return t->resolved;
	}
	return NULL;
}

static bool
page_can_request(const struct page_case *pc)
{
	return pc->wait <= 0 && (pc->state == PS_READY || pc->state == PS_STILL_OPEN ||
				 pc->state == PS_CLEAN);
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
	const char *state;
	json_t *rq;

	memset(pc, 0, sizeof(*pc));
	if (!page_client_allowed(r->client_ip)) {
		api_set_header(r, "Retry-After", "60");
		page_simple(r, page_text_browser(r), 429, "error", page_text_browser(r)->slow_down);
		return false;
	}
	if (*secret != '\0' && strlen(token) <= RETEST_LINK_TOKEN_MAX)
		ls = retest_link_verify(secret, token, (int64_t)time(NULL), &case_id, &expires);
	if (ls == RETEST_LINK_EXPIRED) {
		page_simple(r, page_text_browser(r), 410, "error", page_text_browser(r)->expired);
		return false;
	}
	if (ls != RETEST_LINK_OK) {
		page_simple(r, page_text_browser(r), 403, "error", page_text_browser(r)->forged);
		return false;
	}
	str_fmt(idbuf, sizeof(idbuf), "%llu", (unsigned long long)case_id);
	str_fmt(interval, sizeof(interval), "%lld",
		(long long)config_int(r->cfg, CFG_RETEST_MIN_INTERVAL));
	if (pstmt_text(r->db, &api_retest_page_case, params, &out, why, sizeof(why)) != PSTMT_OK) {
		/* A signed link names a case we made; if it is gone, treat the link as void. */
		page_simple(r, page_text_browser(r), out ? 503 : 403, "error",
			    out ? page_text_browser(r)->unavailable : page_text_browser(r)->forged);
		free(out);
		return false;
	}
	pc->k = json_loads(out, 0, NULL);
	free(out);
	if (pc->k == NULL) {
		page_simple(r, page_text_browser(r), 503, "error", page_text_browser(r)->unavailable);
		return false;
	}
	pc->t = page_text_for(json_string_value(json_object_get(pc->k, "locale")));
	pc->wait = json_integer_value(json_object_get(pc->k, "retest_wait"));
	state = json_string_value(json_object_get(pc->k, "state")) ?: "";
	rq = json_object_get(pc->k, "request");
	if (strcmp(state, "resolved") == 0 || strcmp(state, "closed") == 0)
		pc->state = PS_RESOLVED;
	else if (json_is_object(rq) && !json_is_true(json_object_get(rq, "done")))
		pc->state = PS_RUNNING;
	else if (json_is_object(rq))
		pc->state = json_is_true(json_object_get(rq, "relay")) ? PS_STILL_OPEN : PS_CLEAN;
	else
		pc->state = pc->wait > 0 ? PS_TOO_SOON : PS_READY;
	return true;
}

static const char *
page_finding_words(const struct page_text *t, const char *finding)
{
	for (size_t i = 0; finding != NULL && i < ARRAY_LEN(page_findings); i++) {
		if (strcmp(finding, page_findings[i]) == 0)
			return t->finding[i];
	}
	return t->finding[ARRAY_LEN(page_findings)];
}

/* GET and HEAD /r/{token}: the page; nothing changes. */
void
h_retest_page(struct api_req *r)
{
	struct page_case pc;
	struct page pg = {0};
	const struct page_text *t;
	const char *msg;
	bool poll;

	if (!page_case_load(r, &pc))
		return;
	t = pc.t;
	poll = pc.state == PS_RUNNING;
	page_start(&pg, t, poll);
	page_para(&pg, "finding", t->found,
		  json_string_value(json_object_get(pc.k, "opened_at")) ?: "",
		  json_string_value(json_object_get(pc.k, "address")) ?: "",
		  page_finding_words(t, json_string_value(json_object_get(pc.k, "finding"))));
	if (pc.state != PS_RESOLVED) {
		page_str(&pg, "<h2>");
		page_esc(&pg, t->steps_title);
		page_str(&pg, "</h2>\n<ol><li>");
		page_esc(&pg, t->step_fix);
		page_str(&pg, "</li>\n<li>");
		page_esc(&pg, t->step_flush);
		page_str(&pg, "</li>\n<li>");
		page_esc(&pg, t->step_ask);
		page_str(&pg, "</li></ol>\n");
	}
	msg = page_state_message(t, pc.state);
	page_str(&pg, "<p id=\"status\" class=\"");
	page_str(&pg, page_state_names[pc.state]);
	page_str(&pg, poll ? "\" data-poll=\"1\">" : "\">");
	page_esc(&pg, msg ?: "");
	page_str(&pg, "</p>\n");
	if (pc.wait > 0 && pc.state != PS_RESOLVED && pc.state != PS_RUNNING)
		page_para(&pg, "too-soon", t->too_soon, (long long)((pc.wait + 59) / 60));
	/* The button is always in the page, hidden until a re-test may be asked for. */
	page_str(&pg, "<form id=\"ask\" method=\"post\" action=\"");
	page_esc(&pg, r->path_param[0]);
	page_str(&pg, "\"");
	if (!page_can_request(&pc))
		page_str(&pg, " hidden");
	page_str(&pg, "><input type=\"hidden\" name=\"token\" value=\"");
	page_esc(&pg, r->path_param[0]);
	page_str(&pg, "\"><button type=\"submit\">");
	page_esc(&pg, t->button);
	page_str(&pg, "</button></form>\n");
	if (poll) {
		page_str(&pg, "<noscript><p>");
		page_esc(&pg, t->noscript);
		page_str(&pg, "</p></noscript>\n");
	}
	page_contact(&pg, r->cfg, t);
	/* Polls the status endpoint while a re-test runs; no login, no library. */
	page_str(&pg,
		 "<script>(function(){var s=document.getElementById('status'),"
		 "f=document.getElementById('ask');if(!s||s.getAttribute('data-poll')!=='1')return;"
		 "function tick(){fetch(location.pathname.replace(/\\/$/,'')+'/status',"
		 "{cache:'no-store'}).then(function(r){return r.json();}).then(function(j){"
		 "s.textContent=j.message||'';s.className=j.state;if(j.can_request&&f)f.hidden=false;"
		 "if(j.state==='running')setTimeout(tick,5000);}).catch(function(){"
		 "setTimeout(tick,15000);});}setTimeout(tick,5000);})();</script>\n");
	page_case_free(&pc);
	page_send(r, &pg, 200);
}

/* GET /r/{token}/status: what the page shows, as JSON, for its polling. */
void
h_retest_page_status(struct api_req *r)
{
	struct page_case pc;
	const char *msg;

	if (!page_case_load(r, &pc))
		return;
	msg = page_state_message(pc.t, pc.state);
	api_reply_json(r, 200,
		       json_pack("{s:s, s:s?, s:b, s:I}", "state", page_state_names[pc.state],
				 "message", msg, "can_request", page_can_request(&pc), "retry_in",
				 (json_int_t)(pc.wait > 0 ? pc.wait : 0)));
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
	char interval[24], idbuf[24], why[256], *rq = NULL;
	const char *params[2] = {idbuf, interval};
	struct page_case pc;
	struct page pg = {0};
	int s;

	if (!page_case_load(r, &pc))
		return;
	if (!page_can_request(&pc)) {
		int64_t wait = pc.wait > 0 ? pc.wait : config_int(r->cfg, CFG_RETEST_MIN_INTERVAL);

		page_start(&pg, pc.t, false);
		if (pc.state == PS_RESOLVED || pc.state == PS_RUNNING) {
			page_para(&pg, page_state_names[pc.state], "%s",
				  page_state_message(pc.t, pc.state));
			page_case_free(&pc);
			page_send(r, &pg, 409);
			return;
		}
		page_para(&pg, "too-soon", pc.t->too_soon, (long long)((wait + 59) / 60));
		api_set_header(r, "Retry-After", "%lld", (long long)wait);
		page_case_free(&pc);
		page_send(r, &pg, 429);
		return;
	}
	str_fmt(idbuf, sizeof(idbuf), "%lld", (long long)json_integer_value(json_object_get(pc.k, "id")));
	str_fmt(interval, sizeof(interval), "%lld",
		(long long)config_int(r->cfg, CFG_RETEST_MIN_INTERVAL));
	s = pstmt_text(r->db, &api_retest_page_request, params, &rq, why, sizeof(why));
	free(rq);
	page_start(&pg, pc.t, false);
	if (s == PSTMT_OK) {
		char loc[600];

		page_para(&pg, "requested", "%s", pc.t->requested);
		str_fmt(loc, sizeof(loc), "%s", r->path_param[0]);
		api_set_header(r, "Location", "%s", loc);
		page_case_free(&pc);
		page_send(r, &pg, 303);
		return;
	}
	if (s == PSTMT_NOT_FOUND) { /* another click was first */
		int64_t wait = config_int(r->cfg, CFG_RETEST_MIN_INTERVAL);

		page_para(&pg, "too-soon", pc.t->too_soon, (long long)((wait + 59) / 60));
		api_set_header(r, "Retry-After", "%lld", (long long)wait);
		page_case_free(&pc);
		page_send(r, &pg, 429);
		return;
	}
	page_para(&pg, "error", "%s", pc.t->unavailable);
	page_case_free(&pc);
	page_send(r, &pg, 503);
}
