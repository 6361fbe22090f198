/* secrets.c - the webhook signing secrets: DIR/webhooks.json (mode 0600,
 * beside the access keys), one Standard Webhooks secret per queue,
 *
 *   {"webhooks":[{"queue":"leads","secret":"whsec_<base64>","created":"..."}]}
 *
 * written by `charter keys webhook` (charter_webhook_secret_create) and read
 * by the server at start and reload. Unlike the access keys, the secret
 * itself is stored: signing needs it.
 */
#include "base/banned.h"

#include "notify/notify_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fail.h"
#include "base/limits.h"
#include "base/secfile.h"

#define PREFIX "whsec_"
#define KEY_BYTES 32

static void file_path(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n, "%s/webhooks.json", dir);
}

/* The file's JSON; absent: an empty list. */
static charter_status file_load(const char *dir, json_t **out, charter_error *err)
{
    char path[4096];
    file_path(dir, path, sizeof path);
    *out = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        *out = json_pack("{s:[]}", "webhooks");
        return *out ? CHARTER_OK : base_fail(err, CHARTER_E_NOMEM, "out of memory");
    }
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return base_fail(err, CHARTER_E_IO, "cannot read the webhook secrets %s: %s", path,
                         je.text);
    if (!json_is_array(json_object_get(j, "webhooks"))) {
        json_decref(j);
        return base_fail(err, CHARTER_E_IO,
                         "%s: expected an object with a \"webhooks\" list", path);
    }
    *out = j;
    return CHARTER_OK;
}

/* Atomically (temporary file, fsync, rename), mode 0600; the text, which
 * holds the secrets, is wiped. */
static charter_status file_save(const char *dir, json_t *j, charter_error *err)
{
    char path[4096];
    file_path(dir, path, sizeof path);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return base_fail(err, CHARTER_E_NOMEM, "out of memory writing %s", path);
    charter_status st = base_secfile_write(dir, path, text, err);
    sodium_memzero(text, strlen(text));
    free(text);
    return st;
}

charter_status charter_webhook_secret_create(const char *dir, const char *queue,
                                             bool rotate,
                                             char secret[CHARTER_WEBHOOK_SECRET_SIZE],
                                             charter_error *err)
{
    secret[0] = '\0';
    if (!dir || !base_secfile_name_ok(queue))
        return base_fail(err, CHARTER_E_INVALID,
                         "expected a queue id (printable, no spaces or quotes); found '%s'",
                         queue ? queue : "");
    if (sodium_init() < 0)
        return base_fail(err, CHARTER_E_NOMEM, "libsodium failed to initialize");
    json_t *j = NULL;
    charter_status st = file_load(dir, &j, err);
    if (st != CHARTER_OK)
        return st;
    json_t *list = json_object_get(j, "webhooks");
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w) {
        if (json_is_string(json_object_get(w, "queue")) &&
            !strcmp(json_string_value(json_object_get(w, "queue")), queue))
            break;
    }
    if (i < json_array_size(list) && !rotate) {
        json_decref(j);
        return base_fail(err, CHARTER_E_DUPLICATE,
                         "queue '%s' has a webhook secret in %s/webhooks.json already; "
                         "--rotate replaces it", queue, dir);
    }
    unsigned char key[KEY_BYTES];
    randombytes_buf(key, sizeof key);
    memcpy(secret, PREFIX, sizeof PREFIX - 1);
    sodium_bin2base64(secret + sizeof PREFIX - 1,
                      CHARTER_WEBHOOK_SECRET_SIZE - (sizeof PREFIX - 1), key, sizeof key,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof key);
    char created[40];
    charter_time_format(charter_now_ms(), created);
    json_t *entry = json_pack("{s:s, s:s, s:s}", "queue", queue, "secret", secret,
                              "created", created);
    if (!entry ||
        (i < json_array_size(list) ? json_array_set_new(list, i, entry)
                                   : json_array_append_new(list, entry)) != 0) {
        json_decref(j);
        sodium_memzero(secret, CHARTER_WEBHOOK_SECRET_SIZE);
        return base_fail(err, CHARTER_E_NOMEM, "out of memory");
    }
    st = file_save(dir, j, err);
    json_decref(j);
    if (st != CHARTER_OK)
        sodium_memzero(secret, CHARTER_WEBHOOK_SECRET_SIZE);
    return st;
}

void ntf_secrets_free(ntf_secrets *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].queue);
        sodium_memzero(s->v[i].key, sizeof s->v[i].key);
    }
    free(s->v);
    free(s);
}

charter_status ntf_secrets_load(const char *dir, ntf_secrets **out, charter_error *err)
{
    *out = NULL;
    json_t *j = NULL;
    charter_status st = file_load(dir, &j, err);
    if (st != CHARTER_OK)
        return st;
    json_t *list = json_object_get(j, "webhooks");
    ntf_secrets *s = calloc(1, sizeof *s);
    if (!s || (json_array_size(list) &&
               !(s->v = calloc(json_array_size(list), sizeof *s->v)))) {
        free(s);
        json_decref(j);
        return base_fail(err, CHARTER_E_NOMEM, "out of memory");
    }
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w) {
        const char *q = json_string_value(json_object_get(w, "queue"));
        const char *sec = json_string_value(json_object_get(w, "secret"));
        ntf_secret *e = &s->v[s->n];
        size_t len = 0;
        if (!q || !sec || strncmp(sec, PREFIX, sizeof PREFIX - 1) ||
            sodium_base642bin(e->key, sizeof e->key, sec + sizeof PREFIX - 1,
                              strlen(sec + sizeof PREFIX - 1), NULL, &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            len == 0) {
            ntf_secrets_free(s);
            json_decref(j);
            return base_fail(err, CHARTER_E_IO,
                             "%s/webhooks.json: entry %zu: expected {\"queue\": ID, "
                             "\"secret\": \"whsec_<base64>\"} (written by 'charter keys "
                             "webhook')", dir, i + 1);
        }
        e->key_len = len;
        if (!(e->queue = strdup(q))) {
            ntf_secrets_free(s);
            json_decref(j);
            return base_fail(err, CHARTER_E_NOMEM, "out of memory");
        }
        s->n++;
    }
    json_decref(j);
    *out = s;
    return CHARTER_OK;
}

const ntf_secret *ntf_secrets_find(const ntf_secrets *s, const char *queue)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (!strcmp(s->v[i].queue, queue))
            return &s->v[i];
    return NULL;
}
