/* libFuzzer target: a scenario file (engine/scenario.c and what it compiles: request
 * steps, templates, JSON paths, checks, captures, load shapes, arrival rates,
 * thresholds), loaded as `-f` loads it, then resolved against its host as before a test.
 * The input is written to a file on tmpfs, since loading reads files by path (a scenario
 * names its test data relative to itself: rows.csv and rows.jsonl are there). The first
 * byte picks the command-line selection options. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "json.h"
#include "ratio.h"
#include "sbuf.h"
#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        fuzz_quiet_logs();
        /* Test data a scenario can name ("file": "rows.csv" or "rows.jsonl"), so loading
         * goes on past "data" to the classes. */
        static const char csv[] = "user,password\nann,secret\nbob,\"a,b\"\n";
        static const char jsonl[] = "{\"user\": \"ann\", \"n\": 1}\n{\"user\": \"bob\"}\n";
        fuzz_file(1, "rows.csv", csv, sizeof csv - 1);
        fuzz_file(2, "rows.jsonl", jsonl, sizeof jsonl - 1);
        init = true;
    }
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const char *path = fuzz_file(0, "scenario.json", data + 1, size - 1);

    char *tags[] = {"a"}, *exclude[] = {"b"}, *classes[] = {"A"};
    scenario_opts o = {
        .equal_weights = sel & 1,
        .tags = tags, .ntags = sel & 2 ? 1 : 0,
        .exclude_tags = exclude, .nexclude_tags = sel & 4 ? 1 : 0,
        .classes = classes, .nclasses = sel & 8 ? 1 : 0,
        .worker_index = 1,
        .data_slot = sel & 16 ? 1 : 0,
        .data_slots = sel & 16 ? 2 : 0,
    };
    char err[1024];
    scenario *sc = scenario_load(path, &o, err, sizeof err);
    if (!sc)
        return 0;
    scenario_resolve(sc, sel & 32 ? "http://127.0.0.1:1" : NULL, err, sizeof err);
    scenario_host(sc, NULL);
    /* --show-task-ratio walks every class and task the load produced. */
    sbuf out = SBUF_INIT;
    unsigned counts[64];
    for (int i = 0; i < 64; i++)
        counts[i] = (unsigned)i % 3;
    if (sc->nrun <= 64) {
        ratio_text(&out, sc->run, counts, sc->nrun);
        /* Class and task names are the file's: escaping must keep the output JSON. */
        sbuf_reset(&out);
        ratio_json(&out, sc->run, counts, sc->nrun, 4, JSON_W_ASCII);
        json_value *v = json_parse(out.s, out.len, 0, NULL);
        if (!v)
            abort();
        json_free(v);
    }
    sbuf_free(&out);
    scenario_free(sc);
    return 0;
}
