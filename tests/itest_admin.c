/* Integration: the admin API (issue 16) on the real stack.
 *  - role checks: no token 401, a USER 403, a forged role claim 401, the
 *    seeded ADMIN account allowed;
 *  - concerts and schedules made, changed and deleted, each with its
 *    outbox event; bad input (missing fields, a schedule in the past, a
 *    price <= 0, a duplicate seat) is a 4xx JSON error and changes nothing;
 *  - 2,000 seats in one call, one transaction, then a normal booking of one
 *    of the new seats (hold + pay);
 *  - a price change on AVAILABLE seats; on a held seat it is a 409 and
 *    nothing changes; deleting a concert with a live reservation is a 409;
 *  - a sale's waiting-room settings stored in MariaDB, and obeyed by the
 *    admission job over the serve flags (--active-users 6): a sale set to 2
 *    active users admits 2, a sale set to open later admits nobody, a sale
 *    without settings admits by the flags;
 *  - `ticketctl admin` makes the same calls;
 *  - every admin answer (success and error) matches its schema in the
 *    OpenAPI document (the contract test covers tk_routes only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../server/jschema.h"
#include "../server/server.h"
#include "itest_util.h"
#include "ticketctl/queue.h"

static itest_env E;
static char *ADMIN, *USER1, *USER2;
static json_t *DOC; /* the OpenAPI document */
static int checked;  /* answers validated against it */

#define ADMIN_EMAIL "admin@ticketctl.local"
#define ADMIN_PW "itest-admin-password"

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0 ||
        itest_seed(&E, "--users 20 --concerts 3 --schedules-per-concert 1 --seats-per-schedule 20 --seed 5 "
                       "--no-progress --admin-password " ADMIN_PW " >/dev/null") != 0 ||
        itest_server_start(&E, "--workers 4") != 0)
        return -1;
    ADMIN = itest_login_as(&E, ADMIN_EMAIL, ADMIN_PW);
    DOC = tk_openapi_document();
    USER1 = itest_login(&E, 1);
    USER2 = itest_login(&E, 2);
    return ADMIN && USER1 && USER2 && DOC ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fprintf(stderr, "itest: %d admin answers matched their OpenAPI schemas\n", checked);
    json_decref(DOC);
    free(ADMIN);
    free(USER1);
    free(USER2);
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}


/* The route pattern of an admin path: digits segments become {id}. */
static void pattern_of(const char *path, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = path; *p && o + 5 < len;) {
        if (*p >= '0' && *p <= '9' && p[-1] == '/') {
            o += (size_t)snprintf(out + o, len - o, "{id}");
            while (*p >= '0' && *p <= '9')
                p++;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

/* An admin answer must match the document's schema for its status. */
static void conform(const char *method, const char *path, const itest_resp *r)
{
    if (strncmp(path, "/api/v1/admin/", 14) != 0)
        return;
    char pattern[160], err[512];
    pattern_of(path, pattern, sizeof pattern);
    const char *ct = NULL;
    const json_t *schema = tk_jschema_response(DOC, method, pattern, r->status, &ct);
    if (!schema)
        fail_msg("%s %s -> %ld: the document declares no such answer", method, pattern, r->status);
    if (!r->json || tk_jschema_validate(DOC, schema, r->json, err, sizeof err) != 0)
        fail_msg("%s %s -> %ld: the body does not match its schema: %s\n  body: %.300s", method, pattern, r->status,
                 err, r->body);
    checked++;
}

/* One call; returns the status and keeps the answer in *r when r is given. */
static long call(const char *method, const char *path, const char *tok, const char *body, itest_resp *keep)
{
    itest_resp r;
    itest_http(&E, method, path, tok, body, NULL, &r);
    conform(method, path, &r);
    long st = r.status;
    if (st >= 400) { /* every error is the JSON error shape */
        assert_non_null(r.json);
        assert_true(json_is_string(json_object_get(json_object_get(r.json, "error"), "code")));
    }
    if (keep)
        *keep = r;
    else
        itest_resp_free(&r);
    return st;
}

static long long id_of(itest_resp *r, const char *field)
{
    long long id = json_integer_value(json_object_get(r->json, field));
    itest_resp_free(r);
    return id;
}

static long long in_future_concert(void)
{
    itest_resp r;
    assert_int_equal(call("POST", "/api/v1/admin/concerts", ADMIN,
                          "{\"title\":\"Itest Admin Gala\",\"venue\":\"Olympic Hall\","
                          "\"sale_opens_at\":\"2026-01-01T10:00:00Z\"}",
                          &r),
                     201);
    return id_of(&r, "id");
}

static long long schedule_of(long long concert)
{
    char path[96];
    snprintf(path, sizeof path, "/api/v1/admin/concerts/%lld/schedules", concert);
    itest_resp r;
    assert_int_equal(call("POST", path, ADMIN, "{\"starts_at\":\"2035-06-01T19:30:00Z\"}", &r), 201);
    return id_of(&r, "id");
}

/* A forged token: a USER's token with its role claim rewritten to ADMIN,
 * the signature kept. */
static char *forge_admin(const char *user_token)
{
    const char *d1 = strchr(user_token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    assert_non_null(d2);
    unsigned char payload[1024];
    size_t plen;
    assert_int_equal(sodium_base642bin(payload, sizeof payload - 1, d1 + 1, (size_t)(d2 - d1 - 1), NULL, &plen, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    payload[plen] = '\0';
    char *role = strstr((char *)payload, "\"USER\"");
    assert_non_null(role);
    char forged[1100];
    snprintf(forged, sizeof forged, "%.*s\"ADMIN\"%s", (int)(role - (char *)payload), payload, role + 6);
    char b64[1600];
    sodium_bin2base64(b64, sizeof b64, (unsigned char *)forged, strlen(forged),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(4096);
    snprintf(out, 4096, "%.*s.%s%s", (int)(d1 - user_token), user_token, b64, d2);
    return out;
}

static void test_roles(void **state)
{
    (void)state;
    long long before = itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts");
    const char *body = "{\"title\":\"X\",\"venue\":\"Y\",\"sale_opens_at\":\"2026-01-01T10:00:00Z\"}";
    assert_int_equal(call("POST", "/api/v1/admin/concerts", NULL, body, NULL), 401);
    assert_int_equal(call("POST", "/api/v1/admin/concerts", USER1, body, NULL), 403);
    assert_int_equal(call("POST", "/api/v1/admin/cache/purge", USER1, NULL, NULL), 403);
    char *forged = forge_admin(USER1);
    assert_int_equal(call("POST", "/api/v1/admin/concerts", forged, body, NULL), 401);
    free(forged);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts"), before); /* nothing made */
    /* the seeded account is an ADMIN and may */
    assert_int_equal(call("POST", "/api/v1/admin/cache/purge", ADMIN, NULL, NULL), 200);
    itest_resp r;
    assert_int_equal(call("GET", "/api/v1/users/me", ADMIN, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "role")), "ADMIN");
    itest_resp_free(&r);
}

static void test_concert_lifecycle_and_bad_input(void **state)
{
    (void)state;
    long long concerts = itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts");
    assert_int_equal(call("POST", "/api/v1/admin/concerts", ADMIN, "{\"venue\":\"V\",\"sale_opens_at\":\"2026-01-01T10:00:00Z\"}", NULL), 422);
    assert_int_equal(call("POST", "/api/v1/admin/concerts", ADMIN, "{\"title\":\"T\",\"venue\":\"V\",\"sale_opens_at\":\"tomorrow\"}", NULL), 422);
    assert_int_equal(call("POST", "/api/v1/admin/concerts", ADMIN, "{\"title\":\"\",\"venue\":\"V\",\"sale_opens_at\":\"2026-01-01T10:00:00Z\"}", NULL), 422);
    assert_int_equal(call("POST", "/api/v1/admin/concerts", ADMIN, "not json", NULL), 400);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts"), concerts);

    long long c = in_future_concert();
    assert_true(c > 0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE topic = 'ticketctl.catalog' AND type ="
                                       " 'concert.created' AND event_key = '%lld'", c),
                     1);
    assert_int_equal(itest_sql_i64(&E, "SELECT JSON_VALUE(payload, '$.concert_id') FROM outbox WHERE type ="
                                       " 'concert.created' AND event_key = '%lld'", c),
                     c);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/admin/concerts/%lld", c);
    itest_resp r;
    assert_int_equal(call("PATCH", path, ADMIN, "{\"title\":\"Itest Admin Gala Renamed\"}", &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "title")), "Itest Admin Gala Renamed");
    assert_string_equal(json_string_value(json_object_get(r.json, "venue")), "Olympic Hall");
    itest_resp_free(&r);
    assert_int_equal(call("PATCH", path, ADMIN, "{}", NULL), 422);
    assert_int_equal(call("PATCH", "/api/v1/admin/concerts/999999", ADMIN, "{\"title\":\"x\"}", NULL), 404);

    /* a schedule in the past changes nothing */
    long long scheds = itest_sql_i64(&E, "SELECT COUNT(*) FROM concert_schedules");
    char spath[96];
    snprintf(spath, sizeof spath, "/api/v1/admin/concerts/%lld/schedules", c);
    assert_int_equal(call("POST", spath, ADMIN, "{\"starts_at\":\"2001-01-01T19:00:00Z\"}", &r), 422);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
                        "SCHEDULE_IN_PAST");
    itest_resp_free(&r);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM concert_schedules"), scheds);
    long long s = schedule_of(c);
    assert_int_equal(itest_sql_i64(&E, "SELECT concert_id FROM concert_schedules WHERE id = %lld", s), c);

    /* deleting a concert with no live reservation removes it, its schedules and seats */
    char seats[96];
    snprintf(seats, sizeof seats, "/api/v1/admin/schedules/%lld/seats", s);
    assert_int_equal(call("POST", seats, ADMIN,
                          "{\"sections\":[\"Z\"],\"rows\":[\"1\"],\"from\":1,\"to\":5,\"grade\":\"A\",\"price\":50000}",
                          NULL),
                     201);
    assert_int_equal(call("DELETE", path, ADMIN, NULL, NULL), 200);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts WHERE id = %lld", c), 0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM concert_schedules WHERE concert_id = %lld", c), 0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM seats WHERE schedule_id = %lld", s), 0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE type = 'concert.deleted' AND event_key ="
                                       " '%lld'", c),
                     1);
    assert_int_equal(call("DELETE", path, ADMIN, NULL, NULL), 404);
}

static void test_bulk_seats_then_booking(void **state)
{
    (void)state;
    long long c = in_future_concert(), s = schedule_of(c);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/admin/schedules/%lld/seats", s);
    /* 2 blocks: 2 sections x 10 rows x 50 numbers each = 2,000 seats */
    const char *two_blocks =
        "{\"blocks\":["
        "{\"sections\":[\"A\",\"B\"],\"rows\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\"],"
        "\"from\":1,\"to\":50,\"grade\":\"VIP\",\"price\":165000},"
        "{\"sections\":[\"C\",\"D\"],\"rows\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\"],"
        "\"from\":1,\"to\":50,\"grade\":\"R\",\"price\":132000}]}";
    itest_resp r;
    assert_int_equal(call("POST", path, ADMIN, two_blocks, &r), 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "created")), 2000);
    itest_resp_free(&r);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM seats WHERE schedule_id = %lld", s), 2000);
    assert_int_equal(itest_sql_i64(&E, "SELECT total_seats FROM concert_schedules WHERE id = %lld", s), 2000);
    assert_int_equal(itest_sql_i64(&E, "SELECT available_seats FROM concert_schedules WHERE id = %lld", s), 2000);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE type = 'seats.created' AND"
                                       " JSON_VALUE(payload, '$.schedule_id') = %lld",
                                       s),
                     1);

    /* duplicates (again, or overlapping blocks), price <= 0, bad grade: 4xx and nothing changes */
    assert_int_equal(call("POST", path, ADMIN, two_blocks, NULL), 409);
    assert_int_equal(call("POST", path, ADMIN,
                          "{\"blocks\":[{\"sections\":[\"E\"],\"rows\":[\"1\"],\"from\":1,\"to\":10,\"grade\":\"S\","
                          "\"price\":1000},{\"sections\":[\"E\"],\"rows\":[\"1\"],\"from\":10,\"to\":12,"
                          "\"grade\":\"S\",\"price\":1000}]}",
                          NULL),
                     409);
    assert_int_equal(call("POST", path, ADMIN,
                          "{\"sections\":[\"E\"],\"rows\":[\"1\"],\"from\":1,\"to\":10,\"grade\":\"S\",\"price\":0}",
                          NULL),
                     422);
    assert_int_equal(call("POST", path, ADMIN,
                          "{\"sections\":[\"E\"],\"rows\":[\"1\"],\"from\":1,\"to\":10,\"grade\":\"Q\",\"price\":5}",
                          NULL),
                     422);
    assert_int_equal(call("POST", "/api/v1/admin/schedules/999999/seats", ADMIN,
                          "{\"sections\":[\"E\"],\"rows\":[\"1\"],\"from\":1,\"to\":10,\"grade\":\"S\",\"price\":5}",
                          NULL),
                     404);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM seats WHERE schedule_id = %lld", s), 2000);
    assert_int_equal(itest_sql_i64(&E, "SELECT total_seats FROM concert_schedules WHERE id = %lld", s), 2000);

    /* a normal booking of one of the new seats: it is listed, held, paid */
    long long seat = itest_sql_i64(&E, "SELECT id FROM seats WHERE schedule_id = %lld AND section = 'C' AND"
                                       " row_label = '7' AND number = 33", s);
    assert_true(seat > 0);
    char spath[96];
    snprintf(spath, sizeof spath, "/api/v1/schedules/%lld/seats", s);
    assert_int_equal(call("GET", spath, NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2000);
    itest_resp_free(&r);
    assert_int_equal(call("POST", "/api/v1/points/charge", USER1, "{\"amount\":200000}", NULL), 200);
    char body[96];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    assert_int_equal(call("POST", "/api/v1/reservations", USER1, body, &r), 201);
    long long res = id_of(&r, "id");
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
    itest_http(&E, "POST", "/api/v1/payments", USER1, body, "Idempotency-Key: itest-admin-1", &r);
    assert_int_equal(r.status, 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "amount")), 132000);
    itest_resp_free(&r);
    assert_int_equal(itest_sql_i64(&E, "SELECT status = 'SOLD' FROM seats WHERE id = %lld", seat), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT available_seats FROM concert_schedules WHERE id = %lld", s), 1999);
    /* the seat map no longer offers it (the cached view followed the hold) */
    assert_int_equal(call("GET", spath, NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1999);
    itest_resp_free(&r);

    /* price/grade changes: AVAILABLE seats only */
    long long free1 = itest_sql_i64(&E, "SELECT id FROM seats WHERE schedule_id = %lld AND section = 'A' AND"
                                        " row_label = '1' AND number = 1", s);
    snprintf(body, sizeof body, "{\"seat_ids\":[%lld],\"price\":99000,\"grade\":\"S\"}", free1);
    assert_int_equal(call("PATCH", path, ADMIN, body, NULL), 200);
    assert_int_equal(itest_sql_i64(&E, "SELECT price FROM seats WHERE id = %lld", free1), 99000);
    assert_int_equal(itest_sql_i64(&E, "SELECT grade = 'S' FROM seats WHERE id = %lld", free1), 1);
    snprintf(body, sizeof body, "{\"seat_ids\":[%lld,%lld],\"price\":1}", free1, seat);
    assert_int_equal(call("PATCH", path, ADMIN, body, NULL), 409);
    assert_int_equal(itest_sql_i64(&E, "SELECT price FROM seats WHERE id = %lld", free1), 99000);
    assert_int_equal(itest_sql_i64(&E, "SELECT price FROM seats WHERE id = %lld", seat), 132000);
    snprintf(body, sizeof body, "{\"seat_ids\":[%lld],\"price\":-5}", free1);
    assert_int_equal(call("PATCH", path, ADMIN, body, NULL), 422);

    /* a concert with a live (CONFIRMED) reservation cannot be deleted */
    char cpath[96];
    snprintf(cpath, sizeof cpath, "/api/v1/admin/concerts/%lld", c);
    assert_int_equal(call("DELETE", cpath, ADMIN, NULL, &r), 409);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
                        "LIVE_RESERVATIONS");
    itest_resp_free(&r);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM seats WHERE schedule_id = %lld", s), 2000);
}

static void test_waiting_room_settings(void **state)
{
    (void)state;
    long long c = in_future_concert(), s = schedule_of(c);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/admin/schedules/%lld/waiting-room", s);
    assert_int_equal(call("GET", path, ADMIN, NULL, NULL), 404);
    assert_int_equal(call("PUT", path, ADMIN, "{\"active_users\":0}", NULL), 422);
    assert_int_equal(call("PUT", path, ADMIN, "{\"opens_at\":\"soon\"}", NULL), 422);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM sale_settings WHERE schedule_id = %lld", s), 0);
    itest_resp r;
    assert_int_equal(call("PUT", path, ADMIN,
                          "{\"opens_at\":\"2035-05-01T11:00:00Z\",\"active_users\":1500,\"new_users_per_minute\":6636}",
                          NULL),
                     200);
    assert_int_equal(call("GET", path, ADMIN, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "opens_at")), "2035-05-01T11:00:00Z");
    assert_int_equal(json_integer_value(json_object_get(r.json, "active_users")), 1500);
    assert_int_equal(json_integer_value(json_object_get(r.json, "new_users_per_minute")), 6636);
    itest_resp_free(&r);
    assert_int_equal(itest_sql_i64(&E, "SELECT active_users FROM sale_settings WHERE schedule_id = %lld", s), 1500);
    assert_int_equal(call("PUT", "/api/v1/admin/schedules/999999/waiting-room", ADMIN, "{\"active_users\":5}", NULL),
                     404);
}

static long long zcard_adm(redisContext *r, long long sched)
{
    redisReply *x = redisCommand(r, "ZCARD tk:wr:{sale:%lld}:adm", sched);
    long long n = x && x->type == REDIS_REPLY_INTEGER ? x->integer : -1;
    if (x)
        freeReplyObject(x);
    return n;
}

static void test_waiting_room_obeyed(void **state)
{
    (void)state;
    char err[256];
    redisContext *r = tk_redis_connect(E.b.redis, err, sizeof err);
    assert_non_null(r);
    long long c = in_future_concert(), capped = schedule_of(c), later = schedule_of(c), plain = schedule_of(c),
              slow = schedule_of(c);
    tk_queue_conn qc = {r, NULL};
    long long s3[4] = {capped, later, plain, slow};
    for (int i = 0; i < 4; i++)
        tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)s3[i]);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/admin/schedules/%lld/waiting-room", capped);
    assert_int_equal(call("PUT", path, ADMIN, "{\"active_users\":2}", NULL), 200);
    snprintf(path, sizeof path, "/api/v1/admin/schedules/%lld/waiting-room", later);
    assert_int_equal(call("PUT", path, ADMIN, "{\"opens_at\":\"2035-01-01T00:00:00Z\"}", NULL), 200);
    snprintf(path, sizeof path, "/api/v1/admin/schedules/%lld/waiting-room", slow);
    assert_int_equal(call("PUT", path, ADMIN, "{\"active_users\":1,\"new_users_per_minute\":6}", NULL), 200);
    /* the same server with the waiting room: the flags say 6 active users, 600 new a minute */
    assert_int_equal(itest_server_stop(&E), 0);
    assert_int_equal(itest_server_start(&E, "--workers 4 --queue redis --new-users-per-minute 600 --active-users 6"
                                            " --queue-tick 100ms"),
                     0);
    char *last_jwt = NULL;
    for (int u = 0; u < 5; u++) {
        char *jwt = itest_login(&E, 3 + u);
        assert_non_null(jwt);
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "/api/v1/queue/%lld/token", s3[i]);
            assert_int_equal(call("POST", path, jwt, NULL, NULL), 201);
        }
        if (u < 4)
            free(jwt);
        else
            last_jwt = jwt;
    }
    /* the plain sale admits all 5 (the flags), the capped one 2, the later one none */
    for (int t = 0; t < 150 && zcard_adm(r, plain) < 5; t++)
        usleep(20000);
    assert_int_equal(zcard_adm(r, plain), 5);
    for (int t = 0; t < 5; t++) { /* and it stays so, tick after tick */
        assert_int_equal(zcard_adm(r, capped), 2);
        assert_int_equal(zcard_adm(r, later), 0);
        usleep(100000);
    }
    /* the slow sale (6 a minute, its own setting over the flags' 600): the
     * last of 5, 3 or more ahead, is told 30 s or more, not the flags' ~0 s
     * (a poll with the JWT alone: the backend's answer, status_json) */
    snprintf(path, sizeof path, "/api/v1/queue/%lld/status", slow);
    itest_resp pr;
    itest_http(&E, "GET", path, last_jwt, NULL, NULL, &pr);
    assert_int_equal(pr.status, 200);
    assert_false(json_is_true(json_object_get(pr.json, "admitted")));
    long long ahead = json_integer_value(json_object_get(pr.json, "ahead"));
    long long eta = json_integer_value(json_object_get(pr.json, "estimated_wait_s"));
    assert_true(ahead >= 3);
    if (eta < ahead * 10 - 1) /* 10 s a user at 6 a minute */
        fail_msg("slow sale: %lld ahead, estimated wait %lld s: not the sale's own 6 a minute", ahead, eta);
    itest_resp_free(&pr);
    free(last_jwt);
    assert_int_equal(itest_server_stop(&E), 0);
    assert_int_equal(itest_server_start(&E, "--workers 4"), 0);
    for (int i = 0; i < 4; i++)
        tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)s3[i]);
    redisFree(r);
}

static void test_cli(void **state)
{
    (void)state;
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", E.port);
    long long before = itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts WHERE title = 'Cli Made Concert'");
    assert_int_equal(itest_run(&E, "admin --url %s --email " ADMIN_EMAIL " --password " ADMIN_PW
                                   " concert-create 'title=Cli Made Concert' venue=Arena"
                                   " sale_opens_at=2026-03-01T10:00:00Z >/dev/null",
                               base),
                     0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts WHERE title = 'Cli Made Concert'"), before + 1);
    /* a USER cannot; a bad call or field is a usage error */
    assert_int_equal(itest_run(&E, "admin --url %s --token %s cache-purge >/dev/null", base, USER1), 1);
    assert_int_equal(itest_run(&E, "admin --url %s --token x no-such-call 2>/dev/null", base), 2);
    assert_int_equal(itest_run(&E, "admin --url %s --token x seats-create 5 from=one 2>/dev/null", base), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_concert_lifecycle_and_bad_input),
        cmocka_unit_test(test_bulk_seats_then_booking),
        cmocka_unit_test(test_waiting_room_settings),
        cmocka_unit_test(test_waiting_room_obeyed),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
