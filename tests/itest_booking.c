/* Integration: the booking flow's guarantees on the real stack.
 *  - 500 concurrent holds on one seat over HTTP: exactly one succeeds;
 *  - 32 threads racing in the store itself (no Redis filter): exactly one;
 *  - paying twice (and 8 times at once) with one Idempotency-Key charges once;
 *  - an expired hold frees the seat for someone else;
 *  - cancel refunds exactly;
 *  - bad input gets a 4xx JSON error and changes nothing;
 *  - SIGTERM stops the server cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jwt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/store.h"

static itest_env E;

/* Users 1..600 seeded; tests take disjoint ranges of users and seats. */
#define SEED_ARGS "--users 600 --concerts 4 --schedules-per-concert 2 --seats-per-schedule 50 --seed 7"

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, SEED_ARGS) != 0)
        return -1;
    return itest_server_start(&E, "--workers 16");
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static long long balance_of(int user) { return itest_sql_i64(&E, "SELECT points FROM users WHERE id = %d", user); }

static long long history_sum(int user)
{
    return itest_sql_i64(&E, "SELECT COALESCE(SUM(amount),0) FROM point_history WHERE user_id = %d", user);
}

static void charge(const char *tok, long long amount)
{
    char body[64];
    snprintf(body, sizeof body, "{\"amount\":%lld}", amount);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/points/charge", tok, body, NULL, &r);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
}

/* Reserve; returns the reservation id or 0, with the status in *status. */
static long long reserve(itest_env *e, const char *tok, long long seat, long *status)
{
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    itest_resp r;
    itest_http(e, "POST", "/api/v1/reservations", tok, body, NULL, &r);
    *status = r.status;
    long long id = r.status == 201 ? json_integer_value(json_object_get(r.json, "id")) : 0;
    itest_resp_free(&r);
    return id;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static void test_hot_seat_500_http(void **state)
{
    (void)state;
    enum { N = 500 };
    const long long seat = 10;
    char *tokens[N];
    for (int i = 0; i < N; i++) {
        tokens[i] = itest_login(&E, i + 1);
        assert_non_null(tokens[i]);
    }
    CURLM *m = curl_multi_init();
    CURL *h[N];
    struct curl_slist *hdr[N];
    char url[128], auth[N][600];
    const char *body = "{\"seat_id\":10}";
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/reservations", E.port);
    for (int i = 0; i < N; i++) {
        h[i] = curl_easy_init();
        snprintf(auth[i], sizeof auth[i], "Authorization: Bearer %s", tokens[i]);
        hdr[i] = curl_slist_append(NULL, auth[i]);
        hdr[i] = curl_slist_append(hdr[i], "Content-Type: application/json");
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdr[i]);
        curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 60L);
        curl_multi_add_handle(m, h[i]);
    }
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int created = 0, taken = 0, other = 0;
    for (int i = 0; i < N; i++) {
        long st = 0;
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &st);
        if (st == 201)
            created++;
        else if (st == 409)
            taken++;
        else
            other++;
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        curl_slist_free_all(hdr[i]);
        free(tokens[i]);
    }
    curl_multi_cleanup(m);
    assert_int_equal(created, 1);
    assert_int_equal(taken, N - 1);
    assert_int_equal(other, 0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id = %lld AND status IN ('PENDING','CONFIRMED')", seat), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id = %lld", seat), 1);
}

/* The database alone must arbitrate: threads call the store directly,
 * with no Redis filter in front. */
typedef struct racer {
    pthread_barrier_t *go;
    const char *url;
    uint64_t user, seat;
    tk_rc rc;
} racer;

static void *race_reserve(void *arg)
{
    racer *r = arg;
    char err[256];
    tk_store *s = tk_store_open(r->url, err, sizeof err);
    pthread_barrier_wait(r->go);
    tk_reservation res;
    r->rc = s ? tk_store_reserve(s, r->user, r->seat, 600, &res) : TK_EBACKEND;
    tk_store_close(s);
    return NULL;
}

static void test_db_arbiter_32_threads(void **state)
{
    (void)state;
    enum { N = 32 };
    pthread_t t[N];
    racer r[N];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.go = &go, .url = E.b.mysql, .user = (uint64_t)(100 + i), .seat = 20};
        pthread_create(&t[i], NULL, race_reserve, &r[i]);
    }
    int ok = 0, conflict = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].rc == TK_OK;
        conflict += r[i].rc == TK_ECONFLICT;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 1);
    assert_int_equal(conflict, N - 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id = 20"), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM seats WHERE id = 20 AND status = 'HELD'"), 1);
}

static void test_pay_idempotent(void **state)
{
    (void)state;
    const int user = 501;
    char *tok = itest_login(&E, user);
    assert_non_null(tok);
    charge(tok, 500000);
    long st;
    long long res = reserve(&E, tok, 30, &st);
    assert_int_equal(st, 201);
    long long price = itest_sql_i64(&E, "SELECT price FROM seats WHERE id = 30");
    char body[64];
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
    itest_resp r1, r2;
    itest_http(&E, "POST", "/api/v1/payments", tok, body, "Idempotency-Key: pay-501-a", &r1);
    itest_http(&E, "POST", "/api/v1/payments", tok, body, "Idempotency-Key: pay-501-a", &r2);
    assert_int_equal(r1.status, 201);
    assert_int_equal(r2.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r1.json, "id")), json_integer_value(json_object_get(r2.json, "id")));
    assert_int_equal(json_integer_value(json_object_get(r2.json, "balance")), 500000 - price);
    itest_resp_free(&r1);
    itest_resp_free(&r2);
    /* a different key on a paid reservation: refused, nothing charged */
    itest_http(&E, "POST", "/api/v1/payments", tok, body, "Idempotency-Key: pay-501-b", &r1);
    assert_int_equal(r1.status, 409);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r1.json, "error"), "code")), "ALREADY_PAID");
    itest_resp_free(&r1);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM payments WHERE reservation_id = %lld", res), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM point_history WHERE user_id = %d AND type = 'PAY'", user), 1);
    assert_int_equal(balance_of(user), 500000 - price);
    assert_int_equal(balance_of(user), history_sum(user));
    assert_int_equal(itest_sql_i64(&E, "SELECT status = 'CONFIRMED' FROM reservations WHERE id = %lld", res), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT status = 'SOLD' FROM seats WHERE id = 30"), 1);
    free(tok);
}

/* Eight payments at once with one key: one charge. */
static void test_pay_idempotent_concurrent(void **state)
{
    (void)state;
    const int user = 502;
    char *tok = itest_login(&E, user);
    assert_non_null(tok);
    charge(tok, 400000);
    long st;
    long long res = reserve(&E, tok, 31, &st);
    assert_int_equal(st, 201);
    enum { N = 8 };
    char url[128], body[64], auth[600];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/payments", E.port);
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    hdr = curl_slist_append(hdr, "Idempotency-Key: same-key-502");
    CURLM *m = curl_multi_init();
    CURL *h[N];
    for (int i = 0; i < N; i++) {
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int created = 0, replayed = 0;
    for (int i = 0; i < N; i++) {
        long code = 0;
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &code);
        created += code == 201;
        replayed += code == 200;
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
    assert_int_equal(created, 1);
    assert_int_equal(replayed, N - 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM point_history WHERE user_id = %d AND type = 'PAY'", user), 1);
    assert_int_equal(balance_of(user), history_sum(user));
    free(tok);
}

static void test_cancel_refunds_exactly(void **state)
{
    (void)state;
    const int user = 503;
    char *tok = itest_login(&E, user);
    assert_non_null(tok);
    charge(tok, 300000);
    long st;
    long long res = reserve(&E, tok, 32, &st);
    assert_int_equal(st, 201);
    long long price = itest_sql_i64(&E, "SELECT price FROM seats WHERE id = 32");
    char body[64], path[64];
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/payments", tok, body, "Idempotency-Key: k-503", &r);
    assert_int_equal(r.status, 201);
    itest_resp_free(&r);
    assert_int_equal(balance_of(user), 300000 - price);
    snprintf(path, sizeof path, "/api/v1/reservations/%lld/cancel", res);
    itest_http(&E, "POST", path, tok, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "refunded")), price);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "CANCELED");
    itest_resp_free(&r);
    assert_int_equal(balance_of(user), 300000);
    assert_int_equal(history_sum(user), 300000);
    assert_int_equal(itest_sql_i64(&E, "SELECT status = 'AVAILABLE' FROM seats WHERE id = 32"), 1);
    /* canceling twice is refused and refunds nothing more */
    itest_http(&E, "POST", path, tok, NULL, NULL, &r);
    assert_int_equal(r.status, 409);
    itest_resp_free(&r);
    assert_int_equal(balance_of(user), 300000);
    /* the seat is free again for someone else */
    char *tok2 = itest_login(&E, 504);
    reserve(&E, tok2, 32, &st);
    assert_int_equal(st, 201);
    free(tok);
    free(tok2);
}

static void test_expired_hold_frees_seat(void **state)
{
    (void)state;
    itest_env fast = E; /* a second server on the same stack: 1 s holds */
    fast.server_pid = 0;
    assert_int_equal(itest_server_start(&fast, "--hold-ttl 1 --sweep-interval 100ms --workers 4"), 0);
    char *a = itest_login(&fast, 505), *b = itest_login(&fast, 506);
    assert_non_null(a);
    assert_non_null(b);
    long st;
    long long res = reserve(&fast, a, 33, &st);
    assert_int_equal(st, 201);
    reserve(&fast, b, 33, &st);
    assert_int_equal(st, 409);
    long long status_ok = 0;
    for (int i = 0; i < 50 && !status_ok; i++) {
        usleep(100000);
        status_ok = itest_sql_i64(&E, "SELECT status = 'EXPIRED' FROM reservations WHERE id = %lld", res);
    }
    assert_int_equal(status_ok, 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT status = 'AVAILABLE' FROM seats WHERE id = 33"), 1);
    reserve(&fast, b, 33, &st);
    assert_int_equal(st, 201);
    /* the first holder can no longer pay */
    char body[64];
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
    itest_resp r;
    itest_http(&fast, "POST", "/api/v1/payments", a, body, "Idempotency-Key: late", &r);
    assert_int_equal(r.status, 409);
    itest_resp_free(&r);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id = 33 AND live_seat_id IS NOT NULL"), 1);
    /* b's hold is a 1 s hold too: let this server's sweeper expire it before
     * leaving, or the main server's sweeper would do it in the middle of a
     * later test and move that test's seat count (seen under heavy load) */
    long long gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        usleep(100000);
        gone = itest_sql_i64(&E, "SELECT COUNT(*) = 0 FROM reservations WHERE seat_id = 33 AND live_seat_id IS NOT NULL");
    }
    assert_int_equal(gone, 1);
    free(a);
    free(b);
    assert_int_equal(itest_server_stop(&fast), 0);
}

/* ---- bad input ------------------------------------------------------------ */

typedef struct snapshot {
    long long points, reservations, payments, history, taken_seats, users;
} snapshot;

static snapshot snap(void)
{
    snapshot s = {
        itest_sql_i64(&E, "SELECT COALESCE(SUM(points),0) FROM users"),
        itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations"),
        itest_sql_i64(&E, "SELECT COUNT(*) FROM payments"),
        itest_sql_i64(&E, "SELECT COUNT(*) FROM point_history"),
        itest_sql_i64(&E, "SELECT COUNT(*) FROM seats WHERE status <> 'AVAILABLE'"),
        itest_sql_i64(&E, "SELECT COUNT(*) FROM users"),
    };
    return s;
}

static void expect_4xx(const char *what, const char *method, const char *path, const char *tok, const char *body,
                       const char *hdr, long want)
{
    itest_resp r;
    itest_http(&E, method, path, tok, body, hdr, &r);
    json_t *err = json_object_get(r.json, "error");
    if (r.status != want || !json_is_string(json_object_get(err, "code")) ||
        !json_is_string(json_object_get(err, "message"))) {
        fprintf(stderr, "bad-input case '%s': status %ld (want %ld), body %.200s\n", what, r.status, want, r.body);
        itest_resp_free(&r);
        fail_msg("case '%s' did not get a %ld JSON error", what, want);
    }
    itest_resp_free(&r);
}

static char *token_signed(const char *alg_none_payload, long exp_offset)
{
    /* Sign with the server's own key (state dir), expired by exp_offset. */
    char path[1200], key[200] = "";
    snprintf(path, sizeof path, "%s/jwt.secret", E.state);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(key, sizeof key, f)) {
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    key[strcspn(key, "\r\n")] = '\0';
    (void)alg_none_payload;
    jwt_t *j = NULL;
    jwt_new(&j);
    jwt_add_grant_int(j, "sub", 507);
    jwt_add_grant(j, "role", "USER");
    jwt_add_grant_int(j, "exp", (long)time(NULL) + exp_offset);
    jwt_set_alg(j, JWT_ALG_HS256, (unsigned char *)key, (int)strlen(key));
    char *t = jwt_encode_str(j);
    jwt_free(j);
    return t;
}

static void test_bad_input_4xx_and_no_change(void **state)
{
    (void)state;
    char *tok = itest_login(&E, 507), *other = itest_login(&E, 508); /* 508 has no points */
    assert_non_null(tok);
    assert_non_null(other);
    long st;
    long long others_res = reserve(&E, other, 34, &st);
    assert_int_equal(st, 201);
    snapshot before = snap();

    size_t big_n = 100 * 1024;
    char *big = malloc(big_n + 32);
    memset(big, ' ', big_n);
    memcpy(big, "{\"seat_id\":", 11);
    strcpy(big + big_n, "1}");
    char *expired = token_signed(NULL, -10);
    char *valid_unused = token_signed(NULL, 600);
    assert_non_null(expired);
    assert_non_null(valid_unused);
    char forged[2048];
    snprintf(forged, sizeof forged, "%s", valid_unused);
    forged[strlen(forged) - 3] = forged[strlen(forged) - 3] == 'A' ? 'B' : 'A';
    /* alg:none: {"alg":"none","typ":"JWT"} . {"sub":503,"exp":4102444800} . (empty) */
    const char *none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOjUwMywiZXhwIjo0MTAyNDQ0ODAwfQ.";
    char other_path[64], body[64];
    snprintf(other_path, sizeof other_path, "/api/v1/reservations/%lld/cancel", others_res);
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", others_res);

    expect_4xx("malformed json", "POST", "/api/v1/reservations", tok, "{\"seat_id\":", NULL, 400);
    expect_4xx("json array", "POST", "/api/v1/reservations", tok, "[1,2]", NULL, 400);
    expect_4xx("empty body", "POST", "/api/v1/reservations", tok, NULL, NULL, 400);
    expect_4xx("duplicate keys", "POST", "/api/v1/reservations", tok, "{\"seat_id\":1,\"seat_id\":2}", NULL, 400);
    expect_4xx("oversized body", "POST", "/api/v1/reservations", tok, big, NULL, 413);
    expect_4xx("seat_id string", "POST", "/api/v1/reservations", tok, "{\"seat_id\":\"35\"}", NULL, 422);
    expect_4xx("seat_id negative", "POST", "/api/v1/reservations", tok, "{\"seat_id\":-35}", NULL, 422);
    expect_4xx("seat_id zero", "POST", "/api/v1/reservations", tok, "{\"seat_id\":0}", NULL, 422);
    expect_4xx("seat_id float", "POST", "/api/v1/reservations", tok, "{\"seat_id\":35.5}", NULL, 422);
    expect_4xx("seat_id overflow", "POST", "/api/v1/reservations", tok, "{\"seat_id\":99999999999999999999999}", NULL, 400);
    expect_4xx("unknown seat", "POST", "/api/v1/reservations", tok, "{\"seat_id\":987654321}", NULL, 404);
    expect_4xx("charge negative", "POST", "/api/v1/points/charge", tok, "{\"amount\":-5000}", NULL, 422);
    expect_4xx("charge zero", "POST", "/api/v1/points/charge", tok, "{\"amount\":0}", NULL, 422);
    expect_4xx("charge over max", "POST", "/api/v1/points/charge", tok, "{\"amount\":100000001}", NULL, 422);
    expect_4xx("charge int64 overflow", "POST", "/api/v1/points/charge", tok, "{\"amount\":9223372036854775808}", NULL, 400);
    expect_4xx("charge string", "POST", "/api/v1/points/charge", tok, "{\"amount\":\"100\"}", NULL, 422);
    expect_4xx("charge missing", "POST", "/api/v1/points/charge", tok, "{}", NULL, 422);
    expect_4xx("no token", "POST", "/api/v1/reservations", NULL, "{\"seat_id\":35}", NULL, 401);
    expect_4xx("garbage token", "POST", "/api/v1/reservations", "not.a.jwt", "{\"seat_id\":35}", NULL, 401);
    expect_4xx("forged signature", "POST", "/api/v1/reservations", forged, "{\"seat_id\":35}", NULL, 401);
    expect_4xx("alg none", "POST", "/api/v1/reservations", none, "{\"seat_id\":35}", NULL, 401);
    expect_4xx("expired token", "POST", "/api/v1/reservations", expired, "{\"seat_id\":35}", NULL, 401);
    expect_4xx("another user's cancel", "POST", other_path, tok, NULL, NULL, 404);
    expect_4xx("another user's payment", "POST", "/api/v1/payments", tok, body, "Idempotency-Key: steal", 404);
    expect_4xx("payment without key", "POST", "/api/v1/payments", other, body, NULL, 422);
    expect_4xx("payment unknown reservation", "POST", "/api/v1/payments", tok, "{\"reservation_id\":99999999}", "Idempotency-Key: x1", 404);
    expect_4xx("payment with no points", "POST", "/api/v1/payments", other, body, "Idempotency-Key: nopoints", 409);
    expect_4xx("unknown route", "GET", "/api/v1/nothing", NULL, NULL, NULL, 404);
    expect_4xx("wrong method", "DELETE", "/api/v1/concerts", NULL, NULL, NULL, 405);
    expect_4xx("non-numeric id", "GET", "/api/v1/concerts/abc", NULL, NULL, NULL, 404);
    expect_4xx("unknown concert", "GET", "/api/v1/concerts/99999/schedules", NULL, NULL, NULL, 404);
    expect_4xx("page zero", "GET", "/api/v1/concerts?page=0", NULL, NULL, NULL, 400);
    expect_4xx("size too big", "GET", "/api/v1/concerts?size=1000", NULL, NULL, NULL, 400);
    expect_4xx("bad grade", "GET", "/api/v1/schedules/1/seats?grade=ZZZ", NULL, NULL, NULL, 422);
    expect_4xx("signup bad email", "POST", "/api/v1/auth/signup", NULL, "{\"email\":\"nope\",\"password\":\"longenough\",\"name\":\"x\"}", NULL, 422);
    expect_4xx("signup short password", "POST", "/api/v1/auth/signup", NULL, "{\"email\":\"n@x.io\",\"password\":\"short\",\"name\":\"x\"}", NULL, 422);
    expect_4xx("signup taken email", "POST", "/api/v1/auth/signup", NULL, "{\"email\":\"user1@bench.ticketctl\",\"password\":\"longenough\",\"name\":\"x\"}", NULL, 409);
    expect_4xx("login wrong password", "POST", "/api/v1/auth/login", NULL, "{\"email\":\"user1@bench.ticketctl\",\"password\":\"wrong-password\"}", NULL, 401);

    /* "payment with no points" released the other user's hold (the
     * compensating step); take that out of the comparison explicitly. */
    snapshot after = snap();
    assert_int_equal(after.points, before.points);
    assert_int_equal(after.reservations, before.reservations);
    assert_int_equal(after.payments, before.payments);
    assert_int_equal(after.history, before.history);
    assert_int_equal(after.users, before.users);
    assert_int_equal(after.taken_seats, before.taken_seats - 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT status = 'CANCELED' FROM reservations WHERE id = %lld", others_res), 1);
    free(big);
    free(expired);
    free(valid_unused);
    free(tok);
    free(other);
}

/* Cached reads must change as soon as what they show changes. */
static void test_cached_reads_follow_writes(void **state)
{
    (void)state;
    long long sched = itest_sql_i64(&E, "SELECT schedule_id FROM seats WHERE id = 40");
    long long concert = itest_sql_i64(&E, "SELECT concert_id FROM concert_schedules WHERE id = %lld", sched);
    char dates[96], seats[96];
    snprintf(dates, sizeof dates, "/api/v1/concerts/%lld/schedules", concert);
    snprintf(seats, sizeof seats, "/api/v1/schedules/%lld/seats", sched);
    itest_resp d1, s1, d2, s2;
    itest_http(&E, "GET", dates, NULL, NULL, NULL, &d1); /* fills the cache */
    itest_http(&E, "GET", seats, NULL, NULL, NULL, &s1);
    itest_resp_free(&d1);
    itest_resp_free(&s1);
    itest_http(&E, "GET", dates, NULL, NULL, NULL, &d1); /* served from the cache */
    itest_http(&E, "GET", seats, NULL, NULL, NULL, &s1);
    assert_int_equal(d1.status, 200);
    assert_int_equal(s1.status, 200);
    long long avail_before = -1;
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(d1.json, "items"), i, it)
        if (json_integer_value(json_object_get(it, "id")) == sched)
            avail_before = json_integer_value(json_object_get(it, "available_seats"));
    size_t seats_before = json_array_size(json_object_get(s1.json, "items"));
    assert_true(avail_before > 0);
    char *tok = itest_login(&E, 509);
    long st;
    reserve(&E, tok, 40, &st);
    assert_int_equal(st, 201);
    itest_http(&E, "GET", dates, NULL, NULL, NULL, &d2);
    itest_http(&E, "GET", seats, NULL, NULL, NULL, &s2);
    long long avail_after = -1;
    json_array_foreach(json_object_get(d2.json, "items"), i, it)
        if (json_integer_value(json_object_get(it, "id")) == sched)
            avail_after = json_integer_value(json_object_get(it, "available_seats"));
    assert_int_equal(avail_after, avail_before - 1);
    assert_int_equal(json_array_size(json_object_get(s2.json, "items")), seats_before - 1);
    json_array_foreach(json_object_get(s2.json, "items"), i, it)
        assert_int_not_equal(json_integer_value(json_object_get(it, "id")), 40);
    itest_resp_free(&d1);
    itest_resp_free(&s1);
    itest_resp_free(&d2);
    itest_resp_free(&s2);
    free(tok);
}

static void test_ops_endpoints(void **state)
{
    (void)state;
    itest_resp r;
    itest_http(&E, "GET", "/metrics", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "ticketctl_http_requests_total{method=\"POST\",route=\"/api/v1/reservations\"}"));
    assert_non_null(strstr(r.body, "ticketctl_http_request_duration_seconds_bucket"));
    itest_resp_free(&r);
    itest_http(&E, "GET", "/api/v1/openapi.json", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *paths = json_object_get(r.json, "paths");
    const char *want[] = {"/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/users/me", "/api/v1/points",
                          "/api/v1/points/charge", "/api/v1/points/history", "/api/v1/concerts",
                          "/api/v1/concerts/{id}", "/api/v1/concerts/{id}/schedules", "/api/v1/schedules/{id}/seats",
                          "/api/v1/reservations", "/api/v1/reservations/{id}/cancel", "/api/v1/payments"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_non_null(json_object_get(paths, want[i]));
    assert_non_null(json_object_get(json_object_get(paths, "/api/v1/reservations"), "post"));
    assert_non_null(json_object_get(json_object_get(paths, "/api/v1/reservations"), "get"));
    itest_resp_free(&r);
    /* signup issues a usable account (argon2id interactive hash) */
    itest_http(&E, "POST", "/api/v1/auth/signup", NULL,
               "{\"email\":\"fan@example.com\",\"password\":\"correct horse\",\"name\":\"Fan\"}", NULL, &r);
    assert_int_equal(r.status, 201);
    itest_resp_free(&r);
    itest_http(&E, "POST", "/api/v1/auth/login", NULL, "{\"email\":\"fan@example.com\",\"password\":\"correct horse\"}",
               NULL, &r);
    assert_int_equal(r.status, 200);
    char *tok = strdup(json_string_value(json_object_get(r.json, "token")));
    itest_resp_free(&r);
    itest_http(&E, "GET", "/api/v1/users/me", tok, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "email")), "fan@example.com");
    assert_int_equal(json_integer_value(json_object_get(r.json, "points")), 0);
    itest_resp_free(&r);
    free(tok);
}

static void test_sigterm_clean_exit(void **state)
{
    (void)state;
    itest_env second = E;
    second.server_pid = 0;
    assert_int_equal(itest_server_start(&second, "--workers 2"), 0);
    itest_resp r;
    itest_http(&second, "GET", "/api/v1/concerts", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
    assert_int_equal(itest_server_stop(&second), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hot_seat_500_http),
        cmocka_unit_test(test_db_arbiter_32_threads),
        cmocka_unit_test(test_pay_idempotent),
        cmocka_unit_test(test_pay_idempotent_concurrent),
        cmocka_unit_test(test_cancel_refunds_exactly),
        cmocka_unit_test(test_expired_hold_frees_seat),
        cmocka_unit_test(test_bad_input_4xx_and_no_change),
        cmocka_unit_test(test_cached_reads_follow_writes),
        cmocka_unit_test(test_ops_endpoints),
        cmocka_unit_test(test_sigterm_clean_exit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
