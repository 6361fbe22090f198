/* api_charter.c - the charter for people: GET /v1/charter (the one serving
 * now, its canonical JSON and every warning `charter check` prints) and
 * POST /v1/replay (a draft charter, uploaded as files, replayed read-only
 * over the server's ledger: which recorded decisions it would change).
 *
 * Both run on a worker: the rule warnings run the consistency analysis and
 * a replay reads the whole ledger. A replay writes the draft into a private
 * temporary folder (mkdtemp, 0700, removed before the answer), loads it
 * like `charter check` would, and never writes to the ledger; errors name
 * the files as they were uploaded, never the temporary path.
 */
#include "base/banned.h"

#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "charter_analyses.h"

/* ---- GET /v1/charter ------------------------------------------------------------ */

/* A warning's file as the serving charter's own: relative to its folder, or
 * the file's name when the charter is one file (never the server's layout). */
static const char *local_name(const char *file, const char *charter_path)
{
    size_t n = charter_path ? strlen(charter_path) : 0;
    if (n && !strncmp(file, charter_path, n) && file[n] == '/')
        return file + n + 1;
    const char *slash = strrchr(file, '/');
    return slash ? slash + 1 : file;
}

static json_t *warning_json(const charter_diag *d, const char *charter_path)
{
    json_t *w = json_pack("{s:s, s:s}", "code", d->code ? d->code : "",
                          "message", d->message ? d->message : "");
    if (!w)
        return NULL;
    if (d->file && d->file[0]) {
        char where[700];
        snprintf(where, sizeof where, "%s:%u:%u", local_name(d->file, charter_path), d->line,
                 d->column);
        json_object_set_new(w, "where", json_string(where));
    } else {
        json_object_set_new(w, "where", json_null());
    }
    return w;
}

void api_charter_get(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    charter *c = srv_charter(rq->s);
    size_t len = 0;
    const char *canonical = charter_canonical_json(c, &len);
    json_error_t je;
    json_t *body = json_loadb(canonical, len, 0, &je);
    charter_diag *rules = NULL;
    size_t nrules = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = body ? charter_rule_warnings(c, &rules, &nrules, &err)
                             : CHARTER_E_NOMEM;
    json_t *warnings = json_array(), *r = NULL;
    if (st == CHARTER_OK && warnings) {
        for (size_t i = 0; i < charter_warning_count(c); i++)
            json_array_append_new(warnings, warning_json(charter_warning(c, i),
                                                         rq->s->charter_path));
        for (size_t i = 0; i < nrules; i++)
            json_array_append_new(warnings, warning_json(&rules[i], rq->s->charter_path));
        r = json_pack("{s:s, s:s?, s:O, s:O}", "version", charter_version(c),
                      "name", charter_name(c), "charter", body, "warnings", warnings);
    }
    free(rules);
    json_decref(body);
    json_decref(warnings);
    charter_release(c);
    if (st != CHARTER_OK) {
        srv_reply_status(rq->s, rs, st, &err);
        return;
    }
    if (!r) {
        srv_reply_error(rs, 500, "internal", "out of memory answering");
        return;
    }
    srv_reply_json(rs, 200, r);
}

/* ---- POST /v1/replay -------------------------------------------------------------- */

#define REPLAY_MAX_FILES 64
#define REPLAY_MAX_CHANGES 1000
#define REPLAY_MAX_NAME 128

/* A plain file name of letters, digits, '.', '_' and '-', not hidden,
 * ending in .yaml or .yml. */
static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (!n || n > REPLAY_MAX_NAME || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml"));
}

/* Checks the upload: 1..64 files, each {"name": plain .yaml/.yml name,
 * "text": string}, no name twice; replies 400 and returns false otherwise. */
static bool files_ok(const json_t *files, srv_response *rs)
{
    size_t n = json_array_size(files), i, k;
    const json_t *f;
    if (!json_is_array(files) || n < 1 || n > REPLAY_MAX_FILES) {
        srv_reply_error(rs, 400, "invalid_request", "expected \"files\": an array of 1 to %d "
                        "{\"name\",\"text\"} objects; found %s", REPLAY_MAX_FILES,
                        json_is_array(files) ? "a different count" : "none");
        return false;
    }
    json_array_foreach(files, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name || !json_is_string(json_object_get(f, "text"))) {
            srv_reply_error(rs, 400, "invalid_request", "expected files[%zu] to have a string "
                            "\"name\" and a string \"text\"", i);
            return false;
        }
        if (!name_ok(name)) {
            srv_reply_error(rs, 400, "invalid_request", "expected files[%zu].name to be a plain "
                            "file name (letters, digits, '.', '_', '-'; at most %d bytes; "
                            "not hidden) ending in .yaml or .yml; found '%.80s'", i,
                            REPLAY_MAX_NAME, name);
            return false;
        }
        for (k = 0; k < i; k++)
            if (!strcmp(name, json_string_value(json_object_get(json_array_get(files, k),
                                                                "name")))) {
                srv_reply_error(rs, 400, "invalid_request", "expected each file name once; "
                                "found '%s' twice", name);
                return false;
            }
    }
    return true;
}

/* The private folder a draft is written to; `written` counts its files. */
typedef struct draft_dir {
    char path[64];
    const json_t *files;
    size_t written;
} draft_dir;

static void draft_remove(draft_dir *d)
{
    char p[256];
    for (size_t i = 0; i < d->written; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(d->files, i),
                                                             "name"));
        snprintf(p, sizeof p, "%s/%s", d->path, name);
        unlink(p);
    }
    if (d->path[0])
        rmdir(d->path);
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Creates the folder and writes every file; false on a system error. */
static bool draft_write(draft_dir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/charter-replay-XXXXXX");
    if (!mkdtemp(d->path)) {
        d->path[0] = '\0';
        return false;
    }
    size_t i;
    const json_t *f;
    json_array_foreach(d->files, i, f) {
        char p[256];
        const char *text = json_string_value(json_object_get(f, "text"));
        snprintf(p, sizeof p, "%s/%s", d->path, json_string_value(json_object_get(f, "name")));
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return false;
        d->written++;
        bool ok = write_all(fd, text, json_string_length(json_object_get(f, "text")));
        if (close(fd) != 0 || !ok)
            return false;
    }
    return true;
}

/* Removes every "<tmp>/" from s (in place): file names as uploaded. */
static void strip_dir(char *s, const char *dir)
{
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s/", dir);
    size_t n = strlen(prefix);
    char *at;
    while ((at = strstr(s, prefix)) != NULL)
        memmove(at, at + n, strlen(at + n) + 1);
    /* A message naming the folder itself (a charter with no file). */
    while ((at = strstr(s, dir)) != NULL) {
        static const char what[] = "the draft";
        size_t dn = strlen(dir), wn = sizeof what - 1;
        if (wn > dn)
            break;
        memcpy(at, what, wn);
        memmove(at + wn, at + dn, strlen(at + dn) + 1);
    }
}

static void reply_invalid(srv_response *rs, charter_error *err, const char *dir)
{
    char where[700] = "", msg[1800];
    strip_dir(err->file, dir);
    strip_dir(err->message, dir);
    if (err->file[0])
        snprintf(where, sizeof where, "%s:%u:%u", err->file, err->line, err->column);
    charter_error_format(err, msg, sizeof msg);
    json_t *e = json_pack("{s:s, s:s}", "code", "charter_invalid", "message", msg);
    if (e && where[0])
        json_object_set_new(e, "where", json_string(where));
    json_t *r = e ? json_pack("{s:o}", "error", e) : NULL;
    if (r)
        srv_reply_json(rs, 422, r);
    else
        srv_reply_error(rs, 500, "internal", "out of memory answering");
}

typedef struct collect {
    json_t *changes;
    size_t listed;
    bool truncated, failed;
} collect;

static json_t *string_list(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int on_change(const charter_replay_change *ch, void *user)
{
    collect *c = user;
    if (c->listed >= REPLAY_MAX_CHANGES) {
        c->truncated = true;
        return 0;
    }
    char t[40];
    charter_time_format(ch->time_ms, t);
    json_t *o = json_pack("{s:s?, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s?, s:s?, s:o, s:o}",
                          "decision_id", ch->decision_id, "time", t, "agent", ch->agent,
                          "workflow", ch->workflow, "action", ch->action,
                          "before", charter_effect_name(ch->before),
                          "after", charter_effect_name(ch->after),
                          "before_reason", ch->before_reason, "after_reason", ch->after_reason,
                          "added", string_list(ch->added, ch->added_count),
                          "removed", string_list(ch->removed, ch->removed_count));
    if (!o || json_array_append_new(c->changes, o)) {
        c->failed = true;
        return 1;
    }
    c->listed++;
    return 0;
}

static json_t *summary_json(const charter_replay_summary *s)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "decisions", (json_int_t)s->decisions, "changed", (json_int_t)s->changed,
                     "rules_changed", (json_int_t)s->rules_changed,
                     "unchanged", (json_int_t)s->unchanged, "errors", (json_int_t)s->errors,
                     "to_allow", (json_int_t)s->to_allow,
                     "to_escalate", (json_int_t)s->to_escalate,
                     "to_deny", (json_int_t)s->to_deny);
}

static void replay_draft(const srv_request *rq, const charter *draft, int64_t since,
                         srv_response *rs)
{
    collect col = {.changes = json_array()};
    charter_replay_summary sum;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = col.changes
                            ? charter_ledger_replay(rq->s->opt.ledger_path, draft, since,
                                                    on_change, &col, &sum, &err)
                            : CHARTER_E_NOMEM;
    if (st == CHARTER_OK && col.failed)
        st = CHARTER_E_NOMEM;
    if (st != CHARTER_OK) {
        json_decref(col.changes);
        srv_reply_status(rq->s, rs, st, &err);
        return;
    }
    json_t *r = json_pack("{s:s, s:o, s:o, s:b}", "draft_version", charter_version(draft),
                          "summary", summary_json(&sum), "changes", col.changes,
                          "truncated", col.truncated);
    if (!r) {
        srv_reply_error(rs, 500, "internal", "out of memory answering");
        return;
    }
    srv_reply_json(rs, 200, r);
}

/* Writes the draft, loads it, replays it, removes it. */
static void replay_upload(const srv_request *rq, const json_t *files, int64_t since,
                          srv_response *rs)
{
    draft_dir d = {.files = files};
    if (!draft_write(&d)) {
        srv_log(rq->s, "replay: cannot write the draft to a temporary folder: %s",
                strerror(errno));
        draft_remove(&d);
        srv_reply_error(rs, 500, "internal", "the draft could not be written to a temporary "
                                             "folder");
        return;
    }
    charter *draft = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_load(d.path, &draft, &err);
    if (st == CHARTER_OK)
        replay_draft(rq, draft, since, rs);
    else if (st == CHARTER_E_NOMEM)
        srv_reply_error(rs, 500, "internal", "out of memory loading the draft");
    else
        reply_invalid(rs, &err, d.path);
    charter_release(draft);
    draft_remove(&d);
}

void api_replay(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    json_t *body = srv_body_object(rq, rs);
    if (!body)
        return;
    const json_t *files = json_object_get(body, "files"), *sv = json_object_get(body, "since");
    int64_t since = INT64_MIN;
    if (!files_ok(files, rs)) {
        /* files_ok replied */
    } else if (sv && !json_is_null(sv) &&
               (!json_is_string(sv) || !charter_time_parse(json_string_value(sv), &since))) {
        srv_reply_error(rs, 400, "invalid_request", "expected \"since\" to be an RFC 3339 "
                        "time, a date or Unix milliseconds as a string");
    } else {
        replay_upload(rq, files, since, rs);
    }
    json_decref(body);
}
