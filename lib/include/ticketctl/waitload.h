/* The waiting-room poller (issue 12, 5(b)): simulates up to millions of
 * users waiting in one sale's waiting room over HTTP, as their waiting
 * pages would. Each user takes a place (POST /api/v1/queue/{id}/token, with
 * a JWT minted here from the server's key: the users need not be seeded),
 * polls GET /api/v1/queue/{id}/status with its queue token alone, waiting
 * the server's poll_after_ms between polls, and once admitted leaves after
 * session_ms (DELETE .../token), which frees its slot for the next.
 *
 * Per user it keeps only its queue token, its next-poll time and a few
 * numbers (sizeof one user <= 256 bytes: tk_waitload_user_bytes); users due
 * to poll wait in a timing wheel of 10 ms slots. One thread, one libevent
 * loop, a bounded pool of keep-alive connections (evhttp client), one
 * request in flight per connection. Arrivals are paced at enqueue_per_s.
 *
 * What it measures: enqueue and poll rates, admissions in arrival order
 * (the normalised Kendall distance between arrival and admission numbers,
 * 0 for FIFO), the most users admitted at once (sampled from Redis each
 * second when redis_url is set, else counted on the client side), errors
 * by kind, and the server's and Redis's CPU and peak RSS (from /proc, when
 * their pids are given). */
#ifndef TICKETCTL_WAITLOAD_H
#define TICKETCTL_WAITLOAD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tk_waitload_config {
    const char *target;       /* "http://127.0.0.1:PORT" (IPv4 host and port only) */
    uint64_t sale;            /* the schedule id, > 0 */
    int64_t users;            /* waiting users to simulate, 1..50,000,000 */
    uint64_t first_user;      /* user ids first_user .. first_user + users - 1 (default 1) */
    int connections;          /* pool size, 1..4096 (default 128) */
    double enqueue_per_s;     /* arrivals per second, > 0 (default 5,000) */
    int64_t session_ms;       /* an admitted user leaves after this long, >= 0 (default 0) */
    int64_t max_seconds;      /* stop after this long whatever is left, > 0 (default 600) */
    const unsigned char *jwt_key; /* the server's HS256 key (serve --jwt-secret-file), borrowed */
    size_t jwt_key_len;
    const char *redis_url;    /* optional: sample ZCARD of the admitted set each second */
    pid_t server_pid, redis_pid; /* optional (0): CPU and RSS from /proc */
    int progress;             /* 1: a line on stderr every 5 s */
} tk_waitload_config;

/* Defaults as above; target, sale, users and jwt_key must still be set. */
void tk_waitload_config_default(tk_waitload_config *c);

typedef struct tk_waitload_result {
    int64_t users, enqueued, admitted, left, polls;
    int64_t err_connect, err_status, err_parse, err_lost; /* lost: 404 NOT_IN_QUEUE before admission */
    double seconds, enqueue_seconds;  /* whole run; first to last place taken */
    double enqueue_per_s, polls_per_s, admitted_per_s; /* over their own spans */
    double kendall_distance;          /* arrival vs admission numbers of the admitted; -1 if none */
    int64_t max_active;               /* most admitted at once (Redis sample, or client side) */
    int max_active_from_redis;        /* 1: max_active is Redis's ZCARD, 0: the client's count */
    int64_t max_active_client;        /* most users admitted and not yet left, as the poller saw them:
                                         each is still in the server's admitted set, so this never
                                         exceeds the server's count (a lower bound of it, exact in order) */
    size_t user_bytes;                /* memory per simulated user (struct + wheel link) */
    double server_cpu_s, redis_cpu_s, loader_cpu_s;
    int64_t server_rss_max_kb, redis_rss_max_kb, loader_rss_max_kb;
    int64_t poll_after_ms_min, poll_after_ms_max; /* the server's hints seen */
} tk_waitload_result;

/* Bytes one simulated user takes (for the <= 256 bytes budget). */
size_t tk_waitload_user_bytes(void);

/* Run the simulation to the end (everyone admitted and gone) or for
 * max_seconds. Fills *out. 0 when the run finished with everyone admitted,
 * 1 when it stopped early or lost users (out says how), -1 on a setup error
 * (bad config, cannot connect) with a message in err. */
int tk_waitload_run(const tk_waitload_config *cfg, tk_waitload_result *out, char *err /* OUT */, size_t errlen);

/* The result (and, when cfg is not NULL, the configuration) as a JSON
 * object for a results file (docs/RESULTS.md); a new reference, or NULL. */
json_t *tk_waitload_result_json(const tk_waitload_config *cfg, const tk_waitload_result *r);

#endif
