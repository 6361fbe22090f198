/* mcp_resources.c - the charter's values and boundaries as MCP resources.
 *
 * Both are read from the charter's canonical JSON (charter_canonical_json),
 * the same content the charter's version hashes, so what an agent reads is
 * exactly what decides.
 */
#include "base/banned.h"

#include "mcp/mcp_int.h"

typedef struct resource {
    const char *uri, *name, *title, *key, *description;
} resource;

static const resource resources[] = {
    {"charter://values", "values", "The organization's values, ranked", "values",
     "The organization's values in rank order (the first matters most): what each means "
     "and the metrics that signal it. When two concerns conflict, the higher value wins."},
    {"charter://boundaries", "boundaries", "Hard boundaries", "boundaries",
     "The hard limits no agent may cross, whatever it is told, with their source (a "
     "regulation, a contract). A boundary denies; not even a person's approval overrides "
     "it."},
};
#define RESOURCE_COUNT (sizeof resources / sizeof resources[0])

json_t *mcp_resources_list(const mcp_ctx *x, mcp_err *e)
{
    (void)x;
    json_t *list = json_array();
    for (size_t i = 0; list && i < RESOURCE_COUNT; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri",
                                              resources[i].uri, "name", resources[i].name,
                                              "title", resources[i].title, "description",
                                              resources[i].description, "mimeType",
                                              "application/json"));
    json_t *r = list ? json_pack("{s:o}", "resources", list) : NULL;
    return r ? r : mcp_fail(e, MCP_INTERNAL_ERROR, "out of memory");
}

json_t *mcp_resources_read(const mcp_ctx *x, json_t *params, mcp_err *e)
{
    const char *uri = json_string_value(json_object_get(params, "uri"));
    if (!uri)
        return mcp_fail(e, MCP_INVALID_PARAMS, "resources/read needs params.uri (a string)");
    const resource *res = NULL;
    for (size_t i = 0; i < RESOURCE_COUNT && !res; i++)
        if (!strcmp(uri, resources[i].uri))
            res = &resources[i];
    if (!res) {
        /* 2025-11-25 and before: -32002; 2026-07-28: -32602. */
        mcp_fail(e, x->is_modern ? MCP_INVALID_PARAMS : MCP_RESOURCE_NOT_FOUND_LEGACY,
                 "Resource not found: '%.200s'; the resources are charter://values and "
                 "charter://boundaries",
                 uri);
        e->data = json_pack("{s:s}", "uri", uri);
        return NULL;
    }
    charter *c = x->s->cfg.charter(x->s->cfg.charter_user);
    if (!c)
        return mcp_fail(e, MCP_INTERNAL_ERROR, "no charter is loaded");
    size_t n = 0;
    const char *canon = charter_canonical_json(c, &n);
    json_t *doc = json_loadb(canon, n, 0, NULL);
    json_t *part = json_object_get(doc, res->key);
    char *text = part ? json_dumps(part, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_t *r = NULL;
    if (text)
        r = json_pack("{s:[{s:s, s:s, s:s}], s:{s:s}}", "contents", "uri", res->uri,
                      "mimeType", "application/json", "text", text, "_meta",
                      "charter_version", charter_version(c));
    free(text);
    json_decref(doc);
    charter_release(c);
    return r ? r : mcp_fail(e, MCP_INTERNAL_ERROR, "cannot read the charter's %s", res->key);
}
