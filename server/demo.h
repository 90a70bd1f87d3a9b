/* The built-in demo target (--demo-target): a small shop-like JSON web app to point a
 * load test at, so `make run` shows realistic numbers without any other software.
 *
 * Endpoints (GET / lists them): /health, /api/products, /api/products/{id},
 * /api/search?q=, /api/login, /api/cart, /api/checkout, /api/logout, with random
 * latencies (timers on the loop, never sleeps) and occasional 503/500 errors; plus
 * GET /__demo/stats and POST /__demo/reset, which are not counted, so end-to-end tests
 * can compare what cicada reports with what the target received. */
#ifndef CICADA_DEMO_H
#define CICADA_DEMO_H

/* Serves the demo app on hostport ("PORT", "HOST:PORT" or "[IPv6]:PORT"; the host
 * defaults to 127.0.0.1, "*" means all interfaces; port 0 picks a free one, shown in
 * the "Demo target listening on http://..." log line) until SIGINT or SIGTERM. Returns
 * the process exit code: 0, or 1 after printing one "cicada: error: --demo-target ..."
 * line on stderr when it cannot start. */
int demo_main(const char *hostport);

#endif
