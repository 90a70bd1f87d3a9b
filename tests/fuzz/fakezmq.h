/* The socket layer below engine/master.c and engine/worker.c, replaced for their fuzz
 * targets: zsock_* and the few zmq_* calls that set a socket up. A real context and
 * socket per input cost milliseconds, and the module must start afresh for each input so
 * that a finding replays. The messages a target feeds are in `in`: frames separated by
 * NUL bytes (JSON text holds none). Every message the module sends must parse. */
#ifndef CICADA_FAKEZMQ_H
#define CICADA_FAKEZMQ_H

#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "wire.h"
#include "zsock.h"

static struct {
    const uint8_t *p, *end;     /* messages not yet read */
} in;
static zsock *fake_z;           /* the module's socket: its callback reads a batch */

void zsock_init(zsock *z, struct ev_loop *loop, void *sock, bool router, zsock_cb cb,
                void *data)
{
    memset(z, 0, sizeof *z);
    z->sock = sock;
    z->loop = loop;
    z->router = router;
    z->cb = cb;
    z->data = data;
    fake_z = z;
}

static int fake_ctx, fake_sock;

void *zmq_ctx_new(void)
{
    return &fake_ctx;
}

int zmq_ctx_term(void *ctx)
{
    return ctx == &fake_ctx ? 0 : (abort(), -1);
}

void *zmq_socket(void *ctx, int type)
{
    (void)type;
    return ctx == &fake_ctx ? &fake_sock : (abort(), NULL);
}

int zmq_setsockopt(void *s, int option, const void *value, size_t len)
{
    (void)option;
    return s == &fake_sock && value && len ? 0 : (abort(), -1);
}

int zmq_bind(void *s, const char *endpoint)
{
    return s == &fake_sock && endpoint ? 0 : (abort(), -1);
}

int zmq_connect(void *s, const char *endpoint)
{
    return s == &fake_sock && endpoint ? 0 : (abort(), -1);
}

int zmq_close(void *s)
{
    return s == &fake_sock ? 0 : (abort(), -1);
}

const char *zmq_strerror(int errnum)
{
    (void)errnum;
    return "fake";
}

void zsock_close(zsock *z, int linger_ms)
{
    (void)linger_ms;
    zmq_close(z->sock);
    sbuf_free(&z->id);
    sbuf_free(&z->msg);
}

int zsock_recv(zsock *z, size_t max)
{
    if (in.p >= in.end)
        return 0;
    const uint8_t *nul = memchr(in.p, 0, (size_t)(in.end - in.p));
    const uint8_t *stop = nul ? nul : in.end, *msg = in.p;
    in.p = nul ? nul + 1 : in.end;
    if (stop == msg)
        return -1;   /* as an empty frame list */
    /* A ROUTER's message starts with a byte that picks its sender; a DEALER's has none. */
    static const char *const ids[] = {"host-1_abc", "host-2_def", "host-3_ghi", "w\x01"};
    if (z->router) {
        sbuf_reset(&z->id);
        sbuf_puts(&z->id, ids[msg[0] % 4]);
        msg++;
    }
    sbuf_reset(&z->msg);
    sbuf_add(&z->msg, msg, (size_t)(stop - msg));
    return z->msg.len > max ? -1 : 1;
}

int zsock_send(zsock *z, const void *id, size_t idlen, const void *buf, size_t len)
{
    (void)z, (void)id, (void)idlen;
    wire_msg m;
    char err[256];
    if (wire_parse(buf, len, &m, err, sizeof err) != 0 || m.type == WIRE_UNKNOWN) {
        fprintf(stderr, "sent a malformed message: %s\n%.*s\n", err, (int)len,
                (const char *)buf);
        abort();
    }
    wire_msg_free(&m);
    return 0;
}

/* Feeds data as the module's incoming messages, through its own read callback. */
static inline void fake_deliver(const uint8_t *data, size_t size)
{
    in.p = data;
    in.end = data + size;
    while (in.p < in.end)
        fake_z->cb(fake_z, fake_z->data);
}

#endif
