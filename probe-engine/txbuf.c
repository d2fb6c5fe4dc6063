/*
 * Transcript segments deflated with zlib as the probe goes (raw deflate,
 * each segment with its chain's text so far and a preset dictionary of what
 * SMTP relay-test transcripts are made of), inflated once when the result
 * is built.
 */
#include "probe-engine/txbuf.h"
#include "common/log.h"
#include "common/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/*
 * A chain starts from this dictionary rather than from nothing: the words
 * every relay-test transcript repeats, the commonest last (deflate finds
 * near matches cheaper). Changing it changes nothing kept beyond one
 * process: chains never leave it.
 */
static const char txbuf_dict[] =
	"S: 250-STARTTLS\nS: 250-AUTH PLAIN LOGIN\nS: 250-SIZE 10240000\nS: 250-VRFY\nS: 250-ETRN\n"
	"S: 250-DSN\nS: 250 SMTPUTF8\nS: 250 CHUNKING\nS: 221 2.0.0 Bye\nC: QUIT\n"
	"S: 550 5.7.1 Relaying denied\nS: 454 4.7.1 Relay access denied\nS: 553 5.7.1 \n"
	"S: 501 5.1.3 Bad recipient address syntax\nS: 504 5.5.2 Sender address rejected\n"
	"S: 220 ESMTP Postfix\nS: 250-PIPELINING\nS: 250-8BITMIME\nS: 250 ENHANCEDSTATUSCODES\n"
	"C: RSET\nS: 250 2.0.0 Ok\nC: MAIL FROM:<postmaster@>\nS: 250 2.1.0 Ok\n"
	"C: RCPT TO:<\"%@>\nS: 554 5.7.1 <>: Relay access denied\nC: RCPT TO:<@>\n";

/*
 * A segment's dictionary is the last kilobyte of the preset dictionary and
 * its chain so far: a connection's dialogue packs into less, so the next
 * connection's finds it there (a longer one gained 3% for twice the time
 * deflateSetDictionary takes). The window is 2 KB, as deflate reaches
 * only its size less 262 bytes back. memLevel 1 keeps deflate small.
 */
enum {
	TXBUF_WINDOW = -11,
	TXBUF_DICT_USE = 1024,
	TXBUF_MEMLEVEL = 1,
	TXBUF_HDR = 4,
	TXBUF_DICT = sizeof(txbuf_dict) - 1,
	TXBUF_SEGMENT_MAX = 4 * TXBUF_BLOCK, /* a longer tail stays raw (lines are shorter) */
	TXBUF_TAIL = TXBUF_BLOCK + 128,      /* the tail's size: a block and most lines */
	TXBUF_Z_STEP = 128,                  /* the deflated chains grow by this much */
};

/*
 * Each thread's deflate and inflate streams, made once and reset for each
 * segment: setting one up allocates some 10 KB, and tens of thousands of
 * those coming and going between the probes' small blocks fragmented the
 * heap. Freed with the thread.
 */
struct txbuf_streams {
	z_stream def, inf;
	bool def_ok, inf_ok;
};

static void
txbuf_streams_release(void *p)
{
	struct txbuf_streams *t = p;

	if (t->def_ok)
		deflateEnd(&t->def);
	if (t->inf_ok)
		inflateEnd(&t->inf);
}

static struct thread_slot streams_slot =
	THREAD_SLOT_INIT(sizeof(struct txbuf_streams), txbuf_streams_release);

/* This thread's inflate stream, reset; NULL when zlib cannot make one. */
static z_stream *
txbuf_inflater(void)
{
	struct txbuf_streams *t = thread_slot_get(&streams_slot);

	if (t == NULL)
		return NULL;
	if (!t->inf_ok)
		return (t->inf_ok = inflateInit2(&t->inf, TXBUF_WINDOW) == Z_OK) ? &t->inf : NULL;
	return inflateReset(&t->inf) == Z_OK ? &t->inf : NULL;
}

/* This thread's deflate stream, reset; NULL when zlib cannot make one. */
static z_stream *
txbuf_deflater(void)
{
	struct txbuf_streams *t = thread_slot_get(&streams_slot);

	if (t == NULL)
		return NULL;
	if (!t->def_ok)
		return (t->def_ok = deflateInit2(&t->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
						 TXBUF_WINDOW, TXBUF_MEMLEVEL,
						 Z_DEFAULT_STRATEGY) == Z_OK)
			       ? &t->def
			       : NULL;
	return deflateReset(&t->def) == Z_OK ? &t->def : NULL;
}

/*
 * buf with room for need bytes (*size updated), grown in steps of step.
 * The buffers are many and small: doubling would waste a third, and steps
 * of a few common sizes let one probe's freed block serve the next's.
 */
static void *
txbuf_reserve(void *buf, uint32_t *size, uint32_t need, uint32_t step)
{
	if (need <= *size)
		return buf;
	*size = (need + step - 1) / step * step;
	return xrealloc(buf, *size);
}

void
txbuf_put(struct txbuf *b, const void *p, size_t n)
{
	/* one tail for the whole transcript, sized for a block and a line: no growing by lines */
	b->tail = txbuf_reserve(b->tail, &b->tail_size, b->tail_used + (uint32_t)n, TXBUF_TAIL);
	memcpy(b->tail + b->tail_used, p, n);
	b->tail_used += (uint32_t)n;
	b->total += (uint32_t)n;
}

static void
txbuf_header(const uint8_t *h, uint16_t *zlen, uint16_t *raw)
{
	memcpy(zlen, h, 2);
	memcpy(raw, h + 2, 2);
}

/*
 * Inflates one chain (zlen deflated bytes at in) into out, which holds
 * exactly its raw bytes; false when it does not come out whole.
 */
static bool
txbuf_inflate(const uint8_t *in, uint16_t zlen, char *out, uint16_t raw)
{
	z_stream *z = txbuf_inflater();
	int rc;

	if (z == NULL)
		return false;
	z->next_in = (Bytef *)in;
	z->avail_in = zlen;
	z->next_out = (Bytef *)out;
	z->avail_out = raw;
	rc = inflateSetDictionary(z, (const Bytef *)txbuf_dict, TXBUF_DICT);
	if (rc == Z_OK && raw > 0)
		rc = inflate(z, Z_SYNC_FLUSH);
	return (rc == Z_OK || rc == Z_BUF_ERROR) && z->total_out == raw && z->avail_in == 0;
}

/*
 * The tail deflated as the last chain's next segment, or as a new chain's
 * first; false when zlib cannot (then the tail stays as it is).
 */
static bool
txbuf_deflate(struct txbuf *b)
{
	/* the preset dictionary, then the chain's raw text: a segment's dictionary is their end */
	char text[TXBUF_DICT + TXBUF_CHAIN + TXBUF_SEGMENT_MAX];
	/* a segment deflated: at most its length and a little (stored blocks), and the flush */
	uint8_t out[TXBUF_SEGMENT_MAX + TXBUF_SEGMENT_MAX / 8 + 64];
	uint16_t zlen = 0, raw = 0;
	z_stream *z;
	size_t dict;
	bool fresh = b->z_used == 0, ok = false;

	memcpy(text, txbuf_dict, TXBUF_DICT);
	if (!fresh) {
		txbuf_header(b->z + b->chain, &zlen, &raw);
		fresh = raw >= TXBUF_CHAIN;
	}
	/* our own bytes, deflated by this process: failing to inflate them is a bug */
	if (!fresh && !txbuf_inflate(b->z + b->chain + TXBUF_HDR, zlen, text + TXBUF_DICT, raw))
		fatal("transcript chain at %u does not inflate", b->chain);
	if (fresh)
		zlen = raw = 0;
	dict = TXBUF_DICT + raw < TXBUF_DICT_USE ? TXBUF_DICT + raw : TXBUF_DICT_USE;
	if ((z = txbuf_deflater()) == NULL)
		return false;
	if (deflateSetDictionary(z, (const Bytef *)text + TXBUF_DICT + raw - dict, (uInt)dict) ==
	    Z_OK) {
		z->next_in = (Bytef *)b->tail;
		z->avail_in = b->tail_used;
		z->next_out = out;
		z->avail_out = sizeof(out);
		/* all of it out, ending on a byte boundary: the next segment continues the stream */
		ok = deflate(z, Z_SYNC_FLUSH) == Z_OK && z->avail_in == 0 && z->avail_out > 0 &&
		     zlen + z->total_out <= UINT16_MAX;
	}
	if (ok) {
		uint16_t nz = (uint16_t)(zlen + z->total_out), nraw = (uint16_t)(raw + b->tail_used);
		uint32_t at = b->z_used + (fresh ? TXBUF_HDR : 0);

		b->z = txbuf_reserve(b->z, &b->z_size, at + (uint32_t)z->total_out, TXBUF_Z_STEP);
		memcpy(b->z + at, out, z->total_out);
		if (fresh)
			b->chain = b->z_used;
		memcpy(b->z + b->chain, &nz, 2);
		memcpy(b->z + b->chain + 2, &nraw, 2);
		b->z_used = at + (uint32_t)z->total_out;
	}
	return ok;
}

/* The tail deflated, when it is not too long for a segment. */
static void
txbuf_segment(struct txbuf *b)
{
	if (b->tail_used == 0 || b->tail_used > TXBUF_SEGMENT_MAX || !txbuf_deflate(b))
		return;
	b->tail_used = 0; /* the tail serves the next segment */
}

void
txbuf_seal(struct txbuf *b)
{
	if (b->tail_used >= TXBUF_BLOCK)
		txbuf_segment(b);
}

void
txbuf_close(struct txbuf *b)
{
	txbuf_segment(b);
	if (b->tail_used == 0) {
		free(b->tail);
		b->tail = NULL;
		b->tail_size = 0;
	}
}

char *
txbuf_take(struct txbuf *b, size_t *len)
{
	char *out = xmalloc((size_t)b->total + 1);
	size_t o = 0;

	for (uint32_t i = 0; i + TXBUF_HDR <= b->z_used;) {
		uint16_t zlen, raw;

		txbuf_header(b->z + i, &zlen, &raw);
		if (o + raw > b->total || !txbuf_inflate(b->z + i + TXBUF_HDR, zlen, out + o, raw))
			fatal("transcript chain at %u does not inflate", i);
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
