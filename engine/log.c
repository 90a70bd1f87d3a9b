#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
    int level;
    bool bare;          /* --skip-log-setup: message only */
    FILE *file;         /* NULL: stderr */
    char host[256];
    log_observer_fn observer;
    void *observer_data;
    char path[1024];    /* --logfile, for the one line saying it failed */
} g = {LOG_INFO, false, NULL, "", NULL, NULL, ""};

static const char *level_name(int level)
{
    switch (level) {
    case LOG_DEBUG: return "DEBUG";
    case LOG_INFO: return "INFO";
    case LOG_WARNING: return "WARNING";
    case LOG_ERROR: return "ERROR";
    default: return "CRITICAL";
    }
}

int log_level_parse(const char *name)
{
    static const int levels[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_CRITICAL};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcasecmp(name, level_name(levels[i])) == 0)
            return levels[i];
    return -1;
}

int log_setup(int level, const char *logfile, bool skip_setup, char *err, size_t errlen)
{
    if (gethostname(g.host, sizeof g.host - 1) != 0)
        strcpy(g.host, "localhost");
    if (logfile && *logfile) {
        FILE *f = fopen(logfile, "a");
        if (!f) {
            snprintf(err, errlen, "--logfile %s: %s", logfile, strerror(errno));
            return -1;
        }
        setvbuf(f, NULL, _IOLBF, 0);
        log_close();
        g.file = f;
        snprintf(g.path, sizeof g.path, "%s", logfile);
    }
    g.level = skip_setup ? LOG_WARNING : level;
    g.bare = skip_setup;
    return 0;
}

void log_close(void)
{
    if (g.file)
        fclose(g.file);
    g.file = NULL;
}

bool log_enabled(int level)
{
    return level >= g.level;
}

void log_set_observer(log_observer_fn fn, void *data)
{
    g.observer = fn;
    g.observer_data = data;
}

void log_vmsg(int level, const char *logger, const char *fmt, va_list ap)
{
    if (level < g.level)
        return;
    char line[4096];
    size_t n = 0;
    if (!g.bare) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        struct tm tm;
        localtime_r(&tv.tv_sec, &tm);
        n = strftime(line, sizeof line, "[%Y-%m-%d %H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof line - n, ",%03d] %s/%s/%s: ",
                              (int)(tv.tv_usec / 1000), g.host[0] ? g.host : "localhost",
                              level_name(level), logger);
    }
    if (n < sizeof line) {
        int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
        if (m > 0)
            n += (size_t)m;
    }
    if (n >= sizeof line)
        n = sizeof line - 1;
    line[n] = '\0';
    /* Messages carry text from peers and targets (a worker's error, a request name): their
     * control characters (ESC sequences, \r) would act on the terminal. */
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)line[i] < 0x20 && line[i] != '\n' && line[i] != '\t') ||
            line[i] == 0x7f)
            line[i] = '?';
    if (g.observer)
        g.observer(g.observer_data, level, line);
    FILE *out = g.file ? g.file : stderr;
    errno = 0;
    bool bad = fprintf(out, "%s\n", line) < 0;
    int e = errno;
    if (fflush(out) != 0 && !bad) {
        bad = true;
        e = errno;
    }
    if (out != stderr && (bad || ferror(out))) {
        /* A full disk would swallow every later line, the errors saying so among them:
         * the log goes on on stderr. */
        fprintf(stderr, "cicada: error: --logfile %s: %s; logging to stderr from now on\n",
                g.path, strerror(e ? e : EIO));
        fclose(g.file);
        g.file = NULL;
        fprintf(stderr, "%s\n", line);
    }
}

void log_msg(int level, const char *logger, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, logger, fmt, ap);
    va_end(ap);
}
