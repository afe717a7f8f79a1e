/* Backend settings (MariaDB, Redis, Kafka) as users have them: URLs parsed
 * with libcurl's URL API (RFC 3986), connections opened with their options,
 * and the resolution every command uses (lib/backend.c). The dev stack that
 * provides the defaults lives in devstack.h; it only starts and stops
 * servers.
 *
 * Resolution order for each setting: command-line flag, then environment
 * variable (TICKETCTL_MYSQL, TICKETCTL_REDIS, TICKETCTL_KAFKA_BROKERS), then
 * the dev stack in the state dir (TICKETCTL_STATE, default ./.ticketctl),
 * started on demand when `autostart` is set.
 *
 * URL forms:
 *   mysql://user[:pass]@host[:port]/db[?ssl-mode=REQUIRED&ssl-ca=PATH&...]
 *       (mariadb:// too; port 3306; '@' ':' '/' in a user or password as
 *       %40 %3A %2F; options: ssl-mode DISABLED|REQUIRED|VERIFY_CA|
 *       VERIFY_IDENTITY, ssl-ca, ssl-capath, ssl-cert, ssl-key, ssl-cipher,
 *       connect-timeout, read-timeout, write-timeout in seconds)
 *   redis://[[user]:pass@]host[:port][/db][?timeout=5s]
 *       (port 6379; AUTH pass, or AUTH user pass for a Redis 6 ACL user;
 *       SELECT db when db > 0; rediss:// is refused: hiredis 0.14 has no TLS)
 *   redis-cluster://[[user]:pass@]host:port[,host:port...][?timeout=5s]
 *       (a Redis Cluster: any nodes as seeds, the rest discovered; see
 *       rcluster.h. Commands then route by key slot.)
 *   Kafka: "host:port[,host:port...]" (librdkafka bootstrap.servers) */
#ifndef TICKETCTL_BACKEND_H
#define TICKETCTL_BACKEND_H

#include <hiredis/hiredis.h>
#include <mysql.h>
#include <stddef.h>

#define TK_URL_MAX 512

typedef struct tk_backend {
    char mysql[TK_URL_MAX];
    char redis[TK_URL_MAX];
    char kafka[TK_URL_MAX];
    char state_dir[TK_URL_MAX];
} tk_backend;

/* Fill *b. Any of the flag arguments may be NULL. If a setting is given
 * neither by flag nor environment, the dev stack's value is used; if the
 * stack is not running and autostart != 0 it is started (same as
 * `ticketctl dev up`). The URLs are checked (a bad one is an error naming
 * it). Returns 0, or -1 with a message in err. */
int tk_backend_resolve(tk_backend *b, const char *mysql, const char *redis,
                       const char *kafka, const char *state_dir, int autostart,
                       char *err /* OUT */, size_t errlen);

/* Which settings tk_backend_resolve_some() must produce. */
#define TK_NEED_MYSQL 1u
#define TK_NEED_REDIS 2u
#define TK_NEED_KAFKA 4u
#define TK_NEED_ALL (TK_NEED_MYSQL | TK_NEED_REDIS | TK_NEED_KAFKA)

/* tk_backend_resolve() for a command that needs only some backends (e.g.
 * `migrate` needs MariaDB only): the stack is consulted, and started when
 * autostart is set, only if a setting in `need` has neither flag nor env
 * value. Settings outside `need` are filled when known, else left empty.
 * tk_backend_resolve() is this with need == TK_NEED_ALL. Returns 0 or -1. */
int tk_backend_resolve_some(tk_backend *b, unsigned need, const char *mysql, const char *redis,
                            const char *kafka, const char *state_dir, int autostart,
                            char *err /* OUT */, size_t errlen);

typedef enum tk_mysql_tls {
    TK_MYSQL_TLS_DISABLED = 0, /* the default, as the mysql client's */
    TK_MYSQL_TLS_REQUIRED,     /* TLS or no connection; the server certificate is not checked */
    TK_MYSQL_TLS_VERIFY,       /* VERIFY_CA / VERIFY_IDENTITY: chain (ssl-ca) and host name checked */
} tk_mysql_tls;

/* A parsed mysql:// URL. */
typedef struct tk_mysql_url {
    char user[64], pass[128], host[128], db[64];
    unsigned port;
    tk_mysql_tls tls;
    char tls_ca[256], tls_capath[256], tls_cert[256], tls_key[256], tls_cipher[128];
    unsigned connect_timeout_s; /* 0: 10 s */
    unsigned read_timeout_s, write_timeout_s; /* 0: none (the library's default: wait) */
    /* ?max-statement-time=DUR (e.g. 2s, 1500ms; 1 ms - 3600 s): applied on
     * every (re)connect as SET SESSION max_statement_time, so the server
     * aborts a statement (lock waits included) past it with
     * ER_STATEMENT_TIMEOUT 1969 (MariaDB KB "Aborting Statements that
     * Exceed a Certain Time to Execute"). 0: the server's default (none). */
    unsigned max_statement_time_ms;
    /* ?socket=/path: connect over this Unix socket instead of TCP host:port
     * (same machine only; no TCP stack on either side: measured cheaper per
     * statement, scripts/bench-server-cpu). "" = TCP. */
    char socket[256];
} tk_mysql_url;

/* Parse a mysql:// URL (above). Returns 0, or -1 with a message naming the
 * URL and the part at fault in err. */
int tk_mysql_url_parse(const char *url, tk_mysql_url *out /* OUT */, char *err /* OUT */, size_t errlen);

/* Apply u's connect/read/write timeouts, max_statement_time (as an init
 * command, so a reconnect gets it too) and TLS settings to m (after mysql_init,
 * before mysql_real_connect). Returns 0, or -1 when the client library
 * refused an option. */
int tk_mysql_url_apply(MYSQL *m, const tk_mysql_url *u);

/* After mysql_real_connect: when u asks for TLS, is the connection really
 * encrypted? (Connector/C 3.3 falls back to plain text for REQUIRED against
 * a server without TLS.) Returns 0, or -1 with a message in err. */
int tk_mysql_url_verify(MYSQL *m, const tk_mysql_url *u, char *err /* OUT */, size_t errlen);

/* A parsed redis:// URL. */
typedef struct tk_redis_url {
    char host[128];
    int port;
    char user[64], pass[128]; /* empty: no AUTH */
    int db;                   /* SELECT when > 0 */
    int timeout_ms;           /* connect and command timeout; 0: 5,000 */
} tk_redis_url;

/* Parse a redis:// URL (above). Returns 0, or -1 with a message in err. */
int tk_redis_url_parse_full(const char *url, tk_redis_url *out /* OUT */, char *err /* OUT */, size_t errlen);

/* Host and port only (for tools such as redis-benchmark that need them
 * apart). Returns 0 or -1. */
int tk_redis_url_parse(const char *url, char *host, size_t hostlen, int *port);

/* Connect to a redis:// URL (a redis-cluster:// URL gives a cluster handle,
 * rcluster.h: free it with tk_redis_free()): timeout (default 5 s) on connect and on every
 * command, then AUTH and SELECT as the URL says. NULL with err on failure
 * (bad URL, refused, wrong password, no such database). Free with
 * tk_redis_free() (redisFree() is enough for a plain redis:// one). */
redisContext *tk_redis_connect(const char *url, char *err /* OUT */, size_t errlen);

#endif
