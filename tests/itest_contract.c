/* Integration: the live server's answers against its own OpenAPI document
 * (server/openapi.c), on the real stack. Every route of the table is called
 * for success and for its main errors; each answer's status must be
 * declared for that operation, its Content-Type must be the declared media
 * type, and its body must conform to the declared schema (server/jschema.c:
 * additionalProperties false on success bodies, error.code in the
 * operation's enum for that status). The test fails when a route has no
 * response schema or was never answered with a 2xx here, so a new route
 * needs a schema and a call below. Runs `serve` twice: without and with the
 * waiting room (--queue redis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "itest_util.h"
#include "jschema.h"

static itest_env E;
static json_t *doc;
static int *answered_2xx; /* per route index */

#define SEED_ARGS "--users 20 --concerts 2 --schedules-per-concert 2 --seats-per-schedule 20 --seed 17"

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0 || itest_seed(&E, SEED_ARGS) != 0)
        return -1;
    doc = tk_openapi_document();
    answered_2xx = calloc(tk_nroutes, sizeof *answered_2xx);
    return doc && answered_2xx ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (E.server_pid > 0)
        itest_server_stop(&E);
    itest_close(&E);
    json_decref(doc);
    free(answered_2xx);
    return 0;
}

static int route_index(const char *method, const char *pattern)
{
    for (size_t i = 0; i < tk_nroutes; i++)
        if (!strcmp(tk_routes[i].method, method) && !strcmp(tk_routes[i].pattern, pattern))
            return (int)i;
    return -1;
}

/* Call `method path` (an instance of pattern), expect want_status (and
 * want_code on an error), and check the answer against the document.
 * Leaves the response in *out (caller frees) when out is not NULL. */
static void call(const char *method, const char *pattern, const char *path, const char *token, const char *body,
                 const char *const *headers, long want_status, const char *want_code, itest_resp *out)
{
    int ri = route_index(method, pattern);
    if (ri < 0)
        fail_msg("%s %s is not in the route table", method, pattern);
    itest_resp r;
    assert_int_equal(itest_http_h(&E, method, path, token, body, headers, &r), 0);
    if (r.status != want_status)
        fail_msg("%s %s: status %ld, expected %ld: %.300s", method, path, r.status, want_status, r.body);
    const char *media = NULL;
    const json_t *schema = tk_jschema_response(doc, method, pattern, r.status, &media);
    if (!schema)
        fail_msg("%s %s: status %ld is not declared in openapi.json", method, pattern, r.status);
    if (strncmp(r.content_type, media, strlen(media)) != 0)
        fail_msg("%s %s: Content-Type '%s', declared %s", method, path, r.content_type, media);
    char err[512];
    json_t *value = !strcmp(media, "application/json") ? json_incref(r.json) : json_string(r.body);
    if (!value)
        fail_msg("%s %s: the body is not JSON: %.200s", method, path, r.body);
    if (tk_jschema_validate(doc, schema, value, err, sizeof err) != 0)
        fail_msg("%s %s -> %ld: the body does not match its schema: %s\n  body: %.400s", method, path, r.status,
                 err, r.body);
    json_decref(value);
    if (want_code) {
        const char *code = json_string_value(json_object_get(json_object_get(r.json, "error"), "code"));
        if (!code || strcmp(code, want_code) != 0)
            fail_msg("%s %s: error code %s, expected %s", method, path, code ? code : "(none)", want_code);
    }
    if (r.status >= 200 && r.status < 300)
        answered_2xx[ri] = 1;
    if (out)
        *out = r;
    else
        itest_resp_free(&r);
}

static int64_t int_at(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return (int64_t)json_integer_value(v);
}

static void catalogue_accounts_points(const char *tok, int64_t *schedule_id, int64_t seats[3])
{
    char body[256], path[128], email[96];
    snprintf(email, sizeof email, "contract-%ld-%d@example.com", (long)time(NULL), (int)getpid());
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"password-1\",\"name\":\"Contract\"}", email);
    call("POST", "/api/v1/auth/signup", "/api/v1/auth/signup", NULL, body, NULL, 201, NULL, NULL);
    call("POST", "/api/v1/auth/signup", "/api/v1/auth/signup", NULL, body, NULL, 409, "EMAIL_TAKEN", NULL);
    call("POST", "/api/v1/auth/signup", "/api/v1/auth/signup", NULL, "{\"email\":", NULL, 400, "BAD_JSON", NULL);
    call("POST", "/api/v1/auth/signup", "/api/v1/auth/signup", NULL,
         "{\"email\":\"a@b.co\",\"password\":\"short\",\"name\":\"x\"}", NULL, 422, "VALIDATION", NULL);
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"password-1\"}", email);
    call("POST", "/api/v1/auth/login", "/api/v1/auth/login", NULL, body, NULL, 200, NULL, NULL);
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"wrong-password\"}", email);
    call("POST", "/api/v1/auth/login", "/api/v1/auth/login", NULL, body, NULL, 401, "UNAUTHORIZED", NULL);

    call("GET", "/api/v1/users/me", "/api/v1/users/me", tok, NULL, NULL, 200, NULL, NULL);
    call("GET", "/api/v1/users/me", "/api/v1/users/me", NULL, NULL, NULL, 401, "UNAUTHORIZED", NULL);
    call("GET", "/api/v1/users/me", "/api/v1/users/me", "not.a.jwt", NULL, NULL, 401, "UNAUTHORIZED", NULL);
    call("GET", "/api/v1/points", "/api/v1/points", tok, NULL, NULL, 200, NULL, NULL);
    call("POST", "/api/v1/points/charge", "/api/v1/points/charge", tok, "{\"amount\":1000000}", NULL, 200, NULL,
         NULL);
    call("POST", "/api/v1/points/charge", "/api/v1/points/charge", tok, "{\"amount\":0}", NULL, 422, "VALIDATION",
         NULL);
    call("POST", "/api/v1/points/charge", "/api/v1/points/charge", tok, "[1]", NULL, 400, "BAD_JSON", NULL);
    call("GET", "/api/v1/points/history", "/api/v1/points/history?size=5", tok, NULL, NULL, 200, NULL, NULL);
    call("GET", "/api/v1/points/history", "/api/v1/points/history?size=0", tok, NULL, NULL, 400, "BAD_REQUEST",
         NULL);

    itest_resp r;
    call("GET", "/api/v1/concerts", "/api/v1/concerts?size=2", NULL, NULL, NULL, 200, NULL, &r);
    int64_t concert = int_at(json_array_get(json_object_get(r.json, "items"), 0), "id");
    itest_resp_free(&r);
    char kw[160] = "/api/v1/concerts?keyword=";
    memset(kw + strlen(kw), 'k', 101);
    call("GET", "/api/v1/concerts", kw, NULL, NULL, NULL, 422, "VALIDATION", NULL);
    snprintf(path, sizeof path, "/api/v1/concerts/%lld", (long long)concert);
    call("GET", "/api/v1/concerts/{id}", path, NULL, NULL, NULL, 200, NULL, NULL);
    call("GET", "/api/v1/concerts/{id}", "/api/v1/concerts/99999999", NULL, NULL, NULL, 404, "NOT_FOUND", NULL);
    snprintf(path, sizeof path, "/api/v1/concerts/%lld/schedules", (long long)concert);
    call("GET", "/api/v1/concerts/{id}/schedules", path, NULL, NULL, NULL, 200, NULL, &r);
    *schedule_id = int_at(json_array_get(json_object_get(r.json, "items"), 0), "id");
    itest_resp_free(&r);
    call("GET", "/api/v1/concerts/{id}/schedules", "/api/v1/concerts/99999999/schedules", NULL, NULL, NULL, 404,
         "NOT_FOUND", NULL);
    snprintf(path, sizeof path, "/api/v1/schedules/%lld/seats", (long long)*schedule_id);
    call("GET", "/api/v1/schedules/{id}/seats", path, NULL, NULL, NULL, 200, NULL, &r);
    json_t *items = json_object_get(r.json, "items");
    assert_true(json_array_size(items) >= 3);
    for (int i = 0; i < 3; i++)
        seats[i] = int_at(json_array_get(items, (size_t)i), "id");
    itest_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/schedules/%lld/seats?grade=VIP", (long long)*schedule_id);
    call("GET", "/api/v1/schedules/{id}/seats", path, NULL, NULL, NULL, 200, NULL, NULL);
    snprintf(path, sizeof path, "/api/v1/schedules/%lld/seats?grade=B", (long long)*schedule_id);
    call("GET", "/api/v1/schedules/{id}/seats", path, NULL, NULL, NULL, 422, "VALIDATION", NULL);
    call("GET", "/api/v1/schedules/{id}/seats", "/api/v1/schedules/99999999/seats", NULL, NULL, NULL, 404,
         "NOT_FOUND", NULL);
}

static void bookings(const char *tok, const char *tok2, const int64_t seats[3])
{
    char body[128], path[128];
    itest_resp r;
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", (long long)seats[0]);
    call("POST", "/api/v1/reservations", "/api/v1/reservations", tok, body, NULL, 201, NULL, &r);
    int64_t res = int_at(r.json, "id");
    itest_resp_free(&r);
    call("POST", "/api/v1/reservations", "/api/v1/reservations", tok2, body, NULL, 409, "SEAT_TAKEN", NULL);
    call("POST", "/api/v1/reservations", "/api/v1/reservations", tok, "{\"seat_id\":99999999}", NULL, 404,
         "NOT_FOUND", NULL);
    call("POST", "/api/v1/reservations", "/api/v1/reservations", tok, "{\"seat_id\":\"one\"}", NULL, 422,
         "VALIDATION", NULL);
    const char *bad_strategy[] = {"X-Lock-Strategy: no-such-strategy", NULL};
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", (long long)seats[1]);
    call("POST", "/api/v1/reservations", "/api/v1/reservations", tok, body, bad_strategy, 400, "BAD_STRATEGY",
         NULL);
    call("GET", "/api/v1/reservations", "/api/v1/reservations", tok, NULL, NULL, 200, NULL, NULL);

    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", (long long)res);
    call("POST", "/api/v1/payments", "/api/v1/payments", tok, body, NULL, 422, "VALIDATION", NULL); /* no key */
    char key[96];
    snprintf(key, sizeof key, "Idempotency-Key: contract-%ld-%d", (long)time(NULL), (int)getpid());
    const char *idem[] = {key, NULL};
    call("POST", "/api/v1/payments", "/api/v1/payments", tok, body, idem, 201, NULL, NULL);
    call("POST", "/api/v1/payments", "/api/v1/payments", tok, body, idem, 200, NULL, NULL); /* replay */
    const char *idem2[] = {"Idempotency-Key: contract-other", NULL};
    call("POST", "/api/v1/payments", "/api/v1/payments", tok, "{\"reservation_id\":99999999}", idem2, 404,
         "NOT_FOUND", NULL);

    /* a hold, cancelled; a second cancel is refused */
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", (long long)seats[2]);
    call("POST", "/api/v1/reservations", "/api/v1/reservations", tok, body, NULL, 201, NULL, &r);
    snprintf(path, sizeof path, "/api/v1/reservations/%lld/cancel", (long long)int_at(r.json, "id"));
    itest_resp_free(&r);
    call("POST", "/api/v1/reservations/{id}/cancel", path, tok, NULL, NULL, 200, NULL, NULL);
    call("POST", "/api/v1/reservations/{id}/cancel", path, tok, NULL, NULL, 409, "INVALID_STATE", NULL);
    call("POST", "/api/v1/reservations/{id}/cancel", "/api/v1/reservations/99999999/cancel", tok, NULL, NULL, 404,
         "NOT_FOUND", NULL);
}

static void operations_and_pages(int64_t schedule_id)
{
    char path[128];
    call("GET", "/healthz", "/healthz", NULL, NULL, NULL, 200, NULL, NULL);
    call("GET", "/readyz", "/readyz", NULL, NULL, NULL, 200, NULL, NULL);
    call("GET", "/metrics", "/metrics", NULL, NULL, NULL, 200, NULL, NULL);
    itest_resp r;
    call("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", NULL, NULL, NULL, 200, NULL, &r);
    assert_true(json_equal(r.json, doc)); /* what is served is what the table makes */
    itest_resp_free(&r);
    snprintf(path, sizeof path, "/queue/%lld", (long long)schedule_id);
    call("GET", "/queue/{id}", path, NULL, NULL, NULL, 200, NULL, NULL);
    snprintf(path, sizeof path, "/queue/%lld/seats", (long long)schedule_id);
    call("GET", "/queue/{id}/seats", path, NULL, NULL, NULL, 200, NULL, NULL);
}

static void every_route_answers_as_declared(void **state)
{
    (void)state;
    /* the table first: a route without a schema fails here, before any call */
    for (size_t i = 0; i < tk_nroutes; i++) {
        const char *media = NULL;
        if (!tk_routes[i].resp_schema ||
            !tk_jschema_response(doc, tk_routes[i].method, tk_routes[i].pattern, strtol(tk_routes[i].responds, NULL, 10),
                                 &media))
            fail_msg("%s %s has no response schema (routes.c resp_schema, api_schemas.c)", tk_routes[i].method,
                     tk_routes[i].pattern);
    }

    assert_int_equal(itest_server_start(&E, "--workers 4 --allow-strategy-header"), 0);
    char *tok = itest_login(&E, 1), *tok2 = itest_login(&E, 2);
    assert_non_null(tok);
    assert_non_null(tok2);
    int64_t schedule_id, seats[3];
    catalogue_accounts_points(tok, &schedule_id, seats);
    bookings(tok, tok2, seats);
    operations_and_pages(schedule_id);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/queue/%lld/token", (long long)schedule_id);
    call("POST", "/api/v1/queue/{id}/token", path, tok, NULL, NULL, 404, "QUEUE_DISABLED", NULL);
    call("DELETE", "/api/v1/queue/{id}/token", path, tok, NULL, NULL, 404, "QUEUE_DISABLED", NULL);
    assert_int_equal(itest_server_stop(&E), 0);

    /* the waiting room */
    assert_int_equal(itest_server_start(&E, "--workers 4 --queue redis"), 0);
    char *tok3 = itest_login(&E, 3);
    assert_non_null(tok3);
    itest_resp r;
    call("POST", "/api/v1/queue/{id}/token", path, tok3, NULL, NULL, 201, NULL, &r);
    char qtok[256];
    snprintf(qtok, sizeof qtok, "X-Queue-Token: %s", json_string_value(json_object_get(r.json, "token")));
    itest_resp_free(&r);
    call("POST", "/api/v1/queue/{id}/token", path, tok3, NULL, NULL, 200, NULL, NULL); /* re-entry */
    const char *qh[] = {qtok, NULL}, *forged[] = {"X-Queue-Token: q2.1.2.3.4.5.forged", NULL};
    char status_path[128];
    snprintf(status_path, sizeof status_path, "/api/v1/queue/%lld/status", (long long)schedule_id);
    call("GET", "/api/v1/queue/{id}/status", status_path, NULL, NULL, qh, 200, NULL, NULL);
    call("GET", "/api/v1/queue/{id}/status", status_path, tok3, NULL, NULL, 200, NULL, NULL);
    call("GET", "/api/v1/queue/{id}/status", status_path, NULL, NULL, NULL, 401, "UNAUTHORIZED", NULL);
    call("GET", "/api/v1/queue/{id}/status", status_path, NULL, NULL, forged, 401, "INVALID_QUEUE_TOKEN", NULL);
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", (long long)seats[1]);
    call("POST", "/api/v1/reservations", "/api/v1/reservations", tok3, body, NULL, 403, "QUEUE_TOKEN_REQUIRED",
         NULL);
    call("DELETE", "/api/v1/queue/{id}/token", path, tok3, NULL, NULL, 200, NULL, NULL);
    call("DELETE", "/api/v1/queue/{id}/token", path, tok3, NULL, NULL, 404, "NOT_IN_QUEUE", NULL);
    assert_int_equal(itest_server_stop(&E), 0);
    free(tok);
    free(tok2);
    free(tok3);

    /* and every route was answered with a success at least once */
    int missing = 0;
    for (size_t i = 0; i < tk_nroutes; i++)
        if (!answered_2xx[i]) {
            fprintf(stderr, "itest_contract: %s %s was never called with success\n", tk_routes[i].method,
                    tk_routes[i].pattern);
            missing++;
        }
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_answers_as_declared),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
