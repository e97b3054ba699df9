/* yaml.c - Sigma files through libyaml's document API.
 *
 * A rule file may hold several documents (a correlation rule and the rules
 * it names); each is loaded whole.  Errors name the file and the line. */
#include <stdio.h>
#include <string.h>

#include "sigma/sigma_int.h"

etwl_status sg_yaml_load(sg_yaml *y, const char *text, size_t n, const char *name, etwl_error *err)
{
    yaml_parser_t p;
    memset(y, 0, sizeof *y);
    if (!yaml_parser_initialize(&p)) return etwl_error_set(err, ETWL_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
    for (;;) {
        yaml_document_t *d;
        if (y->ndocs == (int)(sizeof y->docs / sizeof y->docs[0])) {
            yaml_parser_delete(&p);
            sg_yaml_free(y);
            return etwl_error_set(err, ETWL_ELIMIT, "%s: more than %d YAML documents", name, y->ndocs);
        }
        d = &y->docs[y->ndocs];
        if (!yaml_parser_load(&p, d)) {
            char from[64] = "";
            /* where the construct that failed began, when libyaml says */
            if (p.context && p.context_mark.line != p.problem_mark.line)
                snprintf(from, sizeof from, " started on line %lu", (unsigned long)p.context_mark.line + 1);
            etwl_error_set(err, ETWL_EPARSE, "%s:%lu: invalid YAML: %s%s%s%s", name,
                           (unsigned long)p.problem_mark.line + 1, p.problem ? p.problem : "error",
                           p.context ? " " : "", p.context ? p.context : "", from);
            yaml_parser_delete(&p);
            sg_yaml_free(y);
            return ETWL_EPARSE;
        }
        if (!yaml_document_get_root_node(d)) {
            yaml_document_delete(d);
            break;
        }
        y->ndocs++;
    }
    yaml_parser_delete(&p);
    return ETWL_OK;
}

void sg_yaml_free(sg_yaml *y)
{
    for (int i = 0; i < y->ndocs; i++) yaml_document_delete(&y->docs[i]);
    y->ndocs = 0;
}

yaml_node_t *sg_yaml_root(sg_yaml *y, int doc) { return yaml_document_get_root_node(&y->docs[doc]); }

yaml_node_t *sg_yaml_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *pr;
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(d, pr->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, pr->value);
    }
    return NULL;
}

const char *sg_yaml_str(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* null, ~ or nothing, unquoted */
int sg_yaml_is_null(yaml_node_t *n)
{
    const char *s;
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    s = (const char *)n->data.scalar.value;
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}
