/* Tests for engine/ratio.c: --show-task-ratio and --show-task-ratio-json, byte for byte.
 *
 * The expected texts are what Locust 2.12 printed for this locustfile:
 *
 *     class Browser(User):                class Buyer(User):
 *         weight = 3                          weight = 1
 *         @task(2) def list(self)             @task(1) def shop(self)
 *         @task(2) def search(self)           @task(2) def checkout_with_a_rather_long_
 *         @task(1) def view(self)                 task_name_that_goes_past_fifty_characters
 *
 * run as `locust -f locustfile.py --show-task-ratio` and `--show-task-ratio-json` (so the
 * class counts are the weights, 3 and 1). The task weights summing to 5 under a class
 * ratio of 0.75 make the order of Locust's arithmetic visible (0.3, not
 * 0.30000000000000004); the long name shows that names past the 50-column field are
 * neither cut nor padded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "ratio.h"
#include "sbuf.h"

#define LONG_NAME "checkout_with_a_rather_long_task_name_that_goes_past_fifty_characters"

static utask browser_tasks[] = {
    {.name = "list", .weight = 2},
    {.name = "search", .weight = 2},
    {.name = "view", .weight = 1},
};
static utask buyer_tasks[] = {
    {.name = "shop", .weight = 1},
    {.name = LONG_NAME, .weight = 2},
};
static uclass browser = {.name = "Browser", .weight = 3, .tasks = browser_tasks, .ntasks = 3};
static uclass buyer = {.name = "Buyer", .weight = 1, .tasks = buyer_tasks, .ntasks = 2};
static uclass *const classes[] = {&browser, &buyer};
static const unsigned counts[] = {3, 1};

static const char locust_text[] =
    "\n"
    " Task ratio per User class\n"
    "--------------------------------------------------------------------------------\n"
    " 75.0       Browser                                           \n"
    "   40.0       list                                            \n"
    "   40.0       search                                          \n"
    "   20.0       view                                            \n"
    " 25.0       Buyer                                             \n"
    "   33.3       shop                                            \n"
    "   66.7       checkout_with_a_rather_long_task_name_that_goes_past_fifty_characters\n"
    "\n"
    " Total task ratio\n"
    "--------------------------------------------------------------------------------\n"
    " 75.0       Browser                                           \n"
    "   30.0       list                                            \n"
    "   30.0       search                                          \n"
    "   15.0       view                                            \n"
    " 25.0       Buyer                                             \n"
    "   8.3        shop                                            \n"
    "   16.7       checkout_with_a_rather_long_task_name_that_goes_past_fifty_characters\n";

/* Locust's print(dumps(task_data, indent=4)), final newline included. */
static const char locust_json[] =
    "{\n"
    "    \"per_class\": {\n"
    "        \"Browser\": {\n"
    "            \"ratio\": 0.75,\n"
    "            \"tasks\": {\n"
    "                \"list\": {\n"
    "                    \"ratio\": 0.4\n"
    "                },\n"
    "                \"search\": {\n"
    "                    \"ratio\": 0.4\n"
    "                },\n"
    "                \"view\": {\n"
    "                    \"ratio\": 0.2\n"
    "                }\n"
    "            }\n"
    "        },\n"
    "        \"Buyer\": {\n"
    "            \"ratio\": 0.25,\n"
    "            \"tasks\": {\n"
    "                \"shop\": {\n"
    "                    \"ratio\": 0.3333333333333333\n"
    "                },\n"
    "                \"checkout_with_a_rather_long_task_name_that_goes_past_fifty_characters\": {\n"
    "                    \"ratio\": 0.6666666666666666\n"
    "                }\n"
    "            }\n"
    "        }\n"
    "    },\n"
    "    \"total\": {\n"
    "        \"Browser\": {\n"
    "            \"ratio\": 0.75,\n"
    "            \"tasks\": {\n"
    "                \"list\": {\n"
    "                    \"ratio\": 0.3\n"
    "                },\n"
    "                \"search\": {\n"
    "                    \"ratio\": 0.3\n"
    "                },\n"
    "                \"view\": {\n"
    "                    \"ratio\": 0.15\n"
    "                }\n"
    "            }\n"
    "        },\n"
    "        \"Buyer\": {\n"
    "            \"ratio\": 0.25,\n"
    "            \"tasks\": {\n"
    "                \"shop\": {\n"
    "                    \"ratio\": 0.08333333333333333\n"
    "                },\n"
    "                \"checkout_with_a_rather_long_task_name_that_goes_past_fifty_characters\": {\n"
    "                    \"ratio\": 0.16666666666666666\n"
    "                }\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n";

/* The same document through json.dumps(separators=(",", ":")). */
static const char compact_json[] =
    "{\"per_class\":{\"Browser\":{\"ratio\":0.75,\"tasks\":{\"list\":{\"ratio\":0.4},\"search\":"
    "{\"ratio\":0.4},\"view\":{\"ratio\":0.2}}},\"Buyer\":{\"ratio\":0.25,\"tasks\":{\"shop\":"
    "{\"ratio\":0.3333333333333333},\"" LONG_NAME "\":{\"ratio\":0.6666666666666666}}}},"
    "\"total\":{\"Browser\":{\"ratio\":0.75,\"tasks\":{\"list\":{\"ratio\":0.3},\"search\":"
    "{\"ratio\":0.3},\"view\":{\"ratio\":0.15}}},\"Buyer\":{\"ratio\":0.25,\"tasks\":{\"shop\":"
    "{\"ratio\":0.08333333333333333},\"" LONG_NAME "\":{\"ratio\":0.16666666666666666}}}}}";

static void test_text_matches_locust(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    ratio_text(&b, classes, counts, 2);
    assert_string_equal(sbuf_str(&b), locust_text);
    sbuf_free(&b);
}

static void test_json_matches_locust(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    ratio_json(&b, classes, counts, 2, 4, JSON_W_ASCII);
    sbuf_putc(&b, '\n'); /* print() adds it; so does cicada's main */
    assert_string_equal(sbuf_str(&b), locust_json);
    sbuf_free(&b);
}

static void test_json_compact(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    ratio_json(&b, classes, counts, 2, 0, JSON_W_ASCII);
    assert_string_equal(sbuf_str(&b), compact_json);
    sbuf_free(&b);
}

static void test_counts_not_weights(void **state)
{
    (void)state;
    /* the split follows the user counts given (e.g. -u 3 gives 2 and 1) */
    const unsigned c[] = {2, 1};
    uclass *const one[] = {&buyer, &browser};
    sbuf b = SBUF_INIT;
    ratio_json(&b, one, c, 2, 0, JSON_W_ASCII);
    assert_string_equal(
        sbuf_str(&b),
        "{\"per_class\":{\"Buyer\":{\"ratio\":0.6666666666666666,\"tasks\":{\"shop\":{\"ratio\":"
        "0.3333333333333333},\"" LONG_NAME "\":{\"ratio\":0.6666666666666666}}},\"Browser\":"
        "{\"ratio\":0.3333333333333333,\"tasks\":{\"list\":{\"ratio\":0.4},\"search\":{\"ratio\":"
        "0.4},\"view\":{\"ratio\":0.2}}}},\"total\":{\"Buyer\":{\"ratio\":0.6666666666666666,"
        "\"tasks\":{\"shop\":{\"ratio\":0.2222222222222222},\"" LONG_NAME "\":{\"ratio\":"
        "0.4444444444444444}}},\"Browser\":{\"ratio\":0.3333333333333333,\"tasks\":{\"list\":"
        "{\"ratio\":0.13333333333333333},\"search\":{\"ratio\":0.13333333333333333},\"view\":"
        "{\"ratio\":0.06666666666666667}}}}}");
    sbuf_free(&b);
}

static void test_no_users_and_no_tasks(void **state)
{
    (void)state;
    /* /tasks before a test: no users yet, so every ratio is 0.0 (Locust divides by
     * "sum or 1"); a class without tasks has an empty task object */
    uclass bare = {.name = "Bare", .weight = 1};
    uclass *const one[] = {&bare};
    const unsigned zero[] = {0};
    sbuf b = SBUF_INIT;
    ratio_json(&b, one, zero, 1, 0, JSON_W_ASCII);
    assert_string_equal(sbuf_str(&b), "{\"per_class\":{\"Bare\":{\"ratio\":0.0,\"tasks\":{}}},"
                                      "\"total\":{\"Bare\":{\"ratio\":0.0,\"tasks\":{}}}}");
    sbuf_reset(&b);
    ratio_json(&b, one, zero, 1, 4, JSON_W_ASCII);
    assert_string_equal(sbuf_str(&b), "{\n"
                                      "    \"per_class\": {\n"
                                      "        \"Bare\": {\n"
                                      "            \"ratio\": 0.0,\n"
                                      "            \"tasks\": {}\n"
                                      "        }\n"
                                      "    },\n"
                                      "    \"total\": {\n"
                                      "        \"Bare\": {\n"
                                      "            \"ratio\": 0.0,\n"
                                      "            \"tasks\": {}\n"
                                      "        }\n"
                                      "    }\n"
                                      "}");
    sbuf_reset(&b);
    ratio_json(&b, NULL, NULL, 0, 4, JSON_W_ASCII);
    assert_string_equal(sbuf_str(&b), "{\n    \"per_class\": {},\n    \"total\": {}\n}");
    sbuf_reset(&b);
    ratio_json(&b, NULL, NULL, 0, 0, JSON_W_ASCII);
    assert_string_equal(sbuf_str(&b), "{\"per_class\":{},\"total\":{}}");
    sbuf_reset(&b);
    ratio_text(&b, one, zero, 1);
    assert_string_equal(
        sbuf_str(&b),
        "\n Task ratio per User class\n"
        "--------------------------------------------------------------------------------\n"
        " 0.0        Bare                                              \n"
        "\n Total task ratio\n"
        "--------------------------------------------------------------------------------\n"
        " 0.0        Bare                                              \n");
    sbuf_free(&b);
}

static void test_very_long_name_is_not_cut(void **state)
{
    (void)state;
    char name[700];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    utask t = {.name = name, .weight = 1};
    uclass c = {.name = "C", .weight = 1, .tasks = &t, .ntasks = 1};
    uclass *const one[] = {&c};
    const unsigned n1[] = {1};
    sbuf b = SBUF_INIT;
    ratio_text(&b, one, n1, 1);
    sbuf want = SBUF_INIT;
    const char *rule =
        "--------------------------------------------------------------------------------\n";
    sbuf_printf(&want,
                "\n Task ratio per User class\n%s"
                " 100.0      C                                                 \n"
                "   100.0      %s\n"
                "\n Total task ratio\n%s"
                " 100.0      C                                                 \n"
                "   100.0      %s\n",
                rule, name, rule, name);
    assert_string_equal(sbuf_str(&b), sbuf_str(&want));
    sbuf_free(&want);
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_matches_locust),
        cmocka_unit_test(test_json_matches_locust),
        cmocka_unit_test(test_json_compact),
        cmocka_unit_test(test_counts_not_weights),
        cmocka_unit_test(test_no_users_and_no_tasks),
        cmocka_unit_test(test_very_long_name_is_not_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
