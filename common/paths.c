/*
 * Locating the build tree or install prefix from /proc/self/exe.
 */
#include "common/paths.h"
#include "common/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
paths_exe_root(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	for (int i = 0; i < 2; i++) {
		slash = strrchr(buf, '/');
		if (slash == NULL)
			return NULL;
		*slash = '\0';
	}
	return xstrdup(buf[0] ? buf : "/");
}

char *
paths_find_dir(const char *root, const char *const *rels)
{
	struct stat st;

	if (root == NULL)
		return NULL;
	for (size_t i = 0; rels[i] != NULL; i++) {
		char *p = xasprintf("%s/%s", root, rels[i]);

		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			return p;
		free(p);
	}
	return NULL;
}
