/*
 * The quarantine directory (see quarantine.h): unique names from mkstemps,
 * fsync before rename so a crash leaves either nothing or the whole report.
 */
#include "common/quarantine.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
quarantine_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
quarantine_keep(const char *dir, const char *data, size_t len, FILE *more, const char *reason,
		char **path, const char **why)
{
	char stamp[32], *tmp, *final = NULL, *whyname = NULL;
	struct tm tm;
	time_t now = time(NULL);
	int fd, ok;

	*path = NULL;
	if (dir == NULL || *dir == '\0') {
		*why = "no quarantine directory configured (complaint_quarantine_dir)";
		return -1;
	}
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		*why = "cannot create the quarantine directory";
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	tmp = xasprintf("%s/.%s-XXXXXX.eml", dir, stamp);
	fd = mkstemps(tmp, 4);
	if (fd < 0) {
		*why = "cannot create a file in the quarantine directory";
		free(tmp);
		return -1;
	}
	ok = quarantine_write_all(fd, data, len) == 0;
	if (ok && more != NULL) {
		char buf[65536];
		size_t n;

		while (ok && (n = fread(buf, 1, sizeof(buf), more)) > 0)
			ok = quarantine_write_all(fd, buf, n) == 0;
		ok = ok && !ferror(more);
	}
	ok = ok && fsync(fd) == 0;
	ok = (close(fd) == 0) && ok;
	if (ok) {
		/* The final name drops the leading dot of the temporary one. */
		const char *base = strrchr(tmp, '/') + 2;

		final = xasprintf("%s/%s", dir, base);
		whyname = xasprintf("%.*s.why", (int)(strlen(final) - 4), final);
		fd = open(whyname, O_WRONLY | O_CREAT | O_EXCL, 0640);
		ok = fd >= 0 && quarantine_write_all(fd, reason, strlen(reason)) == 0 &&
		     quarantine_write_all(fd, "\n", 1) == 0;
		if (fd >= 0)
			ok = (close(fd) == 0) && ok;
		ok = ok && rename(tmp, final) == 0;
	}
	if (!ok) {
		*why = "cannot write the report to the quarantine directory";
		unlink(tmp);
		if (whyname != NULL)
			unlink(whyname);
		free(final);
		final = NULL;
	}
	free(tmp);
	free(whyname);
	*path = final;
	return ok ? 0 : -1;
}
