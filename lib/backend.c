/* Backends as users have them (backend.h): mysql:// and redis:// URLs
 * parsed by libcurl's URL API (curl_url(3), RFC 3986), their options
 * applied to the connections, and the flag > environment > dev stack
 * resolution every command uses. What we add to curl is the policy: which
 * parts each scheme takes, strict percent-escapes, ports 1-65535, and a
 * clear message naming the URL and the part at fault. */
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"
#include "ticketctl/rcluster.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- URLs ---------------------------------------------------------------- */

/* Every '%' in s starts a two-hex-digit escape other than %00. */
static int escapes_ok(const char *s)
{
    for (; s && *s; s++)
        if (*s == '%') {
            if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]) || (s[1] == '0' && s[2] == '0'))
                return 0;
            s += 2;
        }
    return 1;
}

typedef struct url_parts {
    char *scheme, *user, *pass, *host, *port, *path, *query, *fragment;
} url_parts;

static void parts_free(url_parts *p)
{
    curl_free(p->scheme), curl_free(p->user), curl_free(p->pass), curl_free(p->host);
    curl_free(p->port), curl_free(p->path), curl_free(p->query), curl_free(p->fragment);
    memset(p, 0, sizeof *p);
}

/* Split url with curl; user and password are checked for valid escapes,
 * then decoded. Returns 0, or -1 with "why" in err. */
static int url_split(const char *url, url_parts *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    CURLU *u = curl_url();
    if (!u)
        return tk_err(err, errlen, "out of memory");
    int rc = -1;
    char *raw_user = NULL, *raw_pass = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        tk_err(err, errlen, "%s%s", curl_url_strerror(uc),
               uc == CURLUE_BAD_HOSTNAME && strchr(url, '@') != strrchr(url, '@')
                   ? " (write '@' in a user or password as %40)" : "");
        goto out;
    }
    curl_url_get(u, CURLUPART_SCHEME, &p->scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &p->host, 0);
    curl_url_get(u, CURLUPART_PORT, &p->port, 0);
    curl_url_get(u, CURLUPART_PATH, &p->path, 0);
    curl_url_get(u, CURLUPART_QUERY, &p->query, 0);
    curl_url_get(u, CURLUPART_FRAGMENT, &p->fragment, 0);
    if (curl_url_get(u, CURLUPART_USER, &raw_user, 0) == CURLUE_OK &&
        (!escapes_ok(raw_user) || curl_url_get(u, CURLUPART_USER, &p->user, CURLU_URLDECODE) != CURLUE_OK)) {
        tk_err(err, errlen, "bad %%-escape in the user");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PASSWORD, &raw_pass, 0) == CURLUE_OK &&
        (!escapes_ok(raw_pass) || curl_url_get(u, CURLUPART_PASSWORD, &p->pass, CURLU_URLDECODE) != CURLUE_OK)) {
        tk_err(err, errlen, "bad %%-escape in the password");
        goto out;
    }
    if (p->fragment) {
        tk_err(err, errlen, "a '#fragment' means nothing here");
        goto out;
    }
    rc = 0;
out:
    curl_free(raw_user);
    curl_free(raw_pass);
    curl_url_cleanup(u);
    if (rc != 0)
        parts_free(p);
    return rc;
}

/* Host without IPv6 brackets, length-checked. */
static int take_host(const char *h, char *out, size_t cap, char *err, size_t errlen)
{
    if (!h || !*h)
        return tk_err(err, errlen, "empty host");
    size_t n = strlen(h);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']')
        h++, n -= 2;
    if (n == 0)
        return tk_err(err, errlen, "empty host");
    if (n >= cap)
        return tk_err(err, errlen, "host too long");
    memcpy(out, h, n);
    out[n] = '\0';
    return 0;
}

static int take_port(const char *p, unsigned def, unsigned *out, char *err, size_t errlen)
{
    int64_t v;
    if (!p || !*p) {
        *out = def;
        return 0;
    }
    if (tk_parse_i64(p, 1, 65535, &v) != 0)
        return tk_err(err, errlen, "port out of range (1-65535)");
    *out = (unsigned)v;
    return 0;
}

static int copy_field(char *dst, size_t cap, const char *src, const char *what, char *err, size_t errlen)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return tk_err(err, errlen, "%s too long (at most %zu bytes)", what, cap - 1);
    memcpy(dst, src ? src : "", n + 1);
    return 0;
}

/* Walk "k=v&k2=v2": calls fn(key, decoded value) for each; -1 stops. */
typedef int (*opt_fn)(void *ctx, const char *key, const char *val, char *err, size_t errlen);

static int each_option(const char *query, opt_fn fn, void *ctx, char *err, size_t errlen)
{
    if (!query || !*query)
        return 0;
    char *q = strdup(query);
    if (!q)
        return tk_err(err, errlen, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *kv = strtok_r(q, "&", &save); kv && rc == 0; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            rc = tk_err(err, errlen, "option '%s' is not key=value", kv);
            break;
        }
        *eq = '\0';
        if (!escapes_ok(eq + 1)) {
            rc = tk_err(err, errlen, "bad %%-escape in option %s", kv);
            break;
        }
        int len = 0;
        char *val = curl_easy_unescape(NULL, eq + 1, 0, &len); /* a NULL handle is allowed since 7.82 */
        if (!val || (int)strlen(val) != len) {
            curl_free(val);
            rc = tk_err(err, errlen, "bad value of option %s", kv);
            break;
        }
        rc = fn(ctx, kv, val, err, errlen);
        curl_free(val);
    }
    free(q);
    return rc;
}

/* ---- mysql:// ------------------------------------------------------------ */

static const struct {
    const char *name;
    tk_mysql_tls mode;
} tls_modes[] = {
    {"DISABLED", TK_MYSQL_TLS_DISABLED},
    {"REQUIRED", TK_MYSQL_TLS_REQUIRED},
    {"VERIFY_CA", TK_MYSQL_TLS_VERIFY},
    {"VERIFY_IDENTITY", TK_MYSQL_TLS_VERIFY},
};

static int mysql_option(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
    tk_mysql_url *u = ctx;
    if (!strcmp(key, "ssl-mode")) {
        for (size_t i = 0; i < sizeof tls_modes / sizeof tls_modes[0]; i++)
            if (!strcasecmp(val, tls_modes[i].name)) {
                u->tls = tls_modes[i].mode;
                return 0;
            }
        return tk_err(err, errlen, "ssl-mode=%s: want DISABLED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY", val);
    }
    struct {
        const char *key;
        char *dst;
        size_t cap;
    } paths[] = {
        {"ssl-ca", u->tls_ca, sizeof u->tls_ca},
        {"ssl-capath", u->tls_capath, sizeof u->tls_capath},
        {"ssl-cert", u->tls_cert, sizeof u->tls_cert},
        {"ssl-key", u->tls_key, sizeof u->tls_key},
        {"ssl-cipher", u->tls_cipher, sizeof u->tls_cipher},
        {"socket", u->socket, sizeof u->socket},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (!strcmp(key, paths[i].key)) {
            if (paths[i].dst == u->socket) {
                if (val[0] != '/')
                    return tk_err(err, errlen, "socket=%s: want an absolute path to the server's Unix socket", val);
                return copy_field(u->socket, sizeof u->socket, val, key, err, errlen);
            }
            if (u->tls == TK_MYSQL_TLS_DISABLED)
                u->tls = TK_MYSQL_TLS_REQUIRED; /* a CA or a certificate means TLS is wanted */
            return copy_field(paths[i].dst, paths[i].cap, val, key, err, errlen);
        }
    if (!strcmp(key, "max-statement-time")) {
        int64_t ms;
        if (tk_parse_duration_ms(val, &ms) != 0 || ms < 1 || ms > 3600000)
            return tk_err(err, errlen, "max-statement-time=%s: want a duration such as 2s or 1500ms (1 ms - 3600 s)",
                          val);
        u->max_statement_time_ms = (unsigned)ms;
        return 0;
    }
    struct {
        const char *key;
        unsigned *dst;
    } timeouts[] = {
        {"connect-timeout", &u->connect_timeout_s},
        {"read-timeout", &u->read_timeout_s},
        {"write-timeout", &u->write_timeout_s},
    };
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++)
        if (!strcmp(key, timeouts[i].key)) {
            int64_t s;
            if (tk_parse_i64(val, 1, 3600, &s) != 0)
                return tk_err(err, errlen, "%s=%s: want whole seconds, 1-3600", key, val);
            *timeouts[i].dst = (unsigned)s;
            return 0;
        }
    return tk_err(err, errlen,
                  "unknown option '%s' (known: ssl-mode, ssl-ca, ssl-capath, ssl-cert, ssl-key, ssl-cipher, "
                  "connect-timeout, read-timeout, write-timeout, max-statement-time, socket)",
                  key);
}

int tk_mysql_url_parse(const char *url, tk_mysql_url *out, char *err, size_t errlen)
{
    char e[256];
    if (!url || !out)
        return tk_err(err, errlen, "mysql URL: missing");
    memset(out, 0, sizeof *out);
    if (strncmp(url, "mysql://", 8) && strncmp(url, "mariadb://", 10))
        return tk_err(err, errlen, "mysql URL '%s': must start with mysql://", url);
    url_parts p;
    if (url_split(url, &p, e, sizeof e) != 0)
        return tk_err(err, errlen, "mysql URL '%s': %s", url, e);
    int rc = -1;
    if (!p.user || !*p.user) {
        tk_err(err, errlen, "mysql URL '%s': %s", url, p.user ? "empty user" : "missing user@");
        goto out;
    }
    const char *db = p.path && p.path[0] == '/' ? p.path + 1 : "";
    if (!*db) {
        tk_err(err, errlen, "mysql URL '%s': missing /database", url);
        goto out;
    }
    if (strpbrk(db, "/%: ")) {
        tk_err(err, errlen, "mysql URL '%s': bad database name", url);
        goto out;
    }
    if (copy_field(out->user, sizeof out->user, p.user, "user", e, sizeof e) != 0 ||
        copy_field(out->pass, sizeof out->pass, p.pass, "password", e, sizeof e) != 0 ||
        take_host(p.host, out->host, sizeof out->host, e, sizeof e) != 0 ||
        take_port(p.port, 3306, &out->port, e, sizeof e) != 0 ||
        copy_field(out->db, sizeof out->db, db, "database name", e, sizeof e) != 0 ||
        each_option(p.query, mysql_option, out, e, sizeof e) != 0) {
        tk_err(err, errlen, "mysql URL '%s': %s", url, e);
        goto out;
    }
    rc = 0;
out:
    parts_free(&p);
    return rc;
}

int tk_mysql_url_apply(MYSQL *m, const tk_mysql_url *u)
{
    unsigned timeout = u->connect_timeout_s ? u->connect_timeout_s : 10;
    int rc = mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    /* a stalled server then fails a call instead of hanging it (Connector/C
     * retries a read once, so a read can take up to 2x this) */
    if (u->read_timeout_s)
        rc |= mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &u->read_timeout_s);
    if (u->write_timeout_s)
        rc |= mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &u->write_timeout_s);
    if (u->max_statement_time_ms) {
        /* Connector/C keeps a list of init commands (copied), run after
         * every connect and auto-reconnect; the server takes seconds with
         * a fraction */
        char sql[96];
        snprintf(sql, sizeof sql, "SET SESSION max_statement_time = %u.%03u", u->max_statement_time_ms / 1000,
                 u->max_statement_time_ms % 1000);
        rc |= mysql_optionsv(m, MYSQL_INIT_COMMAND, sql);
    }
    if (u->tls == TK_MYSQL_TLS_DISABLED)
        return rc ? -1 : 0;
    my_bool on = 1, verify = u->tls == TK_MYSQL_TLS_VERIFY;
    rc |= mysql_ssl_set(m, u->tls_key[0] ? u->tls_key : NULL, u->tls_cert[0] ? u->tls_cert : NULL,
                        u->tls_ca[0] ? u->tls_ca : NULL, u->tls_capath[0] ? u->tls_capath : NULL,
                        u->tls_cipher[0] ? u->tls_cipher : NULL);
    rc |= mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    rc |= mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    return rc ? -1 : 0;
}

int tk_mysql_url_verify(MYSQL *m, const tk_mysql_url *u, char *err, size_t errlen)
{
    /* Connector/C 3.3 refuses a server without TLS only when it also
     * verifies the certificate; for REQUIRED it silently talks plain text.
     * So check what the connection actually is. */
    if (u->tls != TK_MYSQL_TLS_DISABLED && !mysql_get_ssl_cipher(m))
        return tk_err(err, errlen, "MariaDB at %s:%u: ssl-mode asks for TLS, but the connection is not encrypted "
                                   "(the server has no TLS: have_ssl=DISABLED?)",
                      u->host, u->port);
    return 0;
}

/* ---- redis:// ------------------------------------------------------------ */

static int redis_option(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
    tk_redis_url *u = ctx;
    if (!strcmp(key, "timeout")) {
        int64_t ms;
        if (tk_parse_duration_ms(val, &ms) != 0 || ms <= 0 || ms > 600000)
            return tk_err(err, errlen, "timeout=%s: want a duration such as 5s or 500ms", val);
        u->timeout_ms = (int)ms;
        return 0;
    }
    return tk_err(err, errlen, "unknown option '%s' (known: timeout)", key);
}

int tk_redis_url_parse_full(const char *url, tk_redis_url *out, char *err, size_t errlen)
{
    char e[256];
    if (!url || !out)
        return tk_err(err, errlen, "Redis URL: missing");
    memset(out, 0, sizeof *out);
    if (!strncmp(url, "rediss://", 9))
        return tk_err(err, errlen,
                      "Redis URL '%s': rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS. "
                      "Reach a TLS Redis through a local tunnel (e.g. stunnel) and use redis://",
                      url);
    if (strncmp(url, "redis://", 8))
        return tk_err(err, errlen, "Redis URL '%s': must start with redis:// (or redis-cluster://h:p,h:p)", url);
    url_parts p;
    if (url_split(url, &p, e, sizeof e) != 0)
        return tk_err(err, errlen, "Redis URL '%s': %s", url, e);
    int rc = -1;
    unsigned port = 6379;
    const char *db = p.path && p.path[0] == '/' ? p.path + 1 : "";
    int64_t dbn = 0;
    if (*db && tk_parse_i64(db, 0, 1000000, &dbn) != 0) {
        tk_err(err, errlen, "Redis URL '%s': the path is a database number (/0, /1, ...)", url);
        goto out;
    }
    if (p.pass && !*p.pass) {
        tk_err(err, errlen, "Redis URL '%s': empty password", url);
        goto out;
    }
    if (take_host(p.host, out->host, sizeof out->host, e, sizeof e) != 0 ||
        take_port(p.port, 6379, &port, e, sizeof e) != 0 ||
        copy_field(out->user, sizeof out->user, p.user, "user", e, sizeof e) != 0 ||
        copy_field(out->pass, sizeof out->pass, p.pass, "password", e, sizeof e) != 0 ||
        each_option(p.query, redis_option, out, e, sizeof e) != 0) {
        tk_err(err, errlen, "Redis URL '%s': %s", url, e);
        goto out;
    }
    if (out->user[0] && !out->pass[0]) {
        tk_err(err, errlen, "Redis URL '%s': a user needs a password (redis://user:pass@host)", url);
        goto out;
    }
    out->port = (int)port;
    out->db = (int)dbn;
    rc = 0;
out:
    parts_free(&p);
    return rc;
}

int tk_redis_url_parse(const char *url, char *host, size_t hostlen, int *port)
{
    tk_redis_url u;
    char seeds[16][TK_URL_MAX];
    if (tk_redis_url_is_cluster(url)) { /* the first seed */
        if (tk_rcluster_url_seeds(url, seeds, 16, NULL, 0) < 0)
            return -1;
        url = seeds[0];
    }
    if (!host || !port || tk_redis_url_parse_full(url, &u, NULL, 0) != 0 || strlen(u.host) >= hostlen)
        return -1;
    memcpy(host, u.host, strlen(u.host) + 1);
    *port = u.port;
    return 0;
}

/* One command that must answer OK. */
static int redis_ok(redisContext *c, char *err, size_t errlen, const char *what, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok)
        tk_err(err, errlen, "Redis %s failed: %s", what,
               r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr[0] ? c->errstr : "no answer");
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

redisContext *tk_redis_connect(const char *url, char *err, size_t errlen)
{
    tk_redis_url u;
    if (tk_redis_url_is_cluster(url))
        return tk_rcluster_connect(url, err, errlen);
    if (tk_redis_url_parse_full(url, &u, err, errlen) != 0)
        return NULL;
    int ms = u.timeout_ms ? u.timeout_ms : 5000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(u.host, u.port, tv);
    if (!c || c->err) {
        tk_err(err, errlen, "cannot connect to Redis at %s:%d: %s", u.host, u.port, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    char dbs[16];
    snprintf(dbs, sizeof dbs, "%d", u.db);
    const char *auth[] = {"AUTH", u.user[0] ? u.user : u.pass, u.pass};
    const char *sel[] = {"SELECT", dbs};
    if ((u.pass[0] && redis_ok(c, err, errlen, "AUTH", u.user[0] ? 3 : 2, auth) != 0) ||
        (u.db && redis_ok(c, err, errlen, "SELECT", 2, sel) != 0)) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* ---- resolution: flag > environment > dev stack --------------------------- */

int tk_backend_resolve_some(tk_backend *b, unsigned need, const char *mysql, const char *redis,
                            const char *kafka, const char *state_dir, int autostart, char *err,
                            size_t errlen)
{
    static const char *const envs[TK_DEV_NCOMP] = {"TICKETCTL_MYSQL", "TICKETCTL_REDIS",
                                                    "TICKETCTL_KAFKA_BROKERS"};
    static const char *const flags[TK_DEV_NCOMP] = {"--mysql", "--redis", "--kafka-brokers"};
    static const char *const what[TK_DEV_NCOMP] = {"MariaDB URL", "Redis URL", "Kafka brokers"};
    const char *given[TK_DEV_NCOMP] = {mysql, redis, kafka};
    char *dst[TK_DEV_NCOMP];
    memset(b, 0, sizeof *b);
    dst[TK_DEV_MYSQL] = b->mysql;
    dst[TK_DEV_REDIS] = b->redis;
    dst[TK_DEV_KAFKA] = b->kafka;
    if (tk_dev_state_dir(state_dir, b->state_dir, sizeof b->state_dir, err, errlen) != 0)
        return -1;

    int missing_needed = 0, missing_any = 0;
    for (int i = 0; i < TK_DEV_NCOMP; i++) {
        const char *v = (given[i] && *given[i]) ? given[i] : getenv(envs[i]);
        if (v && *v && copy_field(dst[i], TK_URL_MAX, v, what[i], NULL, 0) != 0)
            return tk_err(err, errlen, "%s too long (max %d bytes)", what[i], TK_URL_MAX - 1);
        if (!dst[i][0]) {
            missing_any = 1;
            if (need & (1u << i))
                missing_needed = 1;
        }
    }
    if (missing_any) {
        tk_dev_env env;
        int have = tk_dev_env_read(b->state_dir, &env, err, errlen);
        if (have < 0)
            return -1;
        if (missing_needed) {
            tk_dev_report st;
            if (tk_dev_status(b->state_dir, &st, err, errlen) != 0)
                return -1;
            if (!st.all_running) {
                if (!autostart) {
                    for (int i = 0; i < TK_DEV_NCOMP; i++)
                        if ((need & (1u << i)) && !dst[i][0])
                            return tk_err(err, errlen,
                                          "no %s: pass %s, set %s, or start the stack with "
                                          "'ticketctl dev up' (state %s)",
                                          what[i], flags[i], envs[i], b->state_dir);
                }
                if (tk_dev_up(b->state_dir, &env, err, errlen) < 0)
                    return -1;
                have = 0;
            }
        }
        if (have == 0) {
            const char *from[TK_DEV_NCOMP] = {env.mysql, env.redis, env.kafka};
            for (int i = 0; i < TK_DEV_NCOMP; i++)
                if (!dst[i][0])
                    snprintf(dst[i], TK_URL_MAX, "%s", from[i]);
        }
    }
    tk_mysql_url mu;
    tk_redis_url ru;
    if (b->mysql[0] && tk_mysql_url_parse(b->mysql, &mu, err, errlen) != 0)
        return -1;
    char seeds[16][TK_URL_MAX];
    if (b->redis[0] && (tk_redis_url_is_cluster(b->redis) ? tk_rcluster_url_seeds(b->redis, seeds, 16, err, errlen) < 0
                                                          : tk_redis_url_parse_full(b->redis, &ru, err, errlen) != 0))
        return -1;
    return 0;
}

int tk_backend_resolve(tk_backend *b, const char *mysql, const char *redis, const char *kafka,
                       const char *state_dir, int autostart, char *err, size_t errlen)
{
    return tk_backend_resolve_some(b, TK_NEED_ALL, mysql, redis, kafka, state_dir, autostart, err, errlen);
}
