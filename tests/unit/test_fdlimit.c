/* Tests for engine/fdlimit.c: the soft open-file limit raised to the hard one, the raise
 * said when it made room for the users, a warning with advice when even the hard limit is
 * too low, each once per process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "fdlimit.h"
#include "log.h"

static char said[8][1024];
static int nsaid;

static void observe(void *data, int level, const char *line)
{
    (void)data;
    (void)level;
    if (nsaid < 8)
        snprintf(said[nsaid++], sizeof said[0], "%s", line);
}

static void test_raise_and_warn(void **state)
{
    (void)state;
    struct rlimit orig;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &orig), 0);
    if (orig.rlim_max != RLIM_INFINITY && orig.rlim_max < 1000)
        skip();
    rlim_t hard = orig.rlim_max == RLIM_INFINITY ? 4096 : orig.rlim_max;
    struct rlimit rl = {.rlim_cur = 100, .rlim_max = hard};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    log_set_observer(observe, NULL);

    /* fits the old soft limit: raised, nothing said */
    fdlimit_check(10);
    assert_int_equal(nsaid, 0);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(rl.rlim_cur, hard);

    /* the raise made room: said once */
    fdlimit_check(200);
    assert_int_equal(nsaid, 1);
    char want[512];
    snprintf(want, sizeof want, "Raised the open-file limit from 100 to %llu (the hard limit) "
             "for 200 users", (unsigned long long)hard);
    assert_non_null(strstr(said[0], want));
    fdlimit_check(300);
    assert_int_equal(nsaid, 1);

    /* the hard limit is too low: a warning with advice, once */
    rl.rlim_cur = rl.rlim_max = 150;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    fdlimit_check(500);
    assert_int_equal(nsaid, 2);
    assert_non_null(strstr(said[1], "/WARNING/"));
    assert_non_null(strstr(said[1], "500 users need more open files than the limit allows "
                                    "(150, hard limit 150; about 564 needed)"));
    assert_non_null(strstr(said[1], "ulimit -Hn"));
    fdlimit_check(600);
    assert_int_equal(nsaid, 2);

    log_set_observer(NULL, NULL);
    /* Only root may raise the hard limit again; the process ends soon anyway. */
    setrlimit(RLIMIT_NOFILE, &orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raise_and_warn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
