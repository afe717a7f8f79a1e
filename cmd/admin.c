/* ticketctl admin: the admin API (server/admin_routes.c) from the command
 * line, over HTTP with libcurl. A table maps each call to its method and
 * path; name=value arguments become the JSON body. */
#include "commands.h"
#include "opt.h"
#include "ticketctl/admin.h"
#include "ticketctl/devstack.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_URL = 256, OPT_TOKEN, OPT_EMAIL, OPT_PASSWORD, OPT_STATE };

static const tk_opt admin_rows[] = {
    {.id = OPT_URL, .name = "url", .short_name = 'u', .type = TK_OPT_STR, .arg = "URL",
     .help = "the server (default $TICKETCTL_URL, else the nginx of the\n--state stack's instances, else "
             "http://127.0.0.1:8080)"},
    {.id = OPT_STATE, .name = "state", .type = TK_OPT_STR, .arg = "DIR", .help = "the dev stack (dev up --instances N)"},
    {.id = OPT_TOKEN, .name = "token", .short_name = 't', .type = TK_OPT_STR, .arg = "T",
     .help = "a bearer token (default $TICKETCTL_ADMIN_TOKEN)"},
    {.id = OPT_EMAIL, .name = "email", .short_name = 'e', .type = TK_OPT_STR, .arg = "E",
     .help = "log in first as E (with --password) instead"},
    {.id = OPT_PASSWORD, .name = "password", .short_name = 'p', .type = TK_OPT_STR, .arg = "P",
     .help = "the password for --email"},
    TK_OPT_ROW_END,
};

typedef struct admin_call {
    const char *name;
    const char *method;
    const char *path; /* %llu: the ID argument, when the path has one */
    tk_optset set;    /* `admin NAME --help`: its synopsis (the arguments) and what it does */
} admin_call;

#define CALL(NAME, METHOD, PATH, ARGS, ABOUT)                                                                      \
    {NAME, METHOD, PATH,                                                                                           \
     {.cmd = "admin " NAME, .synopsis = "admin " NAME " [options]" ARGS, .about = ABOUT, .opts = admin_rows}}

static const admin_call calls[] = {
    CALL("login", "POST", "/api/v1/auth/login", " --email E --password P",
         "Print a token for --email/--password (use it as --token)."),
    CALL("concert-create", "POST", "/api/v1/admin/concerts", " title=T venue=V sale_opens_at=2027-01-31T10:00:00Z",
         "Create a concert."),
    CALL("concert-update", "PATCH", "/api/v1/admin/concerts/%llu", " ID [title=T] [venue=V] [sale_opens_at=..Z]",
         "Change a concert's fields."),
    CALL("concert-delete", "DELETE", "/api/v1/admin/concerts/%llu", " ID",
         "Delete a concert (409 while it has live reservations)."),
    CALL("schedule-create", "POST", "/api/v1/admin/concerts/%llu/schedules", " CONCERT_ID starts_at=2027-02-01T19:30:00Z",
         "Add a schedule (a show) to a concert."),
    CALL("seats-create", "POST", "/api/v1/admin/schedules/%llu/seats",
         " SCHEDULE_ID sections=A,B rows=1,2,3 from=1 to=50 grade=R price=110000",
         "Create seats in bulk: every section x row x number from..to."),
    CALL("seats-update", "PATCH", "/api/v1/admin/schedules/%llu/seats", " SCHEDULE_ID seat_ids=1,2,3 [grade=S] [price=N]",
         "Change the grade or price of AVAILABLE seats (else 409, nothing changed)."),
    CALL("waiting-room", "PUT", "/api/v1/admin/schedules/%llu/waiting-room",
         " SCHEDULE_ID [opens_at=..Z] [active_users=N] [new_users_per_minute=N]", "Set a sale's waiting room."),
    CALL("waiting-room-show", "GET", "/api/v1/admin/schedules/%llu/waiting-room", " SCHEDULE_ID",
         "Show a sale's waiting-room settings."),
    CALL("cache-purge", "POST", "/api/v1/admin/cache/purge", "", "Drop every cached view on every instance."),
};
#define NCALLS (sizeof calls / sizeof calls[0])

static const tk_optset *const admin_subs[] = {&calls[0].set, &calls[1].set, &calls[2].set, &calls[3].set,
                                              &calls[4].set, &calls[5].set, &calls[6].set, &calls[7].set,
                                              &calls[8].set, &calls[9].set, NULL};
_Static_assert(NCALLS == 10, "admin_subs lists every call");

const tk_optset tk_optset_admin = {
    .cmd = "admin",
    .synopsis = "admin [--url URL] [--token T | --email E --password P] CALL [ID] [name=value ...]",
    .about = "Calls the admin API of a running `ticketctl serve` (JWT role ADMIN; `ticketctl seed`\n"
             "creates the account " TK_ADMIN_EMAIL " and prints its password). Prints the JSON\n"
             "answer; exits 0 on a 2xx, 1 otherwise.",
    .opts = admin_rows,
    .epilog = "Lists (sections, rows, seat_ids) are comma-separated.",
    .subs = admin_subs,
};

/* Fields sent as JSON strings, and as arrays (of strings / of integers);
 * every other value is an integer. */
static const char *const string_fields[] = {"title", "venue", "sale_opens_at", "starts_at", "opens_at", "grade",
                                            "email", "password"};
static const char *const label_list_fields[] = {"sections", "rows"};

static int in(const char *name, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(name, set[i]))
            return 1;
    return 0;
}

typedef struct answer {
    char *p;
    size_t n;
} answer;

static size_t collect(char *p, size_t s, size_t n, void *u)
{
    answer *a = u;
    char *nb = realloc(a->p, a->n + s * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + a->n, p, s * n);
    a->p = nb;
    a->n += s * n;
    a->p[a->n] = '\0';
    return s * n;
}

/* One request; the answer's body into *resp (malloc'd text, caller frees). Returns the status or 0. */
static long request(const char *url, const char *method, const char *token, const char *body, char **resp)
{
    CURL *c = curl_easy_init();
    answer a = {calloc(1, 1), 0};
    *resp = NULL;
    if (!c || !a.p) {
        curl_easy_cleanup(c);
        free(a.p);
        return 0;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[2048];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "admin: cannot reach %s\n", url);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *resp = a.p;
    return status;
}

/* name=value arguments into a JSON object; NULL (message printed) when one is malformed. */
static json_t *body_of(int argc, char **argv)
{
    json_t *o = json_object();
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            fprintf(stderr, "admin: '%s' is not name=value\n", argv[i]);
            json_decref(o);
            return NULL;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - argv[i]), argv[i]);
        const char *v = eq + 1;
        json_t *val;
        if (in(name, string_fields, sizeof string_fields / sizeof *string_fields)) {
            val = json_string(v);
        } else if (in(name, label_list_fields, 2) || !strcmp(name, "seat_ids")) {
            val = json_array();
            char *copy = strdup(v), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(val, strcmp(name, "seat_ids") ? json_string(t) : json_integer(strtoll(t, NULL, 10)));
            free(copy);
        } else {
            char *end;
            long long x = strtoll(v, &end, 10);
            if (!*v || *end) {
                fprintf(stderr, "admin: %s wants a whole number, got '%s'\n", name, v);
                json_decref(o);
                return NULL;
            }
            val = json_integer(x);
        }
        json_object_set_new(o, name, val);
    }
    return o;
}

static void print_answer(const char *resp)
{
    json_t *parsed = json_loads(resp, 0, NULL);
    if (parsed) {
        json_dumpf(parsed, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(parsed);
    } else {
        printf("%s\n", resp);
    }
}

static char *login(const char *base, const char *email, const char *password)
{
    char url[1024], *tok = NULL;
    snprintf(url, sizeof url, "%s/api/v1/auth/login", base);
    json_t *b = json_pack("{s:s, s:s}", "email", email, "password", password);
    char *text = json_dumps(b, JSON_COMPACT), *resp = NULL;
    long st = request(url, "POST", NULL, text, &resp);
    json_t *parsed = st == 200 && resp ? json_loads(resp, 0, NULL) : NULL;
    if (parsed && json_is_string(json_object_get(parsed, "token")))
        tok = strdup(json_string_value(json_object_get(parsed, "token")));
    else
        fprintf(stderr, "admin: login as %s failed (HTTP %ld)\n", email, st);
    json_decref(parsed);
    free(resp);
    json_decref(b);
    free(text);
    return tok;
}

int cmd_admin(int argc, char **argv)
{
    const char *base = getenv("TICKETCTL_URL"), *token = getenv("TICKETCTL_ADMIN_TOKEN"), *email = NULL,
               *password = NULL, *state = NULL;
    const admin_call *call = NULL;
    for (size_t i = 0; argc > 1 && i < NCALLS; i++)
        if (!strcmp(argv[1], calls[i].name))
            call = &calls[i];
    /* `admin CALL [options] ...` parses after CALL, with its own --help;
     * `admin [options] CALL ...` takes CALL from the operands. */
    const tk_optset *set = call ? &call->set : &tk_optset_admin;
    int shift = call ? 1 : 0, c;
    tk_optparse p = {0};
    tk_optval v;
    while ((c = tk_opt_next(&p, set, argc - shift, argv + shift, &v)) > 0) {
        switch (c) {
        case OPT_URL: base = v.str; break;
        case OPT_STATE: state = v.str; break;
        case OPT_TOKEN: token = v.str; break;
        case OPT_EMAIL: email = v.str; break;
        case OPT_PASSWORD: password = v.str; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    argc -= shift;
    argv += shift;
    if (!call) {
        if (optind >= argc)
            return tk_opt_error(set, "which call?");
        for (size_t i = 0; i < NCALLS; i++)
            if (!strcmp(argv[optind], calls[i].name))
                call = &calls[i];
        if (!call)
            return tk_opt_error(set, "unknown call '%s'", argv[optind]);
        optind++;
    }
    set = &call->set;
    static tk_dev_env env; /* the stack's nginx target (dev up --instances N) when no --url */
    if (!base && state && tk_dev_env_read(state, &env, NULL, 0) == 0 && env.target[0])
        base = env.target;
    if (!base)
        base = "http://127.0.0.1:8080";
    if ((email != NULL) != (password != NULL))
        return tk_opt_error(set, "--email and --password go together");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 1;
    char *tok = NULL, *text = NULL, *resp = NULL;
    json_t *body = NULL;
    if (email) {
        if (!(tok = login(base, email, password)))
            goto out;
        token = tok;
    }
    if (!strcmp(call->name, "login")) {
        if (!tok) {
            rc = tk_opt_error(set, "login needs --email and --password");
            goto out;
        }
        printf("%s\n", tok);
        rc = 0;
        goto out;
    }
    char url[1024];
    if (strstr(call->path, "%llu")) {
        char *end;
        unsigned long long id = optind < argc ? strtoull(argv[optind], &end, 10) : 0;
        if (optind >= argc || *end || id == 0) {
            rc = tk_opt_error(set, "wants an id first (%s)", call->set.synopsis);
            goto out;
        }
        optind++;
        char path[256];
        snprintf(path, sizeof path, call->path, id);
        snprintf(url, sizeof url, "%s%s", base, path);
    } else {
        snprintf(url, sizeof url, "%s%s", base, call->path);
    }
    if (strcmp(call->method, "GET") && strcmp(call->method, "DELETE")) {
        if (!(body = body_of(argc - optind, argv + optind))) {
            rc = 2;
            goto out;
        }
        text = json_dumps(body, JSON_COMPACT);
    } else if (optind < argc) {
        rc = tk_opt_error(set, "takes no fields");
        goto out;
    }
    if (!token)
        fprintf(stderr, "admin: no token (--token, $TICKETCTL_ADMIN_TOKEN or --email/--password): expect a 401\n");
    long st = request(url, call->method, token, text, &resp);
    if (st && resp)
        print_answer(resp);
    rc = st >= 200 && st < 300 ? 0 : 1;
out:
    free(text);
    free(tok);
    json_decref(body);
    free(resp);
    curl_global_cleanup();
    return rc;
}
