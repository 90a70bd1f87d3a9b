/* C locustfiles: `-f test.c` is compiled with the system C compiler into a cached shared
 * object (rebuilt when the source, cicada.h or cicada changes), `-f test.so` is loaded as
 * it is; either way its CICADA_PLUGIN setup function fills a registry of classes and
 * hooks (capi.h).
 *
 * The cache is $XDG_CACHE_HOME/cicada (or ~/.cache/cicada, else $TMPDIR): objects are
 * named after the source and a hash of what went into them, and cicada.h is written next
 * to them for the compiler. The compiler is $CC, else cc; its messages go to stderr as it
 * prints them. */
#ifndef CICADA_PLUGIN_H
#define CICADA_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "capi.h"

/* The text of include/cicada.h (the program embeds it) and cicada's version, which go
 * into the cache key. Call once before plugin_load. Borrowed. */
void plugin_setup(const char *header, size_t header_len, const char *version);

/* True for paths plugin_load takes (".c", ".so"). */
bool plugin_path(const char *path);

/* Builds (for .c) and loads path, then calls its setup function into reg (zeroed by the
 * caller; reg->file is set here). Returns 0, or -1 with one line in err: a compiler that
 * failed (its own messages already on stderr), no compiler, a missing setup function, an
 * API version mismatch, or a setup that failed or registered no class. The shared object
 * stays loaded for the life of the process. */
int plugin_load(const char *path, cicada_registry *reg, char *err, size_t errlen);

#endif
