/* MariaDB connections and the versioned, idempotent schema migrations.
 *
 * The schema is the domain of DESIGN.md: users with a points balance and
 * its history, concerts, schedules, seats, reservations, payments.
 * Invariants the schema itself enforces:
 *   - reservations.live_seat_id is UNIQUE and set only while a reservation
 *     is PENDING or CONFIRMED, so a seat can never have two live
 *     reservations, whatever the application does;
 *   - payments.reservation_id is UNIQUE (one payment per reservation) and
 *     (user_id, idempotency_key) is UNIQUE (a retried payment never charges
 *     twice);
 *   - users.points is unsigned-checked (CHECK points >= 0). */
#include "ticketctl/db.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct migration {
    int version;
    const char *name;
    const char *sql[12];
} migration;

static const migration migrations[] = {
    {1, "core schema", {
        "CREATE TABLE IF NOT EXISTS users ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " email VARCHAR(190) NOT NULL,"
        " name VARCHAR(100) NOT NULL,"
        " password_hash VARCHAR(255) NOT NULL,"
        " points BIGINT NOT NULL DEFAULT 0,"
        " role ENUM('USER','ADMIN') NOT NULL DEFAULT 'USER',"
        " created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " UNIQUE KEY uk_users_email (email),"
        " CONSTRAINT ck_users_points CHECK (points >= 0)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS point_history ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " user_id BIGINT UNSIGNED NOT NULL,"
        " amount BIGINT NOT NULL,"
        " type ENUM('CHARGE','PAY','REFUND') NOT NULL,"
        " balance_after BIGINT NOT NULL,"
        " ref_id BIGINT UNSIGNED NULL,"
        " created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " KEY ix_point_history_user (user_id, id)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS concerts ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " title VARCHAR(200) NOT NULL,"
        " venue VARCHAR(200) NOT NULL,"
        " sale_opens_at DATETIME(3) NOT NULL,"
        " created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS concert_schedules ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " concert_id BIGINT UNSIGNED NOT NULL,"
        " starts_at DATETIME(3) NOT NULL,"
        " total_seats INT NOT NULL DEFAULT 0,"
        " available_seats INT NOT NULL DEFAULT 0,"
        " KEY ix_schedules_concert (concert_id, starts_at)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS seats ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " schedule_id BIGINT UNSIGNED NOT NULL,"
        " section VARCHAR(8) NOT NULL,"
        " row_label VARCHAR(8) NOT NULL,"
        " number INT NOT NULL,"
        " grade ENUM('VIP','R','S','A') NOT NULL,"
        " price BIGINT NOT NULL,"
        " status ENUM('AVAILABLE','HELD','SOLD') NOT NULL DEFAULT 'AVAILABLE',"
        " version INT UNSIGNED NOT NULL DEFAULT 0,"
        " KEY ix_seats_schedule_status (schedule_id, status)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS reservations ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " user_id BIGINT UNSIGNED NOT NULL,"
        " seat_id BIGINT UNSIGNED NOT NULL,"
        " schedule_id BIGINT UNSIGNED NOT NULL,"
        " price BIGINT NOT NULL,"
        " status ENUM('PENDING','CONFIRMED','CANCELED','EXPIRED') NOT NULL,"
        " live_seat_id BIGINT UNSIGNED NULL,"
        " expires_at DATETIME(3) NOT NULL,"
        " created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " UNIQUE KEY uk_reservations_live_seat (live_seat_id),"
        " KEY ix_reservations_user (user_id, id),"
        " KEY ix_reservations_status_expiry (status, expires_at)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS payments ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " reservation_id BIGINT UNSIGNED NOT NULL,"
        " user_id BIGINT UNSIGNED NOT NULL,"
        " amount BIGINT NOT NULL,"
        " idempotency_key VARCHAR(64) NOT NULL,"
        " status ENUM('COMPLETED','REFUNDED') NOT NULL,"
        " created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " UNIQUE KEY uk_payments_reservation (reservation_id),"
        " UNIQUE KEY uk_payments_idempotency (user_id, idempotency_key)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        NULL}},
    {2, "reservations by seat", {
        /* seat history and the invariant checks join reservations to seats */
        "CREATE INDEX IF NOT EXISTS ix_reservations_seat ON reservations (seat_id, status)",
        NULL}},
};

int tk_db_schema_version(void)
{
    return migrations[sizeof(migrations) / sizeof(migrations[0]) - 1].version;
}

MYSQL *tk_db_connect(const char *url, char *err, size_t errlen)
{
    tk_mysql_url u;
    if (tk_mysql_url_parse(url, &u, err, errlen) != 0)
        return NULL;
    MYSQL *db = mysql_init(NULL);
    if (!db) {
        tk_err(err, errlen, "mysql_init: out of memory");
        return NULL;
    }
    unsigned timeout = 10;
    my_bool on = 1;
    mysql_optionsv(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_optionsv(db, MYSQL_OPT_LOCAL_INFILE, &on);
    mysql_optionsv(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(db, MYSQL_INIT_COMMAND,
                   "SET SESSION tx_isolation = 'READ-COMMITTED', time_zone = '+00:00'");
    if (!mysql_real_connect(db, u.host, u.user, u.pass, u.db, u.port, NULL, CLIENT_FOUND_ROWS)) {
        tk_err(err, errlen, "cannot connect to MariaDB at %s:%u: %s", u.host, u.port, mysql_error(db));
        mysql_close(db);
        return NULL;
    }
    return db;
}

int tk_db_exec(MYSQL *db, const char *sql, char *err, size_t errlen)
{
    if (mysql_real_query(db, sql, strlen(sql)) != 0)
        return tk_err(err, errlen, "%s", mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    if (res)
        mysql_free_result(res);
    else if (mysql_field_count(db) != 0)
        return tk_err(err, errlen, "%s", mysql_error(db));
    return 0;
}

int tk_db_query_i64(MYSQL *db, const char *sql, long long *out, char *err, size_t errlen)
{
    if (mysql_real_query(db, sql, strlen(sql)) != 0)
        return tk_err(err, errlen, "%s", mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return tk_err(err, errlen, "no result: %s", mysql_error(db));
    MYSQL_ROW row = mysql_fetch_row(res);
    int rc = 1;
    if (row) {
        *out = row[0] ? strtoll(row[0], NULL, 10) : 0;
        rc = 0;
    }
    mysql_free_result(res);
    return rc;
}

int tk_db_migrate(MYSQL *db, char *err, size_t errlen)
{
    char e[512];
    long long got = 0;
    int applied = 0;
    if (tk_db_query_i64(db, "SELECT GET_LOCK('ticketctl_migrate', 60)", &got, e, sizeof e) != 0 || got != 1)
        return tk_err(err, errlen, "cannot take the migration lock: %s", got == 1 ? e : "timeout");
    if (tk_db_exec(db,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL,"
                   " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))",
                   e, sizeof e) != 0)
        goto fail;
    long long current = 0;
    if (tk_db_query_i64(db, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", &current, e, sizeof e) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
        const migration *m = &migrations[i];
        if (m->version <= current)
            continue;
        for (size_t j = 0; m->sql[j]; j++)
            if (tk_db_exec(db, m->sql[j], e, sizeof e) != 0)
                goto fail;
        char ins[256];
        snprintf(ins, sizeof ins, "INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')",
                 m->version, m->name);
        if (tk_db_exec(db, ins, e, sizeof e) != 0)
            goto fail;
        applied++;
    }
    tk_db_exec(db, "DO RELEASE_LOCK('ticketctl_migrate')", NULL, 0);
    return applied;
fail:
    tk_db_exec(db, "DO RELEASE_LOCK('ticketctl_migrate')", NULL, 0);
    return tk_err(err, errlen, "migration failed: %s", e);
}
