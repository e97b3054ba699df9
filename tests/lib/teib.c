/* teib.c - see teib.h */
#include "teib.h"

#include <string.h>

void teib_w16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void teib_w32(uint8_t *p, uint32_t v)
{
    teib_w16(p, (uint16_t)v);
    teib_w16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t name(teib *t, const char *s)
{
    uint32_t off = t->names;
    while (*s) {
        teib_w16(t->b + t->names, (uint8_t)*s++);
        t->names += 2;
    }
    teib_w16(t->b + t->names, 0);
    t->names += 2;
    return off;
}

void teib_init(teib *t, const uint8_t *guid, uint16_t id, uint8_t version, uint8_t opcode, const char *provider,
               const char *event, uint32_t nprops, uint32_t ntop)
{
    static const uint8_t kernel_process[16] = {0xd6, 0x2c, 0xfb, 0x22, 0x7b, 0x0e, 0x2b, 0x42,
                                               0xa0, 0xc7, 0x2f, 0xad, 0x1f, 0xd0, 0xe7, 0x16};
    memset(t, 0, sizeof *t);
    memcpy(t->b, guid ? guid : kernel_process, 16);
    teib_w16(t->b + 32, id);
    t->b[34] = version;
    t->b[36] = 4; /* Level */
    t->b[37] = opcode;
    teib_w16(t->b + 38, 1);           /* Task */
    teib_w32(t->b + 40, 0x10);        /* Keyword, low */
    teib_w32(t->b + 44, 0x80000000u); /* Keyword, high */
    teib_w32(t->b + 100, nprops);
    teib_w32(t->b + 104, ntop);
    t->nprops = nprops;
    t->names = 112 + nprops * 24;
    if (provider) teib_w32(t->b + 52, name(t, provider));
    if (event) teib_w32(t->b + 68, name(t, event)); /* TaskNameOffset */
}

void teib_prop(teib *t, uint32_t i, const char *n, uint32_t flags, uint16_t a, uint16_t b, uint16_t count,
               uint16_t length)
{
    uint8_t *e = t->b + 112 + i * 24;
    teib_w32(e, flags);
    teib_w32(e + 4, name(t, n));
    teib_w16(e + 8, a);
    teib_w16(e + 10, b);
    teib_w16(e + 16, count);
    teib_w16(e + 18, length);
}

void teib_prop_map(teib *t, uint32_t i, const char *map) { teib_w32(t->b + 112 + i * 24 + 12, name(t, map)); }

static uint32_t put_wide(uint8_t *b, uint32_t at, const char *s)
{
    while (*s) {
        teib_w16(b + at, (uint8_t)*s++);
        at += 2;
    }
    teib_w16(b + at, 0);
    return at + 2;
}

uint32_t teib_map(uint8_t *b, uint32_t cap, const char *mapname, uint32_t flags, uint32_t n, const uint32_t *values,
                  const char *const *names)
{
    uint32_t at = 16 + 8 * n, i;
    memset(b, 0, cap);
    teib_w32(b + 4, flags);
    teib_w32(b + 8, n);
    teib_w32(b, at);
    at = put_wide(b, at, mapname);
    for (i = 0; i < n; i++) {
        teib_w32(b + 16 + 8 * i, at);
        teib_w32(b + 16 + 8 * i + 4, values ? values[i] : 0);
        at = put_wide(b, at, names[i]);
    }
    return at;
}
