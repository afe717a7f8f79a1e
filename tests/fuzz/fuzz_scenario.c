/* libFuzzer target: scenario files (tk_scenario_parse, lib/scenario.c).
 * Property: a parse either returns a scenario whose accessors answer
 * within their documented ranges, or NULL with a non-empty message;
 * never a crash, leak or UB. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    char err[512] = "";
    tk_scenario *sc = tk_scenario_parse((const char *)data, size, "fuzz", err, sizeof err);
    if (!sc) {
        if (!err[0])
            abort(); /* refused without saying why */
        return 0;
    }
    const char *kind = tk_scenario_kind(sc);
    if (!tk_scenario_name(sc) || !kind || (strcmp(kind, "seats") && strcmp(kind, "points")))
        abort();
    if (tk_scenario_users(sc) < 1 || tk_scenario_users(sc) > 1000000)
        abort();
    for (size_t i = 0; i < tk_scenario_nstrategies(sc); i++)
        if (!tk_scenario_strategy(sc, i))
            abort();
    tk_scenario_free(sc);
    return 0;
}
