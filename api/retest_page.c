/* GET /r/{token}: the customers' self-service re-test page (signed link). */
#include "handler.h"
#include "util.h"

#include <string.h>

void
h_retest_page(struct api_req *r)
{
	const char *page = "<!doctype html><title>Re-test</title><p>Not available yet.</p>\n";

	api_reply_text(r, 404, "text/html; charset=utf-8", xstrdup(page), strlen(page));
}
