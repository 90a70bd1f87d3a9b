#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbuf.h"

static int fail(const char *flag, const char *path, int e, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s %s: %s", flag, path, strerror(e));
    return -1;
}

/* A device, a pipe or a symlink (--html /dev/stdout) is written through, not replaced:
 * a rename over it would put a regular file in its place. */
static bool replaceable(const char *path)
{
    struct stat st;
    return lstat(path, &st) != 0 || S_ISREG(st.st_mode);
}

static int write_fd(int fd, const void *data, size_t len)
{
    const char *p = data;
    for (size_t done = 0; done < len;) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        done += (size_t)k;
    }
    return 0;
}

int outfile_write(const char *flag, const char *path, const void *data, size_t len, char *err,
                  size_t errlen)
{
    if (!replaceable(path)) {
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
            return fail(flag, path, errno, err, errlen);
        int rc = write_fd(fd, data, len);
        int e = errno;
        if (close(fd) != 0 && rc == 0) {
            rc = -1;
            e = errno;
        }
        return rc ? fail(flag, path, e, err, errlen) : 0;
    }
    sbuf tmp = SBUF_INIT;
    sbuf_printf(&tmp, "%s.tmp%ld", path, (long)getpid());
    int rc = -1;
    int fd = open(sbuf_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fail(flag, path, errno, err, errlen);
        goto out;
    }
    if (write_fd(fd, data, len) != 0) {
        fail(flag, path, errno, err, errlen);
        close(fd);
        unlink(sbuf_str(&tmp));
        goto out;
    }
    /* A full disk may only show at fsync or close (delayed allocation, NFS). */
    if (fsync(fd) != 0 || close(fd) != 0 || rename(sbuf_str(&tmp), path) != 0) {
        fail(flag, path, errno, err, errlen);
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
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return fail(flag, path, EISDIR, err, errlen);
    if (!replaceable(path)) {
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            return fail(flag, path, errno, err, errlen);
        close(fd);
        return 0;
    }
    /* What outfile_write needs: a new file in the directory (the file's own permissions
     * do not matter, the rename replaces it). */
    sbuf tmp = SBUF_INIT;
    sbuf_printf(&tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(sbuf_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = 0;
    if (fd < 0) {
        rc = fail(flag, path, errno, err, errlen);
    } else {
        close(fd);
        unlink(sbuf_str(&tmp));
    }
    sbuf_free(&tmp);
    return rc;
}
