/* system.c - see system.h.  Element and attribute names from Microsoft's
 * event schema (the System type of EventSchema). */
#include "sources/evtx/system.h"

#include <stdlib.h>
#include <string.h>

const char *const evtx_sys_text[] = {"EventID",  "Version",       "Level",   "Task",     "Opcode",
                                     "Keywords", "EventRecordID", "Channel", "Computer", NULL};

static const struct {
    const char *elem, *attr;
    int field;
} attrs[] = {
    {"Provider", "Name", EVTX_F_PROVIDER},
    {"Provider", "EventSourceName", EVTX_F_PROVIDER}, /* classic event logs */
    {"Provider", "Guid", EVTX_F_GUID},
    {"TimeCreated", "SystemTime", EVTX_F_TIME},
    {"Correlation", "ActivityID", EVTX_F_ACTIVITY},
    {"Correlation", "RelatedActivityID", EVTX_F_RELATED},
    {"Execution", "ProcessID", EVTX_F_PID},
    {"Execution", "ThreadID", EVTX_F_TID},
    {"Security", "UserID", EVTX_F_SID},
};

int evtx_sys_child(const char *el, const void *(*get)(void *ctx, const char *name),
                   void (*set)(void *ctx, int field, const void *value), void *ctx)
{
    size_t i;
    unsigned done = 0;
    int found = 0;
    const void *v;
    for (i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        if (strcmp(attrs[i].elem, el) != 0) continue;
        found = 1;
        if (!(done >> attrs[i].field & 1) && (v = get(ctx, attrs[i].attr))) {
            set(ctx, attrs[i].field, v);
            done |= 1u << attrs[i].field;
        }
    }
    if (found) return -1;
    for (i = 0; evtx_sys_text[i]; i++)
        if (strcmp(el, evtx_sys_text[i]) == 0) return (int)i;
    return -1;
}

/* v into dst (cap bytes), cut to fit as snprintf would; its length. */
static uint32_t copy_str(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
    return (uint32_t)n;
}

void evtx_sys_apply(etwl_event *ev, evtx_sys_strings *s, int field, int elem, const char *v)
{
    etwl_header *h = &ev->hdr;
    switch (field) {
    case EVTX_F_PROVIDER:
        h->provider_name = s->provider;
        h->provider_name_len = copy_str(s->provider, sizeof s->provider, v);
        h->has |= ETWL_HAS_PROVIDER_NAME;
        break;
    case EVTX_F_GUID: etwl_guid_parse(v, strlen(v), &h->provider_guid); break;
    case EVTX_F_TIME: etwl_time_parse(v, strlen(v), &h->ts); break;
    case EVTX_F_ACTIVITY: etwl_guid_parse(v, strlen(v), &h->activity_guid); break;
    case EVTX_F_RELATED:
        if (etwl_guid_parse(v, strlen(v), &ev->ext.related_activity) == ETWL_OK)
            ev->ext.has |= ETWL_EXT_RELATED_ACTIVITY;
        break;
    case EVTX_F_PID: h->pid = (uint32_t)strtoul(v, NULL, 10); break;
    case EVTX_F_TID: h->tid = (uint32_t)strtoul(v, NULL, 10); break;
    case EVTX_F_SID:
        if (strlen(v) < sizeof s->sid) { /* a longer one is no SID: left out */
            ev->ext.user_sid = s->sid;
            ev->ext.user_sid_len = copy_str(s->sid, sizeof s->sid, v);
            ev->ext.has |= ETWL_EXT_USER_SID;
        }
        break;
    case EVTX_F_TEXT:
        switch (elem) {
        case 0: h->desc.id = (uint16_t)strtoul(v, NULL, 10); break;
        case 1: h->desc.version = (uint8_t)strtoul(v, NULL, 10); break;
        case 2: h->desc.level = (uint8_t)strtoul(v, NULL, 10); break;
        case 3: h->desc.task = (uint16_t)strtoul(v, NULL, 10); break;
        case 4: h->desc.opcode = (uint8_t)strtoul(v, NULL, 10); break;
        case 5: h->desc.keyword = strtoull(v, NULL, 0); break; /* "0x8020000000000000" */
        case 6:
            h->record_id = strtoull(v, NULL, 10);
            h->has |= ETWL_HAS_RECORD_ID;
            break;
        case EVTX_T_CHANNEL:
            h->channel_name = s->channel;
            h->channel_name_len = copy_str(s->channel, sizeof s->channel, v);
            h->has |= ETWL_HAS_CHANNEL_NAME;
            break;
        case EVTX_T_COMPUTER:
            h->computer = s->computer;
            h->computer_len = copy_str(s->computer, sizeof s->computer, v);
            h->has |= ETWL_HAS_COMPUTER;
            break;
        default: break;
        }
        break;
    default: break;
    }
}
