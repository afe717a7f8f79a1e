/* The reservation state machine (see domain.h): a transition table. */
#include "ticketctl/domain.h"

#include <string.h>

static const char *const names[] = {"PENDING", "CONFIRMED", "CANCELED", "EXPIRED"};

/* next[state][event] */
static const tk_res_state next[4][4] = {
    [TK_RES_PENDING] = {[TK_EV_PAY] = TK_RES_CONFIRMED, [TK_EV_CANCEL] = TK_RES_CANCELED,
                        [TK_EV_EXPIRE] = TK_RES_EXPIRED, [TK_EV_PAY_FAILED] = TK_RES_CANCELED},
    [TK_RES_CONFIRMED] = {[TK_EV_PAY] = TK_RES_INVALID, [TK_EV_CANCEL] = TK_RES_CANCELED,
                          [TK_EV_EXPIRE] = TK_RES_INVALID, [TK_EV_PAY_FAILED] = TK_RES_INVALID},
    [TK_RES_CANCELED] = {TK_RES_INVALID, TK_RES_INVALID, TK_RES_INVALID, TK_RES_INVALID},
    [TK_RES_EXPIRED] = {TK_RES_INVALID, TK_RES_INVALID, TK_RES_INVALID, TK_RES_INVALID},
};

tk_res_state tk_res_next(tk_res_state s, tk_res_event ev)
{
    if (s < TK_RES_PENDING || s > TK_RES_EXPIRED || ev < TK_EV_PAY || ev > TK_EV_PAY_FAILED)
        return TK_RES_INVALID;
    return next[s][ev];
}

tk_res_state tk_res_parse(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, names[i]))
            return (tk_res_state)i;
    return TK_RES_INVALID;
}

const char *tk_res_name(tk_res_state s)
{
    return s >= TK_RES_PENDING && s <= TK_RES_EXPIRED ? names[s] : "INVALID";
}

int tk_res_is_live(tk_res_state s) { return s == TK_RES_PENDING || s == TK_RES_CONFIRMED; }
