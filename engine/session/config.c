/* config.c - session configuration: provider specs, levels, kernel flags,
 * enable properties, and the selection rule they imply.
 *
 * Live backends hand the selection to the OS (EnableTraceEx2, tracefs);
 * replay applies etwl_config_matches() so that "-p X:3" selects the same
 * events from a recording as from a live session. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/event.h"

void etwl_config_init(etwl_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "etwlua");
    cfg->max_line_bytes = 1u << 20;
}

static int ieq(const char *a, size_t an, const char *b)
{
    size_t i;
    if (strlen(b) != an) return 0;
    for (i = 0; i < an; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
    return 1;
}

static etwl_status level_parse_n(const char *s, size_t n, uint8_t *out)
{
    static const char *names[] = {"critical", "error", "warning", "information", "verbose"};
    int i;
    for (i = 0; i < 5; i++)
        if (ieq(s, n, names[i])) {
            *out = (uint8_t)(i + 1);
            return ETWL_OK;
        }
    if (ieq(s, n, "info")) {
        *out = ETWL_LEVEL_INFORMATION;
        return ETWL_OK;
    }
    if (n == 1 && s[0] >= '1' && s[0] <= '5') {
        *out = (uint8_t)(s[0] - '0');
        return ETWL_OK;
    }
    return ETWL_EINVAL;
}

etwl_status etwl_level_parse(const char *s, uint8_t *out) { return level_parse_n(s, strlen(s), out); }

/* The level name s (not itself a level) is within two edits of, or NULL. */
static const char *near_level(const char *s, size_t n)
{
    static const char *names[] = {"critical", "error", "warning", "information", "verbose", "info"};
    size_t k, i, j;
    for (k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t m = strlen(names[k]), prev[16], cur[16];
        if (n < 3 || n > 13 || (n > m ? n - m : m - n) > 2) continue;
        for (j = 0; j <= m; j++) prev[j] = j;
        for (i = 1; i <= n; i++) {
            cur[0] = i;
            for (j = 1; j <= m; j++) {
                size_t c = prev[j - 1] + (tolower((unsigned char)s[i - 1]) != names[k][j - 1]);
                if (prev[j] + 1 < c) c = prev[j] + 1;
                if (cur[j - 1] + 1 < c) c = cur[j - 1] + 1;
                cur[j] = c;
            }
            memcpy(prev, cur, sizeof cur);
        }
        if (prev[m] <= 2) return names[k];
    }
    return NULL;
}

/* 0x-prefixed hex or decimal, full 64-bit range. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    int base = 10;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i == n) return 0;
    for (; i < n; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9') d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return 0;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 1;
}

/* Tries to read parts[i..] as LEVEL[:ANY[:ALL]]. */
static int tail_ok(const char *const *p, const size_t *n, int from, int count, etwl_provider_spec *sp)
{
    int k = count - from;
    uint8_t lv = ETWL_LEVEL_VERBOSE;
    uint64_t any = 0, all = 0;
    if (k < 1 || k > 3) return 0;
    if (n[from] && level_parse_n(p[from], n[from], &lv)) return 0;
    if (k >= 2 && n[from + 1] && !parse_u64(p[from + 1], n[from + 1], &any)) return 0;
    if (k >= 3 && n[from + 2] && !parse_u64(p[from + 2], n[from + 2], &all)) return 0;
    sp->level = lv;
    sp->match_any = any;
    sp->match_all = all;
    return 1;
}

etwl_status etwl_config_add_provider(etwl_config *cfg, const char *spec, etwl_error *err)
{
    const char *parts[8];
    size_t lens[8];
    int np = 0, i, name_parts;
    const char *s = spec;
    etwl_provider_spec sp;
    size_t namelen;
    if (cfg->nproviders >= ETWL_MAX_PROVIDERS)
        return etwl_error_set(err, ETWL_ELIMIT, "at most %d providers per session", ETWL_MAX_PROVIDERS);
    memset(&sp, 0, sizeof sp);
    sp.level = ETWL_LEVEL_VERBOSE;
    for (;;) {
        const char *c = strchr(s, ':');
        if (np == 8) return etwl_error_set(err, ETWL_EINVAL, "provider '%s': too many ':' fields", spec);
        parts[np] = s;
        lens[np] = c ? (size_t)(c - s) : strlen(s);
        np++;
        if (!c) break;
        s = c + 1;
    }
    /* The name may itself hold ':' (tracefs "sched:sched_switch"), so the
     * first split whose tail reads as LEVEL[:ANY[:ALL]] wins. */
    name_parts = np;
    for (i = 1; i < np; i++)
        if (tail_ok(parts, lens, i, np, &sp)) {
            name_parts = i;
            break;
        }
    if (name_parts == np && np > 1) {
        /* no valid tail: explain the most likely mistake */
        if (np <= 4 && lens[1] && level_parse_n(parts[1], lens[1], &sp.level) == ETWL_OK)
            return etwl_error_set(err, ETWL_EINVAL, "provider '%s': keywords must be numbers (0x... or decimal)", spec);
        sp.level = ETWL_LEVEL_VERBOSE;
        /* a GUID holds no ':', and a last field that is nearly a level name
         * is a misspelt level, not part of a tracefs "system:event" name:
         * taken as a name it would silently select nothing */
        if (etwl_guid_parse(parts[0], lens[0], &sp.guid) == ETWL_OK)
            return etwl_error_set(err, ETWL_EINVAL,
                                  "provider '%s': '%.*s' is not a level (critical, error, warning, information, "
                                  "verbose or 1-5)",
                                  spec, (int)lens[1], parts[1]);
        for (i = 1; i < np; i++) {
            const char *near = near_level(parts[i], lens[i]);
            if (near)
                return etwl_error_set(err, ETWL_EINVAL, "provider '%s': unknown level '%.*s' (did you mean %s?)", spec,
                                      (int)lens[i], parts[i], near);
        }
    }
    namelen = (size_t)(parts[name_parts - 1] + lens[name_parts - 1] - parts[0]);
    if (namelen == 0) return etwl_error_set(err, ETWL_EINVAL, "provider '%s': empty name", spec);
    if (etwl_guid_parse(parts[0], namelen, &sp.guid) == ETWL_OK) {
        sp.has_guid = 1;
    } else {
        if (namelen >= sizeof sp.name)
            return etwl_error_set(err, ETWL_EINVAL, "provider name longer than %zu bytes", sizeof sp.name - 1);
        memcpy(sp.name, parts[0], namelen);
        sp.name[namelen] = 0;
    }
    cfg->providers[cfg->nproviders++] = sp;
    return ETWL_OK;
}

/* EVENT_TRACE_FLAG_* (evntrace.h) */
static const etwl_kernel_flag kflags[] = {
    {"process", 0x00000001},       {"thread", 0x00000002},
    {"image_load", 0x00000004},    {"process_counters", 0x00000008},
    {"cswitch", 0x00000010},       {"dpc", 0x00000020},
    {"interrupt", 0x00000040},     {"syscall", 0x00000080},
    {"disk_io", 0x00000100},       {"disk_file_io", 0x00000200},
    {"disk_io_init", 0x00000400},  {"dispatcher", 0x00000800},
    {"page_faults", 0x00001000},   {"hard_faults", 0x00002000},
    {"virtual_alloc", 0x00004000}, {"vamap", 0x00008000},
    {"network", 0x00010000},       {"registry", 0x00020000},
    {"dbgprint", 0x00040000},      {"job", 0x00080000},
    {"alpc", 0x00100000},          {"split_io", 0x00200000},
    {"driver", 0x00800000},        {"profile", 0x01000000},
    {"file_io", 0x02000000},       {"file_io_init", 0x04000000},
};

static const struct {
    const char *alias, *name;
} kalias[] = {{"tcpip", "network"}, {"net", "network"},        {"image", "image_load"},
              {"file", "file_io"},  {"systemcall", "syscall"}, {"context_switch", "cswitch"}};

const etwl_kernel_flag *etwl_kernel_flags(size_t *count)
{
    *count = sizeof kflags / sizeof kflags[0];
    return kflags;
}

static int kflag_lookup(const char *s, size_t n, uint32_t *bit)
{
    size_t i;
    for (i = 0; i < sizeof kalias / sizeof kalias[0]; i++)
        if (ieq(s, n, kalias[i].alias)) {
            s = kalias[i].name;
            n = strlen(s);
            break;
        }
    for (i = 0; i < sizeof kflags / sizeof kflags[0]; i++)
        if (ieq(s, n, kflags[i].name)) {
            *bit = kflags[i].bit;
            return 1;
        }
    return 0;
}

etwl_status etwl_config_add_kernel_flags(etwl_config *cfg, const char *list, etwl_error *err)
{
    const char *s = list;
    uint32_t acc = 0;
    for (;;) {
        const char *c = strchr(s, ',');
        size_t n = c ? (size_t)(c - s) : strlen(s);
        uint32_t bit;
        if (n == 0) return etwl_error_set(err, ETWL_EINVAL, "kernel flags '%s': empty name", list);
        if (!kflag_lookup(s, n, &bit))
            return etwl_error_set(err, ETWL_EINVAL,
                                  "unknown kernel flag '%.*s' (known: process, thread, image_load, "
                                  "disk_io, disk_file_io, file_io, file_io_init, network, registry, "
                                  "process_counters, cswitch, dpc, interrupt, syscall, alpc, split_io, driver, "
                                  "profile, page_faults, hard_faults, virtual_alloc, dbgprint, job)",
                                  (int)(n > 40 ? 40 : n), s);
        acc |= bit;
        if (!c) break;
        s = c + 1;
    }
    cfg->kernel_flags |= acc;
    return ETWL_OK;
}

etwl_status etwl_config_add_enable_props(etwl_config *cfg, const char *list, etwl_error *err)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } props[] = {{"SID", ETWL_ENABLE_SID},
                 {"TS_ID", ETWL_ENABLE_TS_ID},
                 {"STACK_TRACE", ETWL_ENABLE_STACK_TRACE},
                 {"IGNORE_KEYWORD_0", ETWL_ENABLE_IGNORE_KEYWORD_0},
                 {"EXCLUDE_INPRIVATE", ETWL_ENABLE_EXCLUDE_INPRIVATE},
                 {"PROCESS_START_KEY", ETWL_ENABLE_PROCESS_START_KEY},
                 {"EVENT_KEY", ETWL_ENABLE_EVENT_KEY}};
    const char *s = list;
    for (;;) {
        const char *c = strchr(s, ',');
        size_t n = c ? (size_t)(c - s) : strlen(s), i;
        for (i = 0; i < sizeof props / sizeof props[0]; i++)
            if (ieq(s, n, props[i].name)) break;
        if (i == sizeof props / sizeof props[0])
            return etwl_error_set(err, ETWL_EINVAL,
                                  "unknown enable property '%.*s' (known: SID, TS_ID, STACK_TRACE, "
                                  "IGNORE_KEYWORD_0, EXCLUDE_INPRIVATE, PROCESS_START_KEY, EVENT_KEY)",
                                  (int)(n > 40 ? 40 : n), s);
        cfg->enable_props |= props[i].bit;
        if (!c) break;
        s = c + 1;
    }
    return ETWL_OK;
}

/* Kernel logger MOF event classes, by the flag that turns them on. */
static const struct {
    uint32_t bits;
    const char *guid;
} kclasses[] = {
    {0x00000001 | 0x00000008, "{3D6FA8D0-FE05-11D0-9DDA-00C04FD7BA7C}"},                           /* Process */
    {0x00000002 | 0x00000010 | 0x00000800, "{3D6FA8D1-FE05-11D0-9DDA-00C04FD7BA7C}"},              /* Thread, CSwitch */
    {0x00000004, "{2CB15D1D-5FC1-11D2-ABE1-00A0C911F518}"},                                        /* Image */
    {0x00000100 | 0x00000200 | 0x00000400 | 0x00800000, "{3D6FA8D4-FE05-11D0-9DDA-00C04FD7BA7C}"}, /* DiskIo */
    {0x00000200 | 0x02000000 | 0x04000000, "{90CBDC39-4A3E-11D1-84F4-0000F80464E3}"},              /* FileIo */
    {0x00010000, "{9A280AC0-C8E0-11D1-84E2-00C04FB998A2}"},                                        /* TcpIp */
    {0x00010000, "{BF3A50C5-A9C9-4988-A005-2DF0B7C80F80}"},                                        /* UdpIp */
    {0x00020000, "{AE53722E-C863-11D2-8659-00C04FA321A1}"},                                        /* Registry */
    {0x00001000 | 0x00002000 | 0x00004000 | 0x00008000, "{3D6FA8D3-FE05-11D0-9DDA-00C04FD7BA7C}"}, /* PageFault */
    {0x00000020 | 0x00000040 | 0x00000080 | 0x01000000, "{CE1DBFB4-137E-4DA6-87B0-3F59AA102CBC}"}, /* PerfInfo */
    {0x00100000, "{45D8CCCD-539F-4B72-A8B7-5C683142609A}"},                                        /* ALPC */
    {0x00200000, "{D837CA92-12B9-44A5-AD6A-3A65B3578AA8}"},                                        /* SplitIo */
    {0x00080000, "{3282FC76-FEED-498E-8AA7-E70F459D430E}"},                                        /* Job */
    {0x00040000, "{13976D09-A327-438C-950B-7F03192815C7}"},                                        /* DbgPrint */
};

static int kernel_match(uint32_t flags, const etwl_guid *g)
{
    size_t i;
    for (i = 0; i < sizeof kclasses / sizeof kclasses[0]; i++) {
        etwl_guid k;
        if (!(kclasses[i].bits & flags)) continue;
        if (etwl_guid_parse(kclasses[i].guid, ETWL_GUID_STRLEN, &k) == ETWL_OK && etwl_guid_equal(&k, g)) return 1;
    }
    return 0;
}

static int name_ieq(const char *a, uint32_t an, const char *b) { return ieq(a, an, b); }

int etwl_config_matches(const etwl_config *cfg, const etwl_event *ev)
{
    const etwl_header *h = &ev->hdr;
    int i;
    if (cfg->nproviders == 0 && cfg->kernel_flags == 0) return 1;
    for (i = 0; i < cfg->nproviders; i++) {
        const etwl_provider_spec *p = &cfg->providers[i];
        uint64_t kw = h->desc.keyword;
        int hit = (p->has_guid && etwl_guid_equal(&p->guid, &h->provider_guid)) ||
                  (p->name[0] && (h->has & ETWL_HAS_PROVIDER_NAME) &&
                   name_ieq(h->provider_name, h->provider_name_len, p->name));
        if (!hit && p->name[0] && (h->has & ETWL_HAS_PROVIDER_NAME) && (h->has & ETWL_HAS_EVENT_NAME)) {
            /* tracefs "system:event" */
            const char *colon = strchr(p->name, ':');
            size_t sl = colon ? (size_t)(colon - p->name) : 0;
            hit = colon && sl == h->provider_name_len && strncasecmp(p->name, h->provider_name, sl) == 0 &&
                  strlen(colon + 1) == h->event_name_len && strncmp(colon + 1, h->event_name, h->event_name_len) == 0;
        }
        if (!hit) continue;
        /* ETW's rules: level 0 events always pass the level check; keyword 0
         * events pass the keyword check unless IGNORE_KEYWORD_0 is set */
        if (h->desc.level != 0 && h->desc.level > p->level) continue;
        if (kw == 0) {
            if (cfg->enable_props & ETWL_ENABLE_IGNORE_KEYWORD_0) continue;
        } else if ((p->match_any && !(kw & p->match_any)) || (kw & p->match_all) != p->match_all) {
            continue;
        }
        return 1;
    }
    return cfg->kernel_flags && kernel_match(cfg->kernel_flags, &h->provider_guid);
}
