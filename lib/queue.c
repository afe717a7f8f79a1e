/* The waiting room (see queue.h): rate arithmetic, signed queue tokens, the
 * fairness figure, and two backends (Redis scripts, a MySQL table). */
#include "ticketctl/queue.h"
#include "ticketctl/hold.h"
#include "ticketctl/lease.h"
#include "ticketctl/rcluster.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration and arithmetic ----------------------------------------- */

int tk_queue_kind_parse(const char *s, tk_queue_kind *out)
{
    if (!s)
        return -1;
    if (!strcmp(s, "none"))
        *out = TK_QUEUE_NONE;
    else if (!strcmp(s, "redis"))
        *out = TK_QUEUE_REDIS;
    else if (!strcmp(s, "mysql"))
        *out = TK_QUEUE_MYSQL;
    else
        return -1;
    return 0;
}

int tk_queue_queueing_parse(const char *s, int *out)
{
    if (s && !strcmp(s, "fifo"))
        *out = TK_QUEUEING_FIFO;
    else if (s && !strcmp(s, "random"))
        *out = TK_QUEUEING_RANDOM;
    else
        return -1;
    return 0;
}

const char *tk_queue_kind_name(tk_queue_kind k)
{
    switch (k) {
    case TK_QUEUE_REDIS: return "redis";
    case TK_QUEUE_MYSQL: return "mysql";
    case TK_QUEUE_NONE: break;
    }
    return "none";
}

void tk_queue_config_default(tk_queue_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = TK_QUEUE_NONE;
    c->admit_per_min = tk_queue_rate_from_capacity(1110, 7, 0.7);
    c->admitted_cap = 1000;
    c->admitted_ttl_ms = 600000;
    c->tick_ms = 1000;
    c->poll_max_ms = 10000;
}

double tk_queue_rate_from_capacity(double capacity_tps, double calls_per_user, double safety)
{
    if (!(capacity_tps > 0) || !(calls_per_user > 0) || !(safety > 0) || safety > 1)
        return -1;
    double users_per_s = floor(capacity_tps / calls_per_user + 1e-9);
    return users_per_s * 60.0 * safety;
}

int64_t tk_queue_tick_quota(double per_min, int64_t tick_ms, int64_t k)
{
    if (!(per_min > 0) || tick_ms <= 0 || k < 0)
        return 0;
    double per_tick = per_min * (double)tick_ms / 60000.0;
    /* 1e-9: 6636/min * 1 s = 110.6 per tick must not lose a user to rounding */
    int64_t upto = (int64_t)floor((double)(k + 1) * per_tick + 1e-9);
    int64_t before = (int64_t)floor((double)k * per_tick + 1e-9);
    return upto - before;
}

void tk_queue_split_quota(int64_t quota, const int64_t *waiting, int n, int64_t *out)
{
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        out[i] = 0;
        total += waiting[i] > 0 ? waiting[i] : 0;
    }
    if (quota <= 0 || total <= 0)
        return;
    if (quota >= total) {
        for (int i = 0; i < n; i++)
            out[i] = waiting[i] > 0 ? waiting[i] : 0;
        return;
    }
    /* proportional floors, then the remainder one by one to the largest
     * fractional parts (ties: the longer line); shares never exceed the
     * line because quota < total */
    int64_t given = 0;
    for (int i = 0; i < n; i++) {
        if (waiting[i] <= 0)
            continue;
        out[i] = (int64_t)((__int128)quota * waiting[i] / total);
        given += out[i];
    }
    while (given < quota) {
        int best = -1;
        __int128 best_rem = -1;
        for (int i = 0; i < n; i++) {
            if (waiting[i] <= out[i])
                continue;
            __int128 rem = (__int128)quota * waiting[i] - (__int128)out[i] * total;
            if (rem > best_rem || (rem == best_rem && best >= 0 && waiting[i] > waiting[best])) {
                best_rem = rem;
                best = i;
            }
        }
        if (best < 0)
            break;
        out[best]++;
        given++;
    }
}

int64_t tk_queue_est_wait_s(int64_t ahead, double per_min)
{
    if (ahead <= 0 || !(per_min > 0))
        return 0;
    double s = ceil((double)ahead * 60.0 / per_min);
    return s < 1e9 ? (int64_t)s : 1000000000; /* a stalled line: about 32 years, not an overflow */
}

int64_t tk_queue_est_wait_shared_s(int64_t ahead, int64_t line, int64_t total, double per_min)
{
    if (line > 0 && total > line)
        return tk_queue_est_wait_s((int64_t)ceil((double)ahead * (double)total / (double)line), per_min);
    return tk_queue_est_wait_s(ahead, per_min);
}

int64_t tk_queue_poll_after_ms(int64_t est_wait_s, int64_t tick_ms, int64_t max_ms)
{
    int64_t lo = tick_ms > 0 ? tick_ms / 2 : 500, v = est_wait_s * 1000 / 2, hi = max_ms > 0 ? max_ms : 10000;
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return v;
}

/* ---- tokens ------------------------------------------------------------- */

/* HMAC-SHA-256 state after the key (the inner and outer pads hashed): a
 * poll verifies a token with the server's one key, so each thread keeps the
 * keyed state of the last key it saw (compared in full, so another key
 * never reuses it) and saves two of the four SHA-256 compressions. */
static void hmac_keyed(const unsigned char *key, size_t keylen, crypto_auth_hmacsha256_state *st)
{
    static __thread unsigned char ckey[64];
    static __thread size_t ckeylen;
    static __thread crypto_auth_hmacsha256_state cst;
    if (keylen > sizeof ckey) {
        crypto_auth_hmacsha256_init(st, key, keylen);
        return;
    }
    if (ckeylen != keylen || memcmp(ckey, key, keylen) != 0) { /* the key against itself: no timing to hide */
        crypto_auth_hmacsha256_init(&cst, key, keylen);
        memcpy(ckey, key, keylen);
        ckeylen = keylen;
    }
    *st = cst;
}

static void hmac_bin(const unsigned char *key, size_t keylen, const char *msg, size_t len,
                     unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    hmac_keyed(key, keylen, &st);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
    crypto_auth_hmacsha256_final(&st, mac);
}

static void hmac_hex(const unsigned char *key, size_t keylen, const char *msg, size_t len, char hex[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hmac_bin(key, keylen, msg, len, mac);
    sodium_bin2hex(hex, 65, mac, sizeof mac);
}

int tk_qtoken_issue(const unsigned char *key, size_t keylen, uint64_t user, uint64_t sale, int64_t seq,
                    int64_t iat_s, int64_t ttl_s, char out[TK_QTOKEN_MAX])
{
    if (!key || keylen < 16 || user == 0 || sale == 0 || seq < 0 || ttl_s <= 0)
        return -1;
    int n = snprintf(out, TK_QTOKEN_MAX, "q2.%" PRIu64 ".%" PRIu64 ".%" PRId64 ".%" PRId64 ".%" PRId64 ".", user,
                     sale, seq, iat_s, iat_s + ttl_s);
    if (n < 0 || (size_t)n + 65 > TK_QTOKEN_MAX)
        return -1;
    hmac_hex(key, keylen, out, (size_t)n, out + n);
    return 0;
}

/* A decimal field ending at `end` ('.'): digits only, no sign, < 2^63. */
static int parse_field(const char **p, char end, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (*s != end)
        return -1;
    *p = s + 1;
    *out = v;
    return 0;
}

tk_qtoken_verdict tk_qtoken_verify(const unsigned char *key, size_t keylen, const char *token, uint64_t user,
                                   uint64_t sale, int64_t now_s, tk_qtoken *out)
{
    if (!key || !token || strncmp(token, "q2.", 3) != 0 || strlen(token) >= TK_QTOKEN_MAX)
        return TK_QTOKEN_INVALID;
    const char *p = token + 3;
    int64_t u, s, seq, iat, exp;
    if (parse_field(&p, '.', &u) || parse_field(&p, '.', &s) || parse_field(&p, '.', &seq) ||
        parse_field(&p, '.', &iat) || parse_field(&p, '.', &exp))
        return TK_QTOKEN_INVALID;
    if (strlen(p) != 64)
        return TK_QTOKEN_INVALID;
    /* the MAC as bytes (lower-case hex only, as issued), compared in constant time */
    unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    for (int i = 0; i < 64; i++) {
        int c = p[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return TK_QTOKEN_INVALID;
        if (i % 2 == 0)
            got[i / 2] = (unsigned char)(v << 4);
        else
            got[i / 2] |= (unsigned char)v;
    }
    hmac_bin(key, keylen, token, (size_t)(p - token), want);
    if (sodium_memcmp(want, got, sizeof got) != 0)
        return TK_QTOKEN_INVALID;
    if (u == 0 || s == 0)
        return TK_QTOKEN_INVALID;
    if (out) {
        out->user = (uint64_t)u;
        out->sale = (uint64_t)s;
        out->seq = seq;
        out->iat_s = iat;
        out->exp_s = exp;
    }
    if (exp <= now_s)
        return TK_QTOKEN_EXPIRED;
    if ((uint64_t)u != user)
        return TK_QTOKEN_WRONG_USER;
    if ((uint64_t)s != sale)
        return TK_QTOKEN_WRONG_SALE;
    return TK_QTOKEN_OK;
}

/* ---- stateless polls: the pre-queue permutation and the poll answer ------- */

int64_t tk_queue_prequeue_rank(const uint32_t k[4], int64_t pre, int64_t seq)
{
    if (pre <= 1 || seq < 1 || seq > pre || pre > (1LL << 32))
        return seq;
    int h = 1;
    while ((1ULL << (2 * h)) < (uint64_t)pre)
        h++;
    uint64_t m = 1ULL << h, x = (uint64_t)(seq - 1);
    do { /* cycle walking: x < 4^h always comes back below pre */
        uint64_t l = x / m, r = x % m;
        for (int i = 0; i < 4; i++) {
            uint64_t f = (((r + (k[i] & 0xffffu)) * 2654435761ULL) % 4294967296ULL) >> (32 - h);
            uint64_t t = r;
            r = l ^ f;
            l = t;
        }
        x = l * m + r;
    } while (x >= (uint64_t)pre);
    return (int64_t)x + 1;
}

int tk_queue_stateless_poll(const tk_queue_sale_state *st, const tk_qtoken *tok, int64_t now_ms, int64_t stale_ms,
                            tk_queue_status *out)
{
    if (!st || !tok || tok->seq <= 0 || st->at_ms <= 0 || now_ms - st->at_ms > stale_ms)
        return 0;
    memset(out, 0, sizeof *out);
    out->found = 1;
    out->seq = tok->seq;
    out->line = st->waiting;
    if (st->mode == TK_QUEUEING_RANDOM) {
        uint64_t byte = (uint64_t)tok->seq / 8;
        if (st->bits && byte < st->nbits_bytes && (st->bits[byte] & (0x80u >> (tok->seq % 8))))
            return 0; /* drawn: the backend says until when */
        out->position = st->waiting > 0 ? st->waiting : 1;
        out->ahead = out->position - 1;
        return 1;
    }
    int64_t rank = tok->seq;
    if (st->shuffled && tok->seq <= st->pre)
        rank = tk_queue_prequeue_rank(st->k, st->pre, tok->seq);
    if (rank <= st->upto)
        return 0;
    out->ahead = rank - st->upto - 1;
    out->position = out->ahead + 1;
    return 1;
}

/* ---- fairness: Kendall tau distance ---------------------------------------- */

typedef struct rank_pair {
    int64_t a, b;
} rank_pair;

static int cmp_pair(const void *x, const void *y)
{
    const rank_pair *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    return p->b < q->b ? -1 : p->b > q->b;
}

/* Strict inversions of v[0..n) (i < j, v[i] > v[j]), sorting v; tmp has n slots. */
static uint64_t inversions(int64_t *v, int64_t *tmp, size_t n)
{
    if (n < 2)
        return 0;
    size_t m = n / 2;
    uint64_t c = inversions(v, tmp, m) + inversions(v + m, tmp, n - m);
    size_t i = 0, j = m, k = 0;
    while (i < m && j < n) {
        if (v[i] <= v[j]) {
            tmp[k++] = v[i++];
        } else {
            c += m - i; /* v[i..m) all exceed v[j] */
            tmp[k++] = v[j++];
        }
    }
    while (i < m)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
    return c;
}

double tk_queue_kendall_distance(const int64_t *arrival, const int64_t *admission, size_t n)
{
    if (n < 2)
        return 0;
    rank_pair *p = malloc(n * sizeof *p);
    int64_t *v = malloc(n * sizeof *v), *tmp = malloc(n * sizeof *tmp);
    double d = -1;
    if (p && v && tmp) {
        for (size_t i = 0; i < n; i++)
            p[i] = (rank_pair){arrival[i], admission[i]};
        /* by arrival, ties by admission: a tie in arrival adds no inversion */
        qsort(p, n, sizeof *p, cmp_pair);
        for (size_t i = 0; i < n; i++)
            v[i] = p[i].b;
        d = (double)inversions(v, tmp, n) / ((double)n * (double)(n - 1) / 2.0);
    }
    free(p);
    free(v);
    free(tmp);
    return d;
}

/* ---- Redis backend ---------------------------------------------------------- */

/* Scripts are loaded once per Redis (SCRIPT LOAD) and run by EVALSHA; a
 * NOSCRIPT answer (Redis restarted) falls back to EVAL, which reloads. */
enum { S_ENQ, S_POLL, S_LEAVE, S_REVOKE, S_ADMIT, S_COUNT };

/* KEYS q seq adm pre admno (one hash tag: one slot); ARGV user now open_at pre_queue.
 * Returns {created, admitted, seq, rank, admitted_until, admission_no[, line]}. */
static const char enq_lua[] =
    "local u = ARGV[1] local now = tonumber(ARGV[2]) "
    "local a = redis.call('zscore', KEYS[3], u) "
    "if a and tonumber(a) > now then "
    "  return {0, 1, 0, 0, tonumber(a), tonumber(redis.call('hget', KEYS[5], u) or '0')} end "
    "local s = redis.call('zscore', KEYS[1], u) "
    "if s then return {0, 0, tonumber(s), redis.call('zrank', KEYS[1], u), 0, 0, redis.call('zcard', KEYS[1])} end "
    "local n = redis.call('incr', KEYS[2]) "
    "redis.call('zadd', KEYS[1], n, u) "
    "if ARGV[4] == '1' and now < tonumber(ARGV[3]) then redis.call('set', KEYS[4], n) end "
    "return {1, 0, n, redis.call('zrank', KEYS[1], u), 0, 0, redis.call('zcard', KEYS[1])}";

/* KEYS q adm admno; ARGV user now. Returns {found, admitted, seq, rank, until, admission_no[, line]}. */
static const char poll_lua[] =
    "local a = redis.call('zscore', KEYS[2], ARGV[1]) "
    "if a and tonumber(a) > tonumber(ARGV[2]) then "
    "  return {1, 1, 0, 0, tonumber(a), tonumber(redis.call('hget', KEYS[3], ARGV[1]) or '0')} end "
    "local s = redis.call('zscore', KEYS[1], ARGV[1]) "
    "if not s then return {0, 0, 0, 0, 0, 0} end "
    "return {1, 0, tonumber(s), redis.call('zrank', KEYS[1], ARGV[1]), 0, 0, redis.call('zcard', KEYS[1])}";

/* KEYS q adm admno; ARGV user. Returns entries removed. */
static const char leave_lua[] =
    "local n = redis.call('zrem', KEYS[1], ARGV[1]) + redis.call('zrem', KEYS[2], ARGV[1]) "
    "redis.call('hdel', KEYS[3], ARGV[1]) return n";

/* KEYS adm admno; ARGV user. */
static const char revoke_lua[] =
    "local n = redis.call('zrem', KEYS[1], ARGV[1]) redis.call('hdel', KEYS[2], ARGV[1]) return n";

/* After the fence prologue (KEYS[1] the fence key of the sale's lease,
 * tk_queue_lease_name, ARGV[1] token): KEYS 2 q, 3 adm, 4 ticks, 5 pre, 6 shuffled,
 * 7 admno, 8 admlog, 9 admcnt, 10 (unused, was the sales set), 11 state,
 * 12 bits, all of one hash tag;
 * ARGV 2 quota, 3 now, 4 ttl, 5 cap, 6 tick, 7 pre_queue, 8 open_at, 9-12 round keys k1..k4, 13 sale,
 * 14 mode (0 FIFO, 1 random), 15 rate (users/min, for the state).
 * Pre-queue (FIFO only): at the first tick after opening, each user with
 * seq <= pre takes the score prank(seq), the permutation of 1..pre that
 * tk_queue_prequeue_rank computes in C (same arithmetic: every product
 * stays below 2^53, exact in Lua's doubles), so an instance can rank a
 * pre-queue token without asking Redis. FIFO then pops the lowest scores
 * and records the highest admitted as upto; random queueing draws the
 * tick's users uniformly among those waiting (ZRANDMEMBER, distinct) and
 * sets their bits. Either way the sale's state is written for the polls. */
static const char admit_body_lua[] =
    "local now = tonumber(ARGV[3]) "
    "local function prank(seq, pre, k) "
    "  local h = 1 while 4 ^ h < pre do h = h + 1 end "
    "  local m, sh, x = 2 ^ h, 2 ^ (32 - h), seq - 1 "
    "  repeat local l, r = math.floor(x / m), x % m "
    "    for i = 1, 4 do local f = math.floor(((r + k[i]) * 2654435761) % 4294967296 / sh) "
    "      l, r = r, bit.bxor(l, f) end "
    "    x = l * m + r until x < pre "
    "  return x + 1 end "
    "redis.call('zremrangebyscore', KEYS[3], '-inf', now) "
    "if ARGV[7] == '1' and ARGV[14] ~= '1' then "
    "  if now < tonumber(ARGV[8]) then "
    "    redis.call('hset', KEYS[11], 'at', now, 'open', 0, 'mode', ARGV[14], 'rate', ARGV[15], "
    "      'waiting', redis.call('zcard', KEYS[2]), 'active', redis.call('zcard', KEYS[3])) "
    "    return 0 end "
    "  if redis.call('exists', KEYS[6]) == 0 then "
    "    local pm = tonumber(redis.call('get', KEYS[5]) or '0') "
    "    local k = {tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])} "
    "    if pm > 1 then "
    "      local m = redis.call('zrangebyscore', KEYS[2], '-inf', pm, 'WITHSCORES') "
    "      for i = 1, #m, 2 do redis.call('zadd', KEYS[2], prank(tonumber(m[i + 1]), pm, k), m[i]) end "
    "    end "
    "    redis.call('set', KEYS[6], '1') "
    "    redis.call('hset', KEYS[11], 'shuffled', 1, 'pre', pm, 'k1', ARGV[9], 'k2', ARGV[10], 'k3', ARGV[11], "
    "      'k4', ARGV[12]) "
    "  end "
    "end "
    "if redis.call('hexists', KEYS[4], ARGV[6]) == 1 then return -3 end "
    "local n = math.min(tonumber(ARGV[2]), tonumber(ARGV[5]) - redis.call('zcard', KEYS[3])) "
    "local got = 0 "
    "local upto = tonumber(redis.call('hget', KEYS[11], 'upto') or '0') "
    "if n > 0 then "
    "  local m "
    "  if ARGV[14] == '1' then "
    "    m = redis.call('zrandmember', KEYS[2], n, 'WITHSCORES') "
    "    for i = 1, #m, 2 do redis.call('zrem', KEYS[2], m[i]) "
    "      redis.call('setbit', KEYS[12], tonumber(m[i + 1]), 1) end "
    "  else "
    "    m = redis.call('zpopmin', KEYS[2], n) "
    "    if #m > 0 then upto = math.max(upto, tonumber(m[#m])) end "
    "  end "
    "  local exp = now + tonumber(ARGV[4]) "
    "  for i = 1, #m, 2 do "
    "    redis.call('zadd', KEYS[3], exp, m[i]) "
    "    redis.call('hset', KEYS[7], m[i], redis.call('incr', KEYS[9])) "
    "    redis.call('rpush', KEYS[8], m[i]) got = got + 1 end "
    "  if got > 0 then redis.call('ltrim', KEYS[8], -100000, -1) end "
    "end "
    "redis.call('hset', KEYS[4], ARGV[6], got) "
    "local w, act = redis.call('zcard', KEYS[2]), redis.call('zcard', KEYS[3]) "
    "redis.call('hset', KEYS[11], 'upto', upto, 'at', now, 'open', 1, 'mode', ARGV[14], 'rate', ARGV[15], "
    "  'waiting', w, 'active', act) "
    "return got";

static char *admit_lua; /* fence prologue + body, built once */
static char script_sha[S_COUNT][41]; /* filled by tk_redis_eval at first use */
static pthread_mutex_t script_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *script_text(int id)
{
    switch (id) {
    case S_ENQ: return enq_lua;
    case S_POLL: return poll_lua;
    case S_LEAVE: return leave_lua;
    case S_REVOKE: return revoke_lua;
    default: return admit_lua;
    }
}

static int scripts_ready(void)
{
    pthread_mutex_lock(&script_mu);
    if (!admit_lua) {
        const char *pro = tk_lease_fence_lua();
        size_t a = strlen(pro), b = strlen(admit_body_lua);
        admit_lua = malloc(a + b + 1);
        if (admit_lua) {
            memcpy(admit_lua, pro, a);
            memcpy(admit_lua + a, admit_body_lua, b + 1);
        }
    }
    int ok = admit_lua != NULL;
    pthread_mutex_unlock(&script_mu);
    return ok ? 0 : -1;
}

/* Run script `id` with argv[0..argc) = {keys..., args...}: EVALSHA with a
 * NOSCRIPT -> EVAL fallback, routed by the first key (rcluster.h). An error
 * reply becomes NULL with its text in err. */
static redisReply *run_script(redisContext *c, int id, int numkeys, int argc, const char **argv, char *err,
                              size_t errlen)
{
    if (!c) {
        tk_err(err, errlen, "no Redis connection");
        return NULL;
    }
    if (scripts_ready() != 0) {
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    redisReply *r = tk_redis_eval(c, script_text(id), script_sha[id], numkeys, argc, argv, err, errlen);
    if (r && r->type == REDIS_REPLY_ERROR) {
        tk_err(err, errlen, "redis: %s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* A sale's keys, all with the hash tag {sale:S}: every script of a sale
 * touches one cluster slot. The set of sales is the one key outside it. */
typedef struct rkeys {
    char q[64], seq[64], adm[64], pre[64], admno[64], ticks[64], shuf[64], admlog[64], admcnt[64], state[64],
        bits[64], fence[64];
    char sale[24];
} rkeys;

#define SALES_KEY "tk:wr:sales"

static void rkeys_fill(rkeys *k, uint64_t sale)
{
    snprintf(k->sale, sizeof k->sale, "%" PRIu64, sale);
    snprintf(k->q, sizeof k->q, "tk:wr:{sale:%s}:q", k->sale);
    snprintf(k->seq, sizeof k->seq, "tk:wr:{sale:%s}:seq", k->sale);
    snprintf(k->adm, sizeof k->adm, "tk:wr:{sale:%s}:adm", k->sale);
    snprintf(k->pre, sizeof k->pre, "tk:wr:{sale:%s}:pre", k->sale);
    snprintf(k->admno, sizeof k->admno, "tk:wr:{sale:%s}:admno", k->sale);
    snprintf(k->ticks, sizeof k->ticks, "tk:wr:{sale:%s}:ticks", k->sale);
    snprintf(k->shuf, sizeof k->shuf, "tk:wr:{sale:%s}:shuffled", k->sale);
    snprintf(k->admlog, sizeof k->admlog, "tk:wr:{sale:%s}:admlog", k->sale);
    snprintf(k->admcnt, sizeof k->admcnt, "tk:wr:{sale:%s}:admcnt", k->sale);
    snprintf(k->state, sizeof k->state, "tk:wr:{sale:%s}:state", k->sale);
    snprintf(k->bits, sizeof k->bits, "tk:wr:{sale:%s}:bits", k->sale);
    snprintf(k->fence, sizeof k->fence, "tk:wr:{sale:%s}:nofence", k->sale); /* admit_tick without a lease */
}

static int64_t rint_at(const redisReply *r, size_t i)
{
    if (i >= r->elements)
        return 0;
    const redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

/* {flag, admitted, seq, rank, until, admno} into *out; flag is created (enq) or found (poll). */
static tk_rc status_from(redisReply *r, int is_enq, tk_queue_status *out, char *err, size_t errlen)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 6) {
        freeReplyObject(r);
        return tk_err(err, errlen, "redis: unexpected reply from the queue script"), TK_EBACKEND;
    }
    memset(out, 0, sizeof *out);
    out->found = is_enq ? 1 : (int)rint_at(r, 0);
    out->created = is_enq ? (int)rint_at(r, 0) : 0;
    out->admitted = (int)rint_at(r, 1);
    out->seq = rint_at(r, 2);
    if (out->found && !out->admitted) {
        out->ahead = rint_at(r, 3);
        out->position = out->ahead + 1;
    }
    out->admitted_until_ms = rint_at(r, 4);
    out->admission_no = rint_at(r, 5);
    out->line = rint_at(r, 6);
    freeReplyObject(r);
    return TK_OK;
}

static tk_rc r_enqueue(tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale, uint64_t user, int64_t now_ms,
                       tk_queue_status *out, char *err, size_t errlen)
{
    rkeys k;
    rkeys_fill(&k, sale);
    char u[24], now[24], open[24];
    snprintf(u, sizeof u, "%" PRIu64, user);
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(open, sizeof open, "%" PRId64, cfg->open_at_ms);
    const char *av[] = {k.q, k.seq, k.adm, k.pre, k.admno, u, now, open, cfg->pre_queue ? "1" : "0"};
    redisReply *r = run_script(c->redis, S_ENQ, 5, 9, av, err, errlen);
    if (!r)
        return TK_EBACKEND;
    tk_rc rc = status_from(r, 1, out, err, errlen);
    if (rc == TK_OK && out->created && out->line == 1) {
        /* The set of sales lives in its own slot, so it is not in the
         * script. Only the first of a line adds the sale: the admission job
         * forgets a sale only after seeing its line and admitted set empty
         * and looks again after the SREM (sales_forget_if_empty), so any
         * later arrival either is seen by that second look or finds the
         * line empty and adds the sale itself. One round trip less for
         * every other arrival. */
        redisReply *a = tk_redis_cmd(c->redis, SALES_KEY, "SADD " SALES_KEY " %s", k.sale);
        if (!a || a->type == REDIS_REPLY_ERROR)
            rc = TK_EBACKEND, tk_err(err, errlen, "redis: SADD of the sale failed");
        if (a)
            freeReplyObject(a);
    }
    if (rc == TK_OK && out->created) {
        /* the arrival number must survive a failover (rcluster.h) */
        tk_redis_wait_replica(c->redis, k.q, 50);
    }
    return rc;
}

static tk_rc r_poll(tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale, uint64_t user, int64_t now_ms,
                    tk_queue_status *out, char *err, size_t errlen)
{
    (void)cfg;
    rkeys k;
    rkeys_fill(&k, sale);
    char u[24], now[24];
    snprintf(u, sizeof u, "%" PRIu64, user);
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    const char *av[] = {k.q, k.adm, k.admno, u, now};
    redisReply *r = run_script(c->redis, S_POLL, 3, 5, av, err, errlen);
    if (!r)
        return TK_EBACKEND;
    return status_from(r, 0, out, err, errlen);
}

static tk_rc r_leave(tk_queue_conn *c, uint64_t sale, uint64_t user, int *removed, char *err, size_t errlen)
{
    rkeys k;
    rkeys_fill(&k, sale);
    char u[24];
    snprintf(u, sizeof u, "%" PRIu64, user);
    const char *av[] = {k.q, k.adm, k.admno, u};
    redisReply *r = run_script(c->redis, S_LEAVE, 3, 4, av, err, errlen);
    if (!r)
        return TK_EBACKEND;
    if (removed)
        *removed = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    return TK_OK;
}

static tk_rc r_revoke(tk_queue_conn *c, uint64_t sale, uint64_t user, char *err, size_t errlen)
{
    rkeys k;
    rkeys_fill(&k, sale);
    char u[24];
    snprintf(u, sizeof u, "%" PRIu64, user);
    const char *av[] = {k.adm, k.admno, u};
    redisReply *r = run_script(c->redis, S_REVOKE, 2, 3, av, err, errlen);
    if (!r)
        return TK_EBACKEND;
    freeReplyObject(r);
    return TK_OK;
}

static tk_rc r_is_admitted(tk_queue_conn *c, uint64_t sale, uint64_t user, int64_t now_ms, char *err, size_t errlen)
{
    if (!c->redis)
        return tk_err(err, errlen, "no Redis connection"), TK_EBACKEND;
    rkeys k;
    rkeys_fill(&k, sale);
    redisReply *r = tk_redis_cmd(c->redis, k.adm, "ZSCORE %s %llu", k.adm, (unsigned long long)user);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        tk_err(err, errlen, "redis: %s", r ? r->str : c->redis->errstr);
        if (r)
            freeReplyObject(r);
        return TK_EBACKEND;
    }
    tk_rc rc = TK_EFORBIDDEN;
    if (r->type == REDIS_REPLY_STRING && strtoll(r->str, NULL, 10) > now_ms)
        rc = TK_OK;
    freeReplyObject(r);
    return rc;
}

/* Drop a sale with nobody waiting or admitted from the set of sales. The
 * set is in another slot than the sale, so this cannot be in the admit
 * script: remove, then look again, and put it back when an enqueue came in
 * between (its SADD follows its script, so either it re-added the sale
 * after our SREM or its entry is visible to the second look). */
static void sales_forget_if_empty(redisContext *c, const rkeys *k)
{
    redisReply *r = tk_redis_cmd(c, k->q, "EXISTS %s %s", k->q, k->adm);
    int empty = r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    if (r)
        freeReplyObject(r);
    if (!empty)
        return;
    if ((r = tk_redis_cmd(c, SALES_KEY, "SREM " SALES_KEY " %s", k->sale)))
        freeReplyObject(r);
    r = tk_redis_cmd(c, k->q, "EXISTS %s %s", k->q, k->adm);
    int back = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    if (r)
        freeReplyObject(r);
    if (back && (r = tk_redis_cmd(c, SALES_KEY, "SADD " SALES_KEY " %s", k->sale)))
        freeReplyObject(r);
}

static int r_admit_tick(tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale, const char *fence_key,
                        uint64_t fence, int64_t tick, int64_t quota, int64_t now_ms, char *err, size_t errlen)
{
    rkeys k;
    rkeys_fill(&k, sale);
    char fv[24], qv[24], now[24], ttl[24], cap[24], tk[24], open[24], rk[4][12], rate[32];
    snprintf(fv, sizeof fv, "%" PRIu64, fence_key ? fence : 0);
    snprintf(qv, sizeof qv, "%" PRId64, quota < 0 ? 0 : quota);
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(ttl, sizeof ttl, "%" PRId64, cfg->admitted_ttl_ms);
    snprintf(cap, sizeof cap, "%" PRId64, cfg->admitted_cap);
    snprintf(tk, sizeof tk, "%" PRId64, tick);
    snprintf(open, sizeof open, "%" PRId64, cfg->open_at_ms);
    for (int i = 0; i < 4; i++) /* the pre-queue permutation's keys, used once per sale */
        snprintf(rk[i], sizeof rk[i], "%u", randombytes_uniform(65536));
    snprintf(rate, sizeof rate, "%.3f",
             cfg->rate_per_sale || quota < 0 ? cfg->admit_per_min
                                             : (double)quota * 60000.0 / (double)(cfg->tick_ms > 0 ? cfg->tick_ms : 1000));
    const char *av[] = {fence_key ? fence_key : k.fence, k.q, k.adm, k.ticks, k.pre, k.shuf, k.admno,
                        k.admlog, k.admcnt, k.state, k.state, k.bits, fv, qv, now, ttl, cap, tk,
                        cfg->pre_queue ? "1" : "0", open, rk[0], rk[1], rk[2], rk[3], k.sale,
                        cfg->queueing == TK_QUEUEING_RANDOM ? "1" : "0", rate};
    redisReply *r = run_script(c->redis, S_ADMIT, 12, 27, av, err, errlen);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (rc == -1)
        tk_err(err, errlen, "redis: unexpected reply from the admit script");
    freeReplyObject(r);
    if (rc >= 0) {
        if (rc > 0) /* admissions must survive a failover (rcluster.h) */
            tk_redis_wait_replica(c->redis, k.q, 100);
        sales_forget_if_empty(c->redis, &k);
    }
    return rc;
}

/* ---- the "now serving" state of every instance --------------------------------- */

double tk_queue_advance_rate(const tk_queue_sale_state *prev, const tk_queue_sale_state *cur)
{
    if (!prev || !cur)
        return 0;
    if (cur->at_ms <= prev->at_ms || cur->upto < prev->upto)
        return prev->advance_rate;
    double now = (double)(cur->upto - prev->upto) * 60000.0 / (double)(cur->at_ms - prev->at_ms);
    return prev->advance_rate > 0 ? 0.8 * prev->advance_rate + 0.2 * now : now;
}

void tk_queue_sale_state_clear(tk_queue_sale_state *s)
{
    if (!s)
        return;
    free(s->bits);
    memset(s, 0, sizeof *s);
}

static const char *const state_fields[] = {"upto", "at", "waiting", "active", "rate", "open", "shuffled",
                                           "pre",  "k1", "k2",      "k3",     "k4",   "mode"};
#define N_STATE_FIELDS (sizeof state_fields / sizeof state_fields[0])

static int64_t str_i64(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
}

/* One HMGET reply of the state fields into *s; 0, or -1 when malformed. */
static int state_parse(const redisReply *r, tk_queue_sale_state *s)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != N_STATE_FIELDS)
        return -1;
    redisReply **e = r->element;
    s->upto = str_i64(e[0]);
    s->at_ms = str_i64(e[1]);
    s->waiting = str_i64(e[2]);
    s->active = str_i64(e[3]);
    s->rate = e[4]->type == REDIS_REPLY_STRING ? strtod(e[4]->str, NULL) : 0;
    s->open = (int)str_i64(e[5]);
    s->shuffled = (int)str_i64(e[6]);
    s->pre = str_i64(e[7]);
    for (int j = 0; j < 4; j++)
        s->k[j] = (uint32_t)str_i64(e[8 + j]);
    s->mode = (int)str_i64(e[12]);
    return 0;
}

static void state_bits(const redisReply *r, tk_queue_sale_state *s)
{
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && (s->bits = malloc(r->len))) {
        memcpy(s->bits, r->str, r->len);
        s->nbits_bytes = r->len;
    }
}

/* A cluster: the sales live in different slots, so one routed call each
 * (a tick's worth of sales, not a hot path). */
static int state_fetch_routed(redisContext *c, const uint64_t *sales, int n, tk_queue_sale_state *out, char *err,
                              size_t errlen)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        rkeys k;
        rkeys_fill(&k, sales[i]);
        const char *av[2 + N_STATE_FIELDS] = {"HMGET", k.state};
        memcpy(av + 2, state_fields, sizeof state_fields);
        redisReply *r = tk_redis_argv(c, k.state, 2 + (int)N_STATE_FIELDS, av, NULL, err, errlen);
        if (!r)
            return -1;
        if (state_parse(r, &out[i]) != 0)
            rc = tk_err(err, errlen, "redis: unexpected reply to HMGET of the queue state");
        freeReplyObject(r);
        if (out[i].mode == TK_QUEUEING_RANDOM && (r = tk_redis_cmd(c, k.bits, "GET %s", k.bits))) {
            state_bits(r, &out[i]);
            freeReplyObject(r);
        }
    }
    return rc;
}

int tk_queue_state_fetch(redisContext *c, const uint64_t *sales, int n, tk_queue_sale_state *out, char *err,
                         size_t errlen)
{
    if (!c)
        return tk_err(err, errlen, "no Redis connection");
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].sale = sales[i];
    }
    if (tk_redis_is_cluster(c))
        return state_fetch_routed(c, sales, n, out, err, errlen);
    for (int i = 0; i < n; i++) {
        rkeys k;
        rkeys_fill(&k, sales[i]);
        const char *av[2 + N_STATE_FIELDS] = {"HMGET", k.state};
        memcpy(av + 2, state_fields, sizeof state_fields);
        redisAppendCommandArgv(c, 2 + (int)N_STATE_FIELDS, av, NULL);
    }
    int rc = 0, nrandom = 0;
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
            for (int j = i; j < n; j++) /* the connection is broken: the rest never come */
                memset(&out[j], 0, sizeof out[j]);
            return tk_err(err, errlen, "redis: %s", c->errstr);
        }
        if (state_parse(r, &out[i]) != 0) {
            rc = tk_err(err, errlen, "redis: unexpected reply to HMGET of the queue state");
        } else if (out[i].mode == TK_QUEUEING_RANDOM) {
            rkeys k;
            rkeys_fill(&k, sales[i]);
            redisAppendCommand(c, "GET %s", k.bits);
            nrandom++;
        }
        freeReplyObject(r);
    }
    for (int i = 0; i < n && nrandom > 0; i++) {
        if (out[i].mode != TK_QUEUEING_RANDOM)
            continue;
        nrandom--;
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r)
            return tk_err(err, errlen, "redis: %s", c->errstr);
        state_bits(r, &out[i]);
        freeReplyObject(r);
    }
    return rc;
}

static int64_t r_waiting(tk_queue_conn *c, uint64_t sale, char *err, size_t errlen)
{
    rkeys k;
    rkeys_fill(&k, sale);
    redisReply *r = c->redis ? tk_redis_cmd(c->redis, k.q, "ZCARD %s", k.q) : NULL;
    int64_t n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (n < 0)
        tk_err(err, errlen, "redis: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
    if (r)
        freeReplyObject(r);
    return n;
}

static int r_sales(tk_queue_conn *c, uint64_t *out, int cap, char *err, size_t errlen)
{
    redisReply *r = c->redis ? tk_redis_cmd(c->redis, SALES_KEY, "SMEMBERS " SALES_KEY) : NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        tk_err(err, errlen, "redis: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
        if (r)
            freeReplyObject(r);
        return -1;
    }
    int n = 0;
    for (size_t i = 0; i < r->elements && n < cap; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            out[n++] = strtoull(r->element[i]->str, NULL, 10);
    freeReplyObject(r);
    return n;
}

static const tk_queue_ops redis_ops = {
    "redis", r_enqueue, r_poll, r_leave, r_admit_tick, r_is_admitted, r_revoke, r_waiting, r_sales,
};

/* ---- MySQL backend ---------------------------------------------------------- */

/* Statements carry integers only (formatted here), never user text. */
static int m_exec(MYSQL *db, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int m_exec(MYSQL *db, char *err, size_t errlen, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (!db)
        return tk_err(err, errlen, "no MariaDB connection");
    if (mysql_query(db, sql) != 0)
        return tk_err(err, errlen, "mariadb: %s", mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    if (res)
        mysql_free_result(res);
    return 0;
}

/* First row's columns as integers (NULL -> 0) into v[0..n). 1 = a row, 0 = none, -1 error. */
static int m_row(MYSQL *db, int64_t *v, int n, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int m_row(MYSQL *db, int64_t *v, int n, char *err, size_t errlen, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (!db)
        return tk_err(err, errlen, "no MariaDB connection");
    if (mysql_query(db, sql) != 0)
        return tk_err(err, errlen, "mariadb: %s", mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return tk_err(err, errlen, "mariadb: %s", mysql_error(db));
    MYSQL_ROW row = mysql_fetch_row(res);
    int got = 0;
    if (row) {
        got = 1;
        for (int i = 0; i < n && i < (int)mysql_num_fields(res); i++)
            v[i] = row[i] ? strtoll(row[i], NULL, 10) : 0;
    }
    mysql_free_result(res);
    return got;
}

static int64_t m_waiting(tk_queue_conn *c, uint64_t sale, char *err, size_t errlen);

static tk_rc m_poll(tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale, uint64_t user, int64_t now_ms,
                    tk_queue_status *out, char *err, size_t errlen)
{
    (void)cfg;
    memset(out, 0, sizeof *out);
    int64_t v[4] = {0};
    int got = m_row(c->db, v, 4, err, errlen,
                    "SELECT id, status = 'ADMITTED', admitted_until_ms, admission_no FROM queue_entries"
                    " WHERE schedule_id = %" PRIu64 " AND user_id = %" PRIu64,
                    sale, user);
    if (got < 0)
        return TK_EBACKEND;
    if (got == 0)
        return TK_OK;
    if (v[1]) {
        if (v[2] > now_ms) {
            out->found = out->admitted = 1;
            out->admitted_until_ms = v[2];
            out->admission_no = v[3];
        }
        return TK_OK; /* an expired admission: not found */
    }
    out->found = 1;
    out->seq = v[0];
    int64_t ahead = 0;
    if (m_row(c->db, &ahead, 1, err, errlen,
              "SELECT COUNT(*) FROM queue_entries WHERE schedule_id = %" PRIu64
              " AND status = 'WAITING' AND id < %" PRId64,
              sale, v[0]) < 0)
        return TK_EBACKEND;
    out->ahead = ahead;
    out->position = ahead + 1;
    out->line = m_waiting(c, sale, err, errlen);
    return out->line < 0 ? TK_EBACKEND : TK_OK;
}

static tk_rc m_enqueue(tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale, uint64_t user, int64_t now_ms,
                       tk_queue_status *out, char *err, size_t errlen)
{
    /* an admission that ran out: the user goes to the back of the line */
    if (m_exec(c->db, err, errlen,
               "DELETE FROM queue_entries WHERE schedule_id = %" PRIu64 " AND user_id = %" PRIu64
               " AND status = 'ADMITTED' AND admitted_until_ms <= %" PRId64,
               sale, user, now_ms) != 0 ||
        m_exec(c->db, err, errlen,
               "INSERT IGNORE INTO queue_entries (schedule_id, user_id) VALUES (%" PRIu64 ", %" PRIu64 ")", sale,
               user) != 0)
        return TK_EBACKEND;
    int created = mysql_affected_rows(c->db) == 1;
    tk_rc rc = m_poll(c, cfg, sale, user, now_ms, out, err, errlen);
    out->created = created;
    return rc;
}

static tk_rc m_leave(tk_queue_conn *c, uint64_t sale, uint64_t user, int *removed, char *err, size_t errlen)
{
    if (m_exec(c->db, err, errlen,
               "DELETE FROM queue_entries WHERE schedule_id = %" PRIu64 " AND user_id = %" PRIu64, sale, user) != 0)
        return TK_EBACKEND;
    if (removed)
        *removed = mysql_affected_rows(c->db) > 0;
    return TK_OK;
}

static tk_rc m_revoke(tk_queue_conn *c, uint64_t sale, uint64_t user, char *err, size_t errlen)
{
    return m_exec(c->db, err, errlen,
                  "DELETE FROM queue_entries WHERE schedule_id = %" PRIu64 " AND user_id = %" PRIu64
                  " AND status = 'ADMITTED'",
                  sale, user) == 0
               ? TK_OK
               : TK_EBACKEND;
}

static tk_rc m_is_admitted(tk_queue_conn *c, uint64_t sale, uint64_t user, int64_t now_ms, char *err, size_t errlen)
{
    int64_t n = 0;
    if (m_row(c->db, &n, 1, err, errlen,
              "SELECT COUNT(*) FROM queue_entries WHERE schedule_id = %" PRIu64 " AND user_id = %" PRIu64
              " AND status = 'ADMITTED' AND admitted_until_ms > %" PRId64,
              sale, user, now_ms) < 0)
        return TK_EBACKEND;
    return n > 0 ? TK_OK : TK_EFORBIDDEN;
}

/* The lease fence, checked in Redis just before the commit: not atomic with
 * it (two stores), but the queue_ticks primary key still makes a tick
 * admit at most once whoever runs it. */
static int m_fenced_off(tk_queue_conn *c, const char *fence_key, uint64_t fence)
{
    if (!fence_key || !c->redis)
        return 0;
    redisReply *r = tk_redis_cmd(c->redis, fence_key, "GET %s", fence_key);
    int off = !r || r->type != REDIS_REPLY_STRING || strtoull(r->str, NULL, 10) != fence;
    if (r)
        freeReplyObject(r);
    return off;
}

static int m_admit_tick(tk_queue_conn *c, const tk_queue_config *cfg, uint64_t sale, const char *fence_key,
                        uint64_t fence, int64_t tick, int64_t quota, int64_t now_ms, char *err, size_t errlen)
{
    MYSQL *db = c->db;
    if (m_exec(db, err, errlen, "START TRANSACTION") != 0)
        return -1;
    if (m_exec(db, err, errlen,
               "INSERT INTO queue_ticks (schedule_id, tick, admitted) VALUES (%" PRIu64 ", %" PRId64 ", 0)", sale,
               tick) != 0) {
        int dup = mysql_errno(db) == 1062;
        m_exec(db, NULL, 0, "ROLLBACK");
        return dup ? -3 : -1;
    }
    int64_t live = 0, base = 0;
    if (m_exec(db, err, errlen,
               "DELETE FROM queue_entries WHERE schedule_id = %" PRIu64
               " AND status = 'ADMITTED' AND admitted_until_ms <= %" PRId64,
               sale, now_ms) != 0 ||
        m_row(db, &live, 1, err, errlen,
              "SELECT COUNT(*) FROM queue_entries WHERE schedule_id = %" PRIu64 " AND status = 'ADMITTED'",
              sale) < 0 ||
        m_row(db, &base, 1, err, errlen,
              "SELECT admitted_total FROM queue_ticks WHERE schedule_id = %" PRIu64 " AND tick < %" PRId64
              " ORDER BY tick DESC LIMIT 1",
              sale, tick) < 0)
        goto fail;
    int64_t n = quota < cfg->admitted_cap - live ? quota : cfg->admitted_cap - live;
    int64_t got = 0;
    if (n > 0) {
        if (m_exec(db, err, errlen, "SET @tk_admno = %" PRId64, base) != 0 ||
            m_exec(db, err, errlen,
                   "UPDATE queue_entries SET status = 'ADMITTED', admitted_until_ms = %" PRId64
                   ", admission_no = (@tk_admno := @tk_admno + 1) WHERE schedule_id = %" PRIu64
                   " AND status = 'WAITING' ORDER BY id LIMIT %" PRId64,
                   now_ms + cfg->admitted_ttl_ms, sale, n) != 0)
            goto fail;
        got = (int64_t)mysql_affected_rows(db);
    }
    if (m_exec(db, err, errlen,
               "UPDATE queue_ticks SET admitted = %" PRId64 ", admitted_total = %" PRId64 " WHERE schedule_id = %" PRIu64
               " AND tick = %" PRId64,
               got, base + got, sale, tick) != 0)
        goto fail;
    if (m_fenced_off(c, fence_key, fence)) {
        m_exec(db, NULL, 0, "ROLLBACK");
        return -2;
    }
    if (m_exec(db, err, errlen, "COMMIT") != 0)
        goto fail;
    return (int)got;
fail:
    m_exec(db, NULL, 0, "ROLLBACK");
    return -1;
}

static int64_t m_waiting(tk_queue_conn *c, uint64_t sale, char *err, size_t errlen)
{
    int64_t n = 0;
    if (m_row(c->db, &n, 1, err, errlen,
              "SELECT COUNT(*) FROM queue_entries WHERE schedule_id = %" PRIu64 " AND status = 'WAITING'", sale) < 0)
        return -1;
    return n;
}

static int m_sales(tk_queue_conn *c, uint64_t *out, int cap, char *err, size_t errlen)
{
    if (!c->db || mysql_query(c->db, "SELECT DISTINCT schedule_id FROM queue_entries") != 0)
        return tk_err(err, errlen, "mariadb: %s", c->db ? mysql_error(c->db) : "no connection");
    MYSQL_RES *res = mysql_store_result(c->db);
    if (!res)
        return tk_err(err, errlen, "mariadb: %s", mysql_error(c->db));
    int n = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) && n < cap)
        out[n++] = strtoull(row[0], NULL, 10);
    mysql_free_result(res);
    return n;
}

static const tk_queue_ops mysql_ops = {
    "mysql", m_enqueue, m_poll, m_leave, m_admit_tick, m_is_admitted, m_revoke, m_waiting, m_sales,
};

const tk_queue_ops *tk_queue_backend(tk_queue_kind k)
{
    switch (k) {
    case TK_QUEUE_REDIS: return &redis_ops;
    case TK_QUEUE_MYSQL: return &mysql_ops;
    case TK_QUEUE_NONE: break;
    }
    return NULL;
}

void tk_queue_lease_name(uint64_t sale, char *out, size_t n) { snprintf(out, n, "sale:%" PRIu64, sale); }

/* ---- test and bench helpers ------------------------------------------------- */

int tk_queue_admission_order(tk_queue_kind k, tk_queue_conn *c, uint64_t sale, uint64_t *out, int cap)
{
    int n = 0;
    if (k == TK_QUEUE_REDIS) {
        rkeys ks;
        rkeys_fill(&ks, sale);
        redisReply *r = c->redis ? tk_redis_cmd(c->redis, ks.admlog, "LRANGE %s 0 %d", ks.admlog, cap - 1) : NULL;
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            if (r)
                freeReplyObject(r);
            return -1;
        }
        for (size_t i = 0; i < r->elements && n < cap; i++)
            out[n++] = strtoull(r->element[i]->str, NULL, 10);
        freeReplyObject(r);
        return n;
    }
    if (k != TK_QUEUE_MYSQL || !c->db)
        return -1;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT user_id FROM queue_entries WHERE schedule_id = %" PRIu64
             " AND admission_no IS NOT NULL ORDER BY admission_no LIMIT %d",
             sale, cap);
    if (mysql_query(c->db, sql) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(c->db);
    if (!res)
        return -1;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) && n < cap)
        out[n++] = strtoull(row[0], NULL, 10);
    mysql_free_result(res);
    return n;
}

int tk_queue_reset(tk_queue_kind k, tk_queue_conn *c, uint64_t sale)
{
    if (k == TK_QUEUE_REDIS) {
        if (!c->redis)
            return -1;
        rkeys ks;
        rkeys_fill(&ks, sale);
        redisReply *r = tk_redis_cmd(c->redis, ks.q, "DEL %s %s %s %s %s %s %s %s %s %s %s %s", ks.q, ks.seq, ks.adm,
                                     ks.pre, ks.admno, ks.ticks, ks.shuf, ks.admlog, ks.admcnt, ks.state, ks.bits,
                                     ks.fence);
        int ok = r && r->type == REDIS_REPLY_INTEGER;
        if (r)
            freeReplyObject(r);
        r = tk_redis_cmd(c->redis, SALES_KEY, "SREM " SALES_KEY " %s", ks.sale);
        if (r)
            freeReplyObject(r);
        return ok ? 0 : -1;
    }
    if (k == TK_QUEUE_MYSQL)
        return m_exec(c->db, NULL, 0, "DELETE FROM queue_entries WHERE schedule_id = %" PRIu64, sale) == 0 &&
                       m_exec(c->db, NULL, 0, "DELETE FROM queue_ticks WHERE schedule_id = %" PRIu64, sale) == 0
                   ? 0
                   : -1;
    return -1;
}

/* ---- throughput of the Redis backend (scripts/bench-queue) -------------------- */

typedef struct ob_arg {
    const char *url;
    const tk_queue_config *cfg;
    uint64_t sale;
    int64_t from, to; /* users [from, to) */
    int pipeline;
    pthread_barrier_t *go;
    uint64_t ops, errors;
    int failed;
} ob_arg;

/* Send n script calls of one kind for users u..u+n-1 in one pipeline and
 * read the replies; counts errors. */
static void ob_batch(redisContext *c, ob_arg *a, int id, int64_t u, int n, rkeys *k)
{
    char us[64][24], now[24], open[24];
    snprintf(now, sizeof now, "%" PRId64, tk_wall_ms());
    snprintf(open, sizeof open, "%" PRId64, a->cfg->open_at_ms);
    for (int i = 0; i < n; i++) {
        snprintf(us[i], sizeof us[i], "%" PRId64, u + i);
        const char *av[16] = {"EVALSHA", script_sha[id]};
        int ac;
        if (id == S_ENQ) {
            const char *x[] = {"5", k->q, k->seq, k->adm, k->pre, k->admno, us[i], now, open,
                               a->cfg->pre_queue ? "1" : "0"};
            memcpy(av + 2, x, sizeof x);
            ac = 2 + (int)(sizeof x / sizeof x[0]);
        } else {
            const char *x[] = {"3", k->q, k->adm, k->admno, us[i], now};
            memcpy(av + 2, x, sizeof x);
            ac = 2 + (int)(sizeof x / sizeof x[0]);
        }
        redisAppendCommandArgv(c, ac, av, NULL);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 6)
            a->errors++;
        else
            a->ops++;
        if (r)
            freeReplyObject(r);
        if (c->err) {
            a->failed = 1;
            return;
        }
    }
}

/* Load the enqueue and poll scripts on the sale's node (SCRIPT LOAD; the
 * SHA is the same on every node) before pipelining EVALSHA there. */
static int scripts_load(redisContext *node)
{
    if (!node || scripts_ready() != 0)
        return -1;
    for (int id = S_ENQ; id <= S_POLL; id++) {
        redisReply *l = redisCommand(node, "SCRIPT LOAD %s", script_text(id));
        int ok = l && l->type == REDIS_REPLY_STRING && l->len == 40;
        if (ok) {
            pthread_mutex_lock(&script_mu);
            memcpy(script_sha[id], l->str, 41);
            pthread_mutex_unlock(&script_mu);
        }
        if (l)
            freeReplyObject(l);
        if (!ok)
            return -1;
    }
    return 0;
}

static void *ob_thread(void *p)
{
    ob_arg *a = p;
    redisContext *c = tk_redis_connect(a->url, NULL, 0);
    rkeys k;
    rkeys_fill(&k, a->sale);
    redisContext *node = c ? tk_redis_node(c, k.q) : NULL; /* the sale's slot: pipelines stay on one node */
    if (!node || scripts_load(node) != 0)
        a->failed = 1;
    pthread_barrier_wait(a->go);
    if (a->failed) {
        tk_redis_free(c);
        return NULL;
    }
    int depth = a->pipeline < 1 ? 1 : a->pipeline > 64 ? 64 : a->pipeline;
    for (int pass = 0; pass < 2 && !a->failed; pass++) /* enqueue everyone, then poll everyone */
        for (int64_t u = a->from; u < a->to && !a->failed; u += depth) {
            int n = (int)(a->to - u < depth ? a->to - u : depth);
            ob_batch(node, a, pass == 0 ? S_ENQ : S_POLL, u, n, &k);
        }
    tk_redis_free(c);
    return NULL;
}

int tk_queue_bench_redis(const char *redis_url, uint64_t sale, int connections, int64_t users, int pipeline,
                         tk_queue_opsbench *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (connections < 1 || connections > 1024 || users < connections)
        return tk_err(err, errlen, "need 1..1024 connections and at least one user per connection");
    tk_queue_config cfg;
    tk_queue_config_default(&cfg);
    cfg.kind = TK_QUEUE_REDIS;
    redisContext *c = tk_redis_connect(redis_url, NULL, 0);
    if (!c)
        return tk_err(err, errlen, "cannot connect to Redis at %s", redis_url);
    tk_queue_conn qc = {c, NULL};
    tk_queue_reset(TK_QUEUE_REDIS, &qc, sale);
    ob_arg *args = calloc((size_t)connections, sizeof *args);
    pthread_t *th = calloc((size_t)connections, sizeof *th);
    pthread_barrier_t go;
    int rc = -1, started = 0;
    if (!args || !th || pthread_barrier_init(&go, NULL, (unsigned)connections + 1) != 0) {
        tk_err(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < connections; i++) {
        args[i] = (ob_arg){redis_url, &cfg, sale, 1 + users * i / connections, 1 + users * (i + 1) / connections,
                           pipeline, &go, 0, 0, 0};
        if (pthread_create(&th[i], NULL, ob_thread, &args[i]) != 0)
            break;
        started++;
    }
    if (started < connections) { /* the barrier would never open: let the started ones fail */
        tk_err(err, errlen, "cannot start %d threads", connections);
        for (int i = 0; i < started; i++)
            args[i].failed = 1;
        for (int i = started; i <= connections; i++)
            pthread_barrier_wait(&go); /* the missing parties */
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        goto out;
    }
    pthread_barrier_wait(&go);
    uint64_t t0 = tk_mono_us();
    int failed = 0;
    for (int i = 0; i < connections; i++) {
        pthread_join(th[i], NULL);
        out->ops += args[i].ops;
        out->errors += args[i].errors;
        failed |= args[i].failed;
    }
    out->seconds = (double)(tk_mono_us() - t0) / 1e6;
    pthread_barrier_destroy(&go);
    out->connections = connections;
    out->users = users;
    out->pipeline = pipeline < 1 ? 1 : pipeline > 64 ? 64 : pipeline;
    out->ops_per_s = out->seconds > 0 ? (double)out->ops / out->seconds : 0;
    if (failed)
        tk_err(err, errlen, "a connection failed during the run");
    else
        rc = 0;
out:
    tk_queue_reset(TK_QUEUE_REDIS, &qc, sale);
    tk_redis_free(c);
    free(args);
    free(th);
    return rc;
}

int tk_queue_reset_all(tk_queue_conn *c)
{
    int rc = 0;
    if (c->redis) {
        redisReply *m = tk_redis_cmd(c->redis, SALES_KEY, "SMEMBERS " SALES_KEY);
        if (m && m->type == REDIS_REPLY_ARRAY) {
            for (size_t i = 0; i < m->elements; i++)
                if (tk_queue_reset(TK_QUEUE_REDIS, c, strtoull(m->element[i]->str, NULL, 10)) != 0)
                    rc = -1;
        } else {
            rc = -1;
        }
        if (m)
            freeReplyObject(m);
    }
    if (c->db && (m_exec(c->db, NULL, 0, "DELETE FROM queue_entries") != 0 ||
                  m_exec(c->db, NULL, 0, "DELETE FROM queue_ticks") != 0))
        rc = -1;
    return rc;
}
