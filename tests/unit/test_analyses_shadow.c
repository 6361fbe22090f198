/* test_analyses_shadow.c - shadow agents: egress lines in each format are
 * read; traffic to AI services from an unregistered source is listed with
 * its service, first and last seen and count; registered agents, known
 * sources and other hosts are not; a hosts file extends the list; decision
 * requests of unregistered agents come from the ledger. */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "analyses/egress.h"
#include "analyses_planted.h"
#include "charter_analyses.h"

static char dir[256];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_each_log_format_is_read(void)
{
    egress_line l;
    const char *jl = "{\"source\":\"10.0.0.9\",\"host\":\"API.OpenAI.com:443\","
                     "\"time\":\"2026-11-03T10:00:00Z\"}";
    CHECK(egress_parse(jl, strlen(jl), &l));
    CHECK_STR(l.source, "10.0.0.9");
    CHECK_STR(l.host, "api.openai.com");
    CHECK_INT(l.time_ms, 1793700000000LL);
    const char *nginx = "10.0.0.7 - - [03/Nov/2026:11:00:00 +0100] \"CONNECT "
                        "api.anthropic.com:443 HTTP/1.1\" 200 512 \"-\" \"curl/8\"";
    CHECK(egress_parse(nginx, strlen(nginx), &l));
    CHECK_INT(l.format, EGRESS_NGINX);
    CHECK_STR(l.host, "api.anthropic.com");
    CHECK_INT(l.time_ms, 1793700000000LL); /* 11:00 +01:00 is 10:00Z */
    const char *squid = "1793700000.250     12 10.0.0.8 TCP_TUNNEL/200 4512 CONNECT "
                        "api.mistral.ai:443 - HIER_DIRECT/1.2.3.4 -";
    CHECK(egress_parse(squid, strlen(squid), &l));
    CHECK_INT(l.format, EGRESS_SQUID);
    CHECK_STR(l.source, "10.0.0.8");
    CHECK_STR(l.host, "api.mistral.ai");
    CHECK_INT(l.time_ms, 1793700000250LL);
    CHECK(!egress_parse("not a log line", 14, &l));
    const char *path_only = "10.0.0.7 - - [03/Nov/2026:11:00:00 +0100] \"GET /v1/chat "
                            "HTTP/1.1\" 200 5 \"-\" \"-\"";
    CHECK(!egress_parse(path_only, strlen(path_only), &l)); /* no host in the line */
}

static json_t *shadow(const charter *c, const char *const *logs, size_t n,
                      const charter_shadow_options *o)
{
    char *out = NULL;
    charter_error err;
    charter_status s = charter_shadow(c, logs, n, o, &out, &err);
    CHECK_INT(s, CHARTER_OK);
    if (s != CHARTER_OK) {
        fprintf(stderr, "shadow: %s\n", err.message);
        return NULL;
    }
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    return j;
}

static void test_planted_shadow_source_is_found(void)
{
    char jl[512], ng[512], hosts[512], ledger[512];
    snprintf(jl, sizeof jl, "%s/egress.jsonl", dir);
    snprintf(ng, sizeof ng, "%s/access.log", dir);
    snprintf(hosts, sizeof hosts, "%s/hosts.txt", dir);
    snprintf(ledger, sizeof ledger, "%s/planted.ledger", dir);
    write_file(jl,
               "{\"source\":\"10.0.0.9\",\"host\":\"api.openai.com\",\"time\":\"2026-11-03T10:00:00Z\"}\n"
               "{\"source\":\"10.0.0.9\",\"url\":\"https://api.openai.com/v1/chat/completions\","
               "\"time\":\"2026-11-03T12:30:00Z\"}\n"
               "{\"source\":\"support-bot\",\"host\":\"api.openai.com\",\"time\":\"2026-11-03T10:05:00Z\"}\n"
               "{\"source\":\"10.0.0.9\",\"host\":\"example.com\",\"time\":\"2026-11-03T10:06:00Z\"}\n"
               "{\"source\":\"10.0.0.5\",\"host\":\"api.anthropic.com\",\"time\":\"2026-11-03T10:07:00Z\"}\n"
               "garbage\n");
    write_file(ng,
               "10.0.0.9 - - [03/Nov/2026:09:00:00 +0000] \"POST https://api.openai.com/v1/responses "
               "HTTP/1.1\" 200 99 \"-\" \"python\"\n"
               "10.0.0.4 - - [03/Nov/2026:09:10:00 +0000] \"CONNECT llm.internal.example:443 "
               "HTTP/1.1\" 200 0 \"-\" \"-\"\n");
    write_file(hosts, "# our own model gateway\nllm.internal.example  Internal LLM gateway\n");
    charter *c = planted_load();
    CHECK_INT(planted_ledger_write(ledger, c), 0);
    const char *logs[] = {jl, ng};
    const char *known[] = {"10.0.0.5"};
    charter_shadow_options o = {.hosts_path = hosts, .known_sources = known,
                                .known_source_count = 1, .ledger_path = ledger};
    json_t *r = shadow(c, logs, 2, &o);
    json_t *sh = json_object_get(r, "shadow");
    CHECK_INT(json_array_size(sh), 2);
    json_t *top = json_array_get(sh, 0);
    CHECK_STR(json_string_value(json_object_get(top, "source")), "10.0.0.9");
    CHECK_STR(json_string_value(json_object_get(top, "service")), "OpenAI");
    CHECK_INT(json_integer_value(json_object_get(top, "requests")), 3);
    CHECK_STR(json_string_value(json_object_get(top, "first_seen")), "2026-11-03T09:00:00Z");
    CHECK_STR(json_string_value(json_object_get(top, "last_seen")), "2026-11-03T12:30:00Z");
    json_t *gw = json_array_get(sh, 1);
    CHECK_STR(json_string_value(json_object_get(gw, "source")), "10.0.0.4");
    CHECK_STR(json_string_value(json_object_get(gw, "service")), "Internal LLM gateway");
    json_t *reg = json_object_get(r, "registered");
    CHECK_INT(json_array_size(reg), 2); /* support-bot (an agent id), 10.0.0.5 (known) */
    json_t *log = json_array_get(json_object_get(r, "logs"), 0);
    CHECK_INT(json_integer_value(json_object_get(log, "lines")), 6);
    CHECK_INT(json_integer_value(json_object_get(log, "unrecognized")), 1);
    CHECK_INT(json_integer_value(json_object_get(log, "ai_requests")), 4);
    CHECK_INT(json_integer_value(json_object_get(log, "shadow_requests")), 2);
    json_t *led = json_object_get(r, "ledger");
    CHECK_INT(json_array_size(led), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(led, 0), "agent")), "ghost-bot");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(led, 0), "requests")), 3);
    json_decref(r);
    charter_release(c);
}

static void test_missing_log_and_bad_hosts_file(void)
{
    charter *c = planted_load();
    const char *logs[] = {"/nonexistent/egress.log"};
    char *out = NULL;
    charter_error err;
    CHECK_INT(charter_shadow(c, logs, 1, NULL, &out, &err), CHARTER_E_IO);
    CHECK_HAS(err.message, "/nonexistent/egress.log");
    char hosts[512];
    snprintf(hosts, sizeof hosts, "%s/bad-hosts.txt", dir);
    write_file(hosts, "*.a.*.example\n");
    charter_shadow_options o = {.hosts_path = hosts};
    CHECK_INT(charter_shadow(c, NULL, 0, &o, &out, &err), CHARTER_E_INVALID);
    CHECK_HAS(err.message, "at most one '*'");
    CHECK(out == NULL);
    charter_release(c);
}

static void test_overlong_line_is_skipped_not_held(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/long.log", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    for (int i = 0; i < 70000; i++)
        fputc('x', f);
    fputs("\n{\"source\":\"10.0.0.9\",\"host\":\"api.openai.com\"}\n", f);
    fclose(f);
    charter *c = planted_load();
    const char *logs[] = {path};
    json_t *r = shadow(c, logs, 1, NULL);
    json_t *log = json_array_get(json_object_get(r, "logs"), 0);
    CHECK_INT(json_integer_value(json_object_get(log, "lines")), 2);
    CHECK_INT(json_integer_value(json_object_get(log, "unrecognized")), 1);
    CHECK_INT(json_integer_value(json_object_get(log, "shadow_requests")), 1);
    json_decref(r);
    charter_release(c);
}

int main(void)
{
    planted_tmpdir(dir, sizeof dir, "shadow");
    RUN(test_each_log_format_is_read);
    RUN(test_planted_shadow_source_is_found);
    RUN(test_missing_log_and_bad_hosts_file);
    RUN(test_overlong_line_is_skipped_not_held);
    if (planted_rmdir(dir))
        return 1;
    return TEST_DONE();
}
