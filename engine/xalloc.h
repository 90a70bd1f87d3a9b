/* Allocation that never returns NULL.
 *
 * Out of memory is not a condition cicada tries to survive: a load generator that cannot
 * allocate would only report wrong numbers. Every allocation in the project goes through
 * these wrappers, which print one line and abort, so hot paths never check for NULL. */
#ifndef CICADA_XALLOC_H
#define CICADA_XALLOC_H

#include <stddef.h>

/* malloc/calloc/realloc/strdup that abort on failure. The caller owns the result and
 * releases it with free(). xrealloc returns the (possibly moved) new block. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Duplicates n bytes of p into a fresh block. */
void *xmemdup(const void *p, size_t n);

/* Frees *p and sets it to NULL. */
#define xfree(p) do { free(p); (p) = NULL; } while (0)

/* Prints "cicada: out of memory" and aborts. Also used by code that allocates through
 * other libraries (libcurl returning CURLE_OUT_OF_MEMORY, for example). */
_Noreturn void xoom(void);

#endif
