/* Backend state changes as JSON lines (statelog.h); jansson escapes the
 * error text, which may come from a library and carry anything. */
#include "ticketctl/statelog.h"
#include "ticketctl/common.h"

#include <jansson.h>
#include <stdlib.h>
#include <time.h>

static void rfc3339(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

int tk_statelog_set(tk_statelog *s, FILE *out, int up, const char *error)
{
    int want = up ? 1 : 2;
    if (s->state == want)
        return 0;
    int64_t now = tk_wall_ms();
    int silent = s->state == 0 && up;
    int64_t prev_ms = s->state ? now - s->since_ms : -1;
    s->state = want;
    s->since_ms = now;
    if (silent || !out)
        return 0;
    char t[40];
    rfc3339(now, t, sizeof t);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s*, s:s}", "time", t, "component", s->component ? s->component : "",
                          "backend", s->backend ? s->backend : "", "state", up ? "up" : "down", "error",
                          up ? NULL : (error ? error : "unknown"), "since", t);
    if (j && prev_ms >= 0) /* how long the state before lasted: an outage's length on an "up" line */
        json_object_set_new(j, up ? "down_for_ms" : "up_for_ms", json_integer(prev_ms));
    char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (line) {
        fprintf(out, "%s\n", line);
        fflush(out);
    }
    free(line);
    json_decref(j);
    return line != NULL;
}
