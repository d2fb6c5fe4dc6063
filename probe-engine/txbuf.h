/*
 * A transcript while its probe runs: appended line by line, kept deflated
 * (zlib) as it grows, read back whole once at the end. Ten thousand
 * dialogues in flight each hold a few kilobytes of transcript; this keeps
 * them at about a seventh of that.
 *
 * The deflated bytes are chains: each chain one raw deflate stream that
 * grows a segment at a time. A segment (the raw tail, once it holds
 * TXBUF_BLOCK bytes) is deflated with the chain's text so far as its
 * dictionary and ends in a sync flush, so the segments of a chain inflate
 * as one stream and a segment's repeats of earlier dialogue (the next
 * connection's commands and replies) cost a few bytes. A chain ends after
 * TXBUF_CHAIN raw bytes, which bounds what a segment re-reads to find its
 * dictionary.
 */
#ifndef RELAYAUDIT_TXBUF_H
#define RELAYAUDIT_TXBUF_H

#include <stddef.h>
#include <stdint.h>

#define TXBUF_BLOCK 512  /* raw bytes collected before they are deflated */
#define TXBUF_CHAIN 4096 /* raw bytes in one chain before the next starts afresh */

struct txbuf {
	char *tail;        /* the bytes not deflated yet */
	uint8_t *z;        /* chains: [2-byte deflated length][2-byte raw length][data]... */
	uint32_t tail_used, tail_size;
	uint32_t z_used, z_size;
	uint32_t chain;    /* offset in z of the last chain's header */
	uint32_t total;    /* bytes appended in all */
};

void txbuf_put(struct txbuf *b, const void *p, size_t n);
/* At a line's end: deflates the tail once it holds a block. */
void txbuf_seal(struct txbuf *b);
/* Nothing more will come (the transcript reached its cap): deflates the tail, however short. */
void txbuf_close(struct txbuf *b);
/* Everything appended, NUL-terminated (malloc'd; *len without the NUL); b is empty after. */
char *txbuf_take(struct txbuf *b, size_t *len);
void txbuf_free(struct txbuf *b);

#endif
