/* cel_time.c - timestamps and durations: RFC 3339 text, Go-style duration
 * text ("1h30m", "1.5s"), arithmetic with the language definition's range
 * checks, and the calendar accessors with an optional time zone.
 *
 * A timestamp is {sec, nsec} since the Unix epoch with 0 <= nsec < 1e9, in
 * 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z. A duration is
 * {sec, nsec} with nsec carrying the sign of sec, within int64 nanoseconds
 * (about 292 years either way).
 * Arithmetic goes through 128-bit nanosecond counts, so it cannot overflow
 * before the range check sees the result.
 *
 * Time zones: "UTC", fixed offsets ("+05:30", "-02:00", "02:00") and IANA
 * names read from the TZif files under /usr/share/zoneinfo, including the
 * POSIX rule in their footer for times after the last listed transition.
 */
#include "base/banned.h"

#include "cel/cel_int.h"
#include "base/civil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;

#define NS_PER_SEC 1000000000LL

/* ---- Calendar (proleptic Gregorian, days since 1970-01-01) --------------- */

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* ---- Ranges and conversions ---------------------------------------------- */

bool cel_ts_in_range(int64_t sec, int32_t nsec)
{
    (void)nsec;
    return sec >= CEL_TS_MIN_SEC && sec <= CEL_TS_MAX_SEC;
}

bool cel_dur_in_range(int64_t sec, int32_t nsec)
{
    i128 ns = (i128)sec * 1000000000 + nsec;
    return ns >= -(i128)CEL_DUR_MAX_NS && ns <= CEL_DUR_MAX_NS;
}

static i128 to_ns(int64_t sec, int32_t nsec)
{
    return (i128)sec * NS_PER_SEC + nsec;
}

static void ts_from_ns(i128 ns, int64_t *sec, int32_t *nsec)
{
    i128 s = ns / NS_PER_SEC, r = ns % NS_PER_SEC;
    if (r < 0) {
        r += NS_PER_SEC;
        s -= 1;
    }
    *sec = (int64_t)s;
    *nsec = (int32_t)r;
}

static void dur_from_ns(i128 ns, int64_t *sec, int32_t *nsec)
{
    *sec = (int64_t)(ns / NS_PER_SEC);   /* truncation keeps the signs equal */
    *nsec = (int32_t)(ns % NS_PER_SEC);
}

static const i128 TS_MIN_NS = (i128)CEL_TS_MIN_SEC * NS_PER_SEC;
static const i128 TS_MAX_NS = (i128)CEL_TS_MAX_SEC * NS_PER_SEC + (NS_PER_SEC - 1);
static const i128 DUR_MAX_NS = CEL_DUR_MAX_NS;

static bool ns_fits_i64(i128 v) { return v >= -(i128)INT64_MAX - 1 && v <= INT64_MAX; }

/* ---- RFC 3339 ------------------------------------------------------------ */

static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

bool cel_ts_parse(const char *p, size_t n, int64_t *sec, int32_t *nsec,
                  const char **why)
{
    int y, mo, d, h, mi, s;
    *why = "expected an RFC 3339 timestamp such as 2026-11-24T10:00:00Z";
    if (n < 20 || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) ||
        p[7] != '-' || !digits(p + 8, 2, &d) || (p[10] != 'T' && p[10] != 't') ||
        !digits(p + 11, 2, &h) || p[13] != ':' || !digits(p + 14, 2, &mi) ||
        p[16] != ':' || !digits(p + 17, 2, &s))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo) ||
        h > 23 || mi > 59 || s > 59) {
        *why = "timestamp has a field out of range (month, day, hour, minute "
               "or second)";
        return false;
    }
    size_t i = 19;
    int32_t frac = 0;
    if (i < n && p[i] == '.') {
        i++;
        size_t start = i;
        int32_t scale = 100000000;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (i - start < 9) {
                frac += (p[i] - '0') * scale;
                scale /= 10;
            }
            i++;
        }
        if (i == start || i - start > 9)
            return false;
    }
    int64_t offset = 0;
    if (i < n && (p[i] == 'Z' || p[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (p[i] == '+' || p[i] == '-')) {
        int oh, om;
        if (!digits(p + i + 1, 2, &oh) || p[i + 3] != ':' ||
            !digits(p + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset = (int64_t)(oh * 3600 + om * 60) * (p[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    if (y < 1) {
        *why = "timestamp out of range (years 0001 to 9999)";
        return false;
    }
    int64_t t = base_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
                mi * 60 + s - offset;
    if (!cel_ts_in_range(t, frac)) {
        *why = "timestamp out of range (years 0001 to 9999)";
        return false;
    }
    *sec = t;
    *nsec = frac;
    return true;
}

static void fraction(int32_t nsec, char *buf, size_t len)
{
    buf[0] = '\0';
    if (nsec == 0)
        return;
    char digs[16];
    snprintf(digs, sizeof digs, "%09d", (int)nsec);
    int n = 9;
    while (n > 0 && digs[n - 1] == '0')
        n--;
    snprintf(buf, len, ".%.*s", n, digs);
}

void cel_ts_format(int64_t sec, int32_t nsec, char *buf, size_t len)
{
    int64_t days = floor_div(sec, 86400), rem = sec - days * 86400;
    int64_t y;
    unsigned m, d;
    base_civil_from_days(days, &y, &m, &d);
    char frac[16];
    fraction(nsec, frac, sizeof frac);
    snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d%sZ", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
}

/* ---- Durations ----------------------------------------------------------- */

bool cel_dur_parse(const char *p, size_t n, int64_t *sec, int32_t *nsec,
                   const char **why)
{
    *why = "expected a duration such as \"1h30m\", \"1.5s\" or \"-250ms\"";
    size_t i = 0;
    bool neg = false;
    if (i < n && (p[i] == '-' || p[i] == '+')) {
        neg = p[i] == '-';
        i++;
    }
    if (i == n)
        return false;
    if (n - i == 1 && p[i] == '0') {
        *sec = 0;
        *nsec = 0;
        return true;
    }
    i128 total = 0;
    const i128 limit = DUR_MAX_NS * 2;
    while (i < n) {
        i128 whole = 0;
        size_t start = i;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            whole = whole * 10 + (p[i] - '0');
            if (whole > limit) {
                *why = "duration out of range";
                return false;
            }
            i++;
        }
        bool has_whole = i > start;
        i128 frac = 0, scale = 1;
        bool has_frac = false;
        if (i < n && p[i] == '.') {
            i++;
            while (i < n && p[i] >= '0' && p[i] <= '9') {
                if (scale < (i128)1000000000000000000LL) {
                    frac = frac * 10 + (p[i] - '0');
                    scale *= 10;
                }
                has_frac = true;
                i++;
            }
        }
        if (!has_whole && !has_frac)
            return false;
        i128 unit;
        if (i + 1 < n && p[i] == 'n' && p[i + 1] == 's') { unit = 1; i += 2; }
        else if (i + 1 < n && p[i] == 'u' && p[i + 1] == 's') { unit = 1000; i += 2; }
        else if (i + 2 < n && !memcmp(p + i, "\xc2\xb5s", 3)) { unit = 1000; i += 3; }
        else if (i + 2 < n && !memcmp(p + i, "\xce\xbcs", 3)) { unit = 1000; i += 3; }
        else if (i + 1 < n && p[i] == 'm' && p[i + 1] == 's') { unit = 1000000; i += 2; }
        else if (i < n && p[i] == 's') { unit = NS_PER_SEC; i += 1; }
        else if (i < n && p[i] == 'm') { unit = 60 * (i128)NS_PER_SEC; i += 1; }
        else if (i < n && p[i] == 'h') { unit = 3600 * (i128)NS_PER_SEC; i += 1; }
        else {
            *why = "duration needs a unit: h, m, s, ms, us or ns (e.g. \"90s\")";
            return false;
        }
        total += whole * unit + frac * unit / scale;
        if (total > limit) {
            *why = "duration out of range";
            return false;
        }
    }
    if (neg)
        total = -total;
    if (total > DUR_MAX_NS || total < -DUR_MAX_NS) {
        *why = "duration out of range (at most 292 years: 9223372036s)";
        return false;
    }
    dur_from_ns(total, sec, nsec);
    return true;
}

void cel_dur_format(int64_t sec, int32_t nsec, char *buf, size_t len)
{
    bool neg = sec < 0 || nsec < 0;
    uint64_t s = sec < 0 ? (uint64_t)0 - (uint64_t)sec : (uint64_t)sec;
    int32_t ns = nsec < 0 ? -nsec : nsec;
    char frac[16];
    fraction(ns, frac, sizeof frac);
    snprintf(buf, len, "%s%llu%ss", neg ? "-" : "", (unsigned long long)s, frac);
}

/* ---- Arithmetic ---------------------------------------------------------- */

cel_value cel_time_arith(cel_op op, const cel_value *a, const cel_value *b)
{
    i128 x = to_ns(a->v.t.sec, a->v.t.nsec), y = to_ns(b->v.t.sec, b->v.t.nsec);
    cel_value r = {.kind = CEL_DURATION};
    i128 ns;
    if (op == CEL_OP_ADD) {
        ns = x + y;
        r.kind = (a->kind == CEL_TIMESTAMP || b->kind == CEL_TIMESTAMP)
                     ? CEL_TIMESTAMP : CEL_DURATION;
    } else {
        ns = x - y;
        r.kind = (a->kind == CEL_TIMESTAMP && b->kind == CEL_DURATION)
                     ? CEL_TIMESTAMP : CEL_DURATION;
    }
    if (r.kind == CEL_TIMESTAMP) {
        if (ns < TS_MIN_NS || ns > TS_MAX_NS)
            return cel_error("timestamp out of range (years 0001 to 9999)");
        ts_from_ns(ns, &r.v.t.sec, &r.v.t.nsec);
    } else {
        if (ns > DUR_MAX_NS || ns < -DUR_MAX_NS)
            return cel_error("duration out of range (at most 292 years: 9223372036s)");
        dur_from_ns(ns, &r.v.t.sec, &r.v.t.nsec);
    }
    return r;
}

cel_value cel_dur_part(cel_op op, int64_t sec, int32_t nsec)
{
    i128 ns = to_ns(sec, nsec);
    i128 div;
    switch (op) {
    case CEL_OP_F_GET_HOURS: div = 3600 * (i128)NS_PER_SEC; break;
    case CEL_OP_F_GET_MINUTES: div = 60 * (i128)NS_PER_SEC; break;
    case CEL_OP_F_GET_SECONDS: div = NS_PER_SEC; break;
    case CEL_OP_F_GET_MILLISECONDS:
        /* The language definition: the milliseconds part, 0-999. */
        return cel_int(nsec / 1000000);
    default:
        return cel_error("no such overload: a duration has getHours, "
                         "getMinutes, getSeconds and getMilliseconds");
    }
    i128 v = ns / div;
    if (!ns_fits_i64(v))
        return cel_error("integer overflow");
    return cel_int((int64_t)v);
}

/* ---- Time zones ---------------------------------------------------------- */

/* "+05:30", "-02:00", "02:00"; false if tz is not of that shape. */
static bool fixed_offset(const char *tz, size_t n, int64_t *off)
{
    size_t i = 0;
    int sign = 1;
    if (n && (tz[0] == '+' || tz[0] == '-')) {
        sign = tz[0] == '-' ? -1 : 1;
        i = 1;
    }
    int h, m;
    if (n - i != 5 || !digits(tz + i, 2, &h) || tz[i + 2] != ':' ||
        !digits(tz + i + 3, 2, &m) || h > 23 || m > 59)
        return false;
    *off = sign * (int64_t)(h * 3600 + m * 60);
    return true;
}

typedef struct posix_rule {
    char kind;           /* 'M', 'J' or 'D' (zero-based day) */
    int m, w, d;         /* M: month, week, weekday; J/D: day in d */
    int64_t time;        /* seconds after local midnight */
} posix_rule;

typedef struct posix_tz {
    int64_t std_off, dst_off;   /* seconds east of UTC */
    bool has_dst;
    posix_rule start, end;
} posix_tz;

static const char *tz_name(const char *p, const char *end)
{
    if (p < end && *p == '<') {
        while (p < end && *p != '>')
            p++;
        return p < end ? p + 1 : NULL;
    }
    const char *s = p;
    while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] -> seconds. */
static const char *tz_hms(const char *p, const char *end, int64_t *out)
{
    int sign = 1;
    if (p < end && (*p == '+' || *p == '-')) {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    int64_t parts[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        if (k > 0) {
            if (p >= end || *p != ':')
                break;
            p++;
        }
        const char *s = p;
        while (p < end && *p >= '0' && *p <= '9' && p - s < 3)
            parts[k] = parts[k] * 10 + (*p++ - '0');
        if (p == s)
            return NULL;
    }
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return p;
}

static const char *tz_rule(const char *p, const char *end, posix_rule *r)
{
    r->time = 7200;
    if (p < end && *p == 'M') {
        r->kind = 'M';
        p++;
        int *f[3] = {&r->m, &r->w, &r->d};
        for (int k = 0; k < 3; k++) {
            if (k > 0) {
                if (p >= end || *p != '.')
                    return NULL;
                p++;
            }
            const char *s = p;
            *f[k] = 0;
            while (p < end && *p >= '0' && *p <= '9')
                *f[k] = *f[k] * 10 + (*p++ - '0');
            if (p == s)
                return NULL;
        }
        if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d > 6)
            return NULL;
    } else {
        r->kind = 'D';
        if (p < end && *p == 'J') {
            r->kind = 'J';
            p++;
        }
        const char *s = p;
        r->d = 0;
        while (p < end && *p >= '0' && *p <= '9')
            r->d = r->d * 10 + (*p++ - '0');
        if (p == s || r->d > 365)
            return NULL;
    }
    if (p < end && *p == '/')
        p = tz_hms(p + 1, end, &r->time);
    return p;
}

static bool posix_parse(const char *p, const char *end, posix_tz *tz)
{
    memset(tz, 0, sizeof *tz);
    int64_t off;
    p = tz_name(p, end);
    if (!p || !(p = tz_hms(p, end, &off)))
        return false;
    tz->std_off = -off;   /* POSIX offsets are west of UTC */
    if (p == end)
        return true;
    p = tz_name(p, end);
    if (!p)
        return false;
    tz->has_dst = true;
    tz->dst_off = tz->std_off + 3600;
    if (p < end && *p != ',') {
        if (!(p = tz_hms(p, end, &off)))
            return false;
        tz->dst_off = -off;
    }
    if (p >= end || *p != ',') {
        /* No rule: the US rule is the POSIX default. */
        tz->start = (posix_rule){'M', 3, 2, 0, 7200};
        tz->end = (posix_rule){'M', 11, 1, 0, 7200};
        return true;
    }
    if (!(p = tz_rule(p + 1, end, &tz->start)) || p >= end || *p != ',' ||
        !(p = tz_rule(p + 1, end, &tz->end)))
        return false;
    return true;
}

/* Local seconds since the epoch at which rule r fires in year y. */
static int64_t rule_local_time(const posix_rule *r, int64_t y)
{
    int64_t day;
    if (r->kind == 'M') {
        int64_t first = base_days_from_civil(y, (unsigned)r->m, 1);
        int wd_first = (int)((first % 7 + 11) % 7);   /* 1970-01-01 was Thursday */
        int delta = (r->d - wd_first + 7) % 7;
        int64_t dom = 1 + delta + (r->w - 1) * 7;
        while (dom > days_in_month(y, (unsigned)r->m))
            dom -= 7;
        day = first + dom - 1;
    } else if (r->kind == 'J') {
        day = base_days_from_civil(y, 1, 1) + r->d - 1;
        if (is_leap(y) && r->d >= 60)
            day++;
    } else {
        day = base_days_from_civil(y, 1, 1) + r->d;
    }
    return day * 86400 + r->time;
}

static int64_t posix_offset(const posix_tz *tz, int64_t t)
{
    if (!tz->has_dst)
        return tz->std_off;
    int64_t y;
    unsigned m, d;
    base_civil_from_days(floor_div(t + tz->std_off, 86400), &y, &m, &d);
    int64_t start = rule_local_time(&tz->start, y) - tz->std_off;
    int64_t end = rule_local_time(&tz->end, y) - tz->dst_off;
    bool dst = start < end ? (t >= start && t < end) : (t >= start || t < end);
    return dst ? tz->dst_off : tz->std_off;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Offset of zone file data (TZif, RFC 8536) at instant t. */
static bool tzif_offset(const unsigned char *b, size_t n, int64_t t, int64_t *off)
{
    if (n < 44 || memcmp(b, "TZif", 4))
        return false;
    uint32_t cnt[6];
    for (int i = 0; i < 6; i++)
        cnt[i] = be32(b + 20 + 4 * i);
    /* counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
    size_t v1 = (size_t)cnt[3] * 5 + (size_t)cnt[4] * 6 + cnt[5] + (size_t)cnt[2] * 8 +
                cnt[1] + cnt[0];
    int tsize = 4;
    const unsigned char *h = b;
    if (b[4] >= '2') {
        if (44 + v1 + 44 > n)
            return false;
        h = b + 44 + v1;
        if (memcmp(h, "TZif", 4))
            return false;
        for (int i = 0; i < 6; i++)
            cnt[i] = be32(h + 20 + 4 * i);
        tsize = 8;
    }
    size_t timecnt = cnt[3], typecnt = cnt[4];
    const unsigned char *times = h + 44;
    const unsigned char *idx = times + timecnt * (size_t)tsize;
    const unsigned char *types = idx + timecnt;
    size_t data = timecnt * (size_t)tsize + timecnt + typecnt * 6 + cnt[5] +
                  (size_t)cnt[2] * (size_t)(tsize + 4) + cnt[1] + cnt[0];
    if (typecnt == 0 || (size_t)(h + 44 - b) + data > n)
        return false;
    const unsigned char *footer = h + 44 + data;
    size_t k = timecnt;   /* index of the last transition <= t, or timecnt */
    size_t lo = 0, hi = timecnt;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int64_t tt = tsize == 8 ? be64(times + mid * 8) : (int32_t)be32(times + mid * 4);
        if (tt <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    k = lo;   /* number of transitions <= t */
    if (k == timecnt && tsize == 8 && footer + 1 < b + n && footer[0] == '\n') {
        const char *fs = (const char *)footer + 1;
        const char *fe = memchr(fs, '\n', (size_t)((const char *)b + n - fs));
        posix_tz tz;
        if (fe && fe > fs && posix_parse(fs, fe, &tz)) {
            *off = posix_offset(&tz, t);
            return true;
        }
    }
    size_t type = k == 0 ? 0 : idx[k - 1];
    if (type >= typecnt)
        return false;
    *off = (int32_t)be32(types + type * 6);
    return true;
}

static bool zone_offset(const char *tz, size_t n, int64_t t, int64_t *off)
{
    if (n == 0 || n > 64 || tz[0] == '/' || tz[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = tz[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+' ||
                  c == '/';
        if (!ok)
            return false;
    }
    char path[128];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%.*s", (int)n, tz);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    enum { MAX_TZIF = 256 * 1024 };
    unsigned char *buf = malloc(MAX_TZIF);
    if (!buf) {
        fclose(f);
        return false;
    }
    size_t got = fread(buf, 1, MAX_TZIF, f);
    fclose(f);
    bool ok = tzif_offset(buf, got, t, off);
    free(buf);
    return ok;
}

cel_value cel_ts_part(arena *a, cel_op op, int64_t sec, int32_t nsec,
                      const char *tz, size_t tz_n)
{
    int64_t off = 0;
    if (tz && tz_n && !(tz_n == 3 && !memcmp(tz, "UTC", 3)) &&
        !fixed_offset(tz, tz_n, &off) && !zone_offset(tz, tz_n, sec, &off))
        return cel_error_fmt(a, "unknown time zone '%.*s' (expected an IANA "
                             "name such as America/New_York or an offset such "
                             "as +05:30)", (int)(tz_n > 64 ? 64 : tz_n), tz);
    int64_t local = sec + off;
    int64_t days = floor_div(local, 86400), rem = local - days * 86400;
    int64_t y;
    unsigned m, d;
    base_civil_from_days(days, &y, &m, &d);
    switch (op) {
    case CEL_OP_F_GET_FULL_YEAR: return cel_int(y);
    case CEL_OP_F_GET_MONTH: return cel_int(m - 1);
    case CEL_OP_F_GET_DATE: return cel_int(d);
    case CEL_OP_F_GET_DAY_OF_MONTH: return cel_int(d - 1);
    case CEL_OP_F_GET_DAY_OF_WEEK: return cel_int(((days % 7) + 11) % 7);
    case CEL_OP_F_GET_DAY_OF_YEAR: return cel_int(days - base_days_from_civil(y, 1, 1));
    case CEL_OP_F_GET_HOURS: return cel_int(rem / 3600);
    case CEL_OP_F_GET_MINUTES: return cel_int(rem / 60 % 60);
    case CEL_OP_F_GET_SECONDS: return cel_int(rem % 60);
    case CEL_OP_F_GET_MILLISECONDS: return cel_int(nsec / 1000000);
    default: return cel_error("no such overload for a timestamp accessor");
    }
}
