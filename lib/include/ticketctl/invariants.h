/* Correctness invariants of the booking data, checked in MariaDB.
 *
 * Run after a bench or a scenario (and by tests) to prove that load did not
 * break the domain rules: no double booking, no negative or drifting
 * balance, one payment per confirmed reservation, seat state matching the
 * live reservations. Each check is one or two read-only queries; they scan
 * whole tables, so they are for the end of a run, not for the hot path. */
#ifndef TICKETCTL_INVARIANTS_H
#define TICKETCTL_INVARIANTS_H

#include <stddef.h>
#include <mysql.h>

#define TK_INVARIANTS_MAX 8

typedef struct tk_invariant {
    char name[96];    /* stable, human readable: "no seat with two live reservations" */
    int ok;           /* 1 holds, 0 violated or could not be checked */
    char detail[256]; /* "0 violations", "3 violations (e.g. seat 12, 15)", or the query error */
} tk_invariant;

/* Run every check on db (a connection from tk_db_connect()) and fill
 * out[0..n-1]; n is at most TK_INVARIANTS_MAX and at most cap. A check whose
 * query fails is reported with ok = 0 and the MariaDB error in detail.
 * Returns the number of checks filled (>= 0), or -1 with a message in err
 * when out/cap cannot hold them or db is NULL. */
int tk_invariants_check(MYSQL *db, tk_invariant *out, size_t cap, char *err /* OUT */, size_t errlen);

/* Resolve the MariaDB URL like every command does (flag, environment, dev
 * stack; see backend.h; the stack is never started here), connect, run
 * tk_invariants_check() and close. mysql_url and state_dir may be NULL.
 * Returns the number of checks, or -1 with a message in err. */
int tk_invariants_check_url(const char *mysql_url, const char *state_dir, tk_invariant *out, size_t cap,
                            char *err /* OUT */, size_t errlen);

/* 1 when every one of the n checks holds (and n > 0), else 0. */
int tk_invariants_all_ok(const tk_invariant *inv, size_t n);

#endif
