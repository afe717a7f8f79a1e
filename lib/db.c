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
    const char *sql[16];
} migration;

/* The body of tk_pay (migration 9) and of tk_pay_item (migration 13, the
 * same payment as one item of a batch transaction): DECLS and ON_ERROR are
 * the extra declarations and the SQLEXCEPTION handler, BEGIN_, ROLLBACK_ and
 * COMMIT_ the transaction control (a transaction of its own, or a savepoint
 * of the batch's). */
#define TK_PAY_BODY(DECLS, ON_ERROR, BEGIN_, ROLLBACK_, COMMIT_)\
        "BEGIN\n"                                                                                                     \
        "  DECLARE v_owner BIGINT UNSIGNED DEFAULT NULL;\n"                                                           \
        "  DECLARE v_seat, v_sched, v_concert, v_pay_id, v_pay_res BIGINT UNSIGNED DEFAULT NULL;\n"                   \
        "  DECLARE v_price, v_pay_amount, v_points BIGINT DEFAULT NULL;\n"                                            \
        "  DECLARE v_status VARCHAR(12);\n"                                                                           \
        "  DECLARE v_expired INT;\n"                                                                                  \
        "  DECLARE v_ev1, v_ev2 CHAR(36);\n"                                                                          \
        DECLS                                                                                                         \
        "  DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;\n"                                                       \
        ON_ERROR                                                                                                      \
        BEGIN_                                                                                                        \
        /* lock the reservation first: payments of it serialise here */                                               \
        "  SELECT r.user_id, r.seat_id, r.schedule_id, cs.concert_id, r.price, r.status,\n"                           \
        "         r.expires_at <= UTC_TIMESTAMP(3)\n"                                                                 \
        "    INTO v_owner, v_seat, v_sched, v_concert, v_price, v_status, v_expired\n"                                \
        "    FROM reservations r JOIN concert_schedules cs ON cs.id = r.schedule_id\n"                                \
        "    WHERE r.id = p_res FOR UPDATE;\n"                                                                        \
        "  IF v_owner IS NULL OR v_owner <> p_user THEN\n"                                                            \
        "    " ROLLBACK_ " SELECT 'NOT_FOUND', 0, 0, 0, 0, 0, 0;\n"                                                   \
        "  ELSE\n"                                                                                                    \
        "    SELECT id, reservation_id, amount INTO v_pay_id, v_pay_res, v_pay_amount\n"                              \
        "      FROM payments WHERE user_id = p_user AND idempotency_key = p_key;\n"                                   \
        "    IF v_pay_id IS NOT NULL AND v_pay_res <> p_res THEN\n"                                                   \
        "      " ROLLBACK_ " SELECT 'IDEMPOTENCY_KEY_REUSED', 0, 0, 0, 0, 0, 0;\n"                                    \
        "    ELSEIF v_pay_id IS NOT NULL THEN\n"                                                                      \
        "      SELECT points INTO v_points FROM users WHERE id = p_user;\n"                                           \
        "      " COMMIT_ " SELECT 'REPLAY', v_pay_id, v_pay_amount, v_points, v_seat, v_sched, v_concert;\n"          \
        "    ELSEIF v_status = 'CONFIRMED' THEN\n"                                                                    \
        "      " ROLLBACK_ " SELECT 'ALREADY_PAID', 0, 0, 0, 0, 0, 0;\n"                                              \
        "    ELSEIF v_status <> 'PENDING' THEN\n"                                                                     \
        "      " ROLLBACK_ " SELECT 'INVALID_STATE', 0, 0, 0, 0, 0, 0;\n"                                             \
        "    ELSE\n"                                                                                                  \
        "      SET v_ev1 = UUID(), v_ev2 = UUID();\n"                                                                 \
        "      IF v_expired THEN\n"                                                                                   \
        /* the sweeper has not reached it yet: expire it now */                                                       \
        "        UPDATE reservations SET status = 'EXPIRED', live_seat_id = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = p_res;\n"\
        "        UPDATE seats SET status = 'AVAILABLE', version = version + 1 WHERE id = v_seat;\n"                   \
        "        UPDATE concert_schedules SET available_seats = available_seats + 1 WHERE id = v_sched;\n"            \
        "        INSERT INTO outbox (event_id, topic, event_key, type, payload) VALUES\n"                             \
        "          " TK_OUTBOX_ROW("v_ev1", "'reservation.expired'", "p_res", "p_user", "v_seat", "v_price") ";\n"    \
        "        " COMMIT_ " SELECT 'HOLD_EXPIRED', 0, 0, 0, v_seat, v_sched, v_concert;\n"                           \
        "      ELSE\n"                                                                                                \
        /* the debit locks the balance and checks it in one statement */                                              \
        "       UPDATE users SET points = (@tk_points := points - v_price) WHERE id = p_user AND points >= v_price;\n"\
        "       IF ROW_COUNT() <> 1 THEN\n"                                                                           \
        /* compensation: a failed payment releases the hold */                                                        \
        "        SELECT points INTO v_points FROM users WHERE id = p_user FOR UPDATE;\n"                              \
        "        UPDATE reservations SET status = 'CANCELED', live_seat_id = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = p_res;\n"\
        "        UPDATE seats SET status = 'AVAILABLE', version = version + 1 WHERE id = v_seat;\n"                   \
        "        UPDATE concert_schedules SET available_seats = available_seats + 1 WHERE id = v_sched;\n"            \
        "        INSERT INTO outbox (event_id, topic, event_key, type, payload) VALUES\n"                             \
        "          " TK_OUTBOX_ROW("v_ev1", "'payment.failed'", "p_res", "p_user", "v_seat", "v_price") ",\n"         \
        "          " TK_OUTBOX_ROW("v_ev2", "'reservation.canceled'", "p_res", "p_user", "v_seat", "v_price") ";\n"   \
        "        " COMMIT_ " SELECT 'INSUFFICIENT_POINTS', 0, v_price, v_points, v_seat, v_sched, v_concert;\n"       \
        "      ELSE\n"                                                                                                \
        "        INSERT INTO point_history (user_id, amount, type, balance_after, ref_id)\n"                          \
        "          VALUES (p_user, -v_price, 'PAY', @tk_points, p_res);\n"                                            \
        "        INSERT INTO payments (reservation_id, user_id, amount, idempotency_key, status)\n"                   \
        "          VALUES (p_res, p_user, v_price, p_key, 'COMPLETED');\n"                                            \
        "        SET v_pay_id = LAST_INSERT_ID();\n"                                                                  \
        "        UPDATE reservations SET status = 'CONFIRMED', updated_at = UTC_TIMESTAMP(3) WHERE id = p_res;\n"     \
        "        UPDATE seats SET status = 'SOLD', version = version + 1 WHERE id = v_seat;\n"                        \
        "        INSERT INTO outbox (event_id, topic, event_key, type, payload) VALUES\n"                             \
        "          " TK_OUTBOX_ROW("v_ev1", "'payment.completed'", "p_res", "p_user", "v_seat", "v_price") ",\n"      \
        "          " TK_OUTBOX_ROW("v_ev2", "'reservation.confirmed'", "p_res", "p_user", "v_seat", "v_price") ";\n"  \
        "        " COMMIT_ " SELECT 'OK', v_pay_id, v_price, @tk_points, v_seat, v_sched, v_concert;\n"               \
        "       END IF;\n"                                                                                            \
        "      END IF;\n"                                                                                             \
        "    END IF;\n"                                                                                               \
        "  END IF;\n"                                                                                                 \
        "END"

/* The body of tk_hold (migration 9) and of tk_hold_item (migration 13), as
 * TK_PAY_BODY. */
#define TK_HOLD_BODY(DECLS, ON_ERROR, BEGIN_, ROLLBACK_, COMMIT_)\
        "BEGIN\n"                                                                                                     \
        "  DECLARE v_sched, v_concert, v_id BIGINT UNSIGNED DEFAULT NULL;\n"                                          \
        "  DECLARE v_price BIGINT;\n"                                                                                 \
        "  DECLARE v_started INT DEFAULT 0;\n"                                                                        \
        "  DECLARE v_n INT DEFAULT 0;\n"                                                                              \
        "  DECLARE v_now DATETIME(3) DEFAULT UTC_TIMESTAMP(3);\n"                                                     \
        "  DECLARE v_ev CHAR(36) DEFAULT UUID();\n"                                                                   \
        DECLS                                                                                                         \
        "  DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;\n"                                                       \
        ON_ERROR                                                                                                      \
        BEGIN_                                                                                                        \
        /* the arbiter: of N racing holders exactly one changes the row */                                            \
        "  UPDATE seats SET status = 'HELD', version = version + 1 WHERE id = p_seat AND status = 'AVAILABLE';\n"     \
        "  IF ROW_COUNT() = 1 THEN\n"                                                                                 \
        "    SELECT s.schedule_id, s.price, cs.concert_id, cs.starts_at <= v_now\n"                                   \
        "      INTO v_sched, v_price, v_concert, v_started\n"                                                         \
        "      FROM seats s JOIN concert_schedules cs ON cs.id = s.schedule_id WHERE s.id = p_seat;\n"                \
        "  END IF;\n"                                                                                                 \
        "  IF v_sched IS NULL OR v_started THEN\n"                                                                    \
        "    " ROLLBACK_ "\n"                                                                                         \
        /* a plain SELECT ... INTO is a consistent read (see tk_reserve_as) */                                        \
        "    SELECT COUNT(*) INTO v_n FROM seats WHERE id = p_seat;\n"                                                \
        "    SELECT IF(v_started, 'SHOW_STARTED', IF(v_n > 0, 'SEAT_TAKEN', 'NOT_FOUND')), 0, 0, 0, 0, 0, 0;\n"       \
        "  ELSE\n"                                                                                                    \
        "    INSERT INTO reservations (user_id, seat_id, schedule_id, price, status, live_seat_id,\n"                 \
        "                              expires_at, created_at, updated_at)\n"                                         \
        "      VALUES (p_user, p_seat, v_sched, v_price, 'PENDING', p_seat,\n"                                        \
        "              v_now + INTERVAL p_ttl SECOND, v_now, v_now);\n"                                               \
        "    SET v_id = LAST_INSERT_ID();\n"                                                                          \
        "    UPDATE concert_schedules SET available_seats = available_seats - 1 WHERE id = v_sched;\n"                \
        "    INSERT INTO outbox (event_id, topic, event_key, type, payload) VALUES\n"                                 \
        "      " TK_OUTBOX_ROW("v_ev", "'reservation.held'", "v_id", "p_user", "p_seat", "v_price") ";\n"             \
        "    " COMMIT_ "\n"                                                                                           \
        "    SELECT 'OK', v_id, v_sched, v_concert, v_price,\n"                                                       \
        "           CAST(UNIX_TIMESTAMP(v_now + INTERVAL p_ttl SECOND) * 1000 AS SIGNED),\n"                          \
        "           CAST(UNIX_TIMESTAMP(v_now) * 1000 AS SIGNED);\n"                                                  \
        "  END IF;\n"                                                                                                 \
        "END"

/* The body of tk_charge (migration 9) and of tk_charge_item (migration
 * 13), as TK_PAY_BODY. */
#define TK_CHARGE_BODY(DECLS, ON_ERROR, BEGIN_, ROLLBACK_, COMMIT_)\
        "BEGIN\n"                                                                                                     \
        "  DECLARE v_points BIGINT DEFAULT NULL;\n"                                                                   \
        DECLS                                                                                                         \
        "  DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;\n"                                                       \
        ON_ERROR                                                                                                      \
        BEGIN_                                                                                                        \
        "  UPDATE users SET points = (@tk_points := points + p_amount)\n"                                             \
        "    WHERE id = p_user AND points <= p_max - p_amount;\n"                                                     \
        "  IF ROW_COUNT() = 1 THEN\n"                                                                                 \
        "    INSERT INTO point_history (user_id, amount, type, balance_after)\n"                                      \
        "      VALUES (p_user, p_amount, 'CHARGE', @tk_points);\n"                                                    \
        "    " COMMIT_ "\n"                                                                                           \
        "    SELECT 'OK', @tk_points, LAST_INSERT_ID(), 0, 0, 0, 0;\n"                                                \
        "  ELSE\n"                                                                                                    \
        "    " ROLLBACK_ "\n"                                                                                         \
        "    SELECT points INTO v_points FROM users WHERE id = p_user;\n"                                             \
        "    IF v_points IS NULL THEN SELECT 'NOT_FOUND', 0, 0, 0, 0, 0, 0;\n"                                        \
        "    ELSE SELECT 'BALANCE_LIMIT', v_points, 0, 0, 0, 0, 0; END IF;\n"                                         \
        "  END IF;\n"                                                                                                 \
        "END"

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
    /* The three hot write paths as stored procedures: one round trip per
     * request instead of 5-11 statements (measured: the statement round
     * trips were most of MariaDB's and the server's CPU under the 5,000-VU
     * bench). The logic is the same as before, the rows are locked the same
     * way, and the database stays the arbiter. Every procedure answers with
     * one row of 7 columns: code, then code-specific values. */
    /* ... and the transactional outbox: every state change of a reservation
     * or payment writes its event in the same transaction (tk_emit), and
     * the relay (lib/outbox.c) publishes it to Kafka afterwards, so an
     * event is never lost and never published for a change that rolled
     * back. */
    {3, "hot-path procedures and the event outbox", {
        "CREATE TABLE IF NOT EXISTS outbox ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " event_id CHAR(36) NOT NULL,"
        " topic VARCHAR(64) NOT NULL,"
        " event_key VARCHAR(64) NOT NULL,"
        " type VARCHAR(48) NOT NULL,"
        " payload TEXT NOT NULL,"
        " created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " published_at DATETIME(3) NULL,"
        " UNIQUE KEY uk_outbox_event (event_id),"
        " KEY ix_outbox_pending (published_at, id)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "DROP PROCEDURE IF EXISTS tk_emit",
        "CREATE PROCEDURE tk_emit(IN p_type VARCHAR(48), IN p_res BIGINT UNSIGNED, IN p_user BIGINT UNSIGNED,\n"
        "                         IN p_seat BIGINT UNSIGNED, IN p_amount BIGINT)\n"
        "BEGIN\n"
        "  DECLARE v_id CHAR(36) DEFAULT UUID();\n"
        "  INSERT INTO outbox (event_id, topic, event_key, type, payload) VALUES (v_id,\n"
        "    IF(p_type LIKE 'payment.%', 'ticketctl.payments', 'ticketctl.reservations'), p_res, p_type,\n"
        "    JSON_OBJECT('event_id', v_id, 'type', p_type, 'reservation_id', p_res, 'user_id', p_user,\n"
        "                'seat_id', p_seat, 'amount', p_amount,\n"
        "                'occurred_at', DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.%fZ')));\n"
        "END",

        "DROP PROCEDURE IF EXISTS tk_charge",
        "CREATE PROCEDURE tk_charge(IN p_user BIGINT UNSIGNED, IN p_amount BIGINT, IN p_max BIGINT)\n"
        "BEGIN\n"
        "  DECLARE v_points BIGINT DEFAULT NULL;\n"
        "  DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;\n"
        "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;\n"
        "  START TRANSACTION;\n"
        "  SELECT points INTO v_points FROM users WHERE id = p_user FOR UPDATE;\n"
        "  IF v_points IS NULL THEN\n"
        "    ROLLBACK; SELECT 'NOT_FOUND', 0, 0, 0, 0, 0, 0;\n"
        "  ELSEIF v_points > p_max - p_amount THEN\n"
        "    ROLLBACK; SELECT 'BALANCE_LIMIT', v_points, 0, 0, 0, 0, 0;\n"
        "  ELSE\n"
        "    UPDATE users SET points = v_points + p_amount WHERE id = p_user;\n"
        "    INSERT INTO point_history (user_id, amount, type, balance_after)\n"
        "      VALUES (p_user, p_amount, 'CHARGE', v_points + p_amount);\n"
        "    COMMIT;\n"
        "    SELECT 'OK', v_points + p_amount, LAST_INSERT_ID(), 0, 0, 0, 0;\n"
        "  END IF;\n"
        "END",

        "DROP PROCEDURE IF EXISTS tk_reserve",
        "CREATE PROCEDURE tk_reserve(IN p_user BIGINT UNSIGNED, IN p_seat BIGINT UNSIGNED, IN p_ttl INT)\n"
        "BEGIN\n"
        "  DECLARE v_sched BIGINT UNSIGNED DEFAULT NULL;\n"
        "  DECLARE v_concert BIGINT UNSIGNED;\n"
        "  DECLARE v_price BIGINT;\n"
        "  DECLARE v_started INT;\n"
        "  DECLARE v_id BIGINT UNSIGNED;\n"
        "  DECLARE v_now DATETIME(3);\n"
        "  DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;\n"
        "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;\n"
        "  SET v_now = UTC_TIMESTAMP(3);\n"
        "  START TRANSACTION;\n"
        /* the arbiter: of N racing holders exactly one changes the row */
        "  UPDATE seats SET status = 'HELD', version = version + 1 WHERE id = p_seat AND status = 'AVAILABLE';\n"
        "  IF ROW_COUNT() <> 1 THEN\n"
        "    ROLLBACK;\n"
        "    IF EXISTS (SELECT 1 FROM seats WHERE id = p_seat) THEN SELECT 'SEAT_TAKEN', 0, 0, 0, 0, 0, 0;\n"
        "    ELSE SELECT 'NOT_FOUND', 0, 0, 0, 0, 0, 0; END IF;\n"
        "  ELSE\n"
        "    SELECT s.schedule_id, s.price, cs.concert_id, cs.starts_at <= v_now\n"
        "      INTO v_sched, v_price, v_concert, v_started\n"
        "      FROM seats s JOIN concert_schedules cs ON cs.id = s.schedule_id WHERE s.id = p_seat;\n"
        "    IF v_sched IS NULL THEN\n"
        "      ROLLBACK; SELECT 'NOT_FOUND', 0, 0, 0, 0, 0, 0;\n"
        "    ELSEIF v_started THEN\n"
        "      ROLLBACK; SELECT 'SHOW_STARTED', 0, 0, 0, 0, 0, 0;\n"
        "    ELSE\n"
        "      INSERT INTO reservations (user_id, seat_id, schedule_id, price, status, live_seat_id,\n"
        "                                expires_at, created_at, updated_at)\n"
        "        VALUES (p_user, p_seat, v_sched, v_price, 'PENDING', p_seat,\n"
        "                v_now + INTERVAL p_ttl SECOND, v_now, v_now);\n"
        "      SET v_id = LAST_INSERT_ID();\n"
        "      UPDATE concert_schedules SET available_seats = available_seats - 1 WHERE id = v_sched;\n"
        "      CALL tk_emit('reservation.held', v_id, p_user, p_seat, v_price);\n"
        "      COMMIT;\n"
        "      SELECT 'OK', v_id, v_sched, v_concert, v_price,\n"
        "             CAST(UNIX_TIMESTAMP(v_now + INTERVAL p_ttl SECOND) * 1000 AS SIGNED),\n"
        "             CAST(UNIX_TIMESTAMP(v_now) * 1000 AS SIGNED);\n"
        "    END IF;\n"
        "  END IF;\n"
        "END",

        "DROP PROCEDURE IF EXISTS tk_pay",
        "CREATE PROCEDURE tk_pay(IN p_user BIGINT UNSIGNED, IN p_res BIGINT UNSIGNED, IN p_key VARCHAR(64))\n"
        "BEGIN\n"
        "  DECLARE v_owner BIGINT UNSIGNED DEFAULT NULL;\n"
        "  DECLARE v_seat, v_sched, v_concert, v_pay_id, v_pay_res BIGINT UNSIGNED DEFAULT NULL;\n"
        "  DECLARE v_price, v_pay_amount, v_points BIGINT DEFAULT NULL;\n"
        "  DECLARE v_status VARCHAR(12);\n"
        "  DECLARE v_expired INT;\n"
        "  DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;\n"
        "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;\n"
        "  START TRANSACTION;\n"
        /* lock the reservation first: payments of it serialise here */
        "  SELECT r.user_id, r.seat_id, r.schedule_id, cs.concert_id, r.price, r.status,\n"
        "         r.expires_at <= UTC_TIMESTAMP(3)\n"
        "    INTO v_owner, v_seat, v_sched, v_concert, v_price, v_status, v_expired\n"
        "    FROM reservations r JOIN concert_schedules cs ON cs.id = r.schedule_id\n"
        "    WHERE r.id = p_res FOR UPDATE;\n"
        "  IF v_owner IS NULL OR v_owner <> p_user THEN\n"
        "    ROLLBACK; SELECT 'NOT_FOUND', 0, 0, 0, 0, 0, 0;\n"
        "  ELSE\n"
        "    SELECT id, reservation_id, amount INTO v_pay_id, v_pay_res, v_pay_amount\n"
        "      FROM payments WHERE user_id = p_user AND idempotency_key = p_key;\n"
        "    IF v_pay_id IS NOT NULL AND v_pay_res <> p_res THEN\n"
        "      ROLLBACK; SELECT 'IDEMPOTENCY_KEY_REUSED', 0, 0, 0, 0, 0, 0;\n"
        "    ELSEIF v_pay_id IS NOT NULL THEN\n"
        "      SELECT points INTO v_points FROM users WHERE id = p_user;\n"
        "      COMMIT; SELECT 'REPLAY', v_pay_id, v_pay_amount, v_points, v_seat, v_sched, v_concert;\n"
        "    ELSEIF v_status = 'CONFIRMED' THEN\n"
        "      ROLLBACK; SELECT 'ALREADY_PAID', 0, 0, 0, 0, 0, 0;\n"
        "    ELSEIF v_status <> 'PENDING' THEN\n"
        "      ROLLBACK; SELECT 'INVALID_STATE', 0, 0, 0, 0, 0, 0;\n"
        "    ELSEIF v_expired THEN\n"
        /* the sweeper has not reached it yet: expire it now */
        "      UPDATE reservations SET status = 'EXPIRED', live_seat_id = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = p_res;\n"
        "      UPDATE seats SET status = 'AVAILABLE', version = version + 1 WHERE id = v_seat;\n"
        "      UPDATE concert_schedules SET available_seats = available_seats + 1 WHERE id = v_sched;\n"
        "      CALL tk_emit('reservation.expired', p_res, p_user, v_seat, v_price);\n"
        "      COMMIT; SELECT 'HOLD_EXPIRED', 0, 0, 0, v_seat, v_sched, v_concert;\n"
        "    ELSE\n"
        "      SELECT points INTO v_points FROM users WHERE id = p_user FOR UPDATE;\n"
        "      IF v_points < v_price THEN\n"
        /* compensation: a failed payment releases the hold */
        "        UPDATE reservations SET status = 'CANCELED', live_seat_id = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = p_res;\n"
        "        UPDATE seats SET status = 'AVAILABLE', version = version + 1 WHERE id = v_seat;\n"
        "        UPDATE concert_schedules SET available_seats = available_seats + 1 WHERE id = v_sched;\n"
        "        CALL tk_emit('payment.failed', p_res, p_user, v_seat, v_price);\n"
        "        CALL tk_emit('reservation.canceled', p_res, p_user, v_seat, v_price);\n"
        "        COMMIT; SELECT 'INSUFFICIENT_POINTS', 0, v_price, v_points, v_seat, v_sched, v_concert;\n"
        "      ELSE\n"
        "        UPDATE users SET points = v_points - v_price WHERE id = p_user;\n"
        "        INSERT INTO point_history (user_id, amount, type, balance_after, ref_id)\n"
        "          VALUES (p_user, -v_price, 'PAY', v_points - v_price, p_res);\n"
        "        INSERT INTO payments (reservation_id, user_id, amount, idempotency_key, status)\n"
        "          VALUES (p_res, p_user, v_price, p_key, 'COMPLETED');\n"
        "        SET v_pay_id = LAST_INSERT_ID();\n"
        "        UPDATE reservations SET status = 'CONFIRMED', updated_at = UTC_TIMESTAMP(3) WHERE id = p_res;\n"
        "        UPDATE seats SET status = 'SOLD', version = version + 1 WHERE id = v_seat;\n"
        "        CALL tk_emit('payment.completed', p_res, p_user, v_seat, v_price);\n"
        "        CALL tk_emit('reservation.confirmed', p_res, p_user, v_seat, v_price);\n"
        "        COMMIT; SELECT 'OK', v_pay_id, v_price, v_points - v_price, v_seat, v_sched, v_concert;\n"
        "      END IF;\n"
        "    END IF;\n"
        "  END IF;\n"
        "END",
        NULL}},
    /* Scenario tables (ticketctl scenario, lib/scenario.c): a sandbox kept
     * apart from the product tables, reset by every scenario run. They
     * deliberately lack the product's protections so that the unprotected
     * strategy can really race: scn_reservations has NO unique key on
     * seat_id; its nullable live_seat_id is UNIQUE and is filled only by
     * the db-unique strategy (NULLs never collide). scn_seats.fence is the
     * highest fencing token the database has accepted for a seat
     * (redis-lock, Kleppmann 2016). scn_accounts.version backs the
     * optimistic point charge; scn_point_history the balance check. */
    {4, "scenario sandbox tables", {
        "CREATE TABLE IF NOT EXISTS scn_seats ("
        " id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
        " schedule_id BIGINT UNSIGNED NOT NULL DEFAULT 1,"
        " status ENUM('AVAILABLE','HELD') NOT NULL DEFAULT 'AVAILABLE',"
        " version INT UNSIGNED NOT NULL DEFAULT 0,"
        " fence BIGINT UNSIGNED NOT NULL DEFAULT 0,"
        " KEY ix_scn_seats_schedule_status (schedule_id, status)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS scn_reservations ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " seat_id BIGINT UNSIGNED NOT NULL,"
        " user_id BIGINT UNSIGNED NOT NULL,"
        " fence BIGINT UNSIGNED NOT NULL DEFAULT 0,"
        " live_seat_id BIGINT UNSIGNED NULL,"
        " created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " KEY ix_scn_reservations_seat (seat_id),"
        " UNIQUE KEY uk_scn_reservations_live_seat (live_seat_id)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS scn_accounts ("
        " id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
        " points BIGINT NOT NULL DEFAULT 0,"
        " version INT UNSIGNED NOT NULL DEFAULT 0"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS scn_point_history ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " account_id BIGINT UNSIGNED NOT NULL,"
        " amount BIGINT NOT NULL,"
        " balance_after BIGINT NOT NULL,"
        " KEY ix_scn_point_history_account (account_id, id)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        NULL}},
    /* AnomalyResult of DESIGN.md: one row per scored metrics window
     * (`ticketctl anomaly detect`). */
    {5, "anomaly results", {
        "CREATE TABLE IF NOT EXISTS anomaly_results ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " detected_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " window_start DATETIME NOT NULL,"
        " window_end DATETIME NOT NULL,"
        " metric VARCHAR(32) NOT NULL,"
        " value DOUBLE NOT NULL,"
        " score DOUBLE NOT NULL,"
        " features TEXT NOT NULL,"
        " verdict TINYINT(1) NOT NULL,"
        " KEY ix_anomaly_results_window (window_end),"
        " KEY ix_anomaly_results_verdict (verdict, window_end)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        NULL}},
    /* Lock strategies on the product tables (`serve --strategy`, issue 3):
     * seats.fence remembers the highest fencing token presented for the
     * seat (redis-lock; Kleppmann 2016), and tk_reserve_as is tk_reserve
     * with a guard mode in front of the same arbiter (the conditional
     * UPDATE of an AVAILABLE seat plus the UNIQUE live_seat_id):
     *   0 arbiter only            4 SELECT ... FOR UPDATE SKIP LOCKED
     *   1 optimistic (version = p_arg)   5 fenced (token p_arg)
     *   2 SELECT ... FOR UPDATE   6 unique: INSERT first, the UNIQUE key decides
     *   3 SELECT ... FOR UPDATE NOWAIT
     * Answers one row (code, reservation id, schedule, concert, price,
     * expires_at ms, created_at ms); code is OK, SEAT_TAKEN, NOT_FOUND,
     * SHOW_STARTED, CONFLICT (version moved), STALE (a newer token was
     * presented) or BUSY (SKIP LOCKED skipped the row); lock wait
     * timeouts/NOWAIT/deadlocks come back as MariaDB errors 1205/1213. */
    {6, "lock strategies on seats", {
        "ALTER TABLE seats ADD COLUMN IF NOT EXISTS fence BIGINT UNSIGNED NOT NULL DEFAULT 0",

        "DROP PROCEDURE IF EXISTS tk_reserve_as",
        "CREATE PROCEDURE tk_reserve_as(IN p_user BIGINT UNSIGNED, IN p_seat BIGINT UNSIGNED, IN p_ttl INT,\n"
        "                               IN p_mode INT, IN p_arg BIGINT UNSIGNED)\n"
        "BEGIN\n"
        "  DECLARE v_sched BIGINT UNSIGNED DEFAULT NULL;\n"
        "  DECLARE v_concert BIGINT UNSIGNED;\n"
        "  DECLARE v_price BIGINT;\n"
        "  DECLARE v_started INT;\n"
        "  DECLARE v_id BIGINT UNSIGNED;\n"
        "  DECLARE v_now DATETIME(3);\n"
        "  DECLARE v_status VARCHAR(12) DEFAULT NULL;\n"
        "  DECLARE v_code VARCHAR(16) DEFAULT 'OK';\n"
        "  DECLARE v_lwt BIGINT DEFAULT @@SESSION.innodb_lock_wait_timeout;\n"
        "  DECLARE v_n INT DEFAULT 0;\n"
        "  DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;\n"
        "  DECLARE EXIT HANDLER FOR SQLEXCEPTION\n"
        "    BEGIN SET SESSION innodb_lock_wait_timeout = v_lwt; ROLLBACK; RESIGNAL; END;\n"
        "  SET v_now = UTC_TIMESTAMP(3);\n"
        "  IF p_mode = 5 THEN\n"
        /* present the token first, on its own: a holder whose lease expired
         * finds a newer token here, or at its write below */
        "    UPDATE seats SET fence = p_arg WHERE id = p_seat AND fence < p_arg;\n"
        "    IF ROW_COUNT() <> 1 THEN SET v_code = 'STALE'; END IF;\n"
        "  END IF;\n"
        "  IF v_code = 'OK' THEN\n"
        "    START TRANSACTION;\n"
        "    IF p_mode = 2 THEN SELECT status INTO v_status FROM seats WHERE id = p_seat FOR UPDATE;\n"
        /* NOWAIT is not allowed in procedures: a zero lock wait is the same (error 1205 at once) */
        "    ELSEIF p_mode = 3 THEN\n"
        "      SET SESSION innodb_lock_wait_timeout = 0;\n"
        "      SELECT status INTO v_status FROM seats WHERE id = p_seat FOR UPDATE;\n"
        "      SET SESSION innodb_lock_wait_timeout = v_lwt;\n"
        "    ELSEIF p_mode = 4 THEN SELECT status INTO v_status FROM seats WHERE id = p_seat FOR UPDATE SKIP LOCKED;\n"
        "    ELSEIF p_mode = 6 THEN\n"
        "      SELECT schedule_id, price, status INTO v_sched, v_price, v_status FROM seats WHERE id = p_seat;\n"
        "      IF v_status = 'AVAILABLE' THEN\n"
        /* the UNIQUE live_seat_id decides: a duplicate is error 1062 */
        "        INSERT INTO reservations (user_id, seat_id, schedule_id, price, status, live_seat_id,\n"
        "                                  expires_at, created_at, updated_at)\n"
        "          VALUES (p_user, p_seat, v_sched, v_price, 'PENDING', p_seat,\n"
        "                  v_now + INTERVAL p_ttl SECOND, v_now, v_now);\n"
        "        SET v_id = LAST_INSERT_ID();\n"
        "      END IF;\n"
        "    END IF;\n"
        "    IF p_mode IN (2, 3, 4, 6) AND v_status IS NULL THEN\n"
        /* plain SELECT ... INTO: a consistent read (an EXISTS inside SET or
         * IF is a locking read here and would wait for the row we skipped) */
        "      SELECT COUNT(*) INTO v_n FROM seats WHERE id = p_seat;\n"
        "      SET v_code = IF(p_mode = 4 AND v_n > 0, 'BUSY', 'GONE');\n"
        "    ELSEIF p_mode IN (2, 3, 4, 6) AND v_status <> 'AVAILABLE' THEN\n"
        "      SET v_code = 'GONE';\n"
        "    END IF;\n"
        "  END IF;\n"
        "  IF v_code = 'OK' THEN\n"
        /* the arbiter, under every mode */
        "    UPDATE seats SET status = 'HELD', version = version + 1\n"
        "      WHERE id = p_seat AND status = 'AVAILABLE'\n"
        "        AND (p_mode <> 1 OR version = p_arg) AND (p_mode <> 5 OR fence = p_arg);\n"
        "    IF ROW_COUNT() <> 1 THEN\n"
        "      SET v_code = 'GONE';\n"
        "      IF p_mode = 1 THEN\n"
        "        SELECT COUNT(*) INTO v_n FROM seats WHERE id = p_seat AND status = 'AVAILABLE';\n"
        "        IF v_n > 0 THEN SET v_code = 'CONFLICT'; END IF;\n"
        "      ELSEIF p_mode = 5 THEN\n"
        "        SELECT COUNT(*) INTO v_n FROM seats WHERE id = p_seat AND fence <> p_arg;\n"
        "        IF v_n > 0 THEN SET v_code = 'STALE'; END IF;\n"
        "      END IF;\n"
        "    END IF;\n"
        "  END IF;\n"
        "  IF v_code = 'OK' THEN\n"
        "    SET v_sched = NULL;\n"
        "    SELECT s.schedule_id, s.price, cs.concert_id, cs.starts_at <= v_now\n"
        "      INTO v_sched, v_price, v_concert, v_started\n"
        "      FROM seats s JOIN concert_schedules cs ON cs.id = s.schedule_id WHERE s.id = p_seat;\n"
        "    IF v_sched IS NULL THEN SET v_code = 'NOT_FOUND';\n"
        "    ELSEIF v_started THEN SET v_code = 'SHOW_STARTED';\n"
        "    ELSE\n"
        "      IF p_mode <> 6 THEN\n"
        "        INSERT INTO reservations (user_id, seat_id, schedule_id, price, status, live_seat_id,\n"
        "                                  expires_at, created_at, updated_at)\n"
        "          VALUES (p_user, p_seat, v_sched, v_price, 'PENDING', p_seat,\n"
        "                  v_now + INTERVAL p_ttl SECOND, v_now, v_now);\n"
        "        SET v_id = LAST_INSERT_ID();\n"
        "      END IF;\n"
        "      UPDATE concert_schedules SET available_seats = available_seats - 1 WHERE id = v_sched;\n"
        "      CALL tk_emit('reservation.held', v_id, p_user, p_seat, v_price);\n"
        "    END IF;\n"
        "  END IF;\n"
        "  IF v_code = 'OK' THEN\n"
        "    COMMIT;\n"
        "    SELECT 'OK', v_id, v_sched, v_concert, v_price,\n"
        "           CAST(UNIX_TIMESTAMP(v_now + INTERVAL p_ttl SECOND) * 1000 AS SIGNED),\n"
        "           CAST(UNIX_TIMESTAMP(v_now) * 1000 AS SIGNED);\n"
        "  ELSE\n"
        "    ROLLBACK;\n"
        "    SELECT COUNT(*) INTO v_n FROM seats WHERE id = p_seat;\n"
        "    IF v_code IN ('GONE', 'STALE') AND v_n = 0 THEN\n"
        "      SET v_code = 'NOT_FOUND';\n"
        "    ELSEIF v_code = 'GONE' THEN SET v_code = 'SEAT_TAKEN';\n"
        "    END IF;\n"
        "    SELECT v_code, 0, 0, 0, 0, 0, 0;\n"
        "  END IF;\n"
        "END",
        NULL}},
    /* `ticketctl seed` resume (issue 5): per seeded table the data
     * configuration it was loaded with, and LOADING until its rows and its
     * indexes are in, then COMPLETE. A re-run keeps COMPLETE tables of the
     * same configuration and reloads the rest from scratch. */
    {7, "seed state", {
        "CREATE TABLE IF NOT EXISTS seed_state ("
        " table_name VARCHAR(64) NOT NULL PRIMARY KEY,"
        " config VARCHAR(512) NOT NULL,"
        " status ENUM('LOADING','COMPLETE') NOT NULL,"
        " rows_loaded BIGINT UNSIGNED NOT NULL DEFAULT 0,"
        " load_seconds DOUBLE NOT NULL DEFAULT 0,"
        " index_seconds DOUBLE NOT NULL DEFAULT 0,"
        " updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        NULL}},
    /* The MySQL-table waiting room (lib/queue.c, issue 6): the baseline the
     * reference test measured. One row per (sale, user); arrival order is
     * the AUTO_INCREMENT id; queue_ticks records each admission tick once,
     * with the running total of admissions (the next admission number:
     * entries are deleted when paid, so it cannot come from them). */
    {8, "waiting-room queue tables", {
        "CREATE TABLE IF NOT EXISTS queue_entries ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " schedule_id BIGINT UNSIGNED NOT NULL,"
        " user_id BIGINT UNSIGNED NOT NULL,"
        " status ENUM('WAITING','ADMITTED') NOT NULL DEFAULT 'WAITING',"
        " admitted_until_ms BIGINT NULL,"
        " admission_no BIGINT NULL,"
        " created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " UNIQUE KEY uk_queue_entries_user (schedule_id, user_id),"
        " KEY ix_queue_entries_line (schedule_id, status, id)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

        "CREATE TABLE IF NOT EXISTS queue_ticks ("
        " schedule_id BIGINT UNSIGNED NOT NULL,"
        " tick BIGINT NOT NULL,"
        " admitted INT NOT NULL,"
        " admitted_total BIGINT NOT NULL DEFAULT 0,"
        " created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
        " PRIMARY KEY (schedule_id, tick)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        NULL}},
    /* Leaner hot paths (issue 11): the same checks, locks and rows in fewer
     * statements, because under the 5,000-VU bench the stored procedures
     * were 57 % of MariaDB's CPU (perf: sp_head::execute) and each
     * statement pays open_tables, fix_fields and the optimizer again.
     *   tk_charge: one conditional UPDATE locks and changes the balance
     *     (was SELECT ... FOR UPDATE, then UPDATE); the rare refusals read
     *     the row afterwards to say why.
     *   tk_pay: the same for the debit (UPDATE ... WHERE points >= price;
     *     the CHECK points >= 0 stays the backstop), and the two events go
     *     to the outbox in one INSERT (was two CALL tk_emit).
     *   tk_hold: tk_reserve_as mode 0 (the arbiter only, the default
     *     strategies) without the other modes' branches, its event
     *     inline. The conditional UPDATE of an AVAILABLE seat stays the
     *     arbiter, live_seat_id UNIQUE the backstop.
     * Events keep tk_emit's shape exactly (TK_OUTBOX_ROW). */
#define TK_OUTBOX_ROW(ev, type, res, user, seat, amount)                                                      \
    "(" ev ", IF(" type " LIKE 'payment.%', 'ticketctl.payments', 'ticketctl.reservations'), " res ", " type     \
    ", JSON_OBJECT('event_id', " ev ", 'type', " type ", 'reservation_id', " res ", 'user_id', " user            \
    ", 'seat_id', " seat ", 'amount', " amount                                                                  \
    ", 'occurred_at', DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.%fZ')))"
    {9, "leaner hot-path procedures", {
        "DROP PROCEDURE IF EXISTS tk_charge",
        "CREATE PROCEDURE tk_charge(IN p_user BIGINT UNSIGNED, IN p_amount BIGINT, IN p_max BIGINT)\n"
        TK_CHARGE_BODY("", "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;\n",
                       "  START TRANSACTION;\n", "ROLLBACK;", "COMMIT;"),

        "DROP PROCEDURE IF EXISTS tk_hold",
        "CREATE PROCEDURE tk_hold(IN p_user BIGINT UNSIGNED, IN p_seat BIGINT UNSIGNED, IN p_ttl INT)\n"
        TK_HOLD_BODY("", "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;\n",
                     "  START TRANSACTION;\n", "ROLLBACK;", "COMMIT;"),

        "DROP PROCEDURE IF EXISTS tk_pay",
        "CREATE PROCEDURE tk_pay(IN p_user BIGINT UNSIGNED, IN p_res BIGINT UNSIGNED, IN p_key VARCHAR(64))\n"
        TK_PAY_BODY("", "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;\n",
                    "  START TRANSACTION;\n", "ROLLBACK;", "COMMIT;"),
        NULL}},
    /* Where Kafka put each event, so a broker that loses its log (the
     * embedded one after kill -9, or a real one after an unclean leader
     * election) can be detected and the lost tail re-published from the
     * outbox (lib/outbox.c). outbox_acked keeps the highest acknowledged
     * offset per partition. */
    {10, "outbox offsets for re-publishing what a broker lost", {
        "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS kpartition INT NULL,"
        " ADD COLUMN IF NOT EXISTS koffset BIGINT NULL",
        "CREATE INDEX IF NOT EXISTS ix_outbox_offset ON outbox (topic, kpartition, koffset)",
        "CREATE TABLE IF NOT EXISTS outbox_acked ("
        " topic VARCHAR(64) NOT NULL,"
        " kpartition INT NOT NULL,"
        " acked_offset BIGINT NOT NULL,"
        " updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),"
        " PRIMARY KEY (topic, kpartition)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        NULL}},
    /* The box office (issue 16, lib/admin.c, lib/catalog.c): a sale's
     * waiting-room settings shared by every instance, and the FULLTEXT
     * index of the keyword search over title and venue. Version 12 (11 is
     * left to the servercpu branch of the same session). */
    {12, "box office: sale settings, concert search index", {
        "CREATE TABLE IF NOT EXISTS sale_settings ("
        " schedule_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
        " opens_at DATETIME(3) NULL,"
        " active_users INT NULL,"
        " new_users_per_min INT NULL,"
        " updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE FULLTEXT INDEX IF NOT EXISTS ft_concerts_title_venue ON concerts (title, venue)",
        NULL}},
#define TK_ITEM_DECLS "  DECLARE v_errno INT DEFAULT 0;\n"
#define TK_ITEM_ON_ERROR                                                                                       \
    "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN\n"                                                          \
    "    GET DIAGNOSTICS CONDITION 1 v_errno = MYSQL_ERRNO;\n"                                                  \
    "    IF v_errno IN (1205, 1213) THEN RESIGNAL; END IF;\n"                                                  \
    "    ROLLBACK TO SAVEPOINT tk_item;\n"                                                                      \
    "    SELECT 'SQLERR', v_errno, 0, 0, 0, 0, 0;\n"                                                            \
    "  END;\n"
/* A batch procedure: items a JSON array of arrays, each the 3 arguments of
 * one CALL item(...) and optionally the item's request id, which the
 * item's events carry (@tk_rid, read by the outbox's request_id of
 * migration 14; always cleared after), all in one transaction. */
#define TK_BATCH_PROC(name, item)                                                                              \
    "CREATE PROCEDURE " name "(IN p_items TEXT)\n"                                                             \
    "BEGIN\n"                                                                                                  \
    "  DECLARE i INT DEFAULT 0;\n"                                                                             \
    "  DECLARE n INT DEFAULT JSON_LENGTH(p_items);\n"                                                          \
    "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN SET @tk_rid = NULL; ROLLBACK; RESIGNAL; END;\n"             \
    "  START TRANSACTION;\n"                                                                                   \
    "  WHILE i < n DO\n"                                                                                       \
    "    SET @tk_rid = JSON_VALUE(p_items, CONCAT('$[', i, '][3]'));\n"                                        \
    "    CALL " item "(JSON_VALUE(p_items, CONCAT('$[', i, '][0]')),\n"                                        \
    "                  JSON_VALUE(p_items, CONCAT('$[', i, '][1]')),\n"                                        \
    "                  JSON_VALUE(p_items, CONCAT('$[', i, '][2]')));\n"                                       \
    "    SET i = i + 1;\n"                                                                                     \
    "  END WHILE;\n"                                                                                           \
    "  SET @tk_rid = NULL;\n"                                                                                  \
    "  COMMIT;\n"                                                                                              \
    "END"
    /* Batched payments, holds and charges (serve --db-batch, issue 11.3):
     * tk_pay_batch runs the payments of several users in one CALL and one
     * commit, tk_hold_batch their holds ([user_id, seat_id, ttl_s] items,
     * tk_hold_item: tk_hold under the savepoint), tk_charge_batch their
     * point charges ([user_id, amount, max balance], tk_charge_item). Each item is
     * tk_pay_item: tk_pay's logic and events unchanged, under the savepoint
     * tk_item instead of a transaction of its own, so a refused item rolls
     * back to it and never fails the others. An SQL error of one item (a
     * duplicate key, a CHECK) rolls back to the savepoint and answers
     * 'SQLERR', errno: the server runs that item again alone
     * (lib/storebatch.c). A deadlock or lock wait timeout (1213, 1205) ends
     * the whole batch (rolled back), and the server runs every item alone.
     * Items: a JSON array of [user_id, reservation_id, idempotency_key].
     * One result row per item, in order, of tk_pay's shape. */
    {13, "batched payments, holds and charges", {
        "DROP PROCEDURE IF EXISTS tk_pay_item",
        "CREATE PROCEDURE tk_pay_item(IN p_user BIGINT UNSIGNED, IN p_res BIGINT UNSIGNED, IN p_key VARCHAR(64))\n"
        TK_PAY_BODY(TK_ITEM_DECLS, TK_ITEM_ON_ERROR, "  SAVEPOINT tk_item;\n", "ROLLBACK TO SAVEPOINT tk_item;", ""),
        "DROP PROCEDURE IF EXISTS tk_pay_batch",
        TK_BATCH_PROC("tk_pay_batch", "tk_pay_item"),
        "DROP PROCEDURE IF EXISTS tk_hold_item",
        "CREATE PROCEDURE tk_hold_item(IN p_user BIGINT UNSIGNED, IN p_seat BIGINT UNSIGNED, IN p_ttl INT)\n"
        TK_HOLD_BODY(TK_ITEM_DECLS, TK_ITEM_ON_ERROR, "  SAVEPOINT tk_item;\n", "ROLLBACK TO SAVEPOINT tk_item;", ""),
        "DROP PROCEDURE IF EXISTS tk_hold_batch",
        TK_BATCH_PROC("tk_hold_batch", "tk_hold_item"),
        "DROP PROCEDURE IF EXISTS tk_charge_item",
        "CREATE PROCEDURE tk_charge_item(IN p_user BIGINT UNSIGNED, IN p_amount BIGINT, IN p_max BIGINT)\n"
        TK_CHARGE_BODY(TK_ITEM_DECLS, TK_ITEM_ON_ERROR, "  SAVEPOINT tk_item;\n", "ROLLBACK TO SAVEPOINT tk_item;", ""),
        "DROP PROCEDURE IF EXISTS tk_charge_batch",
        TK_BATCH_PROC("tk_charge_batch", "tk_charge_item"),
        NULL}},
#undef TK_OUTBOX_ROW
#undef TK_PAY_BODY
#undef TK_HOLD_BODY
#undef TK_CHARGE_BODY
#undef TK_ITEM_DECLS
#undef TK_ITEM_ON_ERROR
#undef TK_BATCH_PROC
    /* The request id in outbox events (issue 15.8). The events are written
     * inside the procedures, so the id travels as the session variable
     * @tk_rid: a BEFORE INSERT trigger copies it into outbox.request_id
     * unless the statement names one, with no change to the procedures.
     * (Not a DEFAULT (@tk_rid): MariaDB 10.11 evaluates a user variable in
     * a column default through a cached item, so a session that never set
     * it got another session's value. Tried: wrong ids.) Each hot-path
     * procedure gets a wrapper NAME_rid(p_rid, ...) that sets @tk_rid,
     * calls NAME and clears it again, on success and on error alike, so
     * the id never outlives the call (a worker's connection serves many
     * requests, and other SQL on it writes events too); tk_charge writes
     * none and has no wrapper. The store calls the
     * wrapper when the server gave it the request's id
     * (tk_store_set_request_id): still one statement and one round trip,
     * no multi-statements. The relay (lib/outbox.c) sends it as the Kafka
     * header x-request-id and as the event's "request_id" field. The
     * trigger needs the TRIGGER privilege and, with the binary log on,
     * SUPER or log_bin_trust_function_creators, like the procedures. */
#define TK_RID_WRAPPER(NAME, PARAMS, ARGS)                                                                      \
    "DROP PROCEDURE IF EXISTS " NAME "_rid",                                                                      \
        "CREATE PROCEDURE " NAME "_rid(IN p_rid VARCHAR(64), " PARAMS ")\n"                                       \
        "BEGIN\n"                                                                                                 \
        "  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN SET @tk_rid = NULL; RESIGNAL; END;\n"                      \
        "  SET @tk_rid = p_rid;\n"                                                                                \
        "  CALL " NAME "(" ARGS ");\n"                                                                            \
        "  SET @tk_rid = NULL;\n"                                                                                 \
        "END"
    {14, "request id in outbox events", {
        "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS request_id VARCHAR(64) NULL",
        "DROP TRIGGER IF EXISTS tk_outbox_request_id",
        "CREATE TRIGGER tk_outbox_request_id BEFORE INSERT ON outbox FOR EACH ROW\n"
        "  SET NEW.request_id = COALESCE(NEW.request_id, @tk_rid)",
        TK_RID_WRAPPER("tk_hold", "IN p_user BIGINT UNSIGNED, IN p_seat BIGINT UNSIGNED, IN p_ttl INT",
                       "p_user, p_seat, p_ttl"),
        TK_RID_WRAPPER("tk_reserve_as",
                       "IN p_user BIGINT UNSIGNED, IN p_seat BIGINT UNSIGNED, IN p_ttl INT, IN p_mode INT, "
                       "IN p_arg BIGINT UNSIGNED",
                       "p_user, p_seat, p_ttl, p_mode, p_arg"),
        TK_RID_WRAPPER("tk_pay", "IN p_user BIGINT UNSIGNED, IN p_res BIGINT UNSIGNED, IN p_key VARCHAR(64)",
                       "p_user, p_res, p_key"),
        TK_RID_WRAPPER("tk_emit",
                       "IN p_type VARCHAR(48), IN p_res BIGINT UNSIGNED, IN p_user BIGINT UNSIGNED, "
                       "IN p_seat BIGINT UNSIGNED, IN p_amount BIGINT",
                       "p_type, p_res, p_user, p_seat, p_amount"),
        NULL}},
#undef TK_RID_WRAPPER
    /* The search index (issue 16.3, lib/catalog.c): "bookable" and the next
     * show kept on the concert row, and concert_words, one row per distinct
     * lower-cased word of a concert's title and venue carrying the concert's
     * sort key, so that a search walks ix_concert_words_rank in result order
     * from its rarest word and checks the others by primary-key lookups.
     * search_terms holds each word's document frequency (how many concerts
     * have it), which picks that rarest word and expands a prefix, and for
     * up to 128 frequent words a bit: every concert_words row carries the
     * bits of all its concert's words (sig0: bits 0-63, sig1: 64-127), so a
     * frequent word is checked inside the index walk, without a lookup.
     * The sort key changes only when a schedule crosses sold-out, is added,
     * removed or moved (the concert_schedules triggers), when admin changes
     * a concert (lib/admin.c), or when time passes rekey_at (the next show
     * starts, or the sale opens): tk_catalog_rekey_due() re-keys those.
     * next_show_at is '9999-12-31' when there is none (it sorts last).
     * Triggers do nothing while @tk_seed_load is set: seed writes the rows
     * in bulk itself. Version 15 (13 and 14 are other branches'). */
    {15, "search index: sort key on concerts, concert words, term frequencies", {
        "ALTER TABLE concerts ADD COLUMN IF NOT EXISTS bookable TINYINT NOT NULL DEFAULT 0,"
        " ADD COLUMN IF NOT EXISTS next_show_at DATETIME(3) NOT NULL DEFAULT '9999-12-31 00:00:00',"
        " ADD COLUMN IF NOT EXISTS rekey_at DATETIME(3) NOT NULL DEFAULT '9999-12-31 00:00:00'",
        "CREATE INDEX IF NOT EXISTS ix_concerts_rekey ON concerts (rekey_at)",
        /* migration 12's FULLTEXT index: the word index replaces it */
        "DROP INDEX IF EXISTS ft_concerts_title_venue ON concerts",
        "CREATE TABLE IF NOT EXISTS concert_words ("
        " concert_id BIGINT UNSIGNED NOT NULL,"
        " word VARCHAR(50) NOT NULL,"
        " bookable TINYINT NOT NULL DEFAULT 0,"
        " next_show_at DATETIME(3) NOT NULL DEFAULT '9999-12-31 00:00:00',"
        " sig0 BIGINT UNSIGNED NOT NULL DEFAULT 0,"
        " sig1 BIGINT UNSIGNED NOT NULL DEFAULT 0,"
        " PRIMARY KEY (concert_id, word),"
        " KEY ix_concert_words_rank (word, bookable DESC, next_show_at, concert_id, sig0, sig1)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE IF NOT EXISTS search_terms ("
        " word VARCHAR(50) NOT NULL PRIMARY KEY,"
        " concerts INT UNSIGNED NOT NULL DEFAULT 0,"
        " bit SMALLINT NULL"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE OR REPLACE TRIGGER tk_concert_words_ai AFTER INSERT ON concert_words FOR EACH ROW\n"
        "  IF @tk_seed_load IS NULL THEN\n"
        "    INSERT INTO search_terms (word, concerts) VALUES (NEW.word, 1)\n"
        "      ON DUPLICATE KEY UPDATE concerts = concerts + 1;\n"
        "  END IF",
        "CREATE OR REPLACE TRIGGER tk_concert_words_ad AFTER DELETE ON concert_words FOR EACH ROW\n"
        "  IF @tk_seed_load IS NULL THEN\n"
        "    UPDATE search_terms SET concerts = IF(concerts > 0, concerts - 1, 0) WHERE word = OLD.word;\n"
        "  END IF",
        "CREATE OR REPLACE PROCEDURE tk_concert_rekey(IN p_concert BIGINT UNSIGNED)\n"
        "BEGIN\n"
        "  DECLARE v_now DATETIME(3) DEFAULT UTC_TIMESTAMP(3);\n"
        "  UPDATE concerts c SET\n"
        "    c.next_show_at = COALESCE((SELECT MIN(cs.starts_at) FROM concert_schedules cs\n"
        "      WHERE cs.concert_id = c.id AND cs.starts_at > v_now), '9999-12-31 00:00:00'),\n"
        "    c.bookable = c.sale_opens_at <= v_now AND EXISTS (SELECT 1 FROM concert_schedules cs\n"
        "      WHERE cs.concert_id = c.id AND cs.starts_at > v_now AND cs.available_seats > 0),\n"
        "    c.rekey_at = LEAST(c.next_show_at, IF(c.sale_opens_at > v_now, c.sale_opens_at, '9999-12-31 00:00:00'))\n"
        "    WHERE c.id = p_concert;\n"
        "  UPDATE concert_words w JOIN concerts c ON c.id = w.concert_id\n"
        "    SET w.bookable = c.bookable, w.next_show_at = c.next_show_at\n"
        "    WHERE w.concert_id = p_concert AND (w.bookable <> c.bookable OR w.next_show_at <> c.next_show_at);\n"
        "END",
        "CREATE OR REPLACE TRIGGER tk_schedules_rekey_ai AFTER INSERT ON concert_schedules FOR EACH ROW\n"
        "  IF @tk_seed_load IS NULL THEN CALL tk_concert_rekey(NEW.concert_id); END IF",
        "CREATE OR REPLACE TRIGGER tk_schedules_rekey_ad AFTER DELETE ON concert_schedules FOR EACH ROW\n"
        "  IF @tk_seed_load IS NULL THEN CALL tk_concert_rekey(OLD.concert_id); END IF",
        /* the hot path's available_seats +-1 passes here: only a crossing of 0 does work */
        "CREATE OR REPLACE TRIGGER tk_schedules_rekey_au AFTER UPDATE ON concert_schedules FOR EACH ROW\n"
        "  IF ((OLD.available_seats > 0) <> (NEW.available_seats > 0) OR OLD.starts_at <> NEW.starts_at\n"
        "      OR OLD.concert_id <> NEW.concert_id) AND @tk_seed_load IS NULL THEN\n"
        "    CALL tk_concert_rekey(NEW.concert_id);\n"
        "    IF OLD.concert_id <> NEW.concert_id THEN CALL tk_concert_rekey(OLD.concert_id); END IF;\n"
        "  END IF",
        /* concerts from before this migration: their words (the split of tk_catalog_words, by
         * REGEXP_REPLACE into a JSON array; no bits), then their sort keys, set-based */
        "INSERT IGNORE INTO concert_words (concert_id, word) SELECT c.id, LOWER(LEFT(j.w, 50)) FROM concerts c,"
        " JSON_TABLE(CONCAT('[\"', REGEXP_REPLACE(CONCAT(c.title, ' ', c.venue),"
        " '[^A-Za-z0-9\\\\x{80}-\\\\x{10FFFF}]+', '\",\"'), '\"]'), '$[*]' COLUMNS (w VARCHAR(200) PATH '$')) j"
        " WHERE j.w <> ''",
        "UPDATE concerts c SET"
        " c.next_show_at = COALESCE((SELECT MIN(cs.starts_at) FROM concert_schedules cs"
        " WHERE cs.concert_id = c.id AND cs.starts_at > UTC_TIMESTAMP(3)), '9999-12-31 00:00:00'),"
        " c.bookable = c.sale_opens_at <= UTC_TIMESTAMP(3) AND EXISTS (SELECT 1 FROM concert_schedules cs"
        " WHERE cs.concert_id = c.id AND cs.starts_at > UTC_TIMESTAMP(3) AND cs.available_seats > 0),"
        " c.rekey_at = LEAST(c.next_show_at, IF(c.sale_opens_at > UTC_TIMESTAMP(3), c.sale_opens_at,"
        " '9999-12-31 00:00:00'))",
        "UPDATE concert_words w JOIN concerts c ON c.id = w.concert_id"
        " SET w.bookable = c.bookable, w.next_show_at = c.next_show_at",
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
    my_bool on = 1;
    if (tk_mysql_url_apply(db, &u) != 0) { /* connect timeout, TLS (backend.c) */
        tk_err(err, errlen, "MariaDB client refused the URL's TLS options: %s", mysql_error(db));
        mysql_close(db);
        return NULL;
    }
    mysql_optionsv(db, MYSQL_OPT_LOCAL_INFILE, &on);
    mysql_optionsv(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(db, MYSQL_INIT_COMMAND,
                   "SET SESSION tx_isolation = 'READ-COMMITTED', time_zone = '+00:00'");
    /* Connector/C takes the Unix socket only for host "localhost" (or NULL);
     * any other host, 127.0.0.1 included, means TCP */
    const char *sock = u.socket[0] ? u.socket : NULL;
    if (!mysql_real_connect(db, sock ? "localhost" : u.host, u.user, u.pass, u.db, u.port, sock,
                            CLIENT_FOUND_ROWS | CLIENT_MULTI_RESULTS)) {
        if (sock)
            tk_err(err, errlen, "cannot connect to MariaDB over %s: %s", sock, mysql_error(db));
        else
            tk_err(err, errlen, "cannot connect to MariaDB at %s:%u: %s", u.host, u.port, mysql_error(db));
        mysql_close(db);
        return NULL;
    }
    if (tk_mysql_url_verify(db, &u, err, errlen) != 0) {
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
