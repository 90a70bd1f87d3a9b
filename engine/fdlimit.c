#include "fdlimit.h"

#include <stdbool.h>
#include <sys/resource.h>

#include "log.h"

#define LOGGER "cicada.main"

static bool raised;
static rlim_t soft_found;       /* the soft limit before the raise */
/* Each is said once per process: a worker's ramp arrives as a count a second. */
static bool said_raised, said_short;

void fdlimit_raise(void)
{
    if (raised)
        return;
    raised = true;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    soft_found = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warning(LOGGER, "cannot raise the open-file limit from %llu to the hard "
                                "limit %llu", (unsigned long long)soft_found,
                        (unsigned long long)rl.rlim_max);
    }
}

void fdlimit_check(unsigned users)
{
    fdlimit_raise();
    struct rlimit rl;
    if (said_short || getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    rlim_t need = (rlim_t)users + FDLIMIT_RESERVE;
    if (need > rl.rlim_cur) {
        said_short = true;
        log_warning(LOGGER,
                    "%u users need more open files than the limit allows (%llu, hard limit "
                    "%llu; about %llu needed): connections beyond it fail as \"Too many open "
                    "files\". Raise the hard limit (`ulimit -Hn` as root, LimitNOFILE= for a "
                    "service) or spread the users over more processes (--processes, workers)",
                    users, (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                    (unsigned long long)need);
    } else if (!said_raised && soft_found != RLIM_INFINITY && need > soft_found) {
        said_raised = true;
        log_info(LOGGER, "Raised the open-file limit from %llu to %llu (the hard limit) for "
                         "%u users", (unsigned long long)soft_found,
                 (unsigned long long)rl.rlim_cur, users);
    }
}
