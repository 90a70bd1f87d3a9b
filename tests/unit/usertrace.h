/* Shared by the unit tests that run tasks on real users (test_user, test_runner): task
 * functions written against user.h that record what each user does, and helpers to read
 * the record back.
 *
 * Provides:
 *   note(u, fmt, ...)        records a token for user u at user_now(u) (safe on coroutines:
 *                            no assertions; overflow is set when recs is full)
 *   trace, times, time_of, count
 *                            what user idx recorded: all tokens, when it recorded one
 *   assert_between(v, lo, hi)
 *   struct script, play, task, nothing
 *                            a scripted task (kill/stop itself, sleep, one request) and a
 *                            utask that runs it; a 200 is reported to S under the task name
 *
 * The including file defines S (the stats the requests count in) before including this.
 * Everything is static, the functions marked unused, as in loopback.h. */
#ifndef CICADA_TEST_USERTRACE_H
#define CICADA_TEST_USERTRACE_H

#include <stdio.h>
#include <string.h>

#include "stats.h"
#include "user.h"

struct rec {
    uint32_t user;
    char tok[32];
    double at;
};

static struct rec recs[4096];
static int nrec;
static bool overflow;   /* more records than recs holds (checked in teardown) */

static void note(const user *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));

/* Runs on coroutines too, where a failing assertion must not jump out: no asserts. */
static void note(const user *u, const char *fmt, ...)
{
    if (nrec == (int)(sizeof recs / sizeof recs[0])) {
        overflow = true;
        return;
    }
    struct rec *r = &recs[nrec++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->tok, sizeof r->tok, fmt, ap);
    va_end(ap);
    r->user = u->index;
    r->at = user_now(u);
}

/* The tokens user idx recorded, space-separated. */
__attribute__((unused)) static const char *trace(uint32_t idx)
{
    static char buf[8192];
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < nrec; i++)
        if (recs[i].user == idx && n < sizeof buf - 40)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", n ? " " : "", recs[i].tok);
    return buf;
}

/* When user idx recorded tok (at most max times, in order); returns how many. */
__attribute__((unused)) static int times(uint32_t idx, const char *tok, double *out, int max)
{
    int n = 0;
    for (int i = 0; i < nrec && n < max; i++)
        if (recs[i].user == idx && strcmp(recs[i].tok, tok) == 0)
            out[n++] = recs[i].at;
    return n;
}

__attribute__((unused)) static double time_of(uint32_t idx, const char *tok)
{
    double t = 0;
    if (times(idx, tok, &t, 1) != 1)
        fail_msg("user %u never recorded %s (trace: %s)", idx, tok, trace(idx));
    return t;
}

__attribute__((unused)) static int count(uint32_t idx, const char *tok)
{
    int n = 0;
    for (int i = 0; i < nrec; i++)
        n += recs[i].user == idx && strcmp(recs[i].tok, tok) == 0;
    return n;
}

#define assert_between(v, lo, hi)                                                         \
    do {                                                                                  \
        double v_ = (v);                                                                  \
        if (!(v_ >= (lo) && v_ <= (hi)))                                                  \
            fail_msg("%s = %.4f, not in [%g, %g]", #v, v_, (double)(lo), (double)(hi));   \
    } while (0)

/* What a scripted task, on_start or on_stop does, in this order. Tokens are the task's
 * name, then "name:what=result". */
struct script {
    bool kill_self;             /* user_kill on its own user */
    bool stop_self;             /* user_stop on its own user */
    double sleep;               /* user_sleep (0: none) */
    const http_req *req;        /* user_http (NULL: none): a 200 is reported under the task's
                                 * name and recorded as 0, another status as itself */
    bool show_stopping;         /* record user_stopping at the end */
};

__attribute__((unused)) static void play(user *u, void *data)
{
    const struct script *s = data;
    const char *name = u->task->name;
    note(u, "%s", name);
    if (s->kill_self)
        user_kill(u);
    if (s->stop_self)
        user_stop(u);
    if (s->sleep > 0)
        note(u, "%s:sleep=%d", name, user_sleep(u, s->sleep));
    if (s->req) {
        http_result r;
        char err[128] = "";
        int rc = user_http(u, s->req, &r, err, sizeof err);
        if (rc == USER_OK && r.status != 200)
            rc = (int)r.status;
        note(u, "%s:http=%d", name, rc);
        if (rc == USER_OK) {
            stats_entry *e = stats_entry_get(S, s->req->method, name, user_now(u));
            user_report(u, e, r.rt_us, r.bytes, NULL);
        }
    }
    if (s->show_stopping)
        note(u, "%s:stopping=%d", name, user_stopping(u));
}

__attribute__((unused)) static utask task(const char *name, int weight, struct script *s)
{
    return (utask){.name = (char *)name, .weight = weight, .fn = play, .data = s};
}

static struct script nothing;

#endif
