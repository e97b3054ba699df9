/* filter.c - see filter.h */
#include "core/filter.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"

void etwl_filter_init(etwl_filter *f) { memset(f, 0, sizeof *f); }

void etwl_filter_free(etwl_filter *f)
{
    free(f->ids);
    f->ids = NULL;
}

/* Names are stored lower-cased once, so matching an event only lowers the
 * event's side.  Empty or oversized names are refused. */
static int set_lower(char *dst, size_t cap, uint32_t *len, const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n >= cap) return 0;
    for (i = 0; i < n; i++) dst[i] = (char)tolower((unsigned char)s[i]);
    dst[n] = 0;
    *len = (uint32_t)n;
    return 1;
}

etwl_status etwl_filter_set_provider(etwl_filter *f, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    /* "system:event" names one tracefs event */
    if (colon && colon > s && (size_t)(colon - s) + 1 < n &&
        (size_t)(n - (size_t)(colon - s) - 1) < sizeof f->event_name) {
        size_t en = n - (size_t)(colon - s) - 1;
        memcpy(f->event_name, colon + 1, en);
        f->event_name[en] = 0;
        f->event_name_len = (uint32_t)en;
        f->mask |= ETWL_F_EVENT_NAME;
        n = (size_t)(colon - s);
    }
    if (etwl_guid_parse(s, n, &f->guid) == ETWL_OK) {
        f->mask |= ETWL_F_GUID;
        return ETWL_OK;
    }
    if (!set_lower(f->provider, sizeof f->provider, &f->provider_len, s, n)) return ETWL_EINVAL;
    f->mask |= ETWL_F_PROVIDER;
    return ETWL_OK;
}

etwl_status etwl_filter_add_id(etwl_filter *f, uint32_t id)
{
    if (id > 65535) return ETWL_ERANGE;
    if (!f->ids) {
        f->ids = calloc(65536 / 8, 1);
        if (!f->ids) return ETWL_ENOMEM;
    }
    f->ids[id >> 3] |= (uint8_t)(1u << (id & 7));
    f->mask |= ETWL_F_ID;
    return ETWL_OK;
}

etwl_status etwl_filter_set_process(etwl_filter *f, const char *s, size_t n)
{
    if (!set_lower(f->process, sizeof f->process, &f->process_len, s, n)) return ETWL_EINVAL;
    f->mask |= ETWL_F_PROCESS;
    return ETWL_OK;
}

static int proc_eq(const etwl_filter *f, const char *name)
{
    uint32_t i;
    if (!name) return 0;
    for (i = 0; i < f->process_len; i++)
        if (!name[i] || tolower((unsigned char)name[i]) != f->process[i]) return 0;
    return name[i] == 0;
}

static int name_eq(const etwl_filter *f, const etwl_header *h)
{
    uint32_t i;
    if (!(h->has & ETWL_HAS_PROVIDER_NAME) || h->provider_name_len != f->provider_len) return 0;
    for (i = 0; i < f->provider_len; i++)
        if (tolower((unsigned char)h->provider_name[i]) != f->provider[i]) return 0;
    return 1;
}

int etwl_filter_match(const etwl_filter *f, const etwl_event *ev, const char *proc_name)
{
    const etwl_header *h = &ev->hdr;
    uint32_t m = f->mask;
    if (!m) return 1;
    /* cheapest and most selective tests first */
    if ((m & ETWL_F_ID) && !(f->ids[h->desc.id >> 3] & (1u << (h->desc.id & 7)))) return 0;
    if ((m & ETWL_F_PID) && h->pid != f->pid) return 0;
    if ((m & ETWL_F_OPCODE) && h->desc.opcode != f->opcode) return 0;
    if ((m & ETWL_F_TASK) && h->desc.task != f->task) return 0;
    if ((m & ETWL_F_VERSION) && h->desc.version != f->version) return 0;
    if ((m & ETWL_F_LEVEL) && h->desc.level > f->level_max) return 0;
    if ((m & ETWL_F_ANY) && !(h->desc.keyword & f->kw_any)) return 0;
    if ((m & ETWL_F_ALL) && (h->desc.keyword & f->kw_all) != f->kw_all) return 0;
    if ((m & ETWL_F_GUID) && !etwl_guid_equal(&h->provider_guid, &f->guid)) return 0;
    if ((m & ETWL_F_PROVIDER) && !name_eq(f, h)) return 0;
    if ((m & ETWL_F_EVENT_NAME) && (!(h->has & ETWL_HAS_EVENT_NAME) || h->event_name_len != f->event_name_len ||
                                    memcmp(h->event_name, f->event_name, f->event_name_len) != 0))
        return 0;
    if ((m & ETWL_F_PROCESS) && !proc_eq(f, proc_name)) return 0;
    return 1;
}

int etwl_filter_may_match_provider(const etwl_filter *f, const char *name, const etwl_guid *guid)
{
    size_t i, n = name ? strlen(name) : 0;
    if (f->mask & ETWL_F_GUID) return !guid || etwl_guid_equal(&f->guid, guid);
    if (!(f->mask & ETWL_F_PROVIDER) || n == 0) return 1;
    if (n != f->provider_len) return 0;
    for (i = 0; i < n; i++)
        if (tolower((unsigned char)name[i]) != f->provider[i]) return 0;
    return 1;
}
