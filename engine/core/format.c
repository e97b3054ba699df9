/* format.c - GUID, FILETIME and SID text forms.
 *
 * Time conversions use a proleptic Gregorian day count so that every
 * FILETIME from 1601 to 30827 maps to text and back exactly. */
#include "etwl.h"
#include "core/format.h"

#include <stdio.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hexn(const char *s, int n, uint64_t *out)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < n; i++) {
        int h = hexval((unsigned char)s[i]);
        if (h < 0) return 0;
        v = (v << 4) | (uint64_t)h;
    }
    *out = v;
    return 1;
}

etwl_status etwl_guid_parse(const char *s, size_t n, etwl_guid *out)
{
    uint64_t v;
    int i;
    if (n == 38) {
        if (s[0] != '{' || s[37] != '}') return ETWL_EPARSE;
        s++;
        n -= 2;
    }
    if (n != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return ETWL_EPARSE;
    if (!hexn(s, 8, &v)) return ETWL_EPARSE;
    out->d1 = (uint32_t)v;
    if (!hexn(s + 9, 4, &v)) return ETWL_EPARSE;
    out->d2 = (uint16_t)v;
    if (!hexn(s + 14, 4, &v)) return ETWL_EPARSE;
    out->d3 = (uint16_t)v;
    for (i = 0; i < 2; i++) {
        if (!hexn(s + 19 + 2 * i, 2, &v)) return ETWL_EPARSE;
        out->d4[i] = (uint8_t)v;
    }
    for (i = 0; i < 6; i++) {
        if (!hexn(s + 24 + 2 * i, 2, &v)) return ETWL_EPARSE;
        out->d4[2 + i] = (uint8_t)v;
    }
    return ETWL_OK;
}

void etwl_guid_format(const etwl_guid *g, char *buf)
{
    snprintf(buf, ETWL_GUID_STRLEN + 1, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", (unsigned)g->d1,
             (unsigned)g->d2, (unsigned)g->d3, g->d4[0], g->d4[1], g->d4[2], g->d4[3], g->d4[4], g->d4[5], g->d4[6],
             g->d4[7]);
}

int etwl_guid_is_zero(const etwl_guid *g)
{
    static const etwl_guid z;
    return memcmp(g, &z, sizeof z) == 0;
}

int etwl_guid_equal(const etwl_guid *a, const etwl_guid *b)
{
    return a->d1 == b->d1 && a->d2 == b->d2 && a->d3 == b->d3 && memcmp(a->d4, b->d4, 8) == 0;
}

void etwl_guid_from_bytes(const uint8_t *p, etwl_guid *g)
{
    g->d1 = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    g->d2 = (uint16_t)(p[4] | p[5] << 8);
    g->d3 = (uint16_t)(p[6] | p[7] << 8);
    memcpy(g->d4, p + 8, 8);
}

void etwl_guid_to_bytes(const etwl_guid *g, uint8_t *p)
{
    p[0] = (uint8_t)g->d1;
    p[1] = (uint8_t)(g->d1 >> 8);
    p[2] = (uint8_t)(g->d1 >> 16);
    p[3] = (uint8_t)(g->d1 >> 24);
    p[4] = (uint8_t)g->d2;
    p[5] = (uint8_t)(g->d2 >> 8);
    p[6] = (uint8_t)g->d3;
    p[7] = (uint8_t)(g->d3 >> 8);
    memcpy(p + 8, g->d4, 8);
}

/* ---- time --------------------------------------------------------------- */

#define TICKS_PER_SEC 10000000LL
#define TICKS_PER_DAY (86400LL * TICKS_PER_SEC)
/* days from 1601-01-01 to 1970-01-01 */
#define DAYS_1601_TO_1970 134774LL

/* Howard Hinnant's days-from-civil, relative to 1970-01-01. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    *y = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y += *m <= 2;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

static int digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 1;
}

int64_t etwl_time_from_civil(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s, int64_t ticks)
{
    int64_t days = days_from_civil(y, mo, d) + DAYS_1601_TO_1970;
    return days * TICKS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + s) * TICKS_PER_SEC + ticks;
}

etwl_status etwl_time_parse(const char *s, size_t n, int64_t *out)
{
    unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
    int64_t ticks = 0, t;
    size_t i = 19;
    int sign = 0, fd = 0;
    if (n < 20) return ETWL_EPARSE;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return ETWL_EPARSE;
    if (y < 1601 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return ETWL_EPARSE;
    if (sec == 60) sec = 59; /* a leap second is held at :59 - FILETIME has none */
    if (s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            /* digits past the 7th are below FILETIME's 100 ns; dropped */
            if (fd < 7) ticks = ticks * 10 + (s[i] - '0');
            fd++;
            i++;
        }
        if (fd == 0) return ETWL_EPARSE;
        while (fd < 7) {
            ticks *= 10;
            fd++;
        }
    }
    if (i >= n) return ETWL_EPARSE;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        sign = s[i] == '+' ? 1 : -1;
        if (n - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || !digits(s + i + 4, 2, &om) || oh > 23 ||
            om > 59)
            return ETWL_EPARSE;
        i += 6;
    } else {
        return ETWL_EPARSE;
    }
    if (i != n) return ETWL_EPARSE;
    t = etwl_time_from_civil(y, mo, d, h, mi, sec, ticks);
    t -= sign * ((int64_t)oh * 3600 + om * 60) * TICKS_PER_SEC;
    if (t < 0) return ETWL_ERANGE;
    *out = t;
    return ETWL_OK;
}

etwl_status etwl_time_format(int64_t ft, char *buf)
{
    int64_t days, rem, y;
    unsigned m, d, h, mi, s;
    if (ft < 0) return ETWL_ERANGE;
    days = ft / TICKS_PER_DAY;
    rem = ft % TICKS_PER_DAY;
    civil_from_days(days - DAYS_1601_TO_1970, &y, &m, &d);
    if (y > 9999) return ETWL_ERANGE;
    h = (unsigned)(rem / (3600 * TICKS_PER_SEC));
    rem %= 3600 * TICKS_PER_SEC;
    mi = (unsigned)(rem / (60 * TICKS_PER_SEC));
    rem %= 60 * TICKS_PER_SEC;
    s = (unsigned)(rem / TICKS_PER_SEC);
    rem %= TICKS_PER_SEC;
    {
        /* the fields are range-checked above, so this is always 28 chars */
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02u:%02u:%02u.%07dZ", (int)y, m, d, h, mi, s, (int)rem);
        memcpy(buf, tmp, ETWL_TIME_STRLEN + 1);
    }
    return ETWL_OK;
}

int64_t etwl_time_from_unix_ns(int64_t ns) { return (ns / 100) + DAYS_1601_TO_1970 * TICKS_PER_DAY; }

/* ---- SID ------------------------------------------------------------------ */

size_t etwl_sid_size(const uint8_t *p, size_t avail)
{
    size_t n;
    if (avail < 8) return 0;
    if (p[0] != 1) return 0; /* SID_REVISION */
    n = 8 + 4 * (size_t)p[1];
    if (p[1] > 15 || n > avail) return 0; /* SID_MAX_SUB_AUTHORITIES */
    return n;
}

int etwl_sid_format(const uint8_t *p, size_t n, char *buf, size_t bufsz)
{
    uint64_t auth = 0;
    size_t i, len;
    int w;
    if (etwl_sid_size(p, n) != n) return 0;
    for (i = 2; i < 8; i++) auth = (auth << 8) | p[i];
    /* Windows prints large authorities in hex, as ConvertSidToStringSid does */
    if (auth >= (1ull << 32)) w = snprintf(buf, bufsz, "S-%u-0x%012llX", p[0], (unsigned long long)auth);
    else w = snprintf(buf, bufsz, "S-%u-%llu", p[0], (unsigned long long)auth);
    if (w < 0 || (size_t)w >= bufsz) return 0;
    len = (size_t)w;
    for (i = 0; i < p[1]; i++) {
        const uint8_t *q = p + 8 + 4 * i;
        uint32_t sub = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        w = snprintf(buf + len, bufsz - len, "-%u", (unsigned)sub);
        if (w < 0 || (size_t)w >= bufsz - len) return 0;
        len += (size_t)w;
    }
    return (int)len;
}

/* Formats an IPv6 address per RFC 5952 (longest zero run compressed). */
int etwl_ipv6_format(const uint8_t *b, char *o, size_t osz)
{
    uint16_t w[8];
    int i, best = -1, bestlen = 0, cur = -1, len = 0, n = 0;
    for (i = 0; i < 8; i++) w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
    for (i = 0; i < 8; i++) {
        if (w[i] == 0) {
            if (cur < 0) cur = i, len = 0;
            if (++len > bestlen && len > 1) best = cur, bestlen = len;
        } else {
            cur = -1;
        }
    }
    for (i = 0; i < 8; i++) {
        if (i == best) {
            n += snprintf(o + n, osz - (size_t)n, i == 0 ? "::" : ":");
            i += bestlen - 1;
            continue;
        }
        n += snprintf(o + n, osz - (size_t)n, "%x%s", w[i], i < 7 ? ":" : "");
    }
    return n;
}
