/* A growable byte buffer, always NUL-terminated.
 *
 * Used wherever text is built: CSV rows, console tables, JSON answers, error texts.
 * sbuf_reset keeps the allocation, so a buffer reused every second (the CSV writer,
 * the stats JSON) stops allocating once it has grown to its working size. */
#ifndef CICADA_SBUF_H
#define CICADA_SBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sbuf {
    char *s;      /* owned; NUL-terminated; NULL until the first append */
    size_t len;   /* bytes used, not counting the NUL */
    size_t cap;   /* bytes allocated */
} sbuf;

#define SBUF_INIT {NULL, 0, 0}

/* Appends n bytes (may contain NULs). */
void sbuf_add(sbuf *b, const void *p, size_t n);
/* Appends a C string. */
void sbuf_puts(sbuf *b, const char *s);
/* Makes room for at least n more bytes. */
void sbuf_reserve(sbuf *b, size_t n);
/* Appends one byte. Inline: JSON and CSV writers append separators a byte at a time,
 * hundreds of thousands per answer. */
static inline void sbuf_putc(sbuf *b, char c)
{
    if (b->len + 2 > b->cap)
        sbuf_reserve(b, 1);
    b->s[b->len++] = c;
    b->s[b->len] = '\0';
}
/* Appends formatted text, like printf. */
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(sbuf *b, const char *fmt, va_list ap);
/* Empties the buffer, keeping its memory. */
void sbuf_reset(sbuf *b);
/* Returns the text ("" when nothing was appended). Owned by the buffer. */
const char *sbuf_str(const sbuf *b);
/* Hands the text to the caller (who frees it) and leaves the buffer empty. */
char *sbuf_take(sbuf *b);
/* Frees the memory. */
void sbuf_free(sbuf *b);

#endif
