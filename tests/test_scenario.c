/* Unit tests of scenario files: the shipped files parse, and every kind of
 * mistake is refused with a message naming the key and the reason. No
 * backend needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ticketctl/scenario.h"
#include "ticketctl/strategy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* scenarios/ next to tests/, found from this file's path */
static void scenario_path(char *out, size_t len, const char *name)
{
    const char *slash = strrchr(__FILE__, '/');
    int dl = slash ? (int)(slash - __FILE__) : 1;
    snprintf(out, len, "%.*s/../scenarios/%s.json", dl, slash ? __FILE__ : ".", name);
}

static void test_shipped_files_parse(void **state)
{
    (void)state;
    static const char *const names[] = {"hot-seat-500", "hot-seat-10k", "flash-sale", "point-charge-race",
                                        "lease-expiry"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024], err[512] = "";
        scenario_path(path, sizeof path, names[i]);
        tk_scenario *sc = tk_scenario_load(path, err, sizeof err);
        if (!sc)
            fprintf(stderr, "%s\n", err);
        assert_non_null(sc);
        assert_string_equal(tk_scenario_name(sc), names[i]);
        assert_true(tk_scenario_nstrategies(sc) >= 1);
        tk_scenario_free(sc);
    }
    char path[1024], line[1024];
    scenario_path(path, sizeof path, "hot-seat-10k");
    assert_int_equal(tk_scenario_summary(path, line, sizeof line), 0);
    assert_non_null(strstr(line, "hot-seat-10k"));
    assert_non_null(strstr(line, "10000 users"));
}

static const char good[] = "{\"name\":\"t\",\"kind\":\"seats\",\"data\":{\"seats\":2},"
                           "\"actors\":[{\"count\":3,\"tries\":2}],\"strategies\":[\"none\",\"redis-atomic\"],"
                           "\"invariants\":[\"no_double_booking\",{\"name\":\"within_ms\",\"ms\":50,"
                           "\"strategies\":[\"redis-atomic\"]}]}";

static void test_good_minimal(void **state)
{
    (void)state;
    char err[256] = "";
    tk_scenario *sc = tk_scenario_parse(good, strlen(good), "t.json", err, sizeof err);
    assert_non_null(sc);
    assert_string_equal(tk_scenario_kind(sc), "seats");
    assert_int_equal(tk_scenario_users(sc), 3);
    assert_string_equal(tk_scenario_strategy(sc, 1), "redis-atomic");
    assert_null(tk_scenario_strategy(sc, 2));
    assert_string_equal(tk_scenario_description(sc), "");
    tk_scenario_free(sc);
    tk_scenario_free(NULL);
}

/* Each bad file and a fragment its message must contain. */
static const struct {
    const char *json, *want;
} bad[] = {
    {"{\"name\":", "malformed JSON"},
    {"[1]", "top level must be a JSON object"},
    {"{\"kind\":\"seats\"}", "name: required"},
    {"{\"name\":\"a b\",\"kind\":\"seats\"}", "name: required"},
    {"{\"name\":\"x\",\"kind\":\"cars\"}", "kind: required"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{}}", "data.seats: required"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":0}}", "data.seats: 0 is out of range"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[]}", "actors: required"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":-1}]}", "actors[0].count"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":\"5\"}]}", "must be a whole number"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1,\"wait\":1}]}",
     "actors[0]: unknown key 'wait'"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1}]}", "strategies: required"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1}],\"strategies\":[\"mutex\"]}",
     "unknown strategy 'mutex'"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1}],\"strategies\":[\"atomic\"]}",
     "does not apply to seats"},
    {"{\"name\":\"x\",\"kind\":\"points\",\"data\":{},\"actors\":[{\"count\":1}],\"strategies\":[\"redis-lock\"]}",
     "does not apply to points"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1}],\"strategies\":[\"none\",\"none\"]}",
     "listed twice"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1}],\"strategies\":[\"none\"],"
     "\"invariants\":[\"balance_exact\"]}", "unknown invariant 'balance_exact' for a seats"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1}],\"strategies\":[\"none\"],"
     "\"invariants\":[\"within_ms\"]}", "within_ms needs \"ms\""},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1}],\"strategies\":[\"none\"],"
     "\"lock\":{\"lease_ms\":0}}", "lock.lease_ms: 0 is out of range"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1}],\"strategies\":[\"none\"],"
     "\"connections\":5000}", "connections: 5000 is out of range"},
    {"{\"name\":\"x\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"actors\":[{\"count\":1}],\"strategies\":[\"none\"],"
     "\"strategy\":\"none\"}", "unknown key 'strategy'"},
    {"{\"name\":\"x\",\"kind\":\"points\",\"data\":{},\"actors\":[{\"count\":1}],\"strategies\":[\"atomic\"],"
     "\"redis_benchmark\":{}}", "only for seats"},
};

static void test_bad_files_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        tk_scenario *sc = tk_scenario_parse(bad[i].json, strlen(bad[i].json), "bad.json", err, sizeof err);
        if (sc || !strstr(err, bad[i].want))
            fprintf(stderr, "case %zu: want '%s', got '%s'\n", i, bad[i].want, err);
        assert_null(sc);
        assert_non_null(strstr(err, bad[i].want));
        assert_non_null(strstr(err, "bad.json"));
    }
    char err[256];
    assert_null(tk_scenario_load("/nonexistent/s.json", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/s.json"));
}

static void test_strategy_table(void **state)
{
    (void)state;
    static const char *const want[] = {"none", "optimistic", "pessimistic", "pessimistic-nowait",
                                       "pessimistic-skip-locked", "redis-lock", "redis-lock-nofence",
                                       "redis-atomic", "db-unique", "atomic"};
    assert_int_equal(tk_strategy_count(), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const tk_strategy *s = tk_strategy_find(want[i]);
        assert_non_null(s);
        assert_ptr_equal(s, tk_strategy_at(i));
        assert_true(s->reserve || s->charge);
    }
    assert_null(tk_strategy_find("nope"));
    assert_null(tk_strategy_at(99));
    assert_true(tk_strategy_find("none")->flags & TK_STRAT_UNSAFE);
    assert_false(tk_strategy_find("redis-lock")->flags & TK_STRAT_UNSAFE);
    assert_string_equal(tk_sc_outcome_name(TK_SC_SEAT_TAKEN), "SEAT_TAKEN");
    assert_string_equal(tk_sc_outcome_name(TK_SC_CONFLICT), "CONFLICT");
    assert_string_equal(tk_sc_outcome_name(TK_SC_BUSY), "BUSY");
    assert_int_equal(tk_sc_outcome_rc(TK_SC_BUSY), TK_EBUSY);
    assert_int_equal(tk_sc_outcome_rc(TK_SC_SEAT_TAKEN), TK_ECONFLICT);
    assert_int_equal(tk_sc_outcome_rc(TK_SC_ERROR), TK_EBACKEND);
    assert_non_null(strstr(tk_strategy_hold_lua(), "decr"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_files_parse),
        cmocka_unit_test(test_good_minimal),
        cmocka_unit_test(test_bad_files_refused),
        cmocka_unit_test(test_strategy_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
