/* egress.h - one line of an egress (proxy or gateway) log, in any of the
 * formats the shadow-agent analysis reads (egress.c).
 *
 *   JSON Lines   an object per line; the source is the first of "source",
 *                "src", "client", "client_ip", "remote_addr", "agent",
 *                "user"; the host the first of "host", "destination",
 *                "dest_host", "dest", "server_name", "sni", "domain", else
 *                the host of "url" / "uri" / "request"; the time "time",
 *                "timestamp", "ts" or "@timestamp" (RFC 3339, or Unix
 *                seconds or milliseconds)
 *   nginx        the "combined" format: addr - user [10/Oct/2026:13:55:36
 *                +0000] "CONNECT api.openai.com:443 HTTP/1.1" ... (the host
 *                comes from an absolute URL or a CONNECT target)
 *   Squid        the native format: 1795000000.123 12 10.0.0.5 TCP_TUNNEL/200
 *                512 CONNECT api.openai.com:443 - HIER_DIRECT/1.2.3.4 -
 */
#ifndef CHARTER_ANALYSES_EGRESS_H
#define CHARTER_ANALYSES_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum egress_format { EGRESS_JSONL, EGRESS_NGINX, EGRESS_SQUID } egress_format;

typedef struct egress_line {
    egress_format format;
    char source[256];
    char host[256];        /* lower case, without port */
    int64_t time_ms;       /* 0 when the line has none */
} egress_line;

/* Reads one line (without its newline). False when it is in no known
 * format or lacks a source or a host. */
bool egress_parse(const char *line, size_t n, egress_line *out);

/* The host of a URL or "host:port" ("https://API.openai.com:443/v1" ->
 * "api.openai.com"), into out (cap bytes). False when there is none (a
 * bare path). */
bool egress_host_of(const char *url, size_t n, char *out, size_t cap);

#endif
