/* schemafile.c - see schemafile.h.  Lines are parsed with yajl's tree API:
 * they are small, and the format is ours. */
#include "etwfmt/schemafile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_tree.h>

#include "etwfmt/tei.h"

#define MAX_LINE (1u << 20) /* a TRACE_EVENT_INFO is at most tens of KB */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_b64(etwl_buf *b, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63]};
        etwl_buf_put(b, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], '=', '='};
        etwl_buf_put(b, q, 4);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], '='};
        etwl_buf_put(b, q, 4);
    }
}

/* Strict base64 (padding required, no whitespace); returns bytes or -1. */
static long get_b64(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s), i, o = 0;
    if (n % 4) return -1;
    for (i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int k, pad = 0;
        for (k = 0; k < 4; k++) {
            const char *c = s[i + k] ? strchr(b64, s[i + k]) : NULL;
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!c || pad) return -1;
            v = v << 6 | (uint32_t)(c - b64);
        }
        if (o + 3 - (size_t)pad > cap) return -1;
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2) out[o++] = (uint8_t)(v >> 8);
        if (pad < 1) out[o++] = (uint8_t)v;
    }
    return (long)o;
}

void etwl_schemafile_line(etwl_buf *b, const etwl_schema_key *k, const uint8_t *tei, size_t n)
{
    char g[ETWL_GUID_STRLEN + 1];
    etwl_guid_format(&k->provider, g);
    etwl_buf_printf(
        b, "{\"provider\":\"%s\",\"id\":%u,\"version\":%u,\"opcode\":%u,\"meta_hash\":\"0x%016llx\",\"tei\":\"", g,
        k->id, k->version, k->opcode, (unsigned long long)k->meta_hash);
    put_b64(b, tei, n);
    etwl_buf_puts(b, "\"}\n");
}

static int get_uint(yajl_val root, const char *key, unsigned long long max, unsigned long long *out)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_number);
    if (!v || !YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 || (unsigned long long)YAJL_GET_INTEGER(v) > max) return 0;
    *out = (unsigned long long)YAJL_GET_INTEGER(v);
    return 1;
}

static const char *get_str(yajl_val root, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

/* One line into the cache; NULL, or why it was refused. */
static const char *load_line(const char *line, etwl_schema_cache *c, uint8_t *blob, size_t cap, char *why, size_t whyn)
{
    yajl_val root = yajl_tree_parse(line, why, whyn);
    etwl_schema_key k;
    unsigned long long id, ver, op;
    const char *g, *mh, *tei;
    char *end;
    long n;
    etwl_schema *s = NULL;
    etwl_error e;
    const char *res = NULL;
    if (!root) return why[0] ? why : "not JSON";
    memset(&k, 0, sizeof k);
    g = get_str(root, "provider");
    mh = get_str(root, "meta_hash");
    tei = get_str(root, "tei");
    if (!g || etwl_guid_parse(g, strlen(g), &k.provider) != ETWL_OK) {
        res = "\"provider\" is not a GUID";
    } else if (!get_uint(root, "id", 0xFFFF, &id) || !get_uint(root, "version", 0xFF, &ver) ||
               !get_uint(root, "opcode", 0xFF, &op)) {
        res = "\"id\", \"version\" or \"opcode\" is missing or out of range";
    } else if (!mh ||
               (errno = 0, k.meta_hash = strtoull(mh, &end, 16), *end || errno || mh[0] != '0' || mh[1] != 'x')) {
        res = "\"meta_hash\" is not 0x and hex digits";
    } else if (!tei || (n = get_b64(tei, blob, cap)) < 0) {
        res = "\"tei\" is not base64";
    } else if (etwl_tei_to_schema(blob, (size_t)n, &s, &e) != ETWL_OK) {
        snprintf(why, whyn, "TRACE_EVENT_INFO: %.200s", e.message);
        res = why;
    } else {
        k.id = (uint16_t)id;
        k.version = (uint8_t)ver;
        k.opcode = (uint8_t)op;
        if (etwl_schema_cache_put(c, &k, s) != ETWL_OK) res = "out of memory";
    }
    yajl_tree_free(root);
    return res;
}

etwl_status etwl_schemafile_load(const char *path, etwl_schema_cache *c, uint32_t *loaded, uint32_t *bad,
                                 etwl_diag_cb diag, void *user, etwl_error *err)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL, why[256], where[1200];
    uint8_t *blob = NULL;
    size_t len;
    unsigned long lineno = 0;
    etwl_status st = ETWL_OK;
    *loaded = *bad = 0;
    if (!f) return etwl_error_set(err, errno == ENOENT ? ETWL_ENOTFOUND : ETWL_EIO, "%s: %s", path, strerror(errno));
    line = malloc(MAX_LINE + 2);
    blob = malloc(MAX_LINE);
    if (!line || !blob) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto done;
    }
    while (fgets(line, MAX_LINE + 2, f)) {
        const char *res;
        lineno++;
        len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(f)) {
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {
            }
            res = "line too long";
        } else {
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
            if (lineno == 1) {
                if (strcmp(line, ETWL_SCHEMAFILE_HEADER) != 0) {
                    st = etwl_error_set(err, ETWL_EPARSE, "%s:1: not an etwlua schema file (expected %s)", path,
                                        ETWL_SCHEMAFILE_HEADER);
                    goto done;
                }
                continue;
            }
            if (len == 0) continue;
            why[0] = 0;
            res = load_line(line, c, blob, MAX_LINE, why, sizeof why);
        }
        if (res) {
            (*bad)++;
            if (diag) {
                snprintf(where, sizeof where, "%s:%lu", path, lineno);
                diag(where, res, user);
            }
        } else {
            (*loaded)++;
        }
    }
    if (ferror(f)) st = etwl_error_set(err, ETWL_EIO, "%s: read error", path);
    else if (lineno == 0) st = etwl_error_set(err, ETWL_EPARSE, "%s: empty, not an etwlua schema file", path);
done:
    free(line);
    free(blob);
    fclose(f);
    return st;
}
