/* libFuzzer target: test-data files (engine/data.c), CSV with RFC 4180 quoting or JSON
 * lines, loaded as a scenario's "data" loads them and then drawn from as users draw. The
 * first byte picks the format, the mode and this worker's share of the rows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        fuzz_quiet_logs();
        init = true;
    }
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const char *name = sel & 1 ? "rows.jsonl" : "rows.csv";
    const char *path = fuzz_file(0, name, data + 1, size - 1);
    enum data_mode mode = (sel >> 1) % 3;
    enum data_exhausted ex = (sel >> 3) % 3;
    unsigned workers = 1 + (sel >> 5) % 3, worker = (sel >> 7) % workers;

    char err[512];
    data_source *d = data_load("fuzz", path, mode, ex, worker, workers, err, sizeof err);
    if (!d)
        return 0;
    size_t rows = data_rows(d), cols = data_columns(d);
    if (!rows || !cols)
        abort();   /* a source always has rows and columns */
    for (size_t c = 0; c < cols; c++) {
        const char *cn = data_column_name(d, c);
        if (!cn || data_column(d, cn) < 0)
            abort();
    }
    long held[8];
    int nheld = 0;
    for (int i = 0; i < 8; i++) {
        long r = data_take(d);
        if (r < 0)
            break;
        if ((size_t)r >= rows)
            abort();
        held[nheld++] = r;
        for (size_t c = 0; c < cols; c++) {
            size_t len;
            bool json;
            const char *cell = data_cell(d, r, c, &len, &json);
            if (!cell || cell[len] != '\0')
                abort();
        }
    }
    while (nheld)
        data_release(d, held[--nheld]);
    if (mode == DATA_UNIQUE && data_held(d) != 0)
        abort();
    data_free(d);
    return 0;
}
