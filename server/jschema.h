/* A validator for the JSON Schema subset of openapi.json (jschema.c), for
 * the contract and spec tests. */
#ifndef TICKETCTL_JSCHEMA_H
#define TICKETCTL_JSCHEMA_H

#include <jansson.h>
#include <stddef.h>

/* Check value against schema; doc is the whole OpenAPI document, where
 * "#/components/schemas/NAME" $refs resolve. 0 when it conforms, -1 when it
 * does not or when the schema uses a keyword outside the subset; then err
 * (OUT, errlen bytes, may be NULL) says where: ".items[3].grade: ... is not
 * in the enum". Nothing is allocated that outlives the call. */
int tk_jschema_validate(const json_t *doc, const json_t *schema, const json_t *value, char *err /* OUT */,
                        size_t errlen);

/* 0 when schema and every schema inside it (properties, items,
 * additionalProperties) use only the subset's keywords and types and their
 * $refs resolve in doc; else -1 and err says which. */
int tk_jschema_supported(const json_t *doc, const json_t *schema, char *err /* OUT */, size_t errlen);

/* The schema a "#/components/schemas/NAME" reference names (borrowed from
 * doc), or NULL. */
const json_t *tk_jschema_ref(const json_t *doc, const char *ref);

/* The declared body schema of `method pattern` answering status: the exact
 * status, else its range ("4XX"), else "default" (borrowed from doc), and
 * its media type in *content_type; NULL when that status is not declared. */
const json_t *tk_jschema_response(const json_t *doc, const char *method, const char *pattern, long status,
                                  const char **content_type /* OUT */);

#endif
