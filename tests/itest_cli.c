/* Integration: the commands with an option table (cmd/opt.c) as a user
 * meets them: `--help` (for each subcommand too) prints that command's own
 * usage on stdout and exits 0 without running it; a bad flag or value is
 * one line on stderr that names the flag and ends with the hint, exit 2,
 * nothing on stdout; the man page and the completion words list the
 * table's options. Runs the built binary; needs no stack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin;

/* Run `bin ARGS`, stdout and stderr into the buffers; its exit code. */
static int run(const char *args, char *out, size_t outlen, char *err, size_t errlen)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/tmp/itest_cli.%d.err", bin, args, (int)getpid());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    char path[64];
    snprintf(path, sizeof path, "/tmp/itest_cli.%d.err", (int)getpid());
    FILE *e = fopen(path, "r");
    n = e ? fread(err, 1, errlen - 1, e) : 0;
    err[n] = '\0';
    if (e)
        fclose(e);
    remove(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char out[256 * 1024], err[64 * 1024];

static void help_is_the_commands_own(void **state)
{
    (void)state;
    static const char *const cmds[] = {"report", "seed", "tune", "scenario", "scenario run", "scenario list",
                                       "scenario strategies", "notify", "migrate", "version", "completion", "man",
                                       "openapi", "bench", "serve", "dev", "dev up", "dev down", "dev status",
                                       "dev env", "dev restart", "dev kafka-down", "dev kafka-up", "queue",
                                       "queue simulate", "admin", "admin login", "admin seats-create", "anomaly",
                                       "anomaly train", "anomaly detect", "anomaly score", "anomaly eval",
                                       "anomaly nabscore", "anomaly bench", "anomaly forest", NULL};
    for (int i = 0; cmds[i]; i++) {
        char args[128], want[128];
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        assert_int_equal(run(args, out, sizeof out, err, sizeof err), 0);
        snprintf(want, sizeof want, "usage: ticketctl %s", cmds[i]);
        if (strncmp(out, want, strlen(want)) != 0)
            fail_msg("%s --help starts with '%.60s'", cmds[i], out);
        assert_non_null(strstr(out, "  -h, --help"));
        assert_string_equal(err, "");
    }
}

static void bad_flags_are_one_line(void **state)
{
    (void)state;
    static const struct {
        const char *args, *says;
    } cases[] = {
        {"seed --users abc", "ticketctl seed: --users: \"abc\" is not a whole number (try --help)\n"},
        {"seed --method copy", "ticketctl seed: --method: \"copy\" is not one of auto|load|insert (try --help)\n"},
        {"seed --profile huge", "ticketctl seed: --profile: \"huge\" is not one of demo|ci|large (try --help)\n"},
        {"tune --samples 65", "ticketctl tune: --samples: 65 is out of range (1 to 64) (try --help)\n"},
        {"tune --drop-redundant", "ticketctl tune: --drop-redundant changes the schema, so it needs --apply (try --help)\n"},
        {"scenario run --scale 2 x", "ticketctl scenario run: --scale: 2 is out of range (0 < x <= 1) (try --help)\n"},
        {"scenario run -n", "ticketctl scenario run: --repeat needs a value (N) (try --help)\n"},
        {"scenario frobnicate", "ticketctl scenario: unknown subcommand 'frobnicate' (run, list or strategies) (try --help)\n"},
        {"scenario strategies extra", "ticketctl scenario strategies: takes no arguments, not 'extra' (try --help)\n"},
        {"notify --webhook http://127.0.0.1:9 --connect-timeout 0", "ticketctl notify: --connect-timeout: 0 is shorter than 1 ms (try --help)\n"},
        {"notify", "ticketctl notify: --webhook URL is required (try --help)\n"},
        {"migrate --bogus", "ticketctl migrate: unknown option '--bogus' (try --help)\n"},
        {"report", "ticketctl report: missing RESULTS.json (try --help)\n"},
        {"report --compare a", "ticketctl report: --compare needs BASELINE and CANDIDATE (>= 5 runs each) (try --help)\n"},
        {"version --yaml", "ticketctl version: unknown option '--yaml' (try --help)\n"},
        {"version --json=1", "ticketctl version: --json takes no value (try --help)\n"},
        {"completion fish", "ticketctl completion: no completion for 'fish' (bash or zsh) (try --help)\n"},
        {"man extra", "ticketctl man: takes no arguments, not 'extra' (try --help)\n"},
        {"openapi --pretty", "ticketctl openapi: unknown option '--pretty' (try --help)\n"},
        /* bench, serve, dev, queue, admin and anomaly: on tables too */
        {"bench --users abc", "ticketctl bench: --users: \"abc\" is not a whole number (try --help)\n"},
        {"bench --users", "ticketctl bench: --users needs a value (N) (try --help)\n"},
        {"bench --bogus", "ticketctl bench: unknown option '--bogus' (try --help)\n"},
        {"bench --users 0", "ticketctl bench: --users: 0 is out of range (1 to 10000000) (try --help)\n"},
        {"bench --model half", "ticketctl bench: --model: \"half\" is not one of closed|open (try --help)\n"},
        {"bench --engine wrk", "ticketctl bench: --engine: \"wrk\" is not one of auto|lean|curl (try --help)\n"},
        {"bench --max-cpu 1.5", "ticketctl bench: --max-cpu: 1.5 is out of range (0 < x <= 1) (try --help)\n"},
        {"bench --duration 0", "ticketctl bench: --duration: 0 is shorter than 1 ms (try --help)\n"},
        {"bench --rate 5 --model closed", "ticketctl bench: --rate needs the open model (try --help)\n"},
        {"bench extra", "ticketctl bench: unexpected argument 'extra' (try --help)\n"},
        {"serve --request-timeout abc",
         "ticketctl serve: --request-timeout: \"abc\" is not a duration (like 500ms, 10s, 5m) (try --help)\n"},
        {"serve --request-timeout 11m", "ticketctl serve: --request-timeout: 11m is longer than 600000 ms (try --help)\n"},
        {"serve --port 70000", "ticketctl serve: --port: 70000 is out of range (0 to 65535) (try --help)\n"},
        {"serve --queue kafka", "ticketctl serve: --queue: \"kafka\" is not one of none|redis|mysql (try --help)\n"},
        {"serve --queueing lifo", "ticketctl serve: --queueing: \"lifo\" is not one of fifo|random (try --help)\n"},
        {"serve --safety 2", "ticketctl serve: --safety: 2 is out of range (0 < x <= 1) (try --help)\n"},
        {"serve --admit-rate 5/h", "ticketctl serve: --admit-rate: \"5/h\" is not a rate (N or N/min, 0 < N <= 1e9) (try --help)\n"},
        {"serve --strategy nope", "ticketctl serve: --strategy: \"nope\": unknown strategy (try --help)\n"},
        {"dev up --bogus", "ticketctl dev up: unknown option '--bogus' (try --help)\n"},
        {"dev frobnicate", "ticketctl dev: unknown subcommand 'frobnicate' (try --help)\n"},
        {"dev", "ticketctl dev: missing subcommand (try --help)\n"},
        {"dev up --instances 17", "ticketctl dev up: --instances: 17 is out of range (0 to 16) (try --help)\n"},
        {"dev up --redis-cluster 2", "ticketctl dev up: --redis-cluster: 2 is out of range (3 to 8) (try --help)\n"},
        {"dev up --port 8080", "ticketctl dev up: --port and --serve-args need --instances N (N >= 1) (try --help)\n"},
        {"dev down --json", "ticketctl dev down: unknown option '--json' (try --help)\n"},
        {"dev status extra", "ticketctl dev status: takes no arguments, not 'extra' (try --help)\n"},
        {"queue simulate --waiting x", "ticketctl queue simulate: --waiting: \"x\" is not a whole number (try --help)\n"},
        {"queue simulate --connections 5000", "ticketctl queue simulate: --connections: 5000 is out of range (1 to 4096) (try --help)\n"},
        {"queue simulate", "ticketctl queue simulate: --target, --schedule and --waiting are required (try --help)\n"},
        {"queue frob", "ticketctl queue: unknown subcommand 'frob' (simulate) (try --help)\n"},
        {"admin", "ticketctl admin: which call? (try --help)\n"},
        {"admin frob", "ticketctl admin: unknown call 'frob' (try --help)\n"},
        {"admin concert-delete", "ticketctl admin concert-delete: wants an id first (admin concert-delete [options] ID) (try --help)\n"},
        {"admin cache-purge --email a", "ticketctl admin cache-purge: --email and --password go together (try --help)\n"},
        {"anomaly eval --bogus", "ticketctl anomaly eval: unknown option '--bogus' (try --help)\n"},
        {"anomaly train --trees 0", "ticketctl anomaly train: --trees: 0 is out of range (1 to 10000) (try --help)\n"},
        {"anomaly detect --persist x", "ticketctl anomaly detect: --persist: \"x\" is not a whole number (try --help)\n"},
        {"anomaly score --topic t", "ticketctl anomaly score: unknown option '--topic' (try --help)\n"},
        {"anomaly eval", "ticketctl anomaly eval: one DIR argument, please (try --help)\n"},
        {"anomaly frob", "ticketctl anomaly: unknown subcommand 'frob' (train, detect, score, eval, nabscore, bench or forest) (try --help)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run(cases[i].args, out, sizeof out, err, sizeof err);
        if (rc != 2 || strcmp(err, cases[i].says) != 0 || out[0])
            fail_msg("ticketctl %s: exit %d, stderr '%s', stdout %zu bytes; expected exit 2 and '%s'", cases[i].args,
                     rc, err, strlen(out), cases[i].says);
    }
}

static void man_and_completion_follow_the_tables(void **state)
{
    (void)state;
    assert_int_equal(run("man", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, ".SS seed\n"));
    assert_non_null(strstr(out, "\\fB\\-\\-seats\\-per\\-schedule\\fR \\fIN\\fR\n"));
    assert_non_null(strstr(out, ".SS scenario run\n"));
    assert_non_null(strstr(out, "\\fB\\-s\\fR, \\fB\\-\\-strategy\\fR \\fINAME\\fR\n"));
    assert_int_equal(run("completion --words seed --method", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "auto\nload\ninsert\n");
    assert_int_equal(run("completion --words scenario", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "run\nlist\nstrategies\n"));
    assert_int_equal(run("completion --words scenario run", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "--no-redis-benchmark\n"));
    assert_null(strstr(out, "strategies\n"));
    /* the six that were scraped from --help before */
    assert_int_equal(run("man", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, ".SS bench\n"));
    assert_non_null(strstr(out, "\\fB\\-u\\fR, \\fB\\-\\-users\\fR \\fIN\\fR\n"));
    assert_non_null(strstr(out, ".SS dev up\n"));
    assert_non_null(strstr(out, "\\fB\\-\\-redis\\-cluster\\fR \\fIN\\fR\n"));
    assert_non_null(strstr(out, ".SS anomaly detect\n"));
    assert_non_null(strstr(out, ".SS admin seats\\-create\n"));
    assert_non_null(strstr(out, ".SS queue simulate\n"));
    assert_null(strstr(out, ".nf\nusage: ticketctl bench")); /* no captured --help block */
    assert_int_equal(run("completion --words bench --engine", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "auto\nlean\ncurl\n");
    assert_int_equal(run("completion --words serve --queueing", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "fifo\nrandom\n");
    assert_int_equal(run("completion --words dev", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "up\ndown\nstatus\nenv\nrestart\nkafka-down\nkafka-up\n"));
    assert_null(strstr(out, "kafka-broker")); /* internal */
    assert_int_equal(run("completion --words dev up", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "--instances\n"));
    assert_null(strstr(out, "--purge\n")); /* down's, not up's */
    assert_int_equal(run("completion --words anomaly", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "train\ndetect\nscore\neval\nnabscore\nbench\nforest\n"));
    assert_int_equal(run("completion --words anomaly detect", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "--webhook\n"));
    assert_null(strstr(out, "--nab-range\n")); /* eval's */
    assert_int_equal(run("completion --words admin", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "concert-create\n"));
    assert_non_null(strstr(out, "--token\n"));
    assert_int_equal(run("completion --words queue", out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "simulate\n"));
}

int main(void)
{
    bin = getenv("TICKETCTL_BIN");
    if (!bin)
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_is_the_commands_own),
        cmocka_unit_test(bad_flags_are_one_line),
        cmocka_unit_test(man_and_completion_follow_the_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
