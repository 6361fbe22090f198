/* recorder.h - internal entry points of the recording ledger (recorder.c).
 *
 * charter_ledger_open is the public way in; tests use ledger_open_with to
 * reach the storage knobs (a page cap to make the "disk" full).
 */
#ifndef CHARTER_LEDGER_RECORDER_H
#define CHARTER_LEDGER_RECORDER_H

#include "charter_ledger.h"
#include "ledger/store.h"

charter_status ledger_open_with(const char *path, const charter_ledger_options *opt,
                                const ledger_store_config *cfg,
                                charter_ledger **out, charter_error *err);

/* The decision payload's fields the recorder and replay read back. */
typedef struct ledger_decision_info {
    const char *agent, *run_id, *workflow, *action; /* "" when absent */
    const char *effect;          /* the recorded answer's "decision" */
    int64_t time_ms;             /* the decision time */
    double spend;
} ledger_decision_info;

struct json_t;
/* Reads the fields above from a parsed decision payload (pointers into j).
 * Returns false when the payload lacks the request or the answer. */
bool ledger_decision_info_get(const struct json_t *j, ledger_decision_info *out);

#endif
