/* The waiting-room poller (see waitload.h): many simulated waiting users
 * over a bounded pool of libevent evhttp client connections, one thread.
 *
 * A user is in exactly one place at a time: not yet arrived, in the ready
 * list (due now), in a timing-wheel slot (due later), on a connection (in
 * flight), or done; the wheel and the ready list link users through their
 * `next` index, so the scheduler allocates nothing per user. */
#include "ticketctl/rcluster.h"
#include "ticketctl/waitload.h"
#include "ticketctl/auth.h"
#include "ticketctl/common.h"
#include "ticketctl/cpustat.h"
#include "ticketctl/hold.h"
#include "ticketctl/queue.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { P_TAKE, P_POLL, P_LEAVE, P_DONE };

#define WL_SLOT_MS 10
#define WL_SLOTS 8192 /* 81.92 s of wheel; later times go round again */
#define WL_NONE 0u    /* links are index + 1 */

typedef struct wl_user {
    char token[128];      /* the queue token ("" until taken) */
    int64_t next_ms;      /* when to send the next request (wall ms) */
    int64_t arrival_no;   /* from the take */
    int64_t admission_no; /* from the admitted poll */
    uint32_t next;        /* wheel / ready-list link */
    uint8_t phase, retries;
} wl_user;

typedef struct wl_conn {
    struct wl_run *run;
    struct evhttp_connection *c;
    uint32_t user; /* index + 1 in flight, or WL_NONE */
    uint8_t phase;
} wl_conn;

typedef struct wl_run {
    const tk_waitload_config *cfg;
    tk_waitload_result *out;
    struct event_base *base;
    struct event *tick;
    char host[64], hosthdr[80];
    int port;
    wl_user *u;
    wl_conn *conns;
    int *idle, nidle;
    uint32_t wheel[WL_SLOTS];
    int64_t wheel_ms; /* the slot time processed up to */
    uint32_t ready_head, ready_tail;
    int64_t arrived, done, active, t0_ms, first_take_ms, last_take_ms, first_adm_ms, last_adm_ms;
    int64_t first_poll_ms, last_poll_ms, next_sample_ms, next_progress_ms, deadline_ms;
    redisContext *redis;
    char adm_key[64];
    tk_cpu_pids pids; /* serve, redis-server (when given) and this process (cpustat.h) */
    tk_cpu_sample cpu0;
} wl_run;

void tk_waitload_config_default(tk_waitload_config *c)
{
    memset(c, 0, sizeof *c);
    c->first_user = 1;
    c->connections = 128;
    c->enqueue_per_s = 5000;
    c->max_seconds = 600;
}

size_t tk_waitload_user_bytes(void)
{
    return sizeof(wl_user); /* the wheel and ready-list link lives in the struct */
}

/* ---- /proc --------------------------------------------------------------- */

static int64_t proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) /* VmHWM: the peak, so a 1 s sample misses none */
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* ---- scheduling ------------------------------------------------------------ */

static void ready_push(wl_run *r, uint32_t i)
{
    r->u[i].next = WL_NONE;
    if (r->ready_tail)
        r->u[r->ready_tail - 1].next = i + 1;
    else
        r->ready_head = i + 1;
    r->ready_tail = i + 1;
}

static uint32_t ready_pop(wl_run *r)
{
    uint32_t h = r->ready_head;
    if (!h)
        return WL_NONE;
    r->ready_head = r->u[h - 1].next;
    if (!r->ready_head)
        r->ready_tail = WL_NONE;
    return h;
}

/* User i is due at t_ms: the ready list if due, else its wheel slot. */
static void schedule(wl_run *r, uint32_t i, int64_t t_ms)
{
    r->u[i].next_ms = t_ms;
    if (t_ms / WL_SLOT_MS * WL_SLOT_MS <= r->wheel_ms) { /* its slot has been processed: due now */
        ready_push(r, i);
        return;
    }
    size_t s = (size_t)((t_ms / WL_SLOT_MS) % WL_SLOTS);
    r->u[i].next = r->wheel[s];
    r->wheel[s] = i + 1;
}

/* Move every user due by now to the ready list (slot by slot). */
static void wheel_advance(wl_run *r, int64_t now)
{
    int64_t upto = now / WL_SLOT_MS * WL_SLOT_MS;
    for (int64_t t = r->wheel_ms + WL_SLOT_MS; t <= upto; t += WL_SLOT_MS) {
        size_t s = (size_t)((t / WL_SLOT_MS) % WL_SLOTS);
        uint32_t h = r->wheel[s];
        r->wheel[s] = WL_NONE;
        r->wheel_ms = t;
        while (h) {
            uint32_t i = h - 1;
            h = r->u[i].next;
            if (r->u[i].next_ms <= t + WL_SLOT_MS)
                ready_push(r, i);
            else
                schedule(r, i, r->u[i].next_ms); /* a later lap of the wheel */
        }
        if (upto - r->wheel_ms > (int64_t)WL_SLOTS * WL_SLOT_MS) /* a long stall: skip whole laps */
            r->wheel_ms = upto - (int64_t)WL_SLOTS * WL_SLOT_MS;
    }
}

/* ---- requests ---------------------------------------------------------------- */

static void dispatch(wl_run *r);

static void finish_user(wl_run *r, uint32_t i)
{
    r->u[i].phase = P_DONE;
    r->done++;
}

/* A failed exchange: retry in a second, at most 5 times, then give up on the user. */
static void retry_later(wl_run *r, uint32_t i, int64_t now)
{
    if (++r->u[i].retries > 5) {
        finish_user(r, i);
        return;
    }
    schedule(r, i, now + 1000);
}

static int64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* An answer (take or poll) that says where the user stands. */
static void on_place(wl_run *r, uint32_t i, json_t *doc, int64_t now)
{
    wl_user *u = &r->u[i];
    tk_waitload_result *o = r->out;
    if (json_is_true(json_object_get(doc, "admitted"))) {
        u->admission_no = jint(doc, "admission_no");
        o->admitted++;
        if (!r->first_adm_ms)
            r->first_adm_ms = now;
        r->last_adm_ms = now;
        if (++r->active > o->max_active_client)
            o->max_active_client = r->active;
        if (r->active > o->max_active && !o->max_active_from_redis)
            o->max_active = r->active;
        u->phase = P_LEAVE;
        u->retries = 0;
        schedule(r, i, now + r->cfg->session_ms);
        return;
    }
    int64_t after = jint(doc, "poll_after_ms");
    if (after < 0) {
        o->err_parse++;
        retry_later(r, i, now);
        return;
    }
    if (o->poll_after_ms_min == 0 || after < o->poll_after_ms_min)
        o->poll_after_ms_min = after;
    if (after > o->poll_after_ms_max)
        o->poll_after_ms_max = after;
    u->phase = P_POLL;
    schedule(r, i, now + after);
}

static void on_response(struct evhttp_request *req, void *arg)
{
    wl_conn *c = arg;
    wl_run *r = c->run;
    tk_waitload_result *o = r->out;
    uint32_t i = c->user - 1;
    uint8_t phase = c->phase;
    c->user = WL_NONE;
    r->idle[r->nidle++] = (int)(c - r->conns);
    int64_t now = tk_wall_ms();
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code == 0) {
        o->err_connect++;
        retry_later(r, i, now);
        dispatch(r);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_t *doc = len ? json_loadb((const char *)evbuffer_pullup(in, (ssize_t)len), len, 0, NULL) : NULL;
    wl_user *u = &r->u[i];
    if (phase == P_TAKE) {
        const char *tok = json_string_value(json_object_get(doc, "token"));
        if ((code == 200 || code == 201) && tok && strlen(tok) < sizeof u->token) {
            snprintf(u->token, sizeof u->token, "%s", tok);
            u->arrival_no = jint(doc, "arrival_no");
            o->enqueued++;
            if (!r->first_take_ms)
                r->first_take_ms = now;
            r->last_take_ms = now;
            u->retries = 0;
            on_place(r, i, doc, now);
        } else {
            o->err_status++;
            u->phase = P_TAKE;
            retry_later(r, i, now);
        }
    } else if (phase == P_POLL) {
        o->polls++;
        if (!r->first_poll_ms)
            r->first_poll_ms = now;
        r->last_poll_ms = now;
        if (code == 200 && doc)
            on_place(r, i, doc, now);
        else if (code == 404) { /* the place is gone: lost */
            o->err_lost++;
            finish_user(r, i);
        } else {
            o->err_status++;
            retry_later(r, i, now);
        }
    } else if (phase == P_LEAVE) {
        if (code == 200 || code == 404) { /* 404: the admission ran out first */
            o->left += code == 200;
            r->active--;
            finish_user(r, i);
        } else {
            o->err_status++;
            retry_later(r, i, now);
        }
    }
    json_decref(doc);
    dispatch(r);
}

/* Send user i's next request on connection c. 0, or -1 (the user is rescheduled). */
static int send_one(wl_run *r, wl_conn *c, uint32_t i)
{
    wl_user *u = &r->u[i];
    uint64_t uid = r->cfg->first_user + i;
    struct evhttp_request *req = evhttp_request_new(on_response, c);
    if (!req)
        return -1;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", r->hosthdr);
    char path[96];
    enum evhttp_cmd_type cmd = EVHTTP_REQ_GET;
    if (u->phase == P_POLL) {
        snprintf(path, sizeof path, "/api/v1/queue/%" PRIu64 "/status", r->cfg->sale);
        evhttp_add_header(h, "X-Queue-Token", u->token); /* the token alone: a stateless poll */
    } else {
        char *jwt = tk_jwt_issue(r->cfg->jwt_key, r->cfg->jwt_key_len, uid, 0, 3600);
        if (!jwt) {
            evhttp_request_free(req);
            return -1;
        }
        char auth[1024];
        snprintf(auth, sizeof auth, "Bearer %s", jwt);
        free(jwt);
        evhttp_add_header(h, "Authorization", auth);
        snprintf(path, sizeof path, "/api/v1/queue/%" PRIu64 "/token", r->cfg->sale);
        cmd = u->phase == P_TAKE ? EVHTTP_REQ_POST : EVHTTP_REQ_DELETE;
        if (cmd == EVHTTP_REQ_POST)
            evhttp_add_header(h, "Content-Length", "0");
    }
    c->user = i + 1;
    c->phase = u->phase;
    if (evhttp_make_request(c->c, req, cmd, path) != 0) { /* the request is freed by libevent */
        c->user = WL_NONE;
        return -1;
    }
    return 0;
}

static void dispatch(wl_run *r)
{
    while (r->nidle > 0) {
        uint32_t h = ready_pop(r);
        if (!h)
            return;
        wl_conn *c = &r->conns[r->idle[--r->nidle]];
        if (send_one(r, c, h - 1) != 0) {
            r->idle[r->nidle++] = (int)(c - r->conns);
            r->out->err_connect++;
            retry_later(r, h - 1, tk_wall_ms());
            return;
        }
    }
}

static void sample(wl_run *r, int64_t now)
{
    tk_waitload_result *o = r->out;
    if (r->redis) {
        redisReply *x = tk_redis_cmd(r->redis, r->adm_key, "ZCARD %s", r->adm_key);
        if (x && x->type == REDIS_REPLY_INTEGER && x->integer > o->max_active)
            o->max_active = x->integer;
        if (x)
            freeReplyObject(x);
    }
    if (r->cfg->server_pid) {
        int64_t kb = proc_rss_kb(r->cfg->server_pid);
        if (kb > o->server_rss_max_kb)
            o->server_rss_max_kb = kb;
    }
    if (r->cfg->redis_pid) {
        int64_t kb = proc_rss_kb(r->cfg->redis_pid);
        if (kb > o->redis_rss_max_kb)
            o->redis_rss_max_kb = kb;
    }
    if (r->cfg->progress && now >= r->next_progress_ms) {
        fprintf(stderr,
                "waitload: %5.0f s  arrived %" PRId64 "  enqueued %" PRId64 "  polls %" PRId64 "  admitted %" PRId64
                "  done %" PRId64 "  active %" PRId64 "  errors %" PRId64 "\n",
                (double)(now - r->t0_ms) / 1000.0, r->arrived, o->enqueued, o->polls, o->admitted, r->done,
                r->active, o->err_connect + o->err_status + o->err_parse + o->err_lost);
        r->next_progress_ms = now + 5000;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wl_run *r = arg;
    int64_t now = tk_wall_ms();
    wheel_advance(r, now);
    /* arrivals at enqueue_per_s since the start */
    int64_t due = (int64_t)((double)(now - r->t0_ms) * r->cfg->enqueue_per_s / 1000.0) + 1;
    if (due > r->cfg->users)
        due = r->cfg->users;
    while (r->arrived < due) {
        r->u[r->arrived].phase = P_TAKE;
        ready_push(r, (uint32_t)r->arrived);
        r->arrived++;
    }
    dispatch(r);
    if (now >= r->next_sample_ms) {
        sample(r, now);
        r->next_sample_ms = now + 1000;
    }
    if (r->done >= r->cfg->users || now >= r->deadline_ms)
        event_base_loopbreak(r->base);
}

/* ---- the run -------------------------------------------------------------------- */

static int parse_target(const char *t, char *host, size_t hostlen, int *port)
{
    if (!t || strncmp(t, "http://", 7) != 0)
        return -1;
    const char *h = t + 7, *colon = strchr(h, ':');
    if (!colon || (size_t)(colon - h) >= hostlen)
        return -1;
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (p < 1 || p > 65535 || (*end && strcmp(end, "/")))
        return -1;
    *port = (int)p;
    return 0;
}

int tk_waitload_run(const tk_waitload_config *cfg, tk_waitload_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kendall_distance = -1;
    if (!cfg || cfg->sale == 0 || cfg->users < 1 || cfg->users > 50000000 || cfg->connections < 1 ||
        cfg->connections > 4096 || !(cfg->enqueue_per_s > 0) || cfg->session_ms < 0 || cfg->max_seconds <= 0 ||
        !cfg->jwt_key || cfg->jwt_key_len < 16 || cfg->first_user == 0)
        return tk_err(err, errlen, "waitload: bad configuration");
    wl_run *r = calloc(1, sizeof *r);
    if (!r)
        return tk_err(err, errlen, "out of memory");
    int rc = -1;
    r->cfg = cfg;
    r->out = out;
    if (parse_target(cfg->target, r->host, sizeof r->host, &r->port) != 0) {
        tk_err(err, errlen, "waitload: target must be http://HOST:PORT");
        goto done;
    }
    snprintf(r->hosthdr, sizeof r->hosthdr, "%s:%d", r->host, r->port);
    r->u = calloc((size_t)cfg->users, sizeof *r->u);
    r->conns = calloc((size_t)cfg->connections, sizeof *r->conns);
    r->idle = calloc((size_t)cfg->connections, sizeof *r->idle);
    r->base = event_base_new();
    if (!r->u || !r->conns || !r->idle || !r->base) {
        tk_err(err, errlen, "out of memory (%" PRId64 " users of %zu bytes)", cfg->users, sizeof *r->u);
        goto done;
    }
    for (int i = 0; i < cfg->connections; i++) {
        r->conns[i].run = r;
        r->conns[i].c = evhttp_connection_base_new(r->base, NULL, r->host, (unsigned short)r->port);
        if (!r->conns[i].c) {
            tk_err(err, errlen, "waitload: cannot create connection %d", i);
            goto done;
        }
        evhttp_connection_set_timeout(r->conns[i].c, 30);
        evhttp_connection_set_retries(r->conns[i].c, 0);
        r->idle[r->nidle++] = i;
    }
    if (cfg->redis_url) {
        r->redis = tk_redis_connect(cfg->redis_url, NULL, 0);
        if (!r->redis) {
            tk_err(err, errlen, "waitload: cannot connect to Redis at %s", cfg->redis_url);
            goto done;
        }
        snprintf(r->adm_key, sizeof r->adm_key, "tk:wr:{sale:%" PRIu64 "}:adm", cfg->sale);
        out->max_active_from_redis = 1;
    }
    out->users = cfg->users;
    out->user_bytes = tk_waitload_user_bytes();
    r->t0_ms = tk_wall_ms();
    r->wheel_ms = r->t0_ms / WL_SLOT_MS * WL_SLOT_MS;
    r->deadline_ms = r->t0_ms + cfg->max_seconds * 1000;
    r->next_progress_ms = r->t0_ms + 5000;
    if (cfg->server_pid)
        r->pids.pid[TK_CPU_SERVE][r->pids.n[TK_CPU_SERVE]++] = (int)cfg->server_pid;
    if (cfg->redis_pid)
        r->pids.pid[TK_CPU_REDIS][r->pids.n[TK_CPU_REDIS]++] = (int)cfg->redis_pid;
    r->pids.pid[TK_CPU_BENCH][r->pids.n[TK_CPU_BENCH]++] = (int)getpid();
    tk_cpu_sample_take(&r->pids, &r->cpu0);
    struct timeval tv = {0, 5000};
    r->tick = event_new(r->base, -1, EV_PERSIST, on_tick, r);
    if (!r->tick || event_add(r->tick, &tv) != 0) {
        tk_err(err, errlen, "waitload: cannot start the timer");
        goto done;
    }
    event_base_dispatch(r->base);
    int64_t end = tk_wall_ms();
    sample(r, end);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    tk_cpu_sample cpu1;
    tk_cpu_sample_take(&r->pids, &cpu1);
    double *cpu[TK_CPU_NROLES] = {[TK_CPU_SERVE] = &out->server_cpu_s, [TK_CPU_REDIS] = &out->redis_cpu_s,
                                  [TK_CPU_BENCH] = &out->loader_cpu_s};
    for (int k = 0; k < TK_CPU_NROLES; k++) /* NAN (no such pid) stays 0 */
        if (cpu[k] && r->pids.n[k] && cpu1.ms[k] == cpu1.ms[k] && r->cpu0.ms[k] == r->cpu0.ms[k])
            *cpu[k] = (cpu1.ms[k] - r->cpu0.ms[k]) / 1000.0;
    out->loader_rss_max_kb = ru.ru_maxrss;
    out->seconds = (double)(end - r->t0_ms) / 1000.0;
    out->enqueue_seconds = (double)(r->last_take_ms - r->first_take_ms) / 1000.0;
    out->enqueue_per_s = out->enqueue_seconds > 0 ? (double)out->enqueued / out->enqueue_seconds : 0;
    double ps = (double)(r->last_poll_ms - r->first_poll_ms) / 1000.0;
    out->polls_per_s = ps > 0 ? (double)out->polls / ps : 0;
    double as = (double)(r->last_adm_ms - r->first_adm_ms) / 1000.0;
    out->admitted_per_s = as > 0 ? (double)out->admitted / as : 0;
    /* fairness over the admitted: arrival vs admission numbers */
    int64_t *arr = malloc(sizeof *arr * (size_t)cfg->users), *adm = malloc(sizeof *adm * (size_t)cfg->users);
    size_t n = 0;
    for (int64_t i = 0; arr && adm && i < cfg->users; i++)
        if (r->u[i].admission_no > 0 && r->u[i].arrival_no > 0) {
            arr[n] = r->u[i].arrival_no;
            adm[n] = r->u[i].admission_no;
            n++;
        }
    if (n > 0)
        out->kendall_distance = tk_queue_kendall_distance(arr, adm, n);
    free(arr);
    free(adm);
    rc = out->admitted == cfg->users && r->done >= cfg->users ? 0 : 1;
done:
    if (r->tick)
        event_free(r->tick);
    for (int i = 0; r->conns && i < cfg->connections; i++)
        if (r->conns[i].c)
            evhttp_connection_free(r->conns[i].c);
    if (r->base)
        event_base_free(r->base);
    if (r->redis)
        tk_redis_free(r->redis);
    free(r->u);
    free(r->conns);
    free(r->idle);
    free(r);
    return rc;
}

json_t *tk_waitload_result_json(const tk_waitload_config *cfg, const tk_waitload_result *r)
{
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:f, s:f, s:f, s:f, s:f}", "users",
                          (json_int_t)r->users, "enqueued", (json_int_t)r->enqueued, "admitted",
                          (json_int_t)r->admitted, "left", (json_int_t)r->left, "polls", (json_int_t)r->polls,
                          "errors", "connect", (json_int_t)r->err_connect, "status", (json_int_t)r->err_status,
                          "parse", (json_int_t)r->err_parse, "lost", (json_int_t)r->err_lost, "seconds", r->seconds,
                          "enqueue_seconds", r->enqueue_seconds, "enqueue_per_s", r->enqueue_per_s, "polls_per_s",
                          r->polls_per_s, "admitted_per_s", r->admitted_per_s);
    if (!o)
        return NULL;
    json_object_set_new(o, "fairness_kendall_distance",
                        r->kendall_distance >= 0 ? json_real(r->kendall_distance) : json_null());
    json_object_set_new(o, "max_active", json_integer(r->max_active));
    json_object_set_new(o, "max_active_source", json_string(r->max_active_from_redis ? "redis" : "client"));
    json_object_set_new(o, "max_active_client", json_integer(r->max_active_client));
    json_object_set_new(o, "bytes_per_user", json_integer((json_int_t)r->user_bytes));
    json_object_set_new(o, "poll_after_ms", json_pack("{s:I, s:I}", "min", (json_int_t)r->poll_after_ms_min, "max",
                                                      (json_int_t)r->poll_after_ms_max));
    json_object_set_new(o, "server", json_pack("{s:f, s:I}", "cpu_s", r->server_cpu_s, "rss_max_kb",
                                               (json_int_t)r->server_rss_max_kb));
    json_object_set_new(o, "redis", json_pack("{s:f, s:I}", "cpu_s", r->redis_cpu_s, "rss_max_kb",
                                              (json_int_t)r->redis_rss_max_kb));
    json_object_set_new(o, "loader", json_pack("{s:f, s:I}", "cpu_s", r->loader_cpu_s, "rss_max_kb",
                                               (json_int_t)r->loader_rss_max_kb));
    double units = (double)(r->polls + r->enqueued + r->left);
    if (units > 0)
        json_object_set_new(o, "server_cpu_ms_per_request", json_real(r->server_cpu_s * 1000.0 / units));
    if (cfg)
        json_object_set_new(o, "config",
                            json_pack("{s:s, s:I, s:I, s:i, s:f, s:I, s:I}", "target", cfg->target ? cfg->target : "",
                                      "schedule_id", (json_int_t)cfg->sale, "waiting", (json_int_t)cfg->users,
                                      "connections", cfg->connections, "enqueue_per_s", cfg->enqueue_per_s,
                                      "session_ms", (json_int_t)cfg->session_ms, "max_seconds",
                                      (json_int_t)cfg->max_seconds));
    return o;
}
