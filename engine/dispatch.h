/* User dispatch: how many users of each class run on each worker, as Locust 2.12's
 * UsersDispatcher decides it.
 *
 * A pure state machine (no loop, no I/O, no clock) shared by the local runner (one worker)
 * and the master (any number of workers):
 * - classes are taken in name order; classes with fixed_count > 0 are topped up first, by
 *   a smooth weighted round-robin over their fixed counts, then the others follow a smooth
 *   weighted round-robin (nginx style) over round(2 * weight / smallest weight);
 *   a class with weight 0 and fixed_count 0 never gets users;
 * - workers are ordered by (index of the worker within its host, id), where the host is
 *   the id up to its first '_', and take users by a round-robin that runs on across ramps;
 * - a ramp to a new target (dispatch_start) is a series of iterations of
 *   max(1, floor(spawn_rate)) users; ramp-down removes users in the reverse order they
 *   were added;
 * - adding or removing a worker recomputes the distribution from zero over the current
 *   workers at once.
 *
 * The map is read through accessors; worker and class indexes are positions in the
 * sorted orders above. Nothing is allocated per iteration, except that the record of
 * added users grows geometrically the first time the user count reaches a new high. */
#ifndef CICADA_DISPATCH_H
#define CICADA_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

/* One user class as given to dispatch_new. The name is copied. */
typedef struct dispatch_class {
    const char *name;      /* non-empty, unique */
    double weight;         /* finite, >= 0; ignored when fixed_count > 0 */
    unsigned fixed_count;  /* > 0: run exactly this many users of the class in total */
} dispatch_class;

/* The dispatcher (opaque). Owns copies of every class name and worker id. */
typedef struct dispatch dispatch;

/* Creates a dispatcher over nclasses classes (at least one) and nworkers initial worker
 * ids (may be 0; the local runner passes one, "local"). Both arrays are only read during
 * the call. Returns NULL with one line in err on a missing or duplicate class name, a
 * weight that is negative or not finite, a weight more than 1e9 times the smallest
 * non-zero weight, or an empty or duplicate worker id. Free with dispatch_free. */
dispatch *dispatch_new(const dispatch_class *classes, size_t nclasses,
                       const char *const *workers, size_t nworkers, char *err, size_t errlen);

/* Frees the dispatcher and everything it owns. NULL is allowed. */
void dispatch_free(dispatch *d);

/* Begins a ramp ("dispatch cycle") from the current map to target users at spawn_rate
 * users per second; the next dispatch_next call yields its first iteration at once. May
 * be called mid-ramp: the new ramp continues from the current map.
 * subset (nsubset names, only read during the call) restricts which classes get new
 * users, as a load-shape stage may; NULL keeps the previous restriction (initially all
 * classes). Users of other classes stay until a ramp-down or a rebalance removes them.
 * Returns 0, or -1 with one line in err (nothing changed) when spawn_rate is not a
 * number > 0 (or so small that 1 / spawn_rate overflows) or a subset name is unknown or
 * repeated. */
int dispatch_start(dispatch *d, unsigned target, double spawn_rate,
                   const char *const *subset, size_t nsubset, char *err, size_t errlen);

/* Computes the next iteration of the current ramp and makes it the current map. Returns
 * true and sets *delay to the seconds to wait, counted from when this iteration began,
 * before calling again (0 after the last iteration); returns false, with *delay = 0,
 * when the ramp is over (or none was started, or there is no worker): the map is then
 * unchanged. A ramp whose target is the current count yields the unchanged map once.
 * delay may be NULL. */
bool dispatch_next(dispatch *d, double *delay);

/* True from dispatch_start until dispatch_next has returned false. */
bool dispatch_in_progress(const dispatch *d);

/* Adds a worker (id is copied) and recomputes the distribution of the current user
 * count from zero over all workers; the result is the current map at once, and a ramp in
 * progress continues from it. Worker indexes change. Returns 0, or -1 with one line in
 * err (nothing changed) when the id is empty or already present. */
int dispatch_add_worker(dispatch *d, const char *id, char *err, size_t errlen);

/* Removes a worker and recomputes as dispatch_add_worker does. The other workers keep
 * their order (Locust re-sorts only when a worker joins). Removing the last worker leaves
 * no worker and no user. Returns 0, or -1 with one line in err (nothing changed)
 * when no worker has that id. */
int dispatch_remove_worker(dispatch *d, const char *id, char *err, size_t errlen);

/* Number of workers. */
size_t dispatch_worker_count(const dispatch *d);

/* Id of worker w (w < dispatch_worker_count), owned by the dispatcher and valid until
 * that worker is removed or the dispatcher is freed. */
const char *dispatch_worker_id(const dispatch *d, size_t w);

/* Finds a worker by id: returns true and sets *w to its index. */
bool dispatch_find_worker(const dispatch *d, const char *id, size_t *w);

/* Number of classes (all of those given to dispatch_new, including weight-0 ones). */
size_t dispatch_class_count(const dispatch *d);

/* Name of class c, in name order; owned by the dispatcher, valid until dispatch_free. */
const char *dispatch_class_name(const dispatch *d, size_t c);

/* Finds a class by name: returns true and sets *c to its index. */
bool dispatch_find_class(const dispatch *d, const char *name, size_t *c);

/* The current map row of worker w: dispatch_class_count() user counts, one per class.
 * Owned by the dispatcher; valid until the next call that changes the map or the
 * workers (dispatch_next, dispatch_add_worker, dispatch_remove_worker). */
const unsigned *dispatch_worker_users(const dispatch *d, size_t w);

/* Users on worker w, all classes together. */
unsigned dispatch_worker_total(const dispatch *d, size_t w);

/* Users of class c, all workers together. */
unsigned dispatch_class_total(const dispatch *d, size_t c);

/* Users in the current map. */
unsigned dispatch_user_count(const dispatch *d);

/* Target of the latest dispatch_start (0 before any). */
unsigned dispatch_target(const dispatch *d);

/* The class distribution Locust's --show-task-ratio reports for `users` users (0 means
 * Locust's default: the sum of the weights, or 1 if any class has a fixed_count): a
 * fixed class counts fixed_count; each other class round(weight / total weight *
 * (users - fixed total)), rounding half to even. Writes n counts to out (caller-owned, in
 * the order of classes). */
void dispatch_ratio_counts(const dispatch_class *classes, size_t n, unsigned users,
                           unsigned *out);

#endif
