/* Deterministic bulk load of users, concerts, schedules, seats,
 * reservations, payments and point history (the rules: seed.h).
 *
 * Every value of row N of a table comes from splitmix64(seed, table, N, k),
 * so rows can be produced in any order, by any thread, and a seed always
 * gives the same data. Each table is streamed on its own connection: the
 * LOAD DATA LOCAL INFILE read callback formats CSV rows straight into the
 * client's buffer, so nothing is written to disk and nothing is held in
 * memory beyond one row. Into an empty table with unique and foreign-key
 * checks off, InnoDB takes its bulk-insert path (sorted index build), which
 * is what makes 400k seats a matter of seconds. Multi-row INSERT is kept as
 * the fallback for servers that refuse LOCAL INFILE and for comparison
 * (`ticketctl seed --method insert`). */
#include "seed_int.h"
#include "ticketctl/rcluster.h"
#include "ticketctl/auth.h"
#include "ticketctl/backend.h"
#include "ticketctl/catalog.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/progress.h"

#include <hiredis/hiredis.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
#define MAX_RES_PER_USER 1000 /* bound on kmax: point-history rows cost O(kmax) each */
#define INSERT_STMT_BYTES (1u << 20) /* one multi-row INSERT, ~1 MiB */

/* ---- word lists ---------------------------------------------------------- */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const surnames[] = {
    "Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim",
    "Han", "Oh", "Seo", "Shin", "Kwon", "Hwang", "Ahn", "Song", "Yoo", "Hong",
};
static const char *const given_names[] = {
    "Minjun", "Seoyeon", "Jiwoo", "Hayoon", "Doyun", "Seojun", "Jiho", "Jia",
    "Eunwoo", "Subin", "Yejun", "Harin", "Siwoo", "Chaewon", "Juwon", "Yuna",
    "Hyunwoo", "Dahyun", "Taeyang", "Sora", "Jisoo", "Minho", "Yerin", "Dohyun",
};
static const char *const artists[] = {
    "IU", "BTS", "BLACKPINK", "SEVENTEEN", "NewJeans", "aespa", "Stray Kids",
    "TWICE", "IVE", "LE SSERAFIM", "Lim Young-woong", "DAY6", "ZICO", "PSY",
    "AKMU", "Taeyeon", "BIGBANG", "NCT 127", "ENHYPEN", "Coldplay",
    "Taylor Swift", "Bruno Mars", "Ed Sheeran", "Billie Eilish",
};
static const char *const adjectives[] = {
    "Golden", "Silver", "Midnight", "Blue", "Endless", "Neon", "Starry", "Crimson",
    "Velvet", "Electric", "Dreamy", "Wild", "Eternal", "Summer", "Winter", "Moonlit",
};
static const char *const nouns[] = {
    "Hour", "Dream", "Road", "Light", "Echo", "Wave", "Garden", "Night",
    "Festa", "Parade", "Horizon", "Bloom", "Odyssey", "Signal",
};
static const char *const kinds[] = {
    "Tour", "World Tour", "Live", "Concert", "Encore", "Fan Concert",
};
static const char *const venues[] = {
    "Seoul Olympic Stadium, Seoul",
    "KSPO Dome, Seoul",
    "Gocheok Sky Dome, Seoul",
    "Jamsil Indoor Stadium, Seoul",
    "Jangchung Arena, Seoul",
    "Olympic Hall, Seoul",
    "YES24 Live Hall, Seoul",
    "Blue Square Mastercard Hall, Seoul",
    "Inspire Arena, Incheon",
    "Incheon Munhak Stadium, Incheon",
    "Busan Asiad Main Stadium, Busan",
    "BEXCO Auditorium, Busan",
    "Daegu Stadium, Daegu",
    "Gwangju World Cup Stadium, Gwangju",
    "Tokyo Dome, Tokyo",
    "Kyocera Dome, Osaka",
    "Singapore National Stadium, Singapore",
    "Rajamangala Stadium, Bangkok",
    "Wembley Stadium, London",
    "The O2 Arena, London",
    "Accor Arena, Paris",
    "Madison Square Garden, New York",
    "SoFi Stadium, Los Angeles",
    "Melbourne Cricket Ground, Melbourne",
};

static size_t concert_words(const tk_seed_gen *g, uint64_t id, char (*words)[TK_CATALOG_WORD_LEN]);

/* ---- tables -------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *columns;
} tables[TK_SEED_NTABLES] = {
    [TK_SEED_USERS] = {"users", "id,email,name,password_hash,points,role,created_at"},
    [TK_SEED_CONCERTS] = {"concerts", "id,title,venue,sale_opens_at,created_at,bookable,next_show_at,rekey_at"},
    [TK_SEED_SCHEDULES] = {"concert_schedules", "id,concert_id,starts_at,total_seats,available_seats"},
    [TK_SEED_SEATS] = {"seats", "id,schedule_id,section,row_label,number,grade,price,status"},
    [TK_SEED_RESERVATIONS] = {"reservations",
                              "id,user_id,seat_id,schedule_id,price,status,live_seat_id,expires_at,created_at,updated_at"},
    [TK_SEED_PAYMENTS] = {"payments", "id,reservation_id,user_id,amount,idempotency_key,status,created_at"},
    [TK_SEED_POINT_HISTORY] = {"point_history", "id,user_id,amount,type,balance_after,ref_id,created_at"},
    [TK_SEED_CONCERT_WORDS] = {"concert_words", "concert_id,word,bookable,next_show_at,sig0,sig1"},
};

/* The secondary indexes of the seeded tables, exactly as the migrations in
 * lib/db.c define them (1: core schema, 2: ix_reservations_seat, 15: the
 * word index of the concert search). Dropped
 * before a load and re-created after it; tests/itest_seed.c checks the
 * result against the live schema. Keep in step with new migrations. */
static const struct {
    int table;
    const char *name;
    int unique; /* 1 UNIQUE, 2 FULLTEXT (non-unique), 0 plain */
    const char *cols;
} sec_indexes[] = {
    {TK_SEED_USERS, "uk_users_email", 1, "email"},
    {TK_SEED_CONCERTS, "ix_concerts_rekey", 0, "rekey_at"}, /* migration 15: the search's sort key */
    {TK_SEED_CONCERT_WORDS, "ix_concert_words_rank", 0, "word, bookable DESC, next_show_at, concert_id, sig0, sig1"},
    {TK_SEED_SCHEDULES, "ix_schedules_concert", 0, "concert_id, starts_at"},
    {TK_SEED_SEATS, "ix_seats_schedule_status", 0, "schedule_id, status"},
    {TK_SEED_RESERVATIONS, "uk_reservations_live_seat", 1, "live_seat_id"},
    {TK_SEED_RESERVATIONS, "ix_reservations_user", 0, "user_id, id"},
    {TK_SEED_RESERVATIONS, "ix_reservations_status_expiry", 0, "status, expires_at"},
    {TK_SEED_RESERVATIONS, "ix_reservations_seat", 0, "seat_id, status"},
    {TK_SEED_PAYMENTS, "uk_payments_reservation", 1, "reservation_id"},
    {TK_SEED_PAYMENTS, "uk_payments_idempotency", 1, "user_id, idempotency_key"},
    {TK_SEED_POINT_HISTORY, "ix_point_history_user", 0, "user_id, id"},
};

/* Rough on-disk bytes per row of each table: clustered row with InnoDB
 * overhead at ~2/3 page fill, its secondary indexes, and the sort files of
 * the index build. Used only for the free-space check before a load. */
static const uint64_t bytes_per_row[TK_SEED_NTABLES] = {
    [TK_SEED_USERS] = 400,        [TK_SEED_CONCERTS] = 250, [TK_SEED_SCHEDULES] = 120,
    [TK_SEED_SEATS] = 160,        [TK_SEED_RESERVATIONS] = 300, [TK_SEED_PAYMENTS] = 250,
    [TK_SEED_POINT_HISTORY] = 150, [TK_SEED_CONCERT_WORDS] = 110,
};

/* Truncated by --reset, children first; all must be empty to seed. */
static const char *const domain_tables[] = {
    "outbox", "sale_settings", "search_terms", "concert_words", "reservations", "payments", "point_history", "seats", "concert_schedules", "concerts", "users",
};

const char *tk_seed_table_name(int table)
{
    return table >= 0 && table < TK_SEED_NTABLES ? tables[table].name : NULL;
}

const char *tk_seed_table_columns(int table)
{
    return table >= 0 && table < TK_SEED_NTABLES ? tables[table].columns : NULL;
}

uint64_t tk_seed_table_rows(const tk_seed_gen *g, int table)
{
    const tk_seed_config *c = &g->cfg;
    switch (table) {
    case TK_SEED_USERS: return c->users;
    case TK_SEED_CONCERTS: return c->concerts;
    case TK_SEED_SCHEDULES: return c->schedules;
    case TK_SEED_SEATS: return g->seats;
    case TK_SEED_RESERVATIONS: return c->reservations;
    case TK_SEED_PAYMENTS: return g->payments;
    case TK_SEED_POINT_HISTORY: return g->history;
    case TK_SEED_CONCERT_WORDS: return g->words;
    default: return 0;
    }
}

uint64_t tk_seed_table_max_id(const tk_seed_gen *g, int table)
{
    switch (table) {
    case TK_SEED_PAYMENTS: return g->cfg.reservations;
    case TK_SEED_POINT_HISTORY: return g->history ? g->cfg.users * g->ph_stride : 0;
    case TK_SEED_CONCERT_WORDS: return g->cfg.concerts * TK_SEED_WORDS_PER_CONCERT;
    default: return tk_seed_table_rows(g, table);
    }
}

int tk_seed_profile(const char *name, tk_seed_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->progress = 1;
    cfg->method = TK_SEED_AUTO;
    if (name && strcmp(name, "demo") == 0) {
        cfg->users = 10000;
        cfg->concerts = 500;
        cfg->schedules_per_concert = 4;
        cfg->seats_per_schedule = 200;
        return 0;
    }
    if (name && strcmp(name, "ci") == 0) {
        cfg->users = 2000;
        cfg->concerts = 50;
        cfg->schedules_per_concert = 2;
        cfg->seats_per_schedule = 100;
        return 0;
    }
    if (name && strcmp(name, "large") == 0) {
        /* DESIGN.md, the reference test: 1M users, 2M concerts, 3M
         * schedules, 150M seats, 2M reservations */
        cfg->users = 1000000;
        cfg->concerts = 2000000;
        cfg->schedules = 3000000;
        cfg->schedules_per_concert = 2;
        cfg->seats_per_schedule = 50;
        cfg->reservations = 2000000;
        cfg->seat_streams = 1; /* measured: 2 ranges at once load no faster (bench-seed) */
        return 0;
    }
    return -1;
}


/* ---- randomness and layout ---------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t tk_seed_rand(uint64_t seed, int table, uint64_t id, unsigned k)
{
    uint64_t h = splitmix64(seed);
    h = splitmix64(h ^ ((uint64_t)(unsigned)table << 56 | k));
    return splitmix64(h ^ id);
}

void tk_seed_seat_grade(uint32_t idx, uint32_t per_schedule, const char **grade, int64_t *price)
{
    uint32_t rows = (per_schedule + TK_SEED_SEATS_PER_ROW - 1) / TK_SEED_SEATS_PER_ROW;
    uint32_t row = idx / TK_SEED_SEATS_PER_ROW;
    uint32_t band = rows ? (uint32_t)((uint64_t)row * 10 / rows) : 0; /* tenth of the house, 0..9 */
    if (band < 1) {
        *grade = "VIP";
        *price = 150000;
    } else if (band < 3) {
        *grade = "R";
        *price = 120000;
    } else if (band < 6) {
        *grade = "S";
        *price = 90000;
    } else {
        *grade = "A";
        *price = 60000;
    }
}

void tk_seed_seat_place(uint32_t idx, char section[8], char row[8], int *number)
{
    uint32_t grow = idx / TK_SEED_SEATS_PER_ROW;
    uint32_t sec = grow / TK_SEED_ROWS_PER_SECTION;
    /* bijective base 26: 0->A, 25->Z, 26->AA */
    char tmp[8];
    int n = 0;
    uint32_t s = sec + 1;
    while (s > 0 && n < 7) {
        s--;
        tmp[n++] = (char)('A' + s % 26);
        s /= 26;
    }
    for (int i = 0; i < n; i++)
        section[i] = tmp[n - 1 - i];
    section[n] = '\0';
    snprintf(row, 8, "%u", grow % TK_SEED_ROWS_PER_SECTION + 1);
    *number = (int)(idx % TK_SEED_SEATS_PER_ROW) + 1;
}

/* ---- reservations, payments, point history (the rules: seed.h) ----------- */

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return m ? (uint64_t)((unsigned __int128)a * b % m) : 0;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* a^-1 mod m for gcd(a, m) = 1 (extended Euclid). */
static uint64_t inv_mod(uint64_t a, uint64_t m)
{
    __int128 t = 0, nt = 1, r = m, nr = a % m;
    while (nr != 0) {
        __int128 q = r / nr, x;
        x = t - q * nt; t = nt; nt = x;
        x = r - q * nr; r = nr; nr = x;
    }
    if (t < 0)
        t += m;
    return (uint64_t)t;
}

tk_seed_res_status tk_seed_res_status_of(const tk_seed_gen *g, uint64_t r)
{
    unsigned x = (unsigned)(tk_seed_rand(g->cfg.seed, TK_SEED_RESERVATIONS, r, 0) % 100);
    return x < 60 ? TK_SEED_RES_CONFIRMED : x < 65 ? TK_SEED_RES_PENDING : x < 80 ? TK_SEED_RES_CANCELED
                                                                               : TK_SEED_RES_EXPIRED;
}

static int res_paid(tk_seed_res_status st) { return st == TK_SEED_RES_CONFIRMED || st == TK_SEED_RES_CANCELED; }

uint64_t tk_seed_res_seat(const tk_seed_gen *g, uint64_t r)
{
    return mulmod(r - 1, g->stride, g->seats) + 1;
}

uint64_t tk_seed_res_user(const tk_seed_gen *g, uint64_t r) { return (r - 1) % g->cfg.users + 1; }

uint64_t tk_seed_seat_res(const tk_seed_gen *g, uint64_t seat)
{
    if (g->cfg.reservations == 0 || seat == 0 || seat > g->seats)
        return 0;
    uint64_t r0 = mulmod(seat - 1, g->inv, g->seats);
    return r0 < g->cfg.reservations ? r0 + 1 : 0;
}

static int64_t seat_price(const tk_seed_gen *g, uint64_t seat)
{
    const char *grade;
    int64_t price;
    uint32_t per = g->cfg.seats_per_schedule;
    tk_seed_seat_grade((uint32_t)((seat - 1) % per), per, &grade, &price);
    return price;
}

/* Times of reservation r: a user's k-th reservation lies in the k-th of
 * kmax equal slots of the 30 days before base_ms, so a user's history runs
 * forward in time as its ids do. Paid 1..9 min after the hold (hold: 10
 * min), canceled 5 min after paying. */
typedef struct res_times {
    int64_t created, expires, paid, updated;
} res_times;

static res_times reservation_times(const tk_seed_gen *g, uint64_t r, tk_seed_res_status st)
{
    res_times t;
    int64_t base = g->cfg.base_ms;
    if (st == TK_SEED_RES_PENDING) {
        t.created = t.updated = t.paid = base;
        t.expires = base + 2 * DAY_MS;
        return t;
    }
    int64_t slot = 30 * DAY_MS / (int64_t)g->kmax;
    int64_t room = slot > 21 * MIN_MS ? slot - 20 * MIN_MS : MIN_MS;
    uint64_t k = (r - 1) / g->cfg.users;
    uint64_t x = tk_seed_rand(g->cfg.seed, TK_SEED_RESERVATIONS, r, 1);
    t.created = base - 30 * DAY_MS + (int64_t)k * slot + (int64_t)(x % (uint64_t)room) / 1000 * 1000;
    t.expires = t.created + 10 * MIN_MS;
    t.paid = t.created + (int64_t)(1 + (x >> 40) % 9) * MIN_MS;
    t.updated = st == TK_SEED_RES_CONFIRMED ? t.paid : st == TK_SEED_RES_CANCELED ? t.paid + 5 * MIN_MS : t.expires;
    return t;
}

/* Sum of the prices of user u's paid reservations, and of its confirmed ones. */
static void user_paid(const tk_seed_gen *g, uint64_t u, int64_t *paid, int64_t *confirmed)
{
    *paid = *confirmed = 0;
    for (uint64_t r = u; r <= g->cfg.reservations; r += g->cfg.users) {
        tk_seed_res_status st = tk_seed_res_status_of(g, r);
        if (!res_paid(st))
            continue;
        int64_t p = seat_price(g, tk_seed_res_seat(g, r));
        *paid += p;
        if (st == TK_SEED_RES_CONFIRMED)
            *confirmed += p;
    }
}

static int64_t user_extra(const tk_seed_gen *g, uint64_t u)
{
    return (int64_t)(tk_seed_rand(g->cfg.seed, TK_SEED_POINT_HISTORY, u, 0) % 50) * 10000;
}

int64_t tk_seed_user_points(const tk_seed_gen *g, uint64_t u)
{
    int64_t paid, confirmed;
    user_paid(g, u, &paid, &confirmed);
    return paid ? paid + user_extra(g, u) - confirmed : 0;
}

typedef struct ph_entry {
    const char *type; /* CHARGE, PAY, REFUND */
    uint64_t user;
    int64_t amount, balance;
    uint64_t ref; /* reservation id, 0 = NULL */
    int64_t at;
} ph_entry;

/* Entry j (0-based) of user u's point history; 1 when it exists. */
static int ph_entry_at(const tk_seed_gen *g, uint64_t u, uint64_t j, ph_entry *e)
{
    int64_t paid, confirmed;
    user_paid(g, u, &paid, &confirmed);
    if (paid == 0)
        return 0;
    int64_t bal = paid + user_extra(g, u);
    e->user = u;
    if (j == 0) {
        e->type = "CHARGE";
        e->amount = e->balance = bal;
        e->ref = 0;
        e->at = g->cfg.base_ms - 31 * DAY_MS + 11 * HOUR_MS;
        return 1;
    }
    uint64_t idx = 1;
    for (uint64_t r = u; r <= g->cfg.reservations; r += g->cfg.users) {
        tk_seed_res_status st = tk_seed_res_status_of(g, r);
        if (!res_paid(st))
            continue;
        int64_t p = seat_price(g, tk_seed_res_seat(g, r));
        res_times t = reservation_times(g, r, st);
        bal -= p;
        if (idx++ == j) {
            *e = (ph_entry){"PAY", u, -p, bal, r, t.paid};
            return 1;
        }
        if (st == TK_SEED_RES_CANCELED) {
            bal += p;
            if (idx++ == j) {
                *e = (ph_entry){"REFUND", u, p, bal, r, t.updated};
                return 1;
            }
        }
    }
    return 0;
}

/* The bit of a word (its index among g->bit_words), or -1. */
static int seed_bit(const tk_seed_gen *g, const char *word)
{
    for (int i = 0; i < g->nbit_words; i++)
        if (g->bit_words[i][0] == word[0] && !strcmp(g->bit_words[i], word))
            return i;
    return -1;
}

void tk_seed_gen_init(tk_seed_gen *g, const tk_seed_config *cfg, const char *pw_hash)
{
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    if (g->cfg.base_ms == 0)
        g->cfg.base_ms = tk_wall_ms() / DAY_MS * DAY_MS;
    if (g->cfg.schedules == 0)
        g->cfg.schedules = g->cfg.concerts * g->cfg.schedules_per_concert;
    snprintf(g->pw_hash, sizeof g->pw_hash, "%s", pw_hash ? pw_hash : "");
    g->seats = g->cfg.schedules * g->cfg.seats_per_schedule;
    /* the bit words: every word of the lists concerts are made of, in list order */
    const char *const *lists[] = {artists, adjectives, nouns, kinds, venues};
    size_t sizes[] = {COUNT(artists), COUNT(adjectives), COUNT(nouns), COUNT(kinds), COUNT(venues)};
    for (size_t l = 0; l < 5; l++)
        for (size_t i = 0; i < sizes[l]; i++) {
            char w[8][TK_CATALOG_WORD_LEN];
            size_t n = tk_catalog_words(lists[l][i], w, 8);
            for (size_t k = 0; k < n && g->nbit_words < TK_SEED_BIT_WORDS; k++)
                if (seed_bit(g, w[k]) < 0)
                    memcpy(g->bit_words[g->nbit_words++], w[k], TK_CATALOG_WORD_LEN);
        }
    for (uint64_t c = 1; c <= g->cfg.concerts; c++) {
        char words[TK_SEED_WORDS_PER_CONCERT][TK_CATALOG_WORD_LEN];
        g->words += concert_words(g, c, words);
    }
    uint64_t R = g->cfg.reservations, U = g->cfg.users;
    if (R == 0 || U == 0 || g->seats == 0 || R > g->seats)
        return;
    /* a stride near the middle of the seat range, coprime to it */
    uint64_t n = g->seats, st = n / 2 + tk_seed_rand(g->cfg.seed, TK_SEED_SEATS, 0, 99) % (n / 2 + 1);
    while (gcd_u64(st % n, n) != 1)
        st++;
    g->stride = st % n;
    g->inv = n > 1 ? inv_mod(g->stride, n) : 0;
    g->kmax = (R + U - 1) / U;
    if (g->kmax > MAX_RES_PER_USER)
        return;
    g->ph_stride = 1 + 2 * g->kmax;
    for (uint64_t r = 1; r <= R; r++)
        if (res_paid(tk_seed_res_status_of(g, r)))
            g->payments++;
    for (uint64_t u = 1; u <= U && u <= R; u++) {
        uint64_t e = 0;
        for (uint64_t r = u; r <= R; r += U) {
            tk_seed_res_status s = tk_seed_res_status_of(g, r);
            e += s == TK_SEED_RES_CONFIRMED ? 1 : s == TK_SEED_RES_CANCELED ? 2 : 0;
        }
        g->history += e ? e + 1 : 0;
    }
}

int tk_seed_gen_check(const tk_seed_gen *g, char *err, size_t errlen)
{
    const tk_seed_config *c = &g->cfg;
    if (c->users == 0 || c->concerts == 0 || c->schedules == 0 || c->seats_per_schedule == 0)
        return tk_err(err, errlen, "users, concerts, schedules and seats per schedule must be > 0");
    if (c->reservations > g->seats)
        return tk_err(err, errlen, "%llu reservations need as many seats, there are %llu",
                      (unsigned long long)c->reservations, (unsigned long long)g->seats);
    if (c->reservations && (c->reservations + c->users - 1) / c->users > MAX_RES_PER_USER)
        return tk_err(err, errlen, "more than %d reservations per user: raise --users", MAX_RES_PER_USER);
    return 0;
}

/* ---- row encoding --------------------------------------------------------- */

size_t tk_seed_quote(tk_seed_fmt fmt, const char *s, char *dst, size_t cap)
{
    char q = fmt == TK_SEED_FMT_CSV ? '"' : '\'';
    size_t o = 0;
    if (cap < 3)
        return 0;
    dst[o++] = q;
    for (; *s; s++) {
        char c = *s, esc = 0;
        switch (c) {
        case '\\': esc = '\\'; break;
        case '"': esc = '"'; break;
        case '\'': esc = '\''; break;
        case '\n': esc = 'n'; break;
        case '\r': esc = 'r'; break;
        case '\t': esc = 't'; break;
        case '\032': esc = 'Z'; break;
        default: break;
        }
        if (o + (esc ? 2 : 1) + 2 > cap)
            return 0;
        if (esc) {
            dst[o++] = '\\';
            dst[o++] = esc;
        } else {
            dst[o++] = c;
        }
    }
    dst[o++] = q;
    dst[o] = '\0';
    return o;
}

typedef struct writer {
    char *buf;
    size_t cap, len;
    tk_seed_fmt fmt;
    int fields;
    int full;
} writer;

static void w_raw(writer *w, const char *s, size_t n)
{
    if (w->full || w->len + n + 1 > w->cap) {
        w->full = 1;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void w_sep(writer *w)
{
    if (w->fields++)
        w_raw(w, ",", 1);
}

static void w_int(writer *w, long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    w_sep(w);
    w_raw(w, tmp, (size_t)n);
}

static void w_str(writer *w, const char *s)
{
    w_sep(w);
    if (w->full)
        return;
    size_t n = tk_seed_quote(w->fmt, s, w->buf + w->len, w->cap - w->len);
    if (n == 0 || w->len + n + 1 > w->cap)
        w->full = 1;
    else
        w->len += n;
}

/* DATETIME(3) literal of a UTC instant: '2026-12-24 10:00:00.000' */
static void w_time(writer *w, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[40];
    size_t n = strftime(tmp, sizeof tmp - 8, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(tmp + n, sizeof tmp - n, ".%03u", (unsigned)(ms % 1000) % 1000u);
    w_str(w, tmp);
}

static void w_null(writer *w)
{
    w_sep(w);
    if (w->fmt == TK_SEED_FMT_CSV)
        w_raw(w, "\\N", 2);
    else
        w_raw(w, "NULL", 4);
}

static void gen_user(const tk_seed_gen *g, uint64_t id, writer *w)
{
    uint64_t r = tk_seed_rand(g->cfg.seed, TK_SEED_USERS, id, 0);
    char email[64], name[64];
    snprintf(email, sizeof email, "user%llu@bench.ticketctl", (unsigned long long)id);
    snprintf(name, sizeof name, "%s %s", surnames[r % COUNT(surnames)],
             given_names[(r >> 16) % COUNT(given_names)]);
    w_int(w, (long long)id);
    w_str(w, email);
    w_str(w, name);
    w_str(w, g->pw_hash);
    w_int(w, g->cfg.reservations ? (long long)tk_seed_user_points(g, id) : 0);
    w_str(w, "USER");
    /* signed up 60..359 days before the anchor (explicit: a load is repeatable) */
    w_time(w, g->cfg.base_ms - (int64_t)(60 + (r >> 32) % 300) * DAY_MS + (int64_t)((r >> 8) % 86400) * 1000);
}

/* Concert id's title into title (200 bytes); its random word. */
static uint64_t concert_title(const tk_seed_gen *g, uint64_t id, char *title, size_t cap)
{
    uint64_t r = tk_seed_rand(g->cfg.seed, TK_SEED_CONCERTS, id, 0);
    snprintf(title, cap, "%s %s %s %s %llu", artists[r % COUNT(artists)], adjectives[(r >> 8) % COUNT(adjectives)],
             nouns[(r >> 16) % COUNT(nouns)], kinds[(r >> 24) % COUNT(kinds)], (unsigned long long)id);
    return r;
}

/* Sale opened 1..60 days before the anchor day, at 20:00 KST (11:00 UTC). */
static int64_t concert_opens(const tk_seed_gen *g, uint64_t r)
{
    return g->cfg.base_ms - (int64_t)(1 + (r >> 32) % 60) * DAY_MS + 11 * HOUR_MS;
}

/* Schedules spread evenly: schedule s (1-based) belongs to concert
 * floor((s-1) C / S) + 1; concert c's first schedule id (c = C + 1: S + 1). */
static uint64_t schedule_first(const tk_seed_gen *g, uint64_t concert)
{
    uint64_t C = g->cfg.concerts, S = g->cfg.schedules;
    return (uint64_t)(((unsigned __int128)(concert - 1) * S + C - 1) / C) + 1;
}

static uint64_t schedule_concert(const tk_seed_gen *g, uint64_t id)
{
    return (uint64_t)((unsigned __int128)(id - 1) * g->cfg.concerts / g->cfg.schedules) + 1;
}

/* Per concert: first show 7..186 days after the anchor, shows 1..3 days apart. */
static int64_t schedule_starts(const tk_seed_gen *g, uint64_t id)
{
    uint64_t concert = schedule_concert(g, id), k = id - schedule_first(g, concert);
    uint64_t rc = tk_seed_rand(g->cfg.seed, TK_SEED_CONCERTS, concert, 1);
    uint64_t rs = tk_seed_rand(g->cfg.seed, TK_SEED_SCHEDULES, id, 0);
    static const int hours_utc[] = {8, 9, 10}; /* 17:00, 18:00, 19:00 KST */
    return g->cfg.base_ms + (int64_t)(7 + rc % 180) * DAY_MS + (int64_t)k * (int64_t)(1 + (rc >> 32) % 3) * DAY_MS +
           hours_utc[rs % COUNT(hours_utc)] * HOUR_MS;
}

/* Seats of schedule id held or sold by the seeded reservations. */
static uint32_t schedule_taken(const tk_seed_gen *g, uint64_t id)
{
    uint32_t per = g->cfg.seats_per_schedule, taken = 0;
    if (g->cfg.reservations)
        for (uint64_t seat = (id - 1) * per + 1; seat <= id * per; seat++) {
            uint64_t r = tk_seed_seat_res(g, seat);
            tk_seed_res_status st = r ? tk_seed_res_status_of(g, r) : TK_SEED_RES_EXPIRED;
            taken += r && (st == TK_SEED_RES_CONFIRMED || st == TK_SEED_RES_PENDING);
        }
    return taken;
}

/* A concert's search sort key (migration 15) as of the anchor: bookable
 * (sale open, a future show with seats left) and the next show's start
 * (-1: none). tk_concert_rekey computes the same from the rows. */
static void concert_key(const tk_seed_gen *g, uint64_t id, uint64_t r, int *bookable, int64_t *next)
{
    *bookable = 0;
    *next = -1;
    for (uint64_t s = schedule_first(g, id), e = schedule_first(g, id + 1); s < e; s++) {
        int64_t at = schedule_starts(g, s);
        if (at <= g->cfg.base_ms)
            continue;
        if (*next < 0 || at < *next)
            *next = at;
        if (!*bookable && schedule_taken(g, s) < g->cfg.seats_per_schedule)
            *bookable = 1;
    }
    if (concert_opens(g, r) > g->cfg.base_ms)
        *bookable = 0;
}

#define NO_SHOW "9999-12-31 00:00:00.000"

static void gen_concert(const tk_seed_gen *g, uint64_t id, writer *w)
{
    char title[200];
    uint64_t r = concert_title(g, id, title, sizeof title);
    int64_t opens = concert_opens(g, r), next;
    int bookable;
    concert_key(g, id, r, &bookable, &next);
    w_int(w, (long long)id);
    w_str(w, title);
    w_str(w, venues[(r >> 40) % COUNT(venues)]);
    w_time(w, opens);
    w_time(w, opens - 14 * DAY_MS); /* announced two weeks before the sale */
    w_int(w, bookable);
    if (next < 0)
        w_str(w, NO_SHOW);
    else
        w_time(w, next);
    /* rekey_at: when time alone moves the key (the next show, or the sale opening) */
    int64_t rekey = opens > g->cfg.base_ms && (next < 0 || opens < next) ? opens : next;
    if (rekey < 0)
        w_str(w, NO_SHOW);
    else
        w_time(w, rekey);
}

/* Concert id's distinct words (tk_catalog_words of title and venue); the count. */
static size_t concert_words(const tk_seed_gen *g, uint64_t id, char (*words)[TK_CATALOG_WORD_LEN])
{
    char title[200], text[420];
    uint64_t r = concert_title(g, id, title, sizeof title);
    snprintf(text, sizeof text, "%s %s", title, venues[(r >> 40) % COUNT(venues)]);
    return tk_catalog_words(text, words, TK_SEED_WORDS_PER_CONCERT);
}

/* One concert's words and sort key, kept per thread: concert_words rows
 * come in id order, 16 ids per concert. */
typedef struct word_cache {
    const tk_seed_gen *g;
    uint64_t concert;
    char words[TK_SEED_WORDS_PER_CONCERT][TK_CATALOG_WORD_LEN];
    size_t n;
    int bookable;
    int64_t next;
    uint64_t sig[2]; /* the bits of all its words */
} word_cache;

/* The cache holding concert_words row id's concert, or NULL for a hole. */
static const word_cache *word_at(const tk_seed_gen *g, uint64_t id)
{
    static _Thread_local word_cache cur;
    uint64_t concert = (id - 1) / TK_SEED_WORDS_PER_CONCERT + 1;
    if (cur.g != g || cur.concert != concert) {
        cur.g = g;
        cur.concert = concert;
        cur.n = concert_words(g, concert, cur.words);
        concert_key(g, concert, tk_seed_rand(g->cfg.seed, TK_SEED_CONCERTS, concert, 0), &cur.bookable, &cur.next);
        cur.sig[0] = cur.sig[1] = 0;
        for (size_t i = 0; i < cur.n; i++) {
            int b = seed_bit(g, cur.words[i]);
            if (b >= 0)
                cur.sig[b / 64] |= 1ULL << (b % 64);
        }
    }
    return (id - 1) % TK_SEED_WORDS_PER_CONCERT < cur.n ? &cur : NULL;
}

/* concert_words row id: the k-th word of its concert, with the concert's sort key. */
static void gen_concert_word(const tk_seed_gen *g, uint64_t id, writer *w)
{
    const word_cache *c = word_at(g, id);
    if (!c)
        return;
    w_int(w, (long long)c->concert);
    w_str(w, c->words[(id - 1) % TK_SEED_WORDS_PER_CONCERT]);
    w_int(w, c->bookable);
    if (c->next < 0)
        w_str(w, NO_SHOW);
    else
        w_time(w, c->next);
    char sig[24];
    for (int i = 0; i < 2; i++) {
        int n = snprintf(sig, sizeof sig, "%llu", (unsigned long long)c->sig[i]); /* unsigned: bit 63 too */
        w_sep(w);
        w_raw(w, sig, (size_t)n);
    }
}

static void gen_schedule(const tk_seed_gen *g, uint64_t id, writer *w)
{
    uint32_t per = g->cfg.seats_per_schedule;
    w_int(w, (long long)id);
    w_int(w, (long long)schedule_concert(g, id));
    w_time(w, schedule_starts(g, id));
    w_int(w, per);
    w_int(w, per - schedule_taken(g, id));
}

static void gen_seat(const tk_seed_gen *g, uint64_t id, writer *w)
{
    uint32_t per = g->cfg.seats_per_schedule;
    uint64_t schedule = (id - 1) / per + 1;
    uint32_t idx = (uint32_t)((id - 1) % per);
    char section[8], row[8];
    int number;
    const char *grade, *status = "AVAILABLE";
    int64_t price;
    tk_seed_seat_place(idx, section, row, &number);
    tk_seed_seat_grade(idx, per, &grade, &price);
    uint64_t r = tk_seed_seat_res(g, id);
    if (r) {
        tk_seed_res_status st = tk_seed_res_status_of(g, r);
        status = st == TK_SEED_RES_CONFIRMED ? "SOLD" : st == TK_SEED_RES_PENDING ? "HELD" : "AVAILABLE";
    }
    w_int(w, (long long)id);
    w_int(w, (long long)schedule);
    w_str(w, section);
    w_str(w, row);
    w_int(w, number);
    w_str(w, grade);
    w_int(w, price);
    w_str(w, status);
}

static const char *const res_status_names[] = {"CONFIRMED", "PENDING", "CANCELED", "EXPIRED"};

static void gen_reservation(const tk_seed_gen *g, uint64_t id, writer *w)
{
    uint64_t seat = tk_seed_res_seat(g, id);
    tk_seed_res_status st = tk_seed_res_status_of(g, id);
    res_times t = reservation_times(g, id, st);
    w_int(w, (long long)id);
    w_int(w, (long long)tk_seed_res_user(g, id));
    w_int(w, (long long)seat);
    w_int(w, (long long)((seat - 1) / g->cfg.seats_per_schedule + 1));
    w_int(w, seat_price(g, seat));
    w_str(w, res_status_names[st]);
    if (st == TK_SEED_RES_CONFIRMED || st == TK_SEED_RES_PENDING)
        w_int(w, (long long)seat);
    else
        w_null(w);
    w_time(w, t.expires);
    w_time(w, t.created);
    w_time(w, t.updated);
}

static void gen_payment(const tk_seed_gen *g, uint64_t id, tk_seed_res_status st, writer *w)
{
    res_times t = reservation_times(g, id, st);
    char key[40];
    snprintf(key, sizeof key, "seed-%llu", (unsigned long long)id);
    w_int(w, (long long)id);
    w_int(w, (long long)id);
    w_int(w, (long long)tk_seed_res_user(g, id));
    w_int(w, seat_price(g, tk_seed_res_seat(g, id)));
    w_str(w, key);
    w_str(w, st == TK_SEED_RES_CONFIRMED ? "COMPLETED" : "REFUNDED");
    w_time(w, t.paid);
}

static void gen_history(uint64_t id, const ph_entry *e, writer *w)
{
    w_int(w, (long long)id);
    w_int(w, (long long)e->user);
    w_int(w, e->amount);
    w_str(w, e->type);
    w_int(w, e->balance);
    if (e->ref)
        w_int(w, (long long)e->ref);
    else
        w_null(w);
    w_time(w, e->at);
}

/* Encode row id of table: bytes written, 0 for a hole or an id out of
 * range, -1 when it does not fit in cap. */
static long encode_row(const tk_seed_gen *g, int table, uint64_t id, tk_seed_fmt fmt, char *buf, size_t cap)
{
    if (id == 0 || id > tk_seed_table_max_id(g, table) || cap == 0)
        return 0;
    tk_seed_res_status st = TK_SEED_RES_EXPIRED;
    ph_entry e = {0}; /* set by ph_entry_at; zeroed so -O3 can see it is never read unset */
    if (table == TK_SEED_PAYMENTS && !res_paid(st = tk_seed_res_status_of(g, id)))
        return 0;
    if (table == TK_SEED_POINT_HISTORY && !ph_entry_at(g, (id - 1) / g->ph_stride + 1, (id - 1) % g->ph_stride, &e))
        return 0;
    if (table == TK_SEED_CONCERT_WORDS && !word_at(g, id))
        return 0; /* a hole */
    writer w = {.buf = buf, .cap = cap, .fmt = fmt};
    buf[0] = '\0';
    if (fmt == TK_SEED_FMT_SQL)
        w_raw(&w, "(", 1);
    switch (table) {
    case TK_SEED_USERS: gen_user(g, id, &w); break;
    case TK_SEED_CONCERTS: gen_concert(g, id, &w); break;
    case TK_SEED_SCHEDULES: gen_schedule(g, id, &w); break;
    case TK_SEED_SEATS: gen_seat(g, id, &w); break;
    case TK_SEED_RESERVATIONS: gen_reservation(g, id, &w); break;
    case TK_SEED_PAYMENTS: gen_payment(g, id, st, &w); break;
    case TK_SEED_POINT_HISTORY: gen_history(id, &e, &w); break;
    case TK_SEED_CONCERT_WORDS: gen_concert_word(g, id, &w); break;
    default: return 0;
    }
    w_raw(&w, fmt == TK_SEED_FMT_SQL ? ")" : "\n", 1);
    return w.full ? -1 : (long)w.len;
}

size_t tk_seed_row(const tk_seed_gen *g, int table, uint64_t id, tk_seed_fmt fmt, char *buf, size_t cap)
{
    long n = encode_row(g, table, id, fmt, buf, cap);
    return n > 0 ? (size_t)n : 0;
}

int tk_seed_row_exists(const tk_seed_gen *g, int table, uint64_t id)
{
    char buf[TK_SEED_ROW_MAX];
    return encode_row(g, table, id, TK_SEED_FMT_CSV, buf, sizeof buf) != 0;
}

/* ---- loading --------------------------------------------------------------- */

void tk_seed_stream_init_range(tk_seed_stream *s, const tk_seed_gen *g, int table, uint64_t first, uint64_t last)
{
    uint64_t max = tk_seed_table_max_id(g, table);
    s->g = g;
    s->table = table;
    s->next = first ? first : 1;
    s->last = last && last < max ? last : max;
    s->emitted = 0;
    s->pend_len = s->pend_off = 0;
}

void tk_seed_stream_init(tk_seed_stream *s, const tk_seed_gen *g, int table)
{
    tk_seed_stream_init_range(s, g, table, 1, 0);
}

long tk_seed_stream_read(tk_seed_stream *s, char *buf, size_t len)
{
    size_t o = 0;
    for (;;) {
        if (s->pend_off < s->pend_len) {
            size_t n = s->pend_len - s->pend_off;
            if (n > len - o)
                n = len - o;
            memcpy(buf + o, s->pend + s->pend_off, n);
            s->pend_off += n;
            o += n;
        }
        if (o == len || s->next > s->last)
            break;
        long n;
        if (len - o >= TK_SEED_ROW_MAX) {
            /* room for any row: encode in place */
            n = encode_row(s->g, s->table, s->next, TK_SEED_FMT_CSV, buf + o, TK_SEED_ROW_MAX);
            if (n > 0)
                o += (size_t)n;
        } else {
            n = encode_row(s->g, s->table, s->next, TK_SEED_FMT_CSV, s->pend, sizeof s->pend);
            s->pend_len = n > 0 ? (size_t)n : 0;
            s->pend_off = 0;
        }
        if (n < 0)
            return -1;
        s->emitted += n > 0;
        s->next++;
    }
    return (long)o;
}

typedef struct job {
    const tk_seed_gen *g;
    int table;
    const char *url;
    tk_seed_method method;
    tk_progress *prog;
    int bar;
    uint64_t rows;
    int without_indexes;
    int kept;              /* COMPLETE from an earlier run: indexes only */
    int streams;           /* PK ranges loaded at once, each on its own connection */
    uint64_t first, last;  /* id range of this stream (0, 0 = the whole table) */
    uint64_t reported;     /* rows already added to the progress bar */
    const char *config;    /* seed_state.config of this run */
    tk_seed_stream stream; /* LOAD DATA callback state */
    /* results */
    uint64_t loaded;
    double seconds, index_seconds;
    int rc;
    int used_insert;
    char err[512];
} job;

static int infile_init(void **ptr, const char *filename, void *userdata)
{
    (void)filename;
    job *j = userdata;
    tk_seed_stream_init_range(&j->stream, j->g, j->table, j->first, j->last);
    j->reported = 0;
    *ptr = j;
    return 0;
}

static int infile_read(void *ptr, char *buf, unsigned int len)
{
    job *j = ptr;
    long n = tk_seed_stream_read(&j->stream, buf, len);
    if (n < 0) {
        snprintf(j->err, sizeof j->err, "row %llu of %s does not fit in %d bytes",
                 (unsigned long long)j->stream.next, tables[j->table].name, TK_SEED_ROW_MAX);
        return -1;
    }
    /* deltas: several range streams of one table share its bar */
    tk_progress_advance(j->prog, j->bar, j->stream.emitted - j->reported);
    j->reported = j->stream.emitted;
    return (int)n;
}

static void infile_end(void *ptr) { (void)ptr; }

static int infile_error(void *ptr, char *msg, unsigned int len)
{
    job *j = ptr;
    snprintf(msg, len, "%s", j && j->err[0] ? j->err : "seed generator failed");
    return 2000; /* CR_UNKNOWN_ERROR */
}

/* 1 when the server (or client) refuses LOAD DATA LOCAL. */
static int local_infile_refused(unsigned e)
{
    return e == 1148 /* ER_NOT_ALLOWED_COMMAND */ || e == 3948 /* local files disabled */ ||
           e == 2068 /* CR_LOAD_DATA_LOCAL_INFILE_REJECTED */ || e == 4166;
}

static int load_data(job *j, MYSQL *db, int *refused)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "LOAD DATA LOCAL INFILE 'ticketctl-seed-%s' INTO TABLE %s CHARACTER SET utf8mb4"
             " FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\'"
             " LINES TERMINATED BY '\\n' (%s)",
             tables[j->table].name, tables[j->table].name, tables[j->table].columns);
    mysql_set_local_infile_handler(db, infile_init, infile_read, infile_end, infile_error, j);
    *refused = 0;
    if (mysql_real_query(db, sql, strlen(sql)) != 0) {
        *refused = local_infile_refused(mysql_errno(db));
        if (!j->err[0] || *refused)
            snprintf(j->err, sizeof j->err, "LOAD DATA into %s: %s", tables[j->table].name, mysql_error(db));
        return -1;
    }
    j->loaded = mysql_affected_rows(db);
    if (mysql_warning_count(db) > 0) {
        char w[256] = "";
        MYSQL_RES *res = NULL;
        if (mysql_query(db, "SHOW WARNINGS LIMIT 1") == 0 && (res = mysql_store_result(db))) {
            MYSQL_ROW row = mysql_fetch_row(res);
            if (row && row[2])
                snprintf(w, sizeof w, "%s", row[2]);
            mysql_free_result(res);
        }
        snprintf(j->err, sizeof j->err, "LOAD DATA into %s: %u warnings, first: %s", tables[j->table].name,
                 mysql_warning_count(db), w);
        return -1;
    }
    return 0;
}

static int insert_rows(job *j, MYSQL *db)
{
    int rc = -1;
    char *sql = malloc(INSERT_STMT_BYTES + TK_SEED_ROW_MAX);
    if (!sql) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    if (mysql_query(db, "START TRANSACTION") != 0)
        goto db_fail;
    int head = snprintf(sql, INSERT_STMT_BYTES, "INSERT INTO %s (%s) VALUES ", tables[j->table].name,
                        tables[j->table].columns);
    uint64_t id = 1, last = tk_seed_table_max_id(j->g, j->table);
    while (id <= last) {
        size_t len = (size_t)head;
        int first = 1;
        while (id <= last && len < INSERT_STMT_BYTES) {
            long n = encode_row(j->g, j->table, id, TK_SEED_FMT_SQL, sql + len + !first, TK_SEED_ROW_MAX);
            if (n < 0) {
                snprintf(j->err, sizeof j->err, "row %llu of %s does not fit", (unsigned long long)id,
                         tables[j->table].name);
                goto out;
            }
            if (n > 0) {
                if (!first)
                    sql[len++] = ',';
                len += (size_t)n;
                first = 0;
            }
            id++;
        }
        if (first)
            break;
        if (mysql_real_query(db, sql, len) != 0)
            goto db_fail;
        j->loaded += mysql_affected_rows(db);
        tk_progress_set(j->prog, j->bar, j->loaded);
    }
    if (mysql_query(db, "COMMIT") != 0)
        goto db_fail;
    rc = 0;
    goto out;
db_fail:
    snprintf(j->err, sizeof j->err, "INSERT into %s: %s", tables[j->table].name, mysql_error(db));
out:
    free(sql);
    return rc;
}

/* One primary-key range of a table on its own connection (see load_ranges). */
static void *range_thread(void *arg)
{
    job *j = arg;
    j->rc = -1;
    MYSQL *db = tk_db_connect(j->url, j->err, sizeof j->err);
    if (!db)
        return NULL;
    int refused = 0;
    if (tk_db_exec(db, "SET SESSION unique_checks=0, foreign_key_checks=0", j->err, sizeof j->err) == 0 &&
        load_data(j, db, &refused) == 0)
        j->rc = 0;
    mysql_close(db);
    return NULL;
}

/* Load j's table as j->streams consecutive id ranges at once, one
 * connection each (the first on db, already set up). Each range is
 * streamed in primary-key order. Sums the rows into j->loaded; 0 or -1
 * with the first error in j->err. */
static int load_ranges(job *j, MYSQL *db)
{
    int n = j->streams;
    uint64_t max = tk_seed_table_max_id(j->g, j->table), per = (max + (uint64_t)n - 1) / (uint64_t)n;
    job *sub = calloc((size_t)n, sizeof *sub);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    int *started = calloc((size_t)n, sizeof *started);
    int rc = -1;
    if (!sub || !th || !started) {
        snprintf(j->err, sizeof j->err, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        sub[i] = *j;
        sub[i].err[0] = '\0';
        sub[i].loaded = 0;
        sub[i].first = (uint64_t)i * per + 1;
        sub[i].last = (uint64_t)(i + 1) * per;
        if (i > 0)
            started[i] = pthread_create(&th[i], NULL, range_thread, &sub[i]) == 0;
    }
    int refused = 0;
    sub[0].rc = load_data(&sub[0], db, &refused);
    rc = 0;
    j->loaded = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            if (!started[i]) {
                snprintf(sub[i].err, sizeof sub[i].err, "cannot start a loader thread");
                sub[i].rc = -1;
            } else {
                pthread_join(th[i], NULL);
            }
        }
        j->loaded += sub[i].loaded;
        if (sub[i].rc != 0 && rc == 0) {
            /* %.400s: the message plus the range always fit in j->err */
            snprintf(j->err, sizeof j->err, "%.400s (id range %llu..%llu)",
                     sub[i].err[0] ? sub[i].err : "load failed", (unsigned long long)sub[i].first,
                     (unsigned long long)sub[i].last);
            rc = -1;
        }
    }
out:
    free(sub);
    free(th);
    free(started);
    return rc;
}

/* ---- secondary indexes ---------------------------------------------------- */

static int known_index(int table, const char *name)
{
    for (size_t i = 0; i < COUNT(sec_indexes); i++)
        if (sec_indexes[i].table == table && !strcmp(sec_indexes[i].name, name))
            return (int)i;
    return -1;
}

/* Bring the secondary indexes of a table to one of three states with one
 * ALTER TABLE: for_load drops every known index (and, without_indexes,
 * every non-unique one); after the load the known ones are created
 * (without_indexes: only the UNIQUE ones) and, without_indexes, every
 * non-unique index left is dropped. Indexes seed does not know are kept
 * unless without_indexes asks for non-unique ones to go. */
static int set_indexes(MYSQL *db, int table, int for_load, int without, char *err, size_t errlen)
{
    char sql[2048], e[256];
    const char *name = tables[table].name;
    snprintf(sql, sizeof sql,
             "SELECT INDEX_NAME, MIN(NON_UNIQUE) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
             " AND TABLE_NAME = '%s' AND INDEX_NAME <> 'PRIMARY' GROUP BY INDEX_NAME ORDER BY INDEX_NAME",
             name);
    if (mysql_real_query(db, sql, strlen(sql)) != 0)
        return tk_err(err, errlen, "indexes of %s: %s", name, mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return tk_err(err, errlen, "indexes of %s: %s", name, mysql_error(db));
    int present[COUNT(sec_indexes)] = {0};
    size_t len = (size_t)snprintf(sql, sizeof sql, "ALTER TABLE %s", name);
    int parts = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        int k = known_index(table, row[0]);
        int nonunique = row[1] && atoi(row[1]) == 1;
        if (k >= 0)
            present[k] = 1;
        int drop = k >= 0 ? (for_load || (without && sec_indexes[k].unique != 1)) : (without && nonunique);
        if (drop && len + 200 < sizeof sql) {
            len += (size_t)snprintf(sql + len, sizeof sql - len, "%s DROP INDEX `%s`", parts++ ? "," : "", row[0]);
            if (k >= 0)
                present[k] = 0;
        }
    }
    mysql_free_result(res);
    if (!for_load)
        for (size_t i = 0; i < COUNT(sec_indexes); i++)
            if (sec_indexes[i].table == table && !present[i] && (!without || sec_indexes[i].unique == 1) &&
                len + 200 < sizeof sql)
                len += (size_t)snprintf(sql + len, sizeof sql - len, "%s ADD %sINDEX %s (%s)", parts++ ? "," : "",
                                        sec_indexes[i].unique == 1   ? "UNIQUE "
                                        : sec_indexes[i].unique == 2 ? "FULLTEXT "
                                                                     : "",
                                        sec_indexes[i].name,
                                        sec_indexes[i].cols);
    if (parts == 0)
        return 0;
    if (tk_db_exec(db, sql, e, sizeof e) != 0)
        return tk_err(err, errlen, "%s: %s", sql, e);
    return 0;
}

/* ---- seed state -------------------------------------------------------------- */

static int state_set(MYSQL *db, int table, const char *config, const char *status, uint64_t rows, double load_s,
                     double index_s, char *err, size_t errlen)
{
    char cfg_esc[512], sql[1024];
    mysql_real_escape_string(db, cfg_esc, config, (unsigned long)strlen(config));
    snprintf(sql, sizeof sql,
             "INSERT INTO seed_state (table_name, config, status, rows_loaded, load_seconds, index_seconds)"
             " VALUES ('%s', '%s', '%s', %llu, %.3f, %.3f) ON DUPLICATE KEY UPDATE config = VALUES(config),"
             " status = VALUES(status), rows_loaded = VALUES(rows_loaded), load_seconds = VALUES(load_seconds),"
             " index_seconds = VALUES(index_seconds)",
             tables[table].name, cfg_esc, status, (unsigned long long)rows, load_s, index_s);
    return tk_db_exec(db, sql, err, errlen);
}

static void *load_thread(void *arg)
{
    job *j = arg;
    uint64_t t0 = tk_mono_us();
    const char *name = tables[j->table].name;
    char sql[256];
    j->rc = -1;
    MYSQL *db = tk_db_connect(j->url, j->err, sizeof j->err);
    if (!db)
        goto out;
    /* migration 15's triggers skip this connection: the rows come with their keys */
    if (tk_db_exec(db, "SET @tk_seed_load = 1", j->err, sizeof j->err) != 0)
        goto out;
    if (j->kept) {
        /* loaded by an earlier run: only bring its indexes to this run's state */
        tk_progress_set(j->prog, j->bar, j->rows);
        tk_progress_done(j->prog, j->bar);
        uint64_t ti = tk_mono_us();
        if (set_indexes(db, j->table, 0, j->without_indexes, j->err, sizeof j->err) == 0)
            j->rc = 0;
        j->index_seconds = (double)(tk_mono_us() - ti) / 1e6;
        goto close;
    }
    /* LOADING first: whatever happens from here, the next run reloads it */
    snprintf(sql, sizeof sql, "TRUNCATE TABLE %s", name);
    if (state_set(db, j->table, j->config, "LOADING", 0, 0, 0, j->err, sizeof j->err) != 0 ||
        tk_db_exec(db, sql, j->err, sizeof j->err) != 0 ||
        set_indexes(db, j->table, 1, j->without_indexes, j->err, sizeof j->err) != 0)
        goto out;
    if (tk_db_exec(db, "SET SESSION unique_checks=0, foreign_key_checks=0", j->err, sizeof j->err) != 0)
        goto out;
    int refused = 0;
    if (j->streams > 1 && j->method != TK_SEED_INSERT) {
        j->rc = load_ranges(j, db);
        goto loaded;
    }
    if (j->method != TK_SEED_INSERT) {
        if (load_data(j, db, &refused) == 0) {
            j->rc = 0;
            goto loaded;
        }
        if (!(refused && j->method == TK_SEED_AUTO))
            goto out;
        j->err[0] = '\0';
    }
    j->used_insert = 1;
    j->rc = insert_rows(j, db);
loaded:
    if (j->rc == 0 && j->loaded != j->rows) {
        snprintf(j->err, sizeof j->err, "%s: loaded %llu rows, expected %llu", name,
                 (unsigned long long)j->loaded, (unsigned long long)j->rows);
        j->rc = -1;
    }
    tk_progress_done(j->prog, j->bar);
    j->seconds = (double)(tk_mono_us() - t0) / 1e6;
    if (j->rc != 0)
        goto close;
    j->rc = -1;
    /* checks back on for the index build: UNIQUE keys are verified as they are made */
    uint64_t ti = tk_mono_us();
    if (tk_db_exec(db, "SET SESSION unique_checks=1, foreign_key_checks=1", j->err, sizeof j->err) != 0 ||
        set_indexes(db, j->table, 0, j->without_indexes, j->err, sizeof j->err) != 0)
        goto close;
    j->index_seconds = (double)(tk_mono_us() - ti) / 1e6;
    if (state_set(db, j->table, j->config, "COMPLETE", j->loaded, j->seconds, j->index_seconds, j->err,
                  sizeof j->err) != 0)
        goto close;
    j->rc = 0;
    goto close;
out:
    tk_progress_done(j->prog, j->bar);
    j->seconds = (double)(tk_mono_us() - t0) / 1e6;
close:
    if (db)
        mysql_close(db);
    return NULL;
}

/* seed_state.config: everything the rows depend on. */
static void config_string(const tk_seed_gen *g, char *dst, size_t cap)
{
    const tk_seed_config *c = &g->cfg;
    snprintf(dst, cap, "gen=3 seed=%llu users=%llu concerts=%llu schedules=%llu seats_per_schedule=%u "
                       "reservations=%llu base_ms=%lld",
             (unsigned long long)c->seed, (unsigned long long)c->users, (unsigned long long)c->concerts,
             (unsigned long long)c->schedules, c->seats_per_schedule, (unsigned long long)c->reservations,
             (long long)c->base_ms);
}

/* Read seed_state: complete[t] = 1 when table t is COMPLETE under config.
 * *any = rows in seed_state; *other = a row under another config (its
 * config copied to other_cfg). */
static int read_state(MYSQL *db, const char *config, int complete[TK_SEED_NTABLES], int *any, int *other,
                      char *other_cfg, size_t other_len, char *err, size_t errlen)
{
    *any = *other = 0;
    const char *q = "SELECT table_name, config, status FROM seed_state";
    if (mysql_real_query(db, q, strlen(q)) != 0)
        return tk_err(err, errlen, "cannot read seed_state (migration 7): %s", mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return tk_err(err, errlen, "cannot read seed_state: %s", mysql_error(db));
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        *any = 1;
        if (strcmp(row[1], config) != 0) {
            if (!*other)
                snprintf(other_cfg, other_len, "%s", row[1]);
            *other = 1;
            continue;
        }
        for (int t = 0; t < TK_SEED_NTABLES; t++)
            if (!strcmp(row[0], tables[t].name) && !strcmp(row[2], "COMPLETE"))
                complete[t] = 1;
    }
    mysql_free_result(res);
    return 0;
}

/* Refuse to load into tables that have rows, unless reset; then truncate. */
static int prepare_tables(MYSQL *db, int reset, char *err, size_t errlen)
{
    char sql[128], e[256];
    for (size_t i = 0; i < COUNT(domain_tables); i++) {
        long long one = 0;
        snprintf(sql, sizeof sql, "SELECT 1 FROM %s LIMIT 1", domain_tables[i]);
        int rc = tk_db_query_i64(db, sql, &one, e, sizeof e);
        if (rc < 0)
            return tk_err(err, errlen, "cannot read %s: %s", domain_tables[i], e);
        if (rc == 0 && !reset)
            return tk_err(err, errlen,
                          "table %s already has rows; seed loads into empty tables only "
                          "(--reset truncates users, concerts, schedules, seats, reservations, "
                          "payments and point history first)",
                          domain_tables[i]);
    }
    if (!reset)
        return 0;
    for (size_t i = 0; i < COUNT(domain_tables); i++) {
        snprintf(sql, sizeof sql, "TRUNCATE TABLE %s", domain_tables[i]);
        if (tk_db_exec(db, sql, e, sizeof e) != 0)
            return tk_err(err, errlen, "cannot truncate %s: %s", domain_tables[i], e);
    }
    if (tk_db_exec(db, "DELETE FROM seed_state", e, sizeof e) != 0)
        return tk_err(err, errlen, "cannot clear seed_state: %s", e);
    return 0;
}

/* Free space at the server's datadir when it is on this machine. */
static int disk_check(MYSQL *db, const char *mysql_url, uint64_t needed, tk_seed_result *out, char *err,
                      size_t errlen)
{
    tk_mysql_url u;
    char dir[1024], e[256];
    if (tk_mysql_url_parse(mysql_url, &u, e, sizeof e) != 0)
        return 0;
    if (strcmp(u.host, "127.0.0.1") && strcmp(u.host, "localhost") && strcmp(u.host, "::1"))
        return 0; /* a remote server: its disk is not ours to see */
    const char *q = "SELECT @@datadir";
    if (mysql_real_query(db, q, strlen(q)) != 0)
        return 0;
    MYSQL_RES *res = mysql_store_result(db);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    snprintf(dir, sizeof dir, "%s", row && row[0] ? row[0] : "");
    if (res)
        mysql_free_result(res);
    struct stat st;
    struct statvfs vfs;
    if (!dir[0] || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || statvfs(dir, &vfs) != 0)
        return 0; /* not visible here (a container, another host) */
    uint64_t free_b = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    out->disk_needed = needed;
    out->disk_free = free_b;
    if (free_b < needed)
        return tk_err(err, errlen,
                      "not enough disk space at the MariaDB datadir %s: the load needs about %.1f GB, "
                      "%.1f GB are free (free space, or pass --skip-disk-check)",
                      dir, (double)needed / 1e9, (double)free_b / 1e9);
    return 0;
}

int tk_seed_pw_hash(uint64_t seed, char *out)
{
    unsigned char salt[crypto_pwhash_SALTBYTES], key[32];
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (unsigned char)(tk_seed_rand(seed, TK_SEED_USERS, 0, 100 + (unsigned)i / 8) >> (8 * (i % 8)));
    if (sodium_init() < 0 ||
        crypto_pwhash(key, sizeof key, TK_SEED_PASSWORD, strlen(TK_SEED_PASSWORD), salt, crypto_pwhash_OPSLIMIT_MIN,
                      crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -1;
    char s64[64], k64[64];
    sodium_bin2base64(s64, sizeof s64, salt, sizeof salt, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sodium_bin2base64(k64, sizeof k64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    int n = snprintf(out, TK_PW_HASH_MAX, "$argon2id$v=19$m=%u,t=%u,p=1$%s$%s",
                     (unsigned)(crypto_pwhash_MEMLIMIT_MIN / 1024), (unsigned)crypto_pwhash_OPSLIMIT_MIN, s64, k64);
    return n > 0 && n < TK_PW_HASH_MAX ? 0 : -1;
}

/* search_terms.bit of the generator's bit words (the bits the rows carry). */
static int set_bit_words(MYSQL *db, const tk_seed_gen *g, char *err, size_t errlen)
{
    char sql[TK_SEED_BIT_WORDS * (2 * TK_CATALOG_WORD_LEN + 24) + 128], e[2 * TK_CATALOG_WORD_LEN + 1];
    size_t o = (size_t)snprintf(sql, sizeof sql, "INSERT INTO search_terms (word, concerts, bit) VALUES ");
    for (int i = 0; i < g->nbit_words; i++) {
        mysql_real_escape_string(db, e, g->bit_words[i], (unsigned long)strlen(g->bit_words[i]));
        o += (size_t)snprintf(sql + o, sizeof sql - o, "%s('%s', 0, %d)", i ? ", " : "", e, i);
    }
    snprintf(sql + o, sizeof sql - o, " ON DUPLICATE KEY UPDATE bit = VALUES(bit)");
    return g->nbit_words ? tk_db_exec(db, sql, err, errlen) : 0;
}

int tk_seed_run(MYSQL *db, const char *mysql_url, const tk_seed_config *cfg, tk_seed_result *out,
                char *err, size_t errlen)
{
    uint64_t t0 = tk_mono_us();
    memset(out, 0, sizeof *out);

    char hash[TK_PW_HASH_MAX];
    if (tk_auth_init() != 0 || tk_seed_pw_hash(cfg->seed, hash) != 0)
        return tk_err(err, errlen, "cannot hash the seed password (libsodium)");
    tk_seed_gen *g = malloc(sizeof *g);
    if (!g)
        return tk_err(err, errlen, "out of memory");
    tk_seed_gen_init(g, cfg, hash);
    int rc = -1;
    tk_progress *prog = NULL;
    if (tk_seed_gen_check(g, err, errlen) != 0)
        goto out;

    char config[512], other_cfg[512] = "";
    config_string(g, config, sizeof config);
    int complete[TK_SEED_NTABLES] = {0}, any = 0, other = 0;
    if (!cfg->reset) {
        if (read_state(db, config, complete, &any, &other, other_cfg, sizeof other_cfg, err, errlen) != 0)
            goto out;
        if (other) {
            tk_err(err, errlen,
                   "the tables were seeded with another configuration (%s; now %s); --reset reloads them",
                   other_cfg, config);
            goto out;
        }
    }

    /* before anything is truncated: a load that cannot fit changes nothing */
    uint64_t needed = 1ull << 30; /* redo log and slack */
    for (int t = 0; t < TK_SEED_NTABLES; t++)
        if (!complete[t])
            needed += tk_seed_table_rows(g, t) * bytes_per_row[t];
    if (!cfg->skip_disk_check && disk_check(db, mysql_url, needed, out, err, errlen) != 0)
        goto out;

    if (cfg->reset) {
        if (prepare_tables(db, 1, err, errlen) != 0)
            goto out;
        out->reset_done = 1;
    } else if (!any && prepare_tables(db, 0, err, errlen) != 0) {
        goto out;
    }

    prog = cfg->progress ? tk_progress_new(stderr, "rows") : NULL;
    job jobs[TK_SEED_NTABLES];
    pthread_t th[TK_SEED_NTABLES];
    int started = 0;
    memset(jobs, 0, sizeof jobs);
    for (int t = 0; t < TK_SEED_NTABLES; t++) {
        jobs[t].g = g;
        jobs[t].table = t;
        jobs[t].url = mysql_url;
        jobs[t].method = cfg->method;
        jobs[t].rows = tk_seed_table_rows(g, t);
        jobs[t].without_indexes = cfg->without_indexes;
        jobs[t].kept = complete[t];
        jobs[t].streams = t == TK_SEED_SEATS && cfg->seat_streams > 1 ? (int)cfg->seat_streams : 1;
        jobs[t].config = config;
        jobs[t].prog = prog;
        jobs[t].bar = tk_progress_add(prog, tables[t].name, jobs[t].rows);
    }
    uint64_t tl = tk_mono_us();
    for (; started < TK_SEED_NTABLES; started++)
        if (pthread_create(&th[started], NULL, load_thread, &jobs[started]) != 0) {
            tk_err(err, errlen, "cannot start a loader thread");
            break;
        }
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    out->load_seconds = (double)(tk_mono_us() - tl) / 1e6;
    tk_progress_finish(prog);
    if (started < TK_SEED_NTABLES)
        goto out;

    int used_insert = 0;
    char analyze[512];
    size_t alen = (size_t)snprintf(analyze, sizeof analyze, "ANALYZE TABLE");
    int nanalyze = 0;
    for (int t = 0; t < TK_SEED_NTABLES; t++) {
        if (jobs[t].rc != 0) {
            tk_err(err, errlen, "%s", jobs[t].err);
            goto out;
        }
        out->tables[t].table = tables[t].name;
        out->tables[t].rows = jobs[t].loaded;
        out->tables[t].seconds = jobs[t].seconds;
        out->tables[t].index_seconds = jobs[t].index_seconds;
        out->tables[t].kept = jobs[t].kept;
        out->total_rows += jobs[t].loaded;
        used_insert |= jobs[t].used_insert;
        if (!jobs[t].kept)
            alen += (size_t)snprintf(analyze + alen, sizeof analyze - alen, "%s %s", nanalyze++ ? "," : "",
                                     tables[t].name);
    }
    out->method = used_insert ? "insert" : "load-data";

    char e[256];
    /* the search's word frequencies, in bulk from the words just loaded */
    if (!jobs[TK_SEED_CONCERT_WORDS].kept &&
        (tk_db_exec(db, "TRUNCATE TABLE search_terms", e, sizeof e) != 0 ||
         tk_db_exec(db,
                    "INSERT INTO search_terms (word, concerts) SELECT word, COUNT(*) FROM concert_words GROUP BY word",
                    e, sizeof e) != 0 ||
         set_bit_words(db, g, e, sizeof e) != 0)) {
        tk_err(err, errlen, "search_terms: %s", e);
        goto out;
    }
    uint64_t ta = tk_mono_us();
    if (nanalyze && tk_db_exec(db, analyze, e, sizeof e) != 0) {
        tk_err(err, errlen, "ANALYZE TABLE: %s", e);
        goto out;
    }
    out->analyze_seconds = (double)(tk_mono_us() - ta) / 1e6;
    out->total_seconds = (double)(tk_mono_us() - t0) / 1e6;
    rc = 0;
out:
    tk_progress_free(prog);
    free(g);
    return rc;
}

int tk_seed_bump_cache_gen(const char *redis_url, long long *gen, char *err, size_t errlen)
{
    redisContext *c = tk_redis_connect(redis_url ? redis_url : "", err, errlen);
    if (!c)
        return -1;
    int rc = -1;
    redisReply *r = tk_redis_cmd(c, TK_SEED_CACHE_GEN_KEY, "INCR %s", TK_SEED_CACHE_GEN_KEY);
    if (!r)
        tk_err(err, errlen, "Redis INCR %s: %s", TK_SEED_CACHE_GEN_KEY, c->errstr);
    else if (r->type != REDIS_REPLY_INTEGER)
        tk_err(err, errlen, "Redis INCR %s: %s", TK_SEED_CACHE_GEN_KEY,
               r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    else {
        if (gen)
            *gen = r->integer;
        rc = 0;
    }
    freeReplyObject(r);
    tk_redis_free(c);
    return rc;
}
