/* /v1/probes: list newest first; one probe with its evidence, attempts and receipts. */
#include "api/handler.h"
#include "db/query.h"

void
h_probes_list(struct api_req *r)
{
	char limit[16], cidr[64], addr[64];
	const char *params[5];
	const char *target = api_query(r, "target");

	if (!api_param_choice(r, "verdict", api_verdicts(), &params[0]) ||
	    (target != NULL && !api_param_addr(r, target, addr)) ||
	    !api_param_cidr(r, "cidr", &params[2], cidr) || !api_page_params(r, limit, &params[3]))
		return;
	params[1] = target ? addr : NULL;
	params[4] = limit;
	api_reply_query(r, &api_probes_list, params, 200, "probes");
}

void
h_probe_get(struct api_req *r)
{
	const char *params[] = {r->path_param[0]};

	if (api_param_id(r, r->path_param[0], "probe"))
		api_reply_query(r, &api_probe_get, params, 200, "probe");
}
