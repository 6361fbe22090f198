/* fuzz_charter.c - the charter loader: YAML text in, a charter or an error
 * out (charter_load_string), then everything the loaded charter offers
 * without further input: its version, canonical JSON, warnings and a brief
 * for an agent the seeds commonly define. */
#include <stdlib.h>
#include <string.h>

#include "charter.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    charter *c = NULL;
    charter_error err;
    charter_status s = charter_load_string("fuzz.yaml", (const char *)data,
                                           size, &c, &err);
    if (s != CHARTER_OK) {
        /* The error must be a usable, terminated message. */
        char line[2048];
        charter_error_format(&err, line, sizeof line);
        if (c != NULL || strlen(err.message) >= sizeof err.message)
            abort();
        return 0;
    }
    size_t len = 0;
    const char *canon = charter_canonical_json(c, &len);
    if (!canon || strlen(canon) != len || strncmp(charter_version(c), "sha256:", 7) != 0)
        abort();
    charter_stats st;
    charter_get_stats(c, &st);
    for (size_t i = 0; i < charter_warning_count(c); i++)
        if (!charter_warning(c, i)->message)
            abort();
    char *brief = NULL;
    if (charter_brief(c, "support-agent", NULL, &brief, NULL) == CHARTER_OK)
        free(brief);
    charter_release(c);
    return 0;
}
