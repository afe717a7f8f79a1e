/* A slot-routing Redis Cluster client over hiredis 0.14's synchronous API
 * (see rcluster.h for the model and the spec it follows). */
#include "ticketctl/rcluster.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"

#include <hiredis/read.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RC_MAGIC 0x52434c55u /* "RCLU" */
#define RC_MAX_NODES 64
#define RC_RETRY_SLEEP_MS 100
#define RC_DEFAULT_BUDGET_MS 5000

/* ---- slots ----------------------------------------------------------------- */

uint16_t tk_redis_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

int tk_redis_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        const char *rest = open + 1;
        const char *close = memchr(rest, '}', len - (size_t)(rest - key));
        if (close && close > rest)
            return tk_redis_crc16(rest, (size_t)(close - rest)) & (TK_REDIS_SLOTS - 1);
    }
    return tk_redis_crc16(key, len) & (TK_REDIS_SLOTS - 1);
}

/* ---- URL -------------------------------------------------------------------- */

int tk_redis_url_is_cluster(const char *url) { return url && !strncmp(url, "redis-cluster://", 16); }

int tk_rcluster_url_seeds(const char *url, char (*seeds)[TK_URL_MAX], int cap, char *err, size_t errlen)
{
    if (!tk_redis_url_is_cluster(url))
        return tk_err(err, errlen, "Redis URL '%s': must start with redis-cluster://", url ? url : "");
    const char *p = url + 16, *at = strchr(p, '@'), *q = strchr(p, '?');
    if (at && q && at > q)
        at = NULL;
    char userinfo[256] = "", query[256] = "", hosts[TK_URL_MAX];
    if (at) {
        if ((size_t)(at - p) >= sizeof userinfo)
            return tk_err(err, errlen, "Redis URL '%s': user and password too long", url);
        memcpy(userinfo, p, (size_t)(at - p) + 1); /* with the '@' */
        userinfo[at - p + 1] = '\0';
        p = at + 1;
    }
    size_t hl = q ? (size_t)(q - p) : strlen(p);
    if (q && snprintf(query, sizeof query, "%s", q) >= (int)sizeof query)
        return tk_err(err, errlen, "Redis URL '%s': options too long", url);
    if (hl == 0 || hl >= sizeof hosts)
        return tk_err(err, errlen, "Redis URL '%s': want host:port[,host:port...]", url);
    memcpy(hosts, p, hl);
    hosts[hl] = '\0';
    if (hl && hosts[hl - 1] == '/')
        hosts[--hl] = '\0';
    int n = 0;
    char *save = NULL;
    for (char *h = strtok_r(hosts, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
        if (n >= cap)
            return tk_err(err, errlen, "Redis URL '%s': more than %d seeds", url, cap);
        if (strchr(h, '/'))
            return tk_err(err, errlen, "Redis URL '%s': a cluster has no database number (/N)", url);
        if (snprintf(seeds[n], TK_URL_MAX, "redis://%s%s%s", userinfo, h, query) >= TK_URL_MAX)
            return tk_err(err, errlen, "Redis URL '%s': too long", url);
        char e[256];
        tk_redis_url u;
        if (tk_redis_url_parse_full(seeds[n], &u, e, sizeof e) != 0)
            return tk_err(err, errlen, "Redis URL '%s': seed %d: %s", url, n + 1, e);
        n++;
    }
    if (n == 0)
        return tk_err(err, errlen, "Redis URL '%s': want host:port[,host:port...]", url);
    return n;
}

/* ---- the handle -------------------------------------------------------------- */

typedef struct rc_node {
    char host[128];
    int port;
    int replicas;    /* live replicas CLUSTER SLOTS lists for this master */
    redisContext *c; /* NULL until used, or after it failed */
} rc_node;

typedef struct rc_cluster {
    uint32_t magic;
    char userinfo[256], query[256]; /* for URLs of discovered nodes */
    int budget_ms;                  /* retry budget of one command */
    int nnodes;
    rc_node nodes[RC_MAX_NODES];
    int16_t slot_node[TK_REDIS_SLOTS]; /* index into nodes, -1 unknown */
    tk_rcluster_stats st;
} rc_cluster;

static rc_cluster *cluster_of(const redisContext *c)
{
    if (!c || !c->reader)
        return NULL;
    rc_cluster *cl = c->reader->privdata;
    return cl && cl->magic == RC_MAGIC ? cl : NULL;
}

int tk_redis_is_cluster(const redisContext *c) { return cluster_of(c) != NULL; }

static void node_drop(rc_cluster *cl, int i)
{
    if (cl->nodes[i].c) {
        redisFree(cl->nodes[i].c);
        cl->nodes[i].c = NULL;
    }
}

void tk_redis_free(redisContext *c)
{
    if (!c)
        return;
    rc_cluster *cl = cluster_of(c);
    if (cl) {
        for (int i = 0; i < cl->nnodes; i++)
            node_drop(cl, i);
        cl->magic = 0;
        free(cl);
        c->reader->privdata = NULL;
    }
    redisFree(c);
}

static int node_find(rc_cluster *cl, const char *host, int port, int add)
{
    for (int i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i].port == port && !strcmp(cl->nodes[i].host, host))
            return i;
    if (!add || cl->nnodes >= RC_MAX_NODES || strlen(host) >= sizeof cl->nodes[0].host)
        return -1;
    rc_node *n = &cl->nodes[cl->nnodes];
    memset(n, 0, sizeof *n);
    memcpy(n->host, host, strlen(host) + 1);
    n->port = port;
    cl->st.nodes = cl->nnodes + 1;
    return cl->nnodes++;
}

/* The node's connection, connecting when needed; NULL when it is down. */
static redisContext *node_conn(rc_cluster *cl, int i)
{
    rc_node *n = &cl->nodes[i];
    if (n->c && n->c->err)
        node_drop(cl, i);
    if (!n->c) {
        char url[TK_URL_MAX * 2];
        int v6 = strchr(n->host, ':') != NULL;
        snprintf(url, sizeof url, "redis://%s%s%s%s:%d%s", cl->userinfo, v6 ? "[" : "", n->host, v6 ? "]" : "",
                 n->port, cl->query);
        n->c = tk_redis_connect(url, NULL, 0);
        if (n->c)
            cl->st.reconnects++;
    }
    return n->c;
}

/* "host:port" of a MOVED/ASK reply ("MOVED 3999 127.0.0.1:6381") -> node index. */
static int node_of_redirect(rc_cluster *cl, const char *s, int *slot)
{
    const char *sp1 = strchr(s, ' ');
    const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp2)
        return -1;
    *slot = atoi(sp1 + 1);
    const char *hp = sp2 + 1, *colon = strrchr(hp, ':');
    if (!colon || colon == hp || (size_t)(colon - hp) >= 128)
        return -1;
    char host[128];
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    int port = atoi(colon + 1);
    if (*slot < 0 || *slot >= TK_REDIS_SLOTS || port <= 0 || port > 65535)
        return -1;
    return node_find(cl, host, port, 1);
}

/* Load the slot map from CLUSTER SLOTS of one node that answers, trying
 * `avoid` (a node that just failed) last. 0, or -1 when none answered. */
static int map_refresh(rc_cluster *cl, int avoid)
{
    cl->st.refreshes++;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < cl->nnodes; i++) {
            if ((i == avoid) != (pass == 1))
                continue;
            redisContext *c = node_conn(cl, i);
            if (!c)
                continue;
            redisReply *r = redisCommand(c, "CLUSTER SLOTS");
            if (!r) {
                node_drop(cl, i);
                continue;
            }
            if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
                freeReplyObject(r);
                continue;
            }
            for (int s = 0; s < TK_REDIS_SLOTS; s++)
                cl->slot_node[s] = -1;
            for (size_t k = 0; k < r->elements; k++) {
                redisReply *e = r->element[k];
                if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[2]->type != REDIS_REPLY_ARRAY ||
                    e->element[2]->elements < 2)
                    continue;
                redisReply *m = e->element[2];
                const char *host = m->element[0]->type == REDIS_REPLY_STRING && m->element[0]->len > 0
                                       ? m->element[0]->str
                                       : cl->nodes[i].host; /* "" means the node we asked */
                int idx = node_find(cl, host, (int)m->element[1]->integer, 1);
                if (idx >= 0) /* the entries after the master are its (non-failed) replicas */
                    cl->nodes[idx].replicas = (int)e->elements - 3;
                long long a = e->element[0]->integer, b = e->element[1]->integer;
                for (long long s = a; idx >= 0 && s <= b && s < TK_REDIS_SLOTS; s++)
                    if (s >= 0)
                        cl->slot_node[s] = (int16_t)idx;
            }
            freeReplyObject(r);
            return 0;
        }
    return -1;
}

redisContext *tk_rcluster_connect(const char *url, char *err, size_t errlen)
{
    char seeds[16][TK_URL_MAX];
    int n = tk_rcluster_url_seeds(url, seeds, 16, err, errlen);
    if (n < 0)
        return NULL;
    rc_cluster *cl = calloc(1, sizeof *cl);
    if (!cl) {
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    cl->magic = RC_MAGIC;
    const char *p = url + 16, *at = strchr(p, '@'), *q = strchr(p, '?');
    if (at && (!q || at < q))
        snprintf(cl->userinfo, sizeof cl->userinfo, "%.*s", (int)(at - p + 1), p);
    if (q)
        snprintf(cl->query, sizeof cl->query, "%s", q);
    redisContext *front = NULL;
    char e[256] = "";
    for (int i = 0; i < n; i++) {
        tk_redis_url u;
        if (tk_redis_url_parse_full(seeds[i], &u, NULL, 0) != 0)
            continue;
        cl->budget_ms = u.timeout_ms ? u.timeout_ms : RC_DEFAULT_BUDGET_MS;
        node_find(cl, u.host, u.port, 1);
        if (!front)
            front = tk_redis_connect(seeds[i], e, sizeof e);
    }
    for (int s = 0; s < TK_REDIS_SLOTS; s++)
        cl->slot_node[s] = -1;
    int covered = front && map_refresh(cl, -1) == 0;
    for (int s = 0; covered && s < TK_REDIS_SLOTS; s++)
        if (cl->slot_node[s] < 0)
            covered = 0;
    if (!covered) {
        if (front)
            tk_err(err, errlen, "Redis Cluster %s: CLUSTER SLOTS does not cover every slot (cluster not created, "
                                "or not in cluster mode)", url);
        else
            tk_err(err, errlen, "Redis Cluster %s: no seed answers: %s", url, e);
        for (int i = 0; i < cl->nnodes; i++)
            node_drop(cl, i);
        free(cl);
        if (front)
            redisFree(front);
        return NULL;
    }
    front->reader->privdata = cl;
    return front;
}

/* ---- commands ----------------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int is_err(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, prefix, strlen(prefix));
}

/* Send a formatted command (RESP bytes) to node i, after ASKING when asked. */
static redisReply *node_send(rc_cluster *cl, int i, const char *cmd, size_t len, int asking)
{
    redisContext *c = node_conn(cl, i);
    if (!c)
        return NULL;
    if (asking)
        redisAppendCommand(c, "ASKING");
    redisAppendFormattedCommand(c, cmd, len);
    redisReply *r = NULL;
    if (asking) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            node_drop(cl, i);
            return NULL;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
        node_drop(cl, i);
        return NULL;
    }
    return r;
}

/* The routing loop of one formatted command. */
static redisReply *cluster_run(rc_cluster *cl, const char *key, size_t keylen, const char *cmd, size_t len,
                               char *err, size_t errlen)
{
    int slot = key ? tk_redis_slot(key, keylen) : -1, ask_node = -1, asked = 0, keyless_tries = 0;
    uint64_t deadline = tk_mono_ms() + (uint64_t)cl->budget_ms;
    const char *why = "no node answers";
    for (;;) {
        int i = ask_node >= 0 ? ask_node : slot >= 0 ? cl->slot_node[slot] : -1;
        if (i < 0) /* unknown slot, or a keyless command: any node that answers */
            for (int k = 0; k < cl->nnodes && i < 0; k++)
                if (node_conn(cl, k))
                    i = k;
        redisReply *r = i >= 0 ? node_send(cl, i, cmd, len, ask_node >= 0) : NULL;
        ask_node = -1;
        int moved_slot = -1;
        if (r && is_err(r, "MOVED ")) {
            int to = node_of_redirect(cl, r->str, &moved_slot);
            cl->st.moved++;
            freeReplyObject(r);
            if (to >= 0) {
                cl->slot_node[moved_slot] = (int16_t)to;
                map_refresh(cl, -1); /* a MOVED usually means the map changed for many slots */
                if (to >= 0 && moved_slot == slot)
                    cl->slot_node[slot] = (int16_t)to;
            }
            why = "MOVED";
        } else if (r && is_err(r, "ASK ")) {
            cl->st.ask++;
            ask_node = asked ? -1 : node_of_redirect(cl, r->str, &moved_slot);
            freeReplyObject(r);
            if (ask_node < 0)
                return tk_err(err, errlen, "redis: ASK redirection failed twice"), NULL;
            asked = 1;
            why = "ASK";
        } else if (r && (is_err(r, "CLUSTERDOWN") || is_err(r, "TRYAGAIN") || is_err(r, "LOADING") ||
                         is_err(r, "MASTERDOWN"))) {
            why = "the cluster is down";
            freeReplyObject(r);
            sleep_ms(RC_RETRY_SLEEP_MS);
            map_refresh(cl, i);
        } else if (r) {
            return r;
        } else {
            why = "a node does not answer";
            if (slot < 0 && i >= 0 && ++keyless_tries < cl->nnodes)
                continue; /* a keyless command: the next node at once (node_send dropped this one) */
            keyless_tries = 0;
            sleep_ms(RC_RETRY_SLEEP_MS); /* a failover takes about cluster-node-timeout */
            map_refresh(cl, i);
        }
        if (tk_mono_ms() >= deadline) {
            tk_err(err, errlen, "redis cluster: %s (gave up after %d ms)", why, cl->budget_ms);
            return NULL;
        }
    }
}

/* RESP bytes of an argv command (redisFormatCommandArgv) then route. */
redisReply *tk_redis_argv(redisContext *c, const char *key, int argc, const char **argv, const size_t *argvlen,
                          char *err, size_t errlen)
{
    if (!c) {
        tk_err(err, errlen, "no Redis connection");
        return NULL;
    }
    rc_cluster *cl = cluster_of(c);
    if (!cl) {
        redisReply *r = redisCommandArgv(c, argc, argv, argvlen);
        if (!r)
            tk_err(err, errlen, "redis: %s", c->errstr[0] ? c->errstr : "no answer");
        return r;
    }
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0) {
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    redisReply *r = cluster_run(cl, key, key ? strlen(key) : 0, cmd, (size_t)len, err, errlen);
    free(cmd);
    return r;
}

redisReply *tk_redis_cmd(redisContext *c, const char *key, const char *fmt, ...)
{
    if (!c)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    rc_cluster *cl = cluster_of(c);
    redisReply *r = NULL;
    if (!cl) {
        r = redisvCommand(c, fmt, ap);
    } else {
        char *cmd = NULL;
        int len = redisvFormatCommand(&cmd, fmt, ap);
        if (len >= 0)
            r = cluster_run(cl, key, key ? strlen(key) : 0, cmd, (size_t)len, NULL, 0);
        free(cmd);
    }
    va_end(ap);
    return r;
}

static pthread_mutex_t sha_mu = PTHREAD_MUTEX_INITIALIZER;

redisReply *tk_redis_eval(redisContext *c, const char *script, char sha_cache[41], int numkeys, int argc,
                          const char **argv, char *err, size_t errlen)
{
    if (!c) {
        tk_err(err, errlen, "no Redis connection");
        return NULL;
    }
    const char *key = numkeys > 0 && argc > 0 ? argv[0] : NULL;
    char sha[41];
    pthread_mutex_lock(&sha_mu);
    memcpy(sha, sha_cache, 41);
    pthread_mutex_unlock(&sha_mu);
    if (!sha[0]) {
        const char *lv[] = {"SCRIPT", "LOAD", script};
        redisReply *r = tk_redis_argv(c, key, 3, lv, NULL, err, errlen);
        if (r && r->type == REDIS_REPLY_STRING && r->len == 40) {
            memcpy(sha, r->str, 41);
            pthread_mutex_lock(&sha_mu);
            memcpy(sha_cache, sha, 41);
            pthread_mutex_unlock(&sha_mu);
        }
        if (r)
            freeReplyObject(r);
    }
    enum { MAX_ARGS = 64 };
    if (argc > MAX_ARGS - 3) {
        tk_err(err, errlen, "redis: too many script arguments");
        return NULL;
    }
    const char *av[MAX_ARGS];
    char nk[16];
    snprintf(nk, sizeof nk, "%d", numkeys);
    av[0] = sha[0] ? "EVALSHA" : "EVAL";
    av[1] = sha[0] ? sha : script;
    av[2] = nk;
    for (int i = 0; i < argc; i++)
        av[3 + i] = argv[i];
    redisReply *r = tk_redis_argv(c, key, argc + 3, av, NULL, err, errlen);
    if (is_err(r, "NOSCRIPT")) { /* this node has not seen it (restarted, promoted, or new) */
        freeReplyObject(r);
        av[0] = "EVAL";
        av[1] = script;
        r = tk_redis_argv(c, key, argc + 3, av, NULL, err, errlen);
    }
    return r;
}

redisContext *tk_redis_node(redisContext *c, const char *key)
{
    rc_cluster *cl = cluster_of(c);
    if (!cl)
        return c;
    int slot = tk_redis_slot(key, strlen(key));
    if (cl->slot_node[slot] < 0 && map_refresh(cl, -1) != 0)
        return NULL;
    int i = cl->slot_node[slot];
    return i >= 0 ? node_conn(cl, i) : NULL;
}

int tk_redis_get_many(redisContext *c, size_t n, const char *const *keys, redisReply **out)
{
    if (!c || n > TK_REDIS_GET_MANY_MAX)
        return -1;
    redisContext *via[TK_REDIS_GET_MANY_MAX];
    for (size_t i = 0; i < n; i++) { /* one pipeline per node, all sent before any is read */
        out[i] = NULL;
        via[i] = tk_redis_node(c, keys[i]);
        if (via[i] && redisAppendCommand(via[i], "GET %s", keys[i]) != REDIS_OK)
            via[i] = NULL;
    }
    for (size_t i = 0; i < n; i++) /* each node answers in the order it was asked */
        if (via[i] && redisGetReply(via[i], (void **)&out[i]) != REDIS_OK)
            out[i] = NULL;
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] && out[i]->type != REDIS_REPLY_ERROR)
            continue;
        if (out[i]) /* MOVED, ASK, CLUSTERDOWN, ...: once more through the router, which follows them */
            freeReplyObject(out[i]);
        out[i] = cluster_of(c) ? tk_redis_cmd(c, keys[i], "GET %s", keys[i]) : NULL;
        if (!out[i] || out[i]->type == REDIS_REPLY_ERROR)
            ok = -1;
    }
    return ok;
}

int tk_rcluster_node_url(const redisContext *c, int i, char *url, size_t n)
{
    const rc_cluster *cl = cluster_of(c);
    if (!cl)
        return 0;
    if (i >= 0 && i < cl->nnodes && url && n) {
        const rc_node *nd = &cl->nodes[i];
        int v6 = strchr(nd->host, ':') != NULL;
        snprintf(url, n, "redis://%s%s%s%s:%d%s", cl->userinfo, v6 ? "[" : "", nd->host, v6 ? "]" : "", nd->port,
                 cl->query);
    }
    return cl->nnodes;
}

int tk_redis_wait_replica(redisContext *c, const char *key, int timeout_ms)
{
    rc_cluster *cl = cluster_of(c);
    if (!cl)
        return 0;
    int i = cl->slot_node[tk_redis_slot(key, strlen(key))];
    if (i >= 0 && cl->nodes[i].replicas <= 0)
        return 0; /* a master whose replica is gone (it took over): nobody to wait for */
    redisReply *r = tk_redis_cmd(c, key, "WAIT 1 %d", timeout_ms);
    int n = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (r)
        freeReplyObject(r);
    return n;
}

int tk_redis_ping(redisContext *c)
{
    redisReply *r = tk_redis_cmd(c, NULL, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

void tk_rcluster_stats_get(const redisContext *c, tk_rcluster_stats *out)
{
    rc_cluster *cl = cluster_of(c);
    memset(out, 0, sizeof *out);
    if (cl)
        *out = cl->st;
}
