/* Integration: the waiting room (lib/queue.c, server/queue_routes.c) on the
 * real Redis and MariaDB of the test stack.
 *  - 10,000 users enqueue concurrently (16 threads, one Redis connection
 *    each): arrival numbers and positions are a permutation of 1..10,000;
 *    re-entry keeps the place; admission order equals arrival order; a
 *    tick number admits once; a fenced-off (stale) admitter is refused;
 *  - the cap and the TTL of admissions hold, revoke frees a slot;
 *  - pre-queue: early arrivals are shuffled at opening and stay in front;
 *  - the MySQL-table backend: the same semantics at 1,000 users;
 *  - over HTTP with `serve --queue redis`: hold and pay without a token,
 *    with a forged, expired, another user's or another schedule's token, or
 *    not yet admitted answer 401/403 JSON and change nothing; admitted, they
 *    work, and payment revokes the admission. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/db.h"
#include "ticketctl/hold.h"
#include "ticketctl/lease.h"
#include "ticketctl/queue.h"

static itest_env E;
static uint64_t sale_base; /* queue-only sale ids, unique per run (no schedule row needed below the HTTP test) */

#define SEED_ARGS "--users 50 --concerts 2 --schedules-per-concert 2 --seats-per-schedule 20 --seed 11"

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0 || sodium_init() < 0)
        return -1;
    sale_base = 1000000000ULL + (uint64_t)(time(NULL) % 100000) * 100 + (uint64_t)(getpid() % 100);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (E.server_pid > 0) /* a test failed with its server up */
        itest_server_stop(&E);
    itest_close(&E);
    return 0;
}

static redisContext *redis_conn(void)
{
    char err[256];
    redisContext *c = tk_redis_connect(E.b.redis, err, sizeof err);
    assert_non_null(c);
    return c;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- concurrent enqueue ---------------------------------------------------- */

#define N_USERS 10000
#define N_THREADS 16

typedef struct enq_arg {
    tk_queue_kind kind;
    const tk_queue_config *cfg;
    uint64_t sale;
    int from, to; /* users from..to-1 (1-based ids) */
    int64_t *seq, *pos; /* indexed by user id */
    int failures;
} enq_arg;

static void *enq_thread(void *p)
{
    enq_arg *a = p;
    char err[256];
    tk_queue_conn c = {NULL, NULL};
    if (a->kind == TK_QUEUE_REDIS)
        c.redis = tk_redis_connect(E.b.redis, err, sizeof err);
    else
        c.db = tk_db_connect(E.b.mysql, err, sizeof err);
    if (!c.redis && !c.db) {
        a->failures = a->to - a->from;
        return NULL;
    }
    const tk_queue_ops *ops = tk_queue_backend(a->kind);
    for (int u = a->from; u < a->to; u++) {
        tk_queue_status s;
        if (ops->enqueue(&c, a->cfg, a->sale, (uint64_t)u, tk_wall_ms(), &s, err, sizeof err) != TK_OK ||
            !s.created) {
            a->failures++;
            continue;
        }
        a->seq[u] = s.seq;
        a->pos[u] = s.position;
    }
    if (c.redis)
        redisFree(c.redis);
    if (c.db)
        mysql_close(c.db);
    return NULL;
}

/* Enqueue users 1..n of `sale` from N_THREADS threads; fills seq[]/pos[]. */
static void enqueue_all(tk_queue_kind kind, const tk_queue_config *cfg, uint64_t sale, int n, int64_t *seq,
                        int64_t *pos)
{
    pthread_t th[N_THREADS];
    enq_arg args[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        args[t] = (enq_arg){kind, cfg, sale, 1 + n * t / N_THREADS, 1 + n * (t + 1) / N_THREADS, seq, pos, 0};
        assert_int_equal(pthread_create(&th[t], NULL, enq_thread, &args[t]), 0);
    }
    int failures = 0;
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        failures += args[t].failures;
    }
    assert_int_equal(failures, 0);
}

/* v[1..n] is a permutation of 1..n. */
static void assert_permutation(const int64_t *v, int n)
{
    char *seen = calloc((size_t)n + 1, 1);
    assert_non_null(seen);
    for (int i = 1; i <= n; i++) {
        assert_true(v[i] >= 1 && v[i] <= n);
        assert_int_equal(seen[v[i]], 0);
        seen[v[i]] = 1;
    }
    free(seen);
}

/* Positions now (poll), a permutation of 1..n; and re-entry of every 97th user keeps it. */
static void check_positions_and_reentry(tk_queue_kind kind, tk_queue_conn *c, const tk_queue_config *cfg,
                                        uint64_t sale, int n, const int64_t *seq)
{
    const tk_queue_ops *ops = tk_queue_backend(kind);
    int64_t *polled = calloc((size_t)n + 1, sizeof *polled);
    assert_non_null(polled);
    char err[256];
    for (int u = 1; u <= n; u++) {
        tk_queue_status s;
        assert_int_equal(ops->poll(c, cfg, sale, (uint64_t)u, tk_wall_ms(), &s, err, sizeof err), TK_OK);
        assert_true(s.found);
        assert_false(s.admitted);
        assert_int_equal(s.ahead, s.position - 1);
        polled[u] = s.position;
    }
    assert_permutation(polled, n);
    for (int u = 1; u <= n; u += 97) {
        tk_queue_status s;
        assert_int_equal(ops->enqueue(c, cfg, sale, (uint64_t)u, tk_wall_ms(), &s, err, sizeof err), TK_OK);
        assert_int_equal(s.created, 0);
        assert_int_equal(s.position, polled[u]);
        if (kind == TK_QUEUE_REDIS)
            assert_int_equal(s.seq, seq[u]);
    }
    free(polled);
}

/* Admit everyone in ticks of `quota`; the admission order must be arrival order. */
static void check_fifo_admission(tk_queue_kind kind, tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale,
                                 int n, const int64_t *seq, int64_t quota)
{
    const tk_queue_ops *ops = tk_queue_backend(kind);
    char err[256];
    int64_t total = 0, k = 1;
    while (total < n) {
        int got = ops->admit_tick(c, cfg, sale, NULL, 0, k, quota, tk_wall_ms(), err, sizeof err);
        assert_true(got > 0);
        assert_true(got <= quota);
        /* the same tick again admits nobody */
        assert_int_equal(ops->admit_tick(c, cfg, sale, NULL, 0, k, quota, tk_wall_ms(), err, sizeof err), -3);
        total += got;
        k++;
    }
    assert_int_equal(total, n);
    uint64_t *order = malloc(sizeof *order * (size_t)n);
    assert_non_null(order);
    assert_int_equal(tk_queue_admission_order(kind, c, sale, order, n), n);
    /* arrival numbers along the admission order strictly increase */
    int64_t *arr = malloc(sizeof *arr * (size_t)n), *adm = malloc(sizeof *adm * (size_t)n);
    for (int i = 0; i < n; i++) {
        assert_true(order[i] >= 1 && order[i] <= (uint64_t)n);
        if (i > 0)
            assert_true(seq[order[i]] > seq[order[i - 1]]);
        arr[i] = seq[order[i]];
        adm[i] = i;
    }
    assert_true(tk_queue_kendall_distance(arr, adm, (size_t)n) == 0.0);
    /* everyone is admitted, with an admission number = rank */
    tk_queue_status s;
    assert_int_equal(ops->poll(c, cfg, sale, order[n / 2], tk_wall_ms(), &s, err, sizeof err), TK_OK);
    assert_true(s.admitted);
    assert_int_equal(s.admission_no, n / 2 + 1);
    assert_int_equal(ops->is_admitted(c, sale, order[0], tk_wall_ms(), err, sizeof err), TK_OK);
    free(order);
    free(arr);
    free(adm);
}

static void test_redis_10k_concurrent(void **state)
{
    (void)state;
    tk_queue_config cfg;
    tk_queue_config_default(&cfg);
    cfg.kind = TK_QUEUE_REDIS;
    cfg.admitted_cap = N_USERS;
    uint64_t sale = sale_base + 1;
    redisContext *r = redis_conn();
    tk_queue_conn c = {r, NULL};
    assert_int_equal(tk_queue_reset(TK_QUEUE_REDIS, &c, sale), 0);

    int64_t *seq = calloc(N_USERS + 1, sizeof *seq), *pos = calloc(N_USERS + 1, sizeof *pos);
    assert_non_null(seq);
    assert_non_null(pos);
    enqueue_all(TK_QUEUE_REDIS, &cfg, sale, N_USERS, seq, pos);
    assert_permutation(seq, N_USERS);
    assert_permutation(pos, N_USERS); /* nobody left or was admitted meanwhile: position = arrival */
    check_positions_and_reentry(TK_QUEUE_REDIS, &c, &cfg, sale, N_USERS, seq);

    /* a stale admitter (fenced off by a newer lease holder) admits nobody */
    char name[64];
    snprintf(name, sizeof name, "itest-wr-%llu", (unsigned long long)sale);
    tk_lease old, cur;
    tk_lease_init(&old, name, 100);
    tk_lease_init(&cur, name, 5000);
    assert_int_equal(tk_lease_acquire(&old, r), 1);
    uint64_t stale = old.fence;
    sleep_ms(250);
    assert_int_equal(tk_lease_acquire(&cur, r), 1);
    char err[256];
    assert_int_equal(tk_queue_backend(TK_QUEUE_REDIS)
                         ->admit_tick(&c, &cfg, sale, old.fence_key, stale, 0, 100, tk_wall_ms(), err, sizeof err),
                     -2);
    tk_queue_status s;
    assert_int_equal(tk_queue_backend(TK_QUEUE_REDIS)->poll(&c, &cfg, sale, 1, tk_wall_ms(), &s, err, sizeof err),
                     TK_OK);
    assert_false(s.admitted);
    /* the current holder may */
    assert_int_equal(tk_queue_backend(TK_QUEUE_REDIS)
                         ->admit_tick(&c, &cfg, sale, cur.fence_key, cur.fence, 0, 0, tk_wall_ms(), err, sizeof err),
                     0);
    tk_lease_release(&cur, r);

    check_fifo_admission(TK_QUEUE_REDIS, &c, &cfg, sale, N_USERS, seq, 777);
    tk_queue_reset(TK_QUEUE_REDIS, &c, sale);
    free(seq);
    free(pos);
    redisFree(r);
}

static void test_redis_cap_ttl_revoke(void **state)
{
    (void)state;
    tk_queue_config cfg;
    tk_queue_config_default(&cfg);
    cfg.kind = TK_QUEUE_REDIS;
    cfg.admitted_cap = 5;
    cfg.admitted_ttl_ms = 400;
    uint64_t sale = sale_base + 2;
    redisContext *r = redis_conn();
    tk_queue_conn c = {r, NULL};
    const tk_queue_ops *ops = tk_queue_backend(TK_QUEUE_REDIS);
    char err[256];
    tk_queue_reset(TK_QUEUE_REDIS, &c, sale);
    tk_queue_status s;
    for (uint64_t u = 1; u <= 20; u++)
        assert_int_equal(ops->enqueue(&c, &cfg, sale, u, tk_wall_ms(), &s, err, sizeof err), TK_OK);
    assert_int_equal(ops->admit_tick(&c, &cfg, sale, NULL, 0, 1, 100, tk_wall_ms(), err, sizeof err), 5);
    assert_int_equal(ops->admit_tick(&c, &cfg, sale, NULL, 0, 2, 100, tk_wall_ms(), err, sizeof err), 0); /* full */
    assert_int_equal(ops->is_admitted(&c, sale, 5, tk_wall_ms(), err, sizeof err), TK_OK);
    assert_int_equal(ops->is_admitted(&c, sale, 6, tk_wall_ms(), err, sizeof err), TK_EFORBIDDEN);
    /* user 6 now stands first */
    assert_int_equal(ops->poll(&c, &cfg, sale, 6, tk_wall_ms(), &s, err, sizeof err), TK_OK);
    assert_int_equal(s.position, 1);
    /* revoke frees one slot */
    assert_int_equal(ops->revoke(&c, sale, 3, err, sizeof err), TK_OK);
    assert_int_equal(ops->is_admitted(&c, sale, 3, tk_wall_ms(), err, sizeof err), TK_EFORBIDDEN);
    assert_int_equal(ops->admit_tick(&c, &cfg, sale, NULL, 0, 3, 100, tk_wall_ms(), err, sizeof err), 1);
    assert_int_equal(ops->is_admitted(&c, sale, 6, tk_wall_ms(), err, sizeof err), TK_OK);
    /* after the TTL the admissions end and the next five come in */
    sleep_ms(450);
    assert_int_equal(ops->is_admitted(&c, sale, 5, tk_wall_ms(), err, sizeof err), TK_EFORBIDDEN);
    assert_int_equal(ops->admit_tick(&c, &cfg, sale, NULL, 0, 4, 100, tk_wall_ms(), err, sizeof err), 5);
    assert_int_equal(ops->is_admitted(&c, sale, 11, tk_wall_ms(), err, sizeof err), TK_OK);
    assert_int_equal(ops->is_admitted(&c, sale, 12, tk_wall_ms(), err, sizeof err), TK_EFORBIDDEN);
    /* leave removes a waiting user; the ones behind move up */
    assert_int_equal(ops->poll(&c, &cfg, sale, 14, tk_wall_ms(), &s, err, sizeof err), TK_OK);
    int64_t before = s.position;
    int removed = 0;
    assert_int_equal(ops->leave(&c, sale, 12, &removed, err, sizeof err), TK_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(ops->poll(&c, &cfg, sale, 14, tk_wall_ms(), &s, err, sizeof err), TK_OK);
    assert_int_equal(s.position, before - 1);
    assert_int_equal(ops->poll(&c, &cfg, sale, 12, tk_wall_ms(), &s, err, sizeof err), TK_OK);
    assert_false(s.found);
    tk_queue_reset(TK_QUEUE_REDIS, &c, sale);
    redisFree(r);
}

static void test_redis_pre_queue(void **state)
{
    (void)state;
    tk_queue_config cfg;
    tk_queue_config_default(&cfg);
    cfg.kind = TK_QUEUE_REDIS;
    cfg.pre_queue = 1;
    cfg.admitted_cap = 1000;
    int64_t t0 = tk_wall_ms();
    cfg.open_at_ms = t0 + 60000; /* explicit clock values below: no waiting */
    uint64_t sale = sale_base + 3;
    redisContext *r = redis_conn();
    tk_queue_conn c = {r, NULL};
    const tk_queue_ops *ops = tk_queue_backend(TK_QUEUE_REDIS);
    char err[256];
    tk_queue_reset(TK_QUEUE_REDIS, &c, sale);
    tk_queue_status s;
    for (uint64_t u = 1; u <= 200; u++) /* before opening */
        assert_int_equal(ops->enqueue(&c, &cfg, sale, u, t0 + (int64_t)u, &s, err, sizeof err), TK_OK);
    assert_int_equal(ops->admit_tick(&c, &cfg, sale, NULL, 0, 1, 1000, t0 + 1000, err, sizeof err), 0); /* closed */
    for (uint64_t u = 201; u <= 250; u++) /* after opening */
        assert_int_equal(ops->enqueue(&c, &cfg, sale, u, cfg.open_at_ms + (int64_t)u, &s, err, sizeof err), TK_OK);
    assert_int_equal(ops->admit_tick(&c, &cfg, sale, NULL, 0, 2, 1000, cfg.open_at_ms + 1000, err, sizeof err), 250);
    uint64_t order[250];
    assert_int_equal(tk_queue_admission_order(TK_QUEUE_REDIS, &c, sale, order, 250), 250);
    int in_order = 1;
    char seen[201] = {0};
    for (int i = 0; i < 200; i++) { /* the early ones first, each once, shuffled */
        assert_true(order[i] >= 1 && order[i] <= 200);
        assert_int_equal(seen[order[i]], 0);
        seen[order[i]] = 1;
        if (order[i] != (uint64_t)i + 1)
            in_order = 0;
    }
    assert_false(in_order); /* 1/200! chance of a false failure */
    for (int i = 200; i < 250; i++) /* then FIFO */
        assert_int_equal(order[i], (uint64_t)i + 1);
    /* the shuffle is the permutation an instance computes from the state:
     * user u arrived u-th, so its rank is prank(u) and it was admitted
     * prank(u)-th (the C and Lua arithmetic agree) */
    tk_queue_sale_state st;
    assert_int_equal(tk_queue_state_fetch(r, &sale, 1, &st, err, sizeof err), 0);
    assert_true(st.shuffled && st.open);
    assert_int_equal(st.pre, 200);
    assert_int_equal(st.upto, 250);
    for (int i = 0; i < 200; i++)
        assert_int_equal(tk_queue_prequeue_rank(st.k, st.pre, (int64_t)order[i]), i + 1);
    tk_queue_sale_state_clear(&st);
    tk_queue_reset(TK_QUEUE_REDIS, &c, sale);
    redisFree(r);
}

static void test_mysql_semantics(void **state)
{
    (void)state;
    enum { N = 1000 };
    tk_queue_config cfg;
    tk_queue_config_default(&cfg);
    cfg.kind = TK_QUEUE_MYSQL;
    cfg.admitted_cap = N;
    uint64_t sale = sale_base + 4;
    char err[256];
    tk_queue_conn c = {NULL, tk_db_connect(E.b.mysql, err, sizeof err)};
    assert_non_null(c.db);
    assert_int_equal(tk_queue_reset(TK_QUEUE_MYSQL, &c, sale), 0);
    int64_t seq[N + 1], pos[N + 1];
    enqueue_all(TK_QUEUE_MYSQL, &cfg, sale, N, seq, pos);
    check_positions_and_reentry(TK_QUEUE_MYSQL, &c, &cfg, sale, N, seq);
    check_fifo_admission(TK_QUEUE_MYSQL, &c, &cfg, sale, N, seq, 97);
    /* revoke, then the user is no longer admitted */
    uint64_t first;
    assert_int_equal(tk_queue_admission_order(TK_QUEUE_MYSQL, &c, sale, &first, 1), 1);
    const tk_queue_ops *ops = tk_queue_backend(TK_QUEUE_MYSQL);
    assert_int_equal(ops->revoke(&c, sale, first, err, sizeof err), TK_OK);
    assert_int_equal(ops->is_admitted(&c, sale, first, tk_wall_ms(), err, sizeof err), TK_EFORBIDDEN);
    tk_queue_reset(TK_QUEUE_MYSQL, &c, sale);
    mysql_close(c.db);
}

/* Admission ticks raced by 4 admitters (as if the lease had failed): each
 * tick number admits in exactly one of them, the others get -3, and the
 * per-tick record in Redis adds up to the users admitted. */
typedef struct race_arg {
    uint64_t sale;
    const tk_queue_config *cfg;
    int ran[40], skipped, errors;
    int64_t admitted;
} race_arg;

static void *race_thread(void *p)
{
    race_arg *a = p;
    char err[256];
    tk_queue_conn c = {tk_redis_connect(E.b.redis, err, sizeof err), NULL};
    const tk_queue_ops *ops = tk_queue_backend(TK_QUEUE_REDIS);
    for (int k = 0; k < 40 && c.redis; k++) {
        int got = ops->admit_tick(&c, a->cfg, a->sale, NULL, 0, k, 7, tk_wall_ms(), err, sizeof err);
        if (got >= 0) {
            a->ran[k] = 1;
            a->admitted += got;
        } else if (got == -3) {
            a->skipped++;
        } else {
            a->errors++;
        }
    }
    if (c.redis)
        redisFree(c.redis);
    else
        a->errors++;
    return NULL;
}

static void test_redis_tick_once(void **state)
{
    (void)state;
    tk_queue_config cfg;
    tk_queue_config_default(&cfg);
    cfg.kind = TK_QUEUE_REDIS;
    cfg.admitted_cap = 100000;
    uint64_t sale = sale_base + 7;
    redisContext *r = redis_conn();
    tk_queue_conn c = {r, NULL};
    tk_queue_reset(TK_QUEUE_REDIS, &c, sale);
    char err[256];
    tk_queue_status s;
    for (uint64_t u = 1; u <= 500; u++)
        assert_int_equal(tk_queue_backend(TK_QUEUE_REDIS)->enqueue(&c, &cfg, sale, u, tk_wall_ms(), &s, err, sizeof err),
                         TK_OK);
    race_arg a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].sale = sale;
        a[i].cfg = &cfg;
        assert_int_equal(pthread_create(&th[i], NULL, race_thread, &a[i]), 0);
    }
    int64_t admitted = 0;
    int skipped = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].errors, 0);
        admitted += a[i].admitted;
        skipped += a[i].skipped;
    }
    for (int k = 0; k < 40; k++) /* each tick ran in exactly one admitter */
        assert_int_equal(a[0].ran[k] + a[1].ran[k] + a[2].ran[k] + a[3].ran[k], 1);
    assert_int_equal(skipped, 3 * 40);
    assert_int_equal(admitted, 40 * 7);
    redisReply *h = redisCommand(r, "HGETALL tk:wr:{sale:%llu}:ticks", (unsigned long long)sale);
    assert_non_null(h);
    assert_int_equal(h->elements, 2 * 40);
    long long sum = 0;
    for (size_t i = 1; i < h->elements; i += 2)
        sum += strtoll(h->element[i]->str, NULL, 10);
    freeReplyObject(h);
    assert_int_equal(sum, 40 * 7);
    tk_queue_reset(TK_QUEUE_REDIS, &c, sale);
    redisFree(r);
}

/* Admission numbers keep growing when admitted users pay (revoke) in
 * between: the fairness figure compares them across ticks. Both backends. */
static void admission_numbers_after_revoke(tk_queue_kind kind, tk_queue_conn *c, uint64_t sale)
{
    tk_queue_config cfg;
    tk_queue_config_default(&cfg);
    cfg.kind = kind;
    const tk_queue_ops *ops = tk_queue_backend(kind);
    char err[256];
    tk_queue_status s;
    assert_int_equal(tk_queue_reset(kind, c, sale), 0);
    for (uint64_t u = 1; u <= 10; u++)
        assert_int_equal(ops->enqueue(c, &cfg, sale, u, tk_wall_ms(), &s, err, sizeof err), TK_OK);
    assert_int_equal(ops->admit_tick(c, &cfg, sale, NULL, 0, 1, 3, tk_wall_ms(), err, sizeof err), 3);
    assert_int_equal(ops->poll(c, &cfg, sale, 3, tk_wall_ms(), &s, err, sizeof err), TK_OK);
    assert_int_equal(s.admission_no, 3);
    assert_int_equal(ops->revoke(c, sale, 3, err, sizeof err), TK_OK); /* paid */
    assert_int_equal(ops->admit_tick(c, &cfg, sale, NULL, 0, 2, 3, tk_wall_ms(), err, sizeof err), 3);
    for (uint64_t u = 4; u <= 6; u++) {
        assert_int_equal(ops->poll(c, &cfg, sale, u, tk_wall_ms(), &s, err, sizeof err), TK_OK);
        assert_true(s.admitted);
        assert_int_equal(s.admission_no, (int64_t)u);
    }
    tk_queue_reset(kind, c, sale);
}

static void test_admission_numbers_after_revoke(void **state)
{
    (void)state;
    char err[256];
    tk_queue_conn r = {redis_conn(), NULL};
    admission_numbers_after_revoke(TK_QUEUE_REDIS, &r, sale_base + 5);
    redisFree(r.redis);
    tk_queue_conn m = {NULL, tk_db_connect(E.b.mysql, err, sizeof err)};
    assert_non_null(m.db);
    admission_numbers_after_revoke(TK_QUEUE_MYSQL, &m, sale_base + 6);
    mysql_close(m.db);
}

/* Random queueing: each tick draws among those waiting, so the order is far
 * from arrival (Kendall distance near 0.5) yet everyone is admitted once;
 * the state's bitmap marks exactly the drawn; the cap holds. */
static void test_redis_random_queueing(void **state)
{
    (void)state;
    enum { N = 2000 };
    tk_queue_config cfg;
    tk_queue_config_default(&cfg);
    cfg.kind = TK_QUEUE_REDIS;
    cfg.queueing = TK_QUEUEING_RANDOM;
    cfg.admitted_cap = N;
    uint64_t sale = sale_base + 8;
    redisContext *r = redis_conn();
    tk_queue_conn c = {r, NULL};
    const tk_queue_ops *ops = tk_queue_backend(TK_QUEUE_REDIS);
    char err[256];
    tk_queue_reset(TK_QUEUE_REDIS, &c, sale);
    int64_t seq[N + 1];
    tk_queue_status s;
    for (uint64_t u = 1; u <= N; u++) {
        assert_int_equal(ops->enqueue(&c, &cfg, sale, u, tk_wall_ms(), &s, err, sizeof err), TK_OK);
        seq[u] = s.seq;
    }
    /* one tick of 100: exactly the drawn are marked, the rest still wait */
    assert_int_equal(ops->admit_tick(&c, &cfg, sale, NULL, 0, 1, 100, tk_wall_ms(), err, sizeof err), 100);
    tk_queue_sale_state st;
    assert_int_equal(tk_queue_state_fetch(r, &sale, 1, &st, err, sizeof err), 0);
    assert_int_equal(st.mode, TK_QUEUEING_RANDOM);
    assert_int_equal(st.waiting, N - 100);
    assert_int_equal(st.active, 100);
    int drawn = 0;
    for (uint64_t u = 1; u <= N; u++) {
        tk_qtoken t = {u, sale, seq[u], 0, 0};
        tk_queue_status p;
        int answered = tk_queue_stateless_poll(&st, &t, tk_wall_ms(), 10000, &p);
        assert_int_equal(ops->is_admitted(&c, sale, u, tk_wall_ms(), err, sizeof err) == TK_OK, !answered);
        drawn += !answered;
    }
    assert_int_equal(drawn, 100);
    tk_queue_sale_state_clear(&st);
    int64_t k = 2, total = 100;
    while (total < N) {
        int got = ops->admit_tick(&c, &cfg, sale, NULL, 0, k++, 100, tk_wall_ms(), err, sizeof err);
        assert_true(got > 0 && got <= 100);
        total += got;
    }
    assert_int_equal(total, N);
    uint64_t order[N];
    assert_int_equal(tk_queue_admission_order(TK_QUEUE_REDIS, &c, sale, order, N), N);
    int64_t arr[N], adm[N];
    char seen[N + 1] = {0};
    for (int i = 0; i < N; i++) {
        assert_true(order[i] >= 1 && order[i] <= N);
        assert_int_equal(seen[order[i]], 0);
        seen[order[i]] = 1;
        arr[i] = seq[order[i]];
        adm[i] = i;
    }
    double d = tk_queue_kendall_distance(arr, adm, N);
    assert_true(d > 0.4 && d < 0.6);
    tk_queue_reset(TK_QUEUE_REDIS, &c, sale);
    redisFree(r);
}

/* ---- over HTTP -------------------------------------------------------------- */

/* The server's queue-token key (queue_routes.c): HMAC(jwt secret, label). */
static void server_qkey(unsigned char key[32])
{
    char path[1200], hex[160] = "";
    snprintf(path, sizeof path, "%s/jwt.secret", E.state);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(hex, sizeof hex, f));
    fclose(f);
    hex[strcspn(hex, "\r\n")] = '\0';
    static const char label[] = "ticketctl waiting-room token v1";
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)hex, strlen(hex));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof label - 1);
    crypto_auth_hmacsha256_final(&st, key);
}

static long long live_reservations(int user)
{
    return itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE user_id = %d", user);
}

static long long payments_of(int user)
{
    return itest_sql_i64(&E, "SELECT COUNT(*) FROM payments WHERE user_id = %d", user);
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    char **buf = ud;
    size_t old = *buf ? strlen(*buf) : 0;
    char *nb = realloc(*buf, old + sz * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + old, p, sz * n);
    nb[old + sz * n] = '\0';
    *buf = nb;
    return sz * n;
}

/* One request with an optional X-Queue-Token and Idempotency-Key; returns
 * the status, the error code into code (may be NULL), the body into *json
 * (may be NULL; the caller decrefs). */
static long qhttp(const char *method, const char *path, const char *jwt, const char *body, const char *qtok,
                  const char *idem, char *code, size_t codelen, json_t **json)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[512], h1[400], h2[200], h3[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", E.port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (jwt) {
        char auth[1200];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", jwt);
        h = curl_slist_append(h, auth);
    }
    if (qtok) {
        snprintf(h1, sizeof h1, "X-Queue-Token: %s", qtok);
        h = curl_slist_append(h, h1);
    }
    if (idem) {
        snprintf(h2, sizeof h2, "Idempotency-Key: %s", idem);
        h = curl_slist_append(h, h2);
    }
    snprintf(h3, sizeof h3, "Expect:");
    h = curl_slist_append(h, h3);
    char *out = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    if (!strcmp(method, "GET"))
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    if (st >= 400) /* every error is JSON with a code */
        assert_true(json_is_string(json_object_get(json_object_get(j, "error"), "code")));
    if (code) {
        json_t *cv = j ? json_object_get(json_object_get(j, "error"), "code") : NULL;
        snprintf(code, codelen, "%s", json_is_string(cv) ? json_string_value(cv) : "");
    }
    if (json)
        *json = j;
    else
        json_decref(j);
    return st;
}

static long req(const char *method, const char *path, const char *jwt, const char *body, const char *qtok,
                char *code, size_t codelen, json_t **json)
{
    return qhttp(method, path, jwt, body, qtok, NULL, code, codelen, json);
}

static long pay_req(const char *jwt, long long res, const char *qtok, char *code, size_t codelen)
{
    char body[64], idem[64];
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
    snprintf(idem, sizeof idem, "itest-q-%lld-%d", res, (int)getpid());
    return qhttp("POST", "/api/v1/payments", jwt, body, qtok, idem, code, codelen, NULL);
}

static void test_http_gate(void **state)
{
    (void)state;
    assert_int_equal(itest_seed(&E, SEED_ARGS), 0);
    redisContext *r = redis_conn();
    tk_queue_conn qc = {r, NULL};
    redisReply *m = redisCommand(r, "SMEMBERS tk:wr:sales");
    assert_non_null(m);
    for (size_t i = 0; i < m->elements; i++)
        tk_queue_reset(TK_QUEUE_REDIS, &qc, strtoull(m->element[i]->str, NULL, 10));
    freeReplyObject(m);
    assert_int_equal(itest_server_start(&E, "--workers 4 --queue redis --admit-rate 600/min --queue-tick 100ms"),
                     0);
    unsigned char qkey[32];
    server_qkey(qkey);
    char *a = itest_login(&E, 1), *b = itest_login(&E, 2);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(req("POST", "/api/v1/points/charge", a, "{\"amount\":1000000}", NULL, NULL, 0, NULL), 200);
    long long sched1 = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules");
    long long sched2 = itest_sql_i64(&E, "SELECT MAX(id) FROM concert_schedules");
    long long seat = itest_sql_i64(&E, "SELECT MIN(id) FROM seats WHERE schedule_id = %lld AND status = 'AVAILABLE'",
                                   sched1);
    assert_true(sched1 > 0 && sched2 > sched1 && seat > 0);
    char path[128], path2[128], hold[64], code[64];
    snprintf(path, sizeof path, "/api/v1/queue/%lld/token", sched1);
    snprintf(path2, sizeof path2, "/api/v1/queue/%lld/token", sched2);
    snprintf(hold, sizeof hold, "{\"seat_id\":%lld}", seat);
    /* redis: no queue left from earlier runs (the admission budget is
     * shared by every line, abandoned ones too) */
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched1);
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched2);

    long long res0 = live_reservations(1);
    /* no token */
    assert_int_equal(req("POST", "/api/v1/reservations", a, hold, NULL, code, sizeof code, NULL), 403);
    assert_string_equal(code, "QUEUE_TOKEN_REQUIRED");
    /* forged: garbage, and a well-formed token signed with another key */
    assert_int_equal(req("POST", "/api/v1/reservations", a, hold, "q1.1.1.1.1.abc", code, sizeof code, NULL), 401);
    assert_string_equal(code, "INVALID_QUEUE_TOKEN");
    char forged[TK_QTOKEN_MAX], expired[TK_QTOKEN_MAX];
    unsigned char other[32];
    randombytes_buf(other, sizeof other);
    assert_int_equal(tk_qtoken_issue(other, 32, 1, (uint64_t)sched1, 5, time(NULL), 3600, forged), 0);
    assert_int_equal(req("POST", "/api/v1/reservations", a, hold, forged, code, sizeof code, NULL), 401);
    assert_string_equal(code, "INVALID_QUEUE_TOKEN");
    /* expired, signed with the server's key */
    assert_int_equal(tk_qtoken_issue(qkey, 32, 1, (uint64_t)sched1, 5, time(NULL) - 7200, 3600, expired), 0);
    assert_int_equal(req("POST", "/api/v1/reservations", a, hold, expired, code, sizeof code, NULL), 401);
    assert_string_equal(code, "QUEUE_TOKEN_EXPIRED");
    assert_int_equal(live_reservations(1), res0);

    /* take a token; re-entry keeps the place */
    json_t *j1 = NULL, *j2 = NULL;
    assert_int_equal(req("POST", path, a, NULL, NULL, NULL, 0, &j1), 201);
    const char *tok = json_string_value(json_object_get(j1, "token"));
    assert_non_null(tok);
    assert_true(json_is_integer(json_object_get(j1, "position")) || json_is_true(json_object_get(j1, "admitted")));
    assert_true(json_is_integer(json_object_get(j1, "poll_after_ms")));
    assert_int_equal(req("POST", path, a, NULL, NULL, NULL, 0, &j2), 200);
    assert_false(json_is_true(json_object_get(j2, "created")));
    /* not admitted yet, most likely; either way the token is valid. Wait for admission by polling. */
    char spath[128];
    snprintf(spath, sizeof spath, "/api/v1/queue/%lld/status", sched1);
    int admitted = 0;
    for (int i = 0; i < 100 && !admitted; i++) {
        json_t *st = NULL;
        assert_int_equal(req("GET", spath, a, NULL, NULL, NULL, 0, &st), 200);
        admitted = json_is_true(json_object_get(st, "admitted"));
        json_decref(st);
        if (!admitted)
            sleep_ms(50);
    }
    assert_true(admitted);

    /* another user's token (b's, valid and admitted for b) is refused for a */
    json_t *jb = NULL;
    assert_int_equal(req("POST", path, b, NULL, NULL, NULL, 0, &jb), 201);
    const char *btok = json_string_value(json_object_get(jb, "token"));
    assert_int_equal(req("POST", "/api/v1/reservations", a, hold, btok, code, sizeof code, NULL), 403);
    assert_string_equal(code, "QUEUE_TOKEN_FOREIGN");
    /* a's token for another schedule is refused for this seat */
    json_t *j3 = NULL;
    assert_int_equal(req("POST", path2, a, NULL, NULL, NULL, 0, &j3), 201);
    const char *tok2 = json_string_value(json_object_get(j3, "token"));
    assert_int_equal(req("POST", "/api/v1/reservations", a, hold, tok2, code, sizeof code, NULL), 403);
    assert_string_equal(code, "QUEUE_TOKEN_FOREIGN");
    assert_int_equal(live_reservations(1), res0);

    /* admitted: hold works */
    json_t *hr = NULL;
    assert_int_equal(req("POST", "/api/v1/reservations", a, hold, tok, code, sizeof code, &hr), 201);
    long long res_id = (long long)json_integer_value(json_object_get(hr, "id"));
    assert_true(res_id > 0);
    assert_int_equal(live_reservations(1), res0 + 1);

    /* pay: no token, forged, expired -> refused, nothing paid */
    long long pay0 = payments_of(1);
    assert_int_equal(pay_req(a, res_id, NULL, code, sizeof code), 403);
    assert_string_equal(code, "QUEUE_TOKEN_REQUIRED");
    assert_int_equal(pay_req(a, res_id, forged, code, sizeof code), 401);
    assert_int_equal(pay_req(a, res_id, expired, code, sizeof code), 401);
    assert_int_equal(pay_req(a, res_id, tok2, code, sizeof code), 403);
    assert_int_equal(payments_of(1), pay0);
    assert_int_equal(itest_sql_i64(&E, "SELECT status = 'PENDING' FROM reservations WHERE id = %lld", res_id), 1);
    /* admitted: pay works, and revokes the admission */
    assert_int_equal(pay_req(a, res_id, tok, code, sizeof code), 201);
    assert_int_equal(payments_of(1), pay0 + 1);
    char err[256];
    assert_int_equal(tk_queue_backend(TK_QUEUE_REDIS)->is_admitted(&qc, (uint64_t)sched1, 1, tk_wall_ms(), err,
                                                                    sizeof err),
                     TK_EFORBIDDEN);
    long long seat2 = itest_sql_i64(&E,
                                    "SELECT MIN(id) FROM seats WHERE schedule_id = %lld AND status = 'AVAILABLE'"
                                    " AND id > %lld",
                                    sched1, seat);
    char hold2[64];
    snprintf(hold2, sizeof hold2, "{\"seat_id\":%lld}", seat2);
    long long res1 = live_reservations(1);
    assert_int_equal(req("POST", "/api/v1/reservations", a, hold2, tok, code, sizeof code, NULL), 403);
    assert_string_equal(code, "NOT_ADMITTED");
    assert_int_equal(live_reservations(1), res1);

    /* leave; then status says not in the queue */
    assert_int_equal(req("DELETE", path2, a, NULL, NULL, NULL, 0, NULL), 200);
    assert_int_equal(req("DELETE", path2, a, NULL, NULL, code, sizeof code, NULL), 404);
    assert_string_equal(code, "NOT_IN_QUEUE");
    /* an unknown schedule */
    assert_int_equal(req("POST", "/api/v1/queue/999999999/token", a, NULL, NULL, code, sizeof code, NULL), 404);
    /* no bearer token */
    assert_int_equal(req("POST", path, NULL, NULL, NULL, NULL, 0, NULL), 401);

    json_decref(j1);
    json_decref(j2);
    json_decref(j3);
    json_decref(jb);
    json_decref(hr);
    free(a);
    free(b);
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched1);
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched2);
    redisFree(r);
    assert_int_equal(itest_server_stop(&E), 0);
}

static long long zcard(redisContext *r, const char *fmt, long long sale)
{
    redisReply *x = redisCommand(r, fmt, sale);
    assert_non_null(x);
    long long n = x->type == REDIS_REPLY_INTEGER ? x->integer : -1;
    freeReplyObject(x);
    return n;
}

/* Polls with the queue token are answered from the token and the sale's
 * state: they keep answering while Redis is paused. Admission by active
 * users (--active-users 2) and new users per minute (600/min = 1 per 100 ms
 * tick): never more than 2 admitted, never more than 1 new per tick; a
 * leave frees a slot. Forged, foreign and replayed tokens get 401/403 and
 * admit nothing. */
static void test_http_stateless(void **state)
{
    (void)state;
    if (E.server_pid > 0)
        itest_server_stop(&E);
    redisContext *r = redis_conn();
    tk_queue_conn qc = {r, NULL};
    long long sched = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules");
    long long sched2 = itest_sql_i64(&E, "SELECT MAX(id) FROM concert_schedules");
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched);
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched2);
    assert_int_equal(itest_server_start(&E, "--workers 2 --queue redis --new-users-per-minute 600 --active-users 2"
                                            " --queue-tick 100ms"),
                     0);
    enum { NU = 6 };
    char *jwt[NU], *tok[NU], path[128], spath[128], code[64];
    snprintf(path, sizeof path, "/api/v1/queue/%lld/token", sched);
    snprintf(spath, sizeof spath, "/api/v1/queue/%lld/status", sched);
    for (int i = 0; i < NU; i++) {
        jwt[i] = itest_login(&E, 10 + i);
        assert_non_null(jwt[i]);
        json_t *o = NULL;
        assert_int_equal(req("POST", path, jwt[i], NULL, NULL, NULL, 0, &o), 201);
        tok[i] = strdup(json_string_value(json_object_get(o, "token")));
        assert_int_equal(json_integer_value(json_object_get(o, "arrival_no")), i + 1);
        json_decref(o);
    }
    /* the first two are admitted within a few ticks, then the cap holds */
    for (int t = 0; t < 100 && zcard(r, "ZCARD tk:wr:{sale:%lld}:adm", sched) < 2; t++)
        sleep_ms(20);
    for (int t = 0; t < 10; t++) {
        assert_int_equal(zcard(r, "ZCARD tk:wr:{sale:%lld}:adm", sched), 2);
        sleep_ms(50);
    }
    /* the last user: position 4 from the state; without the token the backend says the same */
    json_t *o = NULL;
    assert_int_equal(req("GET", spath, jwt[5], NULL, tok[5], NULL, 0, &o), 200);
    assert_false(json_is_true(json_object_get(o, "admitted")));
    assert_int_equal(json_integer_value(json_object_get(o, "position")), 4);
    assert_int_equal(json_integer_value(json_object_get(o, "ahead")), 3);
    assert_true(json_integer_value(json_object_get(o, "estimated_wait_s")) >= 1);
    assert_true(json_integer_value(json_object_get(o, "poll_after_ms")) >= 50);
    json_decref(o);
    assert_int_equal(req("GET", spath, jwt[5], NULL, NULL, NULL, 0, &o), 200);
    assert_int_equal(json_integer_value(json_object_get(o, "position")), 4);
    json_decref(o);
    /* the queue token alone is the poll's credential (like Cloudflare's cookie) */
    assert_int_equal(req("GET", spath, NULL, NULL, tok[5], NULL, 0, &o), 200);
    assert_int_equal(json_integer_value(json_object_get(o, "position")), 4);
    assert_int_equal(json_integer_value(json_object_get(o, "arrival_no")), 6);
    json_decref(o);
    assert_int_equal(req("GET", spath, NULL, NULL, NULL, code, sizeof code, NULL), 401);
    assert_string_equal(code, "UNAUTHORIZED");
    /* Redis paused for 700 ms (under the 10-tick staleness bound): polls
     * with the token still answer, at once */
    redisReply *p = redisCommand(r, "CLIENT PAUSE 700 ALL");
    assert_non_null(p);
    freeReplyObject(p);
    uint64_t t0 = tk_mono_us();
    for (int i = 0; i < 20; i++) {
        assert_int_equal(req("GET", spath, jwt[2 + i % 4], NULL, tok[2 + i % 4], NULL, 0, &o), 200);
        assert_int_equal(json_integer_value(json_object_get(o, "position")), 1 + i % 4);
        json_decref(o);
    }
    assert_true(tk_mono_us() - t0 < 500000);
    sleep_ms(800);
    /* and /metrics counts them as answered from the state */
    itest_resp mr;
    assert_int_equal(itest_http(&E, "GET", "/metrics", NULL, NULL, NULL, &mr), 0);
    const char *ms = strstr(mr.body, "ticketctl_queue_polls_total{answered=\"state\"} ");
    assert_non_null(ms);
    assert_true(atoll(ms + strlen("ticketctl_queue_polls_total{answered=\"state\"} ")) >= 21);
    assert_non_null(strstr(mr.body, "ticketctl_queue_polls_total{answered=\"backend\"} "));
    itest_resp_free(&mr);
    /* bad tokens on the poll: forged, another user's, another schedule's */
    char forged[TK_QTOKEN_MAX];
    unsigned char other[32];
    randombytes_buf(other, sizeof other);
    assert_int_equal(tk_qtoken_issue(other, 32, 15, (uint64_t)sched, 1, time(NULL), 3600, forged), 0);
    assert_int_equal(req("GET", spath, jwt[5], NULL, forged, code, sizeof code, NULL), 401);
    assert_string_equal(code, "INVALID_QUEUE_TOKEN");
    assert_int_equal(req("GET", spath, NULL, NULL, forged, code, sizeof code, NULL), 401);
    assert_string_equal(code, "INVALID_QUEUE_TOKEN");
    assert_int_equal(req("GET", spath, "not-a-jwt", NULL, tok[5], code, sizeof code, NULL), 401);
    assert_string_equal(code, "UNAUTHORIZED");
    assert_int_equal(req("GET", spath, jwt[5], NULL, tok[4], code, sizeof code, NULL), 403); /* shared */
    assert_string_equal(code, "QUEUE_TOKEN_FOREIGN");
    char s2path[128];
    snprintf(s2path, sizeof s2path, "/api/v1/queue/%lld/status", sched2);
    assert_int_equal(req("GET", s2path, jwt[5], NULL, tok[5], code, sizeof code, NULL), 403);
    assert_string_equal(code, "QUEUE_TOKEN_FOREIGN");
    /* a forged token with an early arrival number is refused by hold: nothing admitted */
    long long seat = itest_sql_i64(&E, "SELECT MIN(id) FROM seats WHERE schedule_id = %lld AND status = 'AVAILABLE'",
                                   sched);
    char hold[64];
    snprintf(hold, sizeof hold, "{\"seat_id\":%lld}", seat);
    long long res0 = live_reservations(15);
    assert_int_equal(req("POST", "/api/v1/reservations", jwt[5], hold, forged, code, sizeof code, NULL), 401);
    /* user 3 (waiting) leaves; its token replayed: the poll cannot tell
     * (stateless) but hold refuses it and admission skips it */
    assert_int_equal(req("DELETE", path, jwt[2], NULL, NULL, NULL, 0, NULL), 200);
    /* the first admitted user leaves: a slot frees, user 4 comes in (user 3 skipped) */
    assert_int_equal(req("DELETE", path, jwt[0], NULL, NULL, NULL, 0, NULL), 200);
    int admitted = 0;
    for (int t = 0; t < 100 && !admitted; t++) {
        assert_int_equal(req("GET", spath, jwt[3], NULL, tok[3], NULL, 0, &o), 200);
        admitted = json_is_true(json_object_get(o, "admitted"));
        json_decref(o);
        if (!admitted)
            sleep_ms(30);
    }
    assert_true(admitted);
    char err[256];
    assert_int_equal(tk_queue_backend(TK_QUEUE_REDIS)->is_admitted(&qc, (uint64_t)sched, 12, tk_wall_ms(), err,
                                                                    sizeof err),
                     TK_EFORBIDDEN);
    assert_int_equal(req("POST", "/api/v1/reservations", jwt[2], hold, tok[2], code, sizeof code, NULL), 403);
    assert_string_equal(code, "NOT_ADMITTED");
    assert_int_equal(live_reservations(15), res0);
    assert_int_equal(zcard(r, "ZCARD tk:wr:{sale:%lld}:adm", sched), 2);
    /* user 6 moved up: users 4 (admitted) and 3 (left) are behind upto now */
    assert_int_equal(req("GET", spath, jwt[5], NULL, tok[5], NULL, 0, &o), 200);
    assert_int_equal(json_integer_value(json_object_get(o, "position")), 2);
    json_decref(o);
    /* never more than one new user per tick */
    redisReply *h = redisCommand(r, "HVALS tk:wr:{sale:%lld}:ticks", sched);
    assert_non_null(h);
    long long sum = 0;
    for (size_t i = 0; i < h->elements; i++) {
        long long v = strtoll(h->element[i]->str, NULL, 10);
        assert_true(v >= 0 && v <= 1);
        sum += v;
    }
    freeReplyObject(h);
    assert_int_equal(sum, 3);
    for (int i = 0; i < NU; i++) {
        free(jwt[i]);
        free(tok[i]);
    }
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched);
    redisFree(r);
    assert_int_equal(itest_server_stop(&E), 0);
}

/* Without --queue the routes answer 404 QUEUE_DISABLED and hold needs no token. */
static void test_http_no_queue(void **state)
{
    (void)state;
    if (E.server_pid > 0) /* the test before failed with its server up */
        itest_server_stop(&E);
    assert_int_equal(itest_server_start(&E, "--workers 4"), 0);
    char *a = itest_login(&E, 3), code[64];
    assert_non_null(a);
    long long sched = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules");
    char path[128];
    snprintf(path, sizeof path, "/api/v1/queue/%lld/token", sched);
    assert_int_equal(req("POST", path, a, NULL, NULL, code, sizeof code, NULL), 404);
    assert_string_equal(code, "QUEUE_DISABLED");
    free(a);
    assert_int_equal(itest_server_stop(&E), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_10k_concurrent),
        cmocka_unit_test(test_redis_cap_ttl_revoke),
        cmocka_unit_test(test_redis_tick_once),
        cmocka_unit_test(test_redis_pre_queue),
        cmocka_unit_test(test_mysql_semantics),
        cmocka_unit_test(test_admission_numbers_after_revoke),
        cmocka_unit_test(test_redis_random_queueing),
        cmocka_unit_test(test_http_gate),
        cmocka_unit_test(test_http_stateless),
        cmocka_unit_test(test_http_no_queue),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
