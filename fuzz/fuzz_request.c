/* fuzz_request.c - decision requests: JSON text in, parsed
 * (charter_request_parse), then decided under each example charter and
 * rendered as the JSON answer, as every agent's call is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charter.h"
#include "fuzz.h"

/* 2026-11-24T10:00:00Z, used when the request has no "time". */
#define FUZZ_NOW_MS INT64_C(1795514400000)

static const char *const charter_paths[] = {
    CHARTER_SOURCE_DIR "/examples/fintech-support/charter",
    CHARTER_SOURCE_DIR "/examples/infra-ops/charter",
};
#define CHARTERS (sizeof charter_paths / sizeof charter_paths[0])

/* Loaded once: every input is decided under the same charters, as a server
 * decides every request under the charter it loaded. */
static charter *fuzz_charters[CHARTERS];
static charter_decider *fuzz_decider;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    charter_error err;
    for (size_t i = 0; i < CHARTERS; i++) {
        if (charter_load(charter_paths[i], &fuzz_charters[i], &err) != CHARTER_OK) {
            fprintf(stderr, "fuzz_request: cannot load %s: %s\n", charter_paths[i],
                    err.message);
            abort();
        }
    }
    if (charter_decider_new(&fuzz_decider) != CHARTER_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    charter_request *req = NULL;
    charter_error err;
    charter_status s = charter_request_parse((const char *)data, size, &req, &err);
    if (s != CHARTER_OK) {
        if (req != NULL || err.code != s)
            abort();
        return 0;
    }
    for (size_t i = 0; i < CHARTERS; i++) {
        const charter_decision *dec = NULL;
        if (charter_decide(fuzz_decider, fuzz_charters[i], req, FUZZ_NOW_MS, &dec, &err) !=
            CHARTER_OK)
            abort(); /* a parsed request always decides */
        size_t len = 0;
        const char *json = charter_decision_json(fuzz_decider, dec, &len);
        if (!json || strlen(json) != len || !dec->reason || !dec->explanation)
            abort();
    }
    charter_request_free(req);
    return 0;
}
