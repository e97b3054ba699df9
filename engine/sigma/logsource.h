/* logsource.h - the normalisation layer shared by the Sigma engine and the
 * Lua rule library: which events carry a Sigma log source, and what its
 * fields are called there.  Free of libyaml and PCRE2, so it is built on
 * every platform (the Lua library reads it through engine/lua/lua_rules.c). */
#ifndef ETWL_SIGMA_LOGSOURCE_H
#define ETWL_SIGMA_LOGSOURCE_H

#include <stdint.h>

/* A field as an event serves it: a property name, or one of the header's
 * (EventID, Provider_Name, Channel, Computer). */
enum { SG_PROP = 0, SG_HDR_ID, SG_HDR_PROVIDER, SG_HDR_CHANNEL, SG_HDR_COMPUTER };
typedef struct sg_map {
    const char *sigma, *prop;
    uint8_t conv; /* 1: integrity SID -> name */
} sg_map;

/* One way a log source reaches etwlua: events of a provider (or of a
 * channel) with these ids, and how its fields are named there. */
typedef struct sg_source {
    const char *name;     /* shown in convert and check: "Sysmon 1", "Security 4688" */
    const char *provider; /* matched against the provider name, or NULL */
    const char *channel;  /* or against the channel name */
    uint16_t ids[8];
    int nids;                  /* 0: every id */
    const sg_map *map;         /* NULL-terminated by sigma==NULL; NULL: names as they are */
    const char *const *fields; /* the only fields it has (NULL: any) */
} sg_source;

/* The sources of a logsource; *n = 0 with a reason when none. */
int sg_logsource(const char *product, const char *category, const char *service, const sg_source **out, int max,
                 const char **reason);
/* The provider whose events stand for this channel's when a live event
 * has no channel name, or NULL (System, Application and Security: by the
 * descriptor's channel number instead). */
const char *sg_channel_writer(const char *channel);
/* The event property for a Sigma field on a source (prop name or a header
 * SG_HDR_* in *hdr); conv as in sg_map. */
const char *sg_source_field(const sg_source *src, const char *field, int *hdr, int *conv);

/* Every (product, category, service) the table serves, in table order:
 * calls each(ctx, product, category, service, src) once per source of it
 * (process_creation has several).  category or service is NULL. */
typedef void (*sg_logsource_fn)(void *ctx, const char *product, const char *category, const char *service,
                                const sg_source *src);
void sg_logsource_each(sg_logsource_fn each, void *ctx);

#endif
