/* The web dashboard's files, compiled into the binary by tools/embed.c. */
#ifndef CICADA_ASSETS_H
#define CICADA_ASSETS_H

#include <stddef.h>

struct asset {
    const char *path;            /* "static/app.js", "templates/index.html" */
    const unsigned char *data;   /* static storage, NUL-terminated */
    size_t len;                  /* bytes, without the terminating NUL */
};

/* Table ending with a {NULL} entry. Static storage; never freed. */
extern const struct asset assets_table[];

#endif
