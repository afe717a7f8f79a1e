/* Deterministic bulk load of users, concerts, schedules and seats.
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
#include "ticketctl/auth.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/progress.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
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

/* ---- tables -------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *columns;
} tables[TK_SEED_NTABLES] = {
    [TK_SEED_USERS] = {"users", "id,email,name,password_hash,points,role"},
    [TK_SEED_CONCERTS] = {"concerts", "id,title,venue,sale_opens_at"},
    [TK_SEED_SCHEDULES] = {"concert_schedules", "id,concert_id,starts_at,total_seats,available_seats"},
    [TK_SEED_SEATS] = {"seats", "id,schedule_id,section,row_label,number,grade,price,status"},
};

/* Truncated by --reset, children first; all must be empty to seed. */
static const char *const domain_tables[] = {
    "outbox", "reservations", "payments", "point_history", "seats", "concert_schedules", "concerts", "users",
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
    case TK_SEED_SCHEDULES: return c->concerts * c->schedules_per_concert;
    case TK_SEED_SEATS: return c->concerts * c->schedules_per_concert * c->seats_per_schedule;
    default: return 0;
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
    return -1;
}

void tk_seed_gen_init(tk_seed_gen *g, const tk_seed_config *cfg, const char *pw_hash)
{
    memset(g, 0, sizeof *g);
    g->cfg = *cfg;
    if (g->cfg.base_ms == 0)
        g->cfg.base_ms = tk_wall_ms() / DAY_MS * DAY_MS;
    snprintf(g->pw_hash, sizeof g->pw_hash, "%s", pw_hash ? pw_hash : "");
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
    w_int(w, 0);
    w_str(w, "USER");
}

static void gen_concert(const tk_seed_gen *g, uint64_t id, writer *w)
{
    uint64_t r = tk_seed_rand(g->cfg.seed, TK_SEED_CONCERTS, id, 0);
    char title[200];
    snprintf(title, sizeof title, "%s %s %s %s %llu", artists[r % COUNT(artists)],
             adjectives[(r >> 8) % COUNT(adjectives)], nouns[(r >> 16) % COUNT(nouns)],
             kinds[(r >> 24) % COUNT(kinds)], (unsigned long long)id);
    /* Sale opened 1..60 days before the anchor day, at 20:00 KST (11:00 UTC). */
    int64_t opens = g->cfg.base_ms - (int64_t)(1 + (r >> 32) % 60) * DAY_MS + 11 * HOUR_MS;
    w_int(w, (long long)id);
    w_str(w, title);
    w_str(w, venues[(r >> 40) % COUNT(venues)]);
    w_time(w, opens);
}

static void gen_schedule(const tk_seed_gen *g, uint64_t id, writer *w)
{
    uint32_t per = g->cfg.schedules_per_concert;
    uint64_t concert = (id - 1) / per + 1;
    uint64_t k = (id - 1) % per;
    /* Per concert: first show 7..186 days after the anchor, shows 1..3 days apart. */
    uint64_t rc = tk_seed_rand(g->cfg.seed, TK_SEED_CONCERTS, concert, 1);
    uint64_t rs = tk_seed_rand(g->cfg.seed, TK_SEED_SCHEDULES, id, 0);
    static const int hours_utc[] = {8, 9, 10}; /* 17:00, 18:00, 19:00 KST */
    int64_t starts = g->cfg.base_ms + (int64_t)(7 + rc % 180) * DAY_MS +
                     (int64_t)k * (int64_t)(1 + (rc >> 32) % 3) * DAY_MS +
                     hours_utc[rs % COUNT(hours_utc)] * HOUR_MS;
    w_int(w, (long long)id);
    w_int(w, (long long)concert);
    w_time(w, starts);
    w_int(w, g->cfg.seats_per_schedule);
    w_int(w, g->cfg.seats_per_schedule);
}

static void gen_seat(const tk_seed_gen *g, uint64_t id, writer *w)
{
    uint32_t per = g->cfg.seats_per_schedule;
    uint64_t schedule = (id - 1) / per + 1;
    uint32_t idx = (uint32_t)((id - 1) % per);
    char section[8], row[8];
    int number;
    const char *grade;
    int64_t price;
    tk_seed_seat_place(idx, section, row, &number);
    tk_seed_seat_grade(idx, per, &grade, &price);
    w_int(w, (long long)id);
    w_int(w, (long long)schedule);
    w_str(w, section);
    w_str(w, row);
    w_int(w, number);
    w_str(w, grade);
    w_int(w, price);
    w_str(w, "AVAILABLE");
}

size_t tk_seed_row(const tk_seed_gen *g, int table, uint64_t id, tk_seed_fmt fmt, char *buf, size_t cap)
{
    if (id == 0 || id > tk_seed_table_rows(g, table) || cap == 0)
        return 0;
    writer w = {.buf = buf, .cap = cap, .fmt = fmt};
    buf[0] = '\0';
    if (fmt == TK_SEED_FMT_SQL)
        w_raw(&w, "(", 1);
    switch (table) {
    case TK_SEED_USERS: gen_user(g, id, &w); break;
    case TK_SEED_CONCERTS: gen_concert(g, id, &w); break;
    case TK_SEED_SCHEDULES: gen_schedule(g, id, &w); break;
    case TK_SEED_SEATS: gen_seat(g, id, &w); break;
    default: return 0;
    }
    w_raw(&w, fmt == TK_SEED_FMT_SQL ? ")" : "\n", 1);
    return w.full ? 0 : w.len;
}

/* ---- loading --------------------------------------------------------------- */

void tk_seed_stream_init(tk_seed_stream *s, const tk_seed_gen *g, int table)
{
    s->g = g;
    s->table = table;
    s->next = 1;
    s->rows = tk_seed_table_rows(g, table);
    s->pend_len = s->pend_off = 0;
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
        if (o == len || s->next > s->rows)
            break;
        if (len - o >= TK_SEED_ROW_MAX) {
            /* room for any row: encode in place */
            size_t n = tk_seed_row(s->g, s->table, s->next, TK_SEED_FMT_CSV, buf + o, TK_SEED_ROW_MAX);
            if (n == 0)
                return -1;
            o += n;
        } else {
            s->pend_len = tk_seed_row(s->g, s->table, s->next, TK_SEED_FMT_CSV, s->pend, sizeof s->pend);
            s->pend_off = 0;
            if (s->pend_len == 0)
                return -1;
        }
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
    tk_seed_stream stream; /* LOAD DATA callback state */
    /* results */
    uint64_t loaded;
    double seconds;
    int rc;
    int used_insert;
    char err[512];
} job;

static int infile_init(void **ptr, const char *filename, void *userdata)
{
    (void)filename;
    job *j = userdata;
    tk_seed_stream_init(&j->stream, j->g, j->table);
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
    tk_progress_set(j->prog, j->bar, j->stream.next - 1);
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
    uint64_t id = 1;
    while (id <= j->rows) {
        size_t len = (size_t)head;
        int first = 1;
        while (id <= j->rows && len < INSERT_STMT_BYTES) {
            if (!first)
                sql[len++] = ',';
            size_t n = tk_seed_row(j->g, j->table, id, TK_SEED_FMT_SQL, sql + len, TK_SEED_ROW_MAX);
            if (n == 0) {
                snprintf(j->err, sizeof j->err, "row %llu of %s does not fit", (unsigned long long)id,
                         tables[j->table].name);
                goto out;
            }
            len += n;
            first = 0;
            id++;
        }
        if (mysql_real_query(db, sql, len) != 0)
            goto db_fail;
        j->loaded += mysql_affected_rows(db);
        tk_progress_set(j->prog, j->bar, id - 1);
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

static void *load_thread(void *arg)
{
    job *j = arg;
    uint64_t t0 = tk_mono_us();
    j->rc = -1;
    MYSQL *db = tk_db_connect(j->url, j->err, sizeof j->err);
    if (!db)
        goto out;
    if (tk_db_exec(db, "SET SESSION unique_checks=0, foreign_key_checks=0", j->err, sizeof j->err) != 0)
        goto out;
    int refused = 0;
    if (j->method != TK_SEED_INSERT) {
        if (load_data(j, db, &refused) == 0) {
            j->rc = 0;
            goto out;
        }
        if (!(refused && j->method == TK_SEED_AUTO))
            goto out;
        j->err[0] = '\0';
    }
    j->used_insert = 1;
    j->rc = insert_rows(j, db);
out:
    if (j->rc == 0 && j->loaded != j->rows) {
        snprintf(j->err, sizeof j->err, "%s: loaded %llu rows, expected %llu", tables[j->table].name,
                 (unsigned long long)j->loaded, (unsigned long long)j->rows);
        j->rc = -1;
    }
    tk_progress_done(j->prog, j->bar);
    j->seconds = (double)(tk_mono_us() - t0) / 1e6;
    if (db)
        mysql_close(db);
    return NULL;
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
    return 0;
}

int tk_seed_run(MYSQL *db, const char *mysql_url, const tk_seed_config *cfg, tk_seed_result *out,
                char *err, size_t errlen)
{
    uint64_t t0 = tk_mono_us();
    memset(out, 0, sizeof *out);
    if (cfg->users == 0 || cfg->concerts == 0 || cfg->schedules_per_concert == 0 || cfg->seats_per_schedule == 0)
        return tk_err(err, errlen, "users, concerts, schedules per concert and seats per schedule must be > 0");

    char hash[TK_PW_HASH_MAX];
    if (tk_auth_init() != 0 || tk_pw_hash_cheap(TK_SEED_PASSWORD, hash) != 0)
        return tk_err(err, errlen, "cannot hash the seed password (libsodium)");
    tk_seed_gen g;
    tk_seed_gen_init(&g, cfg, hash);

    if (prepare_tables(db, cfg->reset, err, errlen) != 0)
        return -1;
    out->reset_done = cfg->reset != 0;

    int rc = -1;
    tk_progress *prog = cfg->progress ? tk_progress_new(stderr, "rows") : NULL;
    job jobs[TK_SEED_NTABLES];
    pthread_t th[TK_SEED_NTABLES];
    int started = 0;
    memset(jobs, 0, sizeof jobs);
    for (int t = 0; t < TK_SEED_NTABLES; t++) {
        jobs[t].g = &g;
        jobs[t].table = t;
        jobs[t].url = mysql_url;
        jobs[t].method = cfg->method;
        jobs[t].rows = tk_seed_table_rows(&g, t);
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
    for (int t = 0; t < TK_SEED_NTABLES; t++) {
        if (jobs[t].rc != 0) {
            tk_err(err, errlen, "%s", jobs[t].err);
            goto out;
        }
        out->tables[t].table = tables[t].name;
        out->tables[t].rows = jobs[t].loaded;
        out->tables[t].seconds = jobs[t].seconds;
        out->total_rows += jobs[t].loaded;
        used_insert |= jobs[t].used_insert;
    }
    out->method = used_insert ? "insert" : "load-data";

    uint64_t ta = tk_mono_us();
    char e[256];
    if (tk_db_exec(db, "ANALYZE TABLE users, concerts, concert_schedules, seats", e, sizeof e) != 0) {
        tk_err(err, errlen, "ANALYZE TABLE: %s", e);
        goto out;
    }
    out->analyze_seconds = (double)(tk_mono_us() - ta) / 1e6;
    out->total_seconds = (double)(tk_mono_us() - t0) / 1e6;
    rc = 0;
out:
    tk_progress_free(prog);
    return rc;
}

int tk_seed_bump_cache_gen(const char *redis_url, long long *gen, char *err, size_t errlen)
{
    char host[256];
    int port = 0;
    if (!redis_url || tk_redis_url_parse(redis_url, host, sizeof host, &port) != 0)
        return tk_err(err, errlen, "bad Redis URL '%s'", redis_url ? redis_url : "");
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        tk_err(err, errlen, "cannot connect to Redis at %s:%d: %s", host, port, c ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }
    redisSetTimeout(c, tv);
    int rc = -1;
    redisReply *r = redisCommand(c, "INCR %s", TK_SEED_CACHE_GEN_KEY);
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
    redisFree(c);
    return rc;
}
