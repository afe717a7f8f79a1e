/* A JSON Schema validator for the subset openapi.json uses (OpenAPI 3.0.3's
 * Schema Object: https://spec.openapis.org/oas/v3.0.3#schema-object, itself
 * JSON Schema Wright draft 00, https://json-schema.org/draft-wright-00):
 * $ref into #/components/schemas, type, enum, required, properties,
 * additionalProperties, items, minimum/maximum, minLength/maxLength (in
 * characters), and the formats date-time (RFC 3339 5.6) and email. A
 * keyword outside the subset is an error, not ignored, so the spec cannot
 * start to say something the contract test (itest_contract) does not check.
 * Used by the tests; the server itself never validates its answers. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "jschema.h"

static int fail(char *err, size_t errlen, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *where, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "%s: ", where[0] ? where : "(root)");
        va_list ap;
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < errlen)
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* RFC 3339 5.6 date-time: 2026-12-01T11:24:06Z, .sss fraction and +hh:mm offsets too. */
static int is_date_time(const char *s)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd";
    size_t i;
    for (i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    }
    s += i;
    if (*s == '.') {
        if (!(s[1] >= '0' && s[1] <= '9'))
            return 0;
        for (s++; *s >= '0' && *s <= '9'; s++)
            ;
    }
    if ((s[0] == 'Z' || s[0] == 'z') && !s[1])
        return 1;
    return (s[0] == '+' || s[0] == '-') && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
           s[3] == ':' && s[4] >= '0' && s[4] <= '9' && s[5] >= '0' && s[5] <= '9' && !s[6];
}

static int type_is(const json_t *v, const char *type)
{
    if (!strcmp(type, "object"))
        return json_is_object(v);
    if (!strcmp(type, "array"))
        return json_is_array(v);
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "integer"))
        return json_is_integer(v);
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    return -1; /* not a type the subset knows */
}

static const char *const known[] = {"$ref",      "type",      "enum",      "required",  "properties",
                                    "additionalProperties",   "items",     "minimum",   "maximum",
                                    "minLength", "maxLength", "format",    "description", "default",
                                    "example",   "nullable",  NULL};

static int validate(const json_t *doc, const json_t *schema, const json_t *v, const char *where, int depth,
                    char *err, size_t errlen)
{
    if (depth > 32)
        return fail(err, errlen, where, "schema nests too deep (a $ref loop?)");
    if (!json_is_object(schema))
        return fail(err, errlen, where, "the schema is not an object");
    const char *key;
    json_t *kv;
    json_object_foreach((json_t *)schema, key, kv) {
        int ok = 0;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = !strcmp(known[i], key);
        if (!ok)
            return fail(err, errlen, where, "schema keyword '%s' is outside the validator's subset", key);
    }
    const json_t *r = json_object_get(schema, "$ref");
    if (r) {
        const json_t *target = tk_jschema_ref(doc, json_string_value(r));
        if (!target)
            return fail(err, errlen, where, "unresolved $ref %s", json_string_value(r) ? json_string_value(r) : "?");
        return validate(doc, target, v, where, depth + 1, err, errlen);
    }
    if (json_is_null(v) && json_is_true(json_object_get(schema, "nullable")))
        return 0;
    const json_t *t = json_object_get(schema, "type");
    if (t) {
        int is = json_is_string(t) ? type_is(v, json_string_value(t)) : -1;
        if (is < 0)
            return fail(err, errlen, where, "schema type is not one of the subset's");
        if (!is)
            return fail(err, errlen, where, "expected %s", json_string_value(t));
    }
    const json_t *en = json_object_get(schema, "enum");
    if (en) {
        size_t i;
        json_t *e;
        int found = 0;
        json_array_foreach(en, i, e) found |= json_equal(e, (json_t *)v);
        if (!found) {
            char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            fail(err, errlen, where, "%.80s is not in the enum", txt ? txt : "the value");
            free(txt);
            return -1;
        }
    }
    if (json_is_number(v)) {
        const json_t *mn = json_object_get(schema, "minimum"), *mx = json_object_get(schema, "maximum");
        double x = json_number_value(v);
        if (mn && x < json_number_value(mn))
            return fail(err, errlen, where, "%g is below the minimum %g", x, json_number_value(mn));
        if (mx && x > json_number_value(mx))
            return fail(err, errlen, where, "%g is above the maximum %g", x, json_number_value(mx));
    }
    if (json_is_string(v)) {
        size_t n = utf8_chars(json_string_value(v), json_string_length(v));
        const json_t *mn = json_object_get(schema, "minLength"), *mx = json_object_get(schema, "maxLength");
        if (mn && (json_int_t)n < json_integer_value(mn))
            return fail(err, errlen, where, "%zu characters, fewer than %lld", n, (long long)json_integer_value(mn));
        if (mx && (json_int_t)n > json_integer_value(mx))
            return fail(err, errlen, where, "%zu characters, more than %lld", n, (long long)json_integer_value(mx));
        const char *fmt = json_string_value(json_object_get(schema, "format"));
        if (fmt && !strcmp(fmt, "date-time") && !is_date_time(json_string_value(v)))
            return fail(err, errlen, where, "'%.60s' is not an RFC 3339 date-time", json_string_value(v));
        if (fmt && !strcmp(fmt, "email") && !strchr(json_string_value(v), '@'))
            return fail(err, errlen, where, "'%.60s' is not an e-mail address", json_string_value(v));
    }
    if (json_is_object(v)) {
        size_t i;
        json_t *req;
        json_array_foreach(json_object_get(schema, "required"), i, req) {
            if (!json_object_get(v, json_string_value(req)))
                return fail(err, errlen, where, "required property '%s' is missing", json_string_value(req));
        }
        const json_t *props = json_object_get(schema, "properties"), *add = json_object_get(schema, "additionalProperties");
        json_object_foreach((json_t *)v, key, kv) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", where, key);
            const json_t *ps = json_object_get(props, key);
            if (ps) {
                if (validate(doc, ps, kv, sub, depth + 1, err, errlen) != 0)
                    return -1;
            } else if (json_is_false(add)) {
                return fail(err, errlen, sub, "property not in the schema (additionalProperties: false)");
            } else if (json_is_object(add) && validate(doc, add, kv, sub, depth + 1, err, errlen) != 0) {
                return -1;
            }
        }
    }
    if (json_is_array(v) && json_object_get(schema, "items")) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%zu]", where, i);
            if (validate(doc, json_object_get(schema, "items"), e, sub, depth + 1, err, errlen) != 0)
                return -1;
        }
    }
    return 0;
}

int tk_jschema_supported(const json_t *doc, const json_t *schema, char *err, size_t errlen)
{
    const json_t *subs[3] = {json_object_get(schema, "items"), json_object_get(schema, "additionalProperties"), NULL};
    const json_t *r = json_object_get(schema, "$ref");
    if (r && !tk_jschema_ref(doc, json_string_value(r)))
        return fail(err, errlen, "", "unresolved $ref %s", json_string_value(r) ? json_string_value(r) : "?");
    /* a value no schema accepts reaches the keyword check and stops there */
    char why[256] = "";
    json_t *probe = json_object();
    validate(doc, schema, probe, "", 0, why, sizeof why);
    json_decref(probe);
    if (strstr(why, "outside the validator's subset") || strstr(why, "not one of the subset's"))
        return fail(err, errlen, "", "%s", why);
    const char *key;
    json_t *ps;
    json_object_foreach(json_object_get(schema, "properties"), key, ps) {
        if (tk_jschema_supported(doc, ps, err, errlen) != 0)
            return -1;
    }
    for (int i = 0; subs[i]; i++)
        if (json_is_object(subs[i]) && tk_jschema_supported(doc, subs[i], err, errlen) != 0)
            return -1;
    return 0;
}

const json_t *tk_jschema_ref(const json_t *doc, const char *ref)
{
    static const char prefix[] = "#/components/schemas/";
    if (!ref || strncmp(ref, prefix, sizeof prefix - 1) != 0)
        return NULL;
    const json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    return json_object_get(schemas, ref + sizeof prefix - 1);
}

int tk_jschema_validate(const json_t *doc, const json_t *schema, const json_t *value, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    return validate(doc, schema, value, "", 0, err, errlen);
}

const json_t *tk_jschema_response(const json_t *doc, const char *method, const char *pattern, long status,
                                  const char **content_type)
{
    char m[8], code[24], range[24];
    size_t k;
    for (k = 0; method[k] && k < sizeof m - 1; k++)
        m[k] = (char)(method[k] | 0x20);
    m[k] = '\0';
    snprintf(code, sizeof code, "%ld", status);
    snprintf(range, sizeof range, "%ldXX", status / 100);
    const json_t *resps = json_object_get(json_object_get(json_object_get(json_object_get(doc, "paths"), pattern), m),
                                          "responses");
    const json_t *resp = json_object_get(resps, code);
    if (!resp)
        resp = json_object_get(resps, range);
    if (!resp)
        resp = json_object_get(resps, "default");
    const char *ct;
    json_t *media;
    json_object_foreach(json_object_get(resp, "content"), ct, media) { /* one media type per response */
        if (content_type)
            *content_type = ct;
        return json_object_get(media, "schema");
    }
    return NULL;
}
