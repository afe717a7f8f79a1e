/* Unit tests of report rendering: HTML (headline, steps, SVG, escaping, no
 * network loads) and Markdown, from hand-written results JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ticketctl/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char sample[] =
    "{\"schema\":1,\"kind\":\"bench\",\"started_at\":\"2026-11-21T05:00:00Z\","
    "\"config\":{\"target\":\"http://127.0.0.1:8080\",\"users\":500,\"ramp_s\":10,\"duration_s\":20,"
    "\"think_time_ms\":1000,\"threads\":2},"
    "\"machine\":{\"hostname\":\"ci-box\",\"cpus\":2,\"mem_bytes\":2147483648,\"compiler\":\"gcc 12.2\"},"
    "\"summary\":{\"requests\":123456,\"errors\":7,\"error_rate\":0.0000567,\"tps\":4321.5,"
    "\"steady_tps\":4400.26,\"flows_completed\":17000,"
    "\"latency_ms\":{\"p50\":3.25,\"p90\":9.5,\"p95\":14.75,\"p99\":87.5,\"max\":1234.0,\"mean\":5.5},"
    "\"peak_rss_bytes\":52428800},"
    "\"steps\":["
    "{\"name\":\"balance\",\"requests\":20000,\"errors\":1,\"tps\":700.5,"
    "\"latency_ms\":{\"p50\":1.5,\"p90\":3,\"p95\":4,\"p99\":9,\"max\":40,\"mean\":2}},"
    "{\"name\":\"reserve\",\"requests\":15000,\"errors\":6,\"tps\":520.0,"
    "\"latency_ms\":{\"p50\":6.5,\"p90\":12,\"p95\":20,\"p99\":95,\"max\":1234,\"mean\":8}},"
    "{\"name\":\"<script>alert(1)</script>\",\"requests\":1,\"errors\":0,\"tps\":0.1,"
    "\"latency_ms\":{\"p50\":1,\"p90\":1,\"p95\":1,\"p99\":1,\"max\":1,\"mean\":1}}],"
    "\"errors\":{\"by_kind\":{\"connect\":0,\"timeout\":3,\"read\":0,\"status\":4},"
    "\"by_status\":{\"503\":4}},"
    "\"outcomes\":{\"seat_taken\":812},"
    "\"timeseries\":["
    "{\"t\":1,\"vus\":50,\"rps\":1000.0,\"errors\":0,\"p50\":2,\"p95\":8,\"p99\":20},"
    "{\"t\":2,\"vus\":100,\"rps\":2100.0,\"errors\":1,\"p50\":3,\"p95\":9,\"p99\":30},"
    "{\"t\":3,\"vus\":150,\"rps\":3500.0,\"errors\":0,\"p50\":3,\"p95\":12,\"p99\":80},"
    "{\"t\":4,\"vus\":200,\"rps\":4400.0,\"errors\":6,\"p50\":4,\"p95\":15,\"p99\":90}],"
    "\"invariants\":[{\"name\":\"no seat with two live reservations\",\"ok\":true,\"detail\":\"0 violations\"},"
    "{\"name\":\"balance equals history\",\"ok\":false,\"detail\":\"2 users drift\"}],"
    "\"server\":{\"peak_rss_bytes\":104857600}}";

/* Render with fn into a malloc'd NUL-terminated string. */
static char *render(const char *json, int (*fn)(const tk_report *, FILE *, char *, size_t))
{
    char err[256] = "";
    tk_report *r = tk_report_parse(json, strlen(json), "sample.json", err, sizeof err);
    assert_non_null(r);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fn(r, f, err, sizeof err), 0);
    fclose(f);
    tk_report_free(r);
    return buf;
}

static void test_html_headline_steps_svg(void **state)
{
    (void)state;
    char *h = render(sample, tk_report_html);
    assert_non_null(strstr(h, "<!DOCTYPE html>"));
    assert_non_null(strstr(h, "4,321.5"));  /* tps */
    assert_non_null(strstr(h, "4,400.3"));  /* steady tps, one decimal */
    assert_non_null(strstr(h, "87.5"));     /* p99 */
    assert_non_null(strstr(h, "123,456"));  /* requests */
    assert_non_null(strstr(h, "17,000"));   /* flows */
    assert_non_null(strstr(h, ">balance<"));
    assert_non_null(strstr(h, ">reserve<"));
    assert_non_null(strstr(h, "<svg"));
    assert_non_null(strstr(h, "Throughput"));
    assert_non_null(strstr(h, "Latency percentiles"));
    assert_non_null(strstr(h, ">OK<"));
    assert_non_null(strstr(h, ">FAIL<"));
    assert_non_null(strstr(h, "1 of 2 invariants FAILED"));
    assert_non_null(strstr(h, "seat_taken"));
    assert_non_null(strstr(h, "ci-box"));
    assert_non_null(strstr(h, "2.0 GiB")); /* mem_bytes */
    free(h);
}

static void test_html_escapes_and_is_offline(void **state)
{
    (void)state;
    char *h = render(sample, tk_report_html);
    assert_non_null(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_null(strstr(h, "<script"));
    static const char *net[] = {"src=\"http", "href=\"http", "src='http", "href='http", "url(http",
                                "url(//", "src=\"//", "href=\"//", "@import", "<link", "<iframe"};
    for (size_t i = 0; i < sizeof net / sizeof net[0]; i++)
        assert_null(strstr(h, net[i]));
    free(h);
}

static void test_markdown_tables(void **state)
{
    (void)state;
    char *m = render(sample, tk_report_markdown);
    assert_non_null(strstr(m, "| step | requests | TPS |"));
    assert_non_null(strstr(m, "|---|"));
    assert_non_null(strstr(m, "| balance | 20,000 | 700.5 |"));
    assert_non_null(strstr(m, "| reserve |"));
    assert_non_null(strstr(m, "| throughput (req/s) | 4,321.5 |"));
    assert_non_null(strstr(m, "| balance equals history | **FAIL** |"));
    assert_null(strstr(m, "<script"));
    free(m);
}

static void test_old_file_renders_what_it_has(void **state)
{
    (void)state;
    const char *old = "{\"summary\":{\"tps\":12.5,\"requests\":100},\"steps\":[{\"name\":\"pay\"}],"
                      "\"timeseries\":[{\"rps\":3},{\"rps\":4,\"p99\":\"x\"}]}";
    char *h = render(old, tk_report_html);
    assert_non_null(strstr(h, "12.5"));
    assert_non_null(strstr(h, ">pay<"));
    assert_non_null(strstr(h, "\xe2\x80\x93")); /* missing numbers as a dash */
    assert_non_null(strstr(h, "</html>"));
    free(h);
    char *m = render(old, tk_report_markdown);
    assert_non_null(strstr(m, "| pay |"));
    free(m);
    char *e = render("{}", tk_report_html);
    assert_non_null(strstr(e, "no time series"));
    free(e);
}

static void test_bad_input(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(tk_report_parse("{\"a\":", 5, "x.json", err, sizeof err));
    assert_non_null(strstr(err, "malformed"));
    assert_non_null(strstr(err, "x.json"));
    assert_null(tk_report_parse("[1,2]", 5, "y.json", err, sizeof err));
    assert_non_null(strstr(err, "not a results file"));
    assert_null(tk_report_load("/nonexistent/r.json", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/r.json"));
    tk_report_free(NULL);
}

static void test_write_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/tk_test_report_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], html[1024], md[1024], err[256];
    snprintf(path, sizeof path, "%s/bench-1.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(sample, f);
    fclose(f);
    assert_int_equal(tk_report_write_files(path, NULL, html, sizeof html, md, sizeof md, err, sizeof err), 0);
    char want[600];
    snprintf(want, sizeof want, "%s/bench-1.html", dir);
    assert_string_equal(html, want);
    snprintf(want, sizeof want, "%s/bench-1.md", dir);
    assert_string_equal(md, want);
    struct stat st;
    assert_int_equal(stat(html, &st), 0);
    assert_true(st.st_size > 1000);
    assert_int_equal(stat(md, &st), 0);
    unlink(html);
    unlink(md);
    unlink(path);
    rmdir(dir);
}


static const char scenario_sample[] =
    "{\"schema\":1,\"kind\":\"scenario\",\"scenario\":\"hot-seat-500\",\"started_at\":\"2026-11-21T05:00:00Z\","
    "\"config\":{\"description\":\"500 users, one seat\",\"users\":500,\"seats\":1},"
    "\"verdict\":\"pick redis-atomic\","
    "\"redis_benchmark\":{\"rps\":80000.0,\"ratio\":0.5},"
    "\"invariants\":[{\"name\":\"redis-atomic: no_double_booking\",\"ok\":true,\"detail\":\"0\"}],"
    "\"results\":["
    "{\"strategy\":\"none\",\"unsafe\":true,\"attempts\":500,\"successes\":14,\"double_bookings\":13,"
    "\"oversold_seats\":1,\"retries\":0,\"lock_waits\":1,\"lock_timeouts\":0,\"deadlocks\":0,\"throughput\":9196.4,"
    "\"outcomes\":{\"OK\":14,\"SEAT_TAKEN\":486},\"latency_ms\":{\"p50\":37.6,\"p99\":54.3,\"max\":54.4},"
    "\"invariants\":[{\"name\":\"no_double_booking\",\"ok\":false,\"detail\":\"13 double\",\"expected_to_fail\":true}]},"
    "{\"strategy\":\"redis-atomic<b>\",\"unsafe\":false,\"attempts\":500,\"successes\":1,\"double_bookings\":0,"
    "\"oversold_seats\":0,\"retries\":0,\"lock_waits\":0,\"lock_timeouts\":0,\"deadlocks\":0,\"throughput\":18928.0,"
    "\"outcomes\":{\"OK\":1,\"SEAT_TAKEN\":499},\"latency_ms\":{\"p50\":18.8,\"p99\":26.2,\"max\":26.4},"
    "\"invariants\":[{\"name\":\"no_double_booking\",\"ok\":true,\"detail\":\"0 double\"}]}]}";

static void test_scenario_section(void **state)
{
    (void)state;
    char *h = render(scenario_sample, tk_report_html);
    assert_non_null(strstr(h, "Scenario hot-seat-500"));
    assert_non_null(strstr(h, "pick redis-atomic"));
    assert_non_null(strstr(h, "Throughput (attempts/s)"));
    assert_non_null(strstr(h, "Double bookings"));
    assert_non_null(strstr(h, "p99 latency (ms)"));
    assert_non_null(strstr(h, "9,196")); /* throughput of none */
    assert_non_null(strstr(h, "18,928"));
    assert_non_null(strstr(h, "#dc2626")); /* the unsafe bar */
    assert_non_null(strstr(h, "redis-atomic&lt;b&gt;"));
    assert_null(strstr(h, "redis-atomic<b>"));
    assert_non_null(strstr(h, "All 1 invariants hold"));
    /* one bar chart per metric present in the results */
    size_t bars = 0;
    for (const char *p = h; (p = strstr(p, "<svg")); p++)
        bars++;
    assert_true(bars >= 8);
    assert_null(strstr(h, "no time series")); /* not the bench page */
    free(h);
    char *m = render(scenario_sample, tk_report_markdown);
    assert_non_null(strstr(m, "# ticketctl scenario report: hot-seat-500"));
    assert_non_null(strstr(m, "| none (unsafe) | 500 | 14 |"));
    assert_non_null(strstr(m, "**1 FAIL** (expected)"));
    assert_non_null(strstr(m, "80,000 req/s"));
    free(m);
    /* the bench page is unchanged for bench files */
    char *b = render(sample, tk_report_html);
    assert_non_null(strstr(b, "Latency percentiles"));
    assert_null(strstr(b, "Throughput (attempts/s)"));
    free(b);
}

static const char cpu_sample[] =
    "{\"schema\":1,\"kind\":\"bench\",\"summary\":{\"requests\":1000,\"errors\":0,\"tps\":100,"
    "\"latency_ms\":{\"p50\":1,\"p95\":2,\"p99\":3,\"max\":4,\"mean\":1},"
    "\"cpu_ms_per_flow\":{\"serve\":0.65,\"mariadbd\":0.85,\"redis\":0.05,\"nginx\":null,\"bench\":0.71,"
    "\"backend_total\":1.55}}}";

static void test_cpu_per_flow_card_and_rows(void **state)
{
    (void)state;
    char *h = render(cpu_sample, tk_report_html);
    assert_non_null(strstr(h, "server CPU-ms / flow"));
    assert_non_null(strstr(h, ">1.550<"));
    assert_non_null(strstr(h, "serve 0.650 · mariadbd 0.850 · redis 0.050 · bench 0.710"));
    /* the CPU card comes before the throughput card */
    assert_true(strstr(h, "server CPU-ms / flow") < strstr(h, "throughput (req/s)"));
    free(h);
    char *m = render(cpu_sample, tk_report_markdown);
    assert_non_null(strstr(m, "| CPU-ms per flow, server total | 1.550 |"));
    assert_non_null(strstr(m, "| CPU-ms per flow, mariadbd | 0.850 |"));
    assert_non_null(strstr(m, "| CPU-ms per flow, bench | 0.710 |"));
    assert_null(strstr(m, "nginx")); /* null and not one of the four: left out */
    free(m);
    /* a file without it shows no CPU card at all */
    char *old = render(sample, tk_report_html);
    assert_null(strstr(old, "CPU-ms"));
    free(old);
}

static const char capacity_sample[] =
    "{\"kind\":\"capacity\",\"config\":{\"target\":\"http://127.0.0.1:1\",\"p95_limit_ms\":100,"
    "\"max_errors\":0},\"points\":["
    "{\"offered_rps\":4000,\"achieved_rps\":3990,\"p50_ms\":2,\"p95_ms\":8,\"p99_ms\":15,\"errors\":0,"
    "\"valid\":true,\"ok\":true,\"cpu_ms_per_flow\":{\"backend_total\":1.2,\"bench\":0.1}},"
    "{\"offered_rps\":8000,\"achieved_rps\":7900,\"p50_ms\":4,\"p95_ms\":60,\"p99_ms\":90,\"errors\":0,"
    "\"valid\":true,\"ok\":true,\"cpu_ms_per_flow\":{\"backend_total\":1.1,\"bench\":0.1}},"
    "{\"offered_rps\":12000,\"achieved_rps\":8100,\"p50_ms\":300,\"p95_ms\":900,\"p99_ms\":1500,"
    "\"errors\":12,\"valid\":false,\"ok\":false}],"
    "\"knee\":{\"offered_rps\":8000,\"achieved_rps\":7900,\"p50_ms\":4,\"p95_ms\":60,\"p99_ms\":90,"
    "\"errors\":0,\"cpu_ms_per_flow\":{\"backend_total\":1.1,\"bench\":0.1}}}";

static void test_capacity_curve(void **state)
{
    (void)state;
    char *h = render(capacity_sample, tk_report_html);
    assert_non_null(strstr(h, "Capacity: the booking flow at rising rates"));
    assert_non_null(strstr(h, ">7,900<"));            /* the knee card */
    assert_non_null(strstr(h, "offered 8,000 req/s"));
    assert_non_null(strstr(h, "Achieved against offered"));
    assert_non_null(strstr(h, "Latency against offered rate"));
    assert_non_null(strstr(h, "CPU per completed flow"));
    assert_non_null(strstr(h, "offered (req/s)"));    /* x axis label, not time */
    assert_null(strstr(h, "time (s)"));
    assert_non_null(strstr(h, "<td>12,000</td>"));
    assert_non_null(strstr(h, "✗"));
    assert_non_null(strstr(h, "<path"));              /* the charts have lines */
    free(h);
    char *m = render(capacity_sample, tk_report_markdown);
    assert_non_null(strstr(m, "**Knee: 7,900 req/s** (offered 8,000), p95 60.0 ms"));
    assert_non_null(strstr(m, "| 12,000 | 8,100 | 300 | 900 | 1,500 | 12 |"));
    assert_non_null(strstr(m, "| no | ✗ |"));
    free(m);
    /* no point met the limits: said so, no knee card */
    char *none = render("{\"kind\":\"capacity\",\"config\":{\"p95_limit_ms\":100},\"points\":[],\"knee\":null}",
                        tk_report_html);
    assert_non_null(strstr(none, "no point met the limits"));
    free(none);
}

static const char gates_sample[] =
    "{\"schema\":1,\"kind\":\"bench\",\"valid\":false,"
    "\"generator\":{\"valid\":false,\"invalid_reason\":\"loop lag p99 40 ms > 25 ms\"},"
    "\"config\":{\"think_time_ms\":25,\"users\":5000},"
    "\"summary\":{\"requests\":10,\"errors\":0,\"tps\":1,"
    "\"latency_ms\":{\"p50\":1,\"p90\":2,\"p95\":3,\"p99\":4,\"p999\":7.5,\"p9999\":9.25,\"max\":10,\"mean\":1.5},"
    "\"uncorrected_latency_ms\":{\"p50\":0.5,\"p99\":2.5,\"p999\":3.5}},"
    "\"thresholds\":[{\"threshold\":\"p95<100ms\",\"ok\":true,\"actual\":3,\"limit\":100},"
    "{\"threshold\":\"error_rate<0.1%\",\"ok\":false,\"actual\":0.5,\"limit\":0.001}]}";

static void test_thresholds_validity_and_tails(void **state)
{
    (void)state;
    char *h = render(gates_sample, tk_report_html);
    assert_non_null(strstr(h, "<h2>Thresholds</h2>"));
    assert_non_null(strstr(h, "✓ pass"));
    assert_non_null(strstr(h, "✗ FAIL"));
    assert_non_null(strstr(h, "Load generator saturated"));
    assert_non_null(strstr(h, "loop lag p99 40 ms &gt; 25 ms"));
    assert_non_null(strstr(h, "<th>p99.9</th><th>p99.99</th>"));
    assert_non_null(strstr(h, "whole run, uncorrected"));
    assert_non_null(strstr(h, "<td>7.50</td><td>9.25</td>")); /* corrected p99.9, p99.99 */
    assert_non_null(strstr(h, "think time (ms)"));            /* a human label, not think_time_ms */
    assert_non_null(strstr(h, "virtual users"));
    free(h);
    char *m = render(gates_sample, tk_report_markdown);
    assert_non_null(strstr(m, "| p95&lt;100ms | ✓ pass |")); /* md_esc: < as an entity */
    assert_non_null(strstr(m, "| error_rate&lt;0.1% | ✗ **FAIL** |"));
    assert_non_null(strstr(m, "**Load generator saturated"));
    assert_non_null(strstr(m, "| whole run, corrected | 1.00 | 2.00 | 3.00 | 4.00 | 7.50 | 9.25 | 10.0 | 1.50 |"));
    assert_non_null(strstr(m, "| think time (ms) | 25 |"));
    free(m);
    /* a valid run shows no banner; a file with no thresholds no section */
    char *ok = render(sample, tk_report_html);
    assert_null(strstr(ok, "saturated"));
    assert_null(strstr(ok, "<h2>Thresholds</h2>"));
    free(ok);
}

static char *render_junit(const char *json, size_t *failed)
{
    char err[256];
    tk_report *r = tk_report_parse(json, strlen(json), "run<1>.json", err, sizeof err);
    assert_non_null(r);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tk_report_junit(r, f, failed, err, sizeof err), 0);
    fclose(f);
    tk_report_free(r);
    return buf;
}

static size_t count(const char *h, const char *needle)
{
    size_t n = 0;
    for (const char *p = h; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_junit_gates(void **state)
{
    (void)state;
    size_t failed = 99;
    char *x = render_junit(gates_sample, &failed);
    assert_int_equal(failed, 2); /* one threshold, and the saturated generator */
    assert_non_null(strstr(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert_non_null(strstr(x, "name=\"ticketctl bench: run&lt;1&gt;.json\" tests=\"3\" failures=\"2\""));
    assert_non_null(strstr(x, "<testcase classname=\"ticketctl.thresholds\" name=\"p95&lt;100ms\"/>"));
    assert_non_null(strstr(x, "name=\"error_rate&lt;0.1%\">\n      <failure message="));
    assert_non_null(strstr(x, "<failure message=\"loop lag p99 40 ms &gt; 25 ms\"/>"));
    assert_int_equal(count(x, "<testcase "), 3);
    assert_int_equal(count(x, "<failure "), 2);
    assert_int_equal(count(x, "<testsuite "), 3);
    assert_int_equal(count(x, "</testsuite>"), 3);
    assert_null(strstr(x, "<script"));
    free(x);
    /* all gates held: no failure element at all */
    x = render_junit(sample, &failed);
    assert_int_equal(failed, 1); /* sample has one failing invariant */
    assert_int_equal(count(x, "<failure "), 1);
    assert_non_null(strstr(x, "balance equals history"));
    free(x);
}

/* Per-step latency and errors by status over time (timeseries[].steps and
 * .status) and the response-time distribution (latency_distribution). */
static void test_steps_status_distribution(void **state)
{
    (void)state;
    const char *j =
        "{\"summary\":{\"requests\":30},\"timeseries\":["
        "{\"t\":1,\"rps\":10,\"p50\":1,\"p95\":2,\"p99\":3,\"steps\":{\"reserve\":{\"n\":4,\"p50\":1,\"p95\":7.5},"
        "\"pay\":{\"n\":2,\"p50\":2,\"p95\":3}},\"status\":{\"201\":6,\"409\":2}},"
        "{\"t\":2,\"rps\":20,\"p50\":1,\"p95\":2,\"p99\":3,\"steps\":{\"reserve\":{\"n\":5,\"p50\":1,\"p95\":9}},"
        "\"status\":{\"201\":5,\"503\":3,\"0\":1}}],"
        "\"latency_distribution\":[{\"le_ms\":0.5,\"count\":0},{\"le_ms\":1,\"count\":20},{\"le_ms\":2,\"count\":9},"
        "{\"le_ms\":5,\"count\":0},{\"le_ms\":null,\"count\":1}]}";
    char *h = render(j, tk_report_html);
    assert_non_null(strstr(h, "aria-label=\"p95 latency by step\""));
    assert_non_null(strstr(h, ">reserve</text>")); /* legend */
    assert_non_null(strstr(h, ">pay</text>"));
    assert_non_null(strstr(h, "aria-label=\"Errors by HTTP status\""));
    assert_non_null(strstr(h, ">409</text>"));
    assert_non_null(strstr(h, ">503</text>"));
    assert_non_null(strstr(h, ">no answer</text>"));
    assert_null(strstr(h, ">201</text>")); /* a success is not an error */
    assert_non_null(strstr(h, "aria-label=\"Response-time distribution (corrected)\""));
    const char *bars = strstr(h, "Response-time distribution");
    int nrect = 0;
    for (const char *p = bars; (p = strstr(p, "<rect")); p++)
        nrect++;
    assert_int_equal(nrect, 4); /* the empty first bucket is dropped, the empty middle one kept */
    assert_non_null(strstr(h, ">&gt; 5.00</text>"));
    free(h);
    char *m = render(j, tk_report_markdown);
    assert_non_null(strstr(m, "## Response-time distribution (corrected)"));
    assert_non_null(strstr(m, "| 1.00 | 20 | 66.67% | 66.67% |"));
    assert_non_null(strstr(m, "| > 5.00 | 1 | 3.33% | 100.00% |"));
    assert_non_null(strstr(m, "| 503 | 3 | 1 | 3 | 2 |"));
    assert_non_null(strstr(m, "| no answer | 1 | 1 | 1 | 2 |"));
    free(m);
    /* no error status at all: said in words, not an empty chart */
    char *q = render("{\"timeseries\":[{\"t\":1,\"rps\":1,\"status\":{\"200\":1}}]}", tk_report_html);
    assert_null(strstr(q, "Errors by HTTP status\""));
    assert_non_null(strstr(q, "no error status in any second"));
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_headline_steps_svg),
        cmocka_unit_test(test_html_escapes_and_is_offline),
        cmocka_unit_test(test_markdown_tables),
        cmocka_unit_test(test_old_file_renders_what_it_has),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_write_files),
        cmocka_unit_test(test_scenario_section),
        cmocka_unit_test(test_cpu_per_flow_card_and_rows),
        cmocka_unit_test(test_capacity_curve),
        cmocka_unit_test(test_thresholds_validity_and_tails),
        cmocka_unit_test(test_junit_gates),
        cmocka_unit_test(test_steps_status_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
