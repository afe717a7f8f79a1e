/* Unit tests of the seed row generators (no database): determinism, seat
 * layout and grade/price bands, CSV/SQL escaping, the LOAD DATA stream,
 * the large profile's counts, and the consistency of reservations, seats,
 * schedules, payments, point history and balances (rules: seed.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "seed_int.h"
#include "ticketctl/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-11-21 00:00:00 UTC */
#define BASE_MS 1795219200000LL
static const char hash[] = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

static void make_gen_res(tk_seed_gen *g, uint64_t seed, uint32_t seats, uint64_t reservations)
{
    tk_seed_config cfg;
    assert_int_equal(tk_seed_profile("ci", &cfg), 0);
    cfg.seed = seed;
    cfg.base_ms = BASE_MS;
    cfg.reservations = reservations;
    if (seats)
        cfg.seats_per_schedule = seats;
    tk_seed_gen_init(g, &cfg, hash);
    char err[256];
    assert_int_equal(tk_seed_gen_check(g, err, sizeof err), 0);
}

static void make_gen(tk_seed_gen *g, uint64_t seed, uint32_t seats) { make_gen_res(g, seed, seats, 0); }

/* Split one LOAD DATA line (FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY
 * '"' ESCAPED BY '\\', LINES TERMINATED BY '\n') the way the server does.
 * Returns the number of fields; fields[i] are NUL-terminated copies. */
static int parse_csv_line(const char *line, char fields[][256], int maxf)
{
    int nf = 0;
    const char *p = line;
    for (;;) {
        assert_true(nf < maxf);
        char *out = fields[nf];
        size_t o = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\') {
                    p++;
                    char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p == 'Z' ? '\032' : *p;
                    out[o++] = c;
                } else {
                    out[o++] = *p;
                }
                p++;
            }
            assert_int_equal(*p, '"');
            p++;
        } else {
            while (*p && *p != ',' && *p != '\n')
                out[o++] = *p++;
        }
        out[o] = '\0';
        nf++;
        if (*p == ',') {
            p++;
            continue;
        }
        assert_int_equal(*p, '\n');
        assert_int_equal(p[1], '\0');
        return nf;
    }
}

static int count_columns(int table)
{
    const char *c = tk_seed_table_columns(table);
    int n = 1;
    for (; *c; c++)
        n += *c == ',';
    return n;
}

static void test_profiles_and_counts(void **state)
{
    (void)state;
    tk_seed_config cfg;
    assert_int_equal(tk_seed_profile("demo", &cfg), 0);
    assert_int_equal(cfg.users, 10000);
    tk_seed_gen g;
    tk_seed_gen_init(&g, &cfg, hash);
    assert_int_equal(tk_seed_table_rows(&g, TK_SEED_CONCERTS), 500);
    assert_int_equal(tk_seed_table_rows(&g, TK_SEED_SCHEDULES), 2000);
    assert_int_equal(tk_seed_table_rows(&g, TK_SEED_SEATS), 400000);
    assert_true(g.cfg.base_ms > 0 && g.cfg.base_ms % 86400000LL == 0);
    assert_int_equal(tk_seed_profile("ci", &cfg), 0);
    assert_int_equal(cfg.concerts * cfg.schedules_per_concert * cfg.seats_per_schedule, 50 * 2 * 100);
    assert_int_equal(tk_seed_profile("huge", &cfg), -1);
    assert_string_equal(tk_seed_table_name(TK_SEED_SCHEDULES), "concert_schedules");
}

static void test_same_seed_same_rows(void **state)
{
    (void)state;
    tk_seed_gen a, b;
    make_gen_res(&a, 42, 0, 3000);
    make_gen_res(&b, 42, 0, 3000);
    char ra[TK_SEED_ROW_MAX], rb[TK_SEED_ROW_MAX];
    for (int t = 0; t < TK_SEED_NTABLES; t++)
        for (uint64_t id = 1; id <= 60 && id <= tk_seed_table_max_id(&a, t); id++)
            for (int fmt = TK_SEED_FMT_CSV; fmt <= TK_SEED_FMT_SQL; fmt++) {
                if (!tk_seed_row_exists(&a, t, id))
                    continue;
                size_t na = tk_seed_row(&a, t, id, fmt, ra, sizeof ra);
                size_t nb = tk_seed_row(&b, t, id, fmt, rb, sizeof rb);
                assert_true(na > 0);
                assert_int_equal(na, nb);
                assert_string_equal(ra, rb);
            }
}

static void test_different_seed_different_rows(void **state)
{
    (void)state;
    tk_seed_gen a, b;
    make_gen(&a, 1, 0);
    make_gen(&b, 2, 0);
    char ra[TK_SEED_ROW_MAX] = "", rb[TK_SEED_ROW_MAX] = "";
    int tables_differ[TK_SEED_NTABLES] = {0};
    for (int t = 0; t < TK_SEED_NTABLES; t++)
        for (uint64_t id = 1; id <= 40; id++) {
            tk_seed_row(&a, t, id, TK_SEED_FMT_CSV, ra, sizeof ra);
            tk_seed_row(&b, t, id, TK_SEED_FMT_CSV, rb, sizeof rb);
            tables_differ[t] += strcmp(ra, rb) != 0;
        }
    assert_true(tables_differ[TK_SEED_USERS] > 20);    /* names */
    assert_true(tables_differ[TK_SEED_CONCERTS] > 20); /* titles, venues, sale times */
    assert_true(tables_differ[TK_SEED_SCHEDULES] > 20);
    /* Seats are pure layout: same for every seed. */
    assert_int_equal(tables_differ[TK_SEED_SEATS], 0);
    /* The fixed parts do not depend on the seed. */
    tk_seed_row(&a, TK_SEED_USERS, 7, TK_SEED_FMT_CSV, ra, sizeof ra);
    assert_non_null(strstr(ra, "\"user7@bench.ticketctl\""));
    assert_non_null(strstr(ra, ",0,\"USER\","));
}

static void test_rows_parse_back(void **state)
{
    (void)state;
    tk_seed_gen g;
    make_gen(&g, 9, 0);
    char row[TK_SEED_ROW_MAX], f[12][256];
    for (int t = 0; t < TK_SEED_NTABLES; t++)
        for (uint64_t id = 1; t != TK_SEED_CONCERT_WORDS && id <= tk_seed_table_rows(&g, t); id += 37) {
            assert_true(tk_seed_row(&g, t, id, TK_SEED_FMT_CSV, row, sizeof row) > 0);
            assert_int_equal(parse_csv_line(row, f, 12), count_columns(t));
            assert_int_equal(strtoull(f[0], NULL, 10), id);
        }
    /* The password hash holds commas: it must come back whole. */
    tk_seed_row(&g, TK_SEED_USERS, 3, TK_SEED_FMT_CSV, row, sizeof row);
    parse_csv_line(row, f, 12);
    assert_string_equal(f[3], hash);
    /* A venue holds a comma too ("KSPO Dome, Seoul"). */
    tk_seed_row(&g, TK_SEED_CONCERTS, 5, TK_SEED_FMT_CSV, row, sizeof row);
    assert_int_equal(parse_csv_line(row, f, 12), 8);
    assert_non_null(strstr(f[2], ", "));
    assert_non_null(strstr(f[1], " 5")); /* title ends with the concert id */
    /* Sale opened before the anchor day; shows start after it. */
    assert_true(strcmp(f[3], "2026-11-21 00:00:00.000") < 0);
    tk_seed_row(&g, TK_SEED_SCHEDULES, 10, TK_SEED_FMT_CSV, row, sizeof row);
    assert_int_equal(parse_csv_line(row, f, 12), 5);
    assert_string_equal(f[1], "5"); /* ci: 2 schedules per concert -> schedule 10 is concert 5's */
    assert_true(strcmp(f[2], "2026-11-28 00:00:00.000") > 0);
    assert_string_equal(f[3], "100");
    assert_string_equal(f[4], "100");
    /* Schedules of one concert are days apart, in order. */
    char first[256];
    tk_seed_row(&g, TK_SEED_SCHEDULES, 9, TK_SEED_FMT_CSV, row, sizeof row);
    parse_csv_line(row, f, 12);
    snprintf(first, sizeof first, "%s", f[2]);
    tk_seed_row(&g, TK_SEED_SCHEDULES, 10, TK_SEED_FMT_CSV, row, sizeof row);
    parse_csv_line(row, f, 12);
    assert_true(strncmp(first, f[2], 10) < 0);
    /* Out of range. */
    assert_int_equal(tk_seed_row(&g, TK_SEED_USERS, 0, TK_SEED_FMT_CSV, row, sizeof row), 0);
    assert_int_equal(tk_seed_row(&g, TK_SEED_USERS, 2001, TK_SEED_FMT_CSV, row, sizeof row), 0);
    assert_int_equal(tk_seed_row(&g, TK_SEED_USERS, 1, TK_SEED_FMT_CSV, row, 20), 0);
}

/* The search index rows (migration 15): every concert's distinct words,
 * lower-case, with the concert row's sort key; the row count is exact. */
static void test_concert_words_rows(void **state)
{
    (void)state;
    tk_seed_gen g;
    make_gen(&g, 9, 0);
    char row[TK_SEED_ROW_MAX], crow[TK_SEED_ROW_MAX], f[12][256], c[12][256];
    uint64_t rows = 0, max = tk_seed_table_max_id(&g, TK_SEED_CONCERT_WORDS);
    assert_int_equal(max, tk_seed_table_rows(&g, TK_SEED_CONCERTS) * TK_SEED_WORDS_PER_CONCERT);
    for (uint64_t id = 1; id <= max; id++) {
        if (!tk_seed_row_exists(&g, TK_SEED_CONCERT_WORDS, id))
            continue;
        rows++;
        assert_true(tk_seed_row(&g, TK_SEED_CONCERT_WORDS, id, TK_SEED_FMT_CSV, row, sizeof row) > 0);
        assert_int_equal(parse_csv_line(row, f, 12), 6);
        assert_true(strtoull(f[4], NULL, 10) != 0); /* the seeded words all have bits */
        uint64_t concert = (id - 1) / TK_SEED_WORDS_PER_CONCERT + 1;
        assert_int_equal(strtoull(f[0], NULL, 10), concert);
        for (const char *p = f[1]; *p; p++)
            assert_false(*p >= 'A' && *p <= 'Z');
        tk_seed_row(&g, TK_SEED_CONCERTS, concert, TK_SEED_FMT_CSV, crow, sizeof crow);
        assert_int_equal(parse_csv_line(crow, c, 12), 8);
        assert_string_equal(f[2], c[5]); /* bookable */
        assert_string_equal(f[3], c[6]); /* next_show_at */
        /* the word is in the title or the venue, any case */
        assert_true(strcasestr(c[1], f[1]) != NULL || strcasestr(c[2], f[1]) != NULL);
    }
    assert_int_equal(rows, tk_seed_table_rows(&g, TK_SEED_CONCERT_WORDS));
    assert_true(rows >= 8 * tk_seed_table_rows(&g, TK_SEED_CONCERTS));
    /* ci: no reservations, so every concert has seats, a future show and an open sale */
    tk_seed_row(&g, TK_SEED_CONCERTS, 7, TK_SEED_FMT_CSV, crow, sizeof crow);
    parse_csv_line(crow, c, 12);
    assert_string_equal(c[5], "1");
    tk_seed_row(&g, TK_SEED_SCHEDULES, 13, TK_SEED_FMT_CSV, row, sizeof row); /* concert 7's first */
    parse_csv_line(row, f, 12);
    assert_string_equal(f[1], "7");
    assert_string_equal(c[6], f[2]);
}

static void test_grade_bands(void **state)
{
    (void)state;
    const char *grade;
    int64_t price;
    /* 200 seats = 10 rows of 20: VIP 1 row, R 2, S 3, A 4. */
    struct { uint32_t idx; const char *grade; int64_t price; } want[] = {
        {0, "VIP", 150000}, {19, "VIP", 150000}, {20, "R", 120000}, {59, "R", 120000},
        {60, "S", 90000}, {119, "S", 90000}, {120, "A", 60000}, {199, "A", 60000},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        tk_seed_seat_grade(want[i].idx, 200, &grade, &price);
        assert_string_equal(grade, want[i].grade);
        assert_int_equal(price, want[i].price);
    }
    /* Every grade appears in small houses too, best seats in front. */
    uint32_t sizes[] = {100, 200, 1000, 5000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int seen[4] = {0};
        int64_t last = 1 << 30;
        for (uint32_t idx = 0; idx < sizes[s]; idx++) {
            tk_seed_seat_grade(idx, sizes[s], &grade, &price);
            seen[!strcmp(grade, "VIP") ? 0 : !strcmp(grade, "R") ? 1 : !strcmp(grade, "S") ? 2 : 3]++;
            assert_true(price <= last);
            last = price;
        }
        for (int k = 0; k < 4; k++)
            assert_true(seen[k] > 0);
    }
    /* A seat row carries the matching grade and price. */
    tk_seed_gen g;
    make_gen(&g, 1, 200);
    char row[TK_SEED_ROW_MAX], f[12][256];
    tk_seed_row(&g, TK_SEED_SEATS, 200 + 21, TK_SEED_FMT_CSV, row, sizeof row); /* schedule 2, idx 20 */
    assert_int_equal(parse_csv_line(row, f, 12), 8);
    assert_string_equal(f[1], "2");
    assert_string_equal(f[2], "A");
    assert_string_equal(f[3], "2");
    assert_string_equal(f[4], "1");
    assert_string_equal(f[5], "R");
    assert_string_equal(f[6], "120000");
    assert_string_equal(f[7], "AVAILABLE");
}

static void test_seat_places(void **state)
{
    (void)state;
    char sec[8], row[8];
    int num;
    tk_seed_seat_place(0, sec, row, &num);
    assert_string_equal(sec, "A");
    assert_string_equal(row, "1");
    assert_int_equal(num, 1);
    tk_seed_seat_place(199, sec, row, &num);
    assert_string_equal(sec, "A");
    assert_string_equal(row, "10");
    assert_int_equal(num, 20);
    tk_seed_seat_place(200, sec, row, &num);
    assert_string_equal(sec, "B");
    assert_string_equal(row, "1");
    tk_seed_seat_place(200 * 25, sec, row, &num);
    assert_string_equal(sec, "Z");
    tk_seed_seat_place(200 * 26, sec, row, &num);
    assert_string_equal(sec, "AA");
    tk_seed_seat_place(200 * 27 + 45, sec, row, &num);
    assert_string_equal(sec, "AB");
    assert_string_equal(row, "3");
    assert_int_equal(num, 6);
}

static void test_quote(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(tk_seed_quote(TK_SEED_FMT_CSV, "plain", out, sizeof out), 7);
    assert_string_equal(out, "\"plain\"");
    tk_seed_quote(TK_SEED_FMT_CSV, "a,\"b\"\\c\nd\te", out, sizeof out);
    assert_string_equal(out, "\"a,\\\"b\\\"\\\\c\\nd\\te\"");
    tk_seed_quote(TK_SEED_FMT_SQL, "O'Brien \\ x", out, sizeof out);
    assert_string_equal(out, "'O\\'Brien \\\\ x'");
    tk_seed_quote(TK_SEED_FMT_SQL, "", out, sizeof out);
    assert_string_equal(out, "''");
    /* Too small: 0, never a cut-off field. */
    assert_int_equal(tk_seed_quote(TK_SEED_FMT_CSV, "abcdef", out, 7), 0);
    assert_int_equal(tk_seed_quote(TK_SEED_FMT_CSV, "abcd\"", out, 8), 0);
    assert_int_equal(tk_seed_quote(TK_SEED_FMT_CSV, "abcde", out, 8), 7);
    /* Round trip through the LOAD DATA reader. */
    char line[128], f[4][256];
    size_t n = tk_seed_quote(TK_SEED_FMT_CSV, "x,\"y\"\\z\n", line, sizeof line - 1);
    line[n] = '\n';
    line[n + 1] = '\0';
    assert_int_equal(parse_csv_line(line, f, 4), 1);
    assert_string_equal(f[0], "x,\"y\"\\z\n");
}

static void test_sql_rows(void **state)
{
    (void)state;
    tk_seed_gen g;
    make_gen(&g, 1, 0);
    char row[TK_SEED_ROW_MAX];
    tk_seed_row(&g, TK_SEED_SEATS, 1, TK_SEED_FMT_SQL, row, sizeof row);
    assert_string_equal(row, "(1,1,'A','1',1,'VIP',150000,'AVAILABLE')");
    tk_seed_row(&g, TK_SEED_USERS, 12, TK_SEED_FMT_SQL, row, sizeof row);
    assert_true(strncmp(row, "(12,'user12@bench.ticketctl','", 30) == 0);
    assert_int_equal(row[strlen(row) - 1], ')');
}

/* The stream must give the same bytes whatever the read size. */
static char *read_all(tk_seed_stream *s, size_t chunk, size_t *total)
{
    size_t cap = 1 << 20, len = 0;
    char *all = malloc(cap);
    char *buf = malloc(chunk);
    assert_non_null(all);
    assert_non_null(buf);
    for (;;) {
        long n = tk_seed_stream_read(s, buf, chunk);
        assert_true(n >= 0);
        if (n == 0)
            break;
        if (len + (size_t)n > cap) {
            cap *= 2;
            all = realloc(all, cap);
            assert_non_null(all);
        }
        memcpy(all + len, buf, (size_t)n);
        len += (size_t)n;
    }
    free(buf);
    *total = len;
    return all;
}

static void test_stream_chunking(void **state)
{
    (void)state;
    tk_seed_gen g;
    make_gen_res(&g, 5, 0, 3000);
    for (int t = 0; t < TK_SEED_NTABLES; t++) {
        /* expected: the rows, concatenated, holes of sparse tables skipped */
        size_t cap = 1 << 22, elen = 0;
        uint64_t rows = 0;
        char *exp = malloc(cap);
        assert_non_null(exp);
        for (uint64_t id = 1; id <= tk_seed_table_max_id(&g, t); id++) {
            size_t n = tk_seed_row(&g, t, id, TK_SEED_FMT_CSV, exp + elen, cap - elen);
            assert_true(n > 0 || !tk_seed_row_exists(&g, t, id));
            elen += n;
            rows += n > 0;
        }
        assert_int_equal(rows, tk_seed_table_rows(&g, t));
        assert_true(rows > 0);
        size_t chunks[] = {1, 7, 1000, TK_SEED_ROW_MAX, 65536};
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            tk_seed_stream s;
            tk_seed_stream_init(&s, &g, t);
            size_t len;
            char *got = read_all(&s, chunks[c], &len);
            assert_int_equal(len, elen);
            assert_memory_equal(got, exp, elen);
            free(got);
        }
        free(exp);
    }
}


static void test_large_profile(void **state)
{
    (void)state;
    tk_seed_config cfg;
    assert_int_equal(tk_seed_profile("large", &cfg), 0);
    cfg.base_ms = BASE_MS;
    tk_seed_gen *g = malloc(sizeof *g);
    assert_non_null(g);
    tk_seed_gen_init(g, &cfg, hash);
    char err[256];
    assert_int_equal(tk_seed_gen_check(g, err, sizeof err), 0);
    assert_int_equal(tk_seed_table_rows(g, TK_SEED_USERS), 1000000);
    assert_int_equal(tk_seed_table_rows(g, TK_SEED_CONCERTS), 2000000);
    assert_int_equal(tk_seed_table_rows(g, TK_SEED_SCHEDULES), 3000000);
    assert_int_equal(tk_seed_table_rows(g, TK_SEED_SEATS), 150000000);
    assert_int_equal(tk_seed_table_rows(g, TK_SEED_RESERVATIONS), 2000000);
    /* 75% of reservations are paid (60 confirmed + 15 canceled), within 0.5% */
    uint64_t pay = tk_seed_table_rows(g, TK_SEED_PAYMENTS);
    assert_true(pay > 1490000 && pay < 1510000);
    /* about 1.5 paid reservations per user, a canceled one costing two rows */
    uint64_t ph = tk_seed_table_rows(g, TK_SEED_POINT_HISTORY);
    assert_true(ph > pay + 700000 && ph < pay + 300000 + 1000000);
    /* the last seat and reservation encode; the reservation's seat maps back */
    char row[TK_SEED_ROW_MAX];
    assert_true(tk_seed_row(g, TK_SEED_SEATS, 150000000, TK_SEED_FMT_CSV, row, sizeof row) > 0);
    assert_true(strncmp(row, "150000000,3000000,", 18) == 0);
    for (uint64_t r = 1; r <= 2000000; r += 99991)
        assert_int_equal(tk_seed_seat_res(g, tk_seed_res_seat(g, r)), r);
    /* too many reservations for the seats: refused */
    tk_seed_config bad = cfg;
    bad.reservations = 150000001;
    tk_seed_gen_init(g, &bad, hash);
    assert_int_equal(tk_seed_gen_check(g, err, sizeof err), -1);
    assert_non_null(strstr(err, "reservations"));
    free(g);
}

static void test_schedules_spread(void **state)
{
    (void)state;
    tk_seed_config cfg;
    assert_int_equal(tk_seed_profile("ci", &cfg), 0);
    cfg.base_ms = BASE_MS;
    cfg.concerts = 20;
    cfg.schedules = 30; /* 1.5 per concert, as in the large profile */
    tk_seed_gen g;
    tk_seed_gen_init(&g, &cfg, hash);
    int per_concert[21] = {0};
    char row[TK_SEED_ROW_MAX], f[8][256];
    long prev = 0;
    for (uint64_t id = 1; id <= 30; id++) {
        assert_true(tk_seed_row(&g, TK_SEED_SCHEDULES, id, TK_SEED_FMT_CSV, row, sizeof row) > 0);
        assert_int_equal(parse_csv_line(row, f, 8), 5);
        long c = atol(f[1]);
        assert_true(c >= prev && c >= 1 && c <= 20); /* primary-key order is concert order */
        per_concert[c]++;
        prev = c;
    }
    for (int c = 1; c <= 20; c++)
        assert_true(per_concert[c] == 1 || per_concert[c] == 2);
}

/* Reservations, seats, schedules, payments and point history agree with
 * each other the way lib/invariants.c checks them in the database. */
static void test_reservation_consistency(void **state)
{
    (void)state;
    tk_seed_gen g;
    make_gen_res(&g, 9, 0, 3000); /* ci: 2,000 users, 10,000 seats */
    uint64_t R = 3000, N = tk_seed_table_rows(&g, TK_SEED_SEATS);
    char row[TK_SEED_ROW_MAX], f[12][256];
    unsigned char *seen = calloc(N + 1, 1);
    assert_non_null(seen);
    int status_n[4] = {0};
    uint64_t paid = 0;
    for (uint64_t r = 1; r <= R; r++) {
        uint64_t seat = tk_seed_res_seat(&g, r);
        assert_true(seat >= 1 && seat <= N);
        assert_int_equal(seen[seat], 0); /* one reservation per seat */
        seen[seat] = 1;
        assert_int_equal(tk_seed_seat_res(&g, seat), r);
        tk_seed_res_status st = tk_seed_res_status_of(&g, r);
        status_n[st]++;
        /* the reservation row: user, seat, schedule, price = seat price, live_seat_id */
        assert_true(tk_seed_row(&g, TK_SEED_RESERVATIONS, r, TK_SEED_FMT_CSV, row, sizeof row) > 0);
        assert_int_equal(parse_csv_line(row, f, 12), 10);
        assert_int_equal(atoll(f[1]), tk_seed_res_user(&g, r));
        assert_int_equal(atoll(f[2]), seat);
        assert_int_equal(atoll(f[3]), (seat - 1) / 100 + 1);
        char srow[TK_SEED_ROW_MAX], sf[12][256];
        tk_seed_row(&g, TK_SEED_SEATS, seat, TK_SEED_FMT_CSV, srow, sizeof srow);
        assert_int_equal(parse_csv_line(srow, sf, 12), 8);
        assert_string_equal(f[4], sf[6]);
        int live = st == TK_SEED_RES_CONFIRMED || st == TK_SEED_RES_PENDING;
        if (live)
            assert_int_equal(atoll(f[6]), seat);
        else
            assert_string_equal(f[6], "\\N");
        assert_string_equal(sf[7], st == TK_SEED_RES_CONFIRMED ? "SOLD" : st == TK_SEED_RES_PENDING ? "HELD"
                                                                                                : "AVAILABLE");
        /* a payment exactly for the paid ones, amount = price */
        int is_paid = st == TK_SEED_RES_CONFIRMED || st == TK_SEED_RES_CANCELED;
        assert_int_equal(tk_seed_row_exists(&g, TK_SEED_PAYMENTS, r), is_paid);
        if (is_paid) {
            paid++;
            tk_seed_row(&g, TK_SEED_PAYMENTS, r, TK_SEED_FMT_CSV, row, sizeof row);
            assert_int_equal(parse_csv_line(row, f, 12), 7);
            assert_int_equal(atoll(f[1]), r);
            assert_string_equal(f[3], sf[6]);
            assert_string_equal(f[5], st == TK_SEED_RES_CONFIRMED ? "COMPLETED" : "REFUNDED");
        }
    }
    assert_int_equal(paid, tk_seed_table_rows(&g, TK_SEED_PAYMENTS));
    /* shares of 60/5/15/20 within 4 points */
    assert_true(abs(status_n[TK_SEED_RES_CONFIRMED] * 100 / 3000 - 60) <= 4);
    assert_true(abs(status_n[TK_SEED_RES_PENDING] * 100 / 3000 - 5) <= 4);
    assert_true(abs(status_n[TK_SEED_RES_CANCELED] * 100 / 3000 - 15) <= 4);
    assert_true(abs(status_n[TK_SEED_RES_EXPIRED] * 100 / 3000 - 20) <= 4);
    /* available_seats = seats minus held and sold */
    for (uint64_t s = 1; s <= tk_seed_table_rows(&g, TK_SEED_SCHEDULES); s++) {
        int taken = 0;
        for (uint64_t seat = (s - 1) * 100 + 1; seat <= s * 100; seat++) {
            uint64_t r = tk_seed_seat_res(&g, seat);
            tk_seed_res_status st = r ? tk_seed_res_status_of(&g, r) : TK_SEED_RES_EXPIRED;
            taken += r && (st == TK_SEED_RES_CONFIRMED || st == TK_SEED_RES_PENDING);
        }
        tk_seed_row(&g, TK_SEED_SCHEDULES, s, TK_SEED_FMT_CSV, row, sizeof row);
        assert_int_equal(parse_csv_line(row, f, 12), 5);
        assert_int_equal(atoi(f[3]), 100);
        assert_int_equal(atoi(f[4]), 100 - taken);
    }
    /* point history: per user in id order, balance_after runs along from the
     * CHARGE, never negative, ends at users.points = the sum of amounts */
    uint64_t hist_rows = 0, E = g.ph_stride;
    for (uint64_t u = 1; u <= 2000; u++) {
        long long bal = 0, sum = 0;
        int n = 0;
        for (uint64_t id = (u - 1) * E + 1; id <= u * E; id++) {
            if (!tk_seed_row_exists(&g, TK_SEED_POINT_HISTORY, id))
                continue;
            tk_seed_row(&g, TK_SEED_POINT_HISTORY, id, TK_SEED_FMT_CSV, row, sizeof row);
            assert_int_equal(parse_csv_line(row, f, 12), 7);
            assert_int_equal(atoll(f[1]), u);
            long long amount = atoll(f[2]);
            assert_string_equal(f[3], n == 0 ? "CHARGE" : amount < 0 ? "PAY" : "REFUND");
            bal += amount;
            sum += amount;
            assert_int_equal(atoll(f[4]), bal);
            assert_true(bal >= 0);
            if (n > 0)
                assert_int_equal(tk_seed_res_user(&g, (uint64_t)atoll(f[5])), u);
            n++;
            hist_rows++;
        }
        assert_int_equal(tk_seed_user_points(&g, u), sum);
        tk_seed_row(&g, TK_SEED_USERS, u, TK_SEED_FMT_CSV, row, sizeof row);
        assert_int_equal(parse_csv_line(row, f, 12), 7);
        assert_int_equal(atoll(f[4]), sum);
    }
    assert_int_equal(hist_rows, tk_seed_table_rows(&g, TK_SEED_POINT_HISTORY));
    assert_true(hist_rows > paid);
    free(seen);
}

static void test_pw_hash_deterministic(void **state)
{
    (void)state;
    char a[TK_PW_HASH_MAX], b[TK_PW_HASH_MAX], c[TK_PW_HASH_MAX];
    assert_int_equal(tk_seed_pw_hash(1, a), 0);
    assert_int_equal(tk_seed_pw_hash(1, b), 0);
    assert_int_equal(tk_seed_pw_hash(2, c), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(strncmp(a, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
    /* the login path's verifier accepts it, and only for the seed password */
    assert_int_equal(tk_auth_init(), 0);
    assert_int_equal(tk_pw_verify(a, TK_SEED_PASSWORD), 0);
    assert_int_equal(tk_pw_verify(c, TK_SEED_PASSWORD), 0);
    assert_int_not_equal(tk_pw_verify(a, "wrong-password"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles_and_counts),
        cmocka_unit_test(test_same_seed_same_rows),
        cmocka_unit_test(test_different_seed_different_rows),
        cmocka_unit_test(test_rows_parse_back),
        cmocka_unit_test(test_concert_words_rows),
        cmocka_unit_test(test_grade_bands),
        cmocka_unit_test(test_seat_places),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_sql_rows),
        cmocka_unit_test(test_stream_chunking),
        cmocka_unit_test(test_large_profile),
        cmocka_unit_test(test_schedules_spread),
        cmocka_unit_test(test_reservation_consistency),
        cmocka_unit_test(test_pw_hash_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
