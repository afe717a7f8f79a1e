/* Backend settings (MariaDB, Redis, Kafka) and the private local stack.
 *
 * Resolution order for each setting: command-line flag, then environment
 * variable (TICKETCTL_MYSQL, TICKETCTL_REDIS, TICKETCTL_KAFKA_BROKERS), then
 * the dev stack in the state dir (TICKETCTL_STATE, default ./.ticketctl),
 * started on demand when `autostart` is set.
 *
 * URL forms:  mysql://user:pass@host:port/db   redis://host:port
 *             Kafka: "host:port[,host:port...]" (librdkafka bootstrap.servers) */
#ifndef TICKETCTL_BACKEND_H
#define TICKETCTL_BACKEND_H

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
 * `ticketctl dev up`). Returns 0, or -1 with a message in err. */
int tk_backend_resolve(tk_backend *b, const char *mysql, const char *redis,
                       const char *kafka, const char *state_dir, int autostart,
                       char *err /* OUT */, size_t errlen);

/* Parsed mysql:// URL. Strings point into storage inside the struct. */
typedef struct tk_mysql_url {
    char user[64], pass[128], host[128], db[64];
    unsigned port;
} tk_mysql_url;

/* Parse mysql://user[:pass]@host[:port]/db (port default 3306).
 * Returns 0, or -1 with a message in err. */
int tk_mysql_url_parse(const char *url, tk_mysql_url *out, char *err /* OUT */, size_t errlen);

/* Parse redis://host[:port] (port default 6379). Returns 0 or -1. */
int tk_redis_url_parse(const char *url, char *host, size_t hostlen, int *port);

#endif
