/* sink_http.c - http(s)://URL: batched POSTs through libcurl, in
 * Elasticsearch _bulk or Splunk HEC form.
 *
 * The form: "?format=es" or "?format=hec" in the URL (removed before the
 * request), else a path ending in /_bulk is Elasticsearch and a path
 * containing /services/collector is HEC; any other URL is refused at start.
 *   ES:  {"index":{}}\nALERT\n per alert (the index is the URL's, as in
 *        http://es:9200/etwlua-alerts/_bulk)
 *   HEC: {"time":SECONDS,"host":HOST,"sourcetype":"etwlua:alert","event":ALERT}
 *        per alert, one per line
 * A 2xx reply delivers the batch; anything else (or no reply) is retried with
 * backoff.  Elasticsearch answers 200 with "errors":true when some items
 * were refused (a mapping conflict): those are said once on stderr and not
 * retried, as a retry would be refused again.
 * The Authorization header comes from ETWLUA_HTTP_AUTH ("Basic ...",
 * "ApiKey ...", "Splunk TOKEN"), so the secret is not on the command line.
 * TLS certificates are verified unless --output-insecure.
 * libcurl is loaded when the first http(s) output opens (dynlib.h). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etwl.h"
#include "util/dynlib.h"
#include "output/sink.h"

#define CURL_SONAME "libcurl.so.4" /* the ABI curl.h describes, since 2006 */
/* clang-format off: one function a line */
#define CURL_FUNCS(X)                                                                                                  \
    X(curl_global_init)                                                                                                \
    X(curl_easy_init)                                                                                                  \
    X(curl_easy_setopt)                                                                                                \
    X(curl_easy_perform)                                                                                               \
    X(curl_easy_getinfo)                                                                                               \
    X(curl_easy_cleanup)                                                                                               \
    X(curl_easy_strerror)                                                                                              \
    X(curl_slist_append)                                                                                               \
    X(curl_slist_free_all)
/* clang-format on */
ETWL_DYNLIB_DEFINE(CURL_FUNCS, CURL_SONAME); /* called as lib.curl_... */
/* curl.h's type-checking wrappers of these two are macros, which would
 * take lib.curl_easy_setopt(...) for themselves */
#undef curl_easy_setopt
#undef curl_easy_getinfo

enum { F_ES, F_HEC };

typedef struct http_sink {
    etwl_sink *self;
    CURL *curl;
    struct curl_slist *headers;
    char *url;
    int form;
    etwl_buf body, reply;
    int warned_items;
} http_sink;

static int http_claims(const char *s) { return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0; }

static size_t on_reply(char *p, size_t sz, size_t n, void *ud)
{
    http_sink *h = ud;
    if (h->reply.len < 4096) etwl_buf_put(&h->reply, p, sz * n); /* the start says enough */
    return sz * n;
}

/* curl's progress callback: nonzero aborts the transfer at the flush
 * deadline, so a hung server cannot hold the exit */
static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return etwl_sink_cancelled(((http_sink *)ud)->self);
}

/* Takes "format=es|hec" out of the query; returns -1 if absent, -2 if bad. */
static int strip_format(char *url)
{
    char *q = strchr(url, '?'), *p;
    int form = -1;
    if (!q) return -1;
    for (p = q + 1; *p;) {
        char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        if (strncmp(p, "format=", 7) == 0) {
            size_t vl = (size_t)(end - p - 7);
            if (vl == 2 && strncmp(p + 7, "es", 2) == 0) form = F_ES;
            else if (vl == 3 && strncmp(p + 7, "hec", 3) == 0) form = F_HEC;
            else return -2;
            /* remove "format=..&" or "[?&]format=.." */
            if (amp) {
                memmove(p, amp + 1, strlen(amp + 1) + 1);
                continue;
            }
            if (p == q + 1) *q = 0;
            else p[-1] = 0;
            break;
        }
        p = amp ? amp + 1 : end;
    }
    return form;
}

static etwl_status http_open(etwl_sink *self, const char *spec, const etwl_sink_opts *o, void **state, etwl_error *err)
{
    static int global_done;
    http_sink *h;
    const char *auth = getenv("ETWLUA_HTTP_AUTH");
    char *path, *q;
    int form;
    void *const slots[] = {CURL_FUNCS(ETWL_DYNLIB_SLOT)};
    if (etwl_dynlib_open(&lib_so, slots) != 0)
        return etwl_error_set(err, ETWL_EIO, "-o %s: the HTTP output needs libcurl: %s", spec, lib_so.why);
    if (!global_done) { /* before any thread uses curl */
        if (lib.curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
            return etwl_error_set(err, ETWL_EIO, "-o %s: libcurl failed to initialise", spec);
        global_done = 1;
    }
    if (!(h = calloc(1, sizeof *h)) || !(h->url = strdup(spec))) {
        free(h);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    h->self = self;
    form = strip_format(h->url);
    if (form == -2) {
        free(h->url);
        free(h);
        return etwl_error_set(err, ETWL_EINVAL, "-o %s: format= is es or hec", spec);
    }
    if (form == -1) {
        path = strchr(h->url + (h->url[4] == 's' ? 8 : 7), '/');
        q = path ? strchr(path, '?') : NULL;
        if (path && (q ? (size_t)(q - path) : strlen(path)) >= 6 &&
            strncmp((q ? q : path + strlen(path)) - 6, "/_bulk", 6) == 0)
            form = F_ES;
        else if (path && strstr(path, "/services/collector")) form = F_HEC;
        else {
            free(h->url);
            free(h);
            return etwl_error_set(err, ETWL_EINVAL,
                                  "-o %s: cannot tell the form from the URL: end the path with /_bulk "
                                  "(Elasticsearch), use /services/collector (Splunk HEC), or add "
                                  "?format=es or ?format=hec",
                                  spec);
        }
    }
    h->form = form;
    etwl_buf_init(&h->body);
    etwl_buf_init(&h->reply);
    if (!(h->curl = lib.curl_easy_init())) {
        free(h->url);
        free(h);
        return etwl_error_set(err, ETWL_ENOMEM, "-o %s: libcurl failed to initialise", spec);
    }
    h->headers = lib.curl_slist_append(NULL, form == F_ES ? "Content-Type: application/x-ndjson"
                                                          : "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip before each batch */
    h->headers = lib.curl_slist_append(h->headers, "Expect:");
    if (auth && *auth) {
        etwl_buf a;
        etwl_buf_init(&a);
        etwl_buf_printf(&a, "Authorization: %s", auth);
        if (a.data) h->headers = lib.curl_slist_append(h->headers, a.data);
        etwl_buf_free(&a);
    }
    lib.curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
    lib.curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
    lib.curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
    lib.curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    lib.curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, 5L);
    lib.curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, 30L);
    lib.curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_reply);
    lib.curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
    lib.curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    lib.curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, h);
    lib.curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
    lib.curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (o->insecure) {
        lib.curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        lib.curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 0L);
        fprintf(stderr,
                "etwlua: WARNING: --output-insecure: the TLS certificate of %s is NOT verified; anyone on the "
                "path can read and forge these alerts\n",
                h->url);
    }
    *state = h;
    return ETWL_OK;
}

static void put_body(http_sink *h, const etwl_sink_rec *r)
{
    if (h->form == F_ES) {
        etwl_buf_puts(&h->body, "{\"index\":{}}\n");
        etwl_buf_put(&h->body, r->line, r->len);
        etwl_buf_putc(&h->body, '\n');
        return;
    }
    {
        int64_t t100;
        etwl_buf_puts(&h->body, "{");
        /* FILETIME ticks since 1601 to Unix seconds, with milliseconds */
        if (r->time[0] && etwl_time_parse(r->time, strlen(r->time), &t100) == ETWL_OK && t100 >= 116444736000000000LL) {
            int64_t ms = (t100 - 116444736000000000LL) / 10000;
            etwl_buf_printf(&h->body, "\"time\":%lld.%03lld,", (long long)(ms / 1000), (long long)(ms % 1000));
        }
        if (r->host_len) {
            etwl_buf_puts(&h->body, "\"host\":");
            etwl_json_put_string(&h->body, r->host, r->host_len);
            etwl_buf_putc(&h->body, ',');
        }
        etwl_buf_puts(&h->body, "\"sourcetype\":\"etwlua:alert\",\"event\":");
        etwl_buf_put(&h->body, r->line, r->len);
        etwl_buf_puts(&h->body, "}\n");
    }
}

static etwl_status http_send(void *state, etwl_sink_rec *const *recs, size_t n, size_t *done, etwl_error *err)
{
    http_sink *h = state;
    size_t i;
    CURLcode rc;
    long code = 0;
    *done = 0;
    etwl_buf_reset(&h->body);
    etwl_buf_reset(&h->reply);
    for (i = 0; i < n; i++) put_body(h, recs[i]);
    if (h->body.oom) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    lib.curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, h->body.data);
    lib.curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)h->body.len);
    rc = lib.curl_easy_perform(h->curl);
    if (rc != CURLE_OK) return etwl_error_set(err, ETWL_EIO, "POST failed: %s", lib.curl_easy_strerror(rc));
    lib.curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) return etwl_error_set(err, ETWL_EIO, "POST answered HTTP %ld", code);
    if (h->form == F_ES && !h->warned_items && h->reply.data &&
        memmem(h->reply.data, h->reply.len, "\"errors\":true", 13)) {
        h->warned_items = 1;
        fprintf(stderr,
                "etwlua: output %s: Elasticsearch refused some alerts of a batch (\"errors\":true); "
                "they are not retried (said once)\n",
                h->url);
    }
    *done = n;
    return ETWL_OK;
}

static void http_close(void *state)
{
    http_sink *h = state;
    lib.curl_easy_cleanup(h->curl);
    lib.curl_slist_free_all(h->headers);
    etwl_buf_free(&h->body);
    etwl_buf_free(&h->reply);
    free(h->url);
    free(h);
}

const etwl_sink_kind etwl_sink_http = {
    .name = "http",
    .claims = http_claims,
    .batch = 1000,
    .open = http_open,
    .send = http_send,
    .close = http_close,
};
