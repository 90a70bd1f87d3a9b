/* Tests for engine/sbuf.c: the growable, always NUL-terminated text buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sbuf.h"

static void test_empty_buffer(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    assert_string_equal(sbuf_str(&b), "");
    assert_int_equal(b.len, 0);
    assert_null(b.s);
    sbuf_reset(&b); /* no memory yet: still fine */
    assert_null(b.s);
    char *t = sbuf_take(&b);
    assert_string_equal(t, "");
    free(t);
    sbuf_free(&b);
    assert_null(b.s);
}

static void test_appends(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, "ab");
    sbuf_putc(&b, 'c');
    sbuf_add(&b, "de", 2);
    sbuf_add(&b, "zzz", 0);
    sbuf_printf(&b, "-%d-%s-%05.1f", 42, "x", 3.25);
    assert_string_equal(sbuf_str(&b), "abcde-42-x-003.2");
    assert_int_equal(b.len, strlen("abcde-42-x-003.2"));
    assert_true(b.cap > b.len);
    sbuf_free(&b);
}

static void test_embedded_nul(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    sbuf_add(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.s, "a\0b", 4); /* the terminating NUL is there too */
    sbuf_free(&b);
}

static void test_growth_and_long_printf(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sbuf_putc(&b, '<');
    sbuf_printf(&b, "%s|%s", big, big); /* longer than the first vsnprintf's room */
    sbuf_putc(&b, '>');
    assert_int_equal(b.len, 2 * 4999 + 3);
    assert_int_equal(b.s[0], '<');
    assert_int_equal(b.s[4999 + 1], '|');
    assert_int_equal(b.s[b.len - 1], '>');
    assert_int_equal(b.s[b.len], '\0');
    assert_int_equal(strspn(b.s + 1, "x"), 4999);
    for (int i = 0; i < 10000; i++)
        sbuf_putc(&b, 'y');
    assert_int_equal(b.len, 2 * 4999 + 3 + 10000);
    assert_int_equal(strlen(b.s), b.len);
    sbuf_free(&b);
}

static void test_reserve(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    sbuf_reserve(&b, 1000);
    assert_true(b.cap >= 1001);
    size_t cap = b.cap;
    char *mem = b.s;
    for (int i = 0; i < 1000; i++)
        sbuf_putc(&b, 'a');
    assert_ptr_equal(b.s, mem);
    assert_int_equal(b.cap, cap);
    sbuf_free(&b);
}

static void test_reset_keeps_memory(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%0200d", 7);
    char *mem = b.s;
    size_t cap = b.cap;
    sbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(sbuf_str(&b), "");
    assert_ptr_equal(b.s, mem);
    assert_int_equal(b.cap, cap);
    sbuf_puts(&b, "again");
    assert_string_equal(sbuf_str(&b), "again");
    assert_ptr_equal(b.s, mem);
    sbuf_free(&b);
}

static void test_take_hands_over(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, "mine");
    char *t = sbuf_take(&b);
    assert_string_equal(t, "mine");
    assert_null(b.s);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    sbuf_puts(&b, "new");
    assert_string_equal(sbuf_str(&b), "new");
    assert_string_equal(t, "mine");
    free(t);
    sbuf_free(&b);
}

static void vwrap(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

static void test_vprintf(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    vwrap(&b, "%s=%u", "n", 5u);
    vwrap(&b, "%s", "");
    vwrap(&b, ";%c", 'z');
    assert_string_equal(sbuf_str(&b), "n=5;z");
    assert_int_equal(b.len, 5);
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_buffer),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_growth_and_long_printf),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reset_keeps_memory),
        cmocka_unit_test(test_take_hands_over),
        cmocka_unit_test(test_vprintf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
