/* Batched store calls (serve --db-batch, issue 11.3): the payments, holds
 * or point charges of several users in one round trip and one commit, each under its
 * own savepoint with its own answer (procedures tk_pay_batch and
 * tk_hold_batch, tk_charge_batch, migration 13). */
#ifndef TICKETCTL_STOREBATCH_H
#define TICKETCTL_STOREBATCH_H

#include "ticketctl/store.h"

/* The most items of one batch (serve --db-batch K caps K here). */
#define TK_DB_BATCH_MAX 32

/* One payment of a batch: the request (user_id, reservation_id,
 * idem_key: 1..64 visible ASCII bytes) and its answer (rc, pay, res as
 * tk_store_pay gives them; on a refusal code/msg as tk_store_errcode/
 * tk_store_errmsg would say). */
typedef struct tk_pay_item {
    uint64_t user_id, reservation_id;
    char idem_key[80];
    tk_rc rc;
    tk_payment pay;
    tk_reservation res;
    char code[32];
    char msg[256];
    char request_id[65]; /* the request's X-Request-Id for its events (migration 14), "" for none */
} tk_pay_item;

/* Pay items[0..n-1] (1 <= n <= TK_DB_BATCH_MAX) on s: one CALL
 * tk_pay_batch, one commit, each item under its own savepoint, so one
 * refused item (insufficient points, hold expired, ...) changes nothing and
 * never fails the others; an idempotency key used twice in one batch pays
 * once (the second is a replay, or IDEMPOTENCY_KEY_REUSED for another
 * reservation). n == 1 is exactly tk_store_pay. Fallbacks: an item whose
 * SQL failed (a duplicate key, a CHECK) is run again alone after the
 * batch; a deadlock or lock wait timeout of the batch (rolled back whole)
 * runs every item alone. A connection error answers every item
 * TK_EBACKEND (as tk_store_pay would). Fills each item's answer; returns
 * the number of items that went through the batch (0 when it fell back). */
int tk_store_pay_batch(tk_store *s, tk_pay_item *items, int n);

/* One hold of a batch: user_id holds seat_id for ttl_s seconds; the
 * answer as tk_store_reserve (the database arbiter alone: no Redis step,
 * no lock strategy). */
typedef struct tk_hold_item {
    uint64_t user_id, seat_id;
    int ttl_s;
    int redis_held; /* the caller's: a Redis hold was taken in front of it (strategy.h) */
    uint64_t gate_schedule_id; /* the caller's: the seat's schedule when the gate read it, else 0
                                * (the hold keys' hash tag on a Redis Cluster, hold.h) */
    tk_rc rc;
    tk_reservation res;
    char code[32];
    char msg[256];
    char request_id[65]; /* as tk_pay_item's */
} tk_hold_item;

/* Hold items[0..n-1] on s in one CALL tk_hold_batch, one commit, a
 * savepoint each: of two items for one seat (in one batch or in two racing
 * batches) exactly one holds it, the other is SEAT_TAKEN. n == 1 is exactly
 * tk_store_reserve; the fallbacks and the return as tk_store_pay_batch. */
int tk_store_hold_batch(tk_store *s, tk_hold_item *items, int n);

/* One point charge of a batch: amount (1..TK_CHARGE_MAX) points to
 * user_id; the answer as tk_store_points_charge (balance, history_id). */
typedef struct tk_charge_item {
    uint64_t user_id;
    int64_t amount;
    tk_rc rc;
    int64_t balance;
    uint64_t history_id;
    char code[32];
    char msg[256];
    char request_id[65]; /* as tk_pay_item's (a charge writes no event) */
} tk_charge_item;

/* Charge items[0..n-1] on s in one CALL tk_charge_batch, one commit, a
 * savepoint each (two charges of one user in one batch both count, each
 * checked against TK_BALANCE_MAX in turn). n == 1 is exactly
 * tk_store_points_charge; the fallbacks and the return as
 * tk_store_pay_batch. */
int tk_store_charge_batch(tk_store *s, tk_charge_item *items, int n);

#endif
