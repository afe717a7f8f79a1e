/* Integration-test harness (see itest_util.h). */
#include "itest_util.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/devstack.h"
#include "ticketctl/invariants.h"

int itest_stack(itest_env *e)
{
    char err[512];
    memset(e, 0, sizeof *e);
    const char *bin = getenv("TICKETCTL_BIN");
    const char *state = getenv("TICKETCTL_TEST_STATE");
    if (!bin || !state) {
        fprintf(stderr, "itest: TICKETCTL_BIN and TICKETCTL_TEST_STATE must be set (run through ctest)\n");
        return -1;
    }
    snprintf(e->bin, sizeof e->bin, "%s", bin);
    snprintf(e->state, sizeof e->state, "%s", state);
    if (tk_backend_resolve(&e->b, NULL, NULL, NULL, e->state, 1, err, sizeof err) != 0) {
        fprintf(stderr, "itest: %s\n", err);
        return -1;
    }
    e->db = tk_db_connect(e->b.mysql, err, sizeof err);
    if (!e->db || tk_db_migrate(e->db, err, sizeof err) < 0) {
        fprintf(stderr, "itest: %s\n", err);
        return -1;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    return 0;
}

int itest_run(itest_env *e, const char *fmt, ...)
{
    char args[2048], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s --state '%s'", e->bin, args, e->state);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int itest_seed(itest_env *e, const char *args)
{
    return itest_run(e, "seed --reset %s", args);
}

int itest_server_start(itest_env *e, const char *extra) { return itest_server_start_log(e, extra, NULL); }

int itest_server_start_log(itest_env *e, const char *extra, const char *log_path)
{
    char portfile[1100], cmd[8192], log[1100] = "--quiet";
    snprintf(portfile, sizeof portfile, "%s/itest-port.%d", e->state, (int)getpid());
    unlink(portfile);
    if (log_path)
        snprintf(log, sizeof log, "2>'%s'", log_path);
    snprintf(cmd, sizeof cmd, "exec '%s' serve %s --port 0 --port-file '%s' --state '%s' %s", e->bin, log, portfile,
             e->state, extra ? extra : "");
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    e->server_pid = pid;
    for (int i = 0; i < 600; i++) { /* up to 60 s (ASan builds start slowly) */
        FILE *f = fopen(portfile, "r");
        if (f) {
            int ok = fscanf(f, "%d", &e->port) == 1;
            fclose(f);
            if (ok) {
                itest_resp r;
                itest_http(e, "GET", "/readyz", NULL, NULL, NULL, &r);
                long st = r.status;
                itest_resp_free(&r);
                if (st == 200) {
                    unlink(portfile);
                    return 0;
                }
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "itest: server exited early (status %d)\n", status);
            e->server_pid = 0;
            return -1;
        }
        usleep(100000);
    }
    fprintf(stderr, "itest: server did not become ready\n");
    return -1;
}

int itest_server_stop(itest_env *e)
{
    if (e->server_pid <= 0)
        return -1;
    kill(e->server_pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300; i++) {
        if (waitpid(e->server_pid, &status, WNOHANG) == e->server_pid) {
            e->server_pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(100000);
    }
    kill(e->server_pid, SIGKILL);
    waitpid(e->server_pid, &status, 0);
    e->server_pid = 0;
    return -1;
}

void itest_close(itest_env *e)
{
    if (e->server_pid > 0)
        itest_server_stop(e);
    if (e->db)
        mysql_close(e->db);
    e->db = NULL;
    curl_global_cleanup();
}

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t add = size * nmemb;
    char *np = realloc(b->p, b->n + add + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, ptr, add);
    b->n += add;
    np[b->n] = '\0';
    b->p = np;
    return add;
}

int itest_http(itest_env *e, const char *method, const char *path, const char *token, const char *body,
               const char *header, itest_resp *out)
{
    const char *headers[2] = {header, NULL};
    return itest_http_h(e, method, path, token, body, headers, out);
}

int itest_http_h(itest_env *e, const char *method, const char *path, const char *token, const char *body,
                 const char *const *headers, itest_resp *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[1024], auth[2048];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", e->port, path);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    for (size_t i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    buf b = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    int rc = curl_easy_perform(c) == CURLE_OK ? 0 : -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    char *ct = NULL;
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(out->content_type, sizeof out->content_type, "%s", ct);
    out->body = b.p ? b.p : strdup("");
    out->json = json_loads(out->body, 0, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

void itest_resp_free(itest_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

pid_t itest_spawn(const char *cmd)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int itest_wait(pid_t pid, int timeout_ms)
{
    int status = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (got < 0)
            return -1;
        usleep(100 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fprintf(stderr, "itest: pid %ld did not finish within %d ms: killed\n", (long)pid, timeout_ms);
    return -1;
}

int itest_invariants_hold(itest_env *e)
{
    tk_invariant inv[TK_INVARIANTS_MAX];
    char err[256];
    int n = tk_invariants_check(e->db, inv, TK_INVARIANTS_MAX, err, sizeof err), ok = n >= 5;
    if (n < 0)
        fprintf(stderr, "itest: invariants: %s\n", err);
    for (int i = 0; i < n; i++)
        if (!inv[i].ok) {
            fprintf(stderr, "itest: invariant failed: %s: %s\n", inv[i].name, inv[i].detail);
            ok = 0;
        }
    return ok;
}

char *itest_login_as(itest_env *e, const char *email, const char *password)
{
    char body[512];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    itest_resp r;
    itest_http(e, "POST", "/api/v1/auth/login", NULL, body, NULL, &r);
    char *tok = NULL;
    if (r.status == 200 && r.json && json_is_string(json_object_get(r.json, "token")))
        tok = strdup(json_string_value(json_object_get(r.json, "token")));
    itest_resp_free(&r);
    return tok;
}

char *itest_login(itest_env *e, int user_n)
{
    char email[64];
    snprintf(email, sizeof email, "user%d@bench.ticketctl", user_n);
    return itest_login_as(e, email, "bench-password");
}

long long itest_sql_i64(itest_env *e, const char *fmt, ...)
{
    char sql[2048], err[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    long long v = 0;
    int rc = tk_db_query_i64(e->db, sql, &v, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "itest: %s: %s\n", sql, err);
        return -1;
    }
    return rc == 1 ? 0 : v;
}

/* ---- webhook receiver ---------------------------------------------------- */

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

struct itest_hook {
    int fd, port, fail_first, requests, stop;
    json_t *bodies;
    pthread_mutex_t mu;
    pthread_t thread;
};

static void *hook_main(void *arg)
{
    itest_hook *h = arg;
    for (;;) {
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            break;
        pthread_mutex_lock(&h->mu);
        int stop = h->stop;
        pthread_mutex_unlock(&h->mu);
        if (stop) {
            close(c);
            break;
        }
        char buf[65536];
        size_t n = 0;
        long clen = -1;
        char *hdr_end = NULL;
        while (n < sizeof buf - 1) {
            ssize_t r = recv(c, buf + n, sizeof buf - 1 - n, 0);
            if (r <= 0)
                break;
            n += (size_t)r;
            buf[n] = '\0';
            if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
                char *cl = strcasestr(buf, "Content-Length:");
                clen = cl ? strtol(cl + 15, NULL, 10) : 0;
            }
            if (hdr_end && (long)(n - (size_t)(hdr_end + 4 - buf)) >= clen)
                break;
        }
        pthread_mutex_lock(&h->mu);
        int fail = h->requests < h->fail_first;
        h->requests++;
        if (!fail && hdr_end) {
            json_t *b = json_loads(hdr_end + 4, 0, NULL);
            json_array_append_new(h->bodies, b ? b : json_null());
        }
        pthread_mutex_unlock(&h->mu);
        const char *reply = fail ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                 : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (send(c, reply, strlen(reply), MSG_NOSIGNAL) < 0) { /* the client went away */
        }
        close(c);
    }
    return NULL;
}

itest_hook *itest_hook_start(int fail_first)
{
    itest_hook *h = calloc(1, sizeof *h);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&sin, sizeof sin) || listen(h->fd, 64) ||
        getsockname(h->fd, (struct sockaddr *)&sin, &sl)) {
        free(h);
        return NULL;
    }
    h->port = ntohs(sin.sin_port);
    h->fail_first = fail_first;
    h->bodies = json_array();
    pthread_mutex_init(&h->mu, NULL);
    pthread_create(&h->thread, NULL, hook_main, h);
    return h;
}

int itest_hook_port(itest_hook *h) { return h->port; }

int itest_hook_requests(itest_hook *h)
{
    pthread_mutex_lock(&h->mu);
    int n = h->requests;
    pthread_mutex_unlock(&h->mu);
    return n;
}

json_t *itest_hook_bodies(itest_hook *h)
{
    pthread_mutex_lock(&h->mu);
    json_t *copy = json_deep_copy(h->bodies);
    pthread_mutex_unlock(&h->mu);
    return copy;
}

void itest_hook_stop(itest_hook *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_mutex_unlock(&h->mu);
    /* wake accept() with a connection of our own */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (c >= 0) {
        if (connect(c, (struct sockaddr *)&sin, sizeof sin) != 0) { /* accept may have failed already */
        }
        close(c);
    }
    pthread_join(h->thread, NULL);
    close(h->fd);
    json_decref(h->bodies);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int itest_consume(itest_env *e, const char *topic, json_t *expected, int timeout_ms, int linger_ms, int *dups,
                  itest_event_fn each, void *arg)
{
    char errstr[512], group[64];
    snprintf(group, sizeof group, "itest-%d-%lld", (int)getpid(), (long long)tk_wall_ms());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", e->b.kafka, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "itest_consume: %s\n", errstr);
        return -1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
        parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (!parts || parts->cnt == 0 || rd_kafka_assign(rk, parts) != 0) {
        fprintf(stderr, "itest_consume: no partitions of %s to read\n", topic);
        if (parts)
            rd_kafka_topic_partition_list_destroy(parts);
        rd_kafka_destroy(rk);
        return -1;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    int want = (int)json_object_size(expected), got = 0;
    uint64_t deadline = tk_mono_ms() + (uint64_t)timeout_ms, linger_end = 0;
    while (tk_mono_ms() < (linger_end ? linger_end : deadline)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
            const char *eid = json_string_value(json_object_get(ev, "event_id"));
            json_t *c = eid ? json_object_get(expected, eid) : NULL;
            if (c) {
                json_int_t k = json_integer_value(c) + 1;
                json_object_set_new(expected, eid, json_integer(k));
                if (k == 1)
                    got++;
                else if (dups)
                    (*dups)++;
            }
            if (each && ev)
                each(m, ev, arg);
            json_decref(ev);
        }
        rd_kafka_message_destroy(m);
        if (got == want && !linger_end) {
            if (linger_ms <= 0)
                break;
            linger_end = tk_mono_ms() + (uint64_t)linger_ms;
        }
    }
    rd_kafka_assign(rk, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got;
}

long long itest_metric(itest_env *e, const char *series)
{
    itest_resp r;
    itest_http(e, "GET", "/metrics", NULL, NULL, NULL, &r);
    char pat[256];
    snprintf(pat, sizeof pat, "\n%s ", series);
    const char *at = r.body ? strstr(r.body, pat) : NULL;
    long long v = at ? strtoll(at + strlen(pat), NULL, 10) : -1;
    itest_resp_free(&r);
    return v;
}
