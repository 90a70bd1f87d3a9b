/* A ZeroMQ socket on the engine's libev loop.
 *
 * ZMQ_FD signals edge-triggered and may be readable with no message waiting, so the
 * socket is watched the way INTEGRATION-NOTES.md §2(c) describes: before the loop blocks
 * (prepare) ZMQ_EVENTS is read; with a message waiting an idle watcher keeps the loop
 * from blocking, otherwise an io watcher on ZMQ_FD wakes it on the next edge; after it
 * wakes (check) the callback runs when ZMQ_EVENTS says a message is there. Sends made
 * anywhere in between are therefore never stranded. The callback should read a bounded
 * batch (zsock_recv until it returns 0 or a batch limit) so other watchers keep turning.
 *
 * Frames are read into buffers the watcher keeps and reuses: nothing is allocated per
 * message once the buffers have grown to the largest message seen. */
#ifndef CICADA_ZSOCK_H
#define CICADA_ZSOCK_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "sbuf.h"

typedef struct zsock zsock;
typedef void (*zsock_cb)(zsock *z, void *data);

struct zsock {
    void *sock;             /* the ZeroMQ socket (owned: closed by zsock_close) */
    struct ev_loop *loop;
    zsock_cb cb;
    void *data;
    ev_prepare prepare;
    ev_check check;
    ev_idle idle;
    ev_io io;
    sbuf id;                /* ROUTER: the routing id of the last message read */
    sbuf msg;               /* the payload of the last message read (NUL-terminated) */
    bool router;
};

/* Watches sock (a ROUTER or DEALER, already bound or connected; ownership passes to z)
 * on loop: cb runs on the loop when at least one message can be read. */
void zsock_init(zsock *z, struct ev_loop *loop, void *sock, bool router, zsock_cb cb,
                void *data);

/* Stops watching and closes the socket. Unsent messages are kept for at most linger_ms
 * (zmq_ctx_term waits that long), so a dead peer cannot hold up the end. */
void zsock_close(zsock *z, int linger_ms);

/* Reads one message without blocking into z->msg (and z->id for a ROUTER). Returns 1 when
 * a message was read, 0 when none is waiting, -1 for a malformed one (wrong number of
 * frames, or bigger than max bytes: its frames are discarded). */
int zsock_recv(zsock *z, size_t max);

/* Sends one message without blocking: to the peer with routing id `id` on a ROUTER, or to
 * the connected peer (id NULL) on a DEALER. Returns 0, or -1 with errno (EHOSTUNREACH: no
 * such peer; EAGAIN: its queue is full). */
int zsock_send(zsock *z, const void *id, size_t idlen, const void *buf, size_t len);

#endif
