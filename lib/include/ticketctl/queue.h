/* The waiting room: a queue per sale (concert schedule) in front of hold
 * and pay (DESIGN.md "Waiting room", issue 6).
 *
 * Model. A user takes a place (enqueue) and gets an arrival number `seq`
 * (1, 2, 3, ... per sale, from an atomic counter, so the order is exact and
 * never a clock comparison). Waiting users are ordered by seq; the
 * admission job moves the first N waiting users into the admitted set, each
 * with an expiry (the admitted TTL, the "session"), never more than the cap
 * at once. Only an admitted user may hold and pay; paying revokes the
 * admission so the slot frees before its TTL. Re-entry (enqueue again while
 * waiting or admitted) returns the existing entry: the place is kept.
 *
 * Pre-queue (a sale setting): users who arrive before the sale opens are
 * shuffled once, at the first admission tick after opening, then everyone
 * is served FIFO (as Queue-it and Cloudflare Waiting Room do); the shuffled
 * users keep seq values below every later arrival, so they stay in front.
 *
 * Backends behind one small vtable (tk_queue_ops):
 *   - redis: per sale S, keys tk:wr:{sale:S}:seq (INCR counter),
 *     tk:wr:{sale:S}:q (ZSET user -> seq: the waiting line),
 *     tk:wr:{sale:S}:adm (ZSET user -> expiry ms: the admitted set; cap and
 *     TTL are enforced in the one admit script), :admno (HASH user ->
 *     admission number), :admlog (LIST of admitted users in admission
 *     order, last 100,000), :ticks (HASH tick number -> users admitted by
 *     that tick: proves each tick ran once), :pre (highest seq taken before
 *     opening), :shuffled; tk:wr:sales (SET of sale ids with a queue, the
 *     one key outside the sale's hash tag). Every operation is one Lua
 *     script (atomic) on the sale's keys, which share the hash tag
 *     {sale:S} and so one Redis Cluster slot (rcluster.h).
 *   - mysql: the table queue_entries (migration 6), one row per user and
 *     sale; arrival order is the AUTO_INCREMENT id, position a COUNT(*) of
 *     waiting rows ahead; admission is one transaction guarded by a
 *     queue_ticks row per (sale, tick). This is the baseline the reference
 *     test measured (a MySQL-table queue); it need not be fast, and it has
 *     no pre-queue (the setting is ignored).
 *
 * Admission job: every tick (default 1 s) of wall time, tick number
 * k = now_ms / tick_ms, admits tk_queue_tick_quota(rate, tick_ms, k) users
 * in all (the rate, users per minute, is the server's capacity: one budget
 * for every sale together), split over the sales in proportion to their
 * waiting lines (tk_queue_split_quota), each sale up to its cap. It runs in one
 * process at a time per sale under the sale's lease with fencing (lease.h,
 * tk_queue_lease_name): the Redis admit script starts with
 * tk_lease_fence_lua(), so a stale holder is refused,
 * and the ticks record makes a tick number admit at most once.
 *
 * Tokens: "q2.<user>.<sale>.<seq>.<iat>.<exp>.<mac>", mac = HMAC-SHA-256
 * (libsodium crypto_auth_hmacsha256) over everything before the last dot,
 * hex. The token proves who took a place in which sale and with which
 * arrival number; whether the bearer is admitted NOW is asked of the
 * backend (is_admitted) at hold and pay.
 *
 * Stateless polls (issue 12, docs/WAITING-ROOM.md). Each admission tick
 * also writes the sale's "now serving" state, tk:wr:{sale:S}:state (HASH: upto =
 * the highest rank admitted so far, at, waiting, active, rate, open,
 * shuffled, pre, k1..k4 = the pre-queue permutation's round keys, mode),
 * and in random queueing the bitmap tk:wr:{sale:S}:bits (bit seq set once seq is
 * admitted). Every server instance reads that once per tick
 * (tk_queue_state_fetch) and answers a poll from the token's arrival number
 * and this state alone (tk_queue_stateless_poll): no Redis or MariaDB call.
 *
 * Admission (Cloudflare Waiting Room's model): at most admitted_cap users
 * admitted at once per sale ("total active users"), at most admit_per_min
 * new ones a minute ("new users per minute", per sale when rate_per_sale,
 * else one budget split over the sales); a slot frees when an admitted user
 * pays, leaves or runs out of time. FIFO admits the lowest ranks; random
 * queueing draws uniformly among those waiting at each tick (ZRANDMEMBER).
 *
 * Units: times in ms since the Unix epoch unless named _s; rates in users
 * per minute. */
#ifndef TICKETCTL_QUEUE_H
#define TICKETCTL_QUEUE_H

#include <hiredis/hiredis.h>
#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketctl/common.h"

typedef enum tk_queue_kind {
    TK_QUEUE_NONE = 0,
    TK_QUEUE_REDIS,
    TK_QUEUE_MYSQL,
} tk_queue_kind;

/* "none" | "redis" | "mysql" -> kind; returns 0, or -1 for anything else. */
int tk_queue_kind_parse(const char *s, tk_queue_kind *out);
/* The name of a kind ("none", "redis", "mysql"); static storage. */
const char *tk_queue_kind_name(tk_queue_kind k);

typedef struct tk_queue_config {
    tk_queue_kind kind;
    double admit_per_min;    /* users admitted per minute, all sales together (split by line length), > 0 */
    int64_t admitted_cap;    /* at most this many admitted at once per sale, > 0 */
    int64_t admitted_ttl_ms; /* an admission lasts this long unless revoked, > 0 */
    int64_t tick_ms;         /* admission period, > 0 (default 1000) */
    int pre_queue;           /* 1: shuffle who arrived before open_at_ms (redis only) */
    int64_t open_at_ms;      /* sale opening (wall ms); before it nobody is admitted when pre_queue */
    int rate_per_sale;       /* 1: admit_per_min is each sale's own budget (--new-users-per-minute) */
    int queueing;            /* TK_QUEUEING_FIFO (default) or TK_QUEUEING_RANDOM (redis only) */
    int64_t poll_max_ms;     /* the longest poll_after_ms hint (default 10 s) */
} tk_queue_config;

enum { TK_QUEUEING_FIFO = 0, TK_QUEUEING_RANDOM = 1 };

/* "fifo" | "random" -> TK_QUEUEING_*; returns 0, or -1 for anything else. */
int tk_queue_queueing_parse(const char *s, int *out);

/* Fill *c with the defaults: no queue, 6,636/min (the reference figure),
 * cap 1,000, TTL 10 minutes, tick 1 s, no pre-queue, open now. */
void tk_queue_config_default(tk_queue_config *c);

/* Admission rate from a measured capacity, users per minute:
 *   floor(capacity_tps / calls_per_user) * 60 * safety
 * (DESIGN.md "Waiting room"; issue 6's reference figure: 1,110 TPS / 7 API
 * calls per user = 158 whole users per second, * 60 * 0.7 margin = 6,636
 * per minute). Users per second are floored to whole users before scaling,
 * as the issue's figure does (unfloored it would be 6,660). Returns -1 when
 * an input is not positive or safety > 1. */
double tk_queue_rate_from_capacity(double capacity_tps, double calls_per_user, double safety);

/* Users to admit in tick k so that ticks 0..k together admit
 * floor((k+1) * rate * tick_ms / 60000): a fractional rate is exact over
 * time, never rounded per tick. */
int64_t tk_queue_tick_quota(double per_min, int64_t tick_ms, int64_t k);

/* Split a tick's quota over n sales with waiting[i] users waiting: in
 * proportion to the lines (largest remainder), never more than a line
 * holds; what a short line cannot use goes to the longer ones. out[i] sum
 * to min(quota, total waiting). */
void tk_queue_split_quota(int64_t quota, const int64_t *waiting, int n, int64_t *out);

/* One user's place. */
typedef struct tk_queue_status {
    int found;           /* 0: not in the queue and not admitted */
    int created;         /* enqueue: 1 a new entry, 0 re-entry (kept place) */
    int admitted;        /* 1: may hold and pay until admitted_until_ms */
    int64_t seq;         /* arrival number (1-based) while waiting; 0 once admitted (redis) */
    int64_t position;    /* 1-based place among the waiting; 0 when admitted */
    int64_t ahead;       /* waiting users in front = position - 1 */
    int64_t line;        /* users waiting in this sale's line (while waiting) */
    int64_t admitted_until_ms;
    int64_t admission_no; /* order of admission (1-based) once admitted, else 0 */
} tk_queue_status;

/* Estimated wait in seconds for `ahead` users at per_min users per minute
 * (ahead / per_min * 60, rounded up; 0 when ahead is 0; at most 10^9). */
int64_t tk_queue_est_wait_s(int64_t ahead, double per_min);
/* The same for a line of `line` users when `total` wait in all lines: the
 * budget is split in proportion to the lines (tk_queue_split_quota), so
 * every line drains at the same pace and the wait is that of
 * ahead * total / line users at the whole rate. */
int64_t tk_queue_est_wait_shared_s(int64_t ahead, int64_t line, int64_t total, double per_min);
/* Poll-after hint: half the estimated wait, within [tick_ms / 2, max_ms]
 * (max_ms <= 0: 10 s; the server's --poll-max). Each poll halves what is
 * left, so a user polls every max_ms while far back and then about
 * log2(2 max_ms / tick_ms) times more (6 at a 20 s cap and 1 s ticks),
 * while the waiting page still shows its position fall. (The earlier "a
 * fifth of the wait" took log1.25 of that, 17 polls; polling at the whole
 * estimated wait takes ~2 but leaves the page showing one position until
 * admission.) Cloudflare's page polls every 20 s: at a million waiting
 * users the cap sets the poll rate. */
int64_t tk_queue_poll_after_ms(int64_t est_wait_s, int64_t tick_ms, int64_t max_ms);

/* A backend's connection(s): the redis backend uses redis, mysql uses db
 * (and redis for the lease fence). Borrowed; one per thread. */
typedef struct tk_queue_conn {
    redisContext *redis;
    MYSQL *db;
} tk_queue_conn;

/* A backend. Each function is one atomic step on the backend; errors are
 * TK_EBACKEND with a message in err (may be NULL). sale and user > 0. */
typedef struct tk_queue_ops {
    const char *name;
    /* Take a place, or return the existing one (created = 0). */
    tk_rc (*enqueue)(tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale, uint64_t user, int64_t now_ms,
                     tk_queue_status *out, char *err, size_t errlen);
    /* Where is the user now. found = 0 when neither waiting nor admitted. */
    tk_rc (*poll)(tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale, uint64_t user, int64_t now_ms,
                  tk_queue_status *out, char *err, size_t errlen);
    /* Leave the line (or give up an admission). *removed = 1 if there was an entry. */
    tk_rc (*leave)(tk_queue_conn *c, uint64_t sale, uint64_t user, int *removed, char *err, size_t errlen);
    /* Admission tick k for one sale: drop expired admissions, (pre-queue:
     * shuffle once after opening), admit up to `quota` waiting users in
     * arrival order within the cap. fence_key/fence: the lease (lease.h);
     * fence_key NULL skips the check. Returns users admitted (>= 0), -2
     * when fenced off (a newer lease holder exists), -3 when tick k was
     * already run, -1 on error. */
    int (*admit_tick)(tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale, const char *fence_key,
                      uint64_t fence, int64_t k, int64_t quota, int64_t now_ms, char *err, size_t errlen);
    /* TK_OK when the user is admitted now, TK_EFORBIDDEN when not, TK_EBACKEND. */
    tk_rc (*is_admitted)(tk_queue_conn *c, uint64_t sale, uint64_t user, int64_t now_ms, char *err, size_t errlen);
    /* End an admission early (after payment). Missing is not an error. */
    tk_rc (*revoke)(tk_queue_conn *c, uint64_t sale, uint64_t user, char *err, size_t errlen);
    /* Users waiting in a sale's line (not admitted): >= 0, or -1 on error. */
    int64_t (*waiting)(tk_queue_conn *c, uint64_t sale, char *err, size_t errlen);
    /* Sales with waiting users or live admissions: up to cap ids into out.
     * Returns the count (>= 0) or -1. */
    int (*sales)(tk_queue_conn *c, uint64_t *out, int cap, char *err, size_t errlen);
} tk_queue_ops;

/* The name of sale S's admission lease, "sale:S" (lease.h): its keys
 * tk:lease:{sale:S} and tk:lease:{sale:S}:fence share the hash tag of the
 * sale's queue keys (tk:wr:{sale:S}:q, ...), so the admit script's fence
 * check and its effect are in one Redis Cluster slot. One lease per sale:
 * each sale has one admitter at a time (not necessarily the same instance
 * for every sale). Writes at most n bytes into out. */
void tk_queue_lease_name(uint64_t sale, char *out, size_t n);

/* The backend of a kind; NULL for TK_QUEUE_NONE. Static storage. */
const tk_queue_ops *tk_queue_backend(tk_queue_kind k);

/* Admitted users of a sale in admission order (redis: the admission log;
 * mysql: by admission number), up to cap into out. Returns the count or -1.
 * For tests and the bench's fairness figure. */
int tk_queue_admission_order(tk_queue_kind k, tk_queue_conn *c, uint64_t sale, uint64_t *out, int cap);

/* Delete every trace of a sale's queue (tests and bench set-up). 0 or -1. */
int tk_queue_reset(tk_queue_kind k, tk_queue_conn *c, uint64_t sale);

/* Delete every sale's queue: the Redis keys of every sale in tk:wr:sales
 * (c->redis, if set) and all queue_entries / queue_ticks rows (c->db, if
 * set). For benchmarks between runs: abandoned lines would share the
 * admission budget. 0, or -1 when a step failed. */
int tk_queue_reset_all(tk_queue_conn *c);

/* ---- throughput ---------------------------------------------------------- */

typedef struct tk_queue_opsbench {
    int connections, pipeline;
    int64_t users;
    uint64_t ops, errors; /* script calls answered well / badly */
    double seconds, ops_per_s;
} tk_queue_opsbench;

/* Throughput of the Redis backend's own scripts (the enqueue and poll of
 * tk_queue_backend(TK_QUEUE_REDIS), the same EVALSHA calls): `users`
 * users of `sale` split over `connections` threads, one Redis connection
 * each; each thread enqueues its users, then polls each of them, sending
 * `pipeline` calls (1..64; 1 = one round trip per call, as the server does)
 * before reading the replies. ops = 2 * users when all went well. The
 * sale's keys are deleted before and after. 0, or -1 with a message. */
int tk_queue_bench_redis(const char *redis_url, uint64_t sale, int connections, int64_t users, int pipeline,
                         tk_queue_opsbench *out, char *err /* OUT */, size_t errlen);

/* ---- tokens ------------------------------------------------------------- */

#define TK_QTOKEN_MAX 192

typedef enum tk_qtoken_verdict {
    TK_QTOKEN_OK = 0,
    TK_QTOKEN_INVALID,    /* garbage or bad signature -> 401 INVALID_QUEUE_TOKEN */
    TK_QTOKEN_EXPIRED,    /* signature fine, exp passed -> 401 QUEUE_TOKEN_EXPIRED */
    TK_QTOKEN_WRONG_USER, /* another user's token -> 403 */
    TK_QTOKEN_WRONG_SALE, /* another sale's token -> 403 */
} tk_qtoken_verdict;

typedef struct tk_qtoken {
    uint64_t user, sale;
    int64_t seq; /* arrival number; 0 when unknown (issued to an admitted user) */
    int64_t iat_s, exp_s;
} tk_qtoken;

/* Sign a token for (user, sale) with arrival number seq (>= 0) issued at
 * iat_s, valid ttl_s, with key (>= 16 bytes). Writes a NUL-terminated
 * string into out. Returns 0 or -1. */
int tk_qtoken_issue(const unsigned char *key, size_t keylen, uint64_t user, uint64_t sale, int64_t seq,
                    int64_t iat_s, int64_t ttl_s, char out[TK_QTOKEN_MAX]);

/* Check a token: signature (constant-time), then expiry against now_s,
 * then that it names `user` and `sale`. Fills *out (may be NULL) when the
 * signature holds. */
tk_qtoken_verdict tk_qtoken_verify(const unsigned char *key, size_t keylen, const char *token, uint64_t user,
                                   uint64_t sale, int64_t now_s, tk_qtoken *out);

/* ---- stateless polls ---------------------------------------------------- */

/* Rank of a pre-queue arrival after the opening shuffle: a pseudo-random
 * permutation of 1..pre (pre <= 2^32), seq -> rank, keyed by four round
 * keys k[i] in [0, 65536). A 4-round balanced Feistel network over h-bit
 * halves (2^(2h) >= pre) with cycle walking (Black and Rogaway, "Ciphers
 * with arbitrary finite domains", CT-RSA 2002); the round function is
 * Knuth's multiplicative hash ((R + k) * 2654435761 mod 2^32, top h bits).
 * The admit script computes the same function in Lua. seq outside 1..pre
 * is returned unchanged. */
int64_t tk_queue_prequeue_rank(const uint32_t k[4], int64_t pre, int64_t seq);

/* One sale's "now serving" state as an instance holds it (see the top). */
typedef struct tk_queue_sale_state {
    uint64_t sale;
    int64_t upto;     /* FIFO: every rank <= upto has been admitted (or skipped) */
    int64_t at_ms;    /* wall time of the tick that wrote it */
    int64_t waiting;  /* users in the line at that tick */
    int64_t active;   /* admitted and live at that tick */
    double rate;      /* users per minute this sale is admitted at now (its share of the budget) */
    int open;         /* 0: pre-queue, before the sale opens */
    int shuffled;     /* 1: the pre-queue has been shuffled; pre and k apply */
    int64_t pre;      /* highest arrival number taken before opening */
    uint32_t k[4];    /* round keys of tk_queue_prequeue_rank */
    int mode;         /* TK_QUEUEING_* */
    double advance_rate; /* measured: ranks per minute upto moved (admitted + skipped), EWMA; 0 unknown */
    unsigned char *bits; /* random queueing: admitted arrival numbers (bit seq, MSB first), owned; or NULL */
    size_t nbits_bytes;
} tk_queue_sale_state;

/* Read the state of sales[0..n) from Redis in one pipeline (HMGET, plus
 * GET of the bitmap in random queueing) into out[0..n) (each zeroed first;
 * a sale with no state yet gets at_ms = 0). Bitmaps are malloc'd: release
 * with tk_queue_sale_state_clear. 0, or -1 with a message. */
int tk_queue_state_fetch(redisContext *c, const uint64_t *sales, int n, tk_queue_sale_state *out,
                         char *err /* OUT */, size_t errlen);
/* The pace the line moves at, ranks per minute, from two states of one
 * sale a tick or more apart: an exponentially weighted moving average
 * (weight 0.2 per tick of the new reading) of (cur->upto - prev->upto) /
 * (cur->at_ms - prev->at_ms), seeded with the first reading. It counts
 * users skipped (who left) as well as admitted, which is what a position
 * (rank - upto) drains at; with the active-users cap full it is below the
 * admission rate, and the wait estimate should use it. Returns
 * prev->advance_rate when no time passed, 0 with no prev. */
double tk_queue_advance_rate(const tk_queue_sale_state *prev, const tk_queue_sale_state *cur);

/* Free a state's bitmap (NULL is fine) and zero it. */
void tk_queue_sale_state_clear(tk_queue_sale_state *s);

/* Answer a poll from a verified token and the sale's state, with no
 * backend call. Returns 1 with *out filled (waiting: position, ahead,
 * line, seq; admitted = 0), or 0 when the state cannot answer and the
 * caller must ask the backend (the token's place may be admitted - the
 * backend then says until when and with which admission number, or that
 * the user left or ran out of time -; the token has no arrival number; the
 * state is older than stale_ms or missing). Position counts users who left
 * but are not yet skipped by admission, so it never undercounts. In random
 * queueing position = the whole line (there is no order). */
int tk_queue_stateless_poll(const tk_queue_sale_state *st, const tk_qtoken *tok, int64_t now_ms, int64_t stale_ms,
                            tk_queue_status *out);

/* ---- fairness ----------------------------------------------------------- */

/* How far an admission order departs from arrival order: the normalised
 * Kendall tau distance, discordant pairs / (n (n-1) / 2), in [0, 1]; 0
 * when admission follows arrival exactly (FIFO), 1 when it is reversed,
 * about 0.5 for a random order. arrival[i] and admission[i] are user i's
 * ranks (any comparable numbers; ties count as neither concordant nor
 * discordant). O(n log n) (merge-sort inversion count, Knight 1966).
 * Returns 0 for n < 2, -1 when out of memory. */
double tk_queue_kendall_distance(const int64_t *arrival, const int64_t *admission, size_t n);

#endif
