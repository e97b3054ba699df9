/* sink_syslog.c - syslog: RFC 5424 messages to the local socket, or over
 * UDP (RFC 5426) or TCP with octet-counting framing (RFC 6587).
 *
 *   syslog:                     /dev/log (the local daemon)
 *   syslog:/PATH                another local datagram socket
 *   syslog:udp://HOST:PORT      syslog:tcp://HOST:PORT   ([v6]:PORT too)
 *
 * <PRI>1 TIMESTAMP HOSTNAME etwlua PROCID MSGID - MSG, where PRI is
 * facility user (1) and the severity of the alert (critical 2 crit, high
 * 3 err, medium 4 warning, low 5 notice, info 6 info), TIMESTAMP the
 * alert's time (cut to the microseconds RFC 5424 allows), HOSTNAME this
 * machine, MSGID the rule id (printable ASCII, at most 32 characters; the
 * full id is in MSG) and MSG the JSON alert.
 *
 * UDP cannot tell a dead receiver from a live one until the kernel reports
 * the ICMP error on the next send: the datagram sent while the receiver
 * died is lost without a trace, as with any syslog over UDP.  TCP notices a
 * closed connection before each batch and reconnects; a stalled receiver
 * fills the socket buffer and then the queue, whose overflow is counted.
 *
 * On Windows the same code runs over winsock, UDP and TCP only: there is no
 * local syslog socket there.  A refused UDP datagram may go unreported
 * there (winsock reports ICMP errors to receives, not sends). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
/* Windows: UDP and TCP through winsock; there is no local syslog socket */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
typedef SOCKET sock_t;
#define BAD_SOCK INVALID_SOCKET
#define MSG_NOSIGNAL 0 /* winsock raises no SIGPIPE */
#define SOCK_CLOEXEC 0 /* handles are not inherited unless asked */
#define poll WSAPoll
#define close_sock closesocket
static int sock_errno(void) { return WSAGetLastError(); }
/* winsock's errors are not errno values: their number, which Microsoft's
 * documentation lists */
static const char *sock_strerror(int e)
{
    static char msg[64];
    snprintf(msg, sizeof msg, "winsock error %d", e);
    return msg;
}
#define gai_message(rc) gai_strerrorA(rc) /* gai_strerror is the wide one under UNICODE */
#define SOCK_EMSGSIZE WSAEMSGSIZE
#define SOCK_ECONNREFUSED WSAECONNREFUSED
#define SOCK_EHOSTUNREACH WSAEHOSTUNREACH
#else
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
typedef int sock_t;
#define BAD_SOCK (-1)
#define close_sock close
static int sock_errno(void) { return errno; }
static const char *sock_strerror(int e) { return strerror(e); }
#define gai_message(rc) gai_strerror(rc)
#define SOCK_EMSGSIZE EMSGSIZE
#define SOCK_ECONNREFUSED ECONNREFUSED
#define SOCK_EHOSTUNREACH EHOSTUNREACH
#endif

#include "output/sink.h"

enum { T_UNIX, T_UDP, T_TCP };

#define UDP_MAX 65000 /* a datagram's payload; longer messages are cut */

typedef struct syslog_sink {
    int transport;
    char *host, *port, *path;
    sock_t fd;
    int wsa; /* Windows: WSAStartup succeeded, WSACleanup at close */
    char hostname[256];
    char procid[16];
    etwl_buf buf, msg;
    size_t *ends;
    size_t nends;
    int probing; /* datagrams: after a failure, one at a time until one is not refused */
} syslog_sink;

static int syslog_claims(const char *s) { return strncmp(s, "syslog:", 7) == 0; }

/* RFC 5424 PRINTUSASCII (33..126), at most max characters; "-" if none */
static void put_field(etwl_buf *b, const char *s, size_t n, size_t max)
{
    size_t i, k = 0;
    for (i = 0; i < n && k < max; i++, k++) etwl_buf_putc(b, s[i] > 32 && s[i] < 127 ? s[i] : '_');
    if (!k) etwl_buf_putc(b, '-');
}

static const int sev_code[] = {6, 5, 4, 3, 2}; /* info low medium high critical */

static void format(syslog_sink *y, etwl_buf *b, const etwl_sink_rec *r)
{
    const char *dot = strchr(r->time, '.');
    etwl_buf_printf(b, "<%d>1 ", 1 * 8 + sev_code[r->sev < 0 || r->sev > 4 ? 2 : r->sev]);
    if (!r->time[0]) etwl_buf_putc(b, '-');
    else if (dot && strlen(dot) > 8) { /* .fffffffZ: 7 digits, RFC 5424 takes 6 */
        etwl_buf_put(b, r->time, (size_t)(dot - r->time) + 7);
        etwl_buf_puts(b, dot + 8);
    } else etwl_buf_puts(b, r->time);
    etwl_buf_putc(b, ' ');
    put_field(b, y->hostname, strlen(y->hostname), 255);
    etwl_buf_printf(b, " etwlua %s ", y->procid);
    put_field(b, r->rule, r->rule_len, 32);
    etwl_buf_puts(b, " - ");
    etwl_buf_put(b, r->line, r->len);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = 0;
    return d;
}

/* HOST:PORT or [V6]:PORT */
static int split_hostport(const char *s, char **host, char **port)
{
    const char *c;
    size_t hl;
    if (*s == '[') {
        const char *e = strchr(s, ']');
        if (!e || e[1] != ':' || !e[2]) return 0;
        hl = (size_t)(e - s - 1);
        s++;
        c = e + 1;
    } else {
        c = strrchr(s, ':');
        if (!c || c == s || !c[1]) return 0;
        hl = (size_t)(c - s);
    }
    *host = dup_n(s, hl);
    *port = strdup(c + 1);
    return *host && *port;
}

static void disconnect(syslog_sink *y)
{
    if (y->fd != BAD_SOCK) close_sock(y->fd);
    y->fd = BAD_SOCK;
}

static etwl_status connect_now(syslog_sink *y, etwl_error *err)
{
#ifdef _WIN32
    DWORD tv = 2000; /* milliseconds */
#else
    struct timeval tv = {2, 0}; /* also bounds connect on Linux */
    if (y->transport == T_UNIX) {
        struct sockaddr_un a;
        memset(&a, 0, sizeof a);
        a.sun_family = AF_UNIX;
        snprintf(a.sun_path, sizeof a.sun_path, "%s", y->path);
        if ((y->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
            connect(y->fd, (struct sockaddr *)&a, sizeof a) != 0) {
            etwl_error_set(err, ETWL_EIO, "cannot reach %s: %s", y->path, strerror(errno));
            disconnect(y);
            return ETWL_EIO;
        }
        return ETWL_OK;
    }
#endif
    {
        struct addrinfo hints, *res = NULL, *ai;
        int rc, e = 0;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = y->transport == T_TCP ? SOCK_STREAM : SOCK_DGRAM;
        if ((rc = getaddrinfo(y->host, y->port, &hints, &res)) != 0)
            return etwl_error_set(err, ETWL_EIO, "cannot resolve %s: %s", y->host, gai_message(rc));
        for (ai = res; ai; ai = ai->ai_next) {
            y->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (y->fd == BAD_SOCK) continue;
            setsockopt(y->fd, SOL_SOCKET, SO_SNDTIMEO, (const void *)&tv, sizeof tv);
            if (connect(y->fd, ai->ai_addr, (int)ai->ai_addrlen) == 0) break;
            e = sock_errno();
            disconnect(y);
        }
        freeaddrinfo(res);
        if (y->fd == BAD_SOCK)
            return etwl_error_set(err, ETWL_EIO, "cannot connect to %s:%s: %s", y->host, y->port,
                                  sock_strerror(e ? e : SOCK_EHOSTUNREACH));
    }
    return ETWL_OK;
}

static etwl_status syslog_open(etwl_sink *self, const char *spec, const etwl_sink_opts *o, void **state,
                               etwl_error *err)
{
    syslog_sink *y = calloc(1, sizeof *y);
    const char *rest = spec + 7;
    (void)self;
    (void)o;
    if (!y) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    y->fd = BAD_SOCK;
    etwl_buf_init(&y->buf);
    etwl_buf_init(&y->msg);
    if (!*rest || *rest == '/') {
#ifdef _WIN32
        free(y);
        return etwl_error_set(err, ETWL_EINVAL,
                              "-o %s: Windows has no local syslog socket; use syslog:udp://HOST:PORT or "
                              "syslog:tcp://HOST:PORT",
                              spec);
#endif
        y->transport = T_UNIX;
        y->path = strdup(*rest ? rest : "/dev/log");
    } else if (strncmp(rest, "udp://", 6) == 0 || strncmp(rest, "tcp://", 6) == 0) {
        y->transport = rest[0] == 'u' ? T_UDP : T_TCP;
        if (!split_hostport(rest + 6, &y->host, &y->port)) {
            free(y->host);
            free(y->port);
            free(y);
            return etwl_error_set(err, ETWL_EINVAL, "-o %s: expected syslog:udp://HOST:PORT or syslog:tcp://HOST:PORT",
                                  spec);
        }
    } else {
        free(y);
        return etwl_error_set(err, ETWL_EINVAL,
                              "-o %s: expected syslog:, syslog:/SOCKET, syslog:udp://HOST:PORT or "
                              "syslog:tcp://HOST:PORT",
                              spec);
    }
#ifdef _WIN32
    {
        WSADATA wd;
        if (WSAStartup(MAKEWORD(2, 2), &wd) != 0) {
            free(y->host);
            free(y->port);
            free(y);
            return etwl_error_set(err, ETWL_EIO, "-o %s: winsock does not start", spec);
        }
        y->wsa = 1;
    }
    snprintf(y->procid, sizeof y->procid, "%lu", (unsigned long)GetCurrentProcessId());
#else
    snprintf(y->procid, sizeof y->procid, "%ld", (long)getpid());
#endif
    if (gethostname(y->hostname, sizeof y->hostname - 1) != 0 || !y->hostname[0]) strcpy(y->hostname, "-");
    *state = y;
    return ETWL_OK;
}

/* TCP: the receiver never writes, so a readable socket means it closed
 * (poll said it is readable: the peek does not block) */
static int peer_closed(sock_t fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    char c;
    if (poll(&p, 1, 0) <= 0) return 0;
    return recv(fd, &c, 1, MSG_PEEK) <= 0;
}

static etwl_status syslog_send(void *state, etwl_sink_rec *const *recs, size_t n, size_t *done, etwl_error *err)
{
    syslog_sink *y = state;
    size_t i;
    *done = 0;
    if (y->fd != BAD_SOCK && y->transport == T_TCP && peer_closed(y->fd)) disconnect(y);
    if (y->fd == BAD_SOCK && connect_now(y, err) != ETWL_OK) return ETWL_EIO;
    if (y->transport != T_TCP) {
        for (i = 0; i < n; i++) {
            etwl_buf_reset(&y->buf);
            format(y, &y->buf, recs[i]);
            if (y->buf.oom) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
            if (send(y->fd, y->buf.data, (int)(y->buf.len > UDP_MAX ? UDP_MAX : y->buf.len), MSG_NOSIGNAL) < 0 &&
                sock_errno() != SOCK_EMSGSIZE) { /* too big even cut to UDP_MAX for this socket: skipped */
                etwl_error_set(err, ETWL_EIO, "send failed: %s", sock_strerror(sock_errno()));
                disconnect(y);
                y->probing = 1;
                return ETWL_EIO;
            }
            /* a refused datagram is reported only by the send after it:
             * while recovering, the first one waits for a refusal (ICMP
             * comes back within a round trip), so an outage costs at most
             * the datagram in flight when it began, not one per retry */
            if (y->probing) {
                struct pollfd p = {y->fd, 0, 0};
                int e = 0;
                socklen_t el = sizeof e;
                if (poll(&p, 1, 200) > 0 && (p.revents & POLLERR)) {
                    getsockopt(y->fd, SOL_SOCKET, SO_ERROR, (void *)&e, &el);
                    disconnect(y);
                    return etwl_error_set(err, ETWL_EIO, "send failed: %s", sock_strerror(e ? e : SOCK_ECONNREFUSED));
                }
                y->probing = 0;
            }
            (*done)++;
        }
        return ETWL_OK;
    }
    /* TCP: the batch as one stream of "LEN SP MSG" frames, sent at once;
     * the records sent are those whose frame ended before a failure */
    {
        size_t sent = 0;
        size_t *ends = realloc(y->ends, n * sizeof *ends);
        if (!ends) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        y->ends = ends;
        etwl_buf_reset(&y->buf);
        for (i = 0; i < n; i++) {
            etwl_buf_reset(&y->msg);
            format(y, &y->msg, recs[i]);
            etwl_buf_printf(&y->buf, "%zu ", y->msg.len);
            etwl_buf_put(&y->buf, y->msg.data, y->msg.len);
            ends[i] = y->buf.len;
        }
        if (y->buf.oom || y->msg.oom) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        while (sent < y->buf.len) {
            size_t left = y->buf.len - sent;
            long w = (long)send(y->fd, y->buf.data + sent, (int)(left > 1 << 30 ? 1 << 30 : left), MSG_NOSIGNAL);
            if (w <= 0) {
                etwl_error_set(err, ETWL_EIO, "send failed: %s",
                               w < 0 ? sock_strerror(sock_errno()) : "connection closed");
                while (*done < n && ends[*done] <= sent) (*done)++;
                /* a frame cut in half would garble the stream: the next
                 * attempt starts a new connection */
                disconnect(y);
                return ETWL_EIO;
            }
            sent += (size_t)w;
        }
        *done = n;
    }
    return ETWL_OK;
}

static void syslog_close(void *state)
{
    syslog_sink *y = state;
    disconnect(y);
    etwl_buf_free(&y->buf);
    etwl_buf_free(&y->msg);
    free(y->ends);
    free(y->host);
    free(y->port);
    free(y->path);
#ifdef _WIN32
    if (y->wsa) WSACleanup();
#endif
    free(y);
}

const etwl_sink_kind etwl_sink_syslog = {
    .name = "syslog",
    .claims = syslog_claims,
    .batch = 512,
    .open = syslog_open,
    .send = syslog_send,
    .close = syslog_close,
};
