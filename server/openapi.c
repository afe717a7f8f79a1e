/* /api/v1/openapi.json, generated from the route table so it cannot drift
 * from what the server actually routes. */
#include "internal.h"
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *error_schema(void)
{
    return json_pack("{s:s, s:{s:{s:s, s:{s:{s:s}, s:{s:s}}}}}", "type", "object", "properties", "error", "type",
                     "object", "properties", "code", "type", "string", "message", "type", "string");
}

char *tk_openapi_render(size_t *len)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < tk_route_count(); i++) { /* tk_routes then tk_admin_routes (routes.h) */
        const tk_route *r = tk_route_at(i);
        json_t *item = json_object_get(paths, r->pattern);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, r->pattern, item);
        }
        json_t *op = json_pack("{s:s, s:s}", "summary", r->summary, "operationId", r->pattern);
        char opid[160];
        snprintf(opid, sizeof opid, "%s %s", r->method, r->pattern);
        json_object_set_new(op, "operationId", json_string(opid));
        json_t *params = json_array();
        if (strstr(r->pattern, "{id}"))
            json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s, s:i}}", "name", "id", "in", "path",
                                                    "required", 1, "schema", "type", "integer", "minimum", 1));
        if (!strcmp(r->pattern, "/api/v1/concerts"))
            json_array_append_new(params, json_pack("{s:s, s:s, s:{s:s}}", "name", "keyword", "in", "query",
                                                    "schema", "type", "string"));
        if (!strcmp(r->pattern, "/api/v1/concerts") || !strcmp(r->pattern, "/api/v1/points/history")) {
            json_array_append_new(params, json_pack("{s:s, s:s, s:{s:s, s:i}}", "name", "page", "in", "query",
                                                    "schema", "type", "integer", "minimum", 1));
            json_array_append_new(params, json_pack("{s:s, s:s, s:{s:s, s:i, s:i}}", "name", "size", "in",
                                                    "query", "schema", "type", "integer", "minimum", 1, "maximum",
                                                    100));
        }
        if (strstr(r->pattern, "/seats") && !(r->flags & R_HTML))
            json_array_append_new(params, json_pack("{s:s, s:s, s:{s:s, s:[ssss]}}", "name", "grade", "in",
                                                    "query", "schema", "type", "string", "enum", "VIP", "R", "S",
                                                    "A"));
        if (!strcmp(r->pattern, "/api/v1/payments"))
            json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s, s:i, s:i}}", "name",
                                                    "Idempotency-Key", "in", "header", "required", 1, "schema",
                                                    "type", "string", "minLength", 1, "maxLength", 64));
        /* the waiting room's token (queue_routes.c): required by hold and pay
         * under serve --queue, and what makes a poll stateless */
        int qtok = !strcmp(r->pattern, "/api/v1/reservations") && !strcmp(r->method, "POST");
        qtok |= !strcmp(r->pattern, "/api/v1/payments") || !strcmp(r->pattern, "/api/v1/queue/{id}/status");
        if (qtok)
            json_array_append_new(params,
                                  json_pack("{s:s, s:s, s:b, s:s, s:{s:s}}", "name", "X-Queue-Token", "in", "header",
                                            "required", 0, "description",
                                            "the signed queue token of POST /api/v1/queue/{id}/token (with serve --queue;"
                                            " on a poll it is answered from the token, no backend call)",
                                            "schema", "type", "string"));
        json_object_set_new(op, "parameters", params);
        if (r->body) {
            json_t *props = json_object(), *req = json_array();
            char fields[128];
            snprintf(fields, sizeof fields, "%s", r->body);
            for (char *save = NULL, *f = strtok_r(fields, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                int is_int = !strcmp(f, "amount") || strstr(f, "_id");
                json_object_set_new(props, f, json_pack("{s:s}", "type", is_int ? "integer" : "string"));
                json_array_append_new(req, json_string(f));
            }
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b, s:{s:{s:{s:s, s:o, s:o}}}}", "required", 1, "content",
                                          "application/json", "schema", "type", "object", "properties", props,
                                          "required", req));
        }
        char code[4] = {r->responds[0], r->responds[1], r->responds[2], 0};
        json_t *responses = json_object();
        if (r->flags & R_HTML) /* a page for people */
            json_object_set_new(responses, code,
                                json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", r->responds + 4, "content",
                                          "text/html", "schema", "type", "string"));
        else
            json_object_set_new(responses, code, json_pack("{s:s}", "description", r->responds + 4));
        json_object_set_new(responses, "4XX",
                            json_pack("{s:s, s:{s:{s:o}}}", "description", "client error", "content",
                                      "application/json", "schema", error_schema()));
        json_object_set_new(op, "responses", responses);
        if (r->flags & R_AUTH)
            json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
        char method[8];
        size_t k;
        for (k = 0; r->method[k] && k < sizeof method - 1; k++)
            method[k] = (char)(r->method[k] | 0x20);
        method[k] = '\0';
        json_object_set_new(item, method, op);
    }
    json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:{s:{s:s, s:s, s:s}}}}", "openapi", "3.0.3", "info",
                            "title", "ticketctl reservation API", "version", "1", "paths", paths, "components",
                            "securitySchemes", "bearer", "type", "http", "scheme", "bearer", "bearerFormat", "JWT");
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (s)
        *len = strlen(s);
    return s;
}
