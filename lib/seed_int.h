/* seed internals: the deterministic row generators and their text encoders,
 * exposed for tests/test_seed.c (no database needed). Not a public API. */
#ifndef TICKETCTL_SEED_INT_H
#define TICKETCTL_SEED_INT_H

#include "ticketctl/catalog.h"
#include "ticketctl/seed.h"

#include <stddef.h>
#include <stdint.h>

/* Longest encoded row of any table, newline and NUL included. */
#define TK_SEED_ROW_MAX 1024

/* Words with a bit of their own in concert_words.sig0/sig1 (migration 15). */
#define TK_SEED_BIT_WORDS 128

/* concert_words ids: concert c's k-th word is (c - 1) x this + k + 1; the rest are holes. */
#define TK_SEED_WORDS_PER_CONCERT 16

/* Layout of seats within a schedule. */
#define TK_SEED_SEATS_PER_ROW 20
#define TK_SEED_ROWS_PER_SECTION 10

typedef enum tk_seed_fmt {
    TK_SEED_FMT_CSV, /* one LOAD DATA line: fields ',' enclosed '"' escaped '\\', ends '\n' */
    TK_SEED_FMT_SQL, /* one INSERT tuple: (1,'a\'b',...) without separator */
} tk_seed_fmt;

/* Reservation statuses the generator draws (seed.h gives the shares). */
typedef enum tk_seed_res_status {
    TK_SEED_RES_CONFIRMED,
    TK_SEED_RES_PENDING,
    TK_SEED_RES_CANCELED,
    TK_SEED_RES_EXPIRED,
} tk_seed_res_status;

/* Everything a generator needs; read-only once made, shared by threads. */
typedef struct tk_seed_gen {
    tk_seed_config cfg;  /* base_ms resolved (never 0), schedules resolved (never 0) */
    char pw_hash[160];   /* the shared password hash string */
    uint64_t seats;      /* schedules x seats_per_schedule */
    uint64_t stride;     /* reservation -> seat: seat0 = r0 * stride mod seats; coprime to seats */
    uint64_t inv;        /* stride^-1 mod seats: r0 = seat0 * inv mod seats */
    uint64_t kmax;       /* most reservations of one user: ceil(reservations / users) */
    uint64_t ph_stride;  /* point-history ids per user: 1 + 2 * kmax */
    uint64_t payments;   /* paid (CONFIRMED or CANCELED) reservations */
    uint64_t history;    /* point-history rows */
    uint64_t words;      /* concert_words rows: each concert's distinct title and venue words */
    /* the search's bit words (migration 15): the generator's vocabulary, word i has bit i */
    char bit_words[TK_SEED_BIT_WORDS][TK_CATALOG_WORD_LEN];
    int nbit_words;
} tk_seed_gen;

/* Fill *g from cfg and a password hash string (copied). A cfg->base_ms of 0
 * becomes today 00:00 UTC, a cfg->schedules of 0 concerts x
 * schedules_per_concert. Counts the payments and point-history rows (one
 * pass over the reservations: O(reservations)). The caller checks that
 * reservations <= seats (tk_seed_gen_check). */
void tk_seed_gen_init(tk_seed_gen *g, const tk_seed_config *cfg, const char *pw_hash);

/* 0 when g's counts can be generated, else -1 with the reason in err. */
int tk_seed_gen_check(const tk_seed_gen *g, char *err /* OUT */, size_t errlen);

/* Reservation r (1-based): its seat id, status, and user id. */
uint64_t tk_seed_res_seat(const tk_seed_gen *g, uint64_t r);
tk_seed_res_status tk_seed_res_status_of(const tk_seed_gen *g, uint64_t r);
uint64_t tk_seed_res_user(const tk_seed_gen *g, uint64_t r);

/* The reservation holding seat `seat` (1-based), or 0 when none does. */
uint64_t tk_seed_seat_res(const tk_seed_gen *g, uint64_t seat);

/* Points balance of user u after its seeded history (0 without one). */
int64_t tk_seed_user_points(const tk_seed_gen *g, uint64_t u);

/* Largest primary-key value of a table: the row count for the dense tables,
 * the id space of the sparse ones (payments: reservations; point history:
 * users x ph_stride). Ids in 1..max with no row are holes. */
uint64_t tk_seed_table_max_id(const tk_seed_gen *g, int table);

/* Static table name ("users", "concerts", "concert_schedules", "seats",
 * "reservations", "payments", "point_history") and the column list of the
 * load, e.g. "id,email,name,password_hash,points,role". */
const char *tk_seed_table_name(int table);
const char *tk_seed_table_columns(int table);

/* Rows of a table under g (users; concerts; schedules; x seats; reservations;
 * paid reservations; point-history entries). */
uint64_t tk_seed_table_rows(const tk_seed_gen *g, int table);

/* Encode row `id` (1-based) of `table` into buf. Returns the bytes written
 * (without the NUL), or 0 when it does not fit in cap, id is out of range,
 * or id is a hole of a sparse table (tk_seed_row_exists tells which). */
size_t tk_seed_row(const tk_seed_gen *g, int table, uint64_t id, tk_seed_fmt fmt, char *buf, size_t cap);

/* 1 when `table` has a row with primary key id, else 0. */
int tk_seed_row_exists(const tk_seed_gen *g, int table, uint64_t id);

/* Escape one string field: CSV gives "..." with '"' '\\' and control
 * characters backslash-escaped; SQL gives '...' likewise. Returns bytes
 * written (without the NUL), or 0 when it does not fit. */
size_t tk_seed_quote(tk_seed_fmt fmt, const char *s, char *dst, size_t cap);

/* The CSV byte stream of a whole table, produced on demand: what the
 * LOAD DATA LOCAL read callback hands to the client library. Rows may
 * straddle reads; nothing but one row is buffered. */
typedef struct tk_seed_stream {
    const tk_seed_gen *g;
    int table;
    uint64_t next, last; /* next row id to encode, last row id (holes skipped) */
    uint64_t emitted;    /* rows handed out so far */
    char pend[TK_SEED_ROW_MAX];
    size_t pend_len, pend_off; /* encoded row not yet handed out */
} tk_seed_stream;

/* The shared password hash of the seeded users: argon2id of
 * TK_SEED_PASSWORD at libsodium's MIN limits with a salt drawn from the
 * seed, in the standard $argon2id$ string form (crypto_pwhash_str_verify
 * accepts it), so the same seed gives the same users table byte for byte.
 * out holds TK_PW_HASH_MAX bytes. Returns 0 or -1 (libsodium failure). */
int tk_seed_pw_hash(uint64_t seed, char *out);

/* Start (or restart) the stream of `table` at row 1. */
void tk_seed_stream_init(tk_seed_stream *s, const tk_seed_gen *g, int table);

/* Start the stream of the ids first..last of `table` (last 0 or beyond the
 * table: to its end); used to load one table as several ranges at once. */
void tk_seed_stream_init_range(tk_seed_stream *s, const tk_seed_gen *g, int table, uint64_t first, uint64_t last);

/* Copy up to len bytes of the stream into buf. Returns the bytes copied
 * (0 at the end), or -1 when a row could not be encoded. */
long tk_seed_stream_read(tk_seed_stream *s, char *buf, size_t len);

/* Grade and price of the seat at 0-based position `idx` of a schedule of
 * `per_schedule` seats (row band, see seed.h). grade is static storage. */
void tk_seed_seat_grade(uint32_t idx, uint32_t per_schedule, const char **grade, int64_t *price);

/* Section ("A".."Z","AA"..), row label ("1".."10") and seat number of
 * position idx within a schedule. */
void tk_seed_seat_place(uint32_t idx, char section[8], char row[8], int *number);

/* The pseudo-random 64-bit value k of row id of table under seed
 * (splitmix64 of the four inputs); the only source of variety. */
uint64_t tk_seed_rand(uint64_t seed, int table, uint64_t id, unsigned k);

#endif
