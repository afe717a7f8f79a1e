/* A lean HTTP/1.1 keep-alive load engine for single-endpoint benches
 * (`ticketctl bench --url PATH`): the same job as wrk, under the same
 * tk_bench_config / tk_bench_result contract as the libcurl engine of
 * bench.c, which stays for the seven-step booking flow.
 *
 * Why a second engine: libcurl's per-request cost (handle re-add, URL and
 * header handling, its own timers) made `bench --url` reach 0.74-0.80x of
 * wrk's req/s and 0.41x of its requests per CPU-second on one endpoint.
 *
 * Engine: T threads, each with one libevent loop and its share of the
 * connections (connection g belongs to thread g mod T). Per connection a
 * non-blocking socket (TCP_NODELAY) with one persistent read event and a
 * one-shot write event used only while connecting or when the kernel
 * refuses part of a request; the request itself is one pre-formatted buffer
 * (GET <path>, Host, User-Agent, optional Authorization) shared read-only
 * by every connection and written at once with send(). Responses are read
 * with one recv() per readable event into a per-thread buffer and parsed by
 * a small state machine (status line, Content-Length, chunked, Connection:
 * close, HTTP/1.0, 1xx skipped); the body is counted, never stored. No
 * allocation, lock or timer per request: timeouts are found by one 10 ms
 * periodic timer per thread, which also gauges loop lag. A finished
 * connection's next request is sent only after every answer of the same
 * loop round has been read and timestamped (as wrk does), so our own sends
 * never delay the measurement of answers already received.
 *
 * Load models as bench.h: closed (each connection loops; stages give the
 * number of active connections) or open (iterations = requests arrive on
 * the rate schedule, taken by an idle connection, queued up to max_delay_ms,
 * else dropped). Latency corrected from the intended send time and
 * uncorrected from the actual send (connect included), both in tk_hist.
 * Closed model without think time: the intended send time is the actual
 * one, so the corrected latency is instead wrk's expected-interval
 * correction (wrk 4 src/stats.c stats_correct(); HdrHistogram's
 * recordValueWithExpectedInterval): with E = run time x connections /
 * requests, an answer of latency v >= 2E also stands for synthetic samples
 * v-E, v-2E, ... > E. Same method as wrk, so the two compare directly;
 * the per-second series keeps the uncorrected-by-E figures.
 *
 * Errors by kind (bench.h tk_bench_err_kind): connect (socket/connect
 * failure), timeout (no complete response within timeout_ms of the send),
 * read (reset, EOF or a malformed response), status (HTTP status >= 400,
 * as wrk; also counted by status). A request that finds its kept-alive
 * connection closed by the server before any byte of the answer is sent
 * again once on a fresh connection (as curl does), not counted twice.
 * Requests still in flight when the run ends are not counted (as wrk). */
#ifndef TICKETCTL_HTTPLOAD_H
#define TICKETCTL_HTTPLOAD_H

#include <stddef.h>

#include "ticketctl/bench.h"

/* 1 when this engine can drive config->target: plain "http://host[:port][/prefix]"
 * (IPv4, [IPv6] or a name resolved once at start); 0 otherwise (https). */
int tk_httpload_supports(const char *target);

/* Run single-endpoint mode to completion (blocking for config->duration_ms):
 * GET <target><url_path> on config->users keep-alive connections. The
 * config must have passed tk_bench_run()'s checks and have url_path set.
 * Fills every tk_bench_result field bench.c fills in this mode (totals,
 * steps[TK_STEP_URL], latencies corrected and uncorrected, per-second
 * series, iterations, errors by kind and status, the generator self-check)
 * except the step names, which the caller sets. Returns a result freed with
 * tk_bench_result_free(), or NULL with a message in err when the run could
 * not start (bad target, unresolvable host, out of memory, thread setup). */
tk_bench_result *tk_httpload_run(const tk_bench_config *config, char *err /* OUT */, size_t errlen);

#endif
