/* Tests for engine/zsock.c: a ROUTER and a DEALER, each watched with zsock_init on one
 * libev loop, over TCP on the loopback interface as a master and its workers are. What
 * matters is that no message is ever stranded: ZMQ_FD is edge-triggered and a send can
 * swallow the edge of a message that arrived meanwhile, so a watcher that only waits on
 * the descriptor hangs. Every wait here has a watchdog, so such a hang fails the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <zmq.h>

#include "loopback.h"
#include "zsock.h"

/* A side of the connection: its zsock, what its callback read, and how. */
struct side {
    zsock z;
    const char *name;
    size_t max;             /* zsock_recv's limit */
    int batch;              /* messages read per callback at most */
    int calls;              /* callbacks */
    int got;                /* messages read */
    int bad;                /* zsock_recv returned -1 */
    char last[256];         /* the last message's payload */
    char last_id[64];       /* ROUTER: its routing id */
    size_t last_len;
    int seq_errors;         /* a burst arrived out of order */
    bool echo;              /* answer every message (ping-pong) */
    int echo_limit;         /* stop answering after this many */
    bool close_in_cb;       /* zsock_close from the callback */
};

static void *ctx;
static struct side R, D;    /* the ROUTER (master's side) and the DEALER (a worker's) */
static char endpoint[256];
static void *peers[4];      /* raw peers (raw_dealer) */
static int npeers;

static void on_readable(zsock *z, void *data)
{
    struct side *s = data;
    assert_ptr_equal(z, &s->z);
    s->calls++;
    for (int i = 0; i < s->batch; i++) {
        int rc = zsock_recv(z, s->max);
        if (rc == 0)
            return;
        if (rc < 0) {
            s->bad++;
            continue;
        }
        /* A burst carries its index: it must arrive whole and in order. */
        int seq;
        if (sscanf(sbuf_str(&z->msg), "burst %d", &seq) == 1 && seq != s->got)
            s->seq_errors++;
        s->got++;
        s->last_len = z->msg.len;
        snprintf(s->last, sizeof s->last, "%s", sbuf_str(&z->msg));
        if (z->router)
            snprintf(s->last_id, sizeof s->last_id, "%.*s", (int)z->id.len, z->id.s);
        if (s->echo && s->got <= s->echo_limit) {
            char out[64];
            int n = snprintf(out, sizeof out, "%s %d", s->name, s->got);
            assert_int_equal(zsock_send(z, z->router ? z->id.s : NULL, z->id.len, out,
                                        (size_t)n), 0);
        }
        if (s->close_in_cb) {
            zsock_close(z, 0);
            return;
        }
    }
}

static void side_init(struct side *s, const char *name, void *sock, bool router)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->max = 1 << 20;
    s->batch = 16;
    zsock_init(&s->z, loop, sock, router, on_readable, s);
}

static int setup(void **state)
{
    (void)state;
    alarm(20); /* last resort if the loop itself stops turning */
    loop = ev_loop_new(EVFLAG_AUTO);
    ev_init(&watchdog, watchdog_cb);
    ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1;
    zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    /* libzmq takes "*" for an ephemeral port (not 0) and tells which in LAST_ENDPOINT. */
    assert_int_equal(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof endpoint;
    assert_int_equal(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &len), 0);
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "dealer-1", 8);
    assert_int_equal(zmq_connect(dealer, endpoint), 0);
    side_init(&R, "router", router, true);
    side_init(&D, "dealer", dealer, false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zsock_close(&R.z, 0);
    zsock_close(&D.z, 0);
    while (npeers)
        zmq_close(peers[--npeers]);
    zmq_ctx_term(ctx);
    ev_loop_destroy(loop);
    alarm(0);
    return 0;
}

/* A DEALER that is not on the loop, as a misbehaving peer; teardown closes it (a socket
 * left open would hold zmq_ctx_term forever). */
static void *raw_dealer(const char *id)
{
    assert_true(npeers < 4);
    void *s = peers[npeers++] = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static void send_str(zsock *z, const char *id, const char *text)
{
    if (zsock_send(z, id, id ? strlen(id) : 0, text, strlen(text)) != 0)
        fail_msg("zsock_send(%s): %s", text, zmq_strerror(errno));
}

/* ---- both ways ---------------------------------------------------------------------- */

static void test_both_ways(void **state)
{
    (void)state;
    send_str(&D.z, NULL, "hello");
    RUN_UNTIL(R.got == 1, 2);
    assert_string_equal(R.last, "hello");
    assert_string_equal(R.last_id, "dealer-1");
    assert_string_equal(sbuf_str(&R.z.id), "dealer-1");
    assert_int_equal(R.bad, 0);

    send_str(&R.z, "dealer-1", "welcome");
    RUN_UNTIL(D.got == 1, 2);
    assert_string_equal(D.last, "welcome");
    assert_int_equal(D.z.id.len, 0);  /* a DEALER has no id frame */

    /* An empty payload is a message too, read as "". */
    assert_int_equal(zsock_send(&D.z, NULL, 0, "", 0), 0);
    RUN_UNTIL(R.got == 2, 2);
    assert_int_equal(R.last_len, 0);
    assert_string_equal(sbuf_str(&R.z.msg), "");

    /* Bytes of any value come through, and z->msg is NUL-terminated after them. */
    const char bin[] = {'a', 0, (char)0xff, 'b'};
    assert_int_equal(zsock_send(&R.z, "dealer-1", 8, bin, sizeof bin), 0);
    RUN_UNTIL(D.got == 2, 2);
    assert_int_equal(D.z.msg.len, sizeof bin);
    assert_memory_equal(D.z.msg.s, bin, sizeof bin);
    assert_int_equal(D.z.msg.s[sizeof bin], 0);

    /* A ROUTER send to nobody fails at once (the master's sockets are mandatory). */
    errno = 0;
    assert_int_equal(zsock_send(&R.z, "nobody", 6, "x", 1), -1);
    assert_int_equal(errno, EHOSTUNREACH);

    /* Nothing waiting: zsock_recv says so without blocking. */
    assert_int_equal(zsock_recv(&R.z, 100), 0);
    assert_int_equal(zsock_recv(&D.z, 100), 0);
}

static void test_wakes_a_blocked_loop(void **state)
{
    (void)state;
    /* A peer outside the loop sends while the loop sleeps in the kernel: the descriptor's
     * edge must wake it (not only the idle watcher of a message already queued). */
    void *peer = raw_dealer("outsider");
    assert_int_equal(zmq_send(peer, "first", 5, 0), 5);
    RUN_UNTIL(R.got == 1, 2);
    assert_string_equal(R.last_id, "outsider");
    for (int i = 0; i < 3; i++) {
        run_for(0.1);  /* the loop blocks: nothing is waiting */
        char text[16];
        int n = snprintf(text, sizeof text, "late %d", i);
        assert_int_equal(zmq_send(peer, text, (size_t)n, 0), n);
        RUN_UNTIL(R.got == 2 + i, 2);
        assert_string_equal(R.last, text);
    }
    /* And the other way: a raw ROUTER send reaches the DEALER's callback. */
    send_str(&R.z, "outsider", "to outsider");
    char buf[32] = "";
    zmq_pollitem_t pi = {.socket = peer, .events = ZMQ_POLLIN};
    assert_int_equal(zmq_poll(&pi, 1, 2000), 1);
    assert_int_equal(zmq_recv(peer, buf, sizeof buf - 1, 0), 11);
    assert_string_equal(buf, "to outsider");
}

/* ---- bursts and batches ------------------------------------------------------------- */

static void test_burst_larger_than_a_batch(void **state)
{
    (void)state;
    enum { N = 500 };
    D.batch = 7;
    R.batch = 7;
    /* Queued before the loop runs: after the first callback no new edge may come, so the
     * rest must be found by asking ZMQ_EVENTS. */
    for (int i = 0; i < N; i++) {
        char text[32];
        snprintf(text, sizeof text, "burst %d", i);
        send_str(&D.z, NULL, text);
    }
    RUN_UNTIL(R.got == N, 3);
    assert_int_equal(R.seq_errors, 0);
    assert_int_equal(R.bad, 0);
    /* A batch is the most one callback reads, so others get their turn between them. */
    assert_true(R.calls >= (N + 6) / 7);
    for (int i = 0; i < N; i++) {
        char text[32];
        snprintf(text, sizeof text, "burst %d", i);
        send_str(&R.z, "dealer-1", text);
    }
    RUN_UNTIL(D.got == N, 3);
    assert_int_equal(D.seq_errors, 0);
    assert_true(D.calls >= (N + 6) / 7);
    /* All read: a further turn of the loop finds nothing more. */
    int calls = R.calls + D.calls;
    run_for(0.1);
    assert_int_equal(R.got, N);
    assert_int_equal(D.got, N);
    assert_int_equal(R.calls + D.calls, calls);
}

static void test_burst_arriving_while_reading(void **state)
{
    (void)state;
    /* One message read per callback, while the rest keeps coming in from outside. */
    enum { N = 300 };
    R.batch = 1;
    void *peer = raw_dealer("pusher");
    for (int i = 0; i < N; i++) {
        char text[32];
        int n = snprintf(text, sizeof text, "burst %d", i);
        assert_int_equal(zmq_send(peer, text, (size_t)n, 0), n);
        if (i % 50 == 0)
            ev_run(loop, EVRUN_NOWAIT);
    }
    RUN_UNTIL(R.got == N, 3);
    assert_int_equal(R.seq_errors, 0);
    assert_true(R.calls >= N);
}

/* ---- sends from callbacks ----------------------------------------------------------- */

static void test_send_from_callback_wakes_the_other_side(void **state)
{
    (void)state;
    /* Each side answers from inside its callback. A send processes the socket's commands
     * and can consume the edge on ZMQ_FD of the answer that is already on its way: a
     * watcher relying on that edge alone stops here with both sides waiting. */
    enum { ROUNDS = 400 };
    R.echo = D.echo = true;
    R.echo_limit = D.echo_limit = ROUNDS;
    R.batch = D.batch = 1;
    send_str(&D.z, NULL, "start");
    RUN_UNTIL(R.got == ROUNDS + 1 && D.got == ROUNDS, 5);
    assert_string_equal(D.last, "router 400");
    assert_string_equal(R.last, "dealer 400");
    assert_int_equal(R.bad + D.bad, 0);
}

static void test_send_from_callback_bigger_batches(void **state)
{
    (void)state;
    /* The same with several ping-pongs in flight and batches that read them together. */
    enum { ROUNDS = 300, FLIGHT = 8 };
    R.echo = D.echo = true;
    R.echo_limit = ROUNDS * FLIGHT;
    D.echo_limit = ROUNDS * FLIGHT;
    R.batch = 3;
    D.batch = 5;
    for (int i = 0; i < FLIGHT; i++)
        send_str(&D.z, NULL, "start");
    RUN_UNTIL(R.got >= ROUNDS * FLIGHT && D.got >= ROUNDS * FLIGHT, 5);
    assert_int_equal(R.bad + D.bad, 0);
}

/* ---- malformed messages ------------------------------------------------------------- */

static void test_recv_malformed(void **state)
{
    (void)state;
    void *peer = raw_dealer("sender");
    /* Two frames from a DEALER: a ROUTER reads [id, a, b], one frame too many. */
    assert_int_equal(zmq_send(peer, "a", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(peer, "b", 1, 0), 1);
    assert_int_equal(zmq_send(peer, "after", 5, 0), 5);
    RUN_UNTIL(R.bad == 1 && R.got == 1, 2);
    /* The bad message's frames were all discarded: the next one reads whole. */
    assert_string_equal(R.last, "after");
    assert_string_equal(R.last_id, "sender");

    /* Three frames, and one with many. */
    assert_int_equal(zmq_send(peer, "a", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(peer, "b", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(peer, "c", 1, 0), 1);
    for (int i = 0; i < 40; i++)
        assert_int_equal(zmq_send(peer, "x", 1, i < 39 ? ZMQ_SNDMORE : 0), 1);
    assert_int_equal(zmq_send(peer, "after 2", 7, 0), 7);
    RUN_UNTIL(R.bad == 3 && R.got == 2, 2);
    assert_string_equal(R.last, "after 2");

    /* Bigger than max: refused whether it is the payload or (on a ROUTER) the id. */
    R.max = 16;
    char big[18];
    memset(big, 'B', 17);
    big[17] = 0;
    assert_int_equal(zmq_send(peer, big, 17, 0), 17);
    assert_int_equal(zmq_send(peer, big, 16, 0), 16);
    RUN_UNTIL(R.bad == 4 && R.got == 3, 2);
    assert_int_equal(R.last_len, 16);  /* exactly max is fine */
    void *long_id = raw_dealer("an-id-longer-than-sixteen-bytes");
    assert_int_equal(zmq_send(long_id, "small", 5, 0), 5);
    assert_int_equal(zmq_send(peer, "fine", 4, 0), 4);
    RUN_UNTIL(R.bad == 5 && R.got == 4, 2);
    assert_string_equal(R.last, "fine");
    assert_string_equal(R.last_id, "sender");

    /* A DEALER gets one frame per message: a ROUTER sending two is malformed. */
    D.max = 16;
    assert_int_equal(zmq_send(R.z.sock, "dealer-1", 8, ZMQ_SNDMORE), 8);
    assert_int_equal(zmq_send(R.z.sock, "p", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(R.z.sock, "q", 1, 0), 1);
    send_str(&R.z, "dealer-1", big + 1);  /* 16 bytes */
    send_str(&R.z, "dealer-1", big);      /* 17 */
    send_str(&R.z, "dealer-1", "ok");
    RUN_UNTIL(D.bad == 2 && D.got == 2, 2);
    assert_string_equal(D.last, "ok");
}

/* ---- closing ------------------------------------------------------------------------ */

/* True when the loop has nothing left to watch: ev_run returns at once. The watchdog is
 * unreferenced so it does not count, yet still ends a loop that would not return. */
static bool loop_is_empty(void)
{
    expired = false;
    ev_now_update(loop);
    ev_timer_set(&watchdog, 0.3, 0.);
    ev_timer_start(loop, &watchdog);
    ev_unref(loop);
    ev_run(loop, 0);
    ev_ref(loop);
    ev_timer_stop(loop, &watchdog);
    return !expired;
}

static void test_close_stops_watchers(void **state)
{
    (void)state;
    send_str(&D.z, NULL, "one");
    RUN_UNTIL(R.got == 1, 2);
    assert_false(loop_is_empty());
    zsock_close(&R.z, 0);
    assert_null(R.z.sock);
    assert_false(ev_is_active(&R.z.prepare) || ev_is_active(&R.z.check) ||
                 ev_is_active(&R.z.idle) || ev_is_active(&R.z.io));
    /* The DEALER still watches; a message for the closed ROUTER runs nothing. */
    send_str(&D.z, NULL, "two");
    run_for(0.2);
    assert_int_equal(R.got, 1);
    assert_int_equal(R.calls, 1);
    zsock_close(&D.z, 0);
    assert_true(loop_is_empty());
    /* Closing twice is harmless (teardown closes again). */
    zsock_close(&D.z, 0);
}

static void test_close_from_callback(void **state)
{
    (void)state;
    /* A callback may close its own zsock (the worker ends from a message); the messages
     * still queued are not read and no callback follows. */
    R.close_in_cb = true;
    for (int i = 0; i < 5; i++)
        send_str(&D.z, NULL, "bye");
    RUN_UNTIL(R.got == 1, 2);
    run_for(0.2);
    assert_int_equal(R.got, 1);
    assert_int_equal(R.calls, 1);
    assert_null(R.z.sock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wakes_a_blocked_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_larger_than_a_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_arriving_while_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_from_callback_wakes_the_other_side, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_send_from_callback_bigger_batches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recv_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_stops_watchers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
