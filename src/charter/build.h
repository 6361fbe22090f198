/* build.h - the loader's steps after reading YAML (internal to src/charter).
 *
 * load.c reads the files and builds the model; it calls cond.c for every
 * CEL condition, then canon.c for the canonical JSON and version, then
 * warn.c for the warnings. Everything they allocate lives in c->mem.
 */
#ifndef CHARTER_BUILD_H
#define CHARTER_BUILD_H

#include "charter/model.h"
#include "charter/yaml.h"

/* Creates c->env declaring the slots of enum ch_slot, in that order. */
charter_status ch_cond_env_new(charter *c, charter_error *err);

typedef enum ch_cond_kind {
    CH_COND_WHEN,   /* must be bool (or dyn) */
    CH_COND_SPEND   /* must be a number (or dyn) */
} ch_cond_kind;

/* Compiles the CEL text of scalar `expr` (the value of `key` in `what`, e.g.
 * "rule 'r'") in c->env. A syntax or type error is reported at the file
 * position of the offending character as far as the YAML style allows. */
charter_status ch_cond_compile(charter *c, const ch_yaml_node *expr,
                               ch_cond_kind kind, const char *key,
                               const char *what, const cel_program **out,
                               charter_error *err);

/* Sets c->canonical, c->canonical_len and c->version from the model. */
charter_status ch_canon_build(charter *c, charter_error *err);

/* Sets c->warnings and c->warning_count. */
charter_status ch_warn_collect(charter *c, charter_error *err);

#endif
