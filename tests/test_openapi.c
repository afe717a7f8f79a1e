/* server/openapi.c and server/jschema.c: the document made from the route
 * table is complete (every route has an operationId, a tag, a response
 * schema, a request schema when it takes a body, typed errors and a 5XX),
 * uses only the schema subset the contract test can check, and equals
 * docs/openapi.json (regenerate: `ticketctl openapi > docs/openapi.json`);
 * and the validator accepts and rejects what JSON Schema says it should. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jschema.h"

static json_t *doc;

static int setup(void **state)
{
    (void)state;
    doc = tk_openapi_document();
    return doc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(doc);
    return 0;
}

static json_t *op_of(const tk_route *r)
{
    char m[8];
    size_t k;
    for (k = 0; r->method[k] && k < sizeof m - 1; k++)
        m[k] = (char)tolower((unsigned char)r->method[k]);
    m[k] = '\0';
    return json_object_get(json_object_get(json_object_get(doc, "paths"), r->pattern), m);
}

static void every_route_is_typed(void **state)
{
    (void)state;
    json_t *ids = json_object();
    for (size_t i = 0; i < tk_nroutes; i++) {
        const tk_route *r = &tk_routes[i];
        json_t *op = op_of(r);
        assert_non_null(op);
        /* operationId: URL-safe lowerCamelCase, unique */
        assert_non_null(r->op_id);
        assert_true(islower((unsigned char)r->op_id[0]));
        for (const char *c = r->op_id; *c; c++)
            assert_true(isalnum((unsigned char)*c));
        assert_null(json_object_get(ids, r->op_id));
        json_object_set_new(ids, r->op_id, json_true());
        assert_non_null(r->tag);
        int tagged = 0;
        size_t t;
        json_t *tag;
        json_array_foreach(json_object_get(doc, "tags"), t, tag)
            tagged |= !strcmp(json_string_value(json_object_get(tag, "name")), r->tag);
        assert_true(tagged);
        /* the success body has a component schema */
        assert_non_null(r->resp_schema);
        char refname[128];
        snprintf(refname, sizeof refname, "#/components/schemas/%s", r->resp_schema);
        assert_non_null(tk_jschema_ref(doc, refname));
        long ok = strtol(r->responds, NULL, 10);
        const char *ct = NULL;
        assert_non_null(tk_jschema_response(doc, r->method, r->pattern, ok, &ct));
        /* a body has a request schema whose required fields are the body column's */
        assert_int_equal(r->body != NULL, r->req_schema != NULL);
        if (r->req_schema) {
            snprintf(refname, sizeof refname, "#/components/schemas/%s", r->req_schema);
            const json_t *rs = tk_jschema_ref(doc, refname);
            assert_non_null(rs);
            char fields[256] = "";
            size_t f;
            json_t *name;
            json_array_foreach(json_object_get(rs, "required"), f, name) {
                if (f)
                    strcat(fields, ",");
                strcat(fields, json_string_value(name));
            }
            assert_string_equal(fields, r->body);
            assert_non_null(json_object_get(op, "requestBody"));
        }
        /* every error response names its codes as an enum; a 5XX everywhere */
        json_t *resps = json_object_get(op, "responses");
        assert_non_null(json_object_get(resps, "5XX"));
        assert_non_null(json_object_get(resps, "400"));
        if (r->flags & R_AUTH)
            assert_non_null(json_object_get(resps, "401"));
        const char *status;
        json_t *resp;
        json_object_foreach(resps, status, resp) {
            if (status[0] != '4' && status[0] != '5')
                continue;
            json_t *codes = json_object_get(
                json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
                                                                                     resp, "content"),
                                                                                 "application/json"),
                                                                 "schema"),
                                                 "properties"),
                                "error"),
                                "properties"),
                "code");
            assert_true(json_array_size(json_object_get(codes, "enum")) > 0);
        }
        /* security is said on every operation: [] on the public ones */
        json_t *sec = json_object_get(op, "security");
        assert_true(json_is_array(sec));
        if (r->flags & R_AUTH)
            assert_int_equal(json_array_size(sec), 1);
        else if (!(r->flags & R_LOOP_FIRST))
            assert_int_equal(json_array_size(sec), 0);
    }
    json_decref(ids);
    assert_true(json_array_size(json_object_get(doc, "servers")) > 0);
}

static void schemas_stay_in_the_subset(void **state)
{
    (void)state;
    assert_int_equal(json_object_size(json_object_get(json_object_get(doc, "components"), "schemas")), tk_napi_schemas);
    for (size_t i = 0; i < tk_napi_schemas; i++) {
        char ref[128], err[256];
        snprintf(ref, sizeof ref, "#/components/schemas/%s", tk_api_schemas[i].name);
        const json_t *s = tk_jschema_ref(doc, ref);
        assert_non_null(s);
        if (tk_jschema_supported(doc, s, err, sizeof err) != 0)
            fail_msg("%s: %s", tk_api_schemas[i].name, err);
    }
}

static void docs_copy_is_current(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    assert_non_null(slash);
    snprintf(slash, sizeof path - (size_t)(slash - path), "/../docs/openapi.json");
    json_error_t e;
    json_t *file = json_load_file(path, 0, &e);
    if (!file)
        fail_msg("%s: %s (regenerate: ticketctl openapi > docs/openapi.json)", path, e.text);
    if (!json_equal(file, doc))
        fail_msg("docs/openapi.json differs from the route table's document: run"
                 " `ticketctl openapi > docs/openapi.json`");
    json_decref(file);
}

static int check(const char *schema_json, const char *value_json)
{
    json_t *s = json_loads(schema_json, 0, NULL), *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
    assert_non_null(s);
    assert_non_null(v);
    char err[256];
    int rc = tk_jschema_validate(doc, s, v, err, sizeof err);
    if (rc != 0)
        assert_true(err[0] != '\0'); /* a refusal says why */
    json_decref(s);
    json_decref(v);
    return rc;
}

static void validator_accepts_and_rejects(void **state)
{
    (void)state;
    const char *obj = "{\"type\":\"object\",\"required\":[\"id\"],\"additionalProperties\":false,"
                      "\"properties\":{\"id\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":9},"
                      "\"name\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
                      "\"at\":{\"type\":\"string\",\"format\":\"date-time\"},"
                      "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]}}}}";
    assert_int_equal(check(obj, "{\"id\":1}"), 0);
    assert_int_equal(check(obj, "{\"id\":9,\"name\":\"\xea\xb0\x80\xeb\x82\x98\xeb\x8b\xa4\"}"), 0); /* 3 chars */
    assert_int_equal(check(obj, "{\"id\":2,\"at\":\"2026-12-01T11:24:13.324Z\",\"tags\":[\"a\",\"b\"]}"), 0);
    assert_int_equal(check(obj, "{\"id\":2,\"at\":\"2026-12-01T11:24:13+09:00\"}"), 0);
    assert_int_equal(check(obj, "{}"), -1);                          /* required */
    assert_int_equal(check(obj, "{\"id\":\"1\"}"), -1);              /* type */
    assert_int_equal(check(obj, "{\"id\":1.5}"), -1);                /* integer */
    assert_int_equal(check(obj, "{\"id\":0}"), -1);                  /* minimum */
    assert_int_equal(check(obj, "{\"id\":10}"), -1);                 /* maximum */
    assert_int_equal(check(obj, "{\"id\":1,\"x\":1}"), -1);          /* additionalProperties */
    assert_int_equal(check(obj, "{\"id\":1,\"name\":\"abcd\"}"), -1); /* maxLength */
    assert_int_equal(check(obj, "{\"id\":1,\"name\":\"a\"}"), -1);   /* minLength */
    assert_int_equal(check(obj, "{\"id\":1,\"at\":\"2026-12-01 11:24\"}"), -1);
    assert_int_equal(check(obj, "{\"id\":1,\"tags\":[\"c\"]}"), -1); /* enum in items */
    assert_int_equal(check(obj, "[]"), -1);
    /* $ref into the document */
    assert_int_equal(check("{\"$ref\":\"#/components/schemas/SeatGrade\"}", "\"VIP\""), 0);
    assert_int_equal(check("{\"$ref\":\"#/components/schemas/SeatGrade\"}", "\"B\""), -1);
    assert_int_equal(check("{\"$ref\":\"#/components/schemas/NoSuch\"}", "1"), -1);
    /* a keyword outside the subset is refused, not ignored */
    assert_int_equal(check("{\"oneOf\":[{\"type\":\"string\"}]}", "1"), -1);
    assert_int_equal(check("{\"type\":\"null\"}", "null"), -1);
    assert_int_equal(check("{\"type\":\"string\",\"nullable\":true}", "null"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_is_typed),
        cmocka_unit_test(schemas_stay_in_the_subset),
        cmocka_unit_test(docs_copy_is_current),
        cmocka_unit_test(validator_accepts_and_rejects),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
