/* The box office's writes (issue 16): concerts, schedules, seats in bulk,
 * seat price and grade, a sale's waiting-room settings, and the admin
 * account of a seeded database.
 *
 * Every call is one MariaDB transaction on the store's connection
 * (tk_store_db): either all of it commits, with its outbox event
 * (`concert.created`, `concert.updated`, `concert.deleted`,
 * `schedule.created`, `seats.created`, `seats.updated`,
 * `sale.settings_updated`, topic TK_TOPIC_CATALOG, key = the concert id), or
 * nothing changes. Failures are reported like the store's own: a tk_rc, and
 * the API code and message on the store (tk_store_errcode/errmsg).
 * Times are ms since the epoch (UTC); prices KRW points. */
#ifndef TICKETCTL_ADMIN_H
#define TICKETCTL_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "ticketctl/queue.h"
#include "ticketctl/store.h"

/* Outbox topic of catalogue changes (lib/outbox.c publishes it like the others). */
#define TK_TOPIC_CATALOG "ticketctl.catalog"

/* Bounds of a bulk seat call: seats per call, and labels per block. */
#define TK_ADMIN_SEATS_MAX 20000
#define TK_ADMIN_LABELS_MAX 64
/* Largest seat price, KRW points. */
#define TK_ADMIN_PRICE_MAX 100000000LL

/* Parse an ISO-8601 UTC time "YYYY-MM-DDTHH:MM:SS[.mmm]Z" into ms since the
 * epoch. Returns 0, or -1 for anything else (no other zone is accepted). */
int tk_admin_parse_time(const char *s, int64_t *ms /* OUT */);

/* A concert. TK_EINVAL (VALIDATION) for an empty or >200-byte title/venue. */
tk_rc tk_admin_concert_create(tk_store *s, const char *title, const char *venue, int64_t sale_opens_ms,
                              uint64_t *id /* OUT */);
/* Change the given fields (NULL title/venue, sale_opens_ms < 0: keep).
 * TK_ENOTFOUND for an unknown concert. */
tk_rc tk_admin_concert_update(tk_store *s, uint64_t id, const char *title, const char *venue, int64_t sale_opens_ms);
/* Delete a concert with its schedules, seats and sale settings. TK_ECONFLICT
 * (LIVE_RESERVATIONS) while any seat of it has a PENDING or CONFIRMED
 * reservation; TK_ENOTFOUND. *schedules (may be NULL) gets up to nmax of
 * the deleted schedule ids, *nsched how many there were (for the caller's
 * cache invalidation). */
tk_rc tk_admin_concert_delete(tk_store *s, uint64_t id, uint64_t *schedules, size_t nmax, size_t *nsched);

/* A schedule of a concert starting at starts_ms, which must be in the future
 * (TK_EINVAL, code SCHEDULE_IN_PAST). TK_ENOTFOUND for an unknown concert. */
tk_rc tk_admin_schedule_create(tk_store *s, uint64_t concert_id, int64_t starts_ms, uint64_t *id /* OUT */);

/* One block of seats: every section x every row x numbers from..to, one
 * grade ("VIP","R","S","A") and price (1..TK_ADMIN_PRICE_MAX). Labels are
 * 1..8 bytes. */
typedef struct tk_seat_block {
    const char *sections[TK_ADMIN_LABELS_MAX];
    size_t nsections;
    const char *rows[TK_ADMIN_LABELS_MAX];
    size_t nrows;
    int number_from, number_to; /* 1 <= from <= to <= 10000 */
    const char *grade;
    int64_t price;
} tk_seat_block;

/* Seats a block stands for (sections x rows x numbers), 0 when malformed. */
uint64_t tk_seat_block_count(const tk_seat_block *b);

/* Create the blocks' seats (AVAILABLE) in a schedule, in one transaction:
 * at most TK_ADMIN_SEATS_MAX in all. TK_EINVAL (VALIDATION) for a bad
 * block; TK_ECONFLICT (DUPLICATE_SEAT) when a seat (section, row, number)
 * exists already or two blocks overlap; TK_ENOTFOUND (unknown schedule);
 * TK_ECONFLICT (SHOW_STARTED) for a past schedule. The schedule's counts
 * grow by the seats made. *first_id and *count: the new seats' ids are
 * first_id .. first_id + count - 1 only when nothing else inserted seats
 * meanwhile, so callers read them back by (section, row, number). */
tk_rc tk_admin_seats_create(tk_store *s, uint64_t schedule_id, const tk_seat_block *blocks, size_t nblocks,
                            uint64_t *count /* OUT */, uint64_t *concert_id /* OUT */);

/* Change the grade (NULL: keep) and/or price (0: keep) of seats of one
 * schedule, all AVAILABLE: TK_ECONFLICT (SEAT_NOT_AVAILABLE) when any of
 * them is held or sold, TK_ENOTFOUND when any id is not a seat of the
 * schedule; nothing changes then. n is 1..1000. */
tk_rc tk_admin_seats_update(tk_store *s, uint64_t schedule_id, const uint64_t *seat_ids, size_t n, const char *grade,
                            int64_t price, uint64_t *concert_id /* OUT */);

/* A sale's waiting-room settings (table sale_settings), per schedule. Unset
 * fields: opens_at_ms < 0, active_users 0, new_users_per_min 0; a server
 * uses its own flags for those. */
typedef struct tk_sale_settings {
    uint64_t schedule_id;
    int64_t opens_at_ms;
    int64_t active_users;      /* admitted at once, 0..1,000,000 */
    int64_t new_users_per_min; /* admission rate, 0..10,000,000 */
} tk_sale_settings;

/* Store them (replacing what was there). TK_ENOTFOUND for an unknown schedule. */
tk_rc tk_admin_sale_put(tk_store *s, const tk_sale_settings *in, uint64_t *concert_id /* OUT */);
/* Read them; TK_ENOTFOUND when the schedule has none (defaults apply). */
tk_rc tk_admin_sale_get(tk_store *s, uint64_t schedule_id, tk_sale_settings *out /* OUT */);

/* The settings of sales ids[0..n-1] in one query on db (a plain
 * connection: the admission job's); a sale without a row gets unset
 * fields. Returns 0, or -1 (then every out[] is unset: the flags apply). */
int tk_admin_sales_load(struct st_mysql *db, const uint64_t *ids, int n, tk_sale_settings *out /* OUT */);

/* Apply a sale's settings over the server's waiting-room flags for one
 * admission tick k at now_ms: active_users replaces admitted_cap,
 * new_users_per_minute the sale's rate (and *share, this tick's quota,
 * becomes tk_queue_tick_quota of it), and before opens_at nobody is
 * admitted (*share 0). Unset fields leave the flags' values. */
void tk_sale_settings_apply(const tk_sale_settings *s, tk_queue_config *c, int64_t *share, int64_t k, int64_t now_ms);

/* Default e-mail of the seeded admin account. */
#define TK_ADMIN_EMAIL "admin@ticketctl.local"

/* Create or reset the ADMIN account `email` with this password (8..128
 * bytes; NULL: 24 random hex characters from libsodium) on a plain
 * connection: used by seed. The password is copied into pw_out
 * (NUL-terminated). Hash argon2id (auth.h; calls tk_auth_init). Returns 0,
 * or -1 with a message in err. */
int tk_admin_account_ensure(struct st_mysql *db, const char *email, const char *password, char pw_out[129],
                            char *err /* OUT */, size_t errlen);

#endif
