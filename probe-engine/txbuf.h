/*
 * A transcript while its probe runs: appended line by line, kept deflated
 * (zlib) in blocks of about a kilobyte, read back whole once at the end. Ten
 * thousand dialogues in flight each hold a few kilobytes of transcript; this
 * keeps them at about a third of that.
 */
#ifndef RELAYAUDIT_TXBUF_H
#define RELAYAUDIT_TXBUF_H

#include <stddef.h>
#include <stdint.h>

#define TXBUF_BLOCK 1024 /* bytes collected before they are deflated */

struct txbuf {
	char *tail;        /* the bytes not deflated yet */
	uint8_t *z;        /* deflated blocks: [2-byte length][2-byte raw length][data]... */
	uint32_t tail_used, tail_size;
	uint32_t z_used, z_size;
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
