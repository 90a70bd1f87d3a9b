/* Output files a run writes at its end (--html, --junit): written whole or not at all,
 * and checked before the test starts, so a bad path is an error before anything is sent.
 * Errors name the option: "--html out/r.html: Permission denied". */
#ifndef CICADA_OUTFILE_H
#define CICADA_OUTFILE_H

#include <stddef.h>

/* Writes len bytes to path through a temporary file next to it (fsync, then rename), so
 * a reader never sees half a file, and a failed write (a full disk) leaves the old file
 * or none. A path that is not a regular file (/dev/stdout, a pipe) is written in place.
 * Returns 0, or -1 with "FLAG PATH: reason" in err. */
int outfile_write(const char *flag, const char *path, const void *data, size_t len, char *err,
                  size_t errlen);

/* Checks that outfile_write can write path: not a directory, and a temporary file can be
 * created beside it (then removed). Returns 0, or -1 with "FLAG PATH: reason" in err. */
int outfile_check(const char *flag, const char *path, char *err, size_t errlen);

#endif
