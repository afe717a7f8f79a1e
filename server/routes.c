/* HTTP routes: the table, and one thin handler per route over lib/.
 * A handler validates input, calls the store, and replies; the error
 * shape and status mapping live in reply.c. */
#include "internal.h"
#include "queue_page.h"
#include "queue_routes.h"
#include "routes.h"

#include <ctype.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ticketctl/catalog.h"
#include "ticketctl/hold.h"

/* ---- input helpers (reply and return in one step) ------------------------ */

/* A string field of 1..max bytes, or reply 422 and return NULL. */
const char *job_want_string(tk_job *j, json_t *o, const char *name, size_t min, size_t max)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v)) {
        job_reply_error(j, 422, "VALIDATION", "'%s' must be a string", name);
        return NULL;
    }
    size_t n = json_string_length(v);
    if (n < min || n > max || strlen(json_string_value(v)) != n) {
        job_reply_error(j, 422, "VALIDATION", "'%s' must be %zu to %zu characters", name, min, max);
        return NULL;
    }
    return json_string_value(v);
}

/* A positive integer field in [1, max], or reply 422 and return -1. */
int job_want_int(tk_job *j, json_t *o, const char *name, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v)) {
        job_reply_error(j, 422, "VALIDATION", "'%s' must be an integer", name);
        return -1;
    }
    json_int_t x = json_integer_value(v);
    if (x < 1 || x > max) {
        job_reply_error(j, 422, "VALIDATION", "'%s' must be between 1 and %lld", name, (long long)max);
        return -1;
    }
    *out = x;
    return 0;
}

/* page/size query parameters: page >= 1, 1 <= size <= 100. */
int job_want_page(tk_job *j, int *page, int *size)
{
    int64_t p = 1, s = 20;
    const char *ps = job_query(j, "page"), *ss = job_query(j, "size");
    if ((ps && tk_parse_i64(ps, 1, 1000000, &p) != 0) || (ss && tk_parse_i64(ss, 1, 100, &s) != 0)) {
        job_reply_error(j, 400, "BAD_REQUEST", "page must be >= 1 and size between 1 and 100");
        return -1;
    }
    *page = (int)p;
    *size = (int)s;
    return 0;
}

static int valid_email(const char *e)
{
    const char *at = strchr(e, '@');
    if (!at || at == e || strchr(at + 1, '@') || !strchr(at + 1, '.'))
        return 0;
    for (const char *c = e; *c; c++)
        if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
            return 0;
    return 1;
}

static json_t *user_json(const tk_user *u)
{
    return json_pack("{s:I, s:s, s:s, s:I, s:s}", "id", (json_int_t)u->id, "email", u->email, "name", u->name,
                     "points", (json_int_t)u->points, "role", u->admin ? "ADMIN" : "USER");
}

/* The cached views of a concert and one of its schedules: the dates, the
 * concert's detail, the seat map. */
static size_t view_keys(uint64_t concert_id, uint64_t schedule_id, char keys[3][48])
{
    size_t n = 0;
    snprintf(keys[n++], 48, "dates:%llu", (unsigned long long)concert_id);
    snprintf(keys[n++], 48, "concert:%llu", (unsigned long long)concert_id);
    if (schedule_id)
        snprintf(keys[n++], 48, "seats:%llu", (unsigned long long)schedule_id);
    return n;
}

/* Tell the other instances (cache bus, cache.h); this one already knows. */
static void views_publish(tk_server *srv, redisContext *rc, char keys[3][48], size_t n)
{
    const char *k[3];
    for (size_t i = 0; i < n; i++)
        k[i] = keys[i];
    tk_cache_publish(srv->cache_bus, rc, k, n);
}

void tk_views_changed_on(tk_server *srv, redisContext *rc, uint64_t concert_id, uint64_t schedule_id)
{
    char keys[3][48];
    size_t n = view_keys(concert_id, schedule_id, keys);
    for (size_t i = 0; i < n; i++)
        tk_cache_invalidate(srv->cache, keys[i]);
    views_publish(srv, rc, keys, n);
}

void tk_views_changed(tk_worker *w, uint64_t concert_id, uint64_t schedule_id)
{
    tk_views_changed_on(w->srv, w->redis, concert_id, schedule_id);
}

void tk_views_purge(tk_worker *w)
{
    tk_cache_clear(w->srv->cache);
    const char *all = "*";
    tk_cache_publish(w->srv->cache_bus, w->redis, &all, 1);
}

static int seat_map_drop(char *body, size_t *len, void *arg)
{
    return tk_store_seats_json_remove(body, len, *(const uint64_t *)arg);
}

static int dates_take_seat(char *body, size_t *len, void *arg)
{
    return tk_store_dates_json_take_seat(body, len, *(const uint64_t *)arg);
}

/* A hold took one seat: the schedule's cached seat map loses that item and
 * the concert's cached dates count one seat fewer, in place (no database
 * read for the next viewer, measured in scripts/bench-server-cpu); a
 * schedule whose last seat went makes the dates be read again (it leaves
 * the list). Reads that raced the hold are fenced out as with an
 * invalidation (cache.h). */
static void seat_views_after_hold(tk_worker *w, const tk_reservation *r)
{
    char keys[3][48];
    size_t n = view_keys(r->concert_id, r->schedule_id, keys);
    tk_cache_edit(w->srv->cache, keys[0], dates_take_seat, (void *)&r->schedule_id);
    tk_cache_invalidate(w->srv->cache, keys[1]);
    tk_cache_edit(w->srv->cache, keys[2], seat_map_drop, (void *)&r->seat_id);
    views_publish(w->srv, w->redis, keys, n); /* the other instances drop theirs */
}

/* Does the If-None-Match list (RFC 9110 13.1.2: "*" or entity tags
 * separated by commas, weak ones compared weakly) name etag? */
static int etag_listed(const char *list, const char *etag)
{
    if (!strcmp(list, "*"))
        return 1;
    size_t n = strlen(etag);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!strncmp(p, "W/", 2))
            p += 2;
        if (!strncmp(p, etag, n) && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

int tk_http_validators(const tk_job *j, int status, char etag[24], const char **cc)
{
    etag[0] = '\0';
    *cc = "";
    if (status != 200 || !j->route || !j->route->cache_key || !j->cache_key[0] || !j->resp)
        return status;
    /* XXH3-64 of the body (xxHash, https://xxhash.com): a byte-wise FNV-1a
     * over a 20 KB seat map was serve's top symbol (5.8 % under the flow) */
    uint64_t h = XXH3_64bits(j->resp, j->resp_len);
    snprintf(etag, 24, "\"%016llx\"", (unsigned long long)h);
    /* seat maps move by the second: a client may keep the body but must ask
     * again each time (a 304 costs no body) */
    *cc = "no-cache";
    return j->if_none_match[0] && etag_listed(j->if_none_match, etag) ? 304 : status;
}

/* Store the successful response of a cacheable read. */
static void cache_fill(tk_job *j, tk_server *srv)
{
    if (j->cache_key[0] && j->status == 200 && j->resp)
        tk_cache_put(srv->cache, j->cache_key, j->resp, j->resp_len, j->cache_seq);
}

/* ---- auth ----------------------------------------------------------------- */

static void h_signup(tk_job *j, tk_worker *w)
{
    tk_server *srv = w->srv;
    json_t *b = job_body_object(j);
    if (!b)
        return;
    const char *email, *password, *name;
    if (!(email = job_want_string(j, b, "email", 3, 190)) || !(password = job_want_string(j, b, "password", 8, 128)) ||
        !(name = job_want_string(j, b, "name", 1, 100)))
        goto out;
    if (!valid_email(email)) {
        job_reply_error(j, 422, "VALIDATION", "'email' is not an e-mail address");
        goto out;
    }
    char hash[TK_PW_HASH_MAX];
    /* argon2id at 64 MiB: at most two at once keeps memory bounded. */
    pthread_mutex_lock(&srv->pwhash_mu);
    while (srv->pwhash_running >= 2)
        pthread_cond_wait(&srv->pwhash_cv, &srv->pwhash_mu);
    srv->pwhash_running++;
    pthread_mutex_unlock(&srv->pwhash_mu);
    int hrc = tk_pw_hash(password, hash);
    pthread_mutex_lock(&srv->pwhash_mu);
    srv->pwhash_running--;
    pthread_cond_signal(&srv->pwhash_cv);
    pthread_mutex_unlock(&srv->pwhash_mu);
    if (hrc != 0) {
        job_reply_error(j, 503, "BUSY", "cannot hash the password now");
        goto out;
    }
    tk_user u;
    tk_rc rc = tk_store_user_create(w->store, email, name, hash, &u);
    if (rc != TK_OK)
        job_reply_store(j, rc, w->store);
    else
        job_reply_json(j, 201, user_json(&u));
out:
    json_decref(b);
}

static void h_login(tk_job *j, tk_worker *w)
{
    json_t *b = job_body_object(j);
    if (!b)
        return;
    const char *email, *password;
    if (!(email = job_want_string(j, b, "email", 1, 190)) || !(password = job_want_string(j, b, "password", 1, 128)))
        goto out;
    tk_user u;
    tk_rc rc = tk_store_user_by_email(w->store, email, &u);
    if (rc == TK_ENOTFOUND || (rc == TK_OK && tk_pw_verify(u.password_hash, password) != 0)) {
        job_reply_error(j, 401, "UNAUTHORIZED", "wrong e-mail or password");
        goto out;
    }
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        goto out;
    }
    const tk_server_config *cfg = &w->srv->cfg;
    char *tok = tk_jwt_issue(cfg->jwt_key, cfg->jwt_key_len, u.id, u.admin, cfg->token_ttl_s);
    if (!tok) {
        job_reply_error(j, 503, "BUSY", "cannot issue a token now");
        goto out;
    }
    job_reply_json(j, 200, json_pack("{s:s, s:s, s:i}", "token", tok, "token_type", "Bearer", "expires_in",
                                     cfg->token_ttl_s));
    free(tok);
out:
    json_decref(b);
}

/* The token's user, or reply (401 when the account is gone) and return -1. */
static int caller_or_reply(tk_job *j, tk_worker *w, tk_user *u)
{
    tk_rc rc = tk_store_user_get(w->store, j->claims.user_id, u);
    if (rc == TK_ENOTFOUND)
        job_reply_error(j, 401, "UNAUTHORIZED", "the token's user no longer exists");
    else if (rc != TK_OK)
        job_reply_store(j, rc, w->store);
    return rc == TK_OK ? 0 : -1;
}

static void h_me(tk_job *j, tk_worker *w)
{
    tk_user u;
    if (caller_or_reply(j, w, &u) == 0)
        job_reply_json(j, 200, user_json(&u));
}

/* ---- points --------------------------------------------------------------- */

static void h_balance(tk_job *j, tk_worker *w)
{
    tk_user u;
    if (caller_or_reply(j, w, &u) == 0)
        job_reply_json(j, 200, json_pack("{s:I}", "balance", (json_int_t)u.points));
}

int job_charge_begin(tk_job *j, tk_worker *w, tk_charge_item *it)
{
    (void)w;
    json_t *b = job_body_object(j);
    if (!b)
        return 0;
    int64_t amount;
    int due = job_want_int(j, b, "amount", TK_CHARGE_MAX, &amount) == 0;
    if (due) {
        memset(it, 0, sizeof *it);
        it->user_id = j->claims.user_id;
        it->amount = amount;
    }
    json_decref(b);
    return due;
}

void job_charge_end(tk_job *j, tk_worker *w, const tk_charge_item *it)
{
    (void)w;
    if (it->rc != TK_OK)
        job_reply_error(j, tk_rc_http_status(it->rc), it->code, "%s", it->msg);
    else
        job_reply_json(j, 200, json_pack("{s:I, s:I}", "balance", (json_int_t)it->balance, "history_id",
                                         (json_int_t)it->history_id));
}

static void h_charge(tk_job *j, tk_worker *w)
{
    tk_charge_item it;
    if (job_charge_begin(j, w, &it)) {
        tk_store_charge_batch(w->store, &it, 1);
        job_charge_end(j, w, &it);
    }
}

static void h_history(tk_job *j, tk_worker *w)
{
    int page, size;
    if (job_want_page(j, &page, &size) != 0)
        return;
    json_t *out;
    tk_rc rc = tk_store_points_history(w->store, j->claims.user_id, page, size, &out);
    if (rc != TK_OK)
        job_reply_store(j, rc, w->store);
    else
        job_reply_json(j, 200, out);
}

/* ---- catalogue (cached) --------------------------------------------------- */

static void k_concerts(tk_job *j)
{
    const char *kw = job_query(j, "keyword"), *p = job_query(j, "page"), *s = job_query(j, "size");
    if ((kw && strlen(kw) > 100) || (p && strlen(p) > 8) || (s && strlen(s) > 4))
        return; /* not cached; the handler validates */
    snprintf(j->cache_key, sizeof j->cache_key, "concerts:%s:%s:%s", kw ? kw : "", p ? p : "1", s ? s : "20");
}

static void h_concerts(tk_job *j, tk_worker *w)
{
    int page, size;
    if (job_want_page(j, &page, &size) != 0)
        return;
    const char *kw = job_query(j, "keyword");
    if (kw && strlen(kw) > 100) {
        job_reply_error(j, 422, "VALIDATION", "keyword is at most 100 characters");
        return;
    }
    json_t *out;
    int words = 0; /* a keyword with a word: the search (catalog.h); else the plain list */
    for (const char *c = kw ? kw : ""; *c && !words; c++)
        words = !isspace((unsigned char)*c);
    tk_rc rc = words ? tk_catalog_search(w->store, kw, page, size, &out)
                     : tk_store_concerts_list(w->store, NULL, page, size, &out);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        return;
    }
    job_reply_json(j, 200, out);
    cache_fill(j, w->srv);
}

static void k_concert(tk_job *j)
{
    snprintf(j->cache_key, sizeof j->cache_key, "concert:%llu", (unsigned long long)j->ids[0]);
}

/* A concert with its schedules and the seats left in each. */
static void h_concert(tk_job *j, tk_worker *w)
{
    json_t *out;
    tk_rc rc = tk_catalog_concert_detail(w->store, j->ids[0], &out);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        return;
    }
    job_reply_json(j, 200, out);
    cache_fill(j, w->srv);
}

static void k_dates(tk_job *j)
{
    snprintf(j->cache_key, sizeof j->cache_key, "dates:%llu", (unsigned long long)j->ids[0]);
}

static void h_dates(tk_job *j, tk_worker *w)
{
    char *out;
    size_t len;
    tk_rc rc = tk_store_schedules_available(w->store, j->ids[0], &out, &len);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        return;
    }
    job_reply_text(j, 200, out, len);
    cache_fill(j, w->srv);
}

static void k_seats(tk_job *j)
{
    if (!job_query(j, "grade")) /* the unfiltered list only */
        snprintf(j->cache_key, sizeof j->cache_key, "seats:%llu", (unsigned long long)j->ids[0]);
}

static void h_seats(tk_job *j, tk_worker *w)
{
    char *out;
    size_t len;
    tk_rc rc = tk_store_seats_available(w->store, j->ids[0], job_query(j, "grade"), &out, &len);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        return;
    }
    job_reply_text(j, 200, out, len);
    cache_fill(j, w->srv);
}

/* ---- reservations and payments -------------------------------------------- */

/* The worker's hold context, current for this job (lock strategy state). */
static tk_serve_hold_ctx *hold_ctx(tk_worker *w)
{
    tk_serve_hold_ctx *hc = &w->hold;
    if (!hc->store) {
        hc->params = tk_strategy_serve_params();
        hc->rng = (uint64_t)(uintptr_t)w ^ tk_mono_us();
    }
    hc->store = w->store;
    hc->redis = w->redis;
    hc->gen = atomic_load(&w->srv->data_gen);
    return hc;
}

static const tk_strategy *job_strategy(const tk_job *j, const tk_worker *w)
{
    return j->strategy ? j->strategy : w->srv->cfg.strategy;
}

/* The reply to a hold's outcome rc (r: the reservation on TK_OK; code/msg
 * the refusal). */
static void hold_reply(tk_job *j, tk_worker *w, tk_rc rc, const tk_reservation *r, const char *code, const char *msg)
{
    tk_server *srv = w->srv;
    tk_metrics_hold(&srv->metrics, job_strategy(j, w), rc);
    if (w->hold.redis_rejected)
        atomic_fetch_add(&srv->metrics.holds_redis_rejected, 1);
    if (rc != TK_OK) {
        job_reply_error(j, tk_rc_http_status(rc), code, "%s", msg);
        return;
    }
    seat_views_after_hold(w, r);
    job_reply_json(j, 201, tk_reservation_json(r));
}

int job_hold_begin(tk_job *j, tk_worker *w, tk_hold_item *it)
{
    uint64_t schedule_id = 0; /* the seat's, when the gate read it: hold keys' hash tag (hold.h) */
    if (queue_gate_hold(j, w, &schedule_id) != 0) /* waiting room: an admitted queue token (queue_routes.c) */
        return 0;
    json_t *b = job_body_object(j);
    if (!b)
        return 0;
    int64_t seat_id;
    int due = 0;
    if (job_want_int(j, b, "seat_id", INT64_MAX, &seat_id) != 0)
        goto out;
    /* the lock strategy (strategy.h): by default redis-atomic, a Redis
     * SET NX PX per seat in front of the database arbiter */
    tk_serve_hold_ctx *hc = hold_ctx(w);
    hc->schedule_id = schedule_id;
    const tk_strategy *st = job_strategy(j, w);
    int ttl = w->srv->cfg.hold_ttl_s;
    tk_rc rc;
    if (!tk_strategy_serve_batchable(st)) { /* the whole hold here, alone */
        tk_reservation r;
        rc = tk_strategy_serve_hold(st, hc, j->claims.user_id, (uint64_t)seat_id, ttl, &r);
        hold_reply(j, w, rc, &r, tk_store_errcode(w->store), tk_store_errmsg(w->store));
        goto out;
    }
    memset(it, 0, sizeof *it);
    rc = tk_strategy_serve_hold_gate(st, hc, j->claims.user_id, (uint64_t)seat_id, ttl, &it->redis_held);
    if (rc != TK_OK) {
        hold_reply(j, w, rc, NULL, tk_store_errcode(w->store), tk_store_errmsg(w->store));
        goto out;
    }
    it->user_id = j->claims.user_id;
    it->seat_id = (uint64_t)seat_id;
    it->gate_schedule_id = schedule_id;
    it->ttl_s = ttl;
    due = 1;
out:
    json_decref(b);
    return due;
}

void job_hold_end(tk_job *j, tk_worker *w, const tk_hold_item *it)
{
    tk_serve_hold_ctx *hc = hold_ctx(w);
    hc->redis_rejected = 0;
    hc->schedule_id = it->gate_schedule_id;
    tk_strategy_serve_hold_done(hc, it->user_id, it->seat_id, it->rc, it->redis_held);
    hold_reply(j, w, it->rc, &it->res, it->code, it->msg);
}

static void h_reserve(tk_job *j, tk_worker *w)
{
    tk_hold_item it;
    if (job_hold_begin(j, w, &it)) {
        tk_store_hold_batch(w->store, &it, 1);
        job_hold_end(j, w, &it);
    }
}

/* The caller's reservations: page, size, status. */
static void h_my_reservations(tk_job *j, tk_worker *w)
{
    int page, size;
    if (job_want_page(j, &page, &size) != 0)
        return;
    json_t *out;
    tk_rc rc = tk_catalog_reservations_of(w->store, j->claims.user_id, job_query(j, "status"), page, size, &out);
    if (rc != TK_OK)
        job_reply_store(j, rc, w->store);
    else
        job_reply_json(j, 200, out);
}

static void h_cancel(tk_job *j, tk_worker *w)
{
    tk_reservation r;
    int64_t refunded = 0;
    tk_rc rc = tk_store_cancel(w->store, j->claims.user_id, j->ids[0], &r, &refunded);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        return;
    }
    tk_hold_release(w->redis, atomic_load(&w->srv->data_gen), r.schedule_id, r.seat_id, r.user_id);
    tk_views_changed(w, r.concert_id, r.schedule_id);
    json_t *o = tk_reservation_json(&r);
    json_object_set_new(o, "refunded", json_integer(refunded));
    job_reply_json(j, 200, o);
}

int job_pay_begin(tk_job *j, tk_worker *w, tk_pay_item *it)
{
    if (queue_gate_pay(j, w) != 0) /* waiting room: an admitted queue token (queue_routes.c) */
        return 0;
    json_t *b = job_body_object(j);
    if (!b)
        return 0;
    int64_t res_id;
    int due = 0;
    if (job_want_int(j, b, "reservation_id", INT64_MAX, &res_id) != 0)
        goto out;
    if (!j->idem_key[0]) {
        job_reply_error(j, 422, "VALIDATION", "an Idempotency-Key header (1 to 64 characters) is required");
        goto out;
    }
    memset(it, 0, sizeof *it);
    it->user_id = j->claims.user_id;
    it->reservation_id = (uint64_t)res_id;
    snprintf(it->idem_key, sizeof it->idem_key, "%s", j->idem_key);
    due = 1;
out:
    json_decref(b);
    return due;
}

void job_pay_end(tk_job *j, tk_worker *w, const tk_pay_item *it)
{
    tk_rc rc = it->rc;
    const tk_payment *p = &it->pay;
    const tk_reservation *r = &it->res;
    tk_metrics_payment(&w->srv->metrics, rc);
    uint64_t gen = atomic_load(&w->srv->data_gen);
    if (rc == TK_EFUNDS || rc == TK_EEXPIRED) { /* the hold was released */
        tk_hold_release(w->redis, gen, r->schedule_id, r->seat_id, r->user_id);
        tk_views_changed(w, r->concert_id, r->schedule_id);
    }
    if (rc != TK_OK) {
        job_reply_error(j, tk_rc_http_status(rc), it->code, "%s", it->msg);
        return;
    }
    if (!p->replay)
        tk_hold_persist(w->redis, gen, r->schedule_id, r->seat_id);
    queue_after_pay(j, w); /* paid: free the waiting-room slot early */
    job_reply_json(j, p->replay ? 200 : 201,
                   json_pack("{s:I, s:I, s:I, s:s, s:I}", "id", (json_int_t)p->id, "reservation_id",
                             (json_int_t)p->reservation_id, "amount", (json_int_t)p->amount, "status", "COMPLETED",
                             "balance", (json_int_t)p->balance));
}

static void h_pay(tk_job *j, tk_worker *w)
{
    tk_pay_item it;
    if (job_pay_begin(j, w, &it)) {
        tk_store_pay_batch(w->store, &it, 1);
        job_pay_end(j, w, &it);
    }
}

int tk_route_batch_kind(const tk_route *r)
{
    if (r && r->fn == h_pay)
        return TK_BATCH_PAY;
    if (r && r->fn == h_reserve)
        return TK_BATCH_HOLD;
    if (r && r->fn == h_charge)
        return TK_BATCH_CHARGE;
    return 0;
}

/* ---- operations ----------------------------------------------------------- */

static void h_health(tk_job *j, tk_worker *w)
{
    (void)w; /* inline: runs on the loop thread, no worker */
    const tk_server_config *cfg = &j->loop->srv->cfg;
    job_reply_json(j, 200, json_pack("{s:s, s:s, s:b}", "status", "ok", "strategy",
                                     cfg->strategy ? cfg->strategy->name : "redis-atomic", "strategy_header",
                                     cfg->strategy_header));
}

/* Ready means bookings can be taken: MariaDB, the arbiter, must answer.
 * Redis is only a filter in front of it, so without Redis the server stays
 * ready and says "degraded" (a balancer keeps sending it traffic; the
 * operator sees the state here and in ticketctl_backend_up). Answered on the
 * loop from the health monitor's memory, never from a backend call, so it
 * is quick whatever the backends do. */
static void h_ready(tk_job *j, tk_worker *w)
{
    (void)w;
    tk_health_state hs;
    tk_health_get(j->loop->srv->health, &hs);
    int db = hs.up[TK_HEALTH_MARIADB], redis = hs.up[TK_HEALTH_REDIS];
    json_t *o = json_pack("{s:s, s:s, s:s}", "status", !db ? "unavailable" : redis ? "ready" : "degraded",
                          "mariadb", db ? "up" : "down", "redis", redis ? "up" : "down");
    if (db) {
        job_reply_json(j, 200, o);
        return;
    }
    j->retry_after_s = 1;
    job_reply_json(j, 503, json_pack("{s:{s:s, s:s}, s:o}", "error", "code", "BACKEND_UNAVAILABLE", "message",
                                     "MariaDB does not answer: bookings cannot be taken", "backends", o));
}

static void h_metrics(tk_job *j, tk_worker *w)
{
    (void)w;
    free(j->resp);
    j->resp = tk_metrics_render(j->loop->srv, &j->resp_len);
    j->status = j->resp ? 200 : 503;
}

static void h_openapi(tk_job *j, tk_worker *w)
{
    (void)w;
    tk_server *srv = j->loop->srv;
    free(j->resp);
    j->resp = malloc(srv->openapi_len + 1);
    if (j->resp) {
        memcpy(j->resp, srv->openapi, srv->openapi_len + 1);
        j->resp_len = srv->openapi_len;
    }
    j->status = j->resp ? 200 : 503;
}

/* The route table. Order matters only for readability: paths are exact. */
const tk_route tk_routes[] = {
    {"POST", "/api/v1/auth/signup", h_signup, 0, NULL, "Create an account", "email,password,name", "201 user",
     "signup", "auth", "SignupRequest", "User", "409 EMAIL_TAKEN", NULL},
    {"POST", "/api/v1/auth/login", h_login, 0, NULL, "Log in; returns a JWT", "email,password", "200 token",
     "login", "auth", "LoginRequest", "Token", "401 UNAUTHORIZED", NULL},
    {"GET", "/api/v1/users/me", h_me, R_AUTH, NULL, "The caller's account", NULL, "200 user",
     "getMe", "auth", NULL, "User", NULL, NULL},
    {"GET", "/api/v1/points", h_balance, R_AUTH, NULL, "Point balance", NULL, "200 balance",
     "getPointBalance", "points", NULL, "Balance", NULL, NULL},
    {"POST", "/api/v1/points/charge", h_charge, R_AUTH, NULL, "Charge points", "amount", "200 balance",
     "chargePoints", "points", "ChargeRequest", "ChargeResult", "404 NOT_FOUND", NULL},
    {"GET", "/api/v1/points/history", h_history, R_AUTH, NULL, "Point history (page, size)", NULL, "200 page",
     "listPointHistory", "points", NULL, "PointHistoryPage", NULL, NULL},
    {"GET", "/api/v1/concerts", h_concerts, 0, k_concerts, "Concert list; with a keyword, search: every word in title or venue, bookable first, then by the"
     " next show (keyword, page, size)", NULL, "200 page",
     "listConcerts", "concerts", NULL, "ConcertPage", "422 VALIDATION", NULL},
    {"GET", "/api/v1/concerts/{id}", h_concert, 0, k_concert,
     "One concert with its schedules and the seats left in each", NULL, "200 concert",
     "getConcert", "concerts", NULL, "ConcertDetail", "404 NOT_FOUND", NULL},
    {"GET", "/api/v1/concerts/{id}/schedules", h_dates, 0, k_dates, "Available dates of a concert", NULL,
     "200 schedules",
     "listAvailableSchedules", "concerts", NULL, "Schedules", "404 NOT_FOUND", NULL},
    {"GET", "/api/v1/schedules/{id}/seats", h_seats, 0, k_seats, "Available seats of a schedule (grade)", NULL,
     "200 seats",
     "listAvailableSeats", "concerts", NULL, "Seats", "404 NOT_FOUND,422 VALIDATION", NULL},
    {"POST", "/api/v1/reservations", h_reserve, R_AUTH, NULL, "Hold a seat for 10 minutes", "seat_id",
     "201 reservation",
     "createReservation", "reservations", "HoldRequest", "Reservation",
     "404 NOT_FOUND,409 SEAT_TAKEN,409 SHOW_STARTED,409 CONFLICT,"
     "409 STALE_LOCK,503 LOCK_BUSY,401 INVALID_QUEUE_TOKEN,"
     "401 QUEUE_TOKEN_EXPIRED,403 QUEUE_TOKEN_REQUIRED,"
     "403 QUEUE_TOKEN_FOREIGN,403 NOT_ADMITTED", "X-Queue-Token,X-Lock-Strategy"},
    {"GET", "/api/v1/reservations", h_my_reservations, R_AUTH, NULL, "The caller's reservations, newest first (page, size, status)", NULL,
     "200 reservations",
     "listMyReservations", "reservations", NULL, "ReservationPage", "422 VALIDATION", NULL},
    {"POST", "/api/v1/reservations/{id}/cancel", h_cancel, R_AUTH, NULL, "Cancel before the show (refund)", NULL,
     "200 reservation",
     "cancelReservation", "reservations", NULL, "CanceledReservation", "404 NOT_FOUND,409 INVALID_STATE,409 SHOW_STARTED", NULL},
    {"POST", "/api/v1/payments", h_pay, R_AUTH, NULL, "Pay a held reservation (Idempotency-Key header)",
     "reservation_id", "201 payment",
     "createPayment", "payments", "PaymentRequest", "Payment",
     "404 NOT_FOUND,409 IDEMPOTENCY_KEY_REUSED,409 ALREADY_PAID,"
     "409 HOLD_EXPIRED,409 INSUFFICIENT_POINTS,409 INVALID_STATE,"
     "401 INVALID_QUEUE_TOKEN,401 QUEUE_TOKEN_EXPIRED,"
     "403 QUEUE_TOKEN_REQUIRED,403 QUEUE_TOKEN_FOREIGN,"
     "403 NOT_ADMITTED", "Idempotency-Key!,X-Queue-Token"},
    {"POST", "/api/v1/queue/{id}/token", h_queue_take, R_AUTH | R_LOW, NULL,
     "Take a place in the waiting room of schedule {id} (re-entry keeps it); returns the queue token", NULL,
     "201 queue status",
     "takeQueueToken", "queue", NULL, "QueueStatus", "404 NOT_FOUND,404 QUEUE_DISABLED", NULL},
    {"GET", "/api/v1/queue/{id}/status", h_queue_status, R_LOOP_FIRST | R_LOW, NULL, /* auth in the handler */
     "Poll your place (X-Queue-Token alone, or with the bearer JWT: answered from the token and the sale's"
     " state, no backend call; without it the JWT):"
     " position, ahead, estimated_wait_s, poll_after_ms, admitted",
     NULL, "200 queue status",
     "getQueueStatus", "queue", NULL, "QueueStatus",
     "401 UNAUTHORIZED,401 INVALID_QUEUE_TOKEN,"
     "401 QUEUE_TOKEN_EXPIRED,403 QUEUE_TOKEN_FOREIGN,"
     "404 QUEUE_DISABLED,404 NOT_IN_QUEUE", NULL},
    {"DELETE", "/api/v1/queue/{id}/token", h_queue_leave, R_AUTH | R_LOW, NULL, "Leave the waiting room of schedule {id}",
     NULL, "200 left",
     "leaveQueue", "queue", NULL, "QueueLeft", "404 QUEUE_DISABLED,404 NOT_IN_QUEUE", NULL},
    {"GET", "/queue/{id}", h_queue_page, R_INLINE | R_HTML, NULL,
     "The waiting page for people (HTML): position, wait and progress; moves on to the seats when admitted", NULL,
     "200 html",
     "getWaitingPage", "pages", NULL, "Html", NULL, NULL},
    {"GET", "/queue/{id}/seats", h_queue_seat_page, R_INLINE | R_HTML, NULL,
     "The seat page for admitted people (HTML): available seats, hold one with the queue token", NULL,
     "200 html",
     "getSeatPage", "pages", NULL, "Html", NULL, NULL},
    {"GET", "/healthz", h_health, R_INLINE, NULL, "Liveness", NULL, "200 status",
     "getHealth", "operations", NULL, "Health", NULL, NULL},
    {"GET", "/readyz", h_ready, R_INLINE, NULL,
     "Readiness: 200 while MariaDB answers (\"degraded\" without Redis, which is only a filter), else 503", NULL,
     "200 status",
     "getReadiness", "operations", NULL, "Readiness", NULL, NULL},
    {"GET", "/metrics", h_metrics, R_INLINE, NULL, "Prometheus metrics", NULL, "200 text",
     "getMetrics", "operations", NULL, "PrometheusText", NULL, NULL},
    {"GET", "/api/v1/openapi.json", h_openapi, R_INLINE, NULL, "This API as OpenAPI 3.0", NULL, "200 document",
     "getOpenApi", "operations", NULL, "OpenApiDocument", NULL, NULL},
};
const size_t tk_nroutes = sizeof tk_routes / sizeof tk_routes[0];

size_t tk_route_count(void) { return tk_nroutes + tk_admin_nroutes; }

const tk_route *tk_route_at(size_t i)
{
    return i < tk_nroutes ? &tk_routes[i] : i < tk_nroutes + tk_admin_nroutes ? &tk_admin_routes[i - tk_nroutes] : NULL;
}
