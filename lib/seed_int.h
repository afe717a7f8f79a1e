/* seed internals: the deterministic row generators and their text encoders,
 * exposed for tests/test_seed.c (no database needed). Not a public API. */
#ifndef TICKETCTL_SEED_INT_H
#define TICKETCTL_SEED_INT_H

#include "ticketctl/seed.h"

#include <stddef.h>
#include <stdint.h>

/* Longest encoded row of any table, newline and NUL included. */
#define TK_SEED_ROW_MAX 1024

/* Layout of seats within a schedule. */
#define TK_SEED_SEATS_PER_ROW 20
#define TK_SEED_ROWS_PER_SECTION 10

typedef enum tk_seed_fmt {
    TK_SEED_FMT_CSV, /* one LOAD DATA line: fields ',' enclosed '"' escaped '\\', ends '\n' */
    TK_SEED_FMT_SQL, /* one INSERT tuple: (1,'a\'b',...) without separator */
} tk_seed_fmt;

/* Everything a generator needs; read-only once made, shared by threads. */
typedef struct tk_seed_gen {
    tk_seed_config cfg; /* base_ms resolved (never 0) */
    char pw_hash[160];  /* the shared password hash string */
} tk_seed_gen;

/* Fill *g from cfg and a password hash string (copied). A cfg->base_ms of 0
 * becomes today 00:00 UTC. */
void tk_seed_gen_init(tk_seed_gen *g, const tk_seed_config *cfg, const char *pw_hash);

/* Static table name ("users", "concerts", "concert_schedules", "seats") and
 * the column list of the load, e.g. "id,email,name,password_hash,points,role". */
const char *tk_seed_table_name(int table);
const char *tk_seed_table_columns(int table);

/* Rows of a table under g (users; concerts; concerts x schedules; x seats). */
uint64_t tk_seed_table_rows(const tk_seed_gen *g, int table);

/* Encode row `id` (1-based) of `table` into buf. Returns the bytes written
 * (without the NUL), or 0 when it does not fit in cap or id is out of range. */
size_t tk_seed_row(const tk_seed_gen *g, int table, uint64_t id, tk_seed_fmt fmt, char *buf, size_t cap);

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
    uint64_t next, rows; /* next row id to encode, last row id */
    char pend[TK_SEED_ROW_MAX];
    size_t pend_len, pend_off; /* encoded row not yet handed out */
} tk_seed_stream;

/* Start (or restart) the stream of `table` at row 1. */
void tk_seed_stream_init(tk_seed_stream *s, const tk_seed_gen *g, int table);

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
