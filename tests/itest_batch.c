/* Integration: batched payments (serve --db-batch, lib/storebatch.c,
 * migration 13) on the real stack.
 *  - one batch in which items fail (insufficient points, an unknown
 *    reservation, another user's): the others pay, the failed ones change
 *    nothing but what tk_pay's compensation does (the hold released);
 *  - one Idempotency-Key twice in one batch pays once (a replay), and
 *    again in a later batch (a replay); a key reused for another
 *    reservation is refused;
 *  - two batches racing to pay one reservation: exactly one pays;
 *  - holds: a batch with a seat twice and an unknown seat (the others
 *    hold, the refused ones write nothing); two batches racing for one
 *    seat: exactly one hold wins;
 *  - charges: a batch with one over the balance limit and an unknown user
 *    (the others charge, two of one user both count);
 *  - serve --db-batch 16 under concurrent payments, killed -9 while
 *    batches run: every acknowledged payment is in MariaDB, no half-written
 *    reservation, and every invariant holds;
 *  - a short bench through serve --db-batch 16 keeps every invariant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/storebatch.h"

static itest_env E;

/* users 1..400, 4 x 2 schedules x 100 seats; tests take disjoint users */
#define SEED_ARGS "--users 400 --concerts 4 --schedules-per-concert 2 --seats-per-schedule 100 --seed 11"

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    return itest_seed(&E, SEED_ARGS) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    itest_close(&E);
    return 0;
}

static tk_store *store(void)
{
    char err[256];
    tk_store *s = tk_store_open(E.b.mysql, err, sizeof err);
    if (!s)
        fprintf(stderr, "store: %s\n", err);
    assert_non_null(s);
    return s;
}

/* The n-th AVAILABLE seat of a future show (n from 0). */
static long long free_seat(int n)
{
    return itest_sql_i64(&E,
                         "SELECT s.id FROM seats s JOIN concert_schedules cs ON cs.id = s.schedule_id"
                         " WHERE s.status = 'AVAILABLE' AND cs.starts_at > UTC_TIMESTAMP() ORDER BY s.id LIMIT 1 OFFSET %d",
                         n);
}

/* Hold seat for user in the store; the reservation id. */
static long long hold(tk_store *s, long long user, long long seat)
{
    tk_reservation r;
    assert_int_equal(tk_store_reserve(s, (uint64_t)user, (uint64_t)seat, 600, &r), TK_OK);
    return (long long)r.id;
}

/* Set a user's balance with a point_history row of the difference, so the
 * balance stays the sum of the history (an invariant). */
static void set_points(long long user, long long points)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO point_history (user_id, amount, type, balance_after)"
             " SELECT id, %lld - points, 'CHARGE', %lld FROM users WHERE id = %lld",
             points, points, user);
    assert_int_equal(mysql_query(E.db, sql), 0);
    snprintf(sql, sizeof sql, "UPDATE users SET points = %lld WHERE id = %lld", points, user);
    assert_int_equal(mysql_query(E.db, sql), 0);
}

static tk_pay_item item(long long user, long long res, const char *key)
{
    tk_pay_item it;
    memset(&it, 0, sizeof it);
    it.user_id = (uint64_t)user;
    it.reservation_id = (uint64_t)res;
    snprintf(it.idem_key, sizeof it.idem_key, "%s", key);
    return it;
}

static long long price_of(long long res) { return itest_sql_i64(&E, "SELECT price FROM reservations WHERE id = %lld", res); }

static void test_batch_one_fails(void **state)
{
    (void)state;
    tk_store *s = store();
    /* users 1..6: 1,2,3,5 can pay, 4 cannot; 6 pays a reservation of 5's */
    long long res[6];
    for (int i = 0; i < 5; i++) {
        res[i] = hold(s, i + 1, free_seat(0));
        set_points(i + 1, i == 3 ? 0 : 10 * price_of(res[i]));
    }
    long long before4 = itest_sql_i64(&E, "SELECT points FROM users WHERE id = 4");
    long long outbox_before = itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox");
    tk_pay_item it[7] = {
        item(1, res[0], "b1-u1"), item(2, res[1], "b1-u2"), item(3, res[2], "b1-u3"), item(4, res[3], "b1-u4"),
        item(6, res[4], "b1-u6"), /* not 6's reservation */
        item(5, 999999999, "b1-u5x"), /* no such reservation */
        item(5, res[4], "b1-u5"),
    };
    snprintf(it[0].request_id, sizeof it[0].request_id, "rid-b1-u1");
    snprintf(it[3].request_id, sizeof it[3].request_id, "rid-b1-u4");
    assert_int_equal(tk_store_pay_batch(s, it, 7), 7);
    /* each item's events carry its own request id (migration 14), and the
     * session's @tk_rid is cleared after the batch */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE request_id = 'rid-b1-u1'"), 2);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE request_id = 'rid-b1-u4'"
                                       " AND type IN ('payment.failed', 'reservation.canceled')"), 2);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE event_key = %lld AND request_id IS NULL"
                                       " AND type = 'payment.completed'", res[1]), 1);
    assert_int_equal(mysql_query(tk_store_db(s), "SELECT @tk_rid IS NULL"), 0);
    MYSQL_RES *rr = mysql_store_result(tk_store_db(s));
    MYSQL_ROW row = rr ? mysql_fetch_row(rr) : NULL;
    assert_non_null(row);
    assert_string_equal(row[0], "1");
    mysql_free_result(rr);
    int paid[] = {0, 1, 2, 6};
    for (int k = 0; k < 4; k++) {
        tk_pay_item *p = &it[paid[k]];
        assert_int_equal(p->rc, TK_OK);
        assert_false(p->pay.replay);
        assert_int_equal(p->pay.amount, price_of((long long)p->reservation_id));
        assert_int_equal(itest_sql_i64(&E, "SELECT status = 'CONFIRMED' FROM reservations WHERE id = %llu",
                                       (unsigned long long)p->reservation_id), 1);
        assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM payments WHERE idempotency_key = '%s'", p->idem_key), 1);
        assert_int_equal(p->pay.balance, itest_sql_i64(&E, "SELECT points FROM users WHERE id = %llu",
                                                       (unsigned long long)p->user_id));
    }
    assert_int_equal(it[3].rc, TK_EFUNDS);
    assert_string_equal(it[3].code, "INSUFFICIENT_POINTS");
    assert_int_equal(it[3].res.seat_id, itest_sql_i64(&E, "SELECT seat_id FROM reservations WHERE id = %lld", res[3]));
    assert_int_equal(itest_sql_i64(&E, "SELECT status = 'CANCELED' FROM reservations WHERE id = %lld", res[3]), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT s.status = 'AVAILABLE' FROM seats s JOIN reservations r ON r.seat_id = s.id"
                                       " WHERE r.id = %lld", res[3]), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT points FROM users WHERE id = 4"), before4);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM payments WHERE user_id = 4"), 0);
    assert_int_equal(it[4].rc, TK_ENOTFOUND);
    assert_int_equal(it[5].rc, TK_ENOTFOUND);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM payments WHERE user_id = 6"), 0);
    /* 4 payments x 2 events, the failed one 2 (payment.failed, reservation.canceled) */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox") - outbox_before, 10);
    assert_true(itest_invariants_hold(&E));
    tk_store_close(s);
}

static void test_batch_idempotency(void **state)
{
    (void)state;
    tk_store *s = store();
    long long a = hold(s, 20, free_seat(0)), b = hold(s, 21, free_seat(0)), c = hold(s, 20, free_seat(0));
    set_points(20, 10 * (price_of(a) + price_of(c)));
    set_points(21, 10 * price_of(b));
    long long start20 = itest_sql_i64(&E, "SELECT points FROM users WHERE id = 20");
    tk_pay_item it[4] = {item(20, a, "idem-A"), item(21, b, "idem-B"), item(20, a, "idem-A"), item(20, c, "idem-A")};
    assert_int_equal(tk_store_pay_batch(s, it, 4), 4);
    assert_int_equal(it[0].rc, TK_OK);
    assert_false(it[0].pay.replay);
    assert_int_equal(it[1].rc, TK_OK);
    assert_int_equal(it[2].rc, TK_OK); /* the same key, same reservation, same batch: a replay */
    assert_true(it[2].pay.replay);
    assert_int_equal(it[2].pay.id, it[0].pay.id);
    assert_int_equal(it[3].rc, TK_ECONFLICT); /* the same key for another reservation */
    assert_string_equal(it[3].code, "IDEMPOTENCY_KEY_REUSED");
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM payments WHERE user_id = 20"), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT points FROM users WHERE id = 20"), start20 - price_of(a));
    assert_int_equal(itest_sql_i64(&E, "SELECT status = 'PENDING' FROM reservations WHERE id = %lld", c), 1);
    /* across batches: a replay again, nothing charged */
    tk_pay_item again[2] = {item(21, b, "idem-B"), item(20, a, "idem-A")};
    assert_int_equal(tk_store_pay_batch(s, again, 2), 2);
    assert_int_equal(again[0].rc, TK_OK);
    assert_true(again[0].pay.replay);
    assert_int_equal(again[0].pay.id, it[1].pay.id);
    assert_true(again[1].pay.replay);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM payments WHERE user_id IN (20, 21)"), 2);
    assert_int_equal(itest_sql_i64(&E, "SELECT points FROM users WHERE id = 20"), start20 - price_of(a));
    assert_true(itest_invariants_hold(&E));
    tk_store_close(s);
}

/* ---- two batches racing -------------------------------------------------- */

/* One of two batches started together: pays pay[0..n-1] (or holds
 * hold[0..n-1] when holds is set) on its own connection. */
typedef struct racer {
    tk_pay_item pay[4];
    tk_hold_item hold[4];
    int n, holds;
    pthread_barrier_t *go;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    char err[256];
    tk_store *s = tk_store_open(E.b.mysql, err, sizeof err);
    pthread_barrier_wait(r->go);
    if (s && r->holds)
        tk_store_hold_batch(s, r->hold, r->n);
    else if (s)
        tk_store_pay_batch(s, r->pay, r->n);
    for (int i = 0; !s && i < r->n; i++)
        r->pay[i].rc = r->hold[i].rc = TK_EBACKEND;
    tk_store_close(s);
    return NULL;
}

/* Run batches a and b at once. */
static void race_two(racer *a, racer *b)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    a->go = b->go = &go;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race, a);
    pthread_create(&tb, NULL, race, b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&go);
}

static void test_batches_race_one_reservation(void **state)
{
    (void)state;
    tk_store *s = store();
    for (int round = 0; round < 5; round++) {
        long long user = 40 + round;
        long long contested = hold(s, user, free_seat(0));
        long long own[2] = {hold(s, 60 + 2 * round, free_seat(0)), hold(s, 61 + 2 * round, free_seat(0))};
        set_points(user, 10 * price_of(contested));
        set_points(60 + 2 * round, 10 * price_of(own[0]));
        set_points(61 + 2 * round, 10 * price_of(own[1]));
        racer a = {.n = 2}, b = {.n = 2};
        char k1[32], k2[32];
        snprintf(k1, sizeof k1, "race-%d-a", round);
        snprintf(k2, sizeof k2, "race-%d-b", round);
        /* the contested item first in one batch and last in the other */
        a.pay[0] = item(user, contested, k1);
        a.pay[1] = item(60 + 2 * round, own[0], "own-a");
        b.pay[0] = item(61 + 2 * round, own[1], "own-b");
        b.pay[1] = item(user, contested, k2);
        race_two(&a, &b);
        int wins = (a.pay[0].rc == TK_OK) + (b.pay[1].rc == TK_OK);
        assert_int_equal(wins, 1);
        tk_pay_item *loser = a.pay[0].rc == TK_OK ? &b.pay[1] : &a.pay[0];
        assert_int_equal(loser->rc, TK_ECONFLICT);
        assert_string_equal(loser->code, "ALREADY_PAID");
        assert_int_equal(a.pay[1].rc, TK_OK);
        assert_int_equal(b.pay[0].rc, TK_OK);
        assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM payments WHERE reservation_id = %lld", contested), 1);
        assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM point_history WHERE ref_id = %lld AND type = 'PAY'",
                                       contested), 1);
    }
    assert_true(itest_invariants_hold(&E));
    tk_store_close(s);
}

/* ---- holds ---------------------------------------------------------------- */

static tk_hold_item hitem(long long user, long long seat)
{
    tk_hold_item it;
    memset(&it, 0, sizeof it);
    it.user_id = (uint64_t)user;
    it.seat_id = (uint64_t)seat;
    it.ttl_s = 600;
    return it;
}

static void test_hold_batch_one_fails(void **state)
{
    (void)state;
    tk_store *s = store();
    long long s1 = free_seat(0), s2 = free_seat(1), s3 = free_seat(2);
    long long sched = itest_sql_i64(&E, "SELECT schedule_id FROM seats WHERE id = %lld", s1);
    long long avail = itest_sql_i64(&E, "SELECT available_seats FROM concert_schedules WHERE id = %lld", sched);
    long long live_before = itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE live_seat_id IS NOT NULL");
    /* s2 twice in one batch (the second is SEAT_TAKEN), an unknown seat */
    tk_hold_item it[5] = {hitem(80, s1), hitem(81, s2), hitem(82, s2), hitem(83, 999999999), hitem(84, s3)};
    assert_int_equal(tk_store_hold_batch(s, it, 5), 5);
    assert_int_equal(it[0].rc, TK_OK);
    assert_int_equal(it[1].rc, TK_OK);
    assert_int_equal(it[2].rc, TK_ECONFLICT);
    assert_string_equal(it[2].code, "SEAT_TAKEN");
    assert_int_equal(it[3].rc, TK_ENOTFOUND);
    assert_int_equal(it[4].rc, TK_OK);
    static const int held[] = {0, 1, 4};
    for (size_t k = 0; k < 3; k++) {
        int i = held[k];
        assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE id = %llu AND user_id = %llu"
                                           " AND seat_id = %llu AND status = 'PENDING'",
                                       (unsigned long long)it[i].res.id, (unsigned long long)it[i].user_id,
                                       (unsigned long long)it[i].seat_id), 1);
        assert_true(it[i].res.expires_at_ms > it[i].res.created_at_ms);
    }
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE user_id IN (82, 83)"), 0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE live_seat_id IS NOT NULL") - live_before, 3);
    long long same_sched = (itest_sql_i64(&E, "SELECT schedule_id FROM seats WHERE id = %lld", s2) == sched) +
                           (itest_sql_i64(&E, "SELECT schedule_id FROM seats WHERE id = %lld", s3) == sched);
    assert_int_equal(itest_sql_i64(&E, "SELECT available_seats FROM concert_schedules WHERE id = %lld", sched),
                     avail - 1 - same_sched);
    assert_true(itest_invariants_hold(&E));
    tk_store_close(s);
}

static void test_hold_batches_race_one_seat(void **state)
{
    (void)state;
    for (int round = 0; round < 8; round++) {
        long long contested = free_seat(0), own_a = free_seat(1), own_b = free_seat(2);
        racer a = {.n = 2, .holds = 1}, b = {.n = 2, .holds = 1};
        /* the contested seat first in one batch, last in the other */
        a.hold[0] = hitem(90, contested);
        a.hold[1] = hitem(90, own_a);
        b.hold[0] = hitem(91, own_b);
        b.hold[1] = hitem(91, contested);
        race_two(&a, &b);
        assert_int_equal((a.hold[0].rc == TK_OK) + (b.hold[1].rc == TK_OK), 1);
        tk_hold_item *loser = a.hold[0].rc == TK_OK ? &b.hold[1] : &a.hold[0];
        assert_int_equal(loser->rc, TK_ECONFLICT);
        assert_string_equal(loser->code, "SEAT_TAKEN");
        assert_int_equal(a.hold[1].rc, TK_OK);
        assert_int_equal(b.hold[0].rc, TK_OK);
        assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id = %lld", contested), 1);
        assert_int_equal(itest_sql_i64(&E, "SELECT status = 'HELD' FROM seats WHERE id = %lld", contested), 1);
    }
    assert_true(itest_invariants_hold(&E));
}

/* ---- charges -------------------------------------------------------------- */

static void test_charge_batch_one_fails(void **state)
{
    (void)state;
    tk_store *s = store();
    set_points(100, 1000);
    set_points(101, TK_BALANCE_MAX - 10); /* a charge of 11 is over the limit */
    tk_charge_item it[5];
    memset(it, 0, sizeof it);
    long long users[5] = {100, 101, 100, 999999, 101}, amounts[5] = {5, 11, 7, 3, 10};
    for (int i = 0; i < 5; i++) {
        it[i].user_id = (uint64_t)users[i];
        it[i].amount = amounts[i];
    }
    long long hist101 = itest_sql_i64(&E, "SELECT COUNT(*) FROM point_history WHERE user_id = 101");
    assert_int_equal(tk_store_charge_batch(s, it, 5), 5);
    assert_int_equal(it[0].rc, TK_OK);
    assert_int_equal(it[0].balance, 1005);
    assert_int_equal(it[2].rc, TK_OK); /* the same user twice in one batch: both count, in order */
    assert_int_equal(it[2].balance, 1012);
    assert_int_equal(it[1].rc, TK_EINVAL); /* over the balance limit: nothing written */
    assert_int_equal(it[3].rc, TK_ENOTFOUND);
    assert_int_equal(it[4].rc, TK_OK); /* after a refused item of the same user */
    assert_int_equal(it[4].balance, TK_BALANCE_MAX);
    assert_int_equal(itest_sql_i64(&E, "SELECT points FROM users WHERE id = 100"), 1012);
    assert_int_equal(itest_sql_i64(&E, "SELECT points FROM users WHERE id = 101"), TK_BALANCE_MAX);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM point_history WHERE user_id = 101") - hist101, 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT balance_after FROM point_history WHERE id = %llu",
                                   (unsigned long long)it[2].history_id), 1012);
    assert_true(itest_invariants_hold(&E));
    tk_store_close(s);
}

/* ---- serve --db-batch 16, killed -9 while batches run ------------------- */

#define CRASH_THREADS 16
#define CRASH_HOLDS 12

typedef struct payer {
    int user;
    char *token;
    long long res[CRASH_HOLDS];
    int nres;
    long long acked_res[CRASH_HOLDS], acked_pay[CRASH_HOLDS];
    int nacked;
    volatile int *acked_total;
    pthread_mutex_t *mu;
} payer;

static long long crash_seats[CRASH_THREADS * CRASH_HOLDS];

static void *hold_all(void *arg)
{
    payer *p = arg;
    int t = p->user - 200;
    for (int i = 0; i < CRASH_HOLDS; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"seat_id\":%lld}", crash_seats[t * CRASH_HOLDS + i]);
        itest_resp r;
        itest_http(&E, "POST", "/api/v1/reservations", p->token, body, NULL, &r);
        if (r.status == 201)
            p->res[p->nres++] = json_integer_value(json_object_get(r.json, "id"));
        itest_resp_free(&r);
    }
    return NULL;
}

static void *pay_all(void *arg)
{
    payer *p = arg;
    for (int i = 0; i < p->nres; i++) {
        char body[64], key[80];
        snprintf(body, sizeof body, "{\"reservation_id\":%lld}", p->res[i]);
        snprintf(key, sizeof key, "Idempotency-Key: crash-%d-%lld", p->user, p->res[i]);
        itest_resp r;
        itest_http(&E, "POST", "/api/v1/payments", p->token, body, key, &r);
        long status = r.status;
        long long id = status == 201 ? json_integer_value(json_object_get(r.json, "id")) : 0;
        itest_resp_free(&r);
        if (status == 0)
            break; /* the server is gone */
        if (status == 201) {
            p->acked_res[p->nacked] = p->res[i];
            p->acked_pay[p->nacked++] = id;
            pthread_mutex_lock(p->mu);
            (*p->acked_total)++;
            pthread_mutex_unlock(p->mu);
        }
    }
    return NULL;
}

static long long metric(const char *series) { return itest_metric(&E, series); }

static void test_serve_batch_kill9(void **state)
{
    (void)state;
    /* one worker: concurrent payments queue behind it and go in batches */
    assert_int_equal(itest_server_start(&E, "--workers 1 --db-batch 16"), 0);
    long long maxprice = itest_sql_i64(&E, "SELECT MAX(price) FROM seats");
    for (int t = 0; t < CRASH_THREADS; t++)
        set_points(200 + t, (long long)(CRASH_HOLDS + 1) * maxprice);
    static payer p[CRASH_THREADS];
    for (int i = 0; i < CRASH_THREADS * CRASH_HOLDS; i++)
        crash_seats[i] = free_seat(i);
    for (int i = 0; i < CRASH_THREADS * CRASH_HOLDS; i++)
        assert_true(crash_seats[i] > 0);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    volatile int acked = 0;
    for (int t = 0; t < CRASH_THREADS; t++) {
        p[t] = (payer){.user = 200 + t, .acked_total = &acked, .mu = &mu};
        p[t].token = itest_login(&E, p[t].user);
        assert_non_null(p[t].token);
    }
    /* the holds concurrently too (batches of holds), on disjoint seats */
    long long holds_before = metric("ticketctl_db_batches_total");
    pthread_t th[CRASH_THREADS];
    for (int t = 0; t < CRASH_THREADS; t++)
        pthread_create(&th[t], NULL, hold_all, &p[t]);
    for (int t = 0; t < CRASH_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(p[t].nres, CRASH_HOLDS);
    }
    assert_true(metric("ticketctl_db_batches_total") > holds_before);
    long long batches_before = metric("ticketctl_db_batches_total");
    for (int t = 0; t < CRASH_THREADS; t++)
        pthread_create(&th[t], NULL, pay_all, &p[t]);
    /* kill -9 once a third of the payments were acknowledged (at most 10 s) */
    long long batches = -1;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&mu);
        int n = acked;
        pthread_mutex_unlock(&mu);
        if (n >= CRASH_THREADS * CRASH_HOLDS / 3)
            break;
        usleep(10000);
    }
    batches = metric("ticketctl_db_batches_total");
    assert_int_equal(kill(E.server_pid, SIGKILL), 0);
    waitpid(E.server_pid, NULL, 0);
    E.server_pid = 0;
    for (int t = 0; t < CRASH_THREADS; t++)
        pthread_join(th[t], NULL);
    fprintf(stderr, "itest_batch: %d payments acknowledged before kill -9, %lld batches\n", acked,
            batches - batches_before);
    assert_true(batches > batches_before); /* batching really ran */
    assert_true(acked > 0);
    assert_true(acked < CRASH_THREADS * CRASH_HOLDS); /* killed while payments ran */
    for (int t = 0; t < CRASH_THREADS; t++) {
        for (int i = 0; i < p[t].nacked; i++) {
            assert_int_equal(itest_sql_i64(&E,
                                           "SELECT COUNT(*) FROM payments p JOIN reservations r ON r.id = p.reservation_id"
                                           " WHERE p.id = %lld AND r.id = %lld AND p.status = 'COMPLETED'"
                                           " AND r.status = 'CONFIRMED'",
                                           p[t].acked_pay[i], p[t].acked_res[i]),
                             1);
        }
        free(p[t].token);
    }
    /* no half-written payment among all of them, acknowledged or not */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations r LEFT JOIN payments p ON p.reservation_id = r.id"
                                       " WHERE r.user_id BETWEEN 200 AND 299 AND (r.status = 'CONFIRMED') <> (p.id IS NOT NULL)"),
                     0);
    assert_true(itest_invariants_hold(&E));
}

/* A short bench through serve --db-batch 16: every invariant holds (bench
 * exits 0 only then), no errors, batches ran, no seat sold twice. */
static void test_bench_db_batch_invariants(void **state)
{
    (void)state;
    assert_int_equal(itest_seed(&E, "--users 300 --concerts 20 --schedules-per-concert 2 --seats-per-schedule 60 --seed 12"), 0);
    assert_int_equal(itest_server_start(&E, "--workers 2 --db-batch 16 --request-timeout 10s"), 0);
    long long before = metric("ticketctl_db_batches_total");
    char out[1200];
    snprintf(out, sizeof out, "%s/itest-batch-bench.json", E.state);
    remove(out);
    int rc = itest_run(&E, "bench --users 200 --ramp 1s --duration 6s --think-time 5 --threads 2 "
                           "--target http://127.0.0.1:%d --out '%s'", E.port, out);
    long long batches = metric("ticketctl_db_batches_total") - before;
    assert_int_equal(itest_server_stop(&E), 0); /* the SIGTERM drain, clean */
    assert_int_equal(rc, 0); /* 0: run done and every invariant held */
    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    assert_non_null(res);
    json_t *sum = json_object_get(res, "summary");
    fprintf(stderr, "itest_batch: bench --db-batch 16: %lld flows, %lld errors, %lld batches\n",
            (long long)json_integer_value(json_object_get(sum, "flows_completed")),
            (long long)json_integer_value(json_object_get(sum, "errors")), batches);
    assert_true(json_integer_value(json_object_get(sum, "flows_completed")) > 50);
    assert_int_equal(json_integer_value(json_object_get(sum, "errors")), 0);
    json_decref(res);
    assert_true(batches > 0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM (SELECT seat_id FROM reservations WHERE status IN "
                                       "('PENDING','CONFIRMED') GROUP BY seat_id HAVING COUNT(*) > 1) x"), 0);
    assert_true(itest_invariants_hold(&E));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_one_fails),
        cmocka_unit_test(test_batch_idempotency),
        cmocka_unit_test(test_batches_race_one_reservation),
        cmocka_unit_test(test_hold_batch_one_fails),
        cmocka_unit_test(test_hold_batches_race_one_seat),
        cmocka_unit_test(test_charge_batch_one_fails),
        cmocka_unit_test(test_serve_batch_kill9),
        cmocka_unit_test(test_bench_db_batch_invariants),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
