/* Locust's time-span strings ("20", "90m", "1h30m", "3h30m10s"), parsed strictly.
 *
 * Locust matches its pattern without an end anchor, so "1m30" silently means 60 seconds
 * and "5s30m" means 5. Here the whole string must match, so such typos are errors. */
#ifndef CICADA_TIMESPAN_H
#define CICADA_TIMESPAN_H

/* Parses a run time: digits only are seconds ("20"); otherwise [<n>h][<n>m][<n>s] in that
 * order with at least one part ("1h30m" = 5400, "90m" = 5400, "300s"). No sign, spaces,
 * fractions or other units. Returns 0 and stores whole seconds in *seconds, or -1 (and
 * leaves *seconds alone) for anything else, including a total that overflows a long. */
int timespan_parse(const char *s, long *seconds);

/* Parses a duration for --stop-timeout: a non-negative decimal number of seconds ("2",
 * "2.5", ".5") or a time span as accepted by timespan_parse ("1m"). Returns 0 and stores
 * the seconds in *out, or -1 (and leaves *out alone). */
int timespan_parse_seconds(const char *s, double *out);

#endif
