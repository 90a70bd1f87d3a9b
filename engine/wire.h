/* The wire protocol between a master and its workers (docs/protocol.md).
 *
 * Every message is one ZeroMQ frame holding one JSON object, {"type": T, "data": {...}}
 * (the master's ROUTER adds the worker's id frame in front). JSON and not Locust's
 * msgpack: the engine already parses and writes it without allocation per value, it can
 * be read in a packet capture, and a report every 3 s per worker is small. The version
 * travels in the hello and its answer; a peer of another version is refused there, so
 * no later message needs one.
 *
 * This module only builds and checks messages; sockets and timing are master.c's and
 * worker.c's. A message that does not parse or misses a field is an error for the caller
 * to log and drop: nothing here aborts on outside input. */
#ifndef CICADA_WIRE_H
#define CICADA_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"
#include "sbuf.h"
#include "stats.h"

#define WIRE_PROTOCOL 1
#define WIRE_MAX_MESSAGE (256u << 20)   /* bigger frames are refused unread */

enum wire_type {
    WIRE_UNKNOWN = 0,
    /* worker -> master */
    WIRE_HELLO,             /* {protocol, version, host, pid} */
    WIRE_HEARTBEAT,         /* {state, user_count, cpu, rss} */
    WIRE_SPAWNING,          /* {} a spawn order arrived */
    WIRE_SPAWNING_COMPLETE, /* {user_count, classes: {name: n}} */
    WIRE_STATS,             /* a stats report (wire_put_stats) */
    WIRE_STOPPED,           /* {} every user has stopped; the final report came first */
    WIRE_QUIT,              /* {} the worker is leaving (both directions) */
    WIRE_ERROR,             /* {message} the worker cannot do what it was asked */
    WIRE_END_TEST,          /* {reason} a task asked to end the whole test */
    /* master -> worker */
    WIRE_WELCOME,           /* {protocol, index} */
    WIRE_REFUSED,           /* {reason} */
    WIRE_SPAWN,             /* {test, counts, host, stop_timeout, [files, main, ...]} */
    WIRE_STOP,              /* {} */
    WIRE_PONG,              /* {} the answer to a heartbeat */
    WIRE_REREGISTER,        /* {} "who are you?": say hello again */
    WIRE_NTYPES
};

/* "hello", "heartbeat", ...; "unknown" for anything else. */
const char *wire_type_name(int type);

/* A parsed message. root owns everything; data is its "data" object. */
typedef struct wire_msg {
    json_value *root;
    int type;                  /* WIRE_UNKNOWN for a type this version does not know */
    const char *type_name;     /* as received (owned by root) */
    const json_value *data;    /* always an object */
} wire_msg;

/* Parses one frame. Returns 0, or -1 with one line in err (not JSON, not an object, no
 * string "type", "data" not an object). Free with wire_msg_free either way. */
int wire_parse(const void *buf, size_t len, wire_msg *m, char *err, size_t errlen);
void wire_msg_free(wire_msg *m);

/* Starts a message of the given type in b (reset first) and leaves w inside its data
 * object; wire_end closes it. */
void wire_begin(json_writer *w, sbuf *b, int type);
void wire_end(json_writer *w);

/* Field getters for a message's data: each returns 0 and sets *out, or -1 with
 * "field \"key\" must be ..." in err. Optional getters leave *out alone when absent. */
int wire_get_str(const json_value *d, const char *key, const char **out, char *err,
                 size_t errlen);
int wire_get_uint(const json_value *d, const char *key, uint64_t *out, char *err,
                  size_t errlen);
int wire_get_num(const json_value *d, const char *key, double *out, char *err, size_t errlen);
int wire_opt_num(const json_value *d, const char *key, double *out, char *err, size_t errlen);

/* Base64 (RFC 4648, with padding) of files, which may hold any bytes. decode returns 0,
 * or -1 for text that is not base64 (out then holds a prefix). */
void wire_b64_encode(sbuf *out, const void *data, size_t len);
int wire_b64_decode(sbuf *out, const char *text, size_t len);

/* Writes the stats report's fields into the current data object: every entry with
 * requests since the last reset (with its timing breakdown), the Aggregated entry,
 * failures and exceptions, so that the worker can stats_reset after sending (reports are
 * deltas). */
void wire_put_stats(json_writer *w, stats *s);

/* Merges a report into s, exceptions under node. The whole report is checked before
 * anything is merged: a malformed one changes nothing and returns -1 with one line in
 * err. */
int wire_merge_stats(stats *s, const json_value *data, const char *node, double now,
                     char *err, size_t errlen);

#endif
