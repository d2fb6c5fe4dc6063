/*
 * Fills a notify_mail for a case (see notify_case.h): evidence from this
 * round or the case, the sink's receipt, link, ISP contact, template dirs.
 */
#include "auditd/workflow/notify_case.h"
#include "auditd/workflow/notify.h"
#include "common/retest_link.h"
#include "common/template.h"
#include "common/util.h"
#include "db/evidence.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
notify_case_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

int
notify_case_render(PGconn *conn, const struct config *cfg, const struct db_case *c,
                   const struct db_customer *cu, enum wf_mail kind,
                   const struct notify_round *round, bool was_blocked, const char *key,
                   const char *locale, int64_t now, struct notify_case_out *out,
                   const char **why)
{
	const char *from = config_str(cfg, CFG_NOTIFY_FROM);
	struct notify_mail m = {0};
	struct db_proof proof = {0};
	struct tmpl_dirs dirs = {config_str(cfg, CFG_TEMPLATE_DIR), NULL};
	char opened[40], *shipped, *link, *mid;
	json_t *ev = NULL;
	int64_t probe_id;
	int rc;

	memset(out, 0, sizeof(*out));
	/* Evidence: this round's probe, else the one the case was opened on. */
	if (round == NULL && c->evidence)
		ev = json_loads(c->evidence, 0, NULL);
	probe_id = round ? round->probe_id : (int64_t)json_integer_value(json_object_get(ev, "probe_id"));
	if (probe_id > 0 && db_probe_proof(conn, probe_id, &proof) < 0) {
		json_decref(ev);
		*why = "the database did not answer";
		return -1;
	}
	shipped = tmpl_shipped_dir();
	dirs.shipped = shipped;
	m.dirs = &dirs;
	m.kind = kind;
	m.locale = locale ? locale : cu->locale;
	m.from = from;
	m.to = cu->email;
	m.customer_name = cu->name;
	m.case_id = (uint64_t)c->id;
	m.address = c->address;
	m.port = round ? round->port : (int)json_integer_value(json_object_get(ev, "port"));
	m.found_at = round ? round->found_at : json_string_value(json_object_get(ev, "found_at"));
	m.trick = round ? round->trick : json_string_value(json_object_get(ev, "trick"));
	m.verdict = round ? round->verdict : json_string_value(json_object_get(ev, "verdict"));
	m.transcript =
	    round ? round->transcript : json_string_value(json_object_get(ev, "transcript"));
	m.proof_token = proof.token;
	m.received_at = proof.received_at;
	m.received_from = proof.peer;
	notify_case_time(c->opened_at, opened, sizeof(opened));
	m.opened_at = opened;
	m.mode = c->mode;
	m.link_expires = now + config_int(cfg, CFG_RETEST_LINK_TTL);
	link = retest_link_url(config_str(cfg, CFG_SECRET), config_str(cfg, CFG_RETEST_URL),
	                       (uint64_t)c->id, m.link_expires);
	m.retest_link = link;
	m.retest_min_interval = config_int(cfg, CFG_RETEST_MIN_INTERVAL);
	m.was_blocked = was_blocked;
	m.isp_name = config_str(cfg, CFG_ISP_NAME);
	m.isp_email = config_str(cfg, CFG_ISP_EMAIL);
	m.isp_phone = config_str(cfg, CFG_ISP_PHONE);
	m.complaint_kept = strcmp(c->finding, "complaint") == 0 &&
	                   strcmp(config_str(cfg, CFG_COMPLAINT_UNBLOCK), "operator") == 0;
	mid = notify_message_id(key, from);
	m.message_id = mid;
	m.date = now;
	rc = notify_render(&m, &out->subject, &out->message, why);
	if (rc == 0) {
		char *subject = NULL;

		rc = notify_render_text(&m, &subject, &out->text, out->locale, why);
		free(subject);
	}
	if (rc < 0)
		notify_case_out_clear(out);
	else
		out->message_id = xstrdup(mid);
	free(mid);
	free(link);
	free(shipped);
	db_proof_clear(&proof);
	json_decref(ev);
	return rc;
}

void
notify_case_out_clear(struct notify_case_out *out)
{
	free(out->subject);
	free(out->message);
	free(out->text);
	free(out->message_id);
	memset(out, 0, sizeof(*out));
}
