/*
 * relayctl sweep: marks targets due now under a sweep id (for cron and
 * operators) and, with --wait, follows the sweep's progress counters until
 * every marked target has been probed, one progress line per second, and
 * ends with the sweep's verdicts.
 */
#include "auditd/ctl/ctl.h"
#include "common/addr.h"
#include "common/config.h"
#include "common/util.h"
#include "db/db.h"
#include "db/targets.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
sweep_usage(FILE *out)
{
	fprintf(out,
		"usage: relayctl sweep [-c FILE] (--all | --cidr CIDR | --customer ID)\n"
		"                      [--priority 1|2|3] [--wait] [--timeout SECS]\n"
		"  --all            every target that is not excluded\n"
		"  --cidr CIDR      the targets inside CIDR\n"
		"  --customer ID    one customer's targets (external id or number)\n"
		"  --priority N     1 sweep (default), 2 DNSBL trigger, 3 re-test\n"
		"  --wait           follow progress until every target is probed\n"
		"  --timeout SECS   give up waiting after SECS (default 86400); exit 1\n");
	return out == stdout ? 0 : 2;
}

static void
sweep_verdict_print(void *arg, const char *verdict, int64_t n)
{
	int *first = arg;

	printf("%s%s %" PRId64, *first ? "" : ", ", verdict, n);
	*first = 0;
}

/* The closing line: how many of the sweep's targets ended with which verdict. */
static void
sweep_summary(PGconn *c, int64_t id)
{
	int first = 1;

	printf("sweep %" PRId64 " verdicts: ", id);
	if (sweeps_verdicts(c, id, sweep_verdict_print, &first) != 0 || first)
		printf("%s", first ? "none recorded" : "");
	printf("\n");
}

/* Follows sweep id until finished or timeout; 0 when done. */
static int
sweep_wait(PGconn *c, int64_t id, int64_t timeout_s)
{
	struct sweep_progress p;
	int64_t start = now_mono_ms(), last_done = -1;
	int64_t end = start + timeout_s * 1000;

	for (;;) {
		double secs = (double)(now_mono_ms() - start) / 1000.0;

		if (sweeps_progress(c, id, &p) != 0) {
			fprintf(stderr, "relayctl sweep: sweep %" PRId64 " is gone\n", id);
			return 1;
		}
		if (p.finished) {
			printf("sweep %" PRId64 ": done, %" PRId64 " targets in %.1fs (%.0f/s)\n", id,
			       p.total, p.age_s, p.age_s > 0 ? (double)p.total / p.age_s : 0.0);
			sweep_summary(c, id);
			return 0;
		}
		if (p.done != last_done) {
			double rate = p.age_s > 0 ? (double)p.done / p.age_s : 0.0;

			printf("sweep %" PRId64 ": %" PRId64 "/%" PRId64 " done (%.1f%%), %.0f/s", id,
			       p.done, p.total, p.total ? 100.0 * (double)p.done / (double)p.total : 100.0,
			       rate);
			if (rate > 0)
				printf(", about %.0fs left", (double)(p.total - p.done) / rate);
			printf("\n");
			fflush(stdout);
			last_done = p.done;
		}
		if (now_mono_ms() >= end) {
			fprintf(stderr, "relayctl sweep: sweep %" PRId64 " not done after %.0fs\n", id,
				secs);
			return 1;
		}
		usleep(1000 * 1000);
	}
}

int
ctl_sweep(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"all", no_argument, NULL, 'a'},        {"cidr", required_argument, NULL, 'r'},
		{"customer", required_argument, NULL, 'u'}, {"priority", required_argument, NULL, 'p'},
		{"wait", no_argument, NULL, 'w'},       {"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	struct sweep_scope s = {.priority = 1, .created_by = "relayctl"};
	const char *path = NULL, *why = NULL;
	int64_t prio = 1, timeout_s = 86400, total = 0, id;
	int opt, scopes = 0, wait = 0, rc = 1;
	struct config *cfg;
	PGconn *c;
	struct cidr cidr;

	if (ctl_help_wanted(argc, argv))
		return sweep_usage(stdout);

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'a': s.scope = "all"; scopes++; break;
		case 'r':
			if (cidr_parse(optarg, &cidr, &why) != 0) {
				fprintf(stderr, "relayctl sweep: --cidr %s: %s\n", optarg, why);
				return 2;
			}
			s.scope = "cidr";
			s.cidr = optarg;
			scopes++;
			break;
		case 'u': s.scope = "customer"; s.customer = optarg; scopes++; break;
		case 'p':
			if (parse_i64(optarg, 1, 3, &prio) != 0) {
				fprintf(stderr, "relayctl sweep: --priority must be 1, 2 or 3\n");
				return 2;
			}
			break;
		case 'w': wait = 1; break;
		case 't':
			if (parse_duration(optarg, &timeout_s) != 0 || timeout_s < 1) {
				fprintf(stderr, "relayctl sweep: --timeout %s: not a duration\n", optarg);
				return 2;
			}
			break;
		default: return sweep_usage(stderr);
		}
	}
	if (scopes != 1 || optind != argc)
		return sweep_usage(stderr);
	s.priority = (int)prio;
	cfg = conf_load(path);
	if (cfg == NULL)
		return 1;
	c = ctl_db_connect(cfg);
	if (c == NULL)
		goto out;
	id = targets_sweep(c, &s, &total, NULL, &why);
	if (id < 0) {
		fprintf(stderr, "relayctl sweep: %s\n", why);
		goto out;
	}
	printf("sweep %" PRId64 ": %" PRId64 " targets marked due (scope %s, priority %d)\n", id,
	       total, s.scope, s.priority);
	fflush(stdout);
	rc = wait ? sweep_wait(c, id, timeout_s) : 0;
out:
	db_close(c);
	config_free(cfg);
	return rc;
}
