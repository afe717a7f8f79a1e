/* /api/v1/openapi.json, generated from the route table (routes.c) and the
 * component schemas (api_schemas.c) so that it cannot drift from what the
 * server routes. OpenAPI 3.0.3 (https://spec.openapis.org/oas/v3.0.3).
 * Every operation gets a URL-safe operationId, a tag, its parameters and
 * headers, a typed success body, one response per error status whose
 * error.code is an enum of the codes that status can carry on that route,
 * and a 5XX. docs/openapi.json is this document, pretty-printed
 * (`ticketctl docgen openapi`); itest_contract fails when the two differ. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The errors any route of a kind can give, beside its own errors column.
 * From server.c (request parsing and framing: 414, 431, 417, 405 under
 * "4XX", 501 and 505 under "5XX"), reply.c (bodies) and the store's
 * back-end failures (store.c db_fail). */
#define ERR_ANY                                                                                              \
    "400 BAD_REQUEST,4XX URI_TOO_LONG,4XX HEADERS_TOO_LARGE,4XX EXPECTATION_FAILED,4XX METHOD_NOT_ALLOWED,"   \
    "5XX BUSY,5XX BACKEND_UNAVAILABLE,5XX INTERNAL,5XX NOT_IMPLEMENTED,5XX HTTP_VERSION_NOT_SUPPORTED"
#define ERR_AUTH "401 UNAUTHORIZED"
#define ERR_BODY "400 BAD_JSON,413 PAYLOAD_TOO_LARGE,422 VALIDATION"

static const struct {
    const char *name, *description;
} tags[] = {
    {"auth", "Accounts and access tokens (JWT, HS256)"},
    {"points", "The KRW point balance and its history"},
    {"concerts", "The catalogue: concerts, their schedules and seats (cached reads)"},
    {"reservations", "Seat holds (10 minutes) and their cancellation"},
    {"payments", "Paying a held reservation, idempotent by Idempotency-Key"},
    {"queue", "The waiting room in front of hold and pay (serve --queue)"},
    {"pages", "HTML pages for people"},
    {"operations", "Health, readiness, metrics and this document"},
};

/* Request headers the routes' headers column may name. */
static const struct {
    const char *name, *description;
    int min_len, max_len;
} headers[] = {
    {"Idempotency-Key", "1 to 64 characters; a retry with the same key replays the first payment (200)", 1, 64},
    {"X-Queue-Token",
     "the signed queue token of POST /api/v1/queue/{id}/token; required by hold and pay under serve --queue", 1,
     191},
    {"X-Lock-Strategy",
     "the lock strategy of this hold (serve --allow-strategy-header; `ticketctl scenario strategies`)", 1, 40},
};

static const char *reason(const char *status)
{
    static const struct {
        const char *code, *text;
    } r[] = {
        {"400", "Bad request"},       {"401", "Unauthorized"},       {"403", "Forbidden"},
        {"404", "Not found"},         {"405", "Method not allowed"}, {"409", "Conflict"},
        {"413", "Payload too large"}, {"422", "Validation failed"},  {"5XX", "Server or back end unavailable"},
        {"4XX", "Request refused before routing (URI or headers too long, Expect, method)"},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (!strcmp(r[i].code, status))
            return r[i].text;
    return "Error";
}

static json_t *ref(const char *name)
{
    char buf[160];
    snprintf(buf, sizeof buf, "#/components/schemas/%s", name);
    return json_pack("{s:s}", "$ref", buf);
}

/* Add "STATUS CODE,STATUS CODE" to errs: {status: [codes]} (no duplicates). */
static void add_errors(json_t *errs, const char *list)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    for (char *save = NULL, *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        char *sp = strchr(e, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        const char *status = e, *code = sp + 1;
        if (status[0] == '5') /* 503 LOCK_BUSY and the rest: one 5XX */
            status = "5XX";
        json_t *codes = json_object_get(errs, status);
        if (!codes) {
            codes = json_array();
            json_object_set_new(errs, status, codes);
        }
        size_t i;
        json_t *c;
        int seen = 0;
        json_array_foreach(codes, i, c) seen |= !strcmp(json_string_value(c), code);
        if (!seen)
            json_array_append_new(codes, json_string(code));
    }
}

static json_t *error_response(const char *status, json_t *codes)
{
    json_t *schema = json_pack("{s:s, s:[s], s:{s:{s:s, s:[ss], s:{s:{s:s, s:O}, s:{s:s}}}}}", "type", "object",
                               "required", "error", "properties", "error", "type", "object", "required", "code",
                               "message", "properties", "code", "type", "string", "enum", codes, "message",
                               "type", "string");
    json_t *resp = json_pack("{s:s, s:{s:{s:o}}}", "description", reason(status), "content", "application/json",
                             "schema", schema);
    json_t *hdrs = json_pack("{s:{s:s, s:{s:s}}}", "X-Request-Id", "description",
                             "the request's id (the client's X-Request-Id when it sent one)", "schema", "type",
                             "string");
    if (status[0] == '5')
        json_object_set_new(hdrs, "Retry-After",
                            json_pack("{s:s, s:{s:s, s:i}}", "description",
                                      "seconds to wait before retrying (RFC 9110 10.2.3), on a 503", "schema",
                                      "type", "integer", "minimum", 0));
    json_object_set_new(resp, "headers", hdrs);
    return resp;
}

static const char *content_type(const char *schema)
{
    if (!strcmp(schema, "Html"))
        return "text/html";
    if (!strcmp(schema, "PrometheusText"))
        return "text/plain";
    return "application/json";
}

static json_t *parameters(const tk_route *r)
{
    json_t *params = json_array();
    if (strstr(r->pattern, "{id}"))
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:i}}", "name", "id", "in", "path",
                                                "required", 1, "description",
                                                strstr(r->pattern, "queue/") ? "the schedule's id" : "the id",
                                                "schema", "type", "integer", "minimum", 1));
    if (!strcmp(r->pattern, "/api/v1/concerts"))
        json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:{s:s, s:i}}", "name", "keyword", "in", "query",
                                                "description", "part of the title", "schema", "type", "string",
                                                "maxLength", 100));
    if (!strcmp(r->pattern, "/api/v1/concerts") || !strcmp(r->pattern, "/api/v1/points/history")) {
        json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:i}}", "name", "page", "in",
                                                "query", "description", "1-based page", "schema", "type",
                                                "integer", "minimum", 1, "default", 1));
        json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:i, s:i}}", "name", "size", "in",
                                                "query", "description", "items per page", "schema", "type",
                                                "integer", "minimum", 1, "maximum", 100, "default", 20));
    }
    if (strstr(r->pattern, "/seats") && !(r->flags & R_HTML))
        json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:o}", "name", "grade", "in", "query",
                                                "description", "only seats of this grade", "schema",
                                                ref("SeatGrade")));
    char buf[256];
    snprintf(buf, sizeof buf, "%s", r->headers ? r->headers : "");
    for (char *save = NULL, *h = strtok_r(buf, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
        size_t n = strlen(h);
        int required = n && h[n - 1] == '!';
        if (required)
            h[n - 1] = '\0';
        for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
            if (!strcmp(headers[i].name, h))
                json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:i, s:i}}", "name", h,
                                                        "in", "header", "required", required, "description",
                                                        headers[i].description, "schema", "type", "string",
                                                        "minLength", headers[i].min_len, "maxLength",
                                                        headers[i].max_len));
    }
    json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:{s:s, s:i}}", "name", "X-Request-Id", "in",
                                            "header", "description",
                                            "the client's request id (1 to 64 of A-Z a-z 0-9 . _ : + = / -), echoed"
                                            " on the response and carried into logs and events; else the server"
                                            " makes one",
                                            "schema", "type", "string", "maxLength", 64));
    return params;
}

static json_t *responses(const tk_route *r)
{
    json_t *out = json_object();
    char code[4] = {r->responds[0], r->responds[1], r->responds[2], 0};
    const char *schema = r->resp_schema ? r->resp_schema : "";
    json_t *ok = json_pack("{s:s, s:{s:{s:o}}, s:{s:{s:s, s:{s:s}}}}", "description", r->responds + 4, "content",
                           content_type(schema), "schema", ref(schema), "headers", "X-Request-Id", "description",
                           "the request's id", "schema", "type", "string");
    json_object_set_new(out, code, ok);
    /* a create that can replay (payments: the same Idempotency-Key; queue: re-entry) answers 200 too */
    if (!strcmp(code, "201") && ((r->headers && strstr(r->headers, "Idempotency-Key")) || strstr(r->pattern, "/queue/")))
        json_object_set_new(out, "200", json_pack("{s:s, s:{s:{s:o}}}", "description",
                                                  "the same answer again (a replay or a re-entry)", "content",
                                                  "application/json", "schema", ref(schema)));
    json_t *errs = json_object();
    add_errors(errs, ERR_ANY);
    if (r->flags & R_AUTH)
        add_errors(errs, ERR_AUTH);
    if (r->req_schema || r->body)
        add_errors(errs, ERR_BODY);
    if (r->headers && strstr(r->headers, "Idempotency-Key"))
        add_errors(errs, "422 VALIDATION");
    if (r->headers && strstr(r->headers, "X-Lock-Strategy"))
        add_errors(errs, "400 BAD_STRATEGY");
    add_errors(errs, r->errors);
    const char *status;
    json_t *codes;
    json_object_foreach(errs, status, codes) json_object_set_new(out, status, error_response(status, codes));
    json_decref(errs);
    return out;
}

static json_t *security(const tk_route *r)
{
    if (r->flags & R_AUTH)
        return json_pack("[{s:[]}]", "bearer");
    if (r->flags & R_LOOP_FIRST) /* the queue poll: the queue token alone, or the JWT */
        return json_pack("[{s:[]}, {s:[]}]", "queueToken", "bearer");
    return json_array(); /* public */
}

static json_t *operation(const tk_route *r)
{
    json_t *op = json_pack("{s:s, s:s, s:[s], s:o, s:o, s:o}", "operationId", r->op_id ? r->op_id : "",
                           "summary", r->summary, "tags", r->tag ? r->tag : "operations", "parameters",
                           parameters(r), "responses", responses(r), "security", security(r));
    if (op && r->req_schema)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content", "application/json", "schema",
                                      ref(r->req_schema)));
    return op;
}

static json_t *components(void)
{
    json_t *schemas = json_object();
    for (size_t i = 0; i < tk_napi_schemas; i++) {
        json_error_t e;
        json_t *s = json_loads(tk_api_schemas[i].json, 0, &e);
        if (!s) { /* a typo in api_schemas.c: no document at all (the tests notice) */
            fprintf(stderr, "openapi: schema %s: %s at column %d\n", tk_api_schemas[i].name, e.text, e.column);
            json_decref(schemas);
            return NULL;
        }
        json_object_set_new(schemas, tk_api_schemas[i].name, s);
    }
    return json_pack("{s:o, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}}}", "schemas", schemas,
                     "securitySchemes", "bearer", "type", "http", "scheme", "bearer", "bearerFormat", "JWT",
                     "queueToken", "type", "apiKey", "in", "header", "name", "X-Queue-Token", "description",
                     "the signed queue token of POST /api/v1/queue/{id}/token");
}

json_t *tk_openapi_document(void)
{
    json_t *comp = components();
    if (!comp)
        return NULL;
    json_t *paths = json_object();
    for (size_t i = 0; i < tk_nroutes; i++) {
        const tk_route *r = &tk_routes[i];
        json_t *item = json_object_get(paths, r->pattern);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, r->pattern, item);
        }
        char method[8];
        size_t k;
        for (k = 0; r->method[k] && k < sizeof method - 1; k++)
            method[k] = (char)(r->method[k] | 0x20);
        method[k] = '\0';
        json_object_set_new(item, method, operation(r));
    }
    json_t *tagv = json_array();
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        json_array_append_new(tagv, json_pack("{s:s, s:s}", "name", tags[i].name, "description", tags[i].description));
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:{s:{s:s}, s:{s:s}}}], s:o, s:o, s:o}", "openapi",
                     "3.0.3", "info", "title", "ticketctl reservation API", "version", "1", "description",
                     "Concert seat reservations: hold a seat for 10 minutes, pay with KRW points, behind an"
                     " optional waiting room. docs/API.md tells the rules.",
                     "servers", "url", "http://{host}:{port}", "description", "ticketctl serve", "variables",
                     "host", "default", "127.0.0.1", "port", "default", "8080", "tags", tagv, "paths", paths,
                     "components", comp);
}

char *tk_openapi_render(size_t *len)
{
    json_t *doc = tk_openapi_document();
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (s)
        *len = strlen(s);
    return s;
}
