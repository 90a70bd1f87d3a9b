/* Tests for engine/data.c: CSV and JSON-lines loading (quoting, every error with its exact
 * text and line), the three modes, worker splits and a large file. Files are written to a
 * fresh mkdtemp directory that the group teardown removes. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "data.h"
#include "rng.h"
#include "sbuf.h"

static char dir[] = "/tmp/cicada-data-XXXXXX";
static char path_buf[256];

/* Writes len bytes (strlen when len is 0) to dir/name; returns the path (static). */
static const char *put_file(const char *name, const char *text, size_t len)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    FILE *f = fopen(path_buf, "wb");
    assert_non_null(f);
    size_t n = len ? len : strlen(text);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return path_buf;
}

static data_source *load_as(const char *name, const char *text, size_t len,
                            enum data_mode mode, enum data_exhausted ex, unsigned worker,
                            unsigned workers)
{
    char err[256] = "";
    const char *path = put_file(name, text, len);
    data_source *d = data_load("src", path, mode, ex, worker, workers, err, sizeof err);
    if (!d)
        fail_msg("load of %s failed: %s", name, err);
    return d;
}

static data_source *load_csv(const char *text)
{
    return load_as("t.csv", text, 0, DATA_SEQUENTIAL, DATA_STOP_USER, 0, 1);
}

static data_source *load_jsonl(const char *text)
{
    return load_as("t.jsonl", text, 0, DATA_SEQUENTIAL, DATA_STOP_USER, 0, 1);
}

/* Loads and expects an error; want holds "P" where the path goes. */
static void assert_load_error(const char *name, const char *text, size_t len,
                              unsigned worker, unsigned workers, const char *want)
{
    char err[256] = "";
    const char *path = put_file(name, text, len);
    data_source *d = data_load("src", path, DATA_SEQUENTIAL, DATA_RECYCLE, worker, workers,
                               err, sizeof err);
    assert_null(d);
    char expect[512];
    const char *p = strchr(want, 'P');
    snprintf(expect, sizeof expect, "%.*s%s%s", (int)(p - want), want, path, p + 1);
    assert_string_equal(err, expect);
}

static void assert_cell(const data_source *d, long r, size_t c, const char *want,
                        size_t want_len, bool want_json)
{
    size_t len = 12345;
    bool json = !want_json;
    const char *s = data_cell(d, r, c, &len, &json);
    size_t n = want_len ? want_len : strlen(want);
    assert_int_equal(len, n);
    assert_memory_equal(s, want, n + 1);   /* with its NUL */
    assert_int_equal(json, want_json);
}

#define CELL(d, r, c, want) assert_cell(d, r, c, want, 0, false)

/* ---- CSV ------------------------------------------------------------------------------ */

static void test_csv_basic(void **state)
{
    (void)state;
    data_source *d = load_csv("user,password,id\nalice,secret,1\nbob,hunter2,2\n");
    assert_string_equal(data_name(d), "src");
    assert_int_equal(data_mode_of(d), DATA_SEQUENTIAL);
    assert_int_equal(data_on_exhausted(d), DATA_STOP_USER);
    assert_int_equal(data_rows(d), 2);
    assert_int_equal(data_columns(d), 3);
    assert_string_equal(data_column_name(d, 0), "user");
    assert_string_equal(data_column_name(d, 2), "id");
    assert_int_equal(data_column(d, "password"), 1);
    assert_int_equal(data_column(d, "id"), 2);
    assert_int_equal(data_column(d, "nope"), -1);
    assert_int_equal(data_column(d, "Password"), -1);
    CELL(d, 0, 0, "alice");
    CELL(d, 0, 1, "secret");
    CELL(d, 1, 1, "hunter2");
    CELL(d, 1, 2, "2");
    assert_int_equal(data_held(d), 0);
    data_free(d);
    data_free(NULL);
}

static void test_csv_quoting(void **state)
{
    (void)state;
    data_source *d = load_csv("a,\"b,c\",\"say \"\"hi\"\"\"\n"
                              "\"1,2\",\"two\nlines\",\"\"\"\"\n"
                              ",\"\",\n"
                              "\"crlf\r\ninside\",\" spaced \",x y\n"
                              "\"\",,\"last\"");
    assert_int_equal(data_columns(d), 3);
    assert_string_equal(data_column_name(d, 1), "b,c");
    assert_string_equal(data_column_name(d, 2), "say \"hi\"");
    assert_int_equal(data_column(d, "b,c"), 1);
    assert_int_equal(data_rows(d), 4);
    CELL(d, 0, 0, "1,2");
    CELL(d, 0, 1, "two\nlines");
    CELL(d, 0, 2, "\"");
    CELL(d, 1, 0, "");
    CELL(d, 1, 1, "");
    CELL(d, 1, 2, "");
    CELL(d, 2, 0, "crlf\r\ninside");
    CELL(d, 2, 1, " spaced ");
    CELL(d, 2, 2, "x y");
    CELL(d, 3, 0, "");
    CELL(d, 3, 1, "");
    CELL(d, 3, 2, "last");
    data_free(d);
}

static void test_csv_line_ends(void **state)
{
    (void)state;
    /* CRLF ends lines; a CR elsewhere is text; the last line may lack its end. */
    data_source *d = load_csv("a,b\r\n1,2\r\n\"q\",\"r\"\r\nx\ry,z\r\r\n5,6");
    assert_int_equal(data_rows(d), 4);
    assert_string_equal(data_column_name(d, 1), "b");
    CELL(d, 0, 0, "1");
    CELL(d, 0, 1, "2");
    CELL(d, 1, 0, "q");
    CELL(d, 1, 1, "r");
    CELL(d, 2, 0, "x\ry");
    CELL(d, 2, 1, "z\r");
    CELL(d, 3, 1, "6");
    data_free(d);

    d = load_csv("a,b\n1,\n,2\n");   /* an empty last field, before LF and before a comma */
    CELL(d, 0, 1, "");
    CELL(d, 1, 0, "");
    CELL(d, 1, 1, "2");
    data_free(d);
}

static void test_csv_bom_and_blank_lines(void **state)
{
    (void)state;
    data_source *d = load_csv("\xEF\xBB\xBFid,name\n7,\xC3\xA9t\xC3\xA9\n\n\r\n\n");
    assert_string_equal(data_column_name(d, 0), "id");
    assert_int_equal(data_column(d, "id"), 0);
    assert_int_equal(data_rows(d), 1);
    CELL(d, 0, 1, "\xC3\xA9t\xC3\xA9");
    data_free(d);

    /* With one column a blank line in the middle is an empty value. */
    d = load_csv("code\nA\n\nB\n\n");
    assert_int_equal(data_rows(d), 3);
    CELL(d, 0, 0, "A");
    CELL(d, 1, 0, "");
    CELL(d, 2, 0, "B");
    data_free(d);

    /* NUL bytes are data: lengths come from the layout, not strlen. */
    d = load_as("nul.csv", "k\na\0b\n", 6, DATA_SEQUENTIAL, DATA_RECYCLE, 0, 1);
    assert_cell(d, 0, 0, "a\0b", 3, false);
    data_free(d);
}

struct error_case {
    const char *text;
    const char *err;
};

static const struct error_case csv_errors[] = {
    {"", "P: no rows"},
    {"\xEF\xBB\xBF", "P: no rows"},
    {"a,b", "P: no rows"},
    {"a,b\r\n\r\n\n", "P: no rows"},
    {"a,b\n1,2\n3\n", "P:3: row has 1 field, the header has 2"},
    {"a,b\n1,2,3\n", "P:2: row has 3 fields, the header has 2"},
    {"a,b\n1,2\n\n3,4\n", "P:3: row has 1 field, the header has 2"},
    {"a\n1\n2,3", "P:3: row has 2 fields, the header has 1"},
    /* a row that spans lines is reported where it starts */
    {"a,b\n\"x\ny\",1\n\"p\nq\nr\",2,3\n", "P:4: row has 3 fields, the header has 2"},
    {"a,b\n1,\"abc\n\n", "P:2: unterminated quoted field"},
    {"a,b\n1,2\n3,\"x\ny\nz", "P:3: unterminated quoted field"},
    {"a,b\n\"\"\"", "P:2: unterminated quoted field"},
    {"\"a,b\n1,2\n", "P:1: unterminated quoted field"},
    {"a,b\n\"x\"y,2\n", "P:2: text after the closing quote of a field"},
    {"a,b\n1,\"x\ny\" ,2\n", "P:3: text after the closing quote of a field"},
    {"a\n\"x\"\ry\n", "P:2: text after the closing quote of a field"},
    {"a,b\nx\"y,2\n",
     "P:2: quote in an unquoted field (quote the whole field and double the quotes in it)"},
    {"a,b\n1, \"2\"\n",
     "P:2: quote in an unquoted field (quote the whole field and double the quotes in it)"},
    {"a,,b\n1,2,3\n", "P:1: column 2 of the header has no name"},
    {"a,b,\n1,2,3\n", "P:1: column 3 of the header has no name"},
    {"\n1\n", "P:1: column 1 of the header has no name"},
    {"a,b,a\n1,2,3\n", "P:1: column \"a\" appears twice in the header (columns 1 and 3)"},
    {"x,\"x\"\n1,2\n", "P:1: column \"x\" appears twice in the header (columns 1 and 2)"},
};

/* Regression (engine/data.c, found by tests/fuzz/fuzz_data): a header name holding a NUL
 * byte was kept, and data_column could not find it by its name. */
static void test_csv_nul_in_header(void **state)
{
    (void)state;
    assert_load_error("nul.csv", "a,\0b\n1,2\n", 9, 0, 1,
                      "P:1: column 2 of the header holds a NUL byte");
    assert_load_error("nul.csv", "\"x\0\",y\n1,2\n", 11, 0, 1,
                      "P:1: column 1 of the header holds a NUL byte");
}

static void test_csv_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof csv_errors / sizeof csv_errors[0]; i++) {
        print_message("case %zu\n", i);
        assert_load_error("bad.csv", csv_errors[i].text, 0, 0, 1, csv_errors[i].err);
    }
}

static void test_file_errors(void **state)
{
    (void)state;
    char err[256];
    char path[300];
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    assert_null(data_load("x", path, DATA_RANDOM, DATA_RECYCLE, 0, 1, err, sizeof err));
    char want[400];
    snprintf(want, sizeof want, "%s: cannot read: No such file or directory", path);
    assert_string_equal(err, want);

    snprintf(path, sizeof path, "%s/folder.csv", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(data_load("x", path, DATA_RANDOM, DATA_RECYCLE, 0, 1, err, sizeof err));
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", path);
    assert_string_equal(err, want);

    /* No room for the message is allowed. */
    assert_null(data_load("x", path, DATA_RANDOM, DATA_RECYCLE, 0, 1, NULL, 0));

    const char *bad_type = "P: unknown data file type (expected .csv, .jsonl or .ndjson)";
    assert_load_error("t.txt", "a\n1\n", 0, 0, 1, bad_type);
    assert_load_error("csv", "a\n1\n", 0, 0, 1, bad_type);
    assert_load_error("t.json", "{\"a\":1}\n", 0, 0, 1, bad_type);

    assert_load_error("w.csv", "a\n1\n", 0, 3, 3, "P: worker 3 is out of range for 3 workers");
    assert_load_error("w.csv", "a\n1\n", 0, 0, 0, "P: worker 0 is out of range for 0 workers");
    assert_load_error("w.csv", "a\n1\n2\n", 0, 2, 3, "P: no rows for worker 2 of 3 (the file has 2)");
    assert_load_error("w.jsonl", "{\"a\":1}\n", 0, 1, 2,
                      "P: no rows for worker 1 of 2 (the file has 1)");

    /* Upper-case extensions are fine. */
    data_source *d = load_as("T.CSV", "a\n1\n", 0, DATA_RANDOM, DATA_RECYCLE, 0, 1);
    assert_int_equal(data_rows(d), 1);
    data_free(d);
    d = load_as("t.NDJSON", "{\"a\":1}", 0, DATA_RANDOM, DATA_RECYCLE, 0, 1);
    assert_int_equal(data_rows(d), 1);
    data_free(d);
}

/* ---- JSON lines ----------------------------------------------------------------------- */

static void test_jsonl_values(void **state)
{
    (void)state;
    data_source *d = load_jsonl(
        "{\"id\": 1, \"name\": \"bob\", \"ok\": true, \"tags\": [\"a\", 2], \"n\": null,"
        " \"o\": {\"x\": 1.50, \"y\": \"q\\\"\"}, \"f\": false, \"e\": -2.5e3}\n"
        "{\"name\": \"a\\\"b\\u00e9\\n\", \"id\": \"7\"}\n");
    assert_int_equal(data_rows(d), 2);
    assert_int_equal(data_columns(d), 8);
    const char *names[] = {"id", "name", "ok", "tags", "n", "o", "f", "e"};
    for (size_t c = 0; c < 8; c++) {
        assert_string_equal(data_column_name(d, c), names[c]);
        assert_int_equal(data_column(d, names[c]), (int)c);
    }
    assert_cell(d, 0, 0, "1", 0, true);
    assert_cell(d, 0, 1, "bob", 0, false);
    assert_cell(d, 0, 2, "true", 0, true);
    assert_cell(d, 0, 3, "[\"a\",2]", 0, true);
    assert_cell(d, 0, 4, "null", 0, true);
    assert_cell(d, 0, 5, "{\"x\":1.50,\"y\":\"q\\\"\"}", 0, true);
    assert_cell(d, 0, 6, "false", 0, true);
    assert_cell(d, 0, 7, "-2.5e3", 0, true);
    /* a later line may put keys in another order, and lack some */
    assert_cell(d, 1, 0, "7", 0, false);
    assert_cell(d, 1, 1, "a\"b\xC3\xA9\n", 0, false);
    for (size_t c = 2; c < 8; c++)
        assert_cell(d, 1, c, "", 0, false);
    data_free(d);
}

static void test_jsonl_columns_union(void **state)
{
    (void)state;
    /* BOM, CRLF, blank lines (counted for line numbers, not rows), keys first seen late. */
    data_source *d = load_jsonl("\xEF\xBB\xBF{\"a\": \"1\"}\r\n\r\n  \t\n{}\n"
                                "{\"b\": \"2\", \"a\": \"3\"}\n{\"c\": \"\\u0000x\"}");
    assert_int_equal(data_rows(d), 4);
    assert_int_equal(data_columns(d), 3);
    assert_string_equal(data_column_name(d, 0), "a");
    assert_string_equal(data_column_name(d, 1), "b");
    assert_string_equal(data_column_name(d, 2), "c");
    CELL(d, 0, 0, "1");
    CELL(d, 0, 1, "");
    CELL(d, 0, 2, "");
    CELL(d, 1, 0, "");
    CELL(d, 1, 1, "");
    CELL(d, 2, 0, "3");
    CELL(d, 2, 1, "2");
    CELL(d, 2, 2, "");
    assert_cell(d, 3, 2, "\0x", 2, false);
    data_free(d);
}

static const struct error_case jsonl_errors[] = {
    {"", "P: no rows"},
    {"\n \n\r\n", "P: no rows"},
    {"{}\n{}\n", "P: no columns"},
    {"{\"a\":1}\n{\"a\":1,}\n", "P:2:8: trailing comma before '}'"},
    {"{\"a\":1}\n\n{\"a\":1\n", "P:3:7: unexpected end of input"},
    {"{\"a\":1, \"a\":2}\n", "P:1:9: duplicate key \"a\""},
    {"{\"a\":1}\n{'a':1}\n", "P:2:2: expected a string key or '}', found \"'\""},
    {"{\"a\":1}\n[1]\n", "P:2: expected a JSON object, found an array"},
    {"\"s\"\n", "P:1: expected a JSON object, found a string"},
    {"\n\n42\n", "P:3: expected a JSON object, found a number"},
    {"null", "P:1: expected a JSON object, found null"},
    {"true\r\n", "P:1: expected a JSON object, found a boolean"},
    /* Regression (fuzz_data): a key holding a NUL, as a CSV header's. */
    {"{\"a\":1}\n{\"b\": 2, \"x\\u0000y\": 3}\n", "P:2:10: key holds a NUL byte (\\u0000)"},
};

static void test_jsonl_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof jsonl_errors / sizeof jsonl_errors[0]; i++) {
        print_message("case %zu\n", i);
        assert_load_error("bad.jsonl", jsonl_errors[i].text, 0, 0, 1, jsonl_errors[i].err);
    }
}

/* A line per key, each key new: the table would be rows x columns empty cells. */
static void test_jsonl_too_sparse(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    for (int i = 0; i < 2000; i++)
        sbuf_printf(&b, "{\"k%05d\":1}\n", i);
    assert_load_error("sparse.jsonl", b.s, 0, 0, 1,
                      "P: 2000 rows by 2000 columns is too sparse to load (most lines lack "
                      "most keys)");
    sbuf_free(&b);
}

/* ---- modes ---------------------------------------------------------------------------- */

#define FOUR_ROWS "n\n0\n1\n2\n3\n"

static void test_sequential(void **state)
{
    (void)state;
    data_source *d = load_as("s.csv", FOUR_ROWS, 0, DATA_SEQUENTIAL, DATA_RECYCLE, 0, 1);
    for (long i = 0; i < 10; i++)
        assert_int_equal(data_take(d), i % 4);
    data_release(d, 1);   /* no-op outside unique mode */
    assert_int_equal(data_take(d), 2);
    assert_int_equal(data_held(d), 0);
    data_free(d);

    enum data_exhausted stops[] = {DATA_STOP_USER, DATA_STOP_TEST};
    for (size_t k = 0; k < 2; k++) {
        d = load_as("s.csv", FOUR_ROWS, 0, DATA_SEQUENTIAL, stops[k], 0, 1);
        for (long i = 0; i < 4; i++)
            assert_int_equal(data_take(d), i);
        assert_int_equal(data_take(d), -1);
        assert_int_equal(data_take(d), -1);
        data_free(d);
    }
}

static void test_random(void **state)
{
    (void)state;
    rng_seed(7);
    data_source *d = load_as("r.csv", "n\n0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n", 0, DATA_RANDOM,
                             DATA_STOP_USER, 0, 1);
    int seen[10] = {0};
    for (int i = 0; i < 2000; i++) {
        long r = data_take(d);
        assert_in_range(r, 0, 9);
        seen[r]++;
    }
    for (int r = 0; r < 10; r++)
        assert_in_range(seen[r], 100, 300);
    data_release(d, 3);
    assert_int_equal(data_held(d), 0);
    data_free(d);
}

static void test_unique_fifo(void **state)
{
    (void)state;
    data_source *d = load_as("u.csv", FOUR_ROWS, 0, DATA_UNIQUE, DATA_STOP_USER, 0, 1);
    assert_int_equal(data_take(d), 0);
    data_release(d, 0);               /* goes to the back of the queue */
    assert_int_equal(data_held(d), 0);
    assert_int_equal(data_take(d), 1);
    assert_int_equal(data_take(d), 2);
    assert_int_equal(data_take(d), 3);
    assert_int_equal(data_take(d), 0);
    assert_int_equal(data_held(d), 4);
    assert_int_equal(data_take(d), -1);
    data_release(d, 2);
    data_release(d, 2);               /* twice: ignored, 2 must not be handed out twice */
    data_release(d, 0);
    data_release(d, -1);              /* out of range: ignored */
    data_release(d, 4);
    assert_int_equal(data_held(d), 2);
    assert_int_equal(data_take(d), 2);
    assert_int_equal(data_take(d), 0);
    assert_int_equal(data_take(d), -1);
    assert_int_equal(data_held(d), 4);
    data_free(d);
}

static void test_unique_stress(void **state)
{
    (void)state;
    rng_seed(11);
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, "id\n");
    enum { N = 20 };
    for (int i = 0; i < N; i++)
        sbuf_printf(&b, "%d\n", i);
    data_source *d = load_as("u.csv", b.s, 0, DATA_UNIQUE, DATA_RECYCLE, 0, 1);
    sbuf_free(&b);
    bool held[N] = {false};
    size_t nheld = 0, exhausted = 0;
    for (int op = 0; op < 20000; op++) {
        if (rng_below(100) < 55) {
            long r = data_take(d);
            if (nheld == N) {
                assert_int_equal(r, -1);
                exhausted++;
                continue;
            }
            assert_in_range(r, 0, N - 1);
            assert_false(held[r]);
            held[r] = true;
            nheld++;
        } else {
            long r = (long)rng_below(N);
            if (held[r])
                nheld--;
            held[r] = false;
            data_release(d, r);   /* sometimes a row not held: must be ignored */
        }
        assert_int_equal(data_held(d), nheld);
        size_t len;
        if (nheld && held[0])
            assert_string_equal(data_cell(d, 0, 0, &len, NULL), "0");
    }
    assert_true(exhausted > 0);
    data_free(d);
}

/* ---- worker split --------------------------------------------------------------------- */

static void test_worker_split(void **state)
{
    (void)state;
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, "id,label\n");
    enum { N = 31 };
    for (int i = 0; i < N; i++)
        sbuf_printf(&b, "%d,\"row %d\"\n", i, i);
    int seen[N] = {0};
    for (unsigned w = 0; w < 3; w++) {
        data_source *d = load_as("split.csv", b.s, 0, DATA_UNIQUE, DATA_STOP_USER, w, 3);
        assert_int_equal(data_rows(d), (N - w + 2) / 3);
        for (long r = 0; r < (long)data_rows(d); r++) {
            int id = atoi(data_cell(d, r, 0, NULL, NULL));
            assert_int_equal(id, (int)(3 * r + w));   /* file order kept */
            char label[32];
            snprintf(label, sizeof label, "row %d", id);
            CELL(d, r, 1, label);
            seen[id]++;
        }
        data_free(d);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    sbuf_free(&b);

    /* Every worker sees every column, even one only another worker's rows have. */
    const char *text = "{\"a\":\"0\"}\n\n{\"a\":\"1\",\"b\":\"x\"}\n{\"c\":\"2\"}\n";
    for (unsigned w = 0; w < 3; w++) {
        data_source *d = load_as("split.jsonl", text, 0, DATA_RANDOM, DATA_STOP_USER, w, 3);
        assert_int_equal(data_rows(d), 1);
        assert_int_equal(data_columns(d), 3);
        assert_int_equal(data_column(d, "c"), 2);
        data_free(d);
    }
    data_source *d = load_as("split.jsonl", text, 0, DATA_RANDOM, DATA_STOP_USER, 1, 2);
    assert_int_equal(data_rows(d), 1);
    CELL(d, 0, 0, "1");
    CELL(d, 0, 1, "x");
    CELL(d, 0, 2, "");
    data_free(d);
}

/* ---- size ----------------------------------------------------------------------------- */

static void test_large_file(void **state)
{
    (void)state;
    enum { N = 100000 };
    sbuf b = SBUF_INIT;
    sbuf_puts(&b, "user,password,note\r\n");
    for (int i = 0; i < N; i++)
        sbuf_printf(&b, "user%d,pw%d,\"note, \"\"%d\"\"\"\r\n", i, i * 7, i);
    const char *path = put_file("big.csv", b.s, b.len);
    char err[256];
    /* Speed is the benchmarks' business; this checks a big file loads whole. */
    data_source *d = data_load("big", path, DATA_UNIQUE, DATA_STOP_USER, 0, 1, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(data_rows(d), N);
    CELL(d, 0, 0, "user0");
    CELL(d, N - 1, 0, "user99999");
    CELL(d, N - 1, 1, "pw699993");
    CELL(d, 12345, 2, "note, \"12345\"");
    for (long i = 0; i < N; i++)
        assert_int_equal(data_take(d), i);
    assert_int_equal(data_take(d), -1);
    data_free(d);

    sbuf_reset(&b);
    for (int i = 0; i < N; i++)
        sbuf_printf(&b, "{\"user\": \"user%d\", \"n\": %d}\n", i, i);
    path = put_file("big.jsonl", b.s, b.len);
    d = data_load("big", path, DATA_RANDOM, DATA_STOP_USER, 0, 1, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(data_rows(d), N);
    assert_cell(d, N - 1, 1, "99999", 0, true);
    data_free(d);
    sbuf_free(&b);
}

/* ---- fixture -------------------------------------------------------------------------- */

static int make_dir(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    DIR *dh = opendir(dir);
    if (!dh)
        return -1;
    struct dirent *e;
    char path[512];
    while ((e = readdir(dh))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            rmdir(path);
    }
    closedir(dh);
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_basic),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_csv_line_ends),
        cmocka_unit_test(test_csv_bom_and_blank_lines),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_jsonl_values),
        cmocka_unit_test(test_jsonl_columns_union),
        cmocka_unit_test(test_jsonl_errors),
        cmocka_unit_test(test_jsonl_too_sparse),
        cmocka_unit_test(test_sequential),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_unique_fifo),
        cmocka_unit_test(test_unique_stress),
        cmocka_unit_test(test_worker_split),
        cmocka_unit_test(test_large_file),
        cmocka_unit_test(test_csv_nul_in_header),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
