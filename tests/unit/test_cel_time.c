/* test_cel_time.c - timestamps and durations: parsing, formatting,
 * arithmetic with range checks, accessors with time zones. */
#include "cel/cel.h"
#include "cel/cel_int.h"

#include "test.h"

static arena A;

static cel_value run(const char *src)
{
    cel_value out;
    cel_diag d;
    cel_status s = cel_eval_once(&A, src, strlen(src), NULL, 0, &out, &d);
    if (s != CEL_OK && s != CEL_ERR_EVAL)
        return cel_error(arena_strdup(&A, d.message));
    return out;
}

static bool is_true(const char *src)
{
    cel_value v = run(src);
    if (v.kind != CEL_BOOL)
        fprintf(stderr, "  %s -> kind %d %s\n", src, v.kind,
                v.kind == CEL_ERROR ? v.v.error : "");
    return v.kind == CEL_BOOL && v.v.b;
}

static bool is_error(const char *src, const char *needle)
{
    cel_value v = run(src);
    return v.kind == CEL_ERROR && strstr(v.v.error, needle);
}

static void test_rfc3339_parse_and_format(void)
{
    int64_t sec;
    int32_t nsec;
    const char *why;
    CHECK(cel_ts_parse("2009-02-13T23:31:30Z", 20, &sec, &nsec, &why));
    CHECK_INT(sec, 1234567890);
    CHECK(cel_ts_parse("2009-02-14T01:01:30.5+01:30", 27, &sec, &nsec, &why));
    CHECK_INT(sec, 1234567890);
    CHECK_INT(nsec, 500000000);
    char buf[64];
    cel_ts_format(sec, nsec, buf, sizeof buf);
    CHECK_STR(buf, "2009-02-13T23:31:30.5Z");
    CHECK(!cel_ts_parse("2009-02-30T00:00:00Z", 20, &sec, &nsec, &why));
    CHECK(!cel_ts_parse("2009-02-13 23:31:30Z", 20, &sec, &nsec, &why));
    CHECK(is_true("string(timestamp('2009-02-13T23:31:30Z')) == '2009-02-13T23:31:30Z'"));
    CHECK(is_true("int(timestamp('1970-01-02T00:00:00Z')) == 86400"));
}

static void test_durations_parse_and_format(void)
{
    CHECK(is_true("duration('1h30m') == duration('5400s')"));
    CHECK(is_true("duration('1.5s') == duration('1500ms')"));
    CHECK(is_true("duration('-2m') < duration('0')"));
    CHECK(is_true("string(duration('1.25s')) == '1.25s'"));
    CHECK(is_true("string(duration('-90s')) == '-90s'"));
    CHECK(is_true("duration('1h1m1s').getMinutes() == 61 && duration('1.5s').getMilliseconds() == 500"));
    CHECK(is_error("duration('5 minutes')", "cannot convert"));
    CHECK(is_error("duration('1x')", "unit"));
}

static void test_arithmetic_and_comparison(void)
{
    CHECK(is_true("timestamp('2026-01-01T00:00:00Z') + duration('36h') == "
                  "timestamp('2026-01-02T12:00:00Z')"));
    CHECK(is_true("duration('1h') + timestamp('2026-01-01T00:00:00Z') > "
                  "timestamp('2026-01-01T00:00:00Z')"));
    CHECK(is_true("timestamp('2026-01-02T00:00:00Z') - timestamp('2026-01-01T00:00:00Z') == "
                  "duration('24h')"));
    CHECK(is_true("timestamp('2026-01-01T00:00:00Z') - duration('1ns') < "
                  "timestamp('2026-01-01T00:00:00Z')"));
    CHECK(is_true("duration('1h') - duration('30m') == duration('30m')"));
}

static void test_range_checks(void)
{
    CHECK(is_error("timestamp('9999-12-31T23:59:59Z') + duration('1s')", "out of range"));
    CHECK(is_error("timestamp('0001-01-01T00:00:00Z') - duration('1ns')", "out of range"));
    CHECK(is_error("timestamp(253402300800)", "range"));
    CHECK(is_error("timestamp('10000-01-01T00:00:00Z')", "cannot convert"));
    CHECK(is_error("duration('320000000000s')", "range"));
    CHECK(is_error("timestamp('9999-12-31T23:59:59Z') - timestamp('0001-01-01T00:00:00Z')",
                   "range"));
}

static void test_accessors_in_utc(void)
{
    const char *t = "timestamp('2009-02-13T23:31:30.123Z')";
    char src[256];
    static const struct { const char *fn; int want; } cases[] = {
        {"getFullYear", 2009}, {"getMonth", 1}, {"getDate", 13},
        {"getDayOfMonth", 12}, {"getDayOfWeek", 5}, {"getDayOfYear", 43},
        {"getHours", 23}, {"getMinutes", 31}, {"getSeconds", 30},
        {"getMilliseconds", 123}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(src, sizeof src, "%s.%s()", t, cases[i].fn);
        cel_value v = run(src);
        CHECK(v.kind == CEL_INT);
        if (v.kind == CEL_INT && v.v.i != cases[i].want)
            fprintf(stderr, "  %s = %lld, expected %d\n", src, (long long)v.v.i,
                    cases[i].want);
        CHECK(v.kind == CEL_INT && v.v.i == cases[i].want);
    }
}

static void test_accessors_with_time_zones(void)
{
    CHECK(is_true("timestamp('2009-02-13T23:31:30Z').getHours('+05:30') == 5"));
    CHECK(is_true("timestamp('2009-02-13T23:31:30Z').getMinutes('+05:30') == 1"));
    CHECK(is_true("timestamp('2009-02-13T02:00:00Z').getDayOfMonth('-02:30') == 11"));
    CHECK(is_true("timestamp('2009-02-13T23:31:30Z').getHours('02:00') == 1"));
    CHECK(is_true("timestamp('2009-02-13T23:31:30Z').getHours('UTC') == 23"));
    /* IANA names, including daylight saving time from the zone's rule. */
    CHECK(is_true("timestamp('2026-07-01T12:00:00Z').getHours('America/New_York') == 8"));
    CHECK(is_true("timestamp('2026-01-01T12:00:00Z').getHours('America/New_York') == 7"));
    CHECK(is_true("timestamp('2009-02-13T23:31:30Z').getMinutes('Asia/Kathmandu') == 16"));
    CHECK(is_true("timestamp('2026-01-15T00:00:00Z').getHours('Australia/Sydney') == 11"));
    CHECK(is_error("timestamp('2009-02-13T23:31:30Z').getHours('Mars/Olympus')",
                   "unknown time zone"));
    CHECK(is_error("timestamp('2009-02-13T23:31:30Z').getHours('../../etc/passwd')",
                   "unknown time zone"));
}

int main(void)
{
    arena_init(&A, 0);
    RUN(test_rfc3339_parse_and_format);
    RUN(test_durations_parse_and_format);
    RUN(test_arithmetic_and_comparison);
    RUN(test_range_checks);
    RUN(test_accessors_in_utc);
    RUN(test_accessors_with_time_zones);
    arena_release(&A);
    return TEST_DONE();
}
