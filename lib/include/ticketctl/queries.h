/* The query registry: every query the server and the scenarios issue, by a
 * stable name ("seats.available", "schedules.available_dates", ...), with
 * its SQL text and a generator of realistic parameters.
 *
 * The read queries of lib/store.c are defined here as printf formats
 * (TK_SQL_* macros) and store.c formats exactly these macros, so the text
 * the tuner analyses cannot drift from the text the server runs. Statements
 * inside the stored procedures (lib/db.c) and the scenario strategies
 * (lib/strategy.c) are listed as copies of their text: their origin field
 * says so ("proc tk_pay", "lib/strategy.c").
 *
 * Parameters are picked from the data: a random existing id is found by a
 * cheap primary-key range pick (MIN/MAX once per table, then
 * `WHERE id >= r ORDER BY id LIMIT 1`), so the plans and timings are those
 * of real, present keys. */
#ifndef TICKETCTL_QUERIES_H
#define TICKETCTL_QUERIES_H

#include <stddef.h>
#include <stdint.h>
#include <mysql.h>

/* ISO-8601 UTC; doubled % because it goes through printf first. */
#define TK_SQL_TS_FMT "'%%Y-%%m-%%dT%%H:%%i:%%sZ'"

/* Reservation columns and join (store.c reservation_from_row reads them in this order). */
#define TK_SQL_RES_COLS                                                                                    \
    "r.id, r.user_id, r.seat_id, r.schedule_id, cs.concert_id, r.price, r.status,"                         \
    " CAST(UNIX_TIMESTAMP(r.expires_at) * 1000 AS SIGNED), CAST(UNIX_TIMESTAMP(r.created_at) * 1000 AS SIGNED)," \
    " r.expires_at <= UTC_TIMESTAMP(3), cs.starts_at <= UTC_TIMESTAMP(3)"
#define TK_SQL_RES_FROM " FROM reservations r JOIN concert_schedules cs ON cs.id = r.schedule_id"

/* seats.available: %llu schedule id, %s extra condition ("" or " AND grade = 'VIP'"). */
#define TK_SQL_SEATS_AVAILABLE                                                                             \
    "SELECT id, section, row_label, number, grade, price FROM seats"                                       \
    " WHERE schedule_id = %llu AND status = 'AVAILABLE'%s ORDER BY id"
/* schedules.available_dates: %llu concert id. */
#define TK_SQL_SCHEDULES_AVAILABLE                                                                         \
    "SELECT id, DATE_FORMAT(starts_at, " TK_SQL_TS_FMT "), total_seats, available_seats"                   \
    " FROM concert_schedules WHERE concert_id = %llu AND starts_at > UTC_TIMESTAMP(3)"                     \
    " AND available_seats > 0 ORDER BY starts_at"
/* reservations.of_user: %llu user id. */
#define TK_SQL_RESERVATIONS_OF_USER                                                                        \
    "SELECT " TK_SQL_RES_COLS TK_SQL_RES_FROM " WHERE r.user_id = %llu ORDER BY r.id DESC LIMIT 100"
/* concerts.search, concerts.search_count, concerts.search_terms (lib/catalog.c): built per keyword by
 * tk_catalog_search_sql (catalog.h); these are their shapes, for the registry's listing. */
#define TK_SQL_CONCERTS_SEARCH                                                                             \
    "SELECT c.id, ... FROM ((SELECT w.concert_id, w.bookable, w.next_show_at FROM concert_words w"         \
    " WHERE w.word = '<rarest>' AND ((w.sig0 & <bits>) | (w.sig1 & <bits>)) <> 0 ORDER BY w.bookable DESC,"  \
    " w.next_show_at, w.concert_id LIMIT <page x size>) UNION ...) u JOIN concerts c ON c.id = u.concert_id" \
    " ORDER BY u.bookable DESC, u.next_show_at, u.concert_id LIMIT <size> OFFSET <offset>"
#define TK_SQL_CONCERTS_SEARCH_COUNT                                                                       \
    "SELECT COUNT(*) FROM ((SELECT w.concert_id FROM concert_words w WHERE w.word = '<rarest>'"           \
    " AND EXISTS (...) LIMIT <cap + 1>) UNION ...) t"
#define TK_SQL_CONCERTS_SEARCH_TERMS                                                                       \
    "(SELECT 0, word, concerts, bit FROM search_terms WHERE word LIKE '<word>%' AND concerts > 0"               \
    " ORDER BY word LIMIT 65) UNION ALL ..."
/* reservations.of_user_page (lib/catalog.c): %llu user, %s status condition ("" or " AND r.status = 'X'"),
 * %d size, %lld offset; and its count. */
#define TK_SQL_RESERVATIONS_PAGE                                                                           \
    "SELECT " TK_SQL_RES_COLS TK_SQL_RES_FROM " WHERE r.user_id = %llu%s ORDER BY r.id DESC LIMIT %d OFFSET %lld"
#define TK_SQL_RESERVATIONS_COUNT "SELECT COUNT(*) FROM reservations r WHERE r.user_id = %llu%s"
/* holds.expired: %d batch size. */
#define TK_SQL_HOLDS_EXPIRED                                                                               \
    "SELECT id FROM reservations WHERE status = 'PENDING' AND expires_at <= UTC_TIMESTAMP(3)"              \
    " ORDER BY expires_at LIMIT %d"
/* points.history_count: %llu user id. */
#define TK_SQL_POINTS_HISTORY_COUNT "SELECT COUNT(*) FROM point_history WHERE user_id = %llu"
/* points.history: %llu user id, %d page size, %lld offset. */
#define TK_SQL_POINTS_HISTORY                                                                              \
    "SELECT id, amount, type, balance_after, DATE_FORMAT(created_at, " TK_SQL_TS_FMT ")"                   \
    " FROM point_history WHERE user_id = %llu ORDER BY id DESC LIMIT %d OFFSET %lld"

/* One registered query. */
typedef struct tk_qgen tk_qgen;
typedef struct tk_query {
    const char *name;   /* stable name, "area.what" */
    const char *sql;    /* the SQL as a printf format (what the caller formats) */
    const char *origin; /* where it is issued: "lib/store.c tk_store_seats_available", "proc tk_pay" */
    /* Write the statement with realistic parameters into sql (len bytes).
     * Returns 0, or -1 when the data has no row to pick from (message in err). */
    int (*render)(tk_qgen *g, char *sql, size_t len, char *err, size_t errlen);
} tk_query;

/* The registry; *n receives the entry count. Static storage. */
const tk_query *tk_queries(size_t *n);

/* The entry called name, or NULL. */
const tk_query *tk_query_find(const char *name);

/* Parameter generator over a connection (borrowed; must outlive it) with a
 * deterministic xorshift stream from seed. Caches each table's id range on
 * first use. Returns NULL on out-of-memory. */
tk_qgen *tk_qgen_new(MYSQL *db, uint64_t seed);
/* Free; accepts NULL. */
void tk_qgen_free(tk_qgen *g);

/* Render q with fresh realistic parameters (q->render). Same returns. */
int tk_query_render(tk_qgen *g, const tk_query *q, char *sql, size_t len, char *err /* OUT */, size_t errlen);

/* Pick a random existing id of table (PK range pick, see above) into *id.
 * Returns 0, 1 when the table is empty, -1 on a database error (err). */
int tk_qgen_pick_id(tk_qgen *g, const char *table, uint64_t *id, char *err /* OUT */, size_t errlen);

#endif
