/* Contention scenarios: a JSON file (the scenarios/ folder, data not code) names
 * a data set, actors with their timing, the strategies to run (strategy.h)
 * and the invariants that must hold; the runner plays it on real parallel
 * connections and measures what happened in the database.
 *
 * File format (unknown keys are rejected so a typo cannot silently change
 * a run):
 *   {
 *     "name": "hot-seat-500",            required, [A-Za-z0-9._-]{1,64}
 *     "description": "...",              optional
 *     "kind": "seats" | "points",        required
 *     "data": {"seats": 1}               seats kind: seats >= 1
 *           | {"initial_points": 0},     points kind: one account, start balance
 *     "connections": 500,                worker threads, each with its own MariaDB
 *                                        and Redis connection (default min(users,200), max 900)
 *     "actors": [{"name": "buyers", "count": 500, "start_ms": 0, "pause_ms": 0,
 *                 "tries": 1, "amount": 100}],
 *                                        count >= 1 users each; start_ms after the common
 *                                        start; pause_ms inside the critical section (the
 *                                        lease-expiry "process pause"); tries = distinct
 *                                        random seats tried until one is booked; amount =
 *                                        points per charge
 *     "lock": {"lease_ms": 5000, "wait_ms": 5000, "db_lock_wait_s": 5,
 *              "max_retries": 10, "backoff_us": 200},   all optional
 *     "strategies": ["none", "optimistic", ...],        required, names from strategy.h
 *     "invariants": ["no_double_booking", {"name": "within_ms", "ms": 1000,
 *                    "strategies": ["redis-atomic"]}],  names below; an object may
 *                                        restrict the strategies it applies to
 *     "redis_benchmark": {"requests": 100000, "clients": 50}   optional, see below
 *   }
 * Invariants: seats: no_double_booking, no_oversell, successes_match_rows,
 * all_seats_sold, no_errors, within_ms; points: balance_exact,
 * balance_equals_history, no_errors, within_ms.
 *
 * Running: all workers open their connections, wait at a barrier, and start
 * together; each plays its share of the users in order. Latency is the
 * response time of one attempt counted from when the user wanted to start
 * (the common start + start_ms, or its previous answer), so users queued
 * behind a busy connection are not flattered (coordinated omission). The
 * tables are reset before every run; counts of double bookings, oversold
 * seats and balances come from MariaDB after the run, not from the workers. */
#ifndef TICKETCTL_SCENARIO_H
#define TICKETCTL_SCENARIO_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "ticketctl/backend.h"

typedef struct tk_scenario tk_scenario;

/* Parse scenario JSON text (len bytes). `name` (may be NULL) is used in
 * messages. Returns a scenario the caller frees with tk_scenario_free(), or
 * NULL with a message in err (line:column for malformed JSON; the key path
 * and the reason for a bad value). */
tk_scenario *tk_scenario_parse(const char *text, size_t len, const char *name, char *err /* OUT */, size_t errlen);
/* Same from a file. */
tk_scenario *tk_scenario_load(const char *path, char *err /* OUT */, size_t errlen);
/* Free; accepts NULL. */
void tk_scenario_free(tk_scenario *sc);

/* Read-only views; strings are owned by the scenario. */
const char *tk_scenario_name(const tk_scenario *sc);
const char *tk_scenario_description(const tk_scenario *sc); /* "" when absent */
const char *tk_scenario_kind(const tk_scenario *sc);        /* "seats" or "points" */
long tk_scenario_users(const tk_scenario *sc);              /* sum of actor counts */
size_t tk_scenario_nstrategies(const tk_scenario *sc);
const char *tk_scenario_strategy(const tk_scenario *sc, size_t i);

typedef struct tk_scenario_opts {
    const char *strategy; /* one name, "all" or NULL = the file's list */
    int repeat;           /* runs per strategy, >= 1 */
    double scale;         /* multiplies users and seats (each at least 1), 0 < scale <= 1; 0 means 1 */
    int connections;      /* overrides the file's connections when > 0 */
    int redis_benchmark;  /* 1: run the file's redis-benchmark comparison (needs redis-atomic); -1: skip it */
    FILE *progress;       /* one line per run, or NULL */
} tk_scenario_opts;

/* Run the scenario against backend b (mysql and redis URLs), applying
 * migrations first. Returns the results object (a new reference the caller
 * json_decref()s) with "kind":"scenario", per-strategy "results" and the
 * invariants; a failed invariant is a result, not an error. Returns NULL
 * with a message in err only when the run could not be made (backend down,
 * strategy unknown or not applicable to the kind). */
json_t *tk_scenario_run(const tk_scenario *sc, const tk_scenario_opts *o, const tk_backend *b, char *err /* OUT */,
                        size_t errlen);

/* Number of invariants that failed for strategies that are not marked
 * unsafe (their failures are expected) in a results object. */
int tk_scenario_failed(const json_t *results);

/* Print the comparison table of a results object: one row per strategy
 * with attempts, successes, double bookings, oversold seats, retries, lock
 * waits/timeouts/deadlocks, attempts/s and p50/p99/max latency, then the
 * invariants that failed and the verdict line. */
void tk_scenario_print(const json_t *results, FILE *out);

/* One line for `scenario list`: "<name>  <kind>  <users> users  <description>"
 * into line (always NUL-terminated). Returns 0, or -1 with the reason in
 * line when the file does not parse. */
int tk_scenario_summary(const char *path, char *line /* OUT */, size_t linelen);

#endif
