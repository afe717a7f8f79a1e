/* Contention scenarios: load and validate a scenario file, play it with a
 * pool of worker threads (each with its own MariaDB and Redis connection,
 * started together behind a barrier), measure the outcome in the database,
 * and build the results JSON (kind "scenario") that `ticketctl report`
 * renders. See scenario.h for the file format and strategy.h for the
 * strategies.
 *
 * The hot loop of a worker neither allocates nor locks: counters live in
 * the worker, latencies go into its own histogram, and everything is merged
 * after the join. Double bookings, oversell and balances are counted by SQL
 * after the run, independently of what the workers believe. */
#include "ticketctl/rcluster.h"
#include "ticketctl/scenario.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/hist.h"
#include "ticketctl/hold.h"
#include "ticketctl/strategy.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MAX_ACTORS 16
#define MAX_STRATS 16
#define MAX_INV 16
#define MAX_CONNECTIONS 900
#define NAME_MAX_LEN 64

typedef struct actor {
    char name[NAME_MAX_LEN + 1];
    long count;
    int64_t start_ms, pause_ms, amount;
    int tries;
} actor;

typedef struct invariant {
    char name[32];
    int64_t ms;
    char strategies[MAX_STRATS][40];
    int nstrat; /* 0: applies to all */
} invariant;

struct tk_scenario {
    char name[NAME_MAX_LEN + 1];
    char desc[512];
    char kind[8];
    int points; /* kind == "points" */
    long seats;
    int64_t initial_points;
    int connections; /* 0: default */
    actor actors[MAX_ACTORS];
    int nactors;
    tk_sc_params params;
    int db_lock_wait_s;
    char strategies[MAX_STRATS][40];
    int nstrat;
    invariant inv[MAX_INV];
    int ninv;
    long rb_requests;
    int rb_clients;
};

/* ---- parsing -------------------------------------------------------------------- */

static const char *const seat_invariants[] = {"no_double_booking", "no_oversell", "successes_match_rows",
                                              "all_seats_sold", "no_errors", "within_ms", NULL};
static const char *const point_invariants[] = {"balance_exact", "balance_equals_history", "no_errors", "within_ms",
                                               NULL};

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

/* Reject keys outside `allowed` so a typo is an error, not a silent default. */
static int check_keys(const json_t *o, const char *const *allowed, const char *where, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (!in_list(k, allowed))
            return tk_err(err, errlen, "%s: unknown key '%s'", where, k);
    }
    return 0;
}

/* Integer member `key` of o in [min, max]; absent -> def. 0 or -1. */
static int get_int(const json_t *o, const char *key, int64_t min, int64_t max, int64_t def, int64_t *out,
                   const char *where, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return tk_err(err, errlen, "%s.%s: must be a whole number", where, key);
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return tk_err(err, errlen, "%s.%s: %lld is out of range [%lld, %lld]", where, key, (long long)n,
                      (long long)min, (long long)max);
    *out = n;
    return 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static int parse_strategy_name(const tk_scenario *sc, const char *s, const char *where, char *err, size_t errlen)
{
    const tk_strategy *st = tk_strategy_find(s);
    if (!st)
        return tk_err(err, errlen, "%s: unknown strategy '%s' (see `ticketctl scenario strategies`)", where, s);
    if (sc->points ? !st->charge : !st->reserve)
        return tk_err(err, errlen, "%s: strategy '%s' does not apply to %s scenarios", where, s, sc->kind);
    return 0;
}

static int parse_root(tk_scenario *sc, const json_t *root, char *err, size_t errlen)
{
    static const char *const top[] = {"name", "description", "kind", "data", "connections", "actors", "lock",
                                      "strategies", "invariants", "redis_benchmark", NULL};
    if (!json_is_object(root))
        return tk_err(err, errlen, "the top level must be a JSON object");
    if (check_keys(root, top, "scenario", err, errlen) != 0)
        return -1;
    json_t *v = json_object_get(root, "name");
    if (!json_is_string(v) || !valid_name(json_string_value(v)))
        return tk_err(err, errlen, "name: required, 1-64 characters of [A-Za-z0-9._-]");
    snprintf(sc->name, sizeof sc->name, "%s", json_string_value(v));
    v = json_object_get(root, "description");
    if (v && !json_is_string(v))
        return tk_err(err, errlen, "description: must be a string");
    snprintf(sc->desc, sizeof sc->desc, "%s", v ? json_string_value(v) : "");
    v = json_object_get(root, "kind");
    if (!json_is_string(v) || (strcmp(json_string_value(v), "seats") && strcmp(json_string_value(v), "points")))
        return tk_err(err, errlen, "kind: required, \"seats\" or \"points\"");
    snprintf(sc->kind, sizeof sc->kind, "%s", json_string_value(v));
    sc->points = !strcmp(sc->kind, "points");

    int64_t n = 0;
    json_t *data = json_object_get(root, "data");
    if (!json_is_object(data))
        return tk_err(err, errlen, "data: required object");
    if (sc->points) {
        static const char *const dk[] = {"initial_points", NULL};
        if (check_keys(data, dk, "data", err, errlen) != 0 ||
            get_int(data, "initial_points", 0, 1000000000000LL, 0, &sc->initial_points, "data", err, errlen) != 0)
            return -1;
    } else {
        static const char *const dk[] = {"seats", NULL};
        if (check_keys(data, dk, "data", err, errlen) != 0 ||
            get_int(data, "seats", 1, 10000000, -1, &n, "data", err, errlen) != 0)
            return -1;
        if (n < 0)
            return tk_err(err, errlen, "data.seats: required for a seats scenario");
        sc->seats = (long)n;
    }
    if (get_int(root, "connections", 1, MAX_CONNECTIONS, 0, &n, "scenario", err, errlen) != 0)
        return -1;
    sc->connections = (int)n;

    json_t *actors = json_object_get(root, "actors");
    if (!json_is_array(actors) || json_array_size(actors) == 0)
        return tk_err(err, errlen, "actors: required, a non-empty array");
    if (json_array_size(actors) > MAX_ACTORS)
        return tk_err(err, errlen, "actors: at most %d groups", MAX_ACTORS);
    size_t i;
    json_t *a;
    long users = 0;
    json_array_foreach(actors, i, a) {
        static const char *const ak[] = {"name", "count", "start_ms", "pause_ms", "tries", "amount", NULL};
        char where[48];
        snprintf(where, sizeof where, "actors[%zu]", i);
        actor *ac = &sc->actors[i];
        if (!json_is_object(a))
            return tk_err(err, errlen, "%s: must be an object", where);
        if (check_keys(a, ak, where, err, errlen) != 0)
            return -1;
        json_t *nm = json_object_get(a, "name");
        if (nm && !json_is_string(nm))
            return tk_err(err, errlen, "%s.name: must be a string", where);
        snprintf(ac->name, sizeof ac->name, "%s", nm ? json_string_value(nm) : "users");
        int64_t tries = 1;
        if (get_int(a, "count", 1, 1000000, -1, &n, where, err, errlen) != 0)
            return -1;
        if (n < 0)
            return tk_err(err, errlen, "%s.count: required", where);
        ac->count = (long)n;
        if (get_int(a, "start_ms", 0, 600000, 0, &ac->start_ms, where, err, errlen) != 0 ||
            get_int(a, "pause_ms", 0, 600000, 0, &ac->pause_ms, where, err, errlen) != 0 ||
            get_int(a, "tries", 1, 100, 1, &tries, where, err, errlen) != 0 ||
            get_int(a, "amount", 1, 100000000, 100, &ac->amount, where, err, errlen) != 0)
            return -1;
        ac->tries = (int)tries;
        users += ac->count;
        if (users > 1000000)
            return tk_err(err, errlen, "actors: more than 1,000,000 users in total");
    }
    sc->nactors = (int)json_array_size(actors);

    json_t *lock = json_object_get(root, "lock");
    int64_t lw = 0, mr = 0;
    sc->params = (tk_sc_params){5000, 5000, 10, 200};
    sc->db_lock_wait_s = 5;
    if (lock) {
        static const char *const lk[] = {"lease_ms", "wait_ms", "db_lock_wait_s", "max_retries", "backoff_us", NULL};
        if (!json_is_object(lock))
            return tk_err(err, errlen, "lock: must be an object");
        if (check_keys(lock, lk, "lock", err, errlen) != 0)
            return -1;
    }
    if (get_int(lock, "lease_ms", 1, 3600000, 5000, &sc->params.lease_ms, "lock", err, errlen) != 0 ||
        get_int(lock, "wait_ms", 0, 3600000, 5000, &sc->params.lock_wait_ms, "lock", err, errlen) != 0 ||
        get_int(lock, "db_lock_wait_s", 1, 3600, 5, &lw, "lock", err, errlen) != 0 ||
        get_int(lock, "max_retries", 0, 1000, 10, &mr, "lock", err, errlen) != 0 ||
        get_int(lock, "backoff_us", 0, 1000000, 200, &sc->params.backoff_us, "lock", err, errlen) != 0)
        return -1;
    sc->db_lock_wait_s = (int)lw;
    sc->params.max_retries = (int)mr;

    json_t *strats = json_object_get(root, "strategies");
    if (!json_is_array(strats) || json_array_size(strats) == 0)
        return tk_err(err, errlen, "strategies: required, a non-empty array of names");
    if (json_array_size(strats) > MAX_STRATS)
        return tk_err(err, errlen, "strategies: at most %d", MAX_STRATS);
    json_array_foreach(strats, i, v) {
        char where[48];
        snprintf(where, sizeof where, "strategies[%zu]", i);
        if (!json_is_string(v))
            return tk_err(err, errlen, "%s: must be a strategy name", where);
        if (parse_strategy_name(sc, json_string_value(v), where, err, errlen) != 0)
            return -1;
        for (int j = 0; j < sc->nstrat; j++)
            if (!strcmp(sc->strategies[j], json_string_value(v)))
                return tk_err(err, errlen, "%s: '%s' is listed twice", where, json_string_value(v));
        snprintf(sc->strategies[sc->nstrat++], sizeof sc->strategies[0], "%s", json_string_value(v));
    }

    json_t *invs = json_object_get(root, "invariants");
    if (invs && !json_is_array(invs))
        return tk_err(err, errlen, "invariants: must be an array");
    if (invs && json_array_size(invs) > MAX_INV)
        return tk_err(err, errlen, "invariants: at most %d", MAX_INV);
    const char *const *known = sc->points ? point_invariants : seat_invariants;
    json_array_foreach(invs, i, v) {
        char where[48];
        snprintf(where, sizeof where, "invariants[%zu]", i);
        invariant *iv = &sc->inv[sc->ninv];
        json_t *nm = json_is_object(v) ? json_object_get(v, "name") : v;
        if (!json_is_string(nm))
            return tk_err(err, errlen, "%s: a name or an object with \"name\"", where);
        if (!in_list(json_string_value(nm), known))
            return tk_err(err, errlen, "%s: unknown invariant '%s' for a %s scenario", where, json_string_value(nm),
                          sc->kind);
        snprintf(iv->name, sizeof iv->name, "%s", json_string_value(nm));
        if (json_is_object(v)) {
            static const char *const ik[] = {"name", "ms", "strategies", NULL};
            if (check_keys(v, ik, where, err, errlen) != 0 ||
                get_int(v, "ms", 1, 3600000, 0, &iv->ms, where, err, errlen) != 0)
                return -1;
            json_t *only = json_object_get(v, "strategies");
            if (only && (!json_is_array(only) || json_array_size(only) > MAX_STRATS))
                return tk_err(err, errlen, "%s.strategies: an array of names", where);
            size_t j;
            json_t *s;
            json_array_foreach(only, j, s) {
                if (!json_is_string(s) || parse_strategy_name(sc, json_string_value(s), where, err, errlen) != 0)
                    return json_is_string(s) ? -1 : tk_err(err, errlen, "%s.strategies: names, please", where);
                snprintf(iv->strategies[iv->nstrat++], sizeof iv->strategies[0], "%s", json_string_value(s));
            }
        }
        if (!strcmp(iv->name, "within_ms") && iv->ms <= 0)
            return tk_err(err, errlen, "%s: within_ms needs \"ms\"", where);
        sc->ninv++;
    }

    json_t *rb = json_object_get(root, "redis_benchmark");
    if (rb) {
        static const char *const rk[] = {"requests", "clients", NULL};
        int64_t c;
        if (!json_is_object(rb))
            return tk_err(err, errlen, "redis_benchmark: must be an object");
        if (check_keys(rb, rk, "redis_benchmark", err, errlen) != 0 ||
            get_int(rb, "requests", 1, 100000000, 100000, &n, "redis_benchmark", err, errlen) != 0 ||
            get_int(rb, "clients", 1, 10000, 50, &c, "redis_benchmark", err, errlen) != 0)
            return -1;
        if (sc->points)
            return tk_err(err, errlen, "redis_benchmark: only for seats scenarios (it runs the redis-atomic script)");
        sc->rb_requests = (long)n;
        sc->rb_clients = (int)c;
    }
    return 0;
}

tk_scenario *tk_scenario_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    json_error_t je;
    char e[400];
    const char *nm = name ? name : "scenario";
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root) {
        tk_err(err, errlen, "%s:%d:%d: malformed JSON: %s", nm, je.line, je.column, je.text);
        return NULL;
    }
    tk_scenario *sc = calloc(1, sizeof *sc);
    if (!sc) {
        json_decref(root);
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    if (parse_root(sc, root, e, sizeof e) != 0) {
        tk_err(err, errlen, "%s: %s", nm, e);
        free(sc);
        sc = NULL;
    }
    json_decref(root);
    return sc;
}

tk_scenario *tk_scenario_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tk_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    int big = n == sizeof buf, bad = ferror(f);
    fclose(f);
    if (bad || big) {
        tk_err(err, errlen, "%s: %s", path, bad ? "read error" : "larger than 64 KiB");
        return NULL;
    }
    return tk_scenario_parse(buf, n, path, err, errlen);
}

void tk_scenario_free(tk_scenario *sc) { free(sc); }

const char *tk_scenario_name(const tk_scenario *sc) { return sc->name; }
const char *tk_scenario_description(const tk_scenario *sc) { return sc->desc; }
const char *tk_scenario_kind(const tk_scenario *sc) { return sc->kind; }
size_t tk_scenario_nstrategies(const tk_scenario *sc) { return (size_t)sc->nstrat; }
const char *tk_scenario_strategy(const tk_scenario *sc, size_t i) { return i < (size_t)sc->nstrat ? sc->strategies[i] : NULL; }

long tk_scenario_users(const tk_scenario *sc)
{
    long n = 0;
    for (int i = 0; i < sc->nactors; i++)
        n += sc->actors[i].count;
    return n;
}

int tk_scenario_summary(const char *path, char *line, size_t linelen)
{
    char err[512];
    tk_scenario *sc = tk_scenario_load(path, err, sizeof err);
    if (!sc) {
        snprintf(line, linelen, "INVALID: %s", err);
        return -1;
    }
    char what[48];
    if (sc->points)
        snprintf(what, sizeof what, "1 account");
    else
        snprintf(what, sizeof what, "%ld seat%s", sc->seats, sc->seats == 1 ? "" : "s");
    snprintf(line, linelen, "%-18s %-6s %7ld users  %-12s %s", sc->name, sc->kind, tk_scenario_users(sc), what, sc->desc);
    tk_scenario_free(sc);
    return 0;
}

/* ---- running ---------------------------------------------------------------------- */

typedef struct user {
    uint64_t id;
    const actor *a;
} user;

typedef struct run run;

typedef struct worker {
    pthread_t th;
    tk_sc_conn conn;
    run *r;
    int idx;
    tk_hist *resp, *svc;
    uint64_t out[TK_SC_NOUTCOMES];
    uint64_t attempts, last_us;
    int64_t ok_points; /* points booked by OK charges */
} worker;

struct run {
    const tk_scenario *sc;
    const tk_strategy *st;
    const user *users;
    long nusers;
    long nseats;
    int nthreads;
    pthread_barrier_t ready, go;
    uint64_t t0;
};

static void sleep_until_us(uint64_t t)
{
    uint64_t now = tk_mono_us();
    if (now >= t)
        return;
    uint64_t d = t - now;
    struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t xrand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    pthread_barrier_wait(&r->ready);
    pthread_barrier_wait(&r->go);
    uint64_t t0 = r->t0;
    uint64_t seed = 0x2545F4914F6CDD1DULL ^ ((uint64_t)w->idx * 0x9E3779B97F4A7C15ULL) ^ r->t0;
    if (!seed)
        seed = 1;
    for (long i = w->idx; i < r->nusers; i += r->nthreads) {
        const user *u = &r->users[i];
        uint64_t ref = t0 + (uint64_t)u->a->start_ms * 1000;
        sleep_until_us(ref);
        if (r->sc->points) {
            uint64_t s = tk_mono_us();
            tk_sc_outcome o = r->st->charge(&w->conn, 1, u->a->amount, u->a->pause_ms);
            uint64_t e = tk_mono_us();
            tk_hist_record(w->resp, e - ref);
            tk_hist_record(w->svc, e - s);
            w->out[o]++;
            w->attempts++;
            w->last_us = e;
            if (o == TK_SC_OK)
                w->ok_points += u->a->amount;
            continue;
        }
        long tried[100];
        int tries = u->a->tries < r->nseats ? u->a->tries : (int)r->nseats;
        for (int t = 0; t < tries; t++) {
            long seat;
            for (;;) { /* a seat this user has not tried yet */
                seat = r->nseats == 1 ? 1 : 1 + (long)(xrand(&seed) % (uint64_t)r->nseats);
                int dup = 0;
                for (int k = 0; k < t; k++)
                    dup |= tried[k] == seat;
                if (!dup)
                    break;
            }
            tried[t] = seat;
            uint64_t s = tk_mono_us();
            tk_sc_outcome o = r->st->reserve(&w->conn, u->id, (uint64_t)seat, u->a->pause_ms);
            uint64_t e = tk_mono_us();
            tk_hist_record(w->resp, e - ref);
            tk_hist_record(w->svc, e - s);
            w->out[o]++;
            w->attempts++;
            w->last_us = e;
            ref = e;
            if (o == TK_SC_OK || o == TK_SC_ERROR)
                break;
        }
    }
    return NULL;
}

/* Global status counter (Innodb_row_lock_waits, Innodb_deadlocks); 0 if absent. */
static long long global_status(MYSQL *db, const char *var)
{
    char sql[160];
    long long v = 0;
    snprintf(sql, sizeof sql,
             "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '%s'", var);
    if (tk_db_query_i64(db, sql, &v, NULL, 0) != 0)
        return 0;
    return v;
}

static long long q64(MYSQL *db, const char *sql, int *bad)
{
    long long v = 0;
    if (tk_db_query_i64(db, sql, &v, NULL, 0) < 0)
        *bad = 1;
    return v;
}

/* Reset the sandbox tables for one run. */
static int reset_tables(MYSQL *db, const tk_scenario *sc, long nseats, char *err, size_t errlen)
{
    char e[256];
    if (sc->points) {
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO scn_accounts (id, points, version) VALUES (1, %lld, 0)",
                 (long long)sc->initial_points);
        if (tk_db_exec(db, "TRUNCATE TABLE scn_accounts", e, sizeof e) != 0 ||
            tk_db_exec(db, "TRUNCATE TABLE scn_point_history", e, sizeof e) != 0 ||
            tk_db_exec(db, sql, e, sizeof e) != 0)
            return tk_err(err, errlen, "reset: %s", e);
        return 0;
    }
    if (tk_db_exec(db, "TRUNCATE TABLE scn_reservations", e, sizeof e) != 0 ||
        tk_db_exec(db, "TRUNCATE TABLE scn_seats", e, sizeof e) != 0)
        return tk_err(err, errlen, "reset: %s", e);
    size_t cap = 64 + 16 * 1000;
    char *sql = malloc(cap);
    if (!sql)
        return tk_err(err, errlen, "out of memory");
    for (long from = 1; from <= nseats; from += 1000) {
        size_t o = (size_t)snprintf(sql, cap, "INSERT INTO scn_seats (id) VALUES ");
        for (long id = from; id < from + 1000 && id <= nseats; id++)
            o += (size_t)snprintf(sql + o, cap - o, "%s(%ld)", id == from ? "" : ",", id);
        if (tk_db_exec(db, sql, e, sizeof e) != 0) {
            free(sql);
            return tk_err(err, errlen, "reset: %s", e);
        }
    }
    free(sql);
    return 0;
}

typedef struct measured {
    long long rows, double_bookings, oversold_seats, held, distinct_seats;
    long long balance, hist_sum, hist_rows, expected;
} measured;

static int measure(MYSQL *db, const tk_scenario *sc, int64_t ok_points, measured *m, char *err, size_t errlen)
{
    int bad = 0;
    memset(m, 0, sizeof *m);
    if (sc->points) {
        m->balance = q64(db, "SELECT points FROM scn_accounts WHERE id = 1", &bad);
        m->hist_sum = q64(db, "SELECT COALESCE(SUM(amount),0) FROM scn_point_history", &bad);
        m->hist_rows = q64(db, "SELECT COUNT(*) FROM scn_point_history", &bad);
        m->expected = sc->initial_points + ok_points;
    } else {
        m->rows = q64(db, "SELECT COUNT(*) FROM scn_reservations", &bad);
        m->double_bookings = q64(db, "SELECT COALESCE(SUM(c - 1),0) FROM (SELECT COUNT(*) c FROM scn_reservations "
                                     "GROUP BY seat_id HAVING c > 1) x", &bad);
        m->oversold_seats = q64(db, "SELECT COUNT(*) FROM (SELECT seat_id FROM scn_reservations GROUP BY seat_id "
                                    "HAVING COUNT(*) > 1) x", &bad);
        m->held = q64(db, "SELECT COUNT(*) FROM scn_seats WHERE status = 'HELD'", &bad);
        m->distinct_seats = q64(db, "SELECT COUNT(DISTINCT seat_id) FROM scn_reservations", &bad);
    }
    return bad ? tk_err(err, errlen, "cannot read the outcome from MariaDB: %s", mysql_error(db)) : 0;
}

static int inv_applies(const invariant *iv, const char *strategy)
{
    if (iv->nstrat == 0)
        return 1;
    for (int i = 0; i < iv->nstrat; i++)
        if (!strcmp(iv->strategies[i], strategy))
            return 1;
    return 0;
}

/* Evaluate one invariant on one run; detail written into d. */
static int inv_check(const invariant *iv, const tk_scenario *sc, long nseats, const measured *m, const uint64_t *out,
                     uint64_t max_resp_us, char *d, size_t dl)
{
    const char *n = iv->name;
    uint64_t ok = out[TK_SC_OK];
    if (!strcmp(n, "no_double_booking")) {
        snprintf(d, dl, "%lld double booking(s) on %lld seat(s)", m->double_bookings, m->oversold_seats);
        return m->double_bookings == 0;
    }
    if (!strcmp(n, "no_oversell")) {
        snprintf(d, dl, "%lld reservations for %ld seats, %lld seats sold twice", m->rows, nseats, m->oversold_seats);
        return m->rows <= nseats && m->oversold_seats == 0;
    }
    if (!strcmp(n, "successes_match_rows")) {
        snprintf(d, dl, "%llu reported OK, %lld reservation rows, %lld seats HELD", (unsigned long long)ok, m->rows,
                 m->held);
        return (long long)ok == m->rows && m->held == m->distinct_seats;
    }
    if (!strcmp(n, "all_seats_sold")) {
        snprintf(d, dl, "%lld of %ld seats sold", m->distinct_seats, nseats);
        return m->distinct_seats == nseats;
    }
    if (!strcmp(n, "no_errors")) {
        snprintf(d, dl, "%llu backend errors", (unsigned long long)out[TK_SC_ERROR]);
        return out[TK_SC_ERROR] == 0;
    }
    if (!strcmp(n, "within_ms")) {
        snprintf(d, dl, "slowest answer %.1f ms (limit %lld ms)", (double)max_resp_us / 1000.0, (long long)iv->ms);
        return max_resp_us <= (uint64_t)iv->ms * 1000;
    }
    if (!strcmp(n, "balance_exact")) {
        snprintf(d, dl, "balance %lld, expected %lld from %llu booked charges (drift %lld)", m->balance, m->expected,
                 (unsigned long long)ok, m->expected - m->balance);
        return m->balance == m->expected;
    }
    if (!strcmp(n, "balance_equals_history")) {
        snprintf(d, dl, "balance %lld, initial + history %lld, %lld history rows for %llu OK", m->balance,
                 (long long)sc->initial_points + m->hist_sum, m->hist_rows, (unsigned long long)ok);
        return m->balance == sc->initial_points + m->hist_sum && m->hist_rows == (long long)ok;
    }
    snprintf(d, dl, "unknown invariant");
    return 0;
}

static json_t *lat_json(const tk_hist *h)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f}", "p50", (double)tk_hist_percentile(h, 50) / 1000.0, "p99",
                     (double)tk_hist_percentile(h, 99) / 1000.0, "max", (double)tk_hist_max(h) / 1000.0, "mean",
                     tk_hist_mean(h) / 1000.0, "min", (double)tk_hist_min(h) / 1000.0);
}

static json_t *machine_json(void)
{
    struct utsname u;
    char host[128] = "", sys[300] = "";
    if (uname(&u) == 0) {
        snprintf(host, sizeof host, "%s", u.nodename);
        snprintf(sys, sizeof sys, "%s %s %s", u.sysname, u.release, u.machine);
    }
#if defined(__clang__)
    const char *compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    const char *compiler = "gcc " __VERSION__;
#else
    const char *compiler = "unknown";
#endif
    return json_pack("{s:s,s:s,s:I,s:s,s:s}", "hostname", host, "system", sys, "cpus",
                     (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "compiler", compiler, "mysql_client",
                     mysql_get_client_info());
}

/* Connections of the pool, opened once for all runs. */
typedef struct pool {
    worker *w;
    int n;
} pool;

static void pool_close(pool *p)
{
    for (int i = 0; p->w && i < p->n; i++) {
        if (p->w[i].conn.db)
            mysql_close(p->w[i].conn.db);
        if (p->w[i].conn.redis)
            tk_redis_free(p->w[i].conn.redis);
        tk_hist_free(p->w[i].resp);
        tk_hist_free(p->w[i].svc);
    }
    free(p->w);
    p->w = NULL;
}

static int pool_open(pool *p, int n, const tk_backend *b, int lock_wait_s, char *err, size_t errlen)
{
    char sql[96];
    p->n = n;
    p->w = calloc((size_t)n, sizeof *p->w);
    if (!p->w)
        return tk_err(err, errlen, "out of memory");
    snprintf(sql, sizeof sql, "SET SESSION innodb_lock_wait_timeout = %d", lock_wait_s);
    for (int i = 0; i < n; i++) {
        worker *w = &p->w[i];
        w->idx = i;
        w->resp = tk_hist_new();
        w->svc = tk_hist_new();
        if (!w->resp || !w->svc)
            return tk_err(err, errlen, "out of memory");
        char e[300];
        w->conn.db = tk_db_connect(b->mysql, e, sizeof e);
        if (!w->conn.db)
            return tk_err(err, errlen, "connection %d of %d: %s", i + 1, n, e);
        my_bool reconnect = 1;
        mysql_optionsv(w->conn.db, MYSQL_OPT_RECONNECT, &reconnect);
        if (tk_db_exec(w->conn.db, sql, e, sizeof e) != 0)
            return tk_err(err, errlen, "%s: %s", sql, e);
        w->conn.redis = tk_redis_connect(b->redis, e, sizeof e);
        if (!w->conn.redis)
            return tk_err(err, errlen, "connection %d of %d: %s", i + 1, n, e);
    }
    return 0;
}

static int cmp_user_start(const void *a, const void *b)
{
    const user *x = a, *y = b;
    if (x->a->start_ms != y->a->start_ms)
        return x->a->start_ms < y->a->start_ms ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Aggregated numbers of one strategy over its repeats. */
typedef struct agg {
    uint64_t out[TK_SC_NOUTCOMES], attempts, retries, redis_waits, db_waits, timeouts, deadlocks;
    long long double_bookings, oversold, drift_abs;
    double wall_s;
    tk_hist *resp, *svc;
    int inv_ok[MAX_INV];
    char inv_detail[MAX_INV][240];
    json_t *runs;
} agg;

/* One run of one strategy: reset, start together, join, measure. */
static int run_once(const tk_scenario *sc, const tk_strategy *st, pool *p, MYSQL *ctl, const user *users,
                    long nusers, long nseats, int rep, agg *g, FILE *progress, char *err, size_t errlen)
{
    if (reset_tables(ctl, sc, nseats, err, errlen) != 0)
        return -1;
    uint64_t run_id;
    randombytes_buf(&run_id, sizeof run_id);
    run_id &= 0x7fffffffffffffffULL;
    run r = {.sc = sc, .st = st, .users = users, .nusers = nusers, .nseats = nseats, .nthreads = p->n};
    for (int i = 0; i < p->n; i++) {
        worker *w = &p->w[i];
        w->r = &r;
        memset(w->out, 0, sizeof w->out);
        w->attempts = w->last_us = 0;
        w->ok_points = 0;
        tk_hist_reset(w->resp);
        tk_hist_reset(w->svc);
        tk_sc_conn *c = &w->conn;
        c->run_id = run_id;
        c->params = sc->params;
        c->rng = run_id ^ ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL);
        c->retries = c->redis_lock_waits = c->lock_timeouts = c->deadlocks = 0;
        c->last_err[0] = '\0';
    }
    if (st->prepare && st->prepare(&p->w[0].conn, (uint64_t)nseats) != 0)
        return tk_err(err, errlen, "%s: prepare: %s", st->name, p->w[0].conn.last_err);
    long long waits0 = global_status(ctl, "Innodb_row_lock_waits");

    pthread_barrier_init(&r.ready, NULL, (unsigned)p->n + 1);
    pthread_barrier_init(&r.go, NULL, (unsigned)p->n + 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int started = 0;
    for (; started < p->n; started++)
        if (pthread_create(&p->w[started].th, &attr, worker_main, &p->w[started]) != 0)
            break;
    pthread_attr_destroy(&attr);
    if (started < p->n) {
        /* cannot release a barrier short of parties: abort loudly rather than hang */
        fprintf(stderr, "scenario: cannot start worker thread %d of %d\n", started + 1, p->n);
        abort();
    }
    pthread_barrier_wait(&r.ready); /* every worker is connected and parked */
    r.t0 = tk_mono_us();
    pthread_barrier_wait(&r.go); /* ... and off they go together */
    for (int i = 0; i < p->n; i++)
        pthread_join(p->w[i].th, NULL);
    pthread_barrier_destroy(&r.ready);
    pthread_barrier_destroy(&r.go);

    long long db_waits = global_status(ctl, "Innodb_row_lock_waits") - waits0;
    uint64_t out[TK_SC_NOUTCOMES] = {0}, attempts = 0, last = r.t0, retries = 0, rwaits = 0, tmo = 0, dl = 0;
    int64_t ok_points = 0;
    const char *an_error = NULL;
    tk_hist *resp = tk_hist_new(), *svc = tk_hist_new();
    if (!resp || !svc) {
        tk_hist_free(resp);
        tk_hist_free(svc);
        return tk_err(err, errlen, "out of memory");
    }
    for (int i = 0; i < p->n; i++) {
        worker *w = &p->w[i];
        for (int k = 0; k < TK_SC_NOUTCOMES; k++)
            out[k] += w->out[k];
        attempts += w->attempts;
        last = w->last_us > last ? w->last_us : last;
        ok_points += w->ok_points;
        retries += w->conn.retries;
        rwaits += w->conn.redis_lock_waits;
        tmo += w->conn.lock_timeouts;
        dl += w->conn.deadlocks;
        if (w->conn.last_err[0] && !an_error)
            an_error = w->conn.last_err;
        tk_hist_merge(resp, w->resp);
        tk_hist_merge(svc, w->svc);
    }
    double wall_s = (double)(last - r.t0) / 1e6;
    measured m;
    if (measure(ctl, sc, ok_points, &m, err, errlen) != 0) {
        tk_hist_free(resp);
        tk_hist_free(svc);
        return -1;
    }

    json_t *outcomes = json_object();
    for (int k = 0; k < TK_SC_NOUTCOMES; k++)
        json_object_set_new(outcomes, tk_sc_outcome_name((tk_sc_outcome)k), json_integer((json_int_t)out[k]));
    json_t *inv = json_array();
    for (int i = 0; i < sc->ninv; i++) {
        if (!inv_applies(&sc->inv[i], st->name))
            continue;
        char d[200];
        int ok = inv_check(&sc->inv[i], sc, nseats, &m, out, tk_hist_max(resp), d, sizeof d);
        json_array_append_new(inv, json_pack("{s:s,s:b,s:s}", "name", sc->inv[i].name, "ok", ok, "detail", d));
        if (!ok && g->inv_ok[i]) {
            g->inv_ok[i] = 0;
            snprintf(g->inv_detail[i], sizeof g->inv_detail[i], "run %d: %s", rep + 1, d);
        } else if (g->inv_ok[i]) {
            snprintf(g->inv_detail[i], sizeof g->inv_detail[i], "%s", d);
        }
    }
    json_t *rj = json_pack("{s:i,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:o,s:o,s:o}", "run", rep + 1, "attempts",
                           (json_int_t)attempts, "outcomes", outcomes, "retries", (json_int_t)retries, "lock_waits",
                           (json_int_t)(rwaits + (uint64_t)(db_waits > 0 ? db_waits : 0)), "lock_timeouts",
                           (json_int_t)tmo, "deadlocks", (json_int_t)dl, "redis_lock_waits", (json_int_t)rwaits,
                           "db_row_lock_waits", (json_int_t)(db_waits > 0 ? db_waits : 0), "wall_ms", wall_s * 1000.0,
                           "throughput", wall_s > 0 ? (double)attempts / wall_s : 0.0, "latency_ms", lat_json(resp),
                           "service_ms", lat_json(svc), "invariants", inv);
    if (sc->points) {
        json_object_set_new(rj, "balance", json_integer(m.balance));
        json_object_set_new(rj, "expected_balance", json_integer(m.expected));
        json_object_set_new(rj, "history_rows", json_integer(m.hist_rows));
    } else {
        json_object_set_new(rj, "reservations", json_integer(m.rows));
        json_object_set_new(rj, "double_bookings", json_integer(m.double_bookings));
        json_object_set_new(rj, "oversold_seats", json_integer(m.oversold_seats));
        json_object_set_new(rj, "seats_sold", json_integer(m.distinct_seats));
    }
    if (an_error)
        json_object_set_new(rj, "last_error", json_string(an_error));
    json_array_append_new(g->runs, rj);

    for (int k = 0; k < TK_SC_NOUTCOMES; k++)
        g->out[k] += out[k];
    g->attempts += attempts;
    g->retries += retries;
    g->redis_waits += rwaits;
    g->db_waits += (uint64_t)(db_waits > 0 ? db_waits : 0);
    g->timeouts += tmo;
    g->deadlocks += dl;
    g->double_bookings += m.double_bookings;
    g->oversold += m.oversold_seats;
    g->drift_abs += llabs(m.expected - m.balance);
    g->wall_s += wall_s;
    tk_hist_merge(g->resp, resp);
    tk_hist_merge(g->svc, svc);

    if (progress) {
        if (sc->points)
            fprintf(progress, "  %-24s run %d: %llu charges, %llu OK, balance %lld (expected %lld), %.0f ms\n", st->name,
                    rep + 1, (unsigned long long)attempts, (unsigned long long)out[TK_SC_OK], m.balance, m.expected,
                    wall_s * 1000);
        else
            fprintf(progress, "  %-24s run %d: %llu attempts, %llu OK, %lld double bookings, %.0f ms\n", st->name,
                    rep + 1, (unsigned long long)attempts, (unsigned long long)out[TK_SC_OK], m.double_bookings,
                    wall_s * 1000);
        if (an_error && out[TK_SC_ERROR])
            fprintf(progress, "    last error: %s\n", an_error);
        fflush(progress);
    }
    tk_hist_free(resp);
    tk_hist_free(svc);
    return 0;
}

static json_t *agg_json(const tk_scenario *sc, const tk_strategy *st, agg *g)
{
    json_t *outcomes = json_object();
    for (int k = 0; k < TK_SC_NOUTCOMES; k++)
        json_object_set_new(outcomes, tk_sc_outcome_name((tk_sc_outcome)k), json_integer((json_int_t)g->out[k]));
    json_t *inv = json_array();
    int unsafe = (st->flags & TK_STRAT_UNSAFE) != 0;
    for (int i = 0; i < sc->ninv; i++) {
        if (!inv_applies(&sc->inv[i], st->name))
            continue;
        json_array_append_new(inv, json_pack("{s:s,s:b,s:s,s:b}", "name", sc->inv[i].name, "ok", g->inv_ok[i],
                                             "detail", g->inv_detail[i], "expected_to_fail", unsafe));
    }
    json_t *o = json_pack("{s:s,s:s,s:b,s:i,s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:o,s:o,s:o,s:O}",
                          "strategy", st->name, "summary", st->summary, "unsafe", unsafe, "repeats",
                          (int)json_array_size(g->runs), "attempts", (json_int_t)g->attempts, "successes",
                          (json_int_t)g->out[TK_SC_OK], "outcomes", outcomes, "retries", (json_int_t)g->retries,
                          "lock_waits", (json_int_t)(g->redis_waits + g->db_waits), "redis_lock_waits",
                          (json_int_t)g->redis_waits, "db_row_lock_waits", (json_int_t)g->db_waits, "lock_timeouts",
                          (json_int_t)g->timeouts, "deadlocks", (json_int_t)g->deadlocks, "wall_ms", g->wall_s * 1000.0,
                          "throughput", g->wall_s > 0 ? (double)g->attempts / g->wall_s : 0.0, "latency_ms",
                          lat_json(g->resp), "service_ms", lat_json(g->svc), "invariants", inv, "runs", g->runs);
    if (sc->points) {
        json_object_set_new(o, "balance_drift", json_integer(g->drift_abs));
    } else {
        json_object_set_new(o, "double_bookings", json_integer(g->double_bookings));
        json_object_set_new(o, "oversold_seats", json_integer(g->oversold));
    }
    return o;
}

/* Where redis-benchmark runs: one redis-server, or each master of a Redis
 * Cluster, with a hash tag whose slot that master serves. */
#define RB_MAX_TARGETS 16
typedef struct rb_target {
    char host[128];
    int port, db;
    char tag[48]; /* the keys' hash tag (without braces) */
} rb_target;

/* The targets of b's Redis into t (RB_MAX_TARGETS); the count, or -1. On a
 * cluster, tags "<id>-<k>" are tried until every master has one (a master
 * serves about 1/masters of the slots, so a few dozen tries do). */
static int rb_targets(const tk_backend *b, redisContext *rc, uint64_t id, rb_target *t, tk_redis_url *auth, char *err,
                      size_t errlen)
{
    if (!tk_redis_is_cluster(rc)) {
        if (tk_redis_url_parse_full(b->redis, auth, err, errlen) != 0)
            return -1;
        snprintf(t[0].host, sizeof t[0].host, "%s", auth->host);
        t[0].port = auth->port;
        t[0].db = auth->db;
        snprintf(t[0].tag, sizeof t[0].tag, "%llu", (unsigned long long)id);
        return 1;
    }
    char seeds[16][TK_URL_MAX]; /* for the user and password */
    if (tk_rcluster_url_seeds(b->redis, seeds, 16, err, errlen) < 0 ||
        tk_redis_url_parse_full(seeds[0], auth, err, errlen) != 0)
        return -1;
    int n = 0;
    for (int k = 0; k < 4096 && n < RB_MAX_TARGETS; k++) {
        char key[96];
        snprintf(key, sizeof key, "tk:scn:rb:{%llu-%d}:remaining", (unsigned long long)id, k);
        redisContext *node = tk_redis_node(rc, key);
        if (!node || !node->tcp.host)
            continue;
        int seen = 0;
        for (int i = 0; i < n && !seen; i++)
            seen = t[i].port == node->tcp.port && !strcmp(t[i].host, node->tcp.host);
        if (seen)
            continue;
        snprintf(t[n].host, sizeof t[n].host, "%s", node->tcp.host);
        t[n].port = node->tcp.port;
        t[n].db = 0;
        snprintf(t[n].tag, sizeof t[n].tag, "%llu-%d", (unsigned long long)id, k);
        n++;
        if (k > 256)
            break; /* late finds are rare; every master has been seen by now */
    }
    return n > 0 ? n : tk_err(err, errlen, "redis-benchmark: no cluster master answers");
}

/* redis-benchmark running the redis-atomic EVAL; returns requests/s or -1.
 * On a Redis Cluster one redis-benchmark per master runs at the same time
 * (requests, clients and seats split among them, each on keys of a slot
 * that master serves) and the result is the sum of their rates. */
static double redis_benchmark(const tk_scenario *sc, const tk_backend *b, long nseats, redisContext *rc, char *cmd,
                              size_t cmdlen, char *err, size_t errlen)
{
    tk_redis_url ru;
    uint64_t id;
    randombytes_buf(&id, sizeof id);
    id &= 0xffffffffffffULL;
    rb_target t[RB_MAX_TARGETS];
    int nt = rb_targets(b, rc, id, t, &ru, err, errlen);
    if (nt < 0)
        return -1;
    /* the password goes to the shell quoted, and never into the recorded command */
    char auth[512] = "";
    if (ru.pass[0]) {
        size_t o = (size_t)snprintf(auth, sizeof auth, " %s%s%s -a '", ru.user[0] ? "--user '" : "", ru.user,
                                    ru.user[0] ? "'" : "");
        for (const char *c = ru.pass; *c && o + 5 < sizeof auth; c++)
            o += (size_t)(*c == '\'' ? snprintf(auth + o, sizeof auth - o, "'\\''") : snprintf(auth + o, sizeof auth - o, "%c", *c));
        snprintf(auth + o, sizeof auth - o, "' --no-auth-warning");
    }
    long seats = nseats / nt > 0 ? nseats / nt : 1, reqs = sc->rb_requests / nt > 0 ? sc->rb_requests / nt : 1;
    int clients = sc->rb_clients / nt > 0 ? sc->rb_clients / nt : 1;
    /* the same command twice: recorded with the password masked, run with it */
    const char *fmt = "redis-benchmark -h %s -p %d --dbnum %d%s -n %ld -c %d -r %ld --csv EVAL \"%s\" 2 "
                      "tk:scn:rb:{%s}:seat:__rand_int__ tk:scn:rb:{%s}:remaining __rand_int__ 600000";
    FILE *f[RB_MAX_TARGETS];
    for (int i = 0; i < nt; i++) {
        char rkey[96]; /* tagged like the strategies' keys (one slot per run and master) */
        snprintf(rkey, sizeof rkey, "tk:scn:rb:{%s}:remaining", t[i].tag);
        redisReply *r = tk_redis_cmd(rc, rkey, "SET %s %ld PX 600000", rkey, seats);
        if (r)
            freeReplyObject(r);
        if (i == 0) {
            int w = snprintf(cmd, cmdlen, fmt, t[i].host, t[i].port, t[i].db, ru.pass[0] ? " -a ***" : "", reqs,
                             clients, seats, tk_strategy_hold_lua(), t[i].tag, t[i].tag);
            if (nt > 1 && w > 0 && (size_t)w < cmdlen)
                snprintf(cmd + w, cmdlen - (size_t)w, " (and at once the same on the %d other masters)", nt - 1);
        }
        char full[4096];
        int fl = snprintf(full, sizeof full - 8, fmt, t[i].host, t[i].port, t[i].db, auth, reqs, clients, seats,
                          tk_strategy_hold_lua(), t[i].tag, t[i].tag);
        f[i] = fl < 0 || (size_t)fl >= sizeof full - 8 ? NULL : (memcpy(full + fl, " 2>&1", 6), popen(full, "r"));
        if (!f[i]) {
            for (int k = 0; k < i; k++)
                pclose(f[k]);
            return tk_err(err, errlen, "cannot run redis-benchmark: %s", fl < 0 || (size_t)fl >= sizeof full - 8
                                                                             ? "command too long"
                                                                             : strerror(errno));
        }
    }
    double sum = 0;
    int st = 0, bad = 0;
    for (int i = 0; i < nt; i++) { /* they ran side by side: the rates add up */
        char line[1024];
        double rps = -1;
        while (fgets(line, sizeof line, f[i])) {
            char *p = strstr(line, "\",\"");
            if (!p || strncmp(line, "\"EVAL", 5) != 0)
                continue;
            double v = strtod(p + 3, NULL);
            if (v > 0)
                rps = v;
        }
        int s_ = pclose(f[i]);
        if (rps <= 0)
            bad = 1, st = s_;
        else
            sum += rps;
    }
    if (bad)
        return tk_err(err, errlen, "redis-benchmark gave no result (exit status %d)", st);
    return sum;
}

static void verdict(const tk_scenario *sc, json_t *results, json_t *root)
{
    size_t i;
    json_t *r, *best = NULL;
    json_array_foreach(results, i, r) {
        if (json_is_true(json_object_get(r, "unsafe")))
            continue;
        int ok = 1;
        size_t j;
        json_t *iv;
        json_array_foreach(json_object_get(r, "invariants"), j, iv) ok &= json_is_true(json_object_get(iv, "ok"));
        if (!ok || json_integer_value(json_object_get(json_object_get(r, "outcomes"), "ERROR")) > 0)
            continue;
        if (!best || json_real_value(json_object_get(r, "throughput")) > json_real_value(json_object_get(best, "throughput")))
            best = r;
    }
    char text[1024];
    if (!best) {
        snprintf(text, sizeof text, "no strategy kept every invariant in this run");
    } else {
        json_t *lat = json_object_get(best, "latency_ms");
        int n = snprintf(text, sizeof text,
                         "%s: pick %s, the fastest strategy that kept every invariant (%.0f %s/s, p99 %.1f ms, %lld OK).",
                         sc->name, json_string_value(json_object_get(best, "strategy")),
                         json_real_value(json_object_get(best, "throughput")), sc->points ? "charges" : "attempts",
                         json_real_value(json_object_get(lat, "p99")),
                         (long long)json_integer_value(json_object_get(best, "successes")));
        json_array_foreach(results, i, r) {
            if (!json_is_true(json_object_get(r, "unsafe")) || n >= (int)sizeof text)
                continue;
            const char *what = sc->points ? "balance_drift" : "double_bookings";
            n += snprintf(text + n, sizeof text - (size_t)n, " %s (unsafe): %lld %s.",
                          json_string_value(json_object_get(r, "strategy")),
                          (long long)json_integer_value(json_object_get(r, what)),
                          sc->points ? "points lost" : "double bookings");
        }
    }
    json_object_set_new(root, "verdict", json_string(text));
}

json_t *tk_scenario_run(const tk_scenario *sc, const tk_scenario_opts *o, const tk_backend *b, char *err, size_t errlen)
{
    const tk_strategy *list[MAX_STRATS + 16];
    int nlist = 0;
    if (!o->strategy) {
        for (int i = 0; i < sc->nstrat; i++)
            list[nlist++] = tk_strategy_find(sc->strategies[i]);
    } else if (!strcmp(o->strategy, "all")) {
        for (size_t i = 0; i < tk_strategy_count(); i++) {
            const tk_strategy *st = tk_strategy_at(i);
            if (sc->points ? st->charge != NULL : st->reserve != NULL)
                list[nlist++] = st;
        }
    } else {
        const tk_strategy *st = tk_strategy_find(o->strategy);
        if (!st) {
            tk_err(err, errlen, "unknown strategy '%s' (see `ticketctl scenario strategies`)", o->strategy);
            return NULL;
        }
        if (sc->points ? !st->charge : !st->reserve) {
            tk_err(err, errlen, "strategy '%s' does not apply to %s scenarios", o->strategy, sc->kind);
            return NULL;
        }
        list[nlist++] = st;
    }
    int repeat = o->repeat > 0 ? o->repeat : 1;
    double scale = o->scale > 0 && o->scale <= 1 ? o->scale : 1.0;

    /* the users, scaled, ordered by start time */
    long nusers = 0;
    actor scaled[MAX_ACTORS];
    for (int i = 0; i < sc->nactors; i++) {
        scaled[i] = sc->actors[i];
        scaled[i].count = (long)ceil((double)sc->actors[i].count * scale);
        if (scaled[i].count < 1)
            scaled[i].count = 1;
        nusers += scaled[i].count;
    }
    long nseats = sc->points ? 0 : (long)ceil((double)sc->seats * scale);
    if (!sc->points && nseats < 1)
        nseats = 1;
    user *users = calloc((size_t)nusers, sizeof *users);
    if (!users) {
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0, k = 0; i < sc->nactors; i++)
        for (long j = 0; j < scaled[i].count; j++, k++)
            users[k] = (user){(uint64_t)k + 1, &scaled[i]};
    qsort(users, (size_t)nusers, sizeof *users, cmp_user_start);

    int conns = o->connections > 0 ? o->connections : sc->connections > 0 ? sc->connections : 200;
    if (conns > MAX_CONNECTIONS)
        conns = MAX_CONNECTIONS;
    if (conns > nusers)
        conns = (int)nusers;
    tk_raise_nofile(4 * conns + 256);
    if (sodium_init() < 0) {
        free(users);
        tk_err(err, errlen, "libsodium init failed");
        return NULL;
    }

    json_t *root = NULL, *results = json_array();
    pool p = {0};
    MYSQL *ctl = tk_db_connect(b->mysql, err, errlen);
    char e[512];
    if (!ctl)
        goto fail;
    if (tk_db_migrate(ctl, e, sizeof e) < 0) {
        tk_err(err, errlen, "%s", e);
        goto fail;
    }
    if (o->progress) {
        fprintf(o->progress, "scenario %s: %ld users, %s%ld%s, %d connections, %d strategies x %d runs\n", sc->name,
                nusers, sc->points ? "" : "", sc->points ? 1 : nseats, sc->points ? " account" : " seats", conns,
                nlist, repeat);
        fflush(o->progress);
    }
    if (pool_open(&p, conns, b, sc->db_lock_wait_s, err, errlen) != 0)
        goto fail;

    char started[32];
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    double ratomic_tps = -1;
    for (int s = 0; s < nlist; s++) {
        agg g;
        memset(&g, 0, sizeof g);
        g.resp = tk_hist_new();
        g.svc = tk_hist_new();
        g.runs = json_array();
        for (int i = 0; i < MAX_INV; i++)
            g.inv_ok[i] = 1;
        int rc = g.resp && g.svc && g.runs ? 0 : tk_err(err, errlen, "out of memory");
        for (int rep = 0; rc == 0 && rep < repeat; rep++)
            rc = run_once(sc, list[s], &p, ctl, users, nusers, nseats, rep, &g, o->progress, err, errlen);
        if (rc == 0) {
            json_t *aj = agg_json(sc, list[s], &g);
            if (!strcmp(list[s]->name, "redis-atomic"))
                ratomic_tps = json_real_value(json_object_get(aj, "throughput"));
            json_array_append_new(results, aj);
        }
        tk_hist_free(g.resp);
        tk_hist_free(g.svc);
        json_decref(g.runs);
        if (rc != 0)
            goto fail;
    }

    json_t *config = json_pack("{s:s,s:s,s:s,s:I,s:I,s:i,s:i,s:f,s:I,s:I,s:i,s:i,s:I}", "scenario", sc->name,
                               "description", sc->desc, "kind", sc->kind, "users", (json_int_t)nusers, "seats",
                               (json_int_t)nseats, "connections", conns, "repeat", repeat, "scale", scale,
                               "lease_ms", (json_int_t)sc->params.lease_ms, "lock_wait_ms",
                               (json_int_t)sc->params.lock_wait_ms, "db_lock_wait_s", sc->db_lock_wait_s,
                               "max_retries", sc->params.max_retries, "backoff_us", (json_int_t)sc->params.backoff_us);
    if (sc->points)
        json_object_set_new(config, "initial_points", json_integer(sc->initial_points));
    root = json_pack("{s:i,s:s,s:s,s:s,s:o,s:o,s:o}", "schema", 1, "kind", "scenario", "scenario", sc->name,
                     "started_at", started, "config", config, "machine", machine_json(), "results", results);
    results = NULL;
    json_t *res = json_object_get(root, "results");

    /* redis-benchmark with the same EVAL, for the ratio */
    if (sc->rb_requests > 0 && o->redis_benchmark >= 0 && ratomic_tps > 0) {
        char cmd[2048], rberr[256];
        double rps = redis_benchmark(sc, b, nseats, p.w[0].conn.redis, cmd, sizeof cmd, rberr, sizeof rberr);
        json_t *rb = json_pack("{s:s,s:I,s:i}", "command", cmd, "requests", (json_int_t)sc->rb_requests, "clients",
                               sc->rb_clients);
        if (rps > 0) {
            json_object_set_new(rb, "rps", json_real(rps));
            json_object_set_new(rb, "redis_atomic_throughput", json_real(ratomic_tps));
            json_object_set_new(rb, "ratio", json_real(ratomic_tps / rps));
        } else {
            json_object_set_new(rb, "error", json_string(rberr));
        }
        json_object_set_new(root, "redis_benchmark", rb);
    }

    /* invariants of the safe strategies, flat, for the report banner */
    json_t *flat = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(res, i, r) {
        if (json_is_true(json_object_get(r, "unsafe")))
            continue;
        size_t j;
        json_t *iv;
        json_array_foreach(json_object_get(r, "invariants"), j, iv) {
            char nm[160];
            snprintf(nm, sizeof nm, "%s: %s", json_string_value(json_object_get(r, "strategy")),
                     json_string_value(json_object_get(iv, "name")));
            json_array_append_new(flat, json_pack("{s:s,s:O,s:O}", "name", nm, "ok", json_object_get(iv, "ok"),
                                                  "detail", json_object_get(iv, "detail")));
        }
    }
    json_object_set_new(root, "invariants", flat);
    verdict(sc, res, root);
    goto out;
fail:
    json_decref(root);
    root = NULL;
out:
    json_decref(results);
    pool_close(&p);
    if (ctl)
        mysql_close(ctl);
    free(users);
    return root;
}

int tk_scenario_failed(const json_t *results)
{
    int failed = 0;
    size_t i, j;
    json_t *r, *iv;
    json_array_foreach(json_object_get(results, "results"), i, r) {
        if (json_is_true(json_object_get(r, "unsafe")))
            continue;
        json_array_foreach(json_object_get(r, "invariants"), j, iv) failed += !json_is_true(json_object_get(iv, "ok"));
    }
    return failed;
}

static long long ji(const json_t *o, const char *k) { return (long long)json_integer_value(json_object_get(o, k)); }
static double jr(const json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

void tk_scenario_print(const json_t *root, FILE *f)
{
    const json_t *cfg = json_object_get(root, "config");
    int points = !strcmp(json_string_value(json_object_get(cfg, "kind")) ? json_string_value(json_object_get(cfg, "kind")) : "", "points");
    fprintf(f, "\nscenario %s: %lld users, %lld %s, %lld connections, %lld run(s) per strategy\n",
            json_string_value(json_object_get(root, "scenario")), ji(cfg, "users"), points ? 1 : ji(cfg, "seats"),
            points ? "account" : "seats", ji(cfg, "connections"), ji(cfg, "repeat"));
    fprintf(f, "%-24s %8s %6s %6s %6s %6s %6s %5s %7s %8s %7s %6s %6s %4s %9s %8s %8s %8s  %s\n", "strategy", "attempts",
            "ok", "taken", "confl", "busy", "stale", "err", points ? "drift" : "double", points ? "-" : "oversold",
            "retries", "lwaits", "ltmo", "dlk", "att/s", "p50 ms", "p99 ms", "max ms", "invariants");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(root, "results"), i, r) {
        const json_t *oc = json_object_get(r, "outcomes"), *lat = json_object_get(r, "latency_ms");
        int bad = 0, total = 0;
        size_t j;
        json_t *iv;
        json_array_foreach(json_object_get(r, "invariants"), j, iv) {
            total++;
            bad += !json_is_true(json_object_get(iv, "ok"));
        }
        char inv[48];
        int unsafe = json_is_true(json_object_get(r, "unsafe"));
        if (!total)
            snprintf(inv, sizeof inv, "-");
        else if (!bad)
            snprintf(inv, sizeof inv, "%d/%d ok", total, total);
        else
            snprintf(inv, sizeof inv, "%d FAILED%s", bad, unsafe ? " (expected)" : "");
        char second[24];
        if (points)
            snprintf(second, sizeof second, "-");
        else
            snprintf(second, sizeof second, "%lld", ji(r, "oversold_seats"));
        fprintf(f, "%-24s %8lld %6lld %6lld %6lld %6lld %6lld %5lld %7lld %8s %7lld %6lld %6lld %4lld %9.0f %8.2f %8.2f %8.2f  %s\n",
                json_string_value(json_object_get(r, "strategy")), ji(r, "attempts"), ji(oc, "OK"), ji(oc, "SEAT_TAKEN"),
                ji(oc, "CONFLICT"), ji(oc, "BUSY"), ji(oc, "STALE"), ji(oc, "ERROR"),
                points ? ji(r, "balance_drift") : ji(r, "double_bookings"), second, ji(r, "retries"),
                ji(r, "lock_waits"), ji(r, "lock_timeouts"), ji(r, "deadlocks"), jr(r, "throughput"), jr(lat, "p50"),
                jr(lat, "p99"), jr(lat, "max"), inv);
    }
    json_array_foreach(json_object_get(root, "results"), i, r) {
        size_t j;
        json_t *iv;
        json_array_foreach(json_object_get(r, "invariants"), j, iv) {
            if (json_is_true(json_object_get(iv, "ok")))
                continue;
            fprintf(f, "  %s %s: %s: %s\n", json_is_true(json_object_get(r, "unsafe")) ? "expected" : "FAILED",
                    json_string_value(json_object_get(r, "strategy")), json_string_value(json_object_get(iv, "name")),
                    json_string_value(json_object_get(iv, "detail")));
        }
    }
    const json_t *rb = json_object_get(root, "redis_benchmark");
    if (rb) {
        if (json_object_get(rb, "rps"))
            fprintf(f, "redis-benchmark EVAL: %.0f req/s; redis-atomic %.0f attempts/s = %.2f of it\n", jr(rb, "rps"),
                    jr(rb, "redis_atomic_throughput"), jr(rb, "ratio"));
        else
            fprintf(f, "redis-benchmark: %s\n", json_string_value(json_object_get(rb, "error")));
    }
    const char *v = json_string_value(json_object_get(root, "verdict"));
    if (v)
        fprintf(f, "verdict: %s\n", v);
}
