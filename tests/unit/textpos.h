/* Shared by the unit tests of loaders whose errors name "file:line:column" (test_scenario,
 * test_har): where a marker stands in a test's text.
 *
 * Everything is static (each test binary is one translation unit). */
#ifndef CICADA_TEST_TEXTPOS_H
#define CICADA_TEST_TEXTPOS_H

#include <stdio.h>
#include <string.h>

/* "file:L:C" of the first occurrence of marker in text (ASCII text: a byte a column), in a
 * static buffer; fails the test when the marker is not there. */
__attribute__((unused)) static const char *text_pos(const char *file, const char *text,
                                                    const char *marker)
{
    static char pos[256];
    const char *m = strstr(text, marker);
    if (!m)
        fail_msg("marker \"%s\" not in the text", marker);
    unsigned line = 1, col = 1;
    for (const char *p = text; p < m; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(pos, sizeof pos, "%s:%u:%u", file, line, col);
    return pos;
}

#endif
