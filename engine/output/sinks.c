/* sinks.c - the built-in outputs, one line each, asked in this order which
 * one a -o SPEC names.  A new output is its sink_KIND.c and its line here;
 * sink.c names none.  Kinds a build lacks stay listed with the reason, so
 * -o says "not built into this etwlua" instead of "not an output". */
#include <string.h>

#include "output/sink.h"

extern const etwl_sink_kind etwl_sink_file;
extern const etwl_sink_kind etwl_sink_syslog;
extern const etwl_sink_kind etwl_sink_http;
extern const etwl_sink_kind etwl_sink_kafka;

#ifdef _WIN32
static int claims_http(const char *s) { return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0; }
static int claims_kafka(const char *s) { return strncmp(s, "kafka://", 8) == 0; }
const etwl_sink_kind etwl_sink_http = {
    .name = "http", .claims = claims_http, .unbuilt = "HTTP output is not built into this etwlua (it needs libcurl)"};
const etwl_sink_kind etwl_sink_kafka = {.name = "kafka",
                                        .claims = claims_kafka,
                                        .unbuilt = "Kafka output is not built into this etwlua (it needs librdkafka)"};
#endif

const etwl_sink_kind *const etwl_sink_kinds[] = {
    &etwl_sink_file,   /* file:PATH, appended, reopened on SIGUSR1 */
    &etwl_sink_syslog, /* syslog: RFC 5424 to /dev/log, UDP or TCP */
    &etwl_sink_http,   /* http(s)://: Elasticsearch _bulk or Splunk HEC */
    &etwl_sink_kafka,  /* kafka://BROKERS/TOPIC */
    NULL,
};
