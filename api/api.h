/*
 * The api role: the HTTP JSON API served by libmicrohttpd on its own thread
 * pool (api_threads workers, each with its own database connection), so it
 * never runs on the daemon's event loop.
 */
#ifndef RELAYAUDIT_API_H
#define RELAYAUDIT_API_H

struct config;

/* Starts listening on api_listen; 0, or -1 after logging why. */
int api_role_start(const struct config *cfg, const char *conninfo);
/* Stops accepting, finishes in-flight requests, closes the connections. */
void api_role_stop(void);

#endif
