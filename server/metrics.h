/* GET /metrics: the statistics in Prometheus' text exposition format (version 0.0.4),
 * so Grafana and Prometheus read cicada without an exporter. */
#ifndef CICADA_METRICS_H
#define CICADA_METRICS_H

#include "runner.h"
#include "sbuf.h"
#include "stats.h"

/* Appends every metric. runner may be NULL. */
void metrics_text(sbuf *out, stats *s, const runner *r, double now);

#endif
