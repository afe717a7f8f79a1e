/* The table of concurrency strategies (see strategy.h): how each books a
 * seat and charges points on the scenario sandbox tables.
 *
 * Statements are text protocol with integers formatted here (no user
 * strings reach SQL). Every function leaves the connection outside a
 * transaction whatever happens (ROLLBACK on every failure path), so one
 * failed attempt cannot poison the next. Errors are classified by MariaDB
 * errno: 1213 deadlock (retried, counted), 1205 lock wait timeout / NOWAIT
 * (counted, BUSY), 1062 duplicate key (SEAT_TAKEN for db-unique). */
#include "ticketctl/rcluster.h"
#include "ticketctl/strategy.h"

#include "ticketctl/hold.h"
#include "ticketctl/store.h"

#include <errno.h>
#include <mysqld_error.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_TTL_MS 600000 /* Redis keys of a run outlive it by minutes, then vanish */

/* ---- small helpers ---------------------------------------------------------- */

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* xorshift64 on *state (0 is replaced by a fixed non-zero seed). */
static uint64_t xrnd(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* Exponential backoff from first_us, doubled per attempt, +-50 % jitter,
 * capped at 50 ms. */
static void xbackoff(uint64_t *rng, int64_t first_us, int attempt)
{
    int64_t base = first_us > 0 ? first_us : 0;
    for (int i = 0; i < attempt && base < 50000; i++)
        base *= 2;
    if (base > 50000)
        base = 50000;
    if (base <= 0)
        return;
    sleep_us(base / 2 + (int64_t)(xrnd(rng) % (uint64_t)(base + 1)));
}

static uint64_t rnd(tk_sc_conn *c) { return xrnd(&c->rng); }
static void backoff(tk_sc_conn *c, int attempt) { xbackoff(&c->rng, c->params.backoff_us, attempt); }

/* Format and run one statement; returns 0 or the MariaDB errno. A result
 * set, if any, is stored in *res (caller frees) or discarded when res is NULL. */
static unsigned sq(tk_sc_conn *c, MYSQL_RES **res, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static unsigned sq(tk_sc_conn *c, MYSQL_RES **res, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (res)
        *res = NULL;
    if (n < 0 || (size_t)n >= sizeof sql)
        return ER_UNKNOWN_ERROR;
    if (mysql_real_query(c->db, sql, (unsigned long)n) != 0)
        return mysql_errno(c->db) ? mysql_errno(c->db) : ER_UNKNOWN_ERROR;
    MYSQL_RES *r = mysql_store_result(c->db);
    if (!r && mysql_field_count(c->db) != 0)
        return mysql_errno(c->db) ? mysql_errno(c->db) : ER_UNKNOWN_ERROR;
    if (res)
        *res = r;
    else if (r)
        mysql_free_result(r);
    return 0;
}

/* One row, up to 2 integer columns (a string column read as "AVAILABLE"
 * -> 1, "HELD" -> 0 via is_avail). Returns 0 row found, 1 no row, or the errno. */
static unsigned sq_row(tk_sc_conn *c, int64_t *a, int64_t *b, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static unsigned sq_row(tk_sc_conn *c, int64_t *a, int64_t *b, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof sql)
        return ER_UNKNOWN_ERROR;
    MYSQL_RES *r;
    unsigned e = sq(c, &r, "%s", sql);
    if (e)
        return e;
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    unsigned rc = 1;
    if (row) {
        unsigned nf = mysql_num_fields(r);
        if (a)
            *a = row[0] ? (row[0][0] == 'A' ? 1 : row[0][0] == 'H' ? 0 : strtoll(row[0], NULL, 10)) : 0;
        if (b && nf > 1)
            *b = row[1] ? strtoll(row[1], NULL, 10) : 0;
        rc = 0;
    }
    if (r)
        mysql_free_result(r);
    return rc;
}

static long long affected(tk_sc_conn *c) { return (long long)mysql_affected_rows(c->db); }

static void rollback(tk_sc_conn *c) { mysql_real_query(c->db, "ROLLBACK", 8); }

/* Map a MariaDB errno met inside an attempt: counts it, rolls back, and
 * returns the outcome; *retry is set for a deadlock worth retrying. */
static tk_sc_outcome db_outcome(tk_sc_conn *c, unsigned e, int attempt, int *retry)
{
    if (retry)
        *retry = 0;
    if (e != ER_LOCK_DEADLOCK && e != ER_LOCK_WAIT_TIMEOUT)
        snprintf(c->last_err, sizeof c->last_err, "MariaDB %u: %s", e, mysql_error(c->db));
    rollback(c);
    if (e == ER_LOCK_DEADLOCK) {
        c->deadlocks++;
        if (retry && attempt < c->params.max_retries) {
            c->retries++;
            *retry = 1;
            backoff(c, attempt);
        }
        return TK_SC_BUSY;
    }
    if (e == ER_LOCK_WAIT_TIMEOUT) {
        c->lock_timeouts++;
        return TK_SC_BUSY;
    }
    return TK_SC_ERROR;
}

static tk_sc_outcome redis_error(tk_sc_conn *c, redisReply *r)
{
    snprintf(c->last_err, sizeof c->last_err, "Redis: %s",
             r && r->type == REDIS_REPLY_ERROR ? r->str : c->redis->err ? c->redis->errstr : "no reply");
    if (r)
        freeReplyObject(r);
    return TK_SC_ERROR;
}

/* The reservation row plus the seat's state, inside the caller's transaction. */
static unsigned book_rows(tk_sc_conn *c, uint64_t user, uint64_t seat, uint64_t fence)
{
    unsigned e = sq(c, NULL, "INSERT INTO scn_reservations (seat_id, user_id, fence) VALUES (%llu, %llu, %llu)",
                    (unsigned long long)seat, (unsigned long long)user, (unsigned long long)fence);
    if (e)
        return e;
    return sq(c, NULL, "UPDATE scn_seats SET status = 'HELD', version = version + 1 WHERE id = %llu",
              (unsigned long long)seat);
}

/* ---- none: read-check-write, unprotected --------------------------------------- */

static tk_sc_outcome none_reserve(tk_sc_conn *c, uint64_t user, uint64_t seat, int64_t pause_ms)
{
    int64_t avail = 0;
    unsigned e = sq_row(c, &avail, NULL, "SELECT status FROM scn_seats WHERE id = %llu", (unsigned long long)seat);
    if (e == 1)
        return TK_SC_SEAT_TAKEN;
    if (e)
        return db_outcome(c, e, 0, NULL);
    if (!avail)
        return TK_SC_SEAT_TAKEN;
    sleep_us(pause_ms * 1000);
    /* autocommit: two independent writes, exactly what an unguarded app does */
    if ((e = book_rows(c, user, seat, 0)) != 0)
        return db_outcome(c, e, 0, NULL);
    return TK_SC_OK;
}

static tk_sc_outcome none_charge(tk_sc_conn *c, uint64_t account, int64_t amount, int64_t pause_ms)
{
    int64_t points = 0;
    unsigned e = sq_row(c, &points, NULL, "SELECT points FROM scn_accounts WHERE id = %llu", (unsigned long long)account);
    if (e)
        return e == 1 ? TK_SC_ERROR : db_outcome(c, e, 0, NULL);
    sleep_us(pause_ms * 1000);
    if ((e = sq(c, NULL, "UPDATE scn_accounts SET points = %lld WHERE id = %llu", (long long)(points + amount),
                (unsigned long long)account)) != 0 ||
        (e = sq(c, NULL, "INSERT INTO scn_point_history (account_id, amount, balance_after) VALUES (%llu, %lld, %lld)",
                (unsigned long long)account, (long long)amount, (long long)(points + amount))) != 0)
        return db_outcome(c, e, 0, NULL);
    return TK_SC_OK;
}

/* ---- optimistic: version column, conditional UPDATE, bounded retries ---------------- */

static tk_sc_outcome opt_reserve(tk_sc_conn *c, uint64_t user, uint64_t seat, int64_t pause_ms)
{
    for (int attempt = 0;; attempt++) {
        int64_t avail = 0, version = 0;
        unsigned e = sq_row(c, &avail, &version, "SELECT status, version FROM scn_seats WHERE id = %llu",
                            (unsigned long long)seat);
        if (e == 1)
            return TK_SC_SEAT_TAKEN;
        if (e)
            return db_outcome(c, e, 0, NULL);
        if (!avail)
            return TK_SC_SEAT_TAKEN;
        if (attempt == 0)
            sleep_us(pause_ms * 1000);
        int retry = 0;
        tk_sc_outcome o = TK_SC_BUSY;
        if ((e = sq(c, NULL, "START TRANSACTION")) != 0 ||
            (e = sq(c, NULL,
                    "UPDATE scn_seats SET status = 'HELD', version = version + 1 WHERE id = %llu AND version = %lld",
                    (unsigned long long)seat, (long long)version)) != 0) {
            o = db_outcome(c, e, attempt, &retry);
            if (retry)
                continue;
            return o;
        }
        if (affected(c) == 1) {
            if ((e = sq(c, NULL, "INSERT INTO scn_reservations (seat_id, user_id) VALUES (%llu, %llu)",
                        (unsigned long long)seat, (unsigned long long)user)) != 0 ||
                (e = sq(c, NULL, "COMMIT")) != 0) {
                o = db_outcome(c, e, attempt, &retry);
                if (retry)
                    continue;
                return o;
            }
            return TK_SC_OK;
        }
        rollback(c);
        if (attempt >= c->params.max_retries)
            return TK_SC_CONFLICT;
        c->retries++;
        backoff(c, attempt);
    }
}

static tk_sc_outcome opt_charge(tk_sc_conn *c, uint64_t account, int64_t amount, int64_t pause_ms)
{
    for (int attempt = 0;; attempt++) {
        int64_t points = 0, version = 0;
        unsigned e = sq_row(c, &points, &version, "SELECT points, version FROM scn_accounts WHERE id = %llu",
                            (unsigned long long)account);
        if (e)
            return e == 1 ? TK_SC_ERROR : db_outcome(c, e, 0, NULL);
        if (attempt == 0)
            sleep_us(pause_ms * 1000);
        int retry = 0;
        tk_sc_outcome o;
        if ((e = sq(c, NULL, "START TRANSACTION")) != 0 ||
            (e = sq(c, NULL, "UPDATE scn_accounts SET points = %lld, version = version + 1 WHERE id = %llu AND version = %lld",
                    (long long)(points + amount), (unsigned long long)account, (long long)version)) != 0) {
            o = db_outcome(c, e, attempt, &retry);
            if (retry)
                continue;
            return o;
        }
        if (affected(c) == 1) {
            if ((e = sq(c, NULL,
                        "INSERT INTO scn_point_history (account_id, amount, balance_after) VALUES (%llu, %lld, %lld)",
                        (unsigned long long)account, (long long)amount, (long long)(points + amount))) != 0 ||
                (e = sq(c, NULL, "COMMIT")) != 0) {
                o = db_outcome(c, e, attempt, &retry);
                if (retry)
                    continue;
                return o;
            }
            return TK_SC_OK;
        }
        rollback(c);
        if (attempt >= c->params.max_retries)
            return TK_SC_CONFLICT;
        c->retries++;
        backoff(c, attempt);
    }
}

/* ---- pessimistic: SELECT ... FOR UPDATE [NOWAIT | SKIP LOCKED] --------------------- */

enum { LOCK_WAIT = 0, LOCK_NOWAIT, LOCK_SKIP };
static const char *const lock_suffix[] = {"", " NOWAIT", " SKIP LOCKED"};

static tk_sc_outcome pess_reserve_mode(tk_sc_conn *c, uint64_t user, uint64_t seat, int64_t pause_ms, int mode)
{
    for (int attempt = 0;; attempt++) {
        int retry = 0;
        int64_t avail = 0;
        unsigned e = sq(c, NULL, "START TRANSACTION");
        if (!e)
            e = sq_row(c, &avail, NULL, "SELECT status FROM scn_seats WHERE id = %llu FOR UPDATE%s",
                       (unsigned long long)seat, lock_suffix[mode]);
        if (e == 1) { /* no row: with SKIP LOCKED, someone holds the lock */
            rollback(c);
            return mode == LOCK_SKIP ? TK_SC_BUSY : TK_SC_SEAT_TAKEN;
        }
        if (e) {
            tk_sc_outcome o = db_outcome(c, e, attempt, &retry);
            if (retry)
                continue;
            return o;
        }
        if (!avail) {
            rollback(c);
            return TK_SC_SEAT_TAKEN;
        }
        sleep_us(pause_ms * 1000);
        if ((e = book_rows(c, user, seat, 0)) != 0 || (e = sq(c, NULL, "COMMIT")) != 0) {
            tk_sc_outcome o = db_outcome(c, e, attempt, &retry);
            if (retry)
                continue;
            return o;
        }
        return TK_SC_OK;
    }
}

static tk_sc_outcome pess_reserve(tk_sc_conn *c, uint64_t u, uint64_t s, int64_t p) { return pess_reserve_mode(c, u, s, p, LOCK_WAIT); }
static tk_sc_outcome nowait_reserve(tk_sc_conn *c, uint64_t u, uint64_t s, int64_t p) { return pess_reserve_mode(c, u, s, p, LOCK_NOWAIT); }
static tk_sc_outcome skip_reserve(tk_sc_conn *c, uint64_t u, uint64_t s, int64_t p) { return pess_reserve_mode(c, u, s, p, LOCK_SKIP); }

static tk_sc_outcome pess_charge_mode(tk_sc_conn *c, uint64_t account, int64_t amount, int64_t pause_ms, int mode)
{
    for (int attempt = 0;; attempt++) {
        int retry = 0;
        int64_t points = 0;
        unsigned e = sq(c, NULL, "START TRANSACTION");
        if (!e)
            e = sq_row(c, &points, NULL, "SELECT points FROM scn_accounts WHERE id = %llu FOR UPDATE%s",
                       (unsigned long long)account, lock_suffix[mode]);
        if (e == 1) {
            rollback(c);
            return mode == LOCK_SKIP ? TK_SC_BUSY : TK_SC_ERROR;
        }
        if (!e) {
            sleep_us(pause_ms * 1000);
            e = sq(c, NULL, "UPDATE scn_accounts SET points = %lld, version = version + 1 WHERE id = %llu",
                   (long long)(points + amount), (unsigned long long)account);
        }
        if (!e)
            e = sq(c, NULL, "INSERT INTO scn_point_history (account_id, amount, balance_after) VALUES (%llu, %lld, %lld)",
                   (unsigned long long)account, (long long)amount, (long long)(points + amount));
        if (!e)
            e = sq(c, NULL, "COMMIT");
        if (!e)
            return TK_SC_OK;
        tk_sc_outcome o = db_outcome(c, e, attempt, &retry);
        if (!retry)
            return o;
    }
}

static tk_sc_outcome pess_charge(tk_sc_conn *c, uint64_t a, int64_t n, int64_t p) { return pess_charge_mode(c, a, n, p, LOCK_WAIT); }
static tk_sc_outcome nowait_charge(tk_sc_conn *c, uint64_t a, int64_t n, int64_t p) { return pess_charge_mode(c, a, n, p, LOCK_NOWAIT); }

/* ---- atomic: UPDATE ... SET points = points + ? ------------------------------------ */

static tk_sc_outcome atomic_charge(tk_sc_conn *c, uint64_t account, int64_t amount, int64_t pause_ms)
{
    (void)pause_ms; /* no window between read and write to pause in: that is the point */
    for (int attempt = 0;; attempt++) {
        int retry = 0;
        unsigned e = sq(c, NULL, "START TRANSACTION");
        /* LAST_INSERT_ID(expr) hands the new balance back without a SELECT */
        if (!e)
            e = sq(c, NULL, "UPDATE scn_accounts SET points = LAST_INSERT_ID(points + %lld), version = version + 1 WHERE id = %llu",
                   (long long)amount, (unsigned long long)account);
        if (!e && affected(c) != 1) {
            rollback(c);
            snprintf(c->last_err, sizeof c->last_err, "account %llu not found", (unsigned long long)account);
            return TK_SC_ERROR;
        }
        if (!e) {
            long long balance = (long long)mysql_insert_id(c->db);
            e = sq(c, NULL, "INSERT INTO scn_point_history (account_id, amount, balance_after) VALUES (%llu, %lld, %lld)",
                   (unsigned long long)account, (long long)amount, balance);
        }
        if (!e)
            e = sq(c, NULL, "COMMIT");
        if (!e)
            return TK_SC_OK;
        tk_sc_outcome o = db_outcome(c, e, attempt, &retry);
        if (!retry)
            return o;
    }
}

/* ---- redis-lock: SET NX PX + compare-and-delete, fencing token -------------------- */

/* Acquire the lock and issue the next fencing token in one atomic step, so
 * tokens are handed out in the order the lock was granted. Returns the
 * token (> 0) or 0 when the lock is held. */
static const char acquire_lua[] =
    "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then"
    "  redis.call('pexpire', KEYS[2], ARGV[3]); return redis.call('incr', KEYS[2])"
    " end return 0";
/* Compare-and-delete (Redis docs, "Distributed locks with Redis"). */
static const char release_lua[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

static void lock_release(tk_sc_conn *c, uint64_t seat, const char *token)
{
    char key[80];
    snprintf(key, sizeof key, "tk:scn:{%llu}:lock:%llu", (unsigned long long)c->run_id, (unsigned long long)seat);
    redisReply *r = tk_redis_cmd(c->redis, key, "EVAL %s 1 %s %s", release_lua, key, token);
    if (r)
        freeReplyObject(r);
}

static tk_sc_outcome rlock_reserve_mode(tk_sc_conn *c, uint64_t user, uint64_t seat, int64_t pause_ms, int fenced)
{
    unsigned char raw[16];
    char token[33];
    randombytes_buf(raw, sizeof raw);
    for (int i = 0; i < 16; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);

    uint64_t deadline = tk_mono_us() + (uint64_t)(c->params.lock_wait_ms > 0 ? c->params.lock_wait_ms : 0) * 1000;
    long long fence = 0;
    int waited = 0;
    for (int poll = 0;; poll++) {
        char key[80], fkey[80]; /* one hash tag per run: one Redis Cluster slot */
        snprintf(key, sizeof key, "tk:scn:{%llu}:lock:%llu", (unsigned long long)c->run_id, (unsigned long long)seat);
        snprintf(fkey, sizeof fkey, "tk:scn:{%llu}:fence:%llu", (unsigned long long)c->run_id,
                 (unsigned long long)seat);
        redisReply *r = tk_redis_cmd(c->redis, key, "EVAL %s 2 %s %s %s %lld %d", acquire_lua, key, fkey, token,
                                     (long long)c->params.lease_ms, KEY_TTL_MS);
        if (!r || r->type != REDIS_REPLY_INTEGER)
            return redis_error(c, r);
        fence = r->integer;
        freeReplyObject(r);
        if (fence > 0)
            break;
        if (tk_mono_us() >= deadline) {
            c->lock_timeouts++;
            return TK_SC_BUSY;
        }
        waited = 1;
        sleep_us(500 + (int64_t)(rnd(c) % (uint64_t)(poll < 10 ? 500 * (poll + 1) : 5000)));
    }
    if (waited)
        c->redis_lock_waits++;

    tk_sc_outcome out = TK_SC_OK;
    unsigned e;
    if (fenced) {
        /* Present the token before reading: the seat row remembers the
         * highest token it has seen, so a holder whose lease expired
         * (a newer token got here) is rejected now or at its write. */
        if ((e = sq(c, NULL, "UPDATE scn_seats SET fence = %lld WHERE id = %llu AND fence < %lld", fence,
                    (unsigned long long)seat, fence)) != 0) {
            out = db_outcome(c, e, 0, NULL);
            goto done;
        }
        if (affected(c) != 1) {
            out = TK_SC_STALE;
            goto done;
        }
    }
    int64_t avail = 0;
    e = sq_row(c, &avail, NULL, "SELECT status FROM scn_seats WHERE id = %llu", (unsigned long long)seat);
    if (e) {
        out = e == 1 ? TK_SC_SEAT_TAKEN : db_outcome(c, e, 0, NULL);
        goto done;
    }
    if (!avail) {
        out = TK_SC_SEAT_TAKEN;
        goto done;
    }
    sleep_us(pause_ms * 1000); /* a GC pause, a page fault storm: the lease may run out here */
    if (fenced) {
        if ((e = sq(c, NULL, "START TRANSACTION")) != 0 ||
            (e = sq(c, NULL, "UPDATE scn_seats SET status = 'HELD', version = version + 1 WHERE id = %llu AND fence = %lld",
                    (unsigned long long)seat, fence)) != 0) {
            out = db_outcome(c, e, 0, NULL);
            goto done;
        }
        if (affected(c) != 1) { /* a newer token was presented meanwhile */
            rollback(c);
            out = TK_SC_STALE;
            goto done;
        }
        if ((e = sq(c, NULL, "INSERT INTO scn_reservations (seat_id, user_id, fence) VALUES (%llu, %llu, %lld)",
                    (unsigned long long)seat, (unsigned long long)user, fence)) != 0 ||
            (e = sq(c, NULL, "COMMIT")) != 0) {
            out = db_outcome(c, e, 0, NULL);
            goto done;
        }
    } else if ((e = book_rows(c, user, seat, (uint64_t)fence)) != 0) {
        out = db_outcome(c, e, 0, NULL);
    }
done:
    lock_release(c, seat, token); /* a no-op when the lease expired and another holds it */
    return out;
}

static tk_sc_outcome rlock_reserve(tk_sc_conn *c, uint64_t u, uint64_t s, int64_t p) { return rlock_reserve_mode(c, u, s, p, 1); }
static tk_sc_outcome rlock_nofence_reserve(tk_sc_conn *c, uint64_t u, uint64_t s, int64_t p) { return rlock_reserve_mode(c, u, s, p, 0); }

/* ---- redis-atomic: one Lua script holds the seat and counts down ----------------------- */

static const char hold_lua[] =
    "if redis.call('exists', KEYS[1]) == 1 then return 0 end "
    "local left = tonumber(redis.call('get', KEYS[2]) or '0') "
    "if left <= 0 then return -1 end "
    "redis.call('decr', KEYS[2]) "
    "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "return 1";
/* Undo a hold the database refused: drop the key if still ours, give the seat back. */
static const char unhold_lua[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) redis.call('incr', KEYS[2]) return 1 end "
    "return 0";

const char *tk_strategy_hold_lua(void) { return hold_lua; }

static int atomic_prepare(tk_sc_conn *c, uint64_t nseats)
{
    char key[64];
    snprintf(key, sizeof key, "tk:scn:{%llu}:remaining", (unsigned long long)c->run_id);
    redisReply *r = tk_redis_cmd(c->redis, key, "SET %s %llu PX %d", key, (unsigned long long)nseats, KEY_TTL_MS);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok)
        redis_error(c, r);
    else
        freeReplyObject(r);
    return ok ? 0 : -1;
}

static void unhold(tk_sc_conn *c, uint64_t user, uint64_t seat)
{
    char key[80], rkey[64];
    snprintf(key, sizeof key, "tk:scn:{%llu}:seat:%llu", (unsigned long long)c->run_id, (unsigned long long)seat);
    snprintf(rkey, sizeof rkey, "tk:scn:{%llu}:remaining", (unsigned long long)c->run_id);
    redisReply *r = tk_redis_cmd(c->redis, key, "EVAL %s 2 %s %s %llu", unhold_lua, key, rkey, (unsigned long long)user);
    if (r)
        freeReplyObject(r);
}

static tk_sc_outcome ratomic_reserve(tk_sc_conn *c, uint64_t user, uint64_t seat, int64_t pause_ms)
{
    char key[80], rkey[64];
    snprintf(key, sizeof key, "tk:scn:{%llu}:seat:%llu", (unsigned long long)c->run_id, (unsigned long long)seat);
    snprintf(rkey, sizeof rkey, "tk:scn:{%llu}:remaining", (unsigned long long)c->run_id);
    redisReply *r = tk_redis_cmd(c->redis, key, "EVAL %s 2 %s %s %llu %d", hold_lua, key, rkey,
                                 (unsigned long long)user, KEY_TTL_MS);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return redis_error(c, r);
    long long got = r->integer;
    freeReplyObject(r);
    if (got != 1)
        return TK_SC_SEAT_TAKEN; /* held already (0) or sold out (-1): no database work at all */
    sleep_us(pause_ms * 1000);
    /* the database stays the arbiter: a lost Redis key costs a round trip, never a double booking */
    unsigned e;
    if ((e = sq(c, NULL, "START TRANSACTION")) != 0 ||
        (e = sq(c, NULL, "UPDATE scn_seats SET status = 'HELD', version = version + 1 WHERE id = %llu AND status = 'AVAILABLE'",
                (unsigned long long)seat)) != 0) {
        tk_sc_outcome o = db_outcome(c, e, 0, NULL);
        unhold(c, user, seat);
        return o;
    }
    if (affected(c) != 1) {
        rollback(c);
        unhold(c, user, seat);
        return TK_SC_SEAT_TAKEN;
    }
    if ((e = sq(c, NULL, "INSERT INTO scn_reservations (seat_id, user_id) VALUES (%llu, %llu)", (unsigned long long)seat,
                (unsigned long long)user)) != 0 ||
        (e = sq(c, NULL, "COMMIT")) != 0) {
        tk_sc_outcome o = db_outcome(c, e, 0, NULL);
        unhold(c, user, seat);
        return o;
    }
    return TK_SC_OK;
}

/* ---- db-unique: the UNIQUE live_seat_id answers ---------------------------------------- */

static tk_sc_outcome unique_reserve(tk_sc_conn *c, uint64_t user, uint64_t seat, int64_t pause_ms)
{
    sleep_us(pause_ms * 1000);
    for (int attempt = 0;; attempt++) {
        unsigned e = sq(c, NULL, "INSERT INTO scn_reservations (seat_id, user_id, live_seat_id) VALUES (%llu, %llu, %llu)",
                        (unsigned long long)seat, (unsigned long long)user, (unsigned long long)seat);
        if (e == ER_DUP_ENTRY)
            return TK_SC_SEAT_TAKEN;
        if (e) {
            int retry = 0;
            tk_sc_outcome o = db_outcome(c, e, attempt, &retry);
            if (retry)
                continue;
            return o;
        }
        break;
    }
    /* the seat row is informational here; the unique key already decided */
    unsigned e = sq(c, NULL, "UPDATE scn_seats SET status = 'HELD', version = version + 1 WHERE id = %llu",
                    (unsigned long long)seat);
    if (e)
        return db_outcome(c, e, 0, NULL);
    return TK_SC_OK;
}

/* ---- the strategies in serve: the product tables ------------------------------------------ */

tk_sc_params tk_strategy_serve_params(void)
{
    tk_sc_params p = {.lease_ms = 5000, .lock_wait_ms = 200, .max_retries = 3, .backoff_us = 1000};
    return p;
}

const char *tk_strategy_serve_refusal(const tk_strategy *st)
{
    if (!st)
        return "unknown strategy";
    if (st->flags & TK_STRAT_UNSAFE)
        return "UNSAFE: it exists to show a failure in `ticketctl scenario`, not to serve";
    if (!st->reserve)
        return "it is a point-charging strategy only";
    return NULL;
}

const tk_strategy *tk_strategy_for_serve(const char *name, const char **why)
{
    const tk_strategy *st = tk_strategy_find(name);
    *why = tk_strategy_serve_refusal(st);
    return *why ? NULL : st;
}

/* Lock + next fencing token in one step. The counter starts at the wall
 * clock in µs when missing (ARGV[3]), so tokens keep growing past what the
 * seat rows remember even if Redis lost the counter (no persistence in the
 * dev stack). Returns the token, or 0 when the lock is held. */
static const char serve_lock_lua[] =
    "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then"
    "  if redis.call('exists', KEYS[2]) == 0 then redis.call('set', KEYS[2], ARGV[3]) end"
    "  return redis.call('incr', KEYS[2])"
    " end return 0";

static uint64_t ctx_rnd(tk_serve_hold_ctx *c) { return xrnd(&c->rng); }

static tk_rc serve_optimistic(tk_serve_hold_ctx *c, uint64_t user, uint64_t seat, int ttl_s, tk_reservation *out)
{
    for (int attempt = 0;; attempt++) {
        int avail = 0;
        uint64_t version = 0;
        tk_rc rc = tk_store_seat_version(c->store, seat, &avail, &version);
        if (rc != TK_OK)
            return rc;
        if (!avail)
            return tk_store_fail(c->store, TK_ECONFLICT, "SEAT_TAKEN", "seat %llu is already held or sold",
                                 (unsigned long long)seat);
        rc = tk_store_reserve_as(c->store, user, seat, ttl_s, TK_GUARD_VERSION, version, out);
        if (rc != TK_ECONFLICT || strcmp(tk_store_errcode(c->store), "CONFLICT") != 0)
            return rc;
        if (attempt >= c->params.max_retries)
            return tk_store_fail(c->store, TK_ECONFLICT, "CONFLICT",
                                 "seat %llu kept changing: %d optimistic retries spent", (unsigned long long)seat,
                                 c->params.max_retries);
        c->retries++;
        xbackoff(&c->rng, c->params.backoff_us, attempt);
    }
}

static tk_rc serve_redis_lock(tk_serve_hold_ctx *c, uint64_t user, uint64_t seat, int ttl_s, tk_reservation *out)
{
    unsigned char raw[16];
    char token[33];
    randombytes_buf(raw, sizeof raw);
    for (int i = 0; i < 16; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long base = (long long)now.tv_sec * 1000000LL + now.tv_nsec / 1000;
    uint64_t deadline = tk_mono_us() + (uint64_t)(c->params.lock_wait_ms > 0 ? c->params.lock_wait_ms : 0) * 1000;
    long long fence = 0;
    for (int poll = 0;; poll++) {
        char key[96], fkey[96]; /* lock and fence in one Redis Cluster slot (hold.h) */
        tk_hold_key(key, sizeof key, c->redis, TK_HOLD_KEY_LOCK, c->gen, c->schedule_id, seat);
        tk_hold_key(fkey, sizeof fkey, c->redis, TK_HOLD_KEY_FENCE, c->gen, c->schedule_id, seat);
        redisReply *r = tk_redis_cmd(c->redis, key, "EVAL %s 2 %s %s %s %lld %lld", serve_lock_lua, key, fkey, token,
                                     (long long)c->params.lease_ms, base);
        if (!r || r->type != REDIS_REPLY_INTEGER) { /* Redis down: the arbiter alone */
            if (r)
                freeReplyObject(r);
            return tk_store_reserve_as(c->store, user, seat, ttl_s, TK_GUARD_ARBITER, 0, out);
        }
        fence = r->integer;
        freeReplyObject(r);
        if (fence > 0)
            break;
        if (tk_mono_us() >= deadline)
            return tk_store_fail(c->store, TK_EBUSY, "LOCK_BUSY",
                                 "seat %llu is locked by another request for over %lld ms; try again",
                                 (unsigned long long)seat, (long long)c->params.lock_wait_ms);
        c->retries++;
        sleep_us(500 + (int64_t)(ctx_rnd(c) % (uint64_t)(poll < 10 ? 500 * (poll + 1) : 5000)));
    }
    tk_rc rc = tk_store_reserve_as(c->store, user, seat, ttl_s, TK_GUARD_FENCE, (uint64_t)fence, out);
    char key[96];
    tk_hold_key(key, sizeof key, c->redis, TK_HOLD_KEY_LOCK, c->gen, c->schedule_id, seat);
    redisReply *r = tk_redis_cmd(c->redis, key, "EVAL %s 1 %s %s", release_lua, key, token);
    if (r)
        freeReplyObject(r);
    return rc;
}

tk_rc tk_strategy_serve_hold(const tk_strategy *st, tk_serve_hold_ctx *c, uint64_t user_id, uint64_t seat_id,
                             int hold_ttl_s, tk_reservation *out)
{
    c->redis_rejected = 0;
    c->retries = 0;
    const char *why = tk_strategy_serve_refusal(st);
    if (why)
        return tk_store_fail(c->store, TK_EINVAL, "VALIDATION", "strategy %s cannot serve: %s",
                             st ? st->name : "?", why);
    if (st->serve_guard == TK_GUARD_VERSION)
        return serve_optimistic(c, user_id, seat_id, hold_ttl_s, out);
    if (st->serve_redis == TK_SERVE_REDIS_LOCK && c->redis)
        return serve_redis_lock(c, user_id, seat_id, hold_ttl_s, out);
    int held;
    tk_rc rc = tk_strategy_serve_hold_gate(st, c, user_id, seat_id, hold_ttl_s, &held);
    if (rc != TK_OK)
        return rc;
    tk_seat_guard guard = st->serve_guard == TK_GUARD_FENCE ? TK_GUARD_ARBITER : (tk_seat_guard)st->serve_guard;
    rc = tk_store_reserve_as(c->store, user_id, seat_id, hold_ttl_s, guard, 0, out);
    tk_strategy_serve_hold_done(c, user_id, seat_id, rc, held);
    return rc;
}

int tk_strategy_serve_batchable(const tk_strategy *st)
{
    return st && !tk_strategy_serve_refusal(st) && st->serve_guard == TK_GUARD_ARBITER &&
           st->serve_redis != TK_SERVE_REDIS_LOCK;
}

tk_rc tk_strategy_serve_hold_gate(const tk_strategy *st, tk_serve_hold_ctx *c, uint64_t user_id, uint64_t seat_id,
                                  int hold_ttl_s, int *held)
{
    c->redis_rejected = 0;
    *held = 0;
    if (st->serve_redis == TK_SERVE_REDIS_HOLD && c->redis) {
        tk_rc hold = tk_hold_acquire(c->redis, c->gen, c->schedule_id, seat_id, user_id, (int64_t)hold_ttl_s * 1000 + 5000);
        if (hold == TK_ECONFLICT) { /* someone holds it: no database work at all */
            c->redis_rejected = 1;
            return tk_store_fail(c->store, TK_ECONFLICT, "SEAT_TAKEN", "seat %llu is already held or sold",
                                 (unsigned long long)seat_id);
        }
        *held = hold == TK_OK;
    }
    return TK_OK;
}

void tk_strategy_serve_hold_done(tk_serve_hold_ctx *c, uint64_t user_id, uint64_t seat_id, tk_rc rc, int held)
{
    if (rc != TK_OK && held)
        tk_hold_release(c->redis, c->gen, c->schedule_id, seat_id, user_id);
}

/* ---- the table ------------------------------------------------------------------------------ */

static const tk_strategy strategies[] = {
    {"none", "read-check-write with no protection (shows the race)", TK_STRAT_UNSAFE, none_reserve, none_charge, NULL,
     TK_SERVE_NO_REDIS, TK_GUARD_ARBITER},
    {"optimistic", "version column, conditional UPDATE, bounded retries with backoff", 0, opt_reserve, opt_charge, NULL,
     TK_SERVE_NO_REDIS, TK_GUARD_VERSION},
    {"pessimistic", "SELECT ... FOR UPDATE, waits for the row lock", 0, pess_reserve, pess_charge, NULL,
     TK_SERVE_NO_REDIS, TK_GUARD_FOR_UPDATE},
    {"pessimistic-nowait", "SELECT ... FOR UPDATE NOWAIT: a locked row is BUSY at once", 0, nowait_reserve, nowait_charge, NULL,
     TK_SERVE_NO_REDIS, TK_GUARD_NOWAIT},
    {"pessimistic-skip-locked", "SELECT ... FOR UPDATE SKIP LOCKED: a locked seat is skipped (BUSY)", 0, skip_reserve, NULL, NULL,
     TK_SERVE_NO_REDIS, TK_GUARD_SKIP_LOCKED},
    {"redis-lock", "SET NX PX per seat, compare-and-delete release, fencing token checked by the DB", 0, rlock_reserve, NULL, NULL,
     TK_SERVE_REDIS_LOCK, TK_GUARD_FENCE},
    {"redis-lock-nofence", "redis-lock without the fencing check (shows the expired-lease write)", TK_STRAT_UNSAFE,
     rlock_nofence_reserve, NULL, NULL, TK_SERVE_REDIS_LOCK, TK_GUARD_ARBITER},
    {"redis-atomic", "one Lua script holds the seat and decrements the remaining count; DB arbitrates the winner", 0,
     ratomic_reserve, NULL, atomic_prepare, TK_SERVE_REDIS_HOLD, TK_GUARD_ARBITER},
    {"db-unique", "INSERT with a UNIQUE live_seat_id; duplicate key = SEAT_TAKEN", 0, unique_reserve, NULL, NULL,
     TK_SERVE_NO_REDIS, TK_GUARD_UNIQUE},
    {"atomic", "points: UPDATE ... SET points = points + ? in one statement", 0, NULL, atomic_charge, NULL,
     TK_SERVE_NO_REDIS, TK_GUARD_ARBITER},
};

#define NSTRAT (sizeof strategies / sizeof strategies[0])

const tk_strategy *tk_strategy_find(const char *name)
{
    for (size_t i = 0; name && i < NSTRAT; i++)
        if (!strcmp(strategies[i].name, name))
            return &strategies[i];
    return NULL;
}

const tk_strategy *tk_strategy_at(size_t i) { return i < NSTRAT ? &strategies[i] : NULL; }

size_t tk_strategy_count(void) { return NSTRAT; }

const char *tk_sc_outcome_name(tk_sc_outcome o)
{
    static const char *const names[] = {"OK", "SEAT_TAKEN", "CONFLICT", "BUSY", "STALE", "ERROR"};
    return (unsigned)o < TK_SC_NOUTCOMES ? names[o] : "?";
}

tk_rc tk_sc_outcome_rc(tk_sc_outcome o)
{
    switch (o) {
    case TK_SC_OK: return TK_OK;
    case TK_SC_SEAT_TAKEN: case TK_SC_CONFLICT: case TK_SC_STALE: return TK_ECONFLICT;
    case TK_SC_BUSY: return TK_EBUSY;
    default: return TK_EBACKEND;
    }
}
