/*
 * TLS for the probe engine and the sink, through OpenSSL: the client
 * context (built once per engine; certificates recorded, never verified),
 * the sink's server context, and a handshake's evidence.
 */
#ifndef RELAYAUDIT_TLS_H
#define RELAYAUDIT_TLS_H

#include <stddef.h>

#include "probe-engine/probe.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
struct bufferevent;

/*
 * We test relaying, not identity: no verification, and every protocol
 * version and cipher OpenSSL still has, so an old server's TLS is tested too.
 */
SSL_CTX *tls_client_ctx_new(const char **why);
/* The sink's context from a PEM certificate (chain) and key; NULL with *why. */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, const char **why);
void tls_ctx_free(SSL_CTX *ctx);

/* Protocol, cipher, peer certificate subject, issuer, not-after (RFC 3339) of ssl. */
void tls_evidence(SSL *ssl, struct probe_tls *out);
void tls_evidence_clear(struct probe_tls *t);

/* Why a TLS bufferevent failed (what: its BEV_EVENT_ flags): OpenSSL's error, errno or EOF. */
void tls_error_text(struct bufferevent *bev, short what, char *buf, size_t len);

#endif
