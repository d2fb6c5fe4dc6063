/*
 * Where the running binary lives, so a build tree (bin/relayctl beside
 * migrations/ and var/) and an install (PREFIX/bin beside
 * PREFIX/share/relayaudit) find their files without configuration.
 */
#ifndef RELAYAUDIT_PATHS_H
#define RELAYAUDIT_PATHS_H

/* The parent of the directory holding the executable ("/x" for /x/bin/relayctl); new string or
 * NULL. */
char *paths_exe_root(void);
/* The first of root/rel for each rel in rels[] (NULL-terminated) that is a directory; new string or
 * NULL. */
char *paths_find_dir(const char *root, const char *const *rels);

#endif
