/* Integration: the drills of issue 13.7 on a stack of their own. One serve
 * (--request-timeout 2s) takes the booking flow (reserve, then pay with an
 * Idempotency-Key, a payment retried with the same key until it answers)
 * from CLIENTS threads throughout, while in turn: redis-server is killed -9
 * and `dev up` brings it back on its port, then mariadbd, then the broker;
 * mariadbd is SIGSTOPped 5 s and SIGCONTed; serve is killed -9 and started
 * again on the same port. Asserts:
 *  - 0 acknowledged payments lost: every 2xx payment answer has its
 *    payment row (COMPLETED) and its reservation CONFIRMED at the end;
 *  - 0 invariant violations (lib/invariants.c);
 *  - 0 events lost after de-dup: each acknowledged payment's
 *    payment.completed event is on its topic, read from the beginning;
 *  - recovery <= 3 s after each backend returns (dev up / SIGCONT / serve
 *    start returned) with no operator action: a booking answers 2xx;
 *  - no request longer than the deadline + 1 s (a request that failed at the
 *    transport level while serve itself was dead excepted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"

#define DEADLINE_MS 2000
#define RECOVERY_MS 3000
#define CLIENTS 6
#define SEATS 2400 /* one schedule per concert, 1200 seats each */
#define PROBE_USER (CLIENTS + 1)
#define MAX_PAID 4096
#define SERVE_ARGS "--workers 4 --loops 1 --cache-ttl 1ms --request-timeout 2s"

static itest_env E;
static char stack_state[1100];
static _Atomic int serve_dead, stop;
static _Atomic int next_seat = 1;
static _Atomic long requests; /* the clients' requests started */

typedef struct client {
    int user;
    char *tok;
    int paid, pay_acks, errors, slow, refused;
    double max_ms;
    long long paid_res[MAX_PAID]; /* reservations whose payment answered 2xx */
} client;

static int setup(void **state)
{
    (void)state;
    /* a stack of our own: the drills kill its backends */
    const char *base = getenv("TICKETCTL_TEST_STATE");
    if (!base)
        return -1;
    snprintf(stack_state, sizeof stack_state, "%s-drills", base);
    setenv("TICKETCTL_TEST_STATE", stack_state, 1);
    if (itest_stack(&E) != 0)
        return -1;
    my_bool reconnect = 1; /* our own checks outlive the mariadbd kill */
    mysql_optionsv(E.db, MYSQL_OPT_RECONNECT, &reconnect);
    if (itest_seed(&E, "--users 20 --concerts 2 --schedules-per-concert 1 --seats-per-schedule 1200 --seed 13") != 0)
        return -1;
    return itest_server_start(&E, SERVE_ARGS);
}

static int teardown(void **state)
{
    (void)state;
    tk_dev_env d;
    char err[256];
    if (tk_dev_env_read(E.state, &d, err, sizeof err) == 0 && d.pid[TK_DEV_MYSQL] > 0)
        kill((pid_t)d.pid[TK_DEV_MYSQL], SIGCONT); /* never leave a backend stopped */
    int rc = itest_server_stop(&E);
    itest_run(&E, "dev down");
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

/* One request, timed; status 0 = transport failure. */
static long timed(client *c, const char *method, const char *path, const char *body, const char *hdr,
                  itest_resp *r)
{
    uint64_t t0 = tk_mono_us();
    atomic_fetch_add(&requests, 1);
    int dead = atomic_load(&serve_dead);
    itest_http(&E, method, path, c->tok, body, hdr, r);
    double ms = (double)(tk_mono_us() - t0) / 1000.0;
    dead |= atomic_load(&serve_dead);
    if (r->status == 0 && dead) {
        c->refused++; /* serve itself is dead: not a deadline miss */
        return 0;
    }
    if (ms > c->max_ms)
        c->max_ms = ms;
    if (ms > DEADLINE_MS + 1000) {
        c->slow++;
        fprintf(stderr, "itest: SLOW %s %s: %ld in %.0f ms\n", method, path, r->status, ms);
    }
    if (r->status >= 500 && r->status != 503) {
        c->errors++;
        fprintf(stderr, "itest: %s %s answered %ld: %s\n", method, path, r->status, r->body ? r->body : "");
    }
    return r->status;
}

/* Reserve one seat and pay it; returns 1 when the payment answered 2xx.
 * *reserved: 1 when the reservation was made, 0 when it was refused (4xx),
 * -1 when it got no answer or a 5xx (a backend is down: try the same seat
 * again, so that outages do not use up the seats before the last drill). */
static int book(client *c, int seat, int *reserved)
{
    char body[96], key[64];
    itest_resp r;
    snprintf(body, sizeof body, "{\"seat_id\":%d}", seat);
    long st = timed(c, "POST", "/api/v1/reservations", body, NULL, &r);
    long long res = st == 201 ? json_integer_value(json_object_get(r.json, "id")) : 0;
    itest_resp_free(&r);
    *reserved = res > 0 ? 1 : (st == 0 || st >= 500) ? -1 : 0;
    if (!res)
        return 0;
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
    snprintf(key, sizeof key, "Idempotency-Key: drill-%d-%lld", c->user, res);
    for (int attempt = 0; attempt < 40 && !atomic_load(&stop); attempt++) {
        st = timed(c, "POST", "/api/v1/payments", body, key, &r);
        itest_resp_free(&r);
        if (st == 200 || st == 201) {
            if (c->paid < MAX_PAID)
                c->paid_res[c->paid++] = res;
            return 1;
        }
        if (st != 0 && st != 503)
            return 0; /* a 4xx: refused, nothing charged (the hold may have expired) */
        usleep(100 * 1000);
    }
    return 0;
}

static void *client_main(void *arg)
{
    client *c = arg;
    int seat = 0;
    while (!atomic_load(&stop)) {
        if (!seat)
            seat = atomic_fetch_add(&next_seat, 1);
        if (seat > SEATS - 20) /* the last 20 seats are the prober's */
            break;
        int reserved;
        book(c, seat, &reserved);
        if (reserved >= 0)
            seat = 0; /* done with it (booked or refused); else try it again */
        /* paced (about 8 bookings/s per client) so that the seats last
         * through every drill */
        usleep(reserved > 0 ? 120 * 1000 : 50 * 1000);
    }
    return NULL;
}

/* After a backend returned: a booking answers 2xx within RECOVERY_MS?
 * The time it took, or -1. */
static long long recovery_ms(client *probe, int *probe_seat)
{
    uint64_t t0 = tk_mono_ms();
    while (tk_mono_ms() - t0 < RECOVERY_MS + 2000) {
        itest_resp r;
        char body[64];
        snprintf(body, sizeof body, "{\"seat_id\":%d}", *probe_seat);
        long st = timed(probe, "POST", "/api/v1/reservations", body, NULL, &r);
        itest_resp_free(&r);
        if (st == 201) {
            (*probe_seat)++;
            return (long long)(tk_mono_ms() - t0);
        }
        usleep(50 * 1000);
    }
    return -1;
}

static long comp_pid(int comp)
{
    tk_dev_env d;
    char err[256];
    if (tk_dev_env_read(E.state, &d, err, sizeof err) != 0)
        return -1;
    return d.pid[comp];
}

static long broker_pid(void)
{
    char path[1200], line[64] = "";
    snprintf(path, sizeof path, "%s/kafka/broker.pid", E.state);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    return atol(line);
}

/* Consume `topic` from the beginning until every event id in `expected`
 * (event_id -> 0) was seen or 40 s passed. Returns distinct ids seen. */
static int consume(const char *topic, json_t *expected)
{
    int got = itest_consume(&E, topic, expected, 40000, 0, NULL, NULL, NULL);
    assert_true(got >= 0);
    return got;
}

static void test_drills(void **state)
{
    (void)state;
    static client c[CLIENTS + 1];
    pthread_t th[CLIENTS];
    for (int i = 0; i <= CLIENTS; i++) {
        c[i].user = i + 1;
        c[i].tok = itest_login(&E, i + 1);
        assert_non_null(c[i].tok);
        itest_resp r;
        itest_http(&E, "POST", "/api/v1/points/charge", c[i].tok, "{\"amount\":90000000}", NULL, &r);
        assert_int_equal(r.status, 200);
        itest_resp_free(&r);
    }
    client *probe = &c[CLIENTS];
    int probe_seat = SEATS - 19;
    for (int i = 0; i < CLIENTS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, client_main, &c[i]), 0);
    usleep(1000 * 1000);

    static const char *const names[] = {"redis kill -9", "mariadb kill -9", "broker kill -9", "mariadb SIGSTOP 5s",
                                        "serve kill -9"};
    long long rec[5], during[5];
    for (int drill = 0; drill < 5; drill++) {
        long before = atomic_load(&requests);
        long pid = drill == 0 ? comp_pid(TK_DEV_REDIS) : drill == 2 ? broker_pid() : comp_pid(TK_DEV_MYSQL);
        if (drill == 4)
            pid = E.server_pid;
        assert_true(pid > 0);
        if (drill == 3) {
            assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
            usleep(5000 * 1000);
            assert_int_equal(kill((pid_t)pid, SIGCONT), 0);
        } else if (drill == 4) {
            atomic_store(&serve_dead, 1);
            assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
            waitpid((pid_t)pid, NULL, 0);
            E.server_pid = 0;
            usleep(500 * 1000);
            char args[256];
            snprintf(args, sizeof args, SERVE_ARGS " --port %d", E.port);
            int port = E.port;
            assert_int_equal(itest_server_start(&E, args), 0);
            assert_int_equal(E.port, port); /* the same address for the clients */
            atomic_store(&serve_dead, 0);
        } else {
            assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
            usleep(1000 * 1000); /* the load sees it down */
            assert_int_equal(itest_run(&E, "dev up"), 0);
        }
        during[drill] = atomic_load(&requests) - before;
        rec[drill] = recovery_ms(probe, &probe_seat);
        fprintf(stderr, "itest: drill %s: %lld client requests while it lasted; recovered in %lld ms\n",
                names[drill], during[drill], rec[drill]);
        usleep(1500 * 1000); /* load between drills */
    }
    long after_start = atomic_load(&requests);
    usleep(500 * 1000);
    long after = atomic_load(&requests) - after_start; /* the load still ran after the last drill */
    atomic_store(&stop, 1);
    int paid = 0, slow = 0, errors = 0, refused = 0;
    double max_ms = 0;
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i <= CLIENTS; i++) {
        paid += c[i].paid;
        slow += c[i].slow;
        errors += c[i].errors;
        refused += c[i].refused;
        max_ms = c[i].max_ms > max_ms ? c[i].max_ms : max_ms;
    }

    /* 0 acknowledged payments lost */
    int lost = 0;
    json_t *expected = json_object();
    char topic[128] = "";
    for (int i = 0; i < CLIENTS; i++)
        for (int k = 0; k < c[i].paid; k++) {
            long long res = c[i].paid_res[k];
            if (itest_sql_i64(&E, "SELECT COUNT(*) FROM payments p JOIN reservations r ON r.id = p.reservation_id"
                                  " WHERE p.reservation_id = %lld AND p.status = 'COMPLETED'"
                                  " AND r.status = 'CONFIRMED'", res) != 1) {
                fprintf(stderr, "itest: LOST acknowledged payment of reservation %lld\n", res);
                lost++;
            }
            char sql[256];
            snprintf(sql, sizeof sql,
                     "SELECT event_id, topic FROM outbox WHERE type = 'payment.completed' AND event_key = '%lld'", res);
            assert_int_equal(mysql_query(E.db, sql), 0);
            MYSQL_RES *rs = mysql_store_result(E.db);
            MYSQL_ROW row = rs ? mysql_fetch_row(rs) : NULL;
            if (row) {
                json_object_set_new(expected, row[0], json_integer(0));
                snprintf(topic, sizeof topic, "%s", row[1]);
            } else {
                fprintf(stderr, "itest: no payment.completed outbox row for reservation %lld\n", res);
                lost++;
            }
            if (rs)
                mysql_free_result(rs);
        }
    /* 0 events lost after de-dup: once the relay has published the outbox */
    for (int i = 0; i < 150 && itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") > 0; i++)
        usleep(100 * 1000);
    long long unpublished = itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL");
    int want = (int)json_object_size(expected);
    int got = want && topic[0] ? consume(topic, expected) : 0;
    const char *eid;
    json_t *v;
    json_object_foreach(expected, eid, v) if (json_integer_value(v) == 0)
    {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT id, event_key, created_at, published_at, kpartition, koffset FROM outbox"
                 " WHERE event_id = '%s'",
                 eid);
        if (mysql_query(E.db, sql) == 0) {
            MYSQL_RES *rs = mysql_store_result(E.db);
            MYSQL_ROW row = rs ? mysql_fetch_row(rs) : NULL;
            if (row)
                fprintf(stderr, "itest: MISSING event %s: outbox id %s res %s created %s published %s p%s@%s\n", eid,
                        row[0], row[1], row[2], row[3] ? row[3] : "-", row[4] ? row[4] : "-", row[5] ? row[5] : "-");
            if (rs)
                mysql_free_result(rs);
        }
    }
    fprintf(stderr, "itest: %lld outbox rows unpublished before consuming\n", unpublished);
    json_decref(expected);
    fprintf(stderr,
            "itest: drills: %d payments acknowledged, %d lost; events %d of %d on %s; slowest request %.0f ms "
            "(limit %d), %d over; %d 5xx other than 503; %d refused while serve was dead\n",
            paid, lost, got, want, topic, max_ms, DEADLINE_MS + 1000, slow, errors, refused);
    /* the load ran through every drill (so the checks below can fail) */
    assert_true(paid > 20);
    for (int drill = 0; drill < 5; drill++)
        assert_true(during[drill] > 0);
    assert_true(after > 0);
    assert_int_equal(lost, 0);
    /* This found a loss once in 4 runs and in a clean CI run (6 events,
     * each at offset 0-2 of its partition): check_losses() re-published
     * only rows at or above the broker's new end offset, but a broker that
     * lost its whole log and took new events since has our old offsets
     * below that end too. It now re-publishes every retained row of the
     * partition, as mark_published() does; consumers de-dup by event_id. */
    assert_int_equal(got, want);
    assert_true(itest_invariants_hold(&E));
    for (int drill = 0; drill < 5; drill++) {
        assert_true(rec[drill] >= 0);
        assert_true(rec[drill] <= RECOVERY_MS);
    }
    assert_int_equal(slow, 0);
    assert_int_equal(errors, 0);
    for (int i = 0; i <= CLIENTS; i++)
        free(c[i].tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_drills)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
