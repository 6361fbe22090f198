/* console.c - the console's files: GET / (index.html) and
 * GET /console/<name>.
 *
 * The files of src/console/web are embedded in the binary at build time
 * (cmake/embed_console.cmake writes srv_console_files[]); with
 * `serve --console-dir DIR` they are read from DIR instead, again on each
 * request, so a person editing the console sees each change on reload. A
 * name is one path segment of letters, digits, '.', '-' and '_' (not
 * starting with '.'), with a known extension; anything else is 404. Each
 * answer carries an ETag (a hash of its bytes; If-None-Match answers 304)
 * and, through rs->console, the console's security headers (http.c).
 */
#include "base/banned.h"

#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"

/* The content type of a file name, or NULL when it is not served. */
static const char *type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"}};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && !strcmp(name + n - e, types[i].ext))
            return types[i].type;
    }
    return NULL;
}

static bool name_ok(const char *name)
{
    if (!name[0] || name[0] == '.' || strlen(name) > 128)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
            return false;
    return !strstr(name, "..") && type_of(name);
}

static void not_found(srv_response *rs, const char *name)
{
    srv_reply_error(rs, 404, "not_found", "no console file '%.128s' (a name of letters, "
                    "digits, '.', '-' and '_' with .html .js .css .svg or .png)", name);
}

/* Reads DIR/name whole (a regular file, at most the limit); NULL with
 * errno when it cannot. The result is malloc'd, the caller's. */
static char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > CHARTER_MAX_CONSOLE_FILE_BYTES) {
        errno = ENOENT;
    } else if ((buf = malloc((size_t)st.st_size + 1))) {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        *len = got;
    }
    close(fd);
    return buf;
}

/* Answers with `data` (taken, malloc'd) unless the client holds it. */
static void send_file(const srv_request *rq, srv_response *rs, const char *type,
                      char *data, size_t len)
{
    unsigned char h[16];
    char hex[33], etag[40];
    crypto_generichash(h, sizeof h, (const unsigned char *)data, len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(etag, sizeof etag, "\"%s\"", hex);
    rs->console = true;
    rs->content_type = type;
    srv_add_header(rs, "ETag", etag);
    const char *held = srv_header(rq, "If-None-Match");
    if (held && strstr(held, etag)) {
        free(data);
        free(rs->body);
        rs->body = NULL;
        rs->body_len = 0;
        rs->status = 304;
        return;
    }
    srv_reply_text(rs, 200, data, len);
}

static void serve(const srv_request *rq, const char *name, srv_response *rs)
{
    if (!name_ok(name)) {
        not_found(rs, name);
        return;
    }
    const char *dir = rq->s->console_dir;
    if (dir) {
        size_t len = 0;
        char *data = read_file(dir, name, &len);
        if (!data) {
            if (errno == ENOMEM)
                srv_reply_text(rs, 500, NULL, 0);
            else
                not_found(rs, name);
            return;
        }
        send_file(rq, rs, type_of(name), data, len);
        return;
    }
    for (size_t i = 0; i < srv_console_file_count; i++) {
        const srv_console_file *f = &srv_console_files[i];
        if (strcmp(f->name, name))
            continue;
        char *data = malloc(f->len + 1);
        if (!data) {
            srv_reply_text(rs, 500, NULL, 0);
            return;
        }
        memcpy(data, f->data, f->len);
        data[f->len] = '\0';
        send_file(rq, rs, f->content_type, data, f->len);
        return;
    }
    not_found(rs, name);
}

void console_index(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    serve(rq, "index.html", rs);
}

void console_file(const srv_request *rq, const char *tail, srv_response *rs)
{
    serve(rq, tail, rs);
}
