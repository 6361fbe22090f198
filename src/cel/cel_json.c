/* cel_json.c - JSON (jansson) to CEL values and back.
 *
 * JSON integers stay CEL ints (jansson keeps the lexical distinction between
 * 3 and 3.0), reals become doubles, objects maps with string keys (built with
 * cel_map_build, so lookups are binary searches). Nesting is limited by
 * CHARTER_MAX_JSON_DEPTH; the recursion is bounded by that limit.
 */
#include "base/banned.h"

#include "base/limits.h"
#include "cel/cel_int.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

static bool from_json(arena *a, const json_t *j, cel_value *out, unsigned depth,
                      char *msg, size_t msg_len)
{
    if (depth > CHARTER_MAX_JSON_DEPTH) {
        snprintf(msg, msg_len, "JSON nests deeper than %u levels "
                 "(CHARTER_MAX_JSON_DEPTH)", (unsigned)CHARTER_MAX_JSON_DEPTH);
        return false;
    }
    switch (json_typeof(j)) {
    case JSON_NULL:
        *out = cel_null();
        return true;
    case JSON_TRUE:
        *out = cel_bool(true);
        return true;
    case JSON_FALSE:
        *out = cel_bool(false);
        return true;
    case JSON_INTEGER:
        *out = cel_int((int64_t)json_integer_value(j));
        return true;
    case JSON_REAL:
        *out = cel_double(json_real_value(j));
        return true;
    case JSON_STRING: {
        size_t n = json_string_length(j);
        char *p = arena_strndup(a, json_string_value(j), n);
        if (!p)
            break;
        *out = cel_string(p, n);
        return true;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        cel_list *l = arena_alloc(a, sizeof *l);
        cel_value *items = arena_alloc(a, (n ? n : 1) * sizeof *items);
        if (!l || !items)
            break;
        for (size_t i = 0; i < n; i++)
            if (!from_json(a, json_array_get(j, i), &items[i], depth + 1, msg, msg_len))
                return false;
        l->n = n;
        l->items = items;
        out->kind = CEL_LIST;
        out->v.list = l;
        return true;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        cel_value *keys = arena_alloc(a, (n ? n : 1) * sizeof *keys);
        cel_value *vals = arena_alloc(a, (n ? n : 1) * sizeof *vals);
        if (!keys || !vals)
            break;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            size_t kn = strlen(k);
            char *kp = arena_strndup(a, k, kn);
            if (!kp)
                goto nomem;
            keys[i] = cel_string(kp, kn);
            if (!from_json(a, v, &vals[i], depth + 1, msg, msg_len))
                return false;
            i++;
        }
        const char *why = NULL;
        const cel_map *m = cel_map_build_ex(a, i, keys, vals, CEL_MAP_ADOPT, &why);
        if (!m) {
            snprintf(msg, msg_len, "cannot convert a JSON object: %s", why);
            return false;
        }
        out->kind = CEL_MAP;
        out->v.map = m;
        return true;
    }
    }
nomem:
    snprintf(msg, msg_len, "out of memory converting JSON");
    return false;
}

bool cel_value_from_json(arena *a, const struct json_t *j, cel_value *out,
                         char *msg, size_t msg_len)
{
    if (!j) {
        snprintf(msg, msg_len, "no JSON value given");
        return false;
    }
    return from_json(a, j, out, 0, msg, msg_len);
}

static json_t *to_json(const cel_value *v, unsigned depth)
{
    char buf[64];
    if (depth > 256)
        return NULL;
    switch (v->kind) {
    case CEL_NULL: return json_null();
    case CEL_BOOL: return json_boolean(v->v.b);
    case CEL_INT: return json_integer((json_int_t)v->v.i);
    case CEL_UINT:
        if (v->v.u <= (uint64_t)INT64_MAX)
            return json_integer((json_int_t)v->v.u);
        return json_real((double)v->v.u);
    case CEL_DOUBLE:
        if (isnan(v->v.d))
            return json_string("NaN");
        if (isinf(v->v.d))
            return json_string(v->v.d > 0 ? "Infinity" : "-Infinity");
        return json_real(v->v.d);
    case CEL_STRING: return json_stringn(v->v.s.p, v->v.s.n);
    case CEL_BYTES: {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t n = v->v.s.n, outn = (n + 2) / 3 * 4;
        char *s = malloc(outn + 1);
        if (!s)
            return NULL;
        const unsigned char *p = (const unsigned char *)v->v.s.p;
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t w = (uint32_t)p[i] << 16;
            if (i + 1 < n)
                w |= (uint32_t)p[i + 1] << 8;
            if (i + 2 < n)
                w |= p[i + 2];
            s[o++] = b64[(w >> 18) & 63];
            s[o++] = b64[(w >> 12) & 63];
            s[o++] = i + 1 < n ? b64[(w >> 6) & 63] : '=';
            s[o++] = i + 2 < n ? b64[w & 63] : '=';
        }
        json_t *r = json_stringn(s, o);
        free(s);
        return r;
    }
    case CEL_TIMESTAMP:
        cel_ts_format(v->v.t.sec, v->v.t.nsec, buf, sizeof buf);
        return json_string(buf);
    case CEL_DURATION:
        cel_dur_format(v->v.t.sec, v->v.t.nsec, buf, sizeof buf);
        return json_string(buf);
    case CEL_TYPE: return json_string(v->v.type_name);
    case CEL_LIST: {
        json_t *arr = json_array();
        if (!arr)
            return NULL;
        for (size_t i = 0; i < v->v.list->n; i++) {
            json_t *item = to_json(&v->v.list->items[i], depth + 1);
            if (!item || json_array_append_new(arr, item)) {
                json_decref(arr);
                return NULL;
            }
        }
        return arr;
    }
    case CEL_MAP: {
        json_t *obj = json_object();
        if (!obj)
            return NULL;
        const cel_map *m = v->v.map;
        for (size_t i = 0; i < m->n; i++) {
            const cel_value *k = &m->keys[i];
            char kb[64];
            const char *kp = kb;
            size_t kn;
            if (k->kind == CEL_STRING) {
                kp = k->v.s.p;
                kn = k->v.s.n;
            } else if (k->kind == CEL_BOOL) {
                kn = (size_t)snprintf(kb, sizeof kb, "%s", k->v.b ? "true" : "false");
            } else if (k->kind == CEL_INT) {
                kn = (size_t)snprintf(kb, sizeof kb, "%lld", (long long)k->v.i);
            } else if (k->kind == CEL_UINT) {
                kn = (size_t)snprintf(kb, sizeof kb, "%llu", (unsigned long long)k->v.u);
            } else {
                json_decref(obj);
                return NULL;
            }
            json_t *item = to_json(&m->values[i], depth + 1);
            if (!item || json_object_setn_new(obj, kp, kn, item)) {
                json_decref(obj);
                return NULL;
            }
        }
        return obj;
    }
    case CEL_ERROR:
        return NULL;
    }
    return NULL;
}

json_t *cel_value_to_json(const cel_value *v)
{
    return to_json(v, 0);
}
