/*
 * Transcript blocks deflated with zlib as the probe goes (raw deflate, a
 * small window and a preset dictionary of what SMTP relay-test transcripts
 * are made of), inflated once when the result is built.
 */
#include "probe-engine/txbuf.h"
#include "common/log.h"
#include "common/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/*
 * Blocks are small, so each starts from this dictionary rather than from
 * nothing: the words every relay-test transcript repeats, the commonest
 * last (deflate finds near matches cheaper). Changing it changes nothing
 * kept beyond one process: blocks never leave it.
 */
static const char txbuf_dict[] =
	"S: 250-STARTTLS\nS: 250-AUTH PLAIN LOGIN\nS: 250-SIZE 10240000\nS: 250-VRFY\nS: 250-ETRN\n"
	"S: 250-DSN\nS: 250 SMTPUTF8\nS: 250 CHUNKING\nS: 221 2.0.0 Bye\nC: QUIT\n"
	"S: 550 5.7.1 Relaying denied\nS: 454 4.7.1 Relay access denied\nS: 553 5.7.1 \n"
	"S: 501 5.1.3 Bad recipient address syntax\nS: 504 5.5.2 Sender address rejected\n"
	"S: 220 ESMTP Postfix\nS: 250-PIPELINING\nS: 250-8BITMIME\nS: 250 ENHANCEDSTATUSCODES\n"
	"C: RSET\nS: 250 2.0.0 Ok\nC: MAIL FROM:<postmaster@>\nS: 250 2.1.0 Ok\n"
	"C: RCPT TO:<\"%@>\nS: 554 5.7.1 <>: Relay access denied\nC: RCPT TO:<@>\n";

enum { TXBUF_WINDOW = -9, TXBUF_MEMLEVEL = 1, TXBUF_HDR = 4 };

/* buf with room for need bytes (*size updated). */
static void *
txbuf_reserve(void *buf, uint32_t *size, uint32_t need)
{
	if (need <= *size)
		return buf;
	/* in steps of 256: the buffers are many and small, doubling would waste a third */
	*size = (need + 255) / 256 * 256;
	return xrealloc(buf, *size);
}

void
txbuf_put(struct txbuf *b, const void *p, size_t n)
{
	b->tail = txbuf_reserve(b->tail, &b->tail_size, b->tail_used + (uint32_t)n);
	memcpy(b->tail + b->tail_used, p, n);
	b->tail_used += (uint32_t)n;
	b->total += (uint32_t)n;
}

/* The tail as one deflated block; false when zlib cannot (then the tail stays as it is). */
static bool
txbuf_deflate(struct txbuf *b)
{
	uint8_t out[TXBUF_HDR + 4 * TXBUF_BLOCK]; /* a block's lengths fit in 16 bits */
	z_stream z = {0};
	bool ok = false;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, TXBUF_WINDOW, TXBUF_MEMLEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	if (deflateBound(&z, b->tail_used) <= sizeof(out) - TXBUF_HDR &&
	    deflateSetDictionary(&z, (const Bytef *)txbuf_dict, sizeof(txbuf_dict) - 1) == Z_OK) {
		z.next_in = (Bytef *)b->tail;
		z.avail_in = b->tail_used;
		z.next_out = out + TXBUF_HDR;
		z.avail_out = (uInt)(sizeof(out) - TXBUF_HDR);
		if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
			uint16_t zlen = (uint16_t)z.total_out, raw = (uint16_t)b->tail_used;

			memcpy(out, &zlen, 2);
			memcpy(out + 2, &raw, 2);
			b->z = txbuf_reserve(b->z, &b->z_size, b->z_used + TXBUF_HDR + zlen);
			memcpy(b->z + b->z_used, out, TXBUF_HDR + zlen);
			b->z_used += TXBUF_HDR + zlen;
			ok = true;
		}
	}
	deflateEnd(&z);
	return ok;
}

/* The tail deflated into a block of its own, when it is one (at most 4 KB: lines are shorter). */
static void
txbuf_block(struct txbuf *b)
{
	if (b->tail_used == 0 || b->tail_used > 4 * TXBUF_BLOCK - 64 || !txbuf_deflate(b))
		return;
	free(b->tail);
	b->tail = NULL;
	b->tail_used = b->tail_size = 0;
}

void
txbuf_seal(struct txbuf *b)
{
	if (b->tail_used >= TXBUF_BLOCK)
		txbuf_block(b);
}

void
txbuf_close(struct txbuf *b)
{
	txbuf_block(b);
}

/* Inflates one block of raw bytes into out; false when it does not come out whole. */
static bool
txbuf_inflate(const uint8_t *in, uint16_t zlen, char *out, uint16_t raw)
{
	z_stream z = {0};
	int rc;
	bool ok;

	if (inflateInit2(&z, TXBUF_WINDOW) != Z_OK)
		return false;
	z.next_in = (Bytef *)in;
	z.avail_in = zlen;
	z.next_out = (Bytef *)out;
	z.avail_out = raw;
	rc = inflateSetDictionary(&z, (const Bytef *)txbuf_dict, sizeof(txbuf_dict) - 1);
	if (rc == Z_OK)
		rc = inflate(&z, Z_FINISH);
	ok = rc == Z_STREAM_END && z.total_out == raw;
	inflateEnd(&z);
	return ok;
}

char *
txbuf_take(struct txbuf *b, size_t *len)
{
	char *out = xmalloc((size_t)b->total + 1);
	size_t o = 0;

	for (uint32_t i = 0; i + TXBUF_HDR <= b->z_used;) {
		uint16_t zlen, raw;

		memcpy(&zlen, b->z + i, 2);
		memcpy(&raw, b->z + i + 2, 2);
		/* our own blocks, deflated by this process: failing to inflate one is a bug */
		if (o + raw > b->total || !txbuf_inflate(b->z + i + TXBUF_HDR, zlen, out + o, raw))
			fatal("transcript block %u does not inflate", i);
		o += raw;
		i += TXBUF_HDR + zlen;
	}
	if (b->tail_used > 0)
		memcpy(out + o, b->tail, b->tail_used);
	o += b->tail_used;
	out[o] = '\0';
	*len = o;
	txbuf_free(b);
	return out;
}

void
txbuf_free(struct txbuf *b)
{
	free(b->tail);
	free(b->z);
	memset(b, 0, sizeof(*b));
}
