/* index.c - building the engine's look-up tables (index.h). */
#include "base/banned.h"

#include "engine/index.h"

#include <stdlib.h>
#include <string.h>

static bool strtab_init(arena *a, ch_strtab *t, size_t n)
{
    t->mask = 0;
    t->slots = NULL;
    if (n == 0)
        return true;
    size_t cap = 8;
    while (cap < n * 2)
        cap *= 2;
    t->slots = arena_calloc(a, cap, sizeof *t->slots);
    if (!t->slots)
        return false;
    t->mask = cap - 1;
    return true;
}

/* Adds key -> val; a key already present keeps its first value (the loader
 * refuses duplicate ids, and a workflow listing an action twice means the
 * same action). */
static void strtab_add(ch_strtab *t, const char *key, uint32_t val)
{
    size_t len = strlen(key);
    uint64_t h = ch_hash(key, len);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        ch_strtab_slot *s = &t->slots[i];
        if (!s->key) {
            s->hash = h;
            s->key = key;
            s->len = (uint32_t)len;
            s->val = val;
            return;
        }
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return;
    }
}

static cel_value str_or_empty(const char *s)
{
    return s ? cel_string(s, strlen(s)) : cel_string("", 0);
}

static bool object_build(arena *a, size_t n, const char *const *names,
                         const cel_value *values, cel_value *out)
{
    cel_value keys[8];
    for (size_t i = 0; i < n; i++)
        keys[i] = cel_string(names[i], strlen(names[i]));
    const cel_map *m = cel_map_build(a, n, keys, values);
    if (!m)
        return false;
    out->kind = CEL_MAP;
    out->v.map = m;
    return true;
}

static bool rule_matches_selector(const ch_rule *r, const ch_workflow *w,
                                  const char *action)
{
    if (r->workflow_count) {
        bool found = false;
        for (size_t i = 0; i < r->workflow_count && !found; i++)
            found = (r->workflows[i] == w) || !strcmp(r->workflows[i]->id, w->id);
        if (!found)
            return false;
    }
    if (r->actions.n) {
        bool found = false;
        for (size_t i = 0; i < r->actions.n && !found; i++)
            found = !strcmp(r->actions.v[i], action);
        if (!found)
            return false;
    }
    return true;
}

static bool workflow_entry_build(arena *a, const charter *c,
                                 const ch_workflow *w, ch_wf_entry *e)
{
    static const char *const names[] = {"id", "department", "owner", "autonomy"};
    const char *autonomy = ch_autonomy_name(w->autonomy);
    cel_value vals[4] = {str_or_empty(w->id), str_or_empty(w->department),
                         str_or_empty(w->owner), str_or_empty(autonomy)};
    e->w = w;
    if (!object_build(a, 4, names, vals, &e->obj))
        return false;
    if (!strtab_init(a, &e->actions, w->actions.n))
        return false;
    ch_rule_set *sets = arena_calloc(a, w->actions.n ? w->actions.n : 1, sizeof *sets);
    const ch_rule **tmp = malloc((c->rule_count ? c->rule_count : 1) * sizeof *tmp);
    if (!sets || !tmp) {
        free(tmp);
        return false;
    }
    for (size_t k = 0; k < w->actions.n; k++) {
        strtab_add(&e->actions, w->actions.v[k], (uint32_t)k);
        /* c->rules holds boundaries first, then rules, each sorted by id. */
        size_t n = 0;
        for (size_t i = 0; i < c->rule_count; i++)
            if (rule_matches_selector(&c->rules[i], w, w->actions.v[k]))
                tmp[n++] = &c->rules[i];
        const ch_rule **rules = arena_memdup(a, tmp, n * sizeof *tmp);
        if (!rules) {
            free(tmp);
            return false;
        }
        sets[k].n = n;
        sets[k].rules = rules;
    }
    free(tmp);
    e->sets = sets;
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static bool agent_entry_build(arena *a, const struct ch_index *ix,
                              const ch_agent *ag, ch_agent_entry *e)
{
    static const char *const names[] = {"id", "department", "owner"};
    cel_value vals[3] = {str_or_empty(ag->id), str_or_empty(ag->department),
                         str_or_empty(ag->owner)};
    e->a = ag;
    if (!object_build(a, 3, names, vals, &e->obj))
        return false;
    uint32_t *granted = arena_calloc(a, ag->workflow_count ? ag->workflow_count : 1,
                                     sizeof *granted);
    if (!granted)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < ag->workflow_count; i++) {
        const char *id = ag->workflows[i]->id;
        size_t len = strlen(id);
        long k = ch_strtab_find(&ix->workflows, ch_hash(id, len), id, len);
        if (k >= 0)
            granted[n++] = (uint32_t)k;
    }
    qsort(granted, n, sizeof *granted, cmp_u32);
    e->granted = granted;
    e->granted_count = n;
    return true;
}

charter_status ch_index_build(const charter *c, struct ch_index **out,
                              charter_error *err)
{
    *out = NULL;
    if (c->env && cel_env_slot_count(c->env) > CH_SLOT_COUNT_) {
        if (err) {
            memset(err, 0, sizeof *err);
            err->code = CHARTER_E_INVALID;
            snprintf(err->message, sizeof err->message,
                     "the charter's CEL environment declares %zu variables; the "
                     "engine binds %d", cel_env_slot_count(c->env), CH_SLOT_COUNT_);
        }
        return CHARTER_E_INVALID;
    }
    struct ch_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        goto nomem;
    arena_init(&ix->mem, 64u * 1024u);
    arena *a = &ix->mem;

    ch_wf_entry *wfs = arena_calloc(a, c->workflow_count ? c->workflow_count : 1,
                                    sizeof *wfs);
    if (!wfs || !strtab_init(a, &ix->workflows, c->workflow_count))
        goto nomem;
    for (size_t i = 0; i < c->workflow_count; i++) {
        if (!workflow_entry_build(a, c, &c->workflows[i], &wfs[i]))
            goto nomem;
        strtab_add(&ix->workflows, c->workflows[i].id, (uint32_t)i);
    }
    ix->wf_entries = wfs;
    ix->wf_count = c->workflow_count;

    ch_agent_entry *ags = arena_calloc(a, c->agent_count ? c->agent_count : 1,
                                       sizeof *ags);
    if (!ags || !strtab_init(a, &ix->agents, c->agent_count))
        goto nomem;
    for (size_t i = 0; i < c->agent_count; i++) {
        if (!agent_entry_build(a, ix, &c->agents[i], &ags[i]))
            goto nomem;
        strtab_add(&ix->agents, c->agents[i].id, (uint32_t)i);
    }
    ix->agent_entries = ags;
    *out = ix;
    return CHARTER_OK;

nomem:
    ch_index_free(ix);
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = CHARTER_E_NOMEM;
        snprintf(err->message, sizeof err->message,
                 "out of memory while indexing the charter's rules");
    }
    return CHARTER_E_NOMEM;
}

void ch_index_free(struct ch_index *ix)
{
    if (!ix)
        return;
    arena_release(&ix->mem);
    free(ix);
}

const ch_agent_entry *ch_index_agent(const struct ch_index *ix, uint64_t hash,
                                     const char *id, size_t len)
{
    long k = ch_strtab_find(&ix->agents, hash, id, len);
    return k < 0 ? NULL : &ix->agent_entries[k];
}

const ch_wf_entry *ch_index_workflow(const struct ch_index *ix, uint64_t hash,
                                     const char *id, size_t len)
{
    long k = ch_strtab_find(&ix->workflows, hash, id, len);
    return k < 0 ? NULL : &ix->wf_entries[k];
}

const ch_rule_set *ch_index_rules(const ch_wf_entry *we, uint64_t hash,
                                  const char *action, size_t len)
{
    long k = ch_strtab_find(&we->actions, hash, action, len);
    return k < 0 ? NULL : &we->sets[k];
}

bool ch_index_is_granted(const struct ch_index *ix, const ch_agent_entry *ae,
                         const ch_wf_entry *we)
{
    uint32_t want = (uint32_t)(we - ix->wf_entries);
    size_t lo = 0, hi = ae->granted_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ae->granted[mid] == want)
            return true;
        if (ae->granted[mid] < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}
