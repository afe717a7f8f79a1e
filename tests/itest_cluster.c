/* The waiting room and the seat holds on a real Redis Cluster (3 masters,
 * a replica each, `dev up --redis-cluster 3` in a state dir of its own),
 * with the master that serves the sale killed -9 in the middle of the run.
 *
 * Users enqueue one after the other while admission ticks run under the
 * sale's lease; half-way the master of the sale's slot dies. The client
 * follows the failover (the replica takes over after cluster-node-timeout
 * 1 s) and afterwards:
 *   - every user has exactly one arrival number, strictly increasing in the
 *     order they enqueued (no number lost or handed out twice);
 *   - admission follows arrival exactly (Kendall distance 0), everyone once;
 *   - no tick admitted twice, and never more than the cap active at once;
 *   - a stale admitter (an older fencing token) is refused after failover;
 *   - a seat hold has one owner.
 * Then `ticketctl serve --queue redis` on the same cluster (after the
 * failover, the dead node restarted by the stack as a replica): users take
 * a place, are admitted, hold and pay over HTTP, a taken seat stays taken,
 * and the MariaDB invariants hold. Last, a slot moved between masters
 * under a client with a stale map: ASK while it migrates, MOVED once it
 * moved. Also the two-level cache across two instances on the cluster
 * (L2 fill and hit, a change seen within 100 ms), including after kill -9
 * of the node the subscribers listen on.
 * The cluster is stopped and purged at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/cache.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"
#include "ticketctl/hold.h"
#include "ticketctl/lease.h"
#include "ticketctl/queue.h"
#include "ticketctl/rcluster.h"

#define N_USERS 1200
#define CAP 400

static char state[1024];
static tk_dev_env env;

static int setup(void **st)
{
    (void)st;
    const char *base = getenv("TICKETCTL_TEST_STATE");
    snprintf(state, sizeof state, "%s-cluster", base && *base ? base : "./itest-stack");
    char err[1024];
    tk_dev_down(state, 1, NULL, 0); /* leftovers of a crashed run */
    if (tk_dev_redis_cluster(state, 3, err, sizeof err) != 0 || tk_dev_up(state, &env, err, sizeof err) < 0) {
        fprintf(stderr, "itest_cluster: %s\n", err);
        return -1;
    }
    return 0;
}

static itest_env E;

static int teardown(void **st)
{
    (void)st;
    if (E.bin[0])
        itest_close(&E); /* stops the server if a check failed with it running */
    char err[1024];
    if (tk_dev_down(state, 1, err, sizeof err) != 0)
        fprintf(stderr, "itest_cluster: dev down: %s\n", err);
    return 0;
}

/* The pid and port of the master that serves key's slot now. */
static long master_of(redisContext *c, const char *key, int *port)
{
    int slot = tk_redis_slot(key, strlen(key));
    redisReply *r = tk_redis_cmd(c, NULL, "CLUSTER SLOTS");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    *port = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (slot >= e->element[0]->integer && slot <= e->element[1]->integer)
            *port = (int)e->element[2]->element[1]->integer;
    }
    freeReplyObject(r);
    assert_true(*port > 0);
    tk_dev_comp nodes[TK_DEV_MAX_RNODES];
    int ok = 0, n = tk_dev_redis_cluster_status(state, nodes, TK_DEV_MAX_RNODES, &ok);
    assert_int_equal(n, 6);
    assert_true(ok);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", *port);
    for (int i = 0; i < n; i++)
        if (!strcmp(nodes[i].addr, addr))
            return nodes[i].pid;
    fail_msg("no node at %s", addr);
    return 0;
}

/* A plain connection to one node and its cluster node id. */
static redisContext *node(int port, char id[64])
{
    char url[64], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    redisContext *n = tk_redis_connect(url, err, sizeof err);
    assert_non_null(n);
    redisReply *r = redisCommand(n, "CLUSTER MYID");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(id, 64, "%s", r->str);
    freeReplyObject(r);
    return n;
}

static void ok_reply(redisReply *r)
{
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("redis: %s", r->str);
    freeReplyObject(r);
}

/* A slot moves between masters while the client keeps its old map: first
 * half-way (MIGRATING/IMPORTING: the old owner answers ASK for a key it
 * does not have), then for good (SETSLOT NODE: MOVED). */
static void test_ask_and_moved(void **st)
{
    (void)st;
    char err[256];
    redisContext *c = tk_redis_connect(env.redis, err, sizeof err);
    assert_non_null(c);
    char key[64];
    snprintf(key, sizeof key, "tk:itest:{moving-%lld}", (long long)(tk_wall_ms() % 1000000));
    int slot = tk_redis_slot(key, strlen(key)), src_port = 0, dst_port = 0;
    redisReply *r = tk_redis_cmd(c, NULL, "CLUSTER SLOTS");
    assert_non_null(r);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        int port = (int)e->element[2]->element[1]->integer;
        if (slot >= e->element[0]->integer && slot <= e->element[1]->integer)
            src_port = port;
        else if (!dst_port)
            dst_port = port;
    }
    freeReplyObject(r);
    assert_true(src_port > 0 && dst_port > 0 && src_port != dst_port);
    char src_id[64], dst_id[64];
    redisContext *src = node(src_port, src_id), *dst = node(dst_port, dst_id);
    ok_reply(redisCommand(dst, "CLUSTER SETSLOT %d IMPORTING %s", slot, src_id));
    ok_reply(redisCommand(src, "CLUSTER SETSLOT %d MIGRATING %s", slot, dst_id));

    tk_rcluster_stats s0, s1, s2, s3;
    tk_rcluster_stats_get(c, &s0);
    r = tk_redis_cmd(c, key, "SET %s moved", key); /* src has no such key: ASK */
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    tk_rcluster_stats_get(c, &s1);
    assert_true(s1.ask > s0.ask);
    r = redisCommand(dst, "ASKING"); /* the key landed on the importing node */
    ok_reply(r);
    r = redisCommand(dst, "GET %s", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "moved");
    freeReplyObject(r);

    /* the slot now belongs to dst: the client's map is stale, src answers MOVED */
    ok_reply(redisCommand(dst, "CLUSTER SETSLOT %d NODE %s", slot, dst_id));
    ok_reply(redisCommand(src, "CLUSTER SETSLOT %d NODE %s", slot, dst_id));
    r = tk_redis_cmd(c, key, "GET %s", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "moved");
    freeReplyObject(r);
    tk_rcluster_stats_get(c, &s2);
    assert_true(s2.moved > s1.moved);
    r = tk_redis_cmd(c, key, "DEL %s", key); /* straight to dst now */
    ok_reply(r);
    tk_rcluster_stats_get(c, &s3);
    assert_int_equal(s3.moved, s2.moved);
    /* give the slot back, so the failover test finds the layout it expects */
    ok_reply(redisCommand(src, "CLUSTER SETSLOT %d NODE %s", slot, src_id));
    ok_reply(redisCommand(dst, "CLUSTER SETSLOT %d NODE %s", slot, src_id));
    redisFree(src);
    redisFree(dst);
    tk_redis_free(c);
}

static int admit(const tk_queue_ops *ops, tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale,
                 tk_lease *lease, int64_t *tick, int64_t quota)
{
    char err[256];
    assert_int_equal(tk_lease_acquire(lease, c->redis), 1);
    int got = ops->admit_tick(c, cfg, sale, lease->fence_key, lease->fence, (*tick)++, quota, tk_wall_ms(), err,
                              sizeof err);
    if (got < 0)
        fail_msg("admit tick: %d %s", got, err);
    return got;
}

static void test_master_killed_mid_run(void **st)
{
    (void)st;
    char err[256], url[TK_URL_MAX + 16];
    /* a failover takes ~2-3 s; give the client 15 s of retries on a loaded box (sanitizers) */
    snprintf(url, sizeof url, "%s?timeout=15s", env.redis);
    redisContext *c = tk_redis_connect(url, err, sizeof err);
    assert_non_null(c);
    assert_true(tk_redis_is_cluster(c));
    uint64_t sale = 900000 + (uint64_t)(tk_wall_ms() % 100000);
    tk_queue_conn qc = {c, NULL};
    const tk_queue_ops *ops = tk_queue_backend(TK_QUEUE_REDIS);
    tk_queue_config cfg;
    tk_queue_config_default(&cfg);
    cfg.kind = TK_QUEUE_REDIS;
    cfg.admitted_cap = CAP;
    cfg.admitted_ttl_ms = 600000;
    assert_int_equal(tk_queue_reset(TK_QUEUE_REDIS, &qc, sale), 0);

    char qkey[64], lname[40];
    snprintf(qkey, sizeof qkey, "tk:wr:{sale:%" PRIu64 "}:q", sale);
    tk_queue_lease_name(sale, lname, sizeof lname);
    tk_lease lease;
    tk_lease_init(&lease, lname, 60000);
    int port0 = 0;
    long victim = master_of(c, qkey, &port0);
    assert_true(victim > 0);

    /* a seat hold taken before the failover, on whatever master its key has */
    assert_int_equal(tk_hold_acquire(c, 1, sale, sale, 11, 600000), TK_OK);
    /* a sale's hold, seat lock and fence keys are in its waiting room's slot (hold.h) */
    for (int kind = TK_HOLD_KEY_HOLD; kind <= TK_HOLD_KEY_FENCE; kind++) {
        char hk[96];
        assert_true(tk_hold_key(hk, sizeof hk, c, (tk_hold_kind)kind, 1, sale, 7) > 0);
        assert_non_null(strstr(hk, "{sale:"));
        assert_int_equal(tk_redis_slot(hk, strlen(hk)), tk_redis_slot(qkey, strlen(qkey)));
    }

    int64_t *seq = calloc(N_USERS + 1, sizeof *seq);
    assert_non_null(seq);
    int64_t tick = 1, admitted = 0;
    uint64_t killed_at = 0, t_after = 0;
    for (int u = 1; u <= N_USERS; u++) {
        if (u == N_USERS / 2) {
            assert_int_equal(kill((pid_t)victim, SIGKILL), 0);
            killed_at = tk_mono_ms();
        }
        tk_queue_status s;
        tk_rc rc = ops->enqueue(&qc, &cfg, sale, (uint64_t)u, tk_wall_ms(), &s, err, sizeof err);
        if (rc != TK_OK)
            fail_msg("enqueue of user %d failed: %s", u, err);
        if (u == N_USERS / 2)
            t_after = tk_mono_ms() - killed_at;
        assert_false(s.admitted);
        seq[u] = s.seq;
        assert_true(seq[u] > 0);
        if (u > 1)
            assert_true(seq[u] > seq[u - 1]); /* nothing lost, nothing handed out twice */
        if (u % 100 == 0) {
            admitted += admit(ops, &qc, &cfg, sale, &lease, &tick, 60);
            assert_true(admitted <= CAP);
        }
    }
    fprintf(stderr, "itest_cluster: the first enqueue after kill -9 of the master (pid %ld, port %d) took %" PRIu64
                    " ms\n", victim, port0, t_after);
    int port1 = 0;
    long now_master = master_of(c, qkey, &port1);
    assert_true(port1 != port0); /* the replica took over */
    assert_true(now_master != victim);
    tk_rcluster_stats cs;
    tk_rcluster_stats_get(c, &cs);
    assert_true(cs.refreshes > 1);

    /* the hold survives or not (Redis holds are a filter), but has one owner */
    tk_rc h1 = tk_hold_acquire(c, 1, sale, sale, 11, 600000), h2 = tk_hold_acquire(c, 1, sale, sale, 12, 600000);
    assert_true(h1 == TK_ECONFLICT || h1 == TK_OK);
    assert_int_equal(h2, TK_ECONFLICT);
    tk_hold_release(c, 1, sale, sale, 0);

    /* a stale admitter: the lease expires, a successor takes it, the old token is refused */
    tk_lease old = lease, next;
    tk_lease_release(&lease, c);
    tk_lease_init(&next, lname, 60000);
    assert_int_equal(tk_lease_acquire(&next, c), 1);
    assert_true(next.fence > old.fence);
    assert_int_equal(ops->admit_tick(&qc, &cfg, sale, old.fence_key, old.fence, tick++, 10, tk_wall_ms(), err,
                                     sizeof err),
                     -2);
    /* a tick runs once */
    int64_t t = tick++;
    assert_true(ops->admit_tick(&qc, &cfg, sale, next.fence_key, next.fence, t, 0, tk_wall_ms(), err, sizeof err) >= 0);
    assert_int_equal(ops->admit_tick(&qc, &cfg, sale, next.fence_key, next.fence, t, 10, tk_wall_ms(), err, sizeof err),
                     -3);

    /* everyone is admitted, in arrival order, at most CAP at once (each batch pays: revoked) */
    while (admitted < N_USERS) {
        uint64_t adm[N_USERS];
        int n = tk_queue_admission_order(TK_QUEUE_REDIS, &qc, sale, adm, N_USERS);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++)
            assert_int_equal(ops->revoke(&qc, sale, adm[i], err, sizeof err), TK_OK);
        int got = admit(ops, &qc, &cfg, sale, &next, &tick, CAP + 50);
        assert_true(got <= CAP);
        assert_true(got > 0);
        admitted += got;
    }
    assert_int_equal(admitted, N_USERS);
    uint64_t *order = calloc(N_USERS, sizeof *order);
    int64_t *arr = calloc(N_USERS, sizeof *arr), *pos = calloc(N_USERS, sizeof *pos);
    assert_non_null(order);
    assert_int_equal(tk_queue_admission_order(TK_QUEUE_REDIS, &qc, sale, order, N_USERS), N_USERS);
    for (int i = 0; i < N_USERS; i++) {
        assert_true(order[i] >= 1 && order[i] <= N_USERS);
        arr[i] = seq[order[i]];
        pos[i] = i;
    }
    assert_true(tk_queue_kendall_distance(arr, pos, N_USERS) == 0.0);
    for (int i = 0; i < N_USERS; i++)
        assert_int_equal(order[i], (uint64_t)(i + 1)); /* users enqueued 1..N in that order */
    assert_int_equal(ops->waiting(&qc, sale, err, sizeof err), 0);

    tk_lease_release(&next, c);
    tk_queue_reset(TK_QUEUE_REDIS, &qc, sale);
    free(order);
    free(arr);
    free(pos);
    free(seq);
    tk_redis_free(c);
}

/* One request; its status, and the reply's JSON member `field` as an integer (or -1). */
static long call(const char *method, const char *path, const char *jwt, const char *body, const char *qtok,
                 const char *idem, const char *field, long long *val)
{
    char h1[256], h2[96];
    snprintf(h1, sizeof h1, "X-Queue-Token: %s", qtok ? qtok : "");
    snprintf(h2, sizeof h2, "Idempotency-Key: %s", idem ? idem : "");
    const char *hs[3] = {NULL, NULL, NULL};
    int n = 0;
    if (qtok)
        hs[n++] = h1;
    if (idem)
        hs[n++] = h2;
    itest_resp r;
    itest_http_h(&E, method, path, jwt, body, hs, &r);
    if (val)
        *val = r.json && json_object_get(r.json, field) ? (long long)json_integer_value(json_object_get(r.json, field))
                                                         : -1;
    long st = r.status;
    itest_resp_free(&r);
    return st;
}

/* Wait until bus b's counter (resubscribes or received) reaches want, at most ms. */
static int bus_reaches(tk_cache_bus *b, int resub, uint64_t want, int ms)
{
    uint64_t t0 = tk_mono_ms();
    for (;;) {
        tk_cache_bus_stats s;
        tk_cache_bus_get_stats(b, &s);
        if ((resub ? s.resubscribes : s.received) >= want)
            return 1;
        if (tk_mono_ms() - t0 > (uint64_t)ms)
            return 0;
        usleep(2000);
    }
}

/* Instance b has the view in L1; instance a changes it (tk_cache_publish);
 * the ms until b's L1 copy is gone (fails past 2 s). */
static uint64_t change_seen_in(tk_cache_bus *ba, redisContext *ca, tk_cache *lb, const char *view)
{
    assert_int_equal(tk_cache_put(lb, view, "old", 3, tk_cache_seq(lb)), 1);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(tk_cache_get(lb, view, &out, &len), 1);
    free(out);
    uint64_t t0 = tk_mono_ms();
    assert_int_equal(tk_cache_publish(ba, ca, &view, 1), 0);
    while (tk_cache_get(lb, view, &out, &len) == 1) {
        free(out);
        if (tk_mono_ms() - t0 > 2000)
            fail_msg("the change of %s was not seen on the other instance in 2 s", view);
        usleep(500);
    }
    return tk_mono_ms() - t0;
}

/* The two-level cache on the cluster (issue 12, 4): two instances, each an
 * L1 with its bus. A's L2 fill is B's L2 hit; A's change reaches B's L1
 * within 100 ms and makes B's L2 copy old; then the node both subscribers
 * listen on is killed -9: they move to another node, and a change is again
 * seen within 100 ms. The stack brings the dead node back at the end. */
static void test_cache_on_the_cluster(void **st)
{
    (void)st;
    char err[256];
    redisContext *ca = tk_redis_connect(env.redis, err, sizeof err), *cb = tk_redis_connect(env.redis, err, sizeof err);
    assert_non_null(ca);
    assert_non_null(cb);
    tk_cache *la = tk_cache_new(100, 60000), *lb = tk_cache_new(100, 60000);
    tk_cache_bus *ba = tk_cache_bus_start(la, env.redis, err, sizeof err);
    tk_cache_bus *bb = tk_cache_bus_start(lb, env.redis, err, sizeof err);
    assert_non_null(ba);
    assert_non_null(bb);
    assert_true(bus_reaches(ba, 1, 1, 5000) && bus_reaches(bb, 1, 1, 5000));
    usleep(50000); /* the clear of the first subscription is done */

    char view[48], *out = NULL, stamp[48];
    size_t len = 0;
    snprintf(view, sizeof view, "seats:%lld", (long long)(900000 + tk_wall_ms() % 100000));
    assert_int_equal(tk_cache_l2_get(ba, ca, view, &out, &len, stamp), 0); /* a miss, with the stamp to fill */
    assert_true(stamp[0] != '\0');
    assert_int_equal(tk_cache_l2_put(ba, ca, view, "{\"v\":1}", 7, stamp, 60000), 0);
    assert_int_equal(tk_cache_l2_get(bb, cb, view, &out, &len, stamp), 1); /* B reads A's fill */
    assert_int_equal(len, 7);
    assert_memory_equal(out, "{\"v\":1}", 7);
    free(out);

    uint64_t ms = change_seen_in(ba, ca, lb, view);
    fprintf(stderr, "itest_cluster: cache change seen on the other instance in %" PRIu64 " ms\n", ms);
    assert_true(ms <= 100);
    assert_true(bus_reaches(bb, 0, 1, 1000));
    assert_int_equal(tk_cache_l2_get(bb, cb, view, &out, &len, stamp), 0); /* B's L2 copy is old now */

    /* the node the subscribers listen on (both start at the map's first node) */
    tk_dev_comp nodes[TK_DEV_MAX_RNODES];
    int ok = 0, n = tk_dev_redis_cluster_status(state, nodes, TK_DEV_MAX_RNODES, &ok);
    long victim = 0;
    int vport = 0;
    for (int i = 0; i < n && !victim; i++) {
        char url[96];
        snprintf(url, sizeof url, "redis://%s", nodes[i].addr);
        redisContext *p = tk_redis_connect(url, NULL, 0);
        if (!p)
            continue;
        redisReply *r = redisCommand(p, "PUBSUB NUMSUB %s", TK_CACHE_BUS_CHANNEL);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->integer >= 2)
            victim = nodes[i].pid, vport = atoi(strrchr(nodes[i].addr, ':') + 1);
        if (r)
            freeReplyObject(r);
        redisFree(p);
    }
    assert_true(victim > 0);
    assert_int_equal(kill((pid_t)victim, SIGKILL), 0);
    assert_true(bus_reaches(ba, 1, 2, 10000) && bus_reaches(bb, 1, 2, 10000)); /* both moved */
    /* once the cluster serves the view's slot again (a master may have failed over) */
    char gkey[224];
    snprintf(gkey, sizeof gkey, "tk:view:{sale:%s}:%s:gen", view + 6, view);
    uint64_t t0 = tk_mono_ms();
    for (;;) {
        redisReply *r = tk_redis_cmd(ca, gkey, "GET %s", gkey);
        int up = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (up)
            break;
        assert_true(tk_mono_ms() - t0 < 15000);
        usleep(100000);
    }
    usleep(50000);
    ms = change_seen_in(ba, ca, lb, view);
    fprintf(stderr, "itest_cluster: after kill -9 of the subscribed node, a change seen in %" PRIu64 " ms\n", ms);
    assert_true(ms <= 100);

    /* before the stack restarts it: the cluster has replaced it, if it was a master */
    for (int master = 1; master;) {
        assert_true(tk_mono_ms() - t0 < 20000);
        redisReply *r = tk_redis_cmd(ca, NULL, "CLUSTER SLOTS");
        master = !r || r->type != REDIS_REPLY_ARRAY;
        for (size_t i = 0; !master && i < r->elements; i++)
            master = r->element[i]->element[2]->element[1]->integer == vport;
        if (r)
            freeReplyObject(r);
        if (master)
            usleep(100000);
    }
    tk_cache_bus_stop(ba);
    tk_cache_bus_stop(bb);
    tk_cache_free(la);
    tk_cache_free(lb);
    tk_redis_free(ca);
    tk_redis_free(cb);
    assert_true(tk_dev_up(state, &env, err, sizeof err) >= 0); /* the dead node back, as a replica */
}

static void test_serve_on_the_cluster(void **st)
{
    (void)st;
    setenv("TICKETCTL_TEST_STATE", state, 1); /* the harness on this cluster's stack */
    assert_int_equal(itest_stack(&E), 0);
    assert_true(tk_redis_url_is_cluster(E.b.redis));
    assert_int_equal(itest_seed(&E, "--users 20 --concerts 1 --schedules-per-concert 1 --seats-per-schedule 20 --seed 5"),
                     0);
    assert_int_equal(itest_server_start(&E, "--workers 2 --queue redis --new-users-per-minute 6000 --active-users 10"
                                            " --queue-tick 100ms"),
                     0);
    long long sched = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules");
    long long seat0 = itest_sql_i64(&E, "SELECT MIN(id) FROM seats WHERE schedule_id = %lld", sched);
    char tpath[96], spath[96], body[96], idem[32];
    snprintf(tpath, sizeof tpath, "/api/v1/queue/%lld/token", sched);
    snprintf(spath, sizeof spath, "/api/v1/queue/%lld/status", sched);
    enum { NU = 5 };
    for (int i = 0; i < NU; i++) {
        char *jwt = itest_login(&E, 1 + i);
        assert_non_null(jwt);
        long long v;
        long c = call("POST", "/api/v1/points/charge", jwt, "{\"amount\":500000}", NULL, NULL, "balance", NULL);
        assert_true(c == 200 || c == 201);
        itest_resp r;
        itest_http(&E, "POST", tpath, jwt, NULL, NULL, &r);
        assert_int_equal(r.status, 201);
        char *qtok = strdup(json_string_value(json_object_get(r.json, "token")));
        assert_int_equal(json_integer_value(json_object_get(r.json, "arrival_no")), i + 1);
        itest_resp_free(&r);
        int admitted = 0;
        for (int t = 0; t < 100 && !admitted; t++) {
            char h[256];
            snprintf(h, sizeof h, "X-Queue-Token: %s", qtok);
            itest_http(&E, "GET", spath, jwt, NULL, h, &r);
            assert_int_equal(r.status, 200);
            admitted = json_is_true(json_object_get(r.json, "admitted"));
            itest_resp_free(&r);
            if (!admitted)
                usleep(100000);
        }
        assert_true(admitted);
        snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat0 + i);
        assert_int_equal(call("POST", "/api/v1/reservations", jwt, body, qtok, NULL, "id", &v), 201);
        long long res = v;
        if (i > 0) { /* the seat of the one before is taken */
            snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat0 + i - 1);
            assert_int_equal(call("POST", "/api/v1/reservations", jwt, body, qtok, NULL, "id", NULL), 409);
        }
        snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
        snprintf(idem, sizeof idem, "cl-%d", i);
        assert_int_equal(call("POST", "/api/v1/payments", jwt, body, qtok, idem, "id", NULL), 201);
        free(qtok);
        free(jwt);
    }
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE status = 'CONFIRMED'"), NU);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM (SELECT seat_id FROM reservations WHERE status IN "
                                       "('PENDING','CONFIRMED') GROUP BY seat_id HAVING COUNT(*) > 1) d"),
                     0);
    assert_int_equal(itest_server_stop(&E), 0);

    /* without a waiting room: the hold gate reads the seat's schedule, and
     * the hold key is in the sale's slot (hold.h); a second user is refused */
    assert_int_equal(itest_server_start(&E, "--workers 2"), 0);
    char *j1 = itest_login(&E, 11), *j2 = itest_login(&E, 12);
    assert_non_null(j1);
    assert_non_null(j2);
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat0 + 10);
    assert_int_equal(call("POST", "/api/v1/reservations", j1, body, NULL, NULL, "id", NULL), 201);
    assert_int_equal(call("POST", "/api/v1/reservations", j2, body, NULL, NULL, "id", NULL), 409);
    char err[256], hk[96];
    redisContext *c = tk_redis_connect(E.b.redis, err, sizeof err);
    assert_non_null(c);
    long long gen = tk_data_gen(c);
    assert_true(gen >= 0);
    assert_true(tk_hold_key(hk, sizeof hk, c, TK_HOLD_KEY_HOLD, (uint64_t)gen, (uint64_t)sched,
                            (uint64_t)(seat0 + 10)) > 0);
    redisReply *r = tk_redis_cmd(c, hk, "GET %s", hk);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STRING)
        fail_msg("no hold under %s", hk);
    freeReplyObject(r);
    tk_redis_free(c);
    free(j1);
    free(j2);
    assert_int_equal(itest_server_stop(&E), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_master_killed_mid_run),
        cmocka_unit_test(test_serve_on_the_cluster),
        cmocka_unit_test(test_cache_on_the_cluster),
        cmocka_unit_test(test_ask_and_moved), /* last: it rewrites slot ownership by hand */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
