/* Concurrency strategies compared by `ticketctl scenario`: one table, one
 * row per strategy (name, what it does, how it books a seat, how it charges
 * points), selectable by name.
 *
 * Every strategy works on the scenario sandbox tables of migration 4
 * (scn_seats, scn_reservations, scn_accounts, scn_point_history), never on
 * the product tables: scn_reservations has no UNIQUE seat key, so the
 * unprotected strategy can really double book and the race is measured,
 * not assumed.
 *
 *   none                    read-check-write, no protection (UNSAFE: shows the race)
 *   optimistic              version column, conditional UPDATE, bounded retries with backoff
 *   pessimistic             SELECT ... FOR UPDATE (waits up to innodb_lock_wait_timeout)
 *   pessimistic-nowait      SELECT ... FOR UPDATE NOWAIT (a locked row answers BUSY at once)
 *   pessimistic-skip-locked SELECT ... FOR UPDATE SKIP LOCKED (a locked row is skipped: BUSY)
 *   redis-lock              per-seat SET key token NX PX lease, compare-and-delete release
 *                           (Redis docs: "Distributed locks with Redis"), plus a fencing
 *                           token (INCR, issued with the lock) that the database checks,
 *                           so a holder whose lease expired cannot write (Kleppmann 2016,
 *                           "How to do distributed locking")
 *   redis-lock-nofence      the same lock without the fencing check (UNSAFE: shows why)
 *   redis-atomic            one Lua script holds the seat and decrements a remaining-seat
 *                           counter; only its winner goes to the database, whose
 *                           conditional UPDATE stays the final arbiter
 *   db-unique               INSERT with a UNIQUE live_seat_id; the duplicate key answers
 *   atomic                  points only: UPDATE ... SET points = points + ? (one statement)
 *
 * Failure modes map to outcomes (never a crash): SEAT_TAKEN, CONFLICT (the
 * optimistic retry budget was spent), BUSY (lock wait timeout, NOWAIT, SKIP
 * LOCKED, Redis lock wait spent), STALE (the database rejected a fenced
 * write from an expired lease), ERROR (MariaDB/Redis failure). */
#ifndef TICKETCTL_STRATEGY_H
#define TICKETCTL_STRATEGY_H

#include <hiredis/hiredis.h>
#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketctl/common.h"

typedef enum tk_sc_outcome {
    TK_SC_OK = 0,     /* the seat is ours / the charge is booked */
    TK_SC_SEAT_TAKEN, /* someone else has the seat, or the sale is sold out */
    TK_SC_CONFLICT,   /* optimistic: the version kept changing; retries spent */
    TK_SC_BUSY,       /* lock not obtained in time (DB lock wait, NOWAIT, SKIP LOCKED, Redis wait) */
    TK_SC_STALE,      /* fenced: the database rejected a write from an expired lease */
    TK_SC_ERROR,      /* MariaDB or Redis failed; counted, the run goes on */
    TK_SC_NOUTCOMES
} tk_sc_outcome;

/* Stable upper-case name ("OK", "SEAT_TAKEN", "CONFLICT", "BUSY", "STALE",
 * "ERROR"); static storage. "?" for a value out of range. */
const char *tk_sc_outcome_name(tk_sc_outcome o);

/* The library return code an outcome corresponds to (TK_OK, TK_ECONFLICT
 * for SEAT_TAKEN/CONFLICT/STALE, TK_EBUSY, TK_EBACKEND). */
tk_rc tk_sc_outcome_rc(tk_sc_outcome o);

/* Tuning of the strategies for one run; times in the unit of the name. */
typedef struct tk_sc_params {
    int64_t lease_ms;      /* redis-lock lease (PX), > 0 */
    int64_t lock_wait_ms;  /* redis-lock: how long to poll for a held lock before BUSY, >= 0 */
    int max_retries;       /* optimistic retries (and deadlock retries), >= 0 */
    int64_t backoff_us;    /* first backoff; doubled per retry, +-50 % jitter, capped at 50 ms */
} tk_sc_params;

/* One worker's connections and counters. Owned by one thread: strategies
 * take no lock and never allocate per attempt. The caller opens db and
 * redis, zeroes the counters, and fills run_id/params before a run. */
typedef struct tk_sc_conn {
    MYSQL *db;
    redisContext *redis;
    uint64_t run_id;         /* namespaces this run's Redis keys: tk:scn:<run_id>:... */
    tk_sc_params params;
    uint64_t rng;            /* xorshift state for jitter; any non-zero value */
    /* counters, added to by the strategies */
    uint64_t retries;        /* optimistic re-reads and deadlock retries */
    uint64_t redis_lock_waits; /* redis-lock attempts that found the lock held and polled */
    uint64_t lock_timeouts;  /* MariaDB 1205 (wait timeout, NOWAIT) or Redis lock wait spent */
    uint64_t deadlocks;      /* MariaDB 1213 */
    char last_err[256];      /* the last ERROR's message */
} tk_sc_conn;

/* Book `seat` for `user`. pause_ms > 0 stops inside the critical section,
 * after the check and before the write (the lease-expiry scenario's
 * "process pause"; 0 everywhere else). */
typedef tk_sc_outcome (*tk_sc_reserve_fn)(tk_sc_conn *c, uint64_t user, uint64_t seat, int64_t pause_ms);
/* Add `amount` points to `account`, writing one scn_point_history row with
 * the balance after. pause_ms as above. */
typedef tk_sc_outcome (*tk_sc_charge_fn)(tk_sc_conn *c, uint64_t account, int64_t amount, int64_t pause_ms);
/* Once per run before the workers start (after the tables were reset),
 * with nseats seats: e.g. redis-atomic sets its remaining-seat counter.
 * Returns 0 or -1 (message in c->last_err). */
typedef int (*tk_sc_prepare_fn)(tk_sc_conn *c, uint64_t nseats);

#define TK_STRAT_UNSAFE 1u /* exists to show a failure: its violations are expected */

/* The Redis step a strategy puts in front of the database in `serve`. */
typedef enum tk_serve_redis {
    TK_SERVE_NO_REDIS = 0,
    TK_SERVE_REDIS_HOLD, /* SET hold key NX PX (hold.h): losers are answered from Redis */
    TK_SERVE_REDIS_LOCK, /* SET lock NX PX + fencing token, the DB checks the token */
} tk_serve_redis;

typedef struct tk_strategy {
    const char *name;
    const char *summary;
    unsigned flags;
    tk_sc_reserve_fn reserve; /* NULL: does not apply to seat scenarios */
    tk_sc_charge_fn charge;   /* NULL: does not apply to point scenarios */
    tk_sc_prepare_fn prepare; /* may be NULL */
    /* the same strategy on the product tables (`serve --strategy`): the
     * Redis step and the database guard (store.h, tk_seat_guard) */
    tk_serve_redis serve_redis;
    int serve_guard;
} tk_strategy;

/* The row named `name`, or NULL. */
const tk_strategy *tk_strategy_find(const char *name);
/* Row i (0-based) of the table, or NULL past the end. */
const tk_strategy *tk_strategy_at(size_t i);
size_t tk_strategy_count(void);

/* ---- the strategies in `serve` (and so in `bench`) ----------------------
 *
 * On the product tables every strategy keeps the database arbiter (the
 * conditional UPDATE of an AVAILABLE seat and the UNIQUE live_seat_id), so
 * none can double book; they differ in what they put in front of it and
 * so in cost and failure modes: redis-atomic answers the losers of a hot
 * seat from Redis, pessimistic makes them queue on the row lock (or fail
 * at once with NOWAIT / SKIP LOCKED), optimistic re-reads and retries,
 * redis-lock serialises the holders of a seat through a Redis lease whose
 * fencing token the seat row checks, db-unique lets the UNIQUE key decide.
 * The UNSAFE rows (none, redis-lock-nofence) exist to show a failure in
 * `scenario` and are refused by serve. */

struct tk_store;
struct tk_reservation;

/* Everything one serve worker needs to take holds; owned by that worker. */
typedef struct tk_serve_hold_ctx {
    struct tk_store *store;
    redisContext *redis;     /* may be NULL for strategies without a Redis step */
    uint64_t gen;            /* data generation (hold.h) namespacing Redis keys */
    uint64_t schedule_id;    /* the seat's schedule: its hold keys' hash tag on a Redis Cluster (hold.h); 0 = unknown, fine on one Redis */
    tk_sc_params params;     /* lease, lock wait, retries, backoff */
    uint64_t rng;            /* jitter state, any non-zero value */
    /* out, per call */
    int redis_rejected;      /* 1: answered SEAT_TAKEN by Redis, no database work */
    int retries;             /* optimistic re-reads / lock polls this call */
} tk_serve_hold_ctx;

/* Default tuning for serve: lease 5000 ms, lock wait 200 ms, 3 retries,
 * 1000 µs first backoff. */
tk_sc_params tk_strategy_serve_params(void);

/* NULL when `st` can take holds in serve; else a static reason (UNSAFE,
 * points only). */
const char *tk_strategy_serve_refusal(const tk_strategy *st);

/* The row named `name` if serve can take holds with it, else NULL with
 * *why set to a static reason (unknown, UNSAFE, points only). */
const tk_strategy *tk_strategy_for_serve(const char *name, const char **why);

/* Hold `seat_id` for `user_id` (hold_ttl_s seconds) under `st`. Returns
 * what tk_store_reserve_as returns (the error code and message are on
 * c->store: tk_store_errcode/errmsg), plus TK_ECONFLICT "SEAT_TAKEN" from
 * Redis, TK_ECONFLICT "CONFLICT" when optimistic retries are spent, TK_EBUSY
 * "LOCK_BUSY" when a Redis lock was not obtained within lock_wait_ms. A
 * Redis failure falls back to the database alone (the arbiter). */
tk_rc tk_strategy_serve_hold(const tk_strategy *st, tk_serve_hold_ctx *c, uint64_t user_id, uint64_t seat_id,
                             int hold_ttl_s, struct tk_reservation *out);

/* serve --db-batch (storebatch.h): tk_strategy_serve_hold in steps, for the
 * strategies whose database step is the arbiter alone (redis-atomic, the
 * default): tk_strategy_serve_batchable says which (1) . The gate is the
 * Redis step in front: TK_OK when the database step is due (*held: a Redis
 * hold was taken), else TK_ECONFLICT "SEAT_TAKEN" on c->store
 * (c->redis_rejected). After the database step (tk_store_reserve or a
 * batch item) with outcome rc, done releases a Redis hold the database
 * refused. */
int tk_strategy_serve_batchable(const tk_strategy *st);
tk_rc tk_strategy_serve_hold_gate(const tk_strategy *st, tk_serve_hold_ctx *c, uint64_t user_id, uint64_t seat_id,
                                  int hold_ttl_s, int *held);
void tk_strategy_serve_hold_done(tk_serve_hold_ctx *c, uint64_t user_id, uint64_t seat_id, tk_rc rc, int held);

/* Lua source of the redis-atomic hold script: KEYS[1] seat key, KEYS[2]
 * remaining-seat counter, ARGV[1] owner, ARGV[2] key TTL in ms; returns 1
 * (held, counter decremented), 0 (seat already held) or -1 (sold out).
 * Static storage; exposed so redis-benchmark can run the same EVAL. */
const char *tk_strategy_hold_lua(void);

#endif
