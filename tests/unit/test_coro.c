/* Coroutines: switching, pooling, and that the stack really is separate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "coro.h"

static int trace[64];
static int ntrace;

static void counter(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        trace[ntrace++] = i;
        coro_yield();
    }
}

static void test_yield_and_finish(void **state)
{
    (void)state;
    ntrace = 0;
    int n = 3;
    coro *c = coro_new(counter, &n, "counter");
    assert_false(coro_resume(c));
    assert_int_equal(ntrace, 1);
    assert_false(coro_resume(c));
    assert_false(coro_resume(c));
    assert_int_equal(ntrace, 3);
    assert_true(coro_resume(c)); /* loop ends, fn returns */
    for (int i = 0; i < 3; i++)
        assert_int_equal(trace[i], i);
    coro_pool_release();
}

struct pingpong {
    int id;
    int *log;
    int *pos;
};

static void pp(void *arg)
{
    struct pingpong *p = arg;
    for (int i = 0; i < 4; i++) {
        p->log[(*p->pos)++] = p->id * 10 + i;
        coro_yield();
    }
}

static void test_interleaving(void **state)
{
    (void)state;
    int log[16], pos = 0;
    struct pingpong a = {1, log, &pos}, b = {2, log, &pos};
    coro *ca = coro_new(pp, &a, "a"), *cb = coro_new(pp, &b, "b");
    bool da = false, db = false;
    while (!da || !db) {
        if (!da)
            da = coro_resume(ca);
        if (!db)
            db = coro_resume(cb);
    }
    int want[] = {10, 20, 11, 21, 12, 22, 13, 23};
    assert_int_equal(pos, 8);
    assert_memory_equal(log, want, sizeof want);
    coro_pool_release();
}

static uintptr_t inner_sp;

static void where(void *arg)
{
    (void)arg;
    volatile char here = 0;
    inner_sp = (uintptr_t)&here;
    /* Floating point state survives a switch (callee-saved control words). */
    volatile double x = 1.0 / 3.0;
    coro_yield();
    assert_true(x * 3.0 > 0.99 && x * 3.0 < 1.01);
}

static void test_separate_stack_and_pool(void **state)
{
    (void)state;
    volatile char outer = 0;
    coro *c = coro_new(where, NULL, "where");
    assert_false(coro_resume(c));
    uintptr_t d = inner_sp > (uintptr_t)&outer ? inner_sp - (uintptr_t)&outer
                                               : (uintptr_t)&outer - inner_sp;
    assert_true(d > 1024 * 1024); /* not on the caller's stack */
    struct coro_stats st;
    coro_stats(&st);
    assert_int_equal(st.in_use, 1);
    assert_true(coro_resume(c));
    coro_stats(&st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.stacks, 1);
    /* The next coroutine reuses the pooled stack. */
    c = coro_new(where, NULL, "where");
    coro_stats(&st);
    assert_int_equal(st.stacks, 1);
    assert_false(coro_resume(c));
    coro_discard(c);
    coro_pool_release();
    coro_stats(&st);
    assert_int_equal(st.stacks, 0);
}

static void deep(void *arg)
{
    /* Uses most of a 64 KiB stack without overflowing it. */
    volatile char buf[48 * 1024];
    memset((char *)buf, 1, sizeof buf);
    *(int *)arg = buf[100] + buf[sizeof buf - 1];
}

static void test_large_frame(void **state)
{
    (void)state;
    int r = 0;
    coro *c = coro_new(deep, &r, "deep");
    assert_true(coro_resume(c));
    assert_int_equal(r, 2);
    coro_pool_release();
}

static void test_many(void **state)
{
    (void)state;
    enum { N = 2000 };
    static coro *cs[N];
    static int n1 = 1;
    ntrace = 0;
    for (int i = 0; i < N; i++)
        cs[i] = coro_new(counter, &n1, "many");
    for (int i = 0; i < N; i++) {
        ntrace = 0;
        assert_false(coro_resume(cs[i]));
    }
    struct coro_stats st;
    coro_stats(&st);
    assert_int_equal(st.in_use, N);
    for (int i = 0; i < N; i++)
        assert_true(coro_resume(cs[i]));
    coro_stats(&st);
    assert_int_equal(st.in_use, 0);
    coro_pool_release();
}

static coro *seen_inside;

static void who(void *arg)
{
    (void)arg;
    seen_inside = coro_current();
    coro_yield();
}

static void test_current(void **state)
{
    (void)state;
    assert_null(coro_current());
    coro *c = coro_new(who, NULL, "who");
    assert_false(coro_resume(c));
    assert_ptr_equal(seen_inside, c);
    assert_null(coro_current());
    assert_true(coro_resume(c));
    coro_pool_release();
}

static void test_stack_size_change(void **state)
{
    (void)state;
    struct coro_stats st;
    coro_set_stack_size(1000); /* raised to the 16 KiB floor */
    coro_stats(&st);
    assert_int_equal(st.stack_bytes, 16 * 1024);
    coro *c = coro_new(where, NULL, "where");
    assert_false(coro_resume(c));
    coro_stats(&st);
    assert_int_equal(st.stacks, 1);
    /* A stack of the old size goes away when its coroutine ends instead of pooling. */
    coro_set_stack_size(CORO_DEFAULT_STACK);
    coro_stats(&st);
    assert_int_equal(st.stack_bytes, CORO_DEFAULT_STACK);
    assert_true(coro_resume(c));
    coro_stats(&st);
    assert_int_equal(st.stacks, 0);
    assert_int_equal(st.in_use, 0);
    /* Stacks of the new size hold the large frame again, and pool. */
    int r = 0;
    c = coro_new(deep, &r, "deep");
    assert_true(coro_resume(c));
    assert_int_equal(r, 2);
    coro_stats(&st);
    assert_int_equal(st.stacks, 1);
    coro_set_stack_size(CORO_DEFAULT_STACK); /* same size: the pooled stack is released */
    coro_stats(&st);
    assert_int_equal(st.stacks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yield_and_finish),
        cmocka_unit_test(test_interleaving),
        cmocka_unit_test(test_separate_stack_and_pool),
        cmocka_unit_test(test_large_frame),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_current),
        cmocka_unit_test(test_stack_size_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
