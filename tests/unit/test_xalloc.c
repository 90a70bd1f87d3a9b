/* Tests for engine/xalloc.c: the copying helpers' exact semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xalloc.h"

static void test_xstrdup_copies(void **state)
{
    (void)state;
    const char src[] = "hello";
    char *p = xstrdup(src);
    assert_ptr_not_equal(p, src);
    assert_string_equal(p, "hello");
    free(p);
    p = xstrdup("");
    assert_string_equal(p, "");
    free(p);
}

static void test_xstrndup_stops_at_n_or_nul(void **state)
{
    (void)state;
    char *p = xstrndup("abcdef", 3);
    assert_string_equal(p, "abc");
    assert_int_equal(strlen(p), 3);
    free(p);
    /* n past the end: the string only, never reading beyond its NUL */
    char shortbuf[3] = {'x', 'y', '\0'};
    p = xstrndup(shortbuf, 100);
    assert_string_equal(p, "xy");
    free(p);
    p = xstrndup("abc", 0);
    assert_string_equal(p, "");
    free(p);
    /* not NUL-terminated within n: exactly n bytes, then a NUL */
    char raw[4] = {'w', 'x', 'y', 'z'};
    p = xstrndup(raw, 4);
    assert_string_equal(p, "wxyz");
    free(p);
    p = xstrndup("a\0bc", 4);
    assert_string_equal(p, "a");
    free(p);
}

static void test_xmemdup_copies_bytes(void **state)
{
    (void)state;
    const char src[5] = {'a', '\0', 'b', '\0', 'c'};
    char *p = xmemdup(src, sizeof src);
    assert_ptr_not_equal(p, src);
    assert_memory_equal(p, src, sizeof src);
    free(p);
    /* zero bytes: still a distinct block that free() accepts */
    void *z = xmemdup(src, 0);
    assert_non_null(z);
    free(z);
    z = xmemdup(NULL, 0);
    assert_non_null(z);
    free(z);
}

static void test_zero_sized_allocations(void **state)
{
    (void)state;
    void *a = xmalloc(0), *b = xcalloc(0, 8), *c = xcalloc(8, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    free(a);
    free(b);
    free(c);
    int *z = xcalloc(16, sizeof *z);
    for (int i = 0; i < 16; i++)
        assert_int_equal(z[i], 0);
    z = xrealloc(z, 32 * sizeof *z);
    assert_int_equal(z[15], 0);
    z[31] = 7;
    assert_int_equal(z[31], 7);
    z = xrealloc(z, 0);
    assert_non_null(z);
    free(z);
    char *q = xrealloc(NULL, 4);
    memcpy(q, "abc", 4);
    assert_string_equal(q, "abc");
    xfree(q);
    assert_null(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xstrdup_copies),
        cmocka_unit_test(test_xstrndup_stops_at_n_or_nul),
        cmocka_unit_test(test_xmemdup_copies_bytes),
        cmocka_unit_test(test_zero_sized_allocations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
