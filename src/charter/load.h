/* load.h - building a `struct charter` (model.h) from YAML.
 *
 * The model layer knows nothing of deciding: the public charter_load in
 * engine/api.c calls ch_load_path, then builds the engine's rule index.
 */
#ifndef CHARTER_LOAD_H
#define CHARTER_LOAD_H

#include "charter/model.h"

/* Loads one YAML file or a directory of them (every *.yaml / *.yml directly
 * inside, sorted by name, except *.test.yaml); merges, validates references,
 * compiles and type-checks every CEL condition, computes the canonical JSON
 * and version, and collects warnings. On success *out has refs == 1 and
 * index == NULL. On failure *out is NULL and err names file:line:column. */
charter_status ch_load_path(const char *path, charter **out, charter_error *err);
charter_status ch_load_string(const char *name, const char *yaml, size_t n,
                              charter **out, charter_error *err);

/* Frees a charter and its arena (the caller has released the index).
 * NULL is fine. */
void ch_charter_free(charter *c);

#endif
