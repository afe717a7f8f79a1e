/* Integration: docs/grafana/ticketctl.json against a live exposition. Every
 * panel has a query; every metric name in every panel's PromQL is a series
 * name that `serve`'s /metrics gives, and every label the query groups by or
 * matches on is a label of one of those metrics (or one Prometheus adds at
 * scrape time: instance, job). A renamed metric or label breaks this test
 * instead of leaving a dashboard panel silently empty. The PromQL reading
 * is a small tokenizer (functions, by/without/on/ignoring lists, label
 * matchers, ranges, strings, numbers, $variables): enough for the queries a
 * dashboard holds, not a PromQL parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest_util.h"

static itest_env E;
static json_t *series; /* {metric name: {label: true}} from /metrics */

static int setup(void **state)
{
    (void)state;
    return itest_stack(&E);
}

static int teardown(void **state)
{
    (void)state;
    if (E.server_pid > 0)
        itest_server_stop(&E);
    itest_close(&E);
    json_decref(series);
    return 0;
}

/* Past a "double-quoted" string with backslash escapes at p (p itself when
 * it is not at one). */
static const char *skip_string(const char *p)
{
    if (*p != '"')
        return p;
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1])
            p++;
    return *p ? p + 1 : p;
}

/* Prometheus text format 0.0.4: name{label="value",...} value */
static json_t *parse_exposition(const char *text)
{
    json_t *out = json_object();
    for (const char *line = text; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
        if (*line == '#' || *line == '\n')
            continue;
        const char *p = line;
        while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == ':'))
            p++;
        if (p == line)
            continue;
        char name[160];
        snprintf(name, sizeof name, "%.*s", (int)(p - line), line);
        json_t *labels = json_object_get(out, name);
        if (!labels) {
            labels = json_object();
            json_object_set_new(out, name, labels);
        }
        if (*p != '{')
            continue;
        p++;
        while (*p && *p != '}') {
            const char *l = p;
            while (*p && *p != '=')
                p++;
            char label[128];
            snprintf(label, sizeof label, "%.*s", (int)(p - l), l);
            json_object_set_new(labels, label, json_true());
            if (*p == '=')
                p++;
            p = skip_string(p);
            if (*p == ',')
                p++;
        }
    }
    return out;
}

static int is_ident_start(char c) { return isalpha((unsigned char)c) || c == '_' || c == ':'; }
static int is_ident(char c) { return isalnum((unsigned char)c) || c == '_' || c == ':'; }

static const char *skip_space(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* A label name at p (after spaces) into labels; returns what follows it. */
static const char *read_label(const char *p, json_t *labels)
{
    p = skip_space(p);
    const char *l = p;
    while (is_ident(*p))
        p++;
    if (p > l) {
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(p - l), l);
        json_object_set_new(labels, name, json_true());
    }
    return p;
}

/* The metric names and label names one PromQL expression mentions. */
static void read_promql(const char *expr, json_t *metrics, json_t *labels)
{
    static const char *const keywords[] = {"bool", "offset", "and", "or", "unless", "inf", "nan",
                                           /* aggregations, also before "by (...)" */
                                           "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar",
                                           "topk", "bottomk", "quantile", "count_values", NULL};
    const char *p = expr;
    while (*p) {
        if (isspace((unsigned char)*p)) {
            p++;
        } else if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q)
                p += (*p == '\\' && p[1]) ? 2 : 1;
            if (*p)
                p++;
        } else if (*p == '[') {
            while (*p && *p != ']')
                p++;
            if (*p)
                p++;
        } else if (*p == '{') { /* label matchers: name op "value", ... */
            p++;
            while (*p && *p != '}') {
                p = read_label(p, labels);
                while (*p && *p != '"' && *p != '}')
                    p++;
                p = skip_space(skip_string(p));
                if (*p == ',')
                    p++;
            }
            if (*p)
                p++;
        } else if (*p == '$') { /* a dashboard variable: $__rate_interval, $instance */
            for (p++; is_ident(*p); p++)
                ;
        } else if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
            for (; isalnum((unsigned char)*p) || *p == '.' ||
                   ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E'));
                 p++)
                ;
        } else if (is_ident_start(*p)) {
            const char *s = p;
            while (is_ident(*p))
                p++;
            char word[160];
            snprintf(word, sizeof word, "%.*s", (int)(p - s), s);
            const char *next = skip_space(p);
            if (!strcmp(word, "by") || !strcmp(word, "without") || !strcmp(word, "on") ||
                !strcmp(word, "ignoring") || !strcmp(word, "group_left") || !strcmp(word, "group_right")) {
                if (*next == '(') { /* a label list */
                    p = next + 1;
                    while (*p && *p != ')') {
                        p = skip_space(read_label(p, labels));
                        if (*p == ',')
                            p++;
                        else if (*p != ')' && *p)
                            p++;
                    }
                    if (*p)
                        p++;
                }
                continue;
            }
            if (*next == '(') /* a function or an aggregation */
                continue;
            int kw = 0;
            for (size_t i = 0; keywords[i]; i++)
                kw |= !strcmp(keywords[i], word);
            if (!kw)
                json_object_set_new(metrics, word, json_true());
        } else {
            p++;
        }
    }
}

static void tokenizer_reads_promql(void **state)
{
    (void)state;
    json_t *m = json_object(), *l = json_object();
    read_promql("histogram_quantile(0.99, sum by (le, method) (rate(a_bucket{x=\"1,2\", y=~\"$v\"}[5m])))"
                " / clamp_min(sum without(z) (b_total offset 5m), 1e-9) > bool 0 and on(q) c",
                m, l);
    assert_int_equal(json_object_size(m), 3);
    assert_non_null(json_object_get(m, "a_bucket"));
    assert_non_null(json_object_get(m, "b_total"));
    assert_non_null(json_object_get(m, "c"));
    assert_int_equal(json_object_size(l), 6); /* le, method, x, y, z, q */
    assert_non_null(json_object_get(l, "q"));
    json_decref(m);
    json_decref(l);
}

static void every_panel_query_exists(void **state)
{
    (void)state;
    /* with the waiting room on and one user in a line, so that the per-sale
     * series (ticketctl_waiting_room_*) are on the page too */
    assert_int_equal(itest_server_start(&E, "--workers 2 --queue redis --active-users 1 --queue-tick 100ms"), 0);
    itest_resp r;
    assert_int_equal(itest_http(&E, "GET", "/api/v1/concerts?size=1", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_int_t concert = json_integer_value(json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "id"));
    itest_resp_free(&r);
    char qpath[128];
    snprintf(qpath, sizeof qpath, "/api/v1/concerts/%lld/schedules", (long long)concert);
    assert_int_equal(itest_http(&E, "GET", qpath, NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_int_t sched = json_integer_value(json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "id"));
    itest_resp_free(&r);
    assert_true(sched > 0);
    snprintf(qpath, sizeof qpath, "/api/v1/queue/%lld/token", (long long)sched);
    for (int u = 1; u <= 2; u++) { /* one admitted, one waiting behind them */
        char *jwt = itest_login(&E, u);
        assert_non_null(jwt);
        assert_int_equal(itest_http(&E, "POST", qpath, jwt, NULL, NULL, &r), 0);
        assert_true(r.status == 201 || r.status == 200); /* 200: back in the place a rerun left */
        itest_resp_free(&r);
        free(jwt);
    }
    int seen = 0;
    for (int t = 0; t < 50 && !seen; t++) { /* the gauges appear at the next admission tick */
        usleep(100000);
        assert_int_equal(itest_http(&E, "GET", "/metrics", NULL, NULL, NULL, &r), 0);
        seen = r.body && strstr(r.body, "ticketctl_waiting_room_waiting{") != NULL;
        itest_resp_free(&r);
    }
    assert_true(seen);
    assert_int_equal(itest_http(&E, "GET", "/metrics", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    series = parse_exposition(r.body);
    itest_resp_free(&r);
    assert_int_equal(itest_server_stop(&E), 0);
    assert_true(json_object_size(series) > 20);

    char path[1024];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    assert_non_null(slash);
    snprintf(slash, sizeof path - (size_t)(slash - path), "/../docs/grafana/ticketctl.json");
    json_error_t e;
    json_t *dash = json_load_file(path, 0, &e);
    if (!dash)
        fail_msg("%s: %s", path, e.text);
    /* the data source is a variable, so the dashboard imports anywhere */
    int has_ds_var = 0, problems = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(dash, "templating"), "list"), i, v) {
        has_ds_var |= !strcmp(json_string_value(json_object_get(v, "type")), "datasource");
        /* a query variable, label_values(METRIC, LABEL): the metric must exist too */
        const char *q = json_string_value(json_object_get(v, "definition"));
        char metric[160];
        if (q && sscanf(q, "label_values(%159[a-zA-Z0-9_:]", metric) == 1 && !json_object_get(series, metric)) {
            fprintf(stderr, "variable '%s': metric %s is not in the exposition\n",
                    json_string_value(json_object_get(v, "name")), metric);
            problems++;
        }
    }
    assert_true(has_ds_var);

    int queries = 0;
    json_t *panel;
    json_array_foreach(json_object_get(dash, "panels"), i, panel) {
        const char *title = json_string_value(json_object_get(panel, "title"));
        if (!strcmp(json_string_value(json_object_get(panel, "type")), "row"))
            continue;
        assert_string_equal(json_string_value(json_object_get(json_object_get(panel, "datasource"), "uid")),
                            "${datasource}");
        json_t *targets = json_object_get(panel, "targets");
        if (json_array_size(targets) == 0) {
            fprintf(stderr, "panel '%s' has no query\n", title);
            problems++;
        }
        size_t t;
        json_t *target;
        json_array_foreach(targets, t, target) {
            const char *expr = json_string_value(json_object_get(target, "expr"));
            assert_non_null(expr);
            json_t *metrics = json_object(), *labels = json_object();
            read_promql(expr, metrics, labels);
            if (json_object_size(metrics) == 0) {
                fprintf(stderr, "panel '%s': no metric in %s\n", title, expr);
                problems++;
            }
            const char *name, *label;
            json_t *x;
            json_object_foreach(metrics, name, x) {
                queries++;
                if (!json_object_get(series, name)) {
                    fprintf(stderr, "panel '%s': metric %s is not in the exposition\n", title, name);
                    problems++;
                }
            }
            json_object_foreach(labels, label, x) {
                if (!strcmp(label, "instance") || !strcmp(label, "job")) /* added by the scrape */
                    continue;
                int found = 0;
                json_object_foreach(metrics, name, v) found |= json_object_get(json_object_get(series, name), label) != NULL;
                if (!found) {
                    fprintf(stderr, "panel '%s': label %s is on none of the metrics of %s\n", title, label, expr);
                    problems++;
                }
            }
            json_decref(metrics);
            json_decref(labels);
        }
    }
    json_decref(dash);
    assert_true(queries >= 20);
    assert_int_equal(problems, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tokenizer_reads_promql),
        cmocka_unit_test(every_panel_query_exists),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
