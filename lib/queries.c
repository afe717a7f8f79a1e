/* The query registry (see queries.h): names, SQL text, parameter pickers.
 *
 * Store queries format the TK_SQL_* macros that lib/store.c formats too;
 * procedure and strategy statements are copies of their text (origin says
 * where). Ids are picked by a primary-key range pick, which is O(log n) on
 * any table size and lands on present rows even with gaps in the ids. */
#include "ticketctl/queries.h"
#include "ticketctl/catalog.h"
#include "ticketctl/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QGEN_TABLES 16

struct tk_qgen {
    MYSQL *db;
    uint64_t rng;
    struct {
        char table[40];
        unsigned long long lo, hi;
        int empty;
    } range[QGEN_TABLES];
    int nrange;
};

tk_qgen *tk_qgen_new(MYSQL *db, uint64_t seed)
{
    tk_qgen *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->db = db;
    g->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
    return g;
}

void tk_qgen_free(tk_qgen *g) { free(g); }

static uint64_t next(tk_qgen *g)
{
    uint64_t x = g->rng; /* xorshift64 (Marsaglia 2003) */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return g->rng = x;
}

/* First row, first column as unsigned; 0 ok, 1 no row / NULL, -1 error. */
static int q_u64(MYSQL *db, const char *sql, unsigned long long *out, char *err, size_t errlen)
{
    if (mysql_query(db, sql) != 0)
        return tk_err(err, errlen, "%s: %s", sql, mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return tk_err(err, errlen, "%s: %s", sql, mysql_error(db));
    MYSQL_ROW row = mysql_fetch_row(res);
    int rc = 1;
    if (row && row[0]) {
        *out = strtoull(row[0], NULL, 10);
        rc = 0;
    }
    mysql_free_result(res);
    return rc;
}

int tk_qgen_pick_id(tk_qgen *g, const char *table, uint64_t *id, char *err, size_t errlen)
{
    char sql[256];
    int i;
    for (i = 0; i < g->nrange; i++)
        if (!strcmp(g->range[i].table, table))
            break;
    if (i == g->nrange) {
        if (i == QGEN_TABLES || strlen(table) >= sizeof g->range[i].table)
            return tk_err(err, errlen, "too many tables");
        snprintf(g->range[i].table, sizeof g->range[i].table, "%s", table);
        snprintf(sql, sizeof sql, "SELECT MIN(id) FROM %s", table);
        int r1 = q_u64(g->db, sql, &g->range[i].lo, err, errlen);
        if (r1 < 0)
            return -1;
        snprintf(sql, sizeof sql, "SELECT MAX(id) FROM %s", table);
        int r2 = r1 == 0 ? q_u64(g->db, sql, &g->range[i].hi, err, errlen) : 1;
        if (r2 < 0)
            return -1;
        g->range[i].empty = r1 != 0 || r2 != 0;
        g->nrange++;
    }
    if (g->range[i].empty)
        return 1;
    unsigned long long span = g->range[i].hi - g->range[i].lo + 1;
    unsigned long long want = g->range[i].lo + next(g) % span, got = 0;
    snprintf(sql, sizeof sql, "SELECT id FROM %s WHERE id >= %llu ORDER BY id LIMIT 1", table, want);
    int rc = q_u64(g->db, sql, &got, err, errlen);
    if (rc != 0)
        return rc;
    *id = got;
    return 0;
}

/* A random existing id of table, or -1 with "no rows in <table>". */
static int pick(tk_qgen *g, const char *table, unsigned long long *out, char *err, size_t errlen)
{
    uint64_t id = 0;
    int rc = tk_qgen_pick_id(g, table, &id, err, errlen);
    if (rc > 0)
        return tk_err(err, errlen, "no rows in %s to pick a parameter from", table);
    *out = id;
    return rc;
}

/* A column of the row with a random existing id of table (e.g. the user of
 * a random reservation). */
static int pick_col(tk_qgen *g, const char *table, const char *col, unsigned long long *out, char *err,
                    size_t errlen)
{
    unsigned long long id = 0;
    if (pick(g, table, &id, err, errlen) != 0)
        return -1;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE id = %llu", col, table, id);
    return q_u64(g->db, sql, out, err, errlen) == 0 ? 0 : tk_err(err, errlen, "%s: no value", sql);
}

/* A user who has reservations (falls back to any user). */
static int pick_user(tk_qgen *g, unsigned long long *out, char *err, size_t errlen)
{
    uint64_t id;
    int rc = tk_qgen_pick_id(g, "reservations", &id, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return pick_col(g, "reservations", "user_id", out, err, errlen);
    return pick(g, "users", out, err, errlen);
}

#define RENDER(fn) static int fn(tk_qgen *g, char *sql, size_t len, char *err, size_t errlen)
#define FITS(n) ((n) > 0 && (size_t)(n) < len ? 0 : tk_err(err, errlen, "statement longer than %zu bytes", len))

RENDER(r_seats_available)
{
    unsigned long long id = 0;
    if (pick(g, "concert_schedules", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, TK_SQL_SEATS_AVAILABLE, id, ""));
}

RENDER(r_schedules_available)
{
    unsigned long long id = 0;
    if (pick(g, "concerts", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, TK_SQL_SCHEDULES_AVAILABLE, id));
}

RENDER(r_reservations_of)
{
    unsigned long long id = 0;
    if (pick_user(g, &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, TK_SQL_RESERVATIONS_OF_USER, id));
}

RENDER(r_holds_expired)
{
    (void)g;
    return FITS(snprintf(sql, len, TK_SQL_HOLDS_EXPIRED, 100));
}

RENDER(r_points_count)
{
    unsigned long long id = 0;
    if (pick(g, "users", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, TK_SQL_POINTS_HISTORY_COUNT, id));
}

RENDER(r_points_history)
{
    unsigned long long id = 0;
    if (pick(g, "users", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, TK_SQL_POINTS_HISTORY, id, 20, 0LL));
}

#define SQL_USER_BY_ID "SELECT id, email, name, password_hash, points, role FROM users WHERE id = %llu"
RENDER(r_user_get)
{
    unsigned long long id = 0;
    if (pick(g, "users", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, SQL_USER_BY_ID, id));
}

#define SQL_USER_BY_EMAIL "SELECT id, email, name, password_hash, points, role FROM users WHERE email = '%s'"
RENDER(r_user_by_email)
{
    unsigned long long id = 0;
    if (pick(g, "users", &id, err, errlen) != 0)
        return -1;
    char q[128], email[200] = "", esc[401];
    snprintf(q, sizeof q, "SELECT email FROM users WHERE id = %llu", id);
    if (mysql_query(g->db, q) != 0)
        return tk_err(err, errlen, "%s: %s", q, mysql_error(g->db));
    MYSQL_RES *res = mysql_store_result(g->db);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row && row[0])
        snprintf(email, sizeof email, "%s", row[0]);
    mysql_free_result(res);
    mysql_real_escape_string(g->db, esc, email, (unsigned long)strlen(email));
    return FITS(snprintf(sql, len, SQL_USER_BY_EMAIL, esc));
}

#define SQL_CONCERTS_PAGE                                                                                  \
    "SELECT id, title, venue, DATE_FORMAT(sale_opens_at, " TK_SQL_TS_FMT ") FROM concerts WHERE 1"         \
    " ORDER BY id LIMIT %d OFFSET %lld"
RENDER(r_concerts_page)
{
    return FITS(snprintf(sql, len, SQL_CONCERTS_PAGE, 20, (long long)(next(g) % 10) * 20));
}

/* A keyword as people type it: two words of a random concert's title
 * (its artist and its noun), lower-cased; into kw. */
static int search_keyword(tk_qgen *g, char *kw, size_t kwlen, char *err, size_t errlen)
{
    unsigned long long id = 0;
    if (pick(g, "concerts", &id, err, errlen) != 0)
        return -1;
    char q[96], title[201] = "";
    snprintf(q, sizeof q, "SELECT title FROM concerts WHERE id = %llu", id);
    if (mysql_query(g->db, q) != 0)
        return tk_err(err, errlen, "%s: %s", q, mysql_error(g->db));
    MYSQL_RES *res = mysql_store_result(g->db);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row && row[0])
        snprintf(title, sizeof title, "%s", row[0]);
    mysql_free_result(res);
    char *save = NULL, *w[4] = {0};
    int n = 0;
    for (char *t = strtok_r(title, " ", &save); t && n < 4; t = strtok_r(NULL, " ", &save))
        w[n++] = t;
    snprintf(kw, kwlen, "%s %s", w[0] ? w[0] : "concert", n > 2 ? w[2] : "");
    for (char *c = kw; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return 0;
}

/* The plan of a realistic search, first page of 20 (the terms round trip runs here). */
static int search_plan(tk_qgen *g, tk_catalog_search_plan *plan, char *err, size_t errlen)
{
    char kw[120];
    if (search_keyword(g, kw, sizeof kw, err, errlen) != 0)
        return -1;
    return tk_catalog_search_sql(g->db, kw, 1, 20, plan, err, errlen) != 0 ? -1 : 0;
}

RENDER(r_concerts_search)
{
    static _Thread_local tk_catalog_search_plan plan;
    if (search_plan(g, &plan, err, errlen) != 0)
        return -1;
    if (!plan.page_sql[0])
        return tk_err(err, errlen, "the keyword matches nothing");
    return FITS(snprintf(sql, len, "%s", plan.page_sql));
}

RENDER(r_concerts_search_count)
{
    static _Thread_local tk_catalog_search_plan plan;
    if (search_plan(g, &plan, err, errlen) != 0)
        return -1;
    if (!plan.count_sql[0])
        return FITS(snprintf(sql, len, "SELECT %lld", plan.known_total));
    return FITS(snprintf(sql, len, "%s", plan.count_sql));
}

/* The expansion round trip of the same keyword (tk_catalog_search_sql step 1). */
RENDER(r_concerts_search_terms)
{
    char kw[120], toks[TK_CATALOG_WORDS_MAX][TK_CATALOG_WORD_LEN];
    if (search_keyword(g, kw, sizeof kw, err, errlen) != 0)
        return -1;
    size_t nt = tk_catalog_words(kw, toks, TK_CATALOG_WORDS_MAX);
    size_t o = 0;
    for (size_t i = 0; i < nt; i++) {
        char e[4 * TK_CATALOG_WORD_LEN + 1];
        mysql_real_escape_string(g->db, e, toks[i], (unsigned long)strlen(toks[i]));
        int n = snprintf(sql + o, len - o,
                         "%s(SELECT %zu, word, concerts, bit FROM search_terms WHERE word LIKE '%s%%' AND concerts > 0"
                         " ORDER BY word LIMIT %d)",
                         i ? " UNION ALL " : "", i, e, TK_CATALOG_EXPAND_MAX + 1);
        if (n < 0 || (size_t)n >= len - o)
            return tk_err(err, errlen, "statement longer than %zu bytes", len);
        o += (size_t)n;
    }
    return nt ? 0 : tk_err(err, errlen, "keyword '%s': no word", kw);
}

RENDER(r_reservations_page)
{
    unsigned long long id = 0;
    if (pick_user(g, &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, TK_SQL_RESERVATIONS_PAGE, id, "", 20, 0LL));
}

#define SQL_RESERVATION_LOCK "SELECT " TK_SQL_RES_COLS TK_SQL_RES_FROM " WHERE r.id = %llu FOR UPDATE"
RENDER(r_reservation_lock)
{
    unsigned long long id = 0;
    if (pick(g, "reservations", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, SQL_RESERVATION_LOCK, id));
}

#define SQL_SEAT_SCHEDULE                                                                                  \
    "SELECT s.schedule_id, s.price, cs.concert_id, cs.starts_at <= UTC_TIMESTAMP(3)"                       \
    " FROM seats s JOIN concert_schedules cs ON cs.id = s.schedule_id WHERE s.id = %llu"
RENDER(r_seat_schedule)
{
    unsigned long long id = 0;
    if (pick(g, "seats", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, SQL_SEAT_SCHEDULE, id));
}

#define SQL_PAYMENT_BY_KEY "SELECT id, reservation_id, amount FROM payments WHERE user_id = %llu AND idempotency_key = '%s'"
RENDER(r_payment_by_key)
{
    unsigned long long id = 0;
    if (pick(g, "users", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, SQL_PAYMENT_BY_KEY, id, "tune-probe-key"));
}

#define SQL_PAYMENT_OF_RES "SELECT id, amount FROM payments WHERE reservation_id = %llu AND status = 'COMPLETED' FOR UPDATE"
RENDER(r_payment_of_res)
{
    unsigned long long id = 0;
    if (pick(g, "reservations", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, SQL_PAYMENT_OF_RES, id));
}

#define SQL_SCN_SEAT "SELECT status, version FROM scn_seats WHERE id = %llu"
RENDER(r_scn_seat)
{
    unsigned long long id = 0;
    if (pick(g, "scn_seats", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, SQL_SCN_SEAT, id));
}

#define SQL_SCN_ACCOUNT "SELECT points, version FROM scn_accounts WHERE id = %llu"
RENDER(r_scn_account)
{
    unsigned long long id = 0;
    if (pick(g, "scn_accounts", &id, err, errlen) != 0)
        return -1;
    return FITS(snprintf(sql, len, SQL_SCN_ACCOUNT, id));
}

static const tk_query registry[] = {
    {"seats.available", TK_SQL_SEATS_AVAILABLE, "lib/store.c tk_store_seats_available", r_seats_available},
    {"schedules.available_dates", TK_SQL_SCHEDULES_AVAILABLE, "lib/store.c tk_store_schedules_available",
     r_schedules_available},
    {"reservations.of_user", TK_SQL_RESERVATIONS_OF_USER, "the tuner's fixture (the server pages: reservations.of_user_page)", r_reservations_of},
    {"holds.expired", TK_SQL_HOLDS_EXPIRED, "lib/store.c tk_store_expire_holds", r_holds_expired},
    {"points.history_count", TK_SQL_POINTS_HISTORY_COUNT, "lib/store.c tk_store_points_history", r_points_count},
    {"points.history", TK_SQL_POINTS_HISTORY, "lib/store.c tk_store_points_history", r_points_history},
    {"users.get", SQL_USER_BY_ID, "lib/store.c user_query (copy)", r_user_get},
    {"users.by_email", SQL_USER_BY_EMAIL, "lib/store.c user_query (copy)", r_user_by_email},
    {"concerts.list", SQL_CONCERTS_PAGE, "lib/store.c tk_store_concerts_list, no keyword (copy)", r_concerts_page},
    {"concerts.search", TK_SQL_CONCERTS_SEARCH, "lib/catalog.c tk_catalog_search", r_concerts_search},
    {"concerts.search_count", TK_SQL_CONCERTS_SEARCH_COUNT, "lib/catalog.c tk_catalog_search", r_concerts_search_count},
    {"concerts.search_terms", TK_SQL_CONCERTS_SEARCH_TERMS, "lib/catalog.c tk_catalog_search_sql (copy)",
     r_concerts_search_terms},
    {"reservations.of_user_page", TK_SQL_RESERVATIONS_PAGE, "lib/catalog.c tk_catalog_reservations_of",
     r_reservations_page},
    {"reservations.lock", SQL_RESERVATION_LOCK, "lib/store.c load_reservation, proc tk_pay (copy)",
     r_reservation_lock},
    {"seats.schedule_of", SQL_SEAT_SCHEDULE, "proc tk_reserve (copy)", r_seat_schedule},
    {"payments.by_idempotency_key", SQL_PAYMENT_BY_KEY, "proc tk_pay (copy)", r_payment_by_key},
    {"payments.of_reservation", SQL_PAYMENT_OF_RES, "lib/store.c cancel_body (copy)", r_payment_of_res},
    {"scn.seat", SQL_SCN_SEAT, "lib/strategy.c (copy)", r_scn_seat},
    {"scn.account", SQL_SCN_ACCOUNT, "lib/strategy.c (copy)", r_scn_account},
};

const tk_query *tk_queries(size_t *n)
{
    *n = sizeof registry / sizeof registry[0];
    return registry;
}

const tk_query *tk_query_find(const char *name)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (!strcmp(registry[i].name, name))
            return &registry[i];
    return NULL;
}

int tk_query_render(tk_qgen *g, const tk_query *q, char *sql, size_t len, char *err, size_t errlen)
{
    return q->render(g, sql, len, err, errlen);
}
