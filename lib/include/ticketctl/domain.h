/* The reservation lifecycle of DESIGN.md as an explicit state machine.
 *
 *   PENDING --pay--> CONFIRMED --cancel--> CANCELED
 *   PENDING --cancel--> CANCELED
 *   PENDING --expire--> EXPIRED      (hold not paid in time)
 *   PENDING --pay_failed--> CANCELED (compensation: the hold is released)
 *
 * The store consults it before every transition; the database rows are
 * locked while it does, so the check and the write see the same state. */
#ifndef TICKETCTL_DOMAIN_H
#define TICKETCTL_DOMAIN_H

typedef enum tk_res_state {
    TK_RES_INVALID = -1,
    TK_RES_PENDING = 0,
    TK_RES_CONFIRMED,
    TK_RES_CANCELED,
    TK_RES_EXPIRED,
} tk_res_state;

typedef enum tk_res_event {
    TK_EV_PAY,
    TK_EV_CANCEL,
    TK_EV_EXPIRE,
    TK_EV_PAY_FAILED,
} tk_res_event;

/* The state after `ev` in state `s`, or TK_RES_INVALID if not allowed. */
tk_res_state tk_res_next(tk_res_state s, tk_res_event ev);

/* "PENDING" <-> TK_RES_PENDING ...; unknown names give TK_RES_INVALID,
 * invalid states give "INVALID". Names are static storage. */
tk_res_state tk_res_parse(const char *name);
const char *tk_res_name(tk_res_state s);

/* Whether a reservation in state s holds its seat (a "live" reservation). */
int tk_res_is_live(tk_res_state s);

#endif
