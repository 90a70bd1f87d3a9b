#include "zsock.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#define ZSOCK_OF(ptr, field) ((zsock *)((char *)(ptr) - offsetof(zsock, field)))

static bool readable(zsock *z)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(z->sock, ZMQ_EVENTS, &events, &len) != 0)
        return false;
    return (events & ZMQ_POLLIN) != 0;
}

static void noop_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static void noop_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)revents;
    zsock *z = ZSOCK_OF(w, prepare);
    if (readable(z))
        ev_idle_start(loop, &z->idle);
    else
        ev_io_start(loop, &z->io);
}

static void check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)revents;
    zsock *z = ZSOCK_OF(w, check);
    ev_idle_stop(loop, &z->idle);
    ev_io_stop(loop, &z->io);
    if (readable(z))
        z->cb(z, z->data);
}

void zsock_init(zsock *z, struct ev_loop *loop, void *sock, bool router, zsock_cb cb,
                void *data)
{
    memset(z, 0, sizeof *z);
    z->sock = sock;
    z->loop = loop;
    z->cb = cb;
    z->data = data;
    z->router = router;
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    int fd = -1;
    size_t len = sizeof fd;
    zmq_getsockopt(sock, ZMQ_FD, &fd, &len);
    ev_prepare_init(&z->prepare, prepare_cb);
    ev_check_init(&z->check, check_cb);
    ev_idle_init(&z->idle, noop_idle);
    ev_io_init(&z->io, noop_io, fd, EV_READ);
    ev_prepare_start(loop, &z->prepare);
    ev_check_start(loop, &z->check);
}

void zsock_close(zsock *z, int linger_ms)
{
    if (!z->sock)
        return;
    zmq_setsockopt(z->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    ev_prepare_stop(z->loop, &z->prepare);
    ev_check_stop(z->loop, &z->check);
    ev_idle_stop(z->loop, &z->idle);
    ev_io_stop(z->loop, &z->io);
    zmq_close(z->sock);
    z->sock = NULL;
    sbuf_free(&z->id);
    sbuf_free(&z->msg);
}

int zsock_recv(zsock *z, size_t max)
{
    bool more = false;
    int frames = 0;
    bool bad = false;
    for (;;) {
        /* ROUTER: [id, payload]; DEALER: [payload]. Anything else is discarded. */
        sbuf *into = NULL;
        if (frames == 0 && z->router)
            into = &z->id;
        else if (frames == (z->router ? 1 : 0))
            into = &z->msg;
        zmq_msg_t m;
        zmq_msg_init(&m);
        int n = zmq_msg_recv(&m, z->sock, ZMQ_DONTWAIT);
        if (n < 0) {
            zmq_msg_close(&m);
            if (frames == 0)
                return 0;
            /* More was promised: libzmq delivers whole messages, so this cannot happen;
             * treat it as malformed rather than wait. */
            return -1;
        }
        more = zmq_msg_more(&m) != 0;
        if (into && (size_t)n <= max) {
            sbuf_reset(into);
            sbuf_add(into, zmq_msg_data(&m), zmq_msg_size(&m));
        } else {
            bad = true;
        }
        zmq_msg_close(&m);
        frames++;
        if (!more)
            break;
    }
    return bad || frames != (z->router ? 2 : 1) ? -1 : 1;
}

int zsock_send(zsock *z, const void *id, size_t idlen, const void *buf, size_t len)
{
    if (z->router && zmq_send(z->sock, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    return zmq_send(z->sock, buf, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}
