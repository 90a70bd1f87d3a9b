/* libFuzzer target: HAR recordings (server/har.c, --from-har). A recording that converts
 * must give scenario text that scenario_load accepts as it is (docs/har.md promises it),
 * so the output is loaded too and a refusal is a finding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "har.h"
#include "sbuf.h"
#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        fuzz_quiet_logs();
        init = true;
    }
    if (size < 1)
        return 0;
    const char *path = fuzz_file(0, "rec.har", data + 1, size - 1);
    har_opts o = {.keep_static = data[0] & 1};
    har_report rep;
    char err[1024];
    char *text = har_convert(path, &o, &rep, err, sizeof err);
    sbuf sum = SBUF_INIT;
    har_summary(&rep, &sum);
    sbuf_free(&sum);
    har_report_free(&rep);
    if (!text)
        return 0;
    size_t len = strlen(text);
    if (!len || text[len - 1] != '\n')
        abort();
    const char *spath = fuzz_file(1, "recorded.json", text, len);
    scenario_opts so = {0};
    scenario *sc = scenario_load(spath, &so, err, sizeof err);
    if (!sc) {
        fprintf(stderr, "har_convert wrote a scenario that does not load: %s\n%s", err, text);
        abort();
    }
    scenario_free(sc);
    free(text);
    return 0;
}
