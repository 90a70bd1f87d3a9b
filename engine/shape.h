/* Workload models as data: load shapes (Locust's LoadTestShape) and target request
 * rates (k6's constant and ramping arrival rate).
 *
 * A load shape is a list of stages, each lasting `duration` seconds with a target user
 * count, the spawn rate to reach it and optionally which classes get new users; the test
 * ends after the last stage. A rate is iterations (task runs) per second, constant or in
 * stages that ramp linearly from the previous stage's rate to their own over their
 * duration (k6's ramping-arrival-rate), with users started on demand up to a cap.
 *
 * Pure data and arithmetic: the runner drives the test from it. */
#ifndef CICADA_SHAPE_H
#define CICADA_SHAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"
#include "jsonck.h"

typedef struct shape_stage {
    double duration;        /* seconds, > 0 */
    unsigned users;         /* load shape: target users */
    double spawn_rate;      /* load shape: users per second, > 0 */
    double rate;            /* arrival rate: iterations per second at the stage's end */
    char **classes;         /* load shape: classes that get new users; NULL = all */
    int nclasses;
} shape_stage;

typedef struct shape {
    shape_stage *stages;    /* owned */
    int n;                  /* 0: no shape */
    double total;           /* sum of the durations */
} shape;

typedef struct arrival {
    bool on;                /* an open-model test */
    double start_rate;      /* iterations per second at the start of the first stage */
    shape stages;           /* rates; n == 0: constant start_rate for the whole test */
    unsigned max_users;     /* cap on users; 0: -u decides */
} arrival;

/* Parses a "stages" list of a scenario: [{"duration": 30 | "30s", "users": 10,
 * "spawn_rate": 5, "classes": ["A"]}, ...]. class_ok(name, data) says whether a class
 * exists. Returns 0, or -1 with "file:line:col: ..." in c's error buffer. */
int shape_from_json(jck *c, const json_value *v, bool (*class_ok)(const char *, void *),
                    void *data, shape *out);

/* Parses --stages: "DURATION:USERS:RATE[:Class+Class],..." ("30s:10:5,1m:50:10:Buyer").
 * Returns 0, or -1 with a message naming the flag in err. */
int shape_parse(const char *text, shape *out, char *err, size_t errlen);

/* The scenario's "arrival_rate": {"rate": 50} or {"start_rate": 0, "stages":
 * [{"duration": "1m", "rate": 100}, ...]}, with an optional "max_users". */
int arrival_from_json(jck *c, const json_value *v, arrival *out);

/* The stage running `elapsed` seconds into the test: its index, or -1 after the last. */
int shape_stage_at(const shape *s, double elapsed);

/* Iterations due in the first `elapsed` seconds of an open-model test (the integral of
 * the rate), and the rate at that moment. Past the last stage the rate is 0. */
double arrival_due(const arrival *a, double elapsed);
double arrival_rate_at(const arrival *a, double elapsed);
/* Length of the open-model test from its stages; 0 for a constant rate (no end). */
double arrival_length(const arrival *a);

void shape_free(shape *s);
void arrival_free(arrival *a);
/* A deep copy into out. */
void shape_copy(shape *out, const shape *s);

#endif
