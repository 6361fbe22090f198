/* access.c - access keys: creating, revoking and listing them in
 * DIR/access.json, and checking a bearer token against them.
 *
 * A token is "chk_<id>_<secret>": the id (12 hex digits) finds the key, the
 * secret (32 random bytes, base64url) proves it. Only BLAKE2b-256 of the
 * secret is stored. The secret has 256 bits of entropy, so a fast hash is
 * enough (no password stretching is needed, and deciding stays fast); the
 * hash comparison is constant-time (sodium_memcmp), and an unknown id is
 * compared against a dummy hash so both failures take the same time.
 * srv_key_may_decide_as says for whom a key may ask for decisions (an agent
 * key only for its own agent), for every endpoint that decides.
 */
#include "base/banned.h"

#include "server/server.h"

#include "base/fail.h"
#include "base/limits.h"
#include "base/secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_PREFIX "chk_"
#define ID_HEX 12
#define SECRET_BYTES 32

static const char *const role_names[] = {"agent", "approver", "admin", "pep", "auditor"};
#define ROLE_COUNT (sizeof role_names / sizeof role_names[0])

const char *charter_access_role_name(charter_access_role r)
{
    return (unsigned)r < ROLE_COUNT ? role_names[r] : "unknown";
}

static bool role_parse(const char *s, charter_access_role *out)
{
    for (unsigned i = 0; s && i < ROLE_COUNT; i++)
        if (!strcmp(s, role_names[i])) {
            *out = (charter_access_role)i;
            return true;
        }
    return false;
}

static void keys_path(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n, "%s/access.json", dir);
}

/* Reads DIR/access.json; a missing file is an empty key list when
 * `missing_ok`. */
static charter_status file_load(const char *dir, bool missing_ok, json_t **out,
                                charter_error *err)
{
    char path[4096];
    keys_path(dir, path, sizeof path);
    *out = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT && missing_ok) {
        *out = json_pack("{s:[]}", "keys");
        return *out ? CHARTER_OK : base_fail(err, CHARTER_E_NOMEM, "out of memory");
    }
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return base_fail(err, CHARTER_E_IO, "cannot read the keys file %s: %s", path, je.text);
    if (!json_is_array(json_object_get(j, "keys"))) {
        json_decref(j);
        return base_fail(err, CHARTER_E_IO, "%s: expected an object with a \"keys\" list",
                    path);
    }
    *out = j;
    return CHARTER_OK;
}

/* Writes the file atomically (temporary file, fsync, rename), mode 0600. */
static charter_status file_save(const char *dir, json_t *j, charter_error *err)
{
    char path[4096];
    keys_path(dir, path, sizeof path);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return base_fail(err, CHARTER_E_NOMEM, "out of memory writing the keys file");
    charter_status st = base_secfile_write(dir, path, text, err);
    free(text);
    return st;
}

charter_status charter_access_add(const char *dir, charter_access_role role,
                                  const char *name, const char *const *queues,
                                  size_t queue_count, const char *const *roles,
                                  size_t role_count, char token[CHARTER_TOKEN_SIZE],
                                  charter_error *err)
{
    if (!dir || !*dir || !token)
        return base_fail(err, CHARTER_E_INVALID, "a keys directory is required");
    token[0] = '\0';
    if ((unsigned)role >= ROLE_COUNT)
        return base_fail(err, CHARTER_E_INVALID, "unknown role %d", (int)role);
    if (!base_secfile_name_ok(name))
        return base_fail(err, CHARTER_E_INVALID,
                    "expected a name (an agent id, a person or a system) of 1 to %d "
                    "printable characters without spaces or quotes, found '%s'",
                    (int)CHARTER_MAX_ID_BYTES, name ? name : "");
    if (role == CHARTER_ROLE_APPROVER && queue_count == 0)
        return base_fail(err, CHARTER_E_INVALID,
                    "an approver key is bound to at least one queue (--queue Q)");
    if (role != CHARTER_ROLE_APPROVER && (queue_count || role_count))
        return base_fail(err, CHARTER_E_INVALID,
                    "only approver keys are bound to queues and roles");
    for (size_t i = 0; i < queue_count; i++)
        if (!base_secfile_name_ok(queues[i]))
            return base_fail(err, CHARTER_E_INVALID, "invalid queue id '%s'", queues[i]);
    for (size_t i = 0; i < role_count; i++)
        if (!base_secfile_name_ok(roles[i]))
            return base_fail(err, CHARTER_E_INVALID, "invalid role '%s'", roles[i]);
    if (sodium_init() < 0)
        return base_fail(err, CHARTER_E_IO, "libsodium could not be initialized");
    json_t *file;
    charter_status st = file_load(dir, true, &file, err);
    if (st != CHARTER_OK)
        return st;
    unsigned char idb[ID_HEX / 2], secret[SECRET_BYTES], hash[32];
    randombytes_buf(idb, sizeof idb);
    randombytes_buf(secret, sizeof secret);
    crypto_generichash(hash, sizeof hash, secret, sizeof secret, NULL, 0);
    char id[ID_HEX + 1], hash_hex[65], sec64[44];
    sodium_bin2hex(id, sizeof id, idb, sizeof idb);
    sodium_bin2hex(hash_hex, sizeof hash_hex, hash, sizeof hash);
    sodium_bin2base64(sec64, sizeof sec64, secret, sizeof secret,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof secret);
    char hashed[80];
    snprintf(hashed, sizeof hashed, "blake2b256:%s", hash_hex);
    char created[40];
    charter_time_format(charter_now_ms(), created);
    json_t *k = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "role",
                          charter_access_role_name(role), "name", name, "hash", hashed,
                          "created", created);
    if (k && role == CHARTER_ROLE_APPROVER) {
        json_t *q = json_array(), *r = json_array();
        for (size_t i = 0; i < queue_count; i++)
            json_array_append_new(q, json_string(queues[i]));
        for (size_t i = 0; i < role_count; i++)
            json_array_append_new(r, json_string(roles[i]));
        json_object_set_new(k, "queues", q);
        json_object_set_new(k, "roles", r);
    }
    if (!k || json_array_append_new(json_object_get(file, "keys"), k) != 0) {
        json_decref(file);
        return base_fail(err, CHARTER_E_NOMEM, "out of memory adding a key");
    }
    st = file_save(dir, file, err);
    json_decref(file);
    if (st == CHARTER_OK)
        snprintf(token, CHARTER_TOKEN_SIZE, TOKEN_PREFIX "%s_%s", id, sec64);
    sodium_memzero(sec64, sizeof sec64);
    return st;
}

charter_status charter_access_revoke(const char *dir, const char *id,
                                     charter_error *err)
{
    if (!dir || !id)
        return base_fail(err, CHARTER_E_INVALID, "a keys directory and a key id are required");
    if (!strncmp(id, TOKEN_PREFIX, strlen(TOKEN_PREFIX)))
        id += strlen(TOKEN_PREFIX);
    json_t *file;
    charter_status st = file_load(dir, false, &file, err);
    if (st != CHARTER_OK)
        return st;
    json_t *keys = json_object_get(file, "keys");
    size_t i;
    json_t *k;
    bool found = false;
    json_array_foreach(keys, i, k) {
        const char *kid = json_string_value(json_object_get(k, "id"));
        if (kid && !strncmp(kid, id, ID_HEX) && strlen(id) >= ID_HEX &&
            (id[ID_HEX] == '\0' || id[ID_HEX] == '_')) {
            json_array_remove(keys, i);
            found = true;
            break;
        }
    }
    st = found ? file_save(dir, file, err)
               : base_fail(err, CHARTER_E_REF, "no key with id '%s' in %s/access.json", id, dir);
    json_decref(file);
    return st;
}

charter_status charter_access_list(const char *dir, char **out, charter_error *err)
{
    if (!out)
        return base_fail(err, CHARTER_E_INVALID, "charter_access_list: out is NULL");
    *out = NULL;
    json_t *file;
    charter_status st = file_load(dir, false, &file, err);
    if (st != CHARTER_OK)
        return st;
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(file, "keys"), i, k)
        json_object_del(k, "hash");
    *out = json_dumps(file, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(file);
    return *out ? CHARTER_OK : base_fail(err, CHARTER_E_NOMEM, "out of memory");
}

/* ---- Loaded keys ------------------------------------------------------------ */

static void key_release(srv_key *k)
{
    free(k->name);
    for (size_t i = 0; i < k->queue_count; i++)
        free(k->queues[i]);
    free(k->queues);
    for (size_t i = 0; i < k->role_count; i++)
        free(k->roles[i]);
    free(k->roles);
}

static bool strings_copy(const json_t *arr, char ***out, size_t *n)
{
    *n = json_array_size(arr);
    *out = *n ? calloc(*n, sizeof **out) : NULL;
    if (*n && !*out)
        return false;
    for (size_t i = 0; i < *n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || !((*out)[i] = strdup(s)))
            return false;
    }
    return true;
}

static bool key_from_json(const json_t *j, srv_key *k)
{
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *hash = json_string_value(json_object_get(j, "hash"));
    const char *role = json_string_value(json_object_get(j, "role"));
    const char *prefix = "blake2b256:";
    if (!id || strlen(id) != ID_HEX || !name || !hash ||
        strncmp(hash, prefix, strlen(prefix)) || !role_parse(role, &k->role))
        return false;
    size_t bin_len = 0;
    if (sodium_hex2bin(k->hash, sizeof k->hash, hash + strlen(prefix),
                       strlen(hash) - strlen(prefix), NULL, &bin_len, NULL) != 0 ||
        bin_len != sizeof k->hash)
        return false;
    memcpy(k->id, id, ID_HEX + 1);
    return (k->name = strdup(name)) &&
           strings_copy(json_object_get(j, "queues"), &k->queues, &k->queue_count) &&
           strings_copy(json_object_get(j, "roles"), &k->roles, &k->role_count);
}

charter_status srv_keys_load(const char *dir, srv_keys **out, charter_error *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return base_fail(err, CHARTER_E_IO, "libsodium could not be initialized");
    json_t *file;
    charter_status st = file_load(dir, false, &file, err);
    if (st != CHARTER_OK)
        return st;
    const json_t *arr = json_object_get(file, "keys");
    srv_keys *ks = calloc(1, sizeof *ks);
    size_t n = json_array_size(arr);
    if (ks && n)
        ks->keys = calloc(n, sizeof *ks->keys);
    if (!ks || (n && !ks->keys)) {
        free(ks);
        json_decref(file);
        return base_fail(err, CHARTER_E_NOMEM, "out of memory loading keys");
    }
    atomic_init(&ks->refs, 1);
    for (size_t i = 0; i < n; i++) {
        if (!key_from_json(json_array_get(arr, i), &ks->keys[i])) {
            ks->count = i + 1;
            srv_keys_release(ks);
            json_decref(file);
            return base_fail(err, CHARTER_E_IO,
                        "%s/access.json: key %zu is malformed (expected id, role, name "
                        "and hash as 'charter keys' writes them)", dir, i + 1);
        }
        ks->count = i + 1;
    }
    json_decref(file);
    *out = ks;
    return CHARTER_OK;
}

srv_keys *srv_keys_retain(srv_keys *k)
{
    if (k)
        atomic_fetch_add(&k->refs, 1);
    return k;
}

void srv_keys_release(srv_keys *k)
{
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    for (size_t i = 0; i < k->count; i++)
        key_release(&k->keys[i]);
    free(k->keys);
    free(k);
}

const srv_key *srv_keys_check(const srv_keys *k, const char *token)
{
    static const unsigned char dummy[32];
    size_t plen = strlen(TOKEN_PREFIX);
    if (!k || !token || strncmp(token, TOKEN_PREFIX, plen) ||
        strlen(token) < plen + ID_HEX + 2 || token[plen + ID_HEX] != '_')
        return NULL;
    const char *id = token + plen, *sec = token + plen + ID_HEX + 1;
    unsigned char secret[SECRET_BYTES], hash[32];
    size_t bin_len = 0;
    bool decoded = sodium_base642bin(secret, sizeof secret, sec, strlen(sec), NULL,
                                     &bin_len, NULL,
                                     sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
                   bin_len == sizeof secret;
    if (!decoded)
        memset(secret, 0, sizeof secret);
    crypto_generichash(hash, sizeof hash, secret, sizeof secret, NULL, 0);
    sodium_memzero(secret, sizeof secret);
    const srv_key *found = NULL;
    for (size_t i = 0; i < k->count; i++)
        if (!memcmp(k->keys[i].id, id, ID_HEX)) {
            found = &k->keys[i];
            break;
        }
    bool same = sodium_memcmp(hash, found ? found->hash : dummy, sizeof hash) == 0;
    return decoded && found && same ? found : NULL;
}

const srv_key *srv_keys_find(const srv_keys *k, const char *id)
{
    if (!k || !id || strlen(id) != ID_HEX)
        return NULL;
    for (size_t i = 0; i < k->count; i++)
        if (!memcmp(k->keys[i].id, id, ID_HEX))
            return &k->keys[i];
    return NULL;
}

bool srv_key_may_decide_as(const srv_key *k, const char *agent)
{
    if (!k)
        return false;
    if (k->role == CHARTER_ROLE_PEP)
        return true;
    return k->role == CHARTER_ROLE_AGENT && (!agent || !strcmp(agent, k->name));
}
