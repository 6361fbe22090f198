/* index.h - the engine's look-up tables over a loaded charter.
 *
 * Built once when a charter loads (charter_load in api.c) and read by every
 * decision, so a decision never scans the whole charter: agents and
 * workflows are found by hash, and each (workflow, action) pair has its own
 * ch_rule_set holding exactly the boundaries and rules whose selectors can
 * match it (boundaries first, then rules, each in charter order; rules with
 * empty selectors are in every set they match). The CEL object values for
 * `agent` and `workflow` are built here too, once per charter.
 *
 * Memory: the index owns one arena; everything it hands out lives until
 * ch_index_free. It is immutable after ch_index_build and may be read by
 * any number of threads.
 */
#ifndef CHARTER_ENGINE_INDEX_H
#define CHARTER_ENGINE_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "charter/model.h"

/* FNV-1a over n bytes: the hash every index table uses. A request hashes
 * its agent, workflow and action once when it is parsed. */
static inline uint64_t ch_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A string-keyed open-addressing table mapping to small integers. */
typedef struct ch_strtab_slot {
    uint64_t hash;
    const char *key;    /* NULL: empty slot */
    uint32_t len;
    uint32_t val;
} ch_strtab_slot;

typedef struct ch_strtab {
    size_t mask;               /* capacity - 1 (capacity a power of two) */
    ch_strtab_slot *slots;     /* NULL when the table is empty */
} ch_strtab;

/* Index of `key` (already hashed), or -1 when absent. */
static inline long ch_strtab_find(const ch_strtab *t, uint64_t hash,
                                  const char *key, size_t len)
{
    if (!t->slots)
        return -1;
    for (size_t i = (size_t)hash & t->mask;; i = (i + 1) & t->mask) {
        const ch_strtab_slot *s = &t->slots[i];
        if (!s->key)
            return -1;
        if (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0)
            return (long)s->val;
    }
}

typedef struct ch_wf_entry {
    const ch_workflow *w;
    cel_value obj;             /* `workflow` in conditions */
    ch_strtab actions;         /* action -> index into sets */
    const ch_rule_set *sets;   /* one per w->actions entry */
} ch_wf_entry;

typedef struct ch_agent_entry {
    const ch_agent *a;
    cel_value obj;             /* `agent` in conditions */
    size_t granted_count;
    const uint32_t *granted;   /* workflow entry indices, ascending */
} ch_agent_entry;

struct ch_index {
    arena mem;
    ch_strtab agents;
    const ch_agent_entry *agent_entries;
    ch_strtab workflows;
    const ch_wf_entry *wf_entries;
    size_t wf_count;
};

/* Builds the index of `c`. On success *out is a new index for c->index.
 * Errors: CHARTER_E_NOMEM (err filled). */
charter_status ch_index_build(const charter *c, struct ch_index **out,
                              charter_error *err);
/* Frees an index; NULL is fine. */
void ch_index_free(struct ch_index *ix);

/* Look-ups for the decision path; NULL when absent. */
const ch_agent_entry *ch_index_agent(const struct ch_index *ix, uint64_t hash,
                                     const char *id, size_t len);
const ch_wf_entry *ch_index_workflow(const struct ch_index *ix, uint64_t hash,
                                     const char *id, size_t len);
/* The rule set of `action` in workflow entry `we`; NULL when the action is
 * not one of the workflow's. */
const ch_rule_set *ch_index_rules(const ch_wf_entry *we, uint64_t hash,
                                  const char *action, size_t len);
/* Whether agent entry `ae` is granted workflow entry `we`. */
bool ch_index_is_granted(const struct ch_index *ix, const ch_agent_entry *ae,
                         const ch_wf_entry *we);

#endif
