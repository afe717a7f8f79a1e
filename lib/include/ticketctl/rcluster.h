/* Redis commands that route by key (lib/rcluster.c), to one redis-server or
 * to a Redis Cluster, behind the same redisContext * every caller already
 * holds.
 *
 * Debian's hiredis 0.14 has no cluster support, so this layer does what the
 * Redis Cluster specification (redis.io/docs/reference/cluster-spec) asks
 * of a client: the slot of a key is CRC16/XMODEM of the key, or of its hash
 * tag (the text between the first '{' and the next '}', when not empty),
 * mod 16384; the slot map comes from CLUSTER SLOTS; one connection per
 * master; a MOVED reply updates the map and retries at the named node; an
 * ASK reply retries once there after ASKING; a dead node (I/O error,
 * CLUSTERDOWN, TRYAGAIN) drops its connection, reloads the map from the
 * others and retries, within a time budget (the URL's timeout, default 5 s)
 * that covers a replica's failover at cluster-node-timeout 1 s.
 *
 * A cluster handle is a redisContext * ("the front") connected to the first
 * seed that answered, with the cluster state hung on its reader's
 * user-settable privdata (hiredis read.h). The front itself carries no
 * traffic, so its err stays 0 while nodes come and go; raw redisCommand()
 * on it reaches one node only and is a bug in cluster mode: use the
 * tk_redis_* calls, which on a plain context just run the command there.
 * Free either kind with tk_redis_free().
 *
 * URL: redis-cluster://[[user]:pass@]host:port[,host:port...][?timeout=5s]
 * (any node of the cluster will do as a seed; the others are discovered).
 * A handle is used by one thread at a time, like a redisContext. */
#ifndef TICKETCTL_RCLUSTER_H
#define TICKETCTL_RCLUSTER_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketctl/backend.h" /* TK_URL_MAX */

#define TK_REDIS_SLOTS 16384

/* CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection), the
 * checksum the Redis Cluster spec names; "123456789" gives 0x31C3. */
uint16_t tk_redis_crc16(const char *buf, size_t len);

/* The cluster slot (0..16383) of a key of len bytes, honouring its hash tag. */
int tk_redis_slot(const char *key, size_t len);

/* 1 when url is a redis-cluster:// URL. */
int tk_redis_url_is_cluster(const char *url);

/* Split a redis-cluster:// URL into one redis:// URL per seed (same user,
 * password and options), up to cap into seeds[i] (each TK_URL_MAX bytes,
 * see backend.h). Returns the count (>= 1), or -1 with a message in err. */
int tk_rcluster_url_seeds(const char *url, char (*seeds)[TK_URL_MAX], int cap, char *err /* OUT */, size_t errlen);

/* Connect to a cluster: the first seed that answers CLUSTER SLOTS gives the
 * slot map. NULL with err when no seed answers or the map does not cover
 * every slot. Free with tk_redis_free(). */
redisContext *tk_rcluster_connect(const char *url, char *err /* OUT */, size_t errlen);

/* 1 when c is a cluster handle (tk_rcluster_connect), 0 for a plain one. */
int tk_redis_is_cluster(const redisContext *c);

/* Free a plain context or a cluster handle with all its node connections.
 * NULL is fine. */
void tk_redis_free(redisContext *c);

/* Run one command whose routing key is `key` (NULL: any node; for PING and
 * the like). Cluster: sent to the master of key's slot, following MOVED
 * and ASK, retried through node failures within the handle's time budget.
 * Plain: redisCommandArgv on c. Returns the reply (caller frees with
 * freeReplyObject; an error reply is returned as such) or NULL when no node
 * answered (err, if given, says why). */
redisReply *tk_redis_argv(redisContext *c, const char *key, int argc, const char **argv, const size_t *argvlen,
                          char *err /* OUT */, size_t errlen);

/* tk_redis_argv with a printf-like hiredis format (redisvFormatCommand). */
redisReply *tk_redis_cmd(redisContext *c, const char *key, const char *fmt, ...);

/* Run a Lua script: EVALSHA sha numkeys argv..., where sha is cached in
 * sha_cache (41 bytes, static storage of the caller, filled by SCRIPT LOAD
 * at first use, guarded here), with a NOSCRIPT -> EVAL fallback on each node
 * (a restarted or promoted node has no scripts). argv[0..numkeys) are the
 * keys; the first routes (all must share its slot in a cluster: a hash
 * tag). Returns the reply as tk_redis_argv does. */
redisReply *tk_redis_eval(redisContext *c, const char *script, char sha_cache[41], int numkeys, int argc,
                          const char **argv, char *err /* OUT */, size_t errlen);

/* The node connection that serves key (to pipeline several commands on
 * one slot), or c itself when plain. NULL when no node is reachable. A
 * pipelined command that meets MOVED or a dead node just fails; callers
 * retry through tk_redis_argv. Borrowed: owned by the handle. */
redisContext *tk_redis_node(redisContext *c, const char *key);

/* GET n keys (n <= TK_REDIS_GET_MANY_MAX) that may live in different slots,
 * in one round trip per node: the GETs go out pipelined to each key's
 * node (plain: all to c) before any reply is read. A key whose pipelined
 * GET met MOVED, ASK or a dead node is asked again through tk_redis_cmd
 * (which follows the redirection and refreshes the map). out[i] gets key
 * i's reply (caller frees each non-NULL one with freeReplyObject). Returns
 * 0 when every key was read, -1 when one or more failed (their out[i] is
 * NULL or an error reply). */
#define TK_REDIS_GET_MANY_MAX 16
int tk_redis_get_many(redisContext *c, size_t n, const char *const *keys, redisReply **out /* OUT: n */);

/* The redis:// URL of node i (0-based) of a cluster handle's known masters
 * into url (n bytes), when i is in range. Returns the number of nodes
 * known; 0 for a plain context. For a connection of one's own to one node,
 * e.g. a pub/sub subscriber (PUBLISH reaches every node of a cluster). */
int tk_rcluster_node_url(const redisContext *c, int i, char *url /* OUT */, size_t n);

/* After a write that must survive a failover (an arrival number, an
 * admission tick, a fencing token): in a cluster, WAIT until one replica of
 * key's master has it (at most timeout_ms); a plain context returns at
 * once. Returns the replicas that acknowledged (plain: 0), or -1. Redis
 * replication is asynchronous: without this, a master killed right after
 * answering loses the write and its replica, once promoted, hands out the
 * same arrival number again. */
int tk_redis_wait_replica(redisContext *c, const char *key, int timeout_ms);

/* PING any live node (plain: c). 0 when PONG, else -1. */
int tk_redis_ping(redisContext *c);

/* Cluster statistics for tests and status: nodes known, MOVED and ASK
 * replies followed, map reloads, node reconnects. Zeros for a plain c. */
typedef struct tk_rcluster_stats {
    int nodes;
    uint64_t moved, ask, refreshes, reconnects;
} tk_rcluster_stats;
void tk_rcluster_stats_get(const redisContext *c, tk_rcluster_stats *out /* OUT */);

#endif
