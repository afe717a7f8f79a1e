/* The reservation store: every domain operation of DESIGN.md on MariaDB.
 *
 * One tk_store wraps one blocking MariaDB connection; it is not thread-safe
 * (use one per thread). Every call returns a tk_rc; on failure the API error
 * code ("SEAT_TAKEN", "INSUFFICIENT_POINTS", ...) and a readable message are
 * on the store (tk_store_errcode / tk_store_errmsg) until the next call.
 *
 * Correctness rests on the database, not on the caller:
 *  - a seat is held by a conditional UPDATE (status AVAILABLE -> HELD) and a
 *    reservation row whose UNIQUE live_seat_id forbids a second live one;
 *  - points move only inside transactions that also write point_history with
 *    the balance after the change, so balance == SUM(history) always;
 *  - payment is idempotent by UNIQUE (user_id, idempotency_key) and
 *    UNIQUE (reservation_id).
 * Deadlocks and lock-wait timeouts are retried (3 attempts) then TK_EBUSY.
 * Amounts are KRW points (int64). Times are ms since the epoch (UTC). */
#ifndef TICKETCTL_STORE_H
#define TICKETCTL_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "ticketctl/auth.h"
#include "ticketctl/common.h"

/* Largest single charge and largest balance, KRW points. */
#define TK_CHARGE_MAX 100000000LL
#define TK_BALANCE_MAX 1000000000000LL

typedef struct tk_store tk_store;

/* Connect (see tk_db_connect). Returns NULL with a message in err. */
tk_store *tk_store_open(const char *mysql_url, char *err /* OUT */, size_t errlen);
/* Close; NULL is a no-op. */
void tk_store_close(tk_store *s);
/* API error code and message of the last failed call; owned by the store. */
const char *tk_store_errcode(const tk_store *s);
const char *tk_store_errmsg(const tk_store *s);
/* 0 when the connection answers a ping (reconnecting if needed), else -1. */
int tk_store_ping(tk_store *s);
/* The store's MariaDB connection, for the modules that keep their SQL
 * beside the store's (lib/admin.c, lib/catalog.c): same thread rules;
 * owned by the store. */
struct st_mysql *tk_store_db(tk_store *s);
/* The request id of the job this store now serves (issue 15.8), set by
 * the server before the handler and cleared (NULL) after it: the events the
 * store writes (hold, reserve, pay, cancel) carry it
 * in outbox.request_id (migration 14), and the relay sends it with the
 * event. 1-64 of [A-Za-z0-9._:+=/-] (the server's X-Request-Id rule);
 * anything else, or NULL, clears it. Costs no round trip: the store then
 * calls the procedures' NAME_rid wrappers instead. Copied. */
void tk_store_set_request_id(tk_store *s, const char *request_id);
/* The id set above, or "" (for modules writing events with their own SQL:
 * they may set outbox.request_id themselves). Owned by the store. */
const char *tk_store_request_id(const tk_store *s);

typedef struct tk_user {
    uint64_t id;
    char email[191];
    char name[101];
    char password_hash[TK_PW_HASH_MAX];
    int64_t points;
    int admin;
} tk_user;

/* Create a USER. TK_EEXISTS when the e-mail is taken. Fills *out. */
tk_rc tk_store_user_create(tk_store *s, const char *email, const char *name, const char *pw_hash, tk_user *out);
/* Look up by e-mail / id. TK_ENOTFOUND when absent. */
tk_rc tk_store_user_by_email(tk_store *s, const char *email, tk_user *out);
tk_rc tk_store_user_get(tk_store *s, uint64_t id, tk_user *out);

/* Add `amount` (1..TK_CHARGE_MAX) points; TK_EINVAL past TK_BALANCE_MAX.
 * Stores the new balance and the point_history id. */
tk_rc tk_store_points_charge(tk_store *s, uint64_t user_id, int64_t amount, int64_t *balance, uint64_t *history_id);

/* Point history, newest first: {"items":[{id,amount,type,balance_after,created_at}],"page","size","total"}.
 * *out is a new reference the caller json_decref()s. */
tk_rc tk_store_points_history(tk_store *s, uint64_t user_id, int page, int size, json_t **out);

/* Concert list, `keyword` (may be NULL/empty) matched in title or venue:
 * {"items":[{id,title,venue,sale_opens_at}],"page","size","total"}. */
tk_rc tk_store_concerts_list(tk_store *s, const char *keyword, int page, int size, json_t **out);
/* One concert {id,title,venue,sale_opens_at}; TK_ENOTFOUND. */
tk_rc tk_store_concert_get(tk_store *s, uint64_t id, json_t **out);
/* Future schedules of a concert with seats left:
 * {"concert_id","items":[{id,starts_at,total_seats,available_seats}]}; TK_ENOTFOUND for an unknown concert. */
/* The JSON text (malloc'd into *json, caller frees; its length in *len),
 * written row by row (jsonw.h) rather than through a jansson tree. */
tk_rc tk_store_schedules_available(tk_store *s, uint64_t concert_id, char **json, size_t *len);
/* AVAILABLE seats of a schedule, optionally one grade ("VIP","R","S","A"):
 * {"schedule_id","items":[{id,section,row,number,grade,price}]}; TK_ENOTFOUND for an unknown schedule. */
/* The JSON text as tk_store_schedules_available. */
tk_rc tk_store_seats_available(tk_store *s, uint64_t schedule_id, const char *grade, char **json, size_t *len);
/* Remove seat_id's item from a seat-map text made by
 * tk_store_seats_available, in place (the text only shrinks; *len is
 * updated and the text stays NUL-terminated). Returns 1 removed, 0 the seat
 * is not in it, -1 the text is not one of ours. Used to keep a cached seat
 * map current after a hold instead of dropping it (server/routes.c). */
int tk_store_seats_json_remove(char *json, size_t *len, uint64_t seat_id);
/* One seat of schedule_id was held: decrement its available_seats in a
 * dates text made by tk_store_schedules_available, in place (shrinks or
 * keeps the length). Returns 1 done, 0 the schedule is not in it, -1 the
 * text must be read again (its last seat went: the schedule leaves the
 * list; or the text is not ours). */
int tk_store_dates_json_take_seat(char *json, size_t *len, uint64_t schedule_id);

typedef struct tk_reservation {
    uint64_t id, user_id, seat_id, schedule_id, concert_id;
    int64_t price;
    char status[12];
    int64_t expires_at_ms, created_at_ms;
} tk_reservation;

/* Reservation as API JSON (new reference). */
json_t *tk_reservation_json(const tk_reservation *r);
/* A reservation from a row of TK_SQL_RES_COLS (queries.h), for the modules
 * that read reservations beside the store (lib/catalog.c). */
void tk_store_reservation_from_row(char **row, tk_reservation *r /* OUT */);

/* Hold a seat for hold_ttl_s seconds: PENDING reservation. TK_ENOTFOUND
 * (unknown seat), TK_ECONFLICT (SEAT_TAKEN, SHOW_STARTED). The same as
 * tk_store_reserve_as with TK_GUARD_ARBITER. */
tk_rc tk_store_reserve(tk_store *s, uint64_t user_id, uint64_t seat_id, int hold_ttl_s, tk_reservation *out);

/* How a hold guards the seat before the arbiter (the conditional UPDATE of
 * an AVAILABLE seat plus the UNIQUE live_seat_id, which run under every
 * guard): the database half of the lock strategies of strategy.h.
 * Procedure tk_reserve_as, migration 6. */
typedef enum tk_seat_guard {
    TK_GUARD_ARBITER = 0,     /* nothing but the arbiter */
    TK_GUARD_VERSION = 1,     /* optimistic: the seat's version must still be `arg` */
    TK_GUARD_FOR_UPDATE = 2,  /* SELECT ... FOR UPDATE first (waits innodb_lock_wait_timeout) */
    TK_GUARD_NOWAIT = 3,      /* ... FOR UPDATE NOWAIT: a locked seat is TK_EBUSY at once */
    TK_GUARD_SKIP_LOCKED = 4, /* ... FOR UPDATE SKIP LOCKED: a locked seat is TK_EBUSY */
    TK_GUARD_FENCE = 5,       /* fencing token `arg` must be the newest presented for the seat */
    TK_GUARD_UNIQUE = 6,      /* INSERT the reservation first: the UNIQUE key decides */
} tk_seat_guard;

/* Hold a seat under `guard` (arg: the version or fencing token, else 0).
 * Beyond tk_store_reserve's errors: TK_ECONFLICT with code "CONFLICT"
 * (TK_GUARD_VERSION: the version moved; the caller may re-read and retry)
 * or "STALE_LOCK" (TK_GUARD_FENCE: a newer token was presented), TK_EBUSY
 * with code "LOCK_BUSY" (NOWAIT, SKIP LOCKED, lock wait timeout or
 * deadlock after retries; NOWAIT and SKIP LOCKED are never retried). */
tk_rc tk_store_reserve_as(tk_store *s, uint64_t user_id, uint64_t seat_id, int hold_ttl_s, tk_seat_guard guard,
                          uint64_t arg, tk_reservation *out);

/* The seat's status (1 AVAILABLE, 0 otherwise) and version, a plain read:
 * the first half of an optimistic hold. TK_ENOTFOUND for an unknown seat. */
tk_rc tk_store_seat_version(tk_store *s, uint64_t seat_id, int *available, uint64_t *version);

/* Record an error from a layer above the store (e.g. a Redis step of a
 * lock strategy) so tk_store_errcode/errmsg report it like the store's
 * own. Returns rc. */
tk_rc tk_store_fail(tk_store *s, tk_rc rc, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Cancel a PENDING or CONFIRMED reservation of this user before the show;
 * a CONFIRMED one is refunded in full (*refunded, points). TK_ENOTFOUND
 * (unknown or another user's), TK_ECONFLICT (INVALID_STATE, SHOW_STARTED). */
tk_rc tk_store_cancel(tk_store *s, uint64_t user_id, uint64_t reservation_id, tk_reservation *out, int64_t *refunded);

typedef struct tk_payment {
    uint64_t id, reservation_id;
    int64_t amount, balance;
    int replay; /* 1 when this idempotency key had already paid: nothing charged now */
} tk_payment;

/* Pay a PENDING reservation with points. Idempotency key 1..64 bytes.
 * TK_ENOTFOUND, TK_ECONFLICT (ALREADY_PAID, INVALID_STATE), TK_EEXPIRED
 * (HOLD_EXPIRED), TK_EFUNDS (INSUFFICIENT_POINTS: the hold is released, as
 * the compensating step of a failed payment). On success *out->replay says
 * whether it was a replay. out->schedule/concert of the reservation go to *res. */
tk_rc tk_store_pay(tk_store *s, uint64_t user_id, uint64_t reservation_id, const char *idem_key,
                   tk_payment *out, tk_reservation *res);

/* The answer of one tk_charge row (code, then v[0..5]): *balance and
 * *history_id (may be NULL) like tk_store_points_charge, its tk_rc; a
 * refusal is recorded on s. */
tk_rc tk_store_charge_answer(tk_store *s, const char *code, const int64_t v[6], int64_t *balance,
                             uint64_t *history_id);

/* The answer of one tk_hold or tk_reserve_as row (code, then v[0..5]; arg:
 * the version or fencing token the caller presented, for the message):
 * fills *out like tk_store_reserve_as and returns its tk_rc; a refusal is
 * recorded on s. */
tk_rc tk_store_hold_answer(tk_store *s, uint64_t user_id, uint64_t seat_id, uint64_t arg, const char *code,
                           const int64_t v[6], tk_reservation *out);

/* The answer of one tk_pay row (code, then v[0..5]: tk_pay's 6 columns, for
 * tk_store_pay and the batch, storebatch.h): fills *out and *res like
 * tk_store_pay and returns its tk_rc; a refusal is recorded on s
 * (tk_store_errcode/errmsg). */
tk_rc tk_store_pay_answer(tk_store *s, uint64_t user_id, uint64_t reservation_id, const char *code,
                          const int64_t v[6], tk_payment *out, tk_reservation *res);

/* Expire up to `limit` PENDING holds whose expires_at has passed, freeing
 * their seats. Fills up to `limit` entries of `out` (may be NULL) with the
 * expired reservations. Returns the number expired (>= 0) or -1. */
int tk_store_expire_holds(tk_store *s, int limit, tk_reservation *out);

#endif
