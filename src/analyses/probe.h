/* probe.h - concrete situations to decide, built from a charter's
 * conditions (probe.c), for the consistency analysis.
 *
 * Every condition is walked for the request fields it reads (input.x,
 * subject.a.b, context.y, confidence) and the constants it compares them
 * with. Each field gets candidate values: for a number k, k - step, k and
 * k + step (step 1 for whole numbers, 0.01 otherwise); for strings, each
 * string named and one that none names; for a field used as a condition on
 * its own, true and false; a field compared with nothing constant gets one
 * neutral string. The first candidate is the field's baseline.
 *
 * A case picks one candidate per field. All combinations are generated
 * when there are at most `max_cases`; else every pair of fields in all
 * their combinations (the rest at baseline), when that fits; else one field
 * at a time. Cases come baseline first, so the first case that shows
 * something changes the fewest fields.
 */
#ifndef CHARTER_ANALYSES_PROBE_H
#define CHARTER_ANALYSES_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/limits.h"
#include "charter/model.h"
#include "engine/reads.h"

#define PROBE_MAX_KEYS CH_FIELD_MAX_KEYS /* ch_field_path's keys fit */

typedef struct probe_field {
    int slot;                       /* CH_SLOT_INPUT, _SUBJECT, _CONTEXT, _CONFIDENCE */
    char keys[PROBE_MAX_KEYS][CHARTER_MAX_ID_BYTES];
    size_t nkeys;
    char name[512];                 /* "input.amount" */
    json_t *values;                 /* candidates; [0] is the baseline */
} probe_field;

typedef enum probe_mode { PROBE_ALL, PROBE_PAIRS, PROBE_SINGLE } probe_mode;

typedef struct probe_set {
    probe_field *fields;
    size_t n, cap;
    probe_mode mode;
    size_t max_cases;
    bool failed;                    /* out of memory */
    /* Iteration state. */
    size_t *idx;                    /* candidate index per field */
    size_t pair_a, pair_b;          /* PROBE_PAIRS: the pair varied */
    size_t single;                  /* PROBE_SINGLE: the field varied */
    bool started, done;
} probe_set;

void probe_set_init(probe_set *s, size_t max_cases);
void probe_set_release(probe_set *s);

/* Adds the fields and constants condition `p` reads (NULL: nothing). */
void probe_add_program(probe_set *s, const cel_program *p);

/* Prepares iteration (picks the mode). */
void probe_start(probe_set *s);
/* The next case: fills s->idx. False when done. */
bool probe_next(probe_set *s);
/* How many fields of the current case are off their baseline. */
size_t probe_distance(const probe_set *s);
/* How many cases the mode generates. */
size_t probe_case_count(const probe_set *s);
/* Sets the current case's value of field f on a request object (creating
 * input/subject/context objects as needed). */
void probe_apply(const probe_set *s, size_t f, json_t *request);
/* Does condition `p` read field f? */
bool probe_reads(const probe_field *f, const cel_program *p);

#endif
