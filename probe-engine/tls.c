/*
 * OpenSSL contexts for the engine (client) and the sink (server), and the
 * evidence one handshake leaves: what a relay's TLS looked like, recorded
 * because the abuse desk may want it, never judged.
 */
#include "probe-engine/tls.h"
#include "common/util.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

SSL_CTX *
tls_client_ctx_new(const char **why)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		*why = "SSL_CTX_new failed";
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* security level 0 and TLS 1.0 up: a relay with old TLS is still a relay */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
	/* one handshake per connection; resumption would hide the certificate */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file, const char **why)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*why = "SSL_CTX_new failed";
		return NULL;
	}
	/* relays with old TLS must still be able to deliver the proof */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		*why = "cannot load sink_tls_cert (PEM certificate)";
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		*why = "cannot load sink_tls_key (PEM private key)";
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*why = "sink_tls_key does not match sink_tls_cert";
		goto fail;
	}
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

static char *
tls_name(X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *s;
	long n;

	if (b == NULL)
		return NULL;
	X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
	n = BIO_get_mem_data(b, &p);
	if (n > 512)
		n = 512; /* a peer's certificate is peer text: bounded */
	s = xmalloc((size_t)n + 1);
	for (long i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		s[i] = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	s[n] = '\0';
	BIO_free(b);
	return s;
}

void
tls_evidence(SSL *ssl, struct probe_tls *out)
{
	X509 *cert;

	tls_evidence_clear(out);
	out->version = xstrdup(SSL_get_version(ssl));
	out->cipher = xstrdup(SSL_get_cipher_name(ssl));
	cert = SSL_get1_peer_certificate(ssl);
	if (cert == NULL)
		return;
	out->subject = tls_name(X509_get_subject_name(cert));
	out->issuer = tls_name(X509_get_issuer_name(cert));
	struct tm tm;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
		char buf[32];

		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		out->not_after = xstrdup(buf);
	}
	X509_free(cert);
}

void
tls_evidence_clear(struct probe_tls *t)
{
	free(t->version);
	free(t->cipher);
	free(t->subject);
	free(t->issuer);
	free(t->not_after);
	t->version = t->cipher = t->subject = t->issuer = t->not_after = NULL;
}

void
tls_error_text(struct bufferevent *bev, short what, char *buf, size_t len)
{
	unsigned long e = bev ? bufferevent_get_openssl_error(bev) : 0;
	int err = errno;

	if (e != 0) {
		ERR_error_string_n(e, buf, len);
		/* drain what else this handshake left, so the next one starts clean */
		while (bufferevent_get_openssl_error(bev) != 0)
			;
		return;
	}
	if ((what & BEV_EVENT_EOF) || err == 0)
		snprintf(buf, len, "connection closed");
	else
		snprintf(buf, len, "%s", strerror(err));
}
