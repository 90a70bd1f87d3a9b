#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sbuf.h"

int outfile_write(const char *flag, const char *path, const void *data, size_t len, char *err,
                  size_t errlen)
{
    sbuf tmp = SBUF_INIT;
    sbuf_printf(&tmp, "%s.tmp%ld", path, (long)getpid());
    int rc = -1;
    int fd = open(sbuf_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", flag, path, strerror(errno));
        goto out;
    }
    const char *p = data;
    for (size_t done = 0; done < len;) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            snprintf(err, errlen, "%s %s: %s", flag, path, strerror(errno));
            close(fd);
            unlink(sbuf_str(&tmp));
            goto out;
        }
        done += (size_t)k;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(sbuf_str(&tmp), path) != 0) {
        snprintf(err, errlen, "%s %s: %s", flag, path, strerror(errno));
        unlink(sbuf_str(&tmp));
        goto out;
    }
    rc = 0;
out:
    sbuf_free(&tmp);
    return rc;
}

int outfile_check(const char *flag, const char *path, char *err, size_t errlen)
{
    bool existed = access(path, F_OK) == 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", flag, path, strerror(errno));
        return -1;
    }
    close(fd);
    if (!existed)
        unlink(path);
    return 0;
}
