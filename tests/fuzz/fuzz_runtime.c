/* libFuzzer target: the strings of the command line, locust.conf and the web form that
 * have their own syntax: run times (-t, the form's run_time: "300s", "20m", "1h30m"),
 * --stop-timeout, --stages and --threshold. Each parser sees every input. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "json.h"
#include "sbuf.h"
#include "shape.h"
#include "stats.h"
#include "threshold.h"
#include "timespan.h"

static stats *st;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st) {
        fuzz_quiet_logs();
        st = stats_new(100, false, 1700000000.0);
    }
    char *s = fuzz_cstr(data, size);
    char err[512];

    long secs = -1;
    if (timespan_parse(s, &secs) == 0 && secs < 0)
        abort();
    double d = -1;
    if (timespan_parse_seconds(s, &d) == 0 && !(d >= 0))
        abort();

    shape sh = {0};
    if (shape_parse(s, &sh, err, sizeof err) == 0) {
        if (sh.n <= 0)
            abort();
        for (int i = 0; i < sh.n; i++)
            if (!(sh.stages[i].duration > 0) || !(sh.stages[i].spawn_rate > 0))
                abort();
        shape_stage_at(&sh, sh.total / 2);
        shape_free(&sh);
    }

    threshold_set set = {0};
    size_t pos = 0;
    if (threshold_set_parse(&set, s, err, sizeof err, &pos) == 0) {
        threshold_eval(&set, st);
        sbuf out = SBUF_INIT;
        for (size_t i = 0; i < set.n; i++)
            threshold_describe(&set.v[i], &out);
        json_writer w;
        json_writer_init(&w, &out);
        threshold_write_json(&set, &w);
        sbuf_free(&out);
    } else if (pos > size) {
        abort();   /* the error must point inside the text */
    }
    threshold_set_free(&set);
    free(s);
    return 0;
}
