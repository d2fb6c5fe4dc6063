/*
 * The abuse desk's dashboard: static files from api/web/ (the build tree) or
 * PREFIX/share/relayaudit/web (an install), and Chart.js from Debian's
 * libjs-chart.js under /usr/share/javascript, so no page ever loads a script
 * from another host. File names are one segment of a fixed alphabet.
 */
#include "api/handler.h"
#include "common/paths.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Debian's convention for web applications: packaged libraries live here. */
#define WEB_DEBIAN_JS "/usr/share/javascript"
/* The largest file served; chart.min.js is about 200 KB, chart.js 550 KB. */
#define WEB_MAX_FILE (4 * 1024 * 1024)

static const struct {
	const char *ext;
	const char *type;
} web_types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".png", "image/png"},
	{".svg", "image/svg+xml"},
};

static char *web_dir_found;

const char *
web_dir(void)
{
	static const char *const rels[] = {"api/web", "share/relayaudit/web", NULL};

	if (web_dir_found == NULL) {
		char *root = paths_exe_root();

		web_dir_found = paths_find_dir(root, rels);
		free(root);
	}
	return web_dir_found;
}

static const char *
web_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot != NULL && i < ARRAY_LEN(web_types); i++) {
		if (strcmp(dot, web_types[i].ext) == 0)
			return web_types[i].type;
	}
	return NULL;
}

/* A name of letters, digits, '-', '_' and dots, not starting with a dot: never a path. */
static bool
web_name_ok(const char *name)
{
	if (name[0] == '\0' || name[0] == '.' || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	}
	return true;
}

static void
web_send_file(struct api_req *r, const char *dir, const char *name)
{
	const char *type = web_type(name);
	char path[512];
	struct stat st;
	FILE *f;
	char *buf;
	size_t len;

	if (dir == NULL) {
		api_error(r, 404, "not_found", "the dashboard's files are not installed");
		return;
	}
	if (!web_name_ok(name) || type == NULL ||
	    str_fmt(path, sizeof(path), "%s/%s", dir, name) < 0 || (f = fopen(path, "rb")) == NULL) {
		api_error(r, 404, "not_found", "no such file");
		return;
	}
	/* Sized from the file, and read to the end, so a file that grew meanwhile is refused. */
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > WEB_MAX_FILE) {
		fclose(f);
		api_error(r, 404, "not_found", "no such file");
		return;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	len = fread(buf, 1, (size_t)st.st_size + 1, f);
	if (ferror(f) || len != (size_t)st.st_size) {
		fclose(f);
		free(buf);
		api_error(r, 500, "internal", "cannot read %s", name);
		return;
	}
	fclose(f);
	api_reply_text(r, 200, type, buf, len);
}

void
h_web_index(struct api_req *r)
{
	web_send_file(r, web_dir(), "index.html");
}

void
h_web_file(struct api_req *r)
{
	web_send_file(r, web_dir(), r->path_param[0]);
}

void
h_web_chartjs(struct api_req *r)
{
	web_send_file(r, WEB_DEBIAN_JS "/chart.js", r->path_param[0]);
}
