/* Backend health for readiness probes: a thread that pings MariaDB and
 * Redis on its own connections every interval, with short timeouts, and
 * keeps the answer in memory. A readiness probe then answers from memory
 * within microseconds whatever the backends do (a stalled MariaDB makes the
 * ping time out, not the probe), and each change of a backend's state is
 * logged once as a JSON line (statelog.h). */
#ifndef TICKETCTL_HEALTH_H
#define TICKETCTL_HEALTH_H

#include <stddef.h>
#include <stdint.h>

typedef struct tk_health tk_health;

enum { TK_HEALTH_MARIADB = 0, TK_HEALTH_REDIS, TK_HEALTH_N };

/* A backend's last known state. */
typedef struct tk_health_state {
    int up[TK_HEALTH_N];         /* 1 up, 0 down (or not yet seen up) */
    int64_t since_ms[TK_HEALTH_N]; /* wall clock of the last change, ms since the epoch */
    uint64_t checks;             /* pings done (both backends) */
} tk_health_state;

/* Start the monitor: MariaDB at mysql_url (its ping gets 1 s connect, read
 * and write timeouts added), Redis at redis_url (500 ms timeout), every
 * interval_ms (default 500 when <= 0). The first round runs before this
 * returns, so the state is known at once. component names the log lines
 * ("serve"). Returns NULL with err when the thread cannot start (a down
 * backend is not an error: it is a state). */
tk_health *tk_health_start(const char *mysql_url, const char *redis_url, int interval_ms, const char *component,
                           char *err /* OUT */, size_t errlen);

/* A snapshot (thread-safe, lock-free reads). */
void tk_health_get(const tk_health *h, tk_health_state *out /* OUT */);

/* Stop the thread and free; NULL is a no-op. Returns within one ping
 * timeout. */
void tk_health_stop(tk_health *h);

#endif
