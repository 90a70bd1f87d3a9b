#include "interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rng.h"
#include "xalloc.h"

bool interp_is_absolute(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

char *interp_join_url(const char *host, const char *path)
{
    if (interp_is_absolute(path) || !host)
        return xstrdup(path);
    size_t hl = strlen(host);
    if (hl && host[hl - 1] == '/' && path[0] == '/')
        hl--;
    bool slash = path[0] != '/' && path[0] != '?' && path[0] != '\0' &&
                 !(hl && host[hl - 1] == '/');
    size_t pl = strlen(path);
    char *s = xmalloc(hl + slash + pl + 1);
    memcpy(s, host, hl);
    if (slash)
        s[hl] = '/';
    memcpy(s + hl + slash, path, pl + 1);
    return s;
}

/* Link-local IPv6 literal ([fe80::...]): connection affinity must not touch its scope. */
static bool link_local(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    /* Skip user information ("user:pass@") before the host. */
    const char *at = strchr(p, '@'), *slash = p + strcspn(p, "/?#");
    if (at && at < slash)
        p = at + 1;
    if (*p != '[')
        return false;
    p++;
    return strncasecmp(p, "fe8", 3) == 0 || strncasecmp(p, "fe9", 3) == 0 ||
           strncasecmp(p, "fea", 3) == 0 || strncasecmp(p, "feb", 3) == 0;
}

/* Locust HttpUser's default name: the path and query of the URL actually requested. */
static char *path_url(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return xstrdup(url);
    p += 3;
    p += strcspn(p, "/?#");
    if (*p == '\0' || *p == '#')
        return xstrdup("/");
    if (*p == '?') {
        size_t n = strcspn(p, "#");
        char *s = xmalloc(n + 2);
        s[0] = '/';
        memcpy(s + 1, p, n);
        s[n + 1] = '\0';
        return s;
    }
    return xstrndup(p, strcspn(p, "#"));
}

int interp_resolve(program *p, const char *host, char *err, size_t errlen)
{
    for (int i = 0; i < p->n; i++) {
        step *s = &p->steps[i];
        if (s->kind != STEP_REQUEST)
            continue;
        req_step *r = &s->r;
        if (!interp_is_absolute(r->url) && !host) {
            snprintf(err, errlen,
                     "%s: relative URL \"%s\" but no host: set \"host\" in the scenario or "
                     "its user class, or use --host", s->where, r->url);
            return -1;
        }
        free(r->abs_url);
        r->abs_url = interp_join_url(host, r->url);
        if (!r->name_explicit) {
            char *name = path_url(r->abs_url);
            if (r->name && strcmp(r->name, name) == 0) {
                free(name);
            } else {
                free(r->name);
                r->name = name;
                r->entry = NULL;
            }
        }
        r->req.method = r->method;
        r->req.kind = strcmp(r->method, "GET") == 0    ? HTTP_GET
                      : strcmp(r->method, "HEAD") == 0 ? HTTP_HEAD
                      : strcmp(r->method, "POST") == 0 ? HTTP_POST
                                                       : HTTP_OTHER;
        r->req.url = r->abs_url;
        r->req.headers = r->headers;
        r->req.body = r->body;
        r->req.body_len = r->body_len;
        r->req.timeout_ms = r->timeout_ms;
        r->req.follow = r->follow;
        r->req.link_local = link_local(r->abs_url);
        r->req.dynamic = false;
        r->req.conn = r->conn;
    }
    return 0;
}

void interp_free(program *p)
{
    for (int i = 0; i < p->n; i++) {
        step *s = &p->steps[i];
        free(s->where);
        if (s->kind == STEP_REQUEST) {
            free(s->r.method);
            free(s->r.url);
            free(s->r.name);
            free(s->r.body);
            free(s->r.abs_url);
            curl_slist_free_all(s->r.headers);
        }
    }
    free(p->steps);
    p->steps = NULL;
    p->n = 0;
}

/* Runs one request step; returns false when the task must end. */
static bool run_request(user *u, step *s)
{
    req_step *r = &s->r;
    if (!r->entry)
        r->entry = stats_entry_get(u->env->stats, r->method, r->name, user_now(u));
    http_result res;
    char err[256];
    int rc = user_http(u, &r->req, &res, err, sizeof err);
    if (rc == USER_CANCELLED)
        return false;
    if (rc != USER_OK) {
        user_exception(u, err, s->where);
        return false;
    }
    char text[512];
    /* Locust's HttpUser names the full URL in the error unless the request has a name. */
    bool failed = http_failure_text(&res, r->name_explicit ? r->name : r->abs_url, text,
                                    sizeof text);
    user_report(u, r->entry, res.rt_us, res.bytes, failed ? text : NULL);
    return true;
}

void interp_run(user *u, void *data)
{
    program *p = data;
    for (int i = 0; i < p->n; i++) {
        step *s = &p->steps[i];
        switch (s->kind) {
        case STEP_REQUEST:
            if (!run_request(u, s))
                return;
            break;
        case STEP_THINK: {
            double t = s->think.a;
            if (s->think.kind == WAIT_BETWEEN)
                t += (s->think.b - s->think.a) * rng_double();
            if (user_sleep(u, t) != USER_OK)
                return;
            break;
        }
        }
    }
}
