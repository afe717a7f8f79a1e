/* The reservation state machine: every (state, event) pair against the
 * lifecycle written in domain.h, names both ways, and which states are live. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ticketctl/domain.h"

static const tk_res_state states[] = {TK_RES_PENDING, TK_RES_CONFIRMED, TK_RES_CANCELED, TK_RES_EXPIRED};
static const tk_res_event events[] = {TK_EV_PAY, TK_EV_CANCEL, TK_EV_EXPIRE, TK_EV_PAY_FAILED};
#define NS (sizeof states / sizeof states[0])
#define NE (sizeof events / sizeof events[0])

/* The lifecycle of domain.h, written out independently of the table in
 * domain.c: one row per allowed transition; every other pair is invalid. */
static const struct {
    tk_res_state from;
    tk_res_event ev;
    tk_res_state to;
} allowed[] = {
    {TK_RES_PENDING, TK_EV_PAY, TK_RES_CONFIRMED},
    {TK_RES_PENDING, TK_EV_CANCEL, TK_RES_CANCELED},
    {TK_RES_PENDING, TK_EV_PAY_FAILED, TK_RES_CANCELED},
    {TK_RES_PENDING, TK_EV_EXPIRE, TK_RES_EXPIRED},
    {TK_RES_CONFIRMED, TK_EV_CANCEL, TK_RES_CANCELED},
};

static tk_res_state expected(tk_res_state s, tk_res_event ev)
{
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i].from == s && allowed[i].ev == ev)
            return allowed[i].to;
    return TK_RES_INVALID;
}

static void test_every_pair(void **state)
{
    (void)state;
    int valid = 0;
    for (size_t i = 0; i < NS; i++)
        for (size_t k = 0; k < NE; k++) {
            tk_res_state want = expected(states[i], events[k]);
            tk_res_state got = tk_res_next(states[i], events[k]);
            if (got != want)
                print_error("%s + event %d: got %s, want %s\n", tk_res_name(states[i]), (int)events[k],
                            tk_res_name(got), tk_res_name(want));
            assert_int_equal(got, want);
            valid += got != TK_RES_INVALID;
        }
    assert_int_equal(valid, 5); /* exactly the five arrows of the diagram */
}

/* Spelled out too, so a failure names the rule that broke. */
static void test_lifecycle_rules(void **state)
{
    (void)state;
    assert_int_equal(tk_res_next(TK_RES_PENDING, TK_EV_PAY), TK_RES_CONFIRMED);
    assert_int_equal(tk_res_next(TK_RES_PENDING, TK_EV_CANCEL), TK_RES_CANCELED);
    assert_int_equal(tk_res_next(TK_RES_PENDING, TK_EV_PAY_FAILED), TK_RES_CANCELED);
    assert_int_equal(tk_res_next(TK_RES_PENDING, TK_EV_EXPIRE), TK_RES_EXPIRED);

    /* a confirmed reservation can only be canceled (refund): no double pay,
     * no expiry after payment, no compensation after payment */
    assert_int_equal(tk_res_next(TK_RES_CONFIRMED, TK_EV_CANCEL), TK_RES_CANCELED);
    assert_int_equal(tk_res_next(TK_RES_CONFIRMED, TK_EV_PAY), TK_RES_INVALID);
    assert_int_equal(tk_res_next(TK_RES_CONFIRMED, TK_EV_EXPIRE), TK_RES_INVALID);
    assert_int_equal(tk_res_next(TK_RES_CONFIRMED, TK_EV_PAY_FAILED), TK_RES_INVALID);

    /* terminal states accept nothing (in particular, never back to a live state) */
    for (size_t k = 0; k < NE; k++) {
        assert_int_equal(tk_res_next(TK_RES_CANCELED, events[k]), TK_RES_INVALID);
        assert_int_equal(tk_res_next(TK_RES_EXPIRED, events[k]), TK_RES_INVALID);
    }
}

/* No sequence of events leaves a terminal state or revisits PENDING. */
static void test_paths(void **state)
{
    (void)state;
    for (size_t a = 0; a < NE; a++)
        for (size_t b = 0; b < NE; b++)
            for (size_t c = 0; c < NE; c++) {
                tk_res_event seq[3] = {events[a], events[b], events[c]};
                tk_res_state s = TK_RES_PENDING;
                for (int i = 0; i < 3; i++) {
                    tk_res_state n = tk_res_next(s, seq[i]);
                    if (n == TK_RES_INVALID)
                        break;
                    assert_int_not_equal(n, TK_RES_PENDING);
                    assert_true(s != TK_RES_CANCELED && s != TK_RES_EXPIRED);
                    s = n;
                }
            }
}

static void test_out_of_range(void **state)
{
    (void)state;
    for (size_t k = 0; k < NE; k++) {
        assert_int_equal(tk_res_next(TK_RES_INVALID, events[k]), TK_RES_INVALID);
        assert_int_equal(tk_res_next((tk_res_state)4, events[k]), TK_RES_INVALID);
        assert_int_equal(tk_res_next((tk_res_state)-7, events[k]), TK_RES_INVALID);
        assert_int_equal(tk_res_next((tk_res_state)1000, events[k]), TK_RES_INVALID);
    }
    for (size_t i = 0; i < NS; i++) {
        assert_int_equal(tk_res_next(states[i], (tk_res_event)4), TK_RES_INVALID);
        assert_int_equal(tk_res_next(states[i], (tk_res_event)-1), TK_RES_INVALID);
        assert_int_equal(tk_res_next(states[i], (tk_res_event)99), TK_RES_INVALID);
    }
}

static void test_names(void **state)
{
    (void)state;
    static const char *const want[] = {"PENDING", "CONFIRMED", "CANCELED", "EXPIRED"};
    for (size_t i = 0; i < NS; i++) {
        assert_string_equal(tk_res_name(states[i]), want[i]);
        assert_int_equal(tk_res_parse(want[i]), states[i]);
        assert_int_equal(tk_res_parse(tk_res_name(states[i])), states[i]);
    }
    assert_string_equal(tk_res_name(TK_RES_INVALID), "INVALID");
    assert_string_equal(tk_res_name((tk_res_state)4), "INVALID");
    assert_string_equal(tk_res_name((tk_res_state)-2), "INVALID");
    assert_string_equal(tk_res_name((tk_res_state)12345), "INVALID");
}

static void test_parse_unknown(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "pending", "Pending", "PENDING ", " PENDING", "PEND", "PENDINGX", "CANCELLED", "INVALID",
        "PAID", "CONFIRMED\n", "EXPIRE",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("parse(\"%s\")\n", bad[i]);
        assert_int_equal(tk_res_parse(bad[i]), TK_RES_INVALID);
    }
    assert_int_equal(tk_res_parse(NULL), TK_RES_INVALID);
}

static void test_is_live(void **state)
{
    (void)state;
    assert_true(tk_res_is_live(TK_RES_PENDING));
    assert_true(tk_res_is_live(TK_RES_CONFIRMED));
    assert_false(tk_res_is_live(TK_RES_CANCELED));
    assert_false(tk_res_is_live(TK_RES_EXPIRED));
    assert_false(tk_res_is_live(TK_RES_INVALID));
    assert_false(tk_res_is_live((tk_res_state)4));
    /* every transition out of a live state into a non-live one releases the
     * seat; pay keeps it held */
    assert_true(tk_res_is_live(tk_res_next(TK_RES_PENDING, TK_EV_PAY)));
    assert_false(tk_res_is_live(tk_res_next(TK_RES_PENDING, TK_EV_EXPIRE)));
    assert_false(tk_res_is_live(tk_res_next(TK_RES_PENDING, TK_EV_PAY_FAILED)));
    assert_false(tk_res_is_live(tk_res_next(TK_RES_CONFIRMED, TK_EV_CANCEL)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),   cmocka_unit_test(test_lifecycle_rules),
        cmocka_unit_test(test_paths),        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_names),        cmocka_unit_test(test_parse_unknown),
        cmocka_unit_test(test_is_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
