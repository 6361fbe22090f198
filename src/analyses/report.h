/* report.h - the alignment report's pieces the readiness map reuses
 * (report.c). */
#ifndef CHARTER_ANALYSES_REPORT_H
#define CHARTER_ANALYSES_REPORT_H

#include <jansson.h>

#include "analyses/tally.h"

/* The charter as its canonical JSON: from `c` when given, else the last
 * version the ledger recorded (t->charter_json). *model is a new jansson
 * reference. CHARTER_E_INVALID when neither exists. */
charter_status an_model_load(const charter *c, const an_tally *t, json_t **model,
                             charter_error *err);

/* The report as a JSON object (new reference; NULL when out of memory). */
json_t *an_report_build(const an_tally *t, const json_t *model, const char *version,
                        const charter_report_options *o);

#endif
