/* The C API of include/cicada.h, on the engine's user API (user.h): what a C locustfile's
 * tasks call, and the registry its setup function fills.
 *
 * A C class's task is a utask whose fn is capi_run_task and whose data is the plugin's
 * function; a C user's per-user state (context memory, variables, its request buffers)
 * lives in user.vars and is freed by capi_user_cleanup. Requests are reported through
 * user_report, like the JSON interpreter's, so both kinds of class land in the same
 * statistics. */
#ifndef CICADA_CAPI_H
#define CICADA_CAPI_H

#include <stddef.h>

#include "cicada.h"
#include "user.h"

/* A class as registered (a copy of the plugin's cicada_class; strings owned). */
typedef struct capi_class {
    cicada_class c;
    cicada_task *tasks;     /* owned copies (names and tags owned) */
} capi_class;

typedef struct capi_hook {
    enum cicada_event ev;
    cicada_hook_fn fn;
    void *data;
} capi_hook;

struct cicada_registry {
    const char *file;       /* for messages (borrowed) */
    capi_class *classes;    /* owned */
    int nclasses;
    capi_hook *hooks;       /* owned */
    int nhooks;
    int errors;             /* cicada_add_class refusals (logged) */
};

/* Frees what a registry owns (not the struct). */
void capi_registry_free(cicada_registry *r);

/* The utask function of C tasks, on_start and on_stop: data is the cicada_task_fn. */
void capi_run_task(user *u, void *data);
/* uclass.user_cleanup of C classes. */
void capi_user_cleanup(user *u);

/* Events from the program (on the loop). Hooks of every loaded plugin are called. */
void capi_add_hooks(const cicada_registry *r);
void capi_fire(enum cicada_event ev);
/* Forgets every registered hook (the process ends, or a worker drops a test). */
void capi_clear_hooks(void);

/* {{worker_index}} for C users. */
void capi_set_worker_index(unsigned index);

#endif
