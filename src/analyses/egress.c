/* egress.c - reading egress log lines (egress.h). */
#include "base/banned.h"

#include "analyses/egress.h"

#include <ctype.h>
#include <jansson.h>

#include "charter_ledger.h"
#include "base/civil.h"

static void copy_lower(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
}

bool egress_host_of(const char *url, size_t n, char *out, size_t cap)
{
    const char *p = url, *end = url + n;
    const char *scheme = NULL;
    for (const char *q = p; q + 2 < end; q++) {
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            scheme = q;
            break;
        }
        if (q[0] == '/')
            break;
    }
    if (scheme)
        p = scheme + 3;
    else if (p < end && *p == '/')
        return false; /* a path: the host is not in the line */
    const char *at = p;
    while (at < end && *at != '/' && *at != '?' && *at != '#')
        at++;
    /* Drop user info and the port. */
    const char *h = p;
    for (const char *q = p; q < at; q++)
        if (*q == '@')
            h = q + 1;
    const char *colon = at;
    if (h < at && *h == '[') {
        const char *rb = memchr(h, ']', (size_t)(at - h));
        if (!rb)
            return false;
        copy_lower(out, cap, h + 1, (size_t)(rb - h - 1));
        return rb > h + 1;
    }
    for (const char *q = h; q < at; q++)
        if (*q == ':') {
            colon = q;
            break;
        }
    if (colon == h)
        return false;
    copy_lower(out, cap, h, (size_t)(colon - h));
    return true;
}

/* "10/Oct/2026:13:55:36 +0000" */
static bool nginx_time(const char *s, size_t n, int64_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (n < 26)
        return false;
    char mon[4] = {s[3], s[4], s[5], 0};
    const char *m = strstr(months, mon);
    if (!m || (m - months) % 3)
        return false;
    int d, y, hh, mm, ss, tz;
    char sign;
    char buf[40];
    memcpy(buf, s, n < sizeof buf - 1 ? n : sizeof buf - 1);
    buf[n < sizeof buf - 1 ? n : sizeof buf - 1] = '\0';
    if (sscanf(buf, "%2d/%*3c/%4d:%2d:%2d:%2d %c%4d", &d, &y, &hh, &mm, &ss, &sign, &tz) != 7)
        return false;
    int64_t days = base_days_from_civil(y, (unsigned)((m - months) / 3 + 1), (unsigned)d);
    int64_t off = (tz / 100 * 60 + tz % 100) * 60;
    int64_t sec = days * 86400 + hh * 3600 + mm * 60 + ss - (sign == '-' ? -off : off);
    *out = sec * 1000;
    return true;
}

static bool parse_nginx(const char *line, size_t n, egress_line *out)
{
    const char *sp = memchr(line, ' ', n);
    const char *lb = memchr(line, '[', n);
    const char *q1 = memchr(line, '"', n);
    if (!sp || !lb || !q1 || lb > q1 || sp > lb)
        return false;
    const char *rb = memchr(lb, ']', (size_t)(line + n - lb));
    const char *q2 = memchr(q1 + 1, '"', (size_t)(line + n - q1 - 1));
    if (!rb || !q2 || rb > q1)
        return false;
    copy_lower(out->source, sizeof out->source, line, (size_t)(sp - line));
    if (!nginx_time(lb + 1, (size_t)(rb - lb - 1), &out->time_ms))
        out->time_ms = 0;
    /* "METHOD TARGET PROTOCOL" */
    const char *t = memchr(q1 + 1, ' ', (size_t)(q2 - q1 - 1));
    if (!t)
        return false;
    t++;
    const char *te = memchr(t, ' ', (size_t)(q2 - t));
    if (!te)
        te = q2;
    out->format = EGRESS_NGINX;
    return egress_host_of(t, (size_t)(te - t), out->host, sizeof out->host);
}

/* Squid native: time elapsed client code/status bytes method URL ... */
static bool parse_squid(const char *line, size_t n, egress_line *out)
{
    const char *f[7];
    size_t len[7], k = 0, i = 0;
    while (k < 7 && i < n) {
        while (i < n && line[i] == ' ')
            i++;
        if (i >= n)
            break;
        f[k] = line + i;
        while (i < n && line[i] != ' ')
            i++;
        len[k] = (size_t)(line + i - f[k]);
        k++;
    }
    if (k < 7 || !memchr(f[3], '/', len[3]))
        return false;
    char num[32];
    if (len[0] >= sizeof num)
        return false;
    memcpy(num, f[0], len[0]);
    num[len[0]] = '\0';
    char *end;
    double secs = strtod(num, &end);
    if (*end || secs <= 0)
        return false;
    out->format = EGRESS_SQUID;
    out->time_ms = (int64_t)(secs * 1000.0 + 0.5);
    copy_lower(out->source, sizeof out->source, f[2], len[2]);
    return egress_host_of(f[6], len[6], out->host, sizeof out->host);
}

static const char *first_str(const json_t *o, const char *const *keys)
{
    for (; *keys; keys++) {
        const char *s = json_string_value(json_object_get(o, *keys));
        if (s && *s)
            return s;
    }
    return NULL;
}

static int64_t json_time(const json_t *o)
{
    static const char *const keys[] = {"time", "timestamp", "ts", "@timestamp", NULL};
    for (const char *const *k = keys; *k; k++) {
        const json_t *v = json_object_get(o, *k);
        int64_t ms;
        if (json_is_string(v) && charter_time_parse(json_string_value(v), &ms))
            return ms;
        if (json_is_number(v)) {
            double d = json_number_value(v);
            return (int64_t)(d < 1e11 ? d * 1000.0 : d);
        }
    }
    return 0;
}

static bool parse_jsonl(const char *line, size_t n, egress_line *out)
{
    static const char *const sources[] = {"source", "src", "client", "client_ip",
                                          "remote_addr", "agent", "user", NULL};
    static const char *const hosts[] = {"host", "destination", "dest_host", "dest",
                                        "server_name", "sni", "domain", NULL};
    static const char *const urls[] = {"url", "uri", "request", NULL};
    json_t *o = json_loadb(line, n, 0, NULL);
    bool ok = false;
    if (json_is_object(o)) {
        const char *src = first_str(o, sources), *host = first_str(o, hosts);
        const char *url = first_str(o, urls);
        out->format = EGRESS_JSONL;
        out->time_ms = json_time(o);
        if (src) {
            copy_lower(out->source, sizeof out->source, src, strlen(src));
            if (host)
                ok = egress_host_of(host, strlen(host), out->host, sizeof out->host);
            if (!ok && url) {
                /* "POST https://host/path HTTP/1.1" or a bare URL */
                const char *u = strchr(url, ' ') ? strchr(url, ' ') + 1 : url;
                const char *ue = strchr(u, ' ');
                ok = egress_host_of(u, ue ? (size_t)(ue - u) : strlen(u), out->host,
                                    sizeof out->host);
            }
        }
    }
    json_decref(o);
    return ok;
}

bool egress_parse(const char *line, size_t n, egress_line *out)
{
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    while (n && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    memset(out, 0, sizeof *out);
    if (!n)
        return false;
    if (*line == '{')
        return parse_jsonl(line, n, out);
    if (isdigit((unsigned char)*line) && parse_squid(line, n, out))
        return true;
    memset(out, 0, sizeof *out);
    return parse_nginx(line, n, out);
}
