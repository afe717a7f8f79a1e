/* The client half of scripts/bench-db-statement: N hot-path statements on one
 * MariaDB connection, in one of several ways of sending them, so that the
 * script can divide mariadbd's and this process's CPU by N.
 *
 *   bench-db-statement-harness MODE N HOST PORT USER PASS DB SOCKET|- [K [GAP]]
 *
 * GAP (µs, default 0): the client sleeps that long after each round trip of
 * text, prep and batch, so the connection thread goes idle between
 * statements as serve's do between requests.
 *
 * MODE (every mode sends N items; an item is one CALL's worth of work):
 *   text      CALL tk_charge(u, 1, max) with mysql_real_query, the result
 *             stored and the CALL's status result drained: what
 *             lib/store.c call_proc does today.
 *   prep      the same CALL as a prepared statement (mysql_stmt_*), prepared
 *             once, executed N times with bound parameters.
 *   batch     K charges per round trip and per commit: "START TRANSACTION;
 *             CALL tkb_charge_item(...) x K; COMMIT" as one multi-statement.
 *             tkb_charge_item (created here, dropped after) does
 *             tk_charge's work under a SAVEPOINT of its own and answers one
 *             row per item; a failing item rolls back to its savepoint and
 *             answers 'ERROR', the other items stand.
 *   handoff   text, but each CALL is handed to a worker thread (mutex +
 *             condition variable, as server/server.c enqueue/worker_main)
 *             and its completion is posted back on an eventfd that this
 *             thread waits for in poll(): serve's hand-off per CALL.
 *   async     text through the non-blocking API (MYSQL_OPT_NONBLOCK,
 *             mysql_real_query_start/_cont, mysql_store_result_start/_cont,
 *             mysql_next_result_start/_cont) with this thread waiting in
 *             poll() on the connection's socket: what a libevent loop
 *             would do instead of the hand-off.
 *   flow      the flow's two writes: CALL tk_hold(u, seat, 300), then
 *             CALL tk_pay(u, reservation, key), N times over N distinct
 *             AVAILABLE seats of schedules that have not started (the
 *             script reseeds before each flow run). Counts 1 item per pair.
 *   flowprep  flow with both CALLs prepared.
 *             flow and flowprep take K as a procedure-name suffix: K "_v13"
 *             calls tk_hold_v13 and tk_pay_v13 (candidates created by hand,
 *             to A/B a migration before it lands); a K that does not start
 *             with '_' (the default 1) calls tk_hold and tk_pay.
 * Users: 1..1000 (seeded demo users; flow picks users with points).
 * Prints "ok ITEMS failed FAILED" on stdout; exit 1 on a database error.
 * Build: cc -O2 $(mariadb_config --cflags) this.c $(mariadb_config --libs) -lpthread */
#include <errno.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAXBAL 1000000000000LL
#define USERS 1000

static void die(MYSQL *db, const char *what)
{
    fprintf(stderr, "harness: %s: %s\n", what, db ? mysql_error(db) : "");
    exit(1);
}

/* Store and free every result of the last statement; the first column of
 * the first row of the first result goes to code (empty if none). */
static void drain(MYSQL *db, char code[32], int64_t *v1)
{
    code[0] = 0;
    do {
        MYSQL_RES *r = mysql_store_result(db);
        if (r) {
            MYSQL_ROW row = mysql_fetch_row(r);
            if (row && !code[0]) {
                snprintf(code, 32, "%s", row[0] ? row[0] : "");
                if (v1 && mysql_num_fields(r) > 1)
                    *v1 = row[1] ? strtoll(row[1], NULL, 10) : 0;
            }
            mysql_free_result(r);
        } else if (mysql_field_count(db) != 0) {
            die(db, "store_result");
        }
    } while (mysql_next_result(db) == 0);
    if (mysql_errno(db))
        die(db, "next_result");
}

static void call_text(MYSQL *db, const char *sql, char code[32], int64_t *v1)
{
    if (mysql_real_query(db, sql, strlen(sql)) != 0)
        die(db, sql);
    drain(db, code, v1);
}

/* ---- prepared CALLs ------------------------------------------------------ */

typedef struct {
    MYSQL_STMT *st;
    MYSQL_BIND in[3];
    long long iv[3];
    char key[64];
    unsigned long keylen;
    MYSQL_BIND out[2];
    char code[32];
    unsigned long codelen;
    long long v1;
} prep;

static void prep_init(MYSQL *db, prep *p, const char *sql, int nin, int last_is_str)
{
    memset(p, 0, sizeof *p);
    p->st = mysql_stmt_init(db);
    if (!p->st || mysql_stmt_prepare(p->st, sql, strlen(sql)) != 0)
        die(db, sql);
    for (int i = 0; i < nin; i++) {
        if (last_is_str && i == nin - 1) {
            p->in[i].buffer_type = MYSQL_TYPE_STRING;
            p->in[i].buffer = p->key;
            p->in[i].length = &p->keylen;
        } else {
            p->in[i].buffer_type = MYSQL_TYPE_LONGLONG;
            p->in[i].buffer = &p->iv[i];
        }
    }
    if (mysql_stmt_bind_param(p->st, p->in) != 0)
        die(db, "bind_param");
    p->out[0].buffer_type = MYSQL_TYPE_STRING;
    p->out[0].buffer = p->code;
    p->out[0].buffer_length = sizeof p->code - 1;
    p->out[0].length = &p->codelen;
    p->out[1].buffer_type = MYSQL_TYPE_LONGLONG;
    p->out[1].buffer = &p->v1;
}

/* Execute; read the first row's code and second column; drain the rest. */
static void prep_exec(MYSQL *db, prep *p)
{
    if (mysql_stmt_execute(p->st) != 0)
        die(db, mysql_stmt_error(p->st));
    p->code[0] = 0;
    int first = 1;
    do {
        if (mysql_stmt_field_count(p->st) > 0) {
            if (first) {
                /* bind only the first two columns of the 7 */
                MYSQL_BIND outs[7];
                memset(outs, 0, sizeof outs);
                outs[0] = p->out[0];
                outs[1] = p->out[1];
                for (int i = 2; i < 7; i++)
                    outs[i].buffer_type = MYSQL_TYPE_NULL;
                if (mysql_stmt_bind_result(p->st, outs) != 0)
                    die(db, mysql_stmt_error(p->st));
            }
            int fr;
            while ((fr = mysql_stmt_fetch(p->st)) == 0 || fr == MYSQL_DATA_TRUNCATED)
                ;
            if (first)
                p->code[p->codelen < sizeof p->code ? p->codelen : sizeof p->code - 1] = 0;
            first = 0;
        }
    } while (mysql_stmt_next_result(p->st) == 0);
    mysql_stmt_free_result(p->st);
}

/* ---- hand-off to a worker thread ---------------------------------------- */

typedef struct {
    MYSQL *db;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char sql[256];
    int pending, stop, efd;
    char code[32];
} handoff;

static void *handoff_worker(void *arg)
{
    handoff *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        while (!h->pending && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop) {
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        h->pending = 0;
        pthread_mutex_unlock(&h->mu);
        call_text(h->db, h->sql, h->code, NULL);
        uint64_t one = 1;
        if (write(h->efd, &one, sizeof one) != sizeof one)
            die(NULL, "eventfd write");
    }
}

/* ---- non-blocking API ---------------------------------------------------- */

static int wait_for(MYSQL *db, int status)
{
    struct pollfd pf = {.fd = mysql_get_socket(db), .events = 0};
    if (status & MYSQL_WAIT_READ)
        pf.events |= POLLIN;
    if (status & MYSQL_WAIT_WRITE)
        pf.events |= POLLOUT;
    if (status & MYSQL_WAIT_EXCEPT)
        pf.events |= POLLPRI;
    int r;
    while ((r = poll(&pf, 1, 10000)) < 0 && errno == EINTR)
        ;
    if (r == 0)
        return MYSQL_WAIT_TIMEOUT;
    int out = 0;
    if (pf.revents & (POLLIN | POLLERR | POLLHUP))
        out |= MYSQL_WAIT_READ;
    if (pf.revents & POLLOUT)
        out |= MYSQL_WAIT_WRITE;
    if (pf.revents & POLLPRI)
        out |= MYSQL_WAIT_EXCEPT;
    return out;
}

static void call_async(MYSQL *db, const char *sql, char code[32])
{
    int err = 0, st = mysql_real_query_start(&err, db, sql, strlen(sql));
    while (st)
        st = mysql_real_query_cont(&err, db, wait_for(db, st));
    if (err)
        die(db, sql);
    code[0] = 0;
    for (;;) {
        MYSQL_RES *r = NULL;
        st = mysql_store_result_start(&r, db);
        while (st)
            st = mysql_store_result_cont(&r, db, wait_for(db, st));
        if (r) {
            MYSQL_ROW row = mysql_fetch_row(r);
            if (row && !code[0])
                snprintf(code, 32, "%s", row[0] ? row[0] : "");
            mysql_free_result(r);
        } else if (mysql_field_count(db) != 0) {
            die(db, "store_result");
        }
        if (!mysql_more_results(db))
            break;
        int nr = 0;
        st = mysql_next_result_start(&nr, db);
        while (st)
            st = mysql_next_result_cont(&nr, db, wait_for(db, st));
        if (nr > 0)
            die(db, "next_result");
        if (nr < 0)
            break;
    }
}

/* tk_charge's work as one item of a batch: no transaction of its own (the
 * batch's), a SAVEPOINT per item so that a failing item undoes only itself. */
static const char charge_item_sql[] =
    "CREATE OR REPLACE PROCEDURE tkb_charge_item(IN p_user BIGINT UNSIGNED, IN p_amount BIGINT, IN p_max BIGINT)\n"
    "BEGIN\n"
    "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK TO SAVEPOINT tkb_item; SELECT 'ERROR', 0, 0, 0, 0, 0, 0; END;\n"
    "  SAVEPOINT tkb_item;\n"
    "  UPDATE users SET points = (@tk_points := points + p_amount) WHERE id = p_user AND points <= p_max - p_amount;\n"
    "  IF ROW_COUNT() = 1 THEN\n"
    "    INSERT INTO point_history (user_id, amount, type, balance_after) VALUES (p_user, p_amount, 'CHARGE', @tk_points);\n"
    "    SELECT 'OK', @tk_points, LAST_INSERT_ID(), 0, 0, 0, 0;\n"
    "  ELSE\n"
    "    SELECT 'BALANCE_LIMIT', 0, 0, 0, 0, 0, 0;\n"
    "  END IF;\n"
    "END";

/* ---- main ----------------------------------------------------------------- */

static MYSQL *connect_db(char **a, int nonblock, int multi)
{
    MYSQL *db = mysql_init(NULL);
    if (!db)
        die(NULL, "mysql_init");
    if (nonblock)
        mysql_options(db, MYSQL_OPT_NONBLOCK, 0);
    mysql_optionsv(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(db, MYSQL_INIT_COMMAND, "SET SESSION tx_isolation = 'READ-COMMITTED', time_zone = '+00:00'");
    const char *sock = strcmp(a[8], "-") ? a[8] : NULL;
    unsigned long fl = CLIENT_FOUND_ROWS | CLIENT_MULTI_RESULTS | (multi ? CLIENT_MULTI_STATEMENTS : 0);
    if (!mysql_real_connect(db, sock ? "localhost" : a[3], a[5], a[6], a[7], (unsigned)atoi(a[4]), sock, fl))
        die(db, "connect");
    return db;
}

/* N distinct AVAILABLE seats of schedules not started, each with a user
 * able to pay for it (every USER topped up to 10^9 points, round robin). */
static void flow_targets(MYSQL *db, long n, uint64_t *seat, uint64_t *user)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT s.id FROM seats s JOIN concert_schedules cs ON cs.id = s.schedule_id"
             " WHERE s.status = 'AVAILABLE' AND cs.starts_at > UTC_TIMESTAMP() + INTERVAL 1 HOUR"
             " ORDER BY s.id LIMIT %ld",
             n);
    if (mysql_query(db, sql) != 0)
        die(db, sql);
    MYSQL_RES *r = mysql_store_result(db);
    long i = 0;
    for (MYSQL_ROW row; r && (row = mysql_fetch_row(r)) && i < n; i++)
        seat[i] = strtoull(row[0], NULL, 10);
    mysql_free_result(r);
    if (i < n)
        die(NULL, "not enough available seats: reseed");
    /* the script reseeds after a flow run: give the users enough to pay */
    if (mysql_query(db, "UPDATE users SET points = 1000000000 WHERE role = 'USER'") != 0)
        die(db, "top up");
    if (mysql_query(db, "SELECT id FROM users WHERE role = 'USER' ORDER BY id LIMIT 5000") != 0)
        die(db, "users");
    r = mysql_store_result(db);
    uint64_t us[5000];
    long nu = 0;
    for (MYSQL_ROW row; r && (row = mysql_fetch_row(r)) && nu < 5000;)
        us[nu++] = strtoull(row[0], NULL, 10);
    mysql_free_result(r);
    if (nu == 0)
        die(NULL, "no user with points");
    for (i = 0; i < n; i++)
        user[i] = us[i % nu];
}

int main(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: %s MODE N HOST PORT USER PASS DB SOCKET|- [K]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[2]), k = argc > 9 ? atol(argv[9]) : 1;
    const char *sfx = argc > 9 && argv[9][0] == '_' ? argv[9] : "";
    useconds_t gap = argc > 10 ? (useconds_t)atol(argv[10]) : 0;
    if (strspn(sfx, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(sfx) || strlen(sfx) > 16)
        die(NULL, "bad procedure suffix");
    int is_async = !strcmp(mode, "async"), is_batch = !strcmp(mode, "batch");
    MYSQL *db = connect_db(argv, is_async, is_batch);
    char sql[8192], code[32];
    long ok = 0, failed = 0;
    if (!strcmp(mode, "text")) {
        for (long i = 0; i < n; i++) {
            snprintf(sql, sizeof sql, "CALL tk_charge(%ld, 1, %lld)", i % USERS + 1, MAXBAL);
            call_text(db, sql, code, NULL);
            strcmp(code, "OK") ? failed++ : ok++;
            if (gap)
                usleep(gap);
        }
    } else if (!strcmp(mode, "prep")) {
        prep p;
        prep_init(db, &p, "CALL tk_charge(?, ?, ?)", 3, 0);
        for (long i = 0; i < n; i++) {
            p.iv[0] = i % USERS + 1, p.iv[1] = 1, p.iv[2] = MAXBAL;
            prep_exec(db, &p);
            strcmp(p.code, "OK") ? failed++ : ok++;
            if (gap)
                usleep(gap);
        }
        mysql_stmt_close(p.st);
    } else if (is_batch) {
        if (k < 1 || k > 64)
            die(NULL, "K must be 1..64");
        if (mysql_query(db, charge_item_sql) != 0)
            die(db, "create tkb_charge_item");
        for (long i = 0; i < n; i += k) {
            size_t off = (size_t)snprintf(sql, sizeof sql, "START TRANSACTION;");
            for (long j = i; j < i + k && j < n; j++)
                off += (size_t)snprintf(sql + off, sizeof sql - off, "CALL tkb_charge_item(%ld, 1, %lld);",
                                        j % USERS + 1, MAXBAL);
            snprintf(sql + off, sizeof sql - off, "COMMIT");
            if (mysql_real_query(db, sql, strlen(sql)) != 0)
                die(db, "batch");
            /* one result per item (its row), plus the statuses */
            do {
                MYSQL_RES *r = mysql_store_result(db);
                if (r) {
                    MYSQL_ROW row = mysql_fetch_row(r);
                    (row && row[0] && !strcmp(row[0], "OK")) ? ok++ : failed++;
                    mysql_free_result(r);
                }
            } while (mysql_next_result(db) == 0);
            if (mysql_errno(db))
                die(db, "batch results");
            if (gap)
                usleep(gap);
        }
        if (mysql_query(db, "DROP PROCEDURE IF EXISTS tkb_charge_item") != 0)
            die(db, "drop tkb_charge_item");
    } else if (!strcmp(mode, "handoff")) {
        handoff h = {.db = db};
        pthread_mutex_init(&h.mu, NULL);
        pthread_cond_init(&h.cv, NULL);
        h.efd = eventfd(0, EFD_NONBLOCK);
        pthread_t t;
        if (h.efd < 0 || pthread_create(&t, NULL, handoff_worker, &h))
            die(NULL, "worker");
        for (long i = 0; i < n; i++) {
            pthread_mutex_lock(&h.mu);
            snprintf(h.sql, sizeof h.sql, "CALL tk_charge(%ld, 1, %lld)", i % USERS + 1, MAXBAL);
            h.pending = 1;
            pthread_cond_signal(&h.cv);
            pthread_mutex_unlock(&h.mu);
            struct pollfd pf = {.fd = h.efd, .events = POLLIN};
            uint64_t cnt;
            for (;;) {
                while (poll(&pf, 1, -1) < 0 && errno == EINTR)
                    ;
                if (read(h.efd, &cnt, sizeof cnt) == sizeof cnt)
                    break;
            }
            strcmp(h.code, "OK") ? failed++ : ok++;
        }
        pthread_mutex_lock(&h.mu);
        h.stop = 1;
        pthread_cond_signal(&h.cv);
        pthread_mutex_unlock(&h.mu);
        pthread_join(t, NULL);
    } else if (is_async) {
        for (long i = 0; i < n; i++) {
            snprintf(sql, sizeof sql, "CALL tk_charge(%ld, 1, %lld)", i % USERS + 1, MAXBAL);
            call_async(db, sql, code);
            strcmp(code, "OK") ? failed++ : ok++;
        }
    } else if (!strcmp(mode, "flow") || !strcmp(mode, "flowprep")) {
        int use_prep = !strcmp(mode, "flowprep");
        uint64_t *seat = calloc((size_t)n, sizeof *seat), *user = calloc((size_t)n, sizeof *user);
        if (!seat || !user)
            die(NULL, "out of memory");
        flow_targets(db, n, seat, user);
        prep hold, pay;
        if (use_prep) {
            char hs[64], ps[64];
            snprintf(hs, sizeof hs, "CALL tk_hold%s(?, ?, ?)", sfx);
            snprintf(ps, sizeof ps, "CALL tk_pay%s(?, ?, ?)", sfx);
            prep_init(db, &hold, hs, 3, 0);
            prep_init(db, &pay, ps, 3, 1);
        }
        for (long i = 0; i < n; i++) {
            int64_t res = 0;
            if (use_prep) {
                hold.iv[0] = (long long)user[i], hold.iv[1] = (long long)seat[i], hold.iv[2] = 300;
                prep_exec(db, &hold);
                snprintf(code, sizeof code, "%s", hold.code);
                res = hold.v1;
            } else {
                snprintf(sql, sizeof sql, "CALL tk_hold%s(%llu, %llu, 300)", sfx, (unsigned long long)user[i],
                         (unsigned long long)seat[i]);
                call_text(db, sql, code, &res);
            }
            if (strcmp(code, "OK")) {
                failed++;
                continue;
            }
            if (use_prep) {
                pay.iv[0] = (long long)user[i], pay.iv[1] = res;
                pay.keylen = (unsigned long)snprintf(pay.key, sizeof pay.key, "hb-%lld-%ld", (long long)res, i);
                prep_exec(db, &pay);
                snprintf(code, sizeof code, "%s", pay.code);
            } else {
                snprintf(sql, sizeof sql, "CALL tk_pay%s(%llu, %lld, 'hb-%lld-%ld')", sfx, (unsigned long long)user[i],
                         (long long)res, (long long)res, i);
                call_text(db, sql, code, NULL);
            }
            strcmp(code, "OK") ? failed++ : ok++;
        }
        if (use_prep) {
            mysql_stmt_close(hold.st);
            mysql_stmt_close(pay.st);
        }
        free(seat);
        free(user);
    } else {
        die(NULL, "unknown mode");
    }
    mysql_close(db);
    printf("ok %ld failed %ld\n", ok, failed);
    return 0;
}
