/* Domain invariants checked in MariaDB after a run.
 *
 * One table row per check: a query counting violations and a query naming
 * up to five of them for the detail line. Adding a check is adding a row.
 * Schema: lib/db.c. A live reservation is one in PENDING or CONFIRMED; a
 * HELD seat matches a PENDING reservation, a SOLD seat a CONFIRMED one. */
#include "ticketctl/invariants.h"
#include "ticketctl/devstack.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"

#include <stdio.h>
#include <string.h>

typedef struct check {
    const char *name;
    const char *what; /* noun for the sample ids: "seat", "user" */
    const char *count_sql;
    const char *sample_sql; /* first column = an id; LIMIT 5 */
} check;

#define LIVE "('PENDING','CONFIRMED')"
#define SEAT_MATCHES_RES                                                                           \
    "((s.status = 'HELD' AND r.status = 'PENDING') OR (s.status = 'SOLD' AND r.status = 'CONFIRMED'))"

static const check checks[] = {
    {"no seat with two live reservations", "seat",
     "SELECT COUNT(*) FROM (SELECT seat_id FROM reservations WHERE status IN " LIVE
     " GROUP BY seat_id HAVING COUNT(*) > 1) x",
     "SELECT seat_id FROM reservations WHERE status IN " LIVE
     " GROUP BY seat_id HAVING COUNT(*) > 1 ORDER BY seat_id LIMIT 5"},
    {"no negative balance", "user",
     "SELECT COUNT(*) FROM users WHERE points < 0",
     "SELECT id FROM users WHERE points < 0 ORDER BY id LIMIT 5"},
    {"balance equals the sum of point history", "user",
     "SELECT COUNT(*) FROM users u LEFT JOIN (SELECT user_id, SUM(amount) AS total FROM point_history"
     " GROUP BY user_id) h ON h.user_id = u.id WHERE u.points <> COALESCE(h.total, 0)",
     "SELECT u.id FROM users u LEFT JOIN (SELECT user_id, SUM(amount) AS total FROM point_history"
     " GROUP BY user_id) h ON h.user_id = u.id WHERE u.points <> COALESCE(h.total, 0) ORDER BY u.id LIMIT 5"},
    {"every confirmed reservation has exactly one completed payment", "reservation",
     "SELECT COUNT(*) FROM reservations r WHERE r.status = 'CONFIRMED' AND (SELECT COUNT(*) FROM payments p"
     " WHERE p.reservation_id = r.id AND p.status = 'COMPLETED') <> 1",
     "SELECT r.id FROM reservations r WHERE r.status = 'CONFIRMED' AND (SELECT COUNT(*) FROM payments p"
     " WHERE p.reservation_id = r.id AND p.status = 'COMPLETED') <> 1 ORDER BY r.id LIMIT 5"},
    {"every held/sold seat has a matching live reservation", "seat",
     "SELECT COUNT(*) FROM seats s WHERE s.status IN ('HELD','SOLD') AND NOT EXISTS (SELECT 1 FROM"
     " reservations r WHERE r.seat_id = s.id AND " SEAT_MATCHES_RES ")",
     "SELECT s.id FROM seats s WHERE s.status IN ('HELD','SOLD') AND NOT EXISTS (SELECT 1 FROM"
     " reservations r WHERE r.seat_id = s.id AND " SEAT_MATCHES_RES ") ORDER BY s.id LIMIT 5"},
    {"every live reservation has a matching held/sold seat", "reservation",
     "SELECT COUNT(*) FROM reservations r LEFT JOIN seats s ON s.id = r.seat_id WHERE r.status IN " LIVE
     " AND (s.id IS NULL OR NOT " SEAT_MATCHES_RES ")",
     "SELECT r.id FROM reservations r LEFT JOIN seats s ON s.id = r.seat_id WHERE r.status IN " LIVE
     " AND (s.id IS NULL OR NOT " SEAT_MATCHES_RES ") ORDER BY r.id LIMIT 5"},
};

#define NCHECKS (sizeof checks / sizeof checks[0])
_Static_assert(NCHECKS <= TK_INVARIANTS_MAX, "raise TK_INVARIANTS_MAX");

/* Append " (e.g. seat 12, 15, 99)" to detail from the sample query. */
static void add_samples(MYSQL *db, const check *c, char *detail, size_t len)
{
    if (mysql_real_query(db, c->sample_sql, strlen(c->sample_sql)) != 0)
        return;
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return;
    size_t off = strlen(detail);
    MYSQL_ROW row;
    int i = 0;
    while ((row = mysql_fetch_row(res)) && off + 1 < len) {
        int w = snprintf(detail + off, len - off, i == 0 ? " (e.g. %s %s" : ", %s%s", i == 0 ? c->what : "",
                         row[0] ? row[0] : "NULL");
        if (w < 0)
            break;
        off += (size_t)w;
        i++;
    }
    if (i > 0 && off + 1 < len)
        snprintf(detail + off, len - off, ")");
    mysql_free_result(res);
}

int tk_invariants_check(MYSQL *db, tk_invariant *out, size_t cap, char *err, size_t errlen)
{
    if (!db)
        return tk_err(err, errlen, "no database connection");
    if (!out || cap < NCHECKS)
        return tk_err(err, errlen, "room for %zu invariants needed, got %zu", NCHECKS, cap);
    for (size_t i = 0; i < NCHECKS; i++) {
        const check *c = &checks[i];
        tk_invariant *inv = &out[i];
        snprintf(inv->name, sizeof inv->name, "%s", c->name);
        long long n = 0;
        char e[200];
        int rc = tk_db_query_i64(db, c->count_sql, &n, e, sizeof e);
        if (rc < 0) {
            inv->ok = 0;
            snprintf(inv->detail, sizeof inv->detail, "query failed: %s", e);
            continue;
        }
        if (rc == 1)
            n = 0;
        inv->ok = n == 0;
        snprintf(inv->detail, sizeof inv->detail, "%lld violation%s", n, n == 1 ? "" : "s");
        if (n > 0)
            add_samples(db, c, inv->detail, sizeof inv->detail);
    }
    return (int)NCHECKS;
}

int tk_invariants_check_url(const char *mysql_url, const char *state_dir, tk_invariant *out, size_t cap,
                            char *err, size_t errlen)
{
    tk_backend b;
    if (tk_backend_resolve_some(&b, TK_NEED_MYSQL, mysql_url, NULL, NULL, state_dir, 0, err, errlen) != 0)
        return -1;
    MYSQL *db = tk_db_connect(b.mysql, err, errlen);
    if (!db)
        return -1;
    int n = tk_invariants_check(db, out, cap, err, errlen);
    mysql_close(db);
    return n;
}

int tk_invariants_all_ok(const tk_invariant *inv, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!inv[i].ok)
            return 0;
    return 1;
}
