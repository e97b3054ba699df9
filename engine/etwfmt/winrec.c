/* winrec.c - see winrec.h */
#include "etwfmt/winrec.h"

#include <string.h>

#include "util/bytes.h"
#include "core/format.h"

static int ext_item(const etwl_win_ext_item *it, etwl_event *ev)
{
    const uint8_t *d = (const uint8_t *)(uintptr_t)it->data_ptr;
    uint32_t n = it->data_size, i, width;
    etwl_ext *x = &ev->ext;
    if (!d && n) return 0;
    switch (it->ext_type) {
    case ETWL_EXT_TYPE_RELATED_ACTIVITYID:
        if (n != 16) return 0;
        etwl_guid_from_bytes(d, &x->related_activity);
        x->has |= ETWL_EXT_RELATED_ACTIVITY;
        return 1;
    case ETWL_EXT_TYPE_SID: {
        char buf[ETWL_SID_STRLEN];
        int k = etwl_sid_format(d, n, buf, sizeof buf);
        if (k <= 0) return 0;
        x->user_sid = etwl_arena_strdup(&ev->arena, buf, (size_t)k);
        if (!x->user_sid) return 0;
        x->user_sid_len = (uint32_t)k;
        x->has |= ETWL_EXT_USER_SID;
        return 1;
    }
    case ETWL_EXT_TYPE_TS_ID:
        if (n != 4) return 0;
        x->session_id = etwl_le32(d);
        x->has |= ETWL_EXT_SESSION_ID;
        return 1;
    case ETWL_EXT_TYPE_INSTANCE_INFO: /* InstanceId, ParentInstanceId, ParentGuid */
        if (n != 24) return 0;
        x->instance.id = etwl_le32(d);
        x->instance.parent_id = etwl_le32(d + 4);
        etwl_guid_from_bytes(d + 8, &x->instance.parent_guid);
        x->has |= ETWL_EXT_INSTANCE_INFO;
        return 1;
    case ETWL_EXT_TYPE_STACK_TRACE32:
    case ETWL_EXT_TYPE_STACK_TRACE64: { /* MatchId, then the addresses */
        uint64_t *a;
        width = it->ext_type == ETWL_EXT_TYPE_STACK_TRACE32 ? 4 : 8;
        if (n < 8 || (n - 8) % width) return 0;
        a = etwl_arena_alloc(&ev->arena, ((n - 8) / width + 1) * sizeof *a);
        if (!a) return 0;
        for (i = 0; i < (n - 8) / width; i++) a[i] = width == 4 ? etwl_le32(d + 8 + 4 * i) : etwl_le64(d + 8 + 8 * i);
        x->stack.matched_id = etwl_le64(d);
        x->stack.addresses = a;
        x->stack.count = (n - 8) / width;
        x->has |= ETWL_EXT_STACKTRACE;
        return 1;
    }
    case ETWL_EXT_TYPE_EVENT_KEY:
        if (n != 8) return 0;
        x->event_key = etwl_le64(d);
        x->has |= ETWL_EXT_EVENT_KEY;
        return 1;
    case ETWL_EXT_TYPE_PROCESS_START_KEY:
        if (n != 8) return 0;
        x->process_start_key = etwl_le64(d);
        x->has |= ETWL_EXT_PROCESS_START_KEY;
        return 1;
    default: return 1; /* kinds we do not use (PMC counters, schema TL...) are fine */
    }
}

etwl_status etwl_win_record_to_event(const etwl_win_record *r, const etwl_schema *schema, etwl_event *ev,
                                     uint32_t *bad_items)
{
    const etwl_win_header *h = &r->header;
    etwl_header *o = &ev->hdr;
    uint32_t i, bad = 0;
    o->desc.id = h->id;
    o->desc.version = h->version;
    o->desc.channel = h->channel;
    o->desc.level = h->level;
    o->desc.opcode = h->opcode;
    o->desc.task = h->task;
    o->desc.keyword = h->keyword;
    o->tid = h->thread_id;
    o->pid = h->process_id;
    o->ts = h->timestamp; /* FILETIME for real-time and file sessions without raw timestamps */
    etwl_guid_from_bytes(h->provider_id, &o->provider_guid);
    etwl_guid_from_bytes(h->activity_id, &o->activity_guid);
    o->flags = h->flags;
    /* private sessions and NO_CPUTIME events carry one ProcessorTime */
    if (h->flags & (ETWL_HDR_FLAG_PRIVATE_SESSION | ETWL_HDR_FLAG_NO_CPUTIME)) {
        o->processor_time = h->t.processor_time;
    } else {
        o->kernel_time = h->t.kt.kernel_time;
        o->user_time = h->t.kt.user_time;
    }
    o->processor = (h->flags & ETWL_HDR_FLAG_PROCESSOR_INDEX) ? r->processor_index : (r->processor_index & 0xFF);
    o->has |= ETWL_HAS_PROCESSOR;
    if (schema && schema->provider_name) {
        o->provider_name = schema->provider_name;
        o->provider_name_len = (uint32_t)strlen(schema->provider_name);
        o->has |= ETWL_HAS_PROVIDER_NAME;
    }
    if (schema && schema->event_name) {
        o->event_name = schema->event_name;
        o->event_name_len = (uint32_t)strlen(schema->event_name);
        o->has |= ETWL_HAS_EVENT_NAME;
    }
    for (i = 0; r->extended_data && i < r->extended_data_count; i++)
        if (!ext_item(&r->extended_data[i], ev)) bad++;
    if (bad_items) *bad_items = bad;
    return etwl_event_set_payload(ev, schema, r->user_data, r->user_data_length);
}

void etwl_win_record_schema_key(const etwl_win_record *r, etwl_schema_key *k)
{
    uint32_t i;
    memset(k, 0, sizeof *k);
    etwl_guid_from_bytes(r->header.provider_id, &k->provider);
    k->id = r->header.id;
    k->version = r->header.version;
    k->opcode = r->header.opcode;
    for (i = 0; r->extended_data && i < r->extended_data_count; i++) {
        const etwl_win_ext_item *it = &r->extended_data[i];
        if (it->ext_type == ETWL_EXT_TYPE_EVENT_SCHEMA_TL && it->data_ptr) {
            /* never 0, so a TraceLogging key differs from a manifest one */
            k->meta_hash = etwl_fnv64((const void *)(uintptr_t)it->data_ptr, it->data_size, ETWL_FNV64_INIT) | 1;
            break;
        }
    }
}
