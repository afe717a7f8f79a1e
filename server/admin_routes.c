/* The box office's admin API under /api/v1/admin (issue 16): its own route
 * table, every row R_AUTH | R_ADMIN (the router answers 401 for a bad or
 * forged token, 403 for a USER's). Handlers parse the body, call
 * lib/admin.c (one transaction and one outbox event per change) and drop
 * the cached views the change touched, here and on the other instances. */
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/admin.h"

/* An optional ISO-8601 UTC time field: absent leaves *ms at -1; present and
 * malformed replies 422 and returns -1. */
static int opt_time(tk_job *j, json_t *b, const char *name, int64_t *ms)
{
    *ms = -1;
    json_t *v = json_object_get(b, name);
    if (!v)
        return 0;
    if (!json_is_string(v) || tk_admin_parse_time(json_string_value(v), ms) != 0) {
        job_reply_error(j, 422, "VALIDATION", "'%s' must be an ISO-8601 UTC time like 2027-01-31T19:30:00Z", name);
        return -1;
    }
    return 0;
}

/* An optional string field: absent gives NULL (and 0); a non-string replies 422 (-1). */
static int opt_string(tk_job *j, json_t *b, const char *name, const char **out)
{
    json_t *v = json_object_get(b, name);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        job_reply_error(j, 422, "VALIDATION", "'%s' must be a string", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* An optional integer field in [min, max]: absent leaves *out. */
static int opt_int(tk_job *j, json_t *b, const char *name, int64_t min, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(b, name);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        job_reply_error(j, 422, "VALIDATION", "'%s' must be an integer from %lld to %lld", name, (long long)min,
                        (long long)max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static void reply_concert(tk_job *j, tk_worker *w, int status, uint64_t id)
{
    json_t *out;
    tk_rc rc = tk_store_concert_get(w->store, id, &out);
    if (rc != TK_OK)
        job_reply_store(j, rc, w->store);
    else
        job_reply_json(j, status, out);
}

static void h_concert_create(tk_job *j, tk_worker *w)
{
    json_t *b = job_body_object(j);
    if (!b)
        return;
    const char *title, *venue;
    int64_t opens;
    if (!(title = job_want_string(j, b, "title", 1, 200)) || !(venue = job_want_string(j, b, "venue", 1, 200)) ||
        opt_time(j, b, "sale_opens_at", &opens) != 0)
        goto out;
    if (opens < 0) {
        job_reply_error(j, 422, "VALIDATION", "'sale_opens_at' is required");
        goto out;
    }
    uint64_t id;
    tk_rc rc = tk_admin_concert_create(w->store, title, venue, opens, &id);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        goto out;
    }
    tk_views_purge(w); /* concert lists and searches */
    reply_concert(j, w, 201, id);
out:
    json_decref(b);
}

static void h_concert_update(tk_job *j, tk_worker *w)
{
    json_t *b = job_body_object(j);
    if (!b)
        return;
    const char *title, *venue;
    int64_t opens;
    if (opt_string(j, b, "title", &title) != 0 || opt_string(j, b, "venue", &venue) != 0 ||
        opt_time(j, b, "sale_opens_at", &opens) != 0)
        goto out;
    tk_rc rc = tk_admin_concert_update(w->store, j->ids[0], title, venue, opens);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        goto out;
    }
    tk_views_purge(w);
    reply_concert(j, w, 200, j->ids[0]);
out:
    json_decref(b);
}

static void h_concert_delete(tk_job *j, tk_worker *w)
{
    size_t n = 0;
    tk_rc rc = tk_admin_concert_delete(w->store, j->ids[0], NULL, 0, &n);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        return;
    }
    tk_views_purge(w);
    job_reply_json(j, 200, json_pack("{s:I, s:I}", "deleted", (json_int_t)j->ids[0], "schedules", (json_int_t)n));
}

static void h_schedule_create(tk_job *j, tk_worker *w)
{
    json_t *b = job_body_object(j);
    if (!b)
        return;
    int64_t starts;
    if (opt_time(j, b, "starts_at", &starts) != 0)
        goto out;
    if (starts < 0) {
        job_reply_error(j, 422, "VALIDATION", "'starts_at' is required");
        goto out;
    }
    uint64_t id;
    tk_rc rc = tk_admin_schedule_create(w->store, j->ids[0], starts, &id);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        goto out;
    }
    tk_views_changed(w, j->ids[0], 0);
    job_reply_json(j, 201, json_pack("{s:I, s:I, s:O}", "id", (json_int_t)id, "concert_id", (json_int_t)j->ids[0],
                                     "starts_at", json_object_get(b, "starts_at")));
out:
    json_decref(b);
}

/* A JSON array of 1..TK_ADMIN_LABELS_MAX strings into out[], or reply 422. */
static int want_labels(tk_job *j, json_t *blk, const char *name, size_t bi, const char **out, size_t *n)
{
    json_t *a = json_object_get(blk, name);
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > TK_ADMIN_LABELS_MAX) {
        job_reply_error(j, 422, "VALIDATION", "block %zu: '%s' must be an array of 1 to %d labels", bi, name,
                        TK_ADMIN_LABELS_MAX);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v)) {
            job_reply_error(j, 422, "VALIDATION", "block %zu: '%s' holds strings", bi, name);
            return -1;
        }
        out[i] = json_string_value(v);
    }
    *n = json_array_size(a);
    return 0;
}

/* Body: {"blocks":[{"sections":["A"],"rows":["1","2"],"from":1,"to":40,"grade":"R","price":110000}, ...]}
 * or one block's fields at the top level. */
static void h_seats_create(tk_job *j, tk_worker *w)
{
    json_t *b = job_body_object(j);
    if (!b)
        return;
    json_t *blocks = json_object_get(b, "blocks");
    size_t nb = blocks ? json_array_size(blocks) : 1;
    tk_seat_block *sb = NULL;
    if (blocks && (!json_is_array(blocks) || nb < 1 || nb > 64)) {
        job_reply_error(j, 422, "VALIDATION", "'blocks' must be an array of 1 to 64 blocks");
        goto out;
    }
    sb = calloc(nb, sizeof *sb);
    if (!sb) {
        job_reply_error(j, 503, "BUSY", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nb; i++) {
        json_t *blk = blocks ? json_array_get(blocks, i) : b;
        if (!json_is_object(blk)) {
            job_reply_error(j, 422, "VALIDATION", "block %zu must be an object", i);
            goto out;
        }
        int64_t from = 0, to = 0, price = 0;
        if (want_labels(j, blk, "sections", i, sb[i].sections, &sb[i].nsections) != 0 ||
            want_labels(j, blk, "rows", i, sb[i].rows, &sb[i].nrows) != 0 ||
            opt_int(j, blk, "from", 1, 10000, &from) != 0 || opt_int(j, blk, "to", 1, 10000, &to) != 0 ||
            opt_int(j, blk, "price", INT64_MIN, INT64_MAX, &price) != 0 ||
            opt_string(j, blk, "grade", &sb[i].grade) != 0)
            goto out;
        if (!from || !to) {
            job_reply_error(j, 422, "VALIDATION", "block %zu: 'from' and 'to' (seat numbers) are required", i);
            goto out;
        }
        sb[i].number_from = (int)from;
        sb[i].number_to = (int)to;
        sb[i].price = price;
    }
    uint64_t count, concert;
    tk_rc rc = tk_admin_seats_create(w->store, j->ids[0], sb, nb, &count, &concert);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        goto out;
    }
    tk_views_changed(w, concert, j->ids[0]);
    job_reply_json(j, 201, json_pack("{s:I, s:I}", "schedule_id", (json_int_t)j->ids[0], "created", (json_int_t)count));
out:
    free(sb);
    json_decref(b);
}

/* Body: {"seat_ids":[..], "grade":"S", "price":90000} (grade and/or price). */
static void h_seats_update(tk_job *j, tk_worker *w)
{
    json_t *b = job_body_object(j);
    if (!b)
        return;
    uint64_t *ids = NULL;
    const char *grade;
    int64_t price = 0;
    json_t *a = json_object_get(b, "seat_ids");
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > 1000) {
        job_reply_error(j, 422, "VALIDATION", "'seat_ids' must be an array of 1 to 1000 seat ids");
        goto out;
    }
    if (opt_string(j, b, "grade", &grade) != 0 || opt_int(j, b, "price", INT64_MIN, INT64_MAX, &price) != 0)
        goto out;
    if (json_object_get(b, "price") && price <= 0) {
        job_reply_error(j, 422, "VALIDATION", "'price' must be positive");
        goto out;
    }
    size_t n = json_array_size(a);
    ids = calloc(n, sizeof *ids);
    if (!ids) {
        job_reply_error(j, 503, "BUSY", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            job_reply_error(j, 422, "VALIDATION", "'seat_ids' holds positive integers");
            goto out;
        }
        ids[i] = (uint64_t)json_integer_value(v);
    }
    uint64_t concert;
    tk_rc rc = tk_admin_seats_update(w->store, j->ids[0], ids, n, grade, price, &concert);
    if (rc != TK_OK) {
        job_reply_store(j, rc, w->store);
        goto out;
    }
    tk_views_changed(w, concert, j->ids[0]);
    job_reply_json(j, 200, json_pack("{s:I, s:I}", "schedule_id", (json_int_t)j->ids[0], "updated", (json_int_t)n));
out:
    free(ids);
    json_decref(b);
}

static void h_cache_purge(tk_job *j, tk_worker *w)
{
    tk_views_purge(w);
    job_reply_json(j, 200, json_pack("{s:b}", "purged", 1));
}

static json_t *sale_json(const tk_sale_settings *s)
{
    json_t *o = json_pack("{s:I}", "schedule_id", (json_int_t)s->schedule_id);
    if (s->opens_at_ms >= 0) {
        char buf[32];
        time_t t = (time_t)(s->opens_at_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(o, "opens_at", json_string(buf));
    } else {
        json_object_set_new(o, "opens_at", json_null());
    }
    json_object_set_new(o, "active_users", s->active_users ? json_integer(s->active_users) : json_null());
    json_object_set_new(o, "new_users_per_minute",
                        s->new_users_per_min ? json_integer(s->new_users_per_min) : json_null());
    return o;
}

/* Body: {"opens_at":"...Z", "active_users":1000, "new_users_per_minute":6636} (any of them). */
static void h_sale_put(tk_job *j, tk_worker *w)
{
    json_t *b = job_body_object(j);
    if (!b)
        return;
    tk_sale_settings st = {.schedule_id = j->ids[0]};
    if (opt_time(j, b, "opens_at", &st.opens_at_ms) != 0 ||
        opt_int(j, b, "active_users", 1, 1000000, &st.active_users) != 0 ||
        opt_int(j, b, "new_users_per_minute", 1, 10000000, &st.new_users_per_min) != 0)
        goto out;
    uint64_t concert;
    tk_rc rc = tk_admin_sale_put(w->store, &st, &concert);
    if (rc != TK_OK)
        job_reply_store(j, rc, w->store);
    else
        job_reply_json(j, 200, sale_json(&st));
out:
    json_decref(b);
}

static void h_sale_get(tk_job *j, tk_worker *w)
{
    tk_sale_settings st;
    tk_rc rc = tk_admin_sale_get(w->store, j->ids[0], &st);
    if (rc != TK_OK)
        job_reply_store(j, rc, w->store);
    else
        job_reply_json(j, 200, sale_json(&st));
}

#define ADM (R_AUTH | R_ADMIN)
#define E403 "403 FORBIDDEN"
/* Columns as tk_routes (internal.h): method, pattern, handler, flags, cache key, summary, body (the
 * required fields of req_schema), success, operationId, tag, request and response schemas
 * (api_schemas.c), route-specific errors, headers. */
const tk_route tk_admin_routes[] = {
    {"POST", "/api/v1/admin/concerts", h_concert_create, ADM, NULL, "Create a concert (ADMIN)",
     "title,venue,sale_opens_at", "201 concert", "adminCreateConcert", "admin", "AdminConcertCreate", "Concert",
     E403, NULL},
    {"PATCH", "/api/v1/admin/concerts/{id}", h_concert_update, ADM, NULL,
     "Change a concert's title, venue or sale opening (ADMIN)", "", "200 concert", "adminUpdateConcert", "admin",
     "AdminConcertUpdate", "Concert", E403 ",404 NOT_FOUND", NULL},
    {"DELETE", "/api/v1/admin/concerts/{id}", h_concert_delete, ADM, NULL,
     "Delete a concert with its schedules and seats; 409 while it has live reservations (ADMIN)", NULL,
     "200 deleted", "adminDeleteConcert", "admin", NULL, "AdminConcertDeleted",
     E403 ",404 NOT_FOUND,409 LIVE_RESERVATIONS", NULL},
    {"POST", "/api/v1/admin/concerts/{id}/schedules", h_schedule_create, ADM, NULL,
     "Add a schedule (starts_at in the future) to a concert (ADMIN)", "starts_at", "201 schedule",
     "adminCreateSchedule", "admin", "AdminScheduleCreate", "AdminSchedule",
     E403 ",404 NOT_FOUND,422 SCHEDULE_IN_PAST", NULL},
    {"POST", "/api/v1/admin/schedules/{id}/seats", h_seats_create, ADM, NULL,
     "Create seats in bulk: blocks of sections x rows x numbers from..to with grade and price, one transaction"
     " (ADMIN)",
     "blocks", "201 created", "adminCreateSeats", "admin", "AdminSeatsCreate", "AdminSeatsCreated",
     E403 ",404 NOT_FOUND,409 DUPLICATE_SEAT,409 SHOW_STARTED", NULL},
    {"PATCH", "/api/v1/admin/schedules/{id}/seats", h_seats_update, ADM, NULL,
     "Change the grade and/or price of AVAILABLE seats of a schedule (ADMIN)", "seat_ids", "200 updated",
     "adminUpdateSeats", "admin", "AdminSeatsUpdate", "AdminSeatsUpdated",
     E403 ",404 NOT_FOUND,409 SEAT_NOT_AVAILABLE", NULL},
    {"PUT", "/api/v1/admin/schedules/{id}/waiting-room", h_sale_put, ADM, NULL,
     "Set a sale's waiting-room settings, shared by every instance (ADMIN)", "", "200 settings",
     "adminSetWaitingRoom", "admin", "AdminWaitingRoomSet", "AdminWaitingRoom", E403 ",404 NOT_FOUND", NULL},
    {"GET", "/api/v1/admin/schedules/{id}/waiting-room", h_sale_get, ADM, NULL,
     "A sale's waiting-room settings (ADMIN)", NULL, "200 settings", "adminGetWaitingRoom", "admin", NULL,
     "AdminWaitingRoom", E403 ",404 NOT_FOUND", NULL},
    {"POST", "/api/v1/admin/cache/purge", h_cache_purge, ADM, NULL,
     "Drop every cached view on every instance (ADMIN)", NULL, "200 purged", "adminPurgeCache", "admin", NULL,
     "AdminPurged", E403, NULL},
};
const size_t tk_admin_nroutes = sizeof tk_admin_routes / sizeof tk_admin_routes[0];
