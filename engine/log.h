/* Logging in Locust's format:
 *     [2026-11-25 18:46:33,723] <hostname>/INFO/cicada.main: message
 *
 * One process-wide sink (stderr, or --logfile). Console statistics tables do not go
 * through here: they are written to stderr directly, as Locust's stats_logger does, so
 * they stay on the console when --logfile sends the rest to a file. */
#ifndef CICADA_LOG_H
#define CICADA_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level {
    LOG_DEBUG = 10,
    LOG_INFO = 20,
    LOG_WARNING = 30,
    LOG_ERROR = 40,
    LOG_CRITICAL = 50,
};

/* Parses a level name in any case (DEBUG, info, Warning ...). Returns -1 if unknown. */
int log_level_parse(const char *name);

/* Configures the sink. level: one of enum log_level. logfile: NULL for stderr; the file
 * is opened for appending. skip_setup: Locust's --skip-log-setup, which leaves only
 * warnings and above, printed bare. Returns 0, or -1 with a message in err. */
int log_setup(int level, const char *logfile, bool skip_setup, char *err, size_t errlen);

/* Closes the log file, if any. */
void log_close(void);

/* True when messages of this level are written. */
bool log_enabled(int level);

/* Writes one line. logger is the dotted source name ("cicada.main"). */
void log_msg(int level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(int level, const char *logger, const char *fmt, va_list ap);

/* Optional observer of every line written (the dashboard's Logs tab keeps the recent
 * ones). The line passed has no trailing newline and is only valid during the call. */
typedef void (*log_observer_fn)(void *data, int level, const char *line);
void log_set_observer(log_observer_fn fn, void *data);

#define log_debug(logger, ...) log_msg(LOG_DEBUG, logger, __VA_ARGS__)
#define log_info(logger, ...) log_msg(LOG_INFO, logger, __VA_ARGS__)
#define log_warning(logger, ...) log_msg(LOG_WARNING, logger, __VA_ARGS__)
#define log_error(logger, ...) log_msg(LOG_ERROR, logger, __VA_ARGS__)

#endif
