/* cmd/opt.c, the option tables: values are checked by type and range, a
 * bad flag is one line on stderr naming the flag with a hint, --help is
 * made from the rows, and the man page and completion words come from the
 * same rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cmd/opt.c"

enum { O_USERS = 256, O_SCALE, O_WAIT, O_JSON };

static const tk_opt rows[] = {
    {.id = O_USERS, .name = "users", .short_name = 'u', .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 1000,
     .help = "virtual users"},
    {.id = O_SCALE, .name = "scale", .type = TK_OPT_REAL, .arg = "F", .lo = 0, .hi = 1, .lo_open = 1,
     .help = "a fraction\nsecond line"},
    {.id = O_WAIT, .name = "wait", .type = TK_OPT_DURATION, .arg = "DUR", .min = 1, .group = "timing:",
     .help = "how long"},
    {.id = 'm', .name = "method", .short_name = 'm', .type = TK_OPT_CHOICE, .choices = "auto|load|insert",
     .help = "how"},
    {.id = O_JSON, .name = "json", .type = TK_OPT_FLAG, .help = "JSON out"},
    TK_OPT_ROW_END,
};

static const tk_optset sub = {.cmd = "demo sub", .synopsis = "demo sub", .about = "the sub", .opts = rows};
static const tk_optset *const subs[] = {&sub, NULL};
static const tk_optset set = {.cmd = "demo", .synopsis = "demo [options]\ndemo sub", .about = "A demo.",
                              .opts = rows, .epilog = "The end.", .subs = subs};

/* Parse argv (NULL-terminated, argv[0] the command) to the end; the last
 * return code, and what went to stderr in err. */
static int parse(char *err, size_t errlen, tk_optval *last, int *last_id, const char *const *args)
{
    char *argv[16];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    dup2(fileno(tmp), STDERR_FILENO);
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, &set, argc, argv, &v)) > 0) {
        *last = v;
        *last_id = c;
    }
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(err, 1, errlen - 1, tmp);
    err[n] = '\0';
    fclose(tmp);
    return c;
}

static void values_are_checked(void **state)
{
    (void)state;
    char err[512];
    tk_optval v;
    int id = 0;
    assert_int_equal(parse(err, sizeof err, &v, &id, (const char *[]){"demo", "--users", "12", NULL}), TK_OPT_END);
    assert_int_equal(id, O_USERS);
    assert_int_equal(v.i, 12);
    assert_int_equal(parse(err, sizeof err, &v, &id, (const char *[]){"demo", "-u7", "x", NULL}), TK_OPT_END);
    assert_int_equal(v.i, 7);
    assert_int_equal(optind, 2); /* the operand */
    assert_int_equal(parse(err, sizeof err, &v, &id, (const char *[]){"demo", "--scale=0.5", NULL}), TK_OPT_END);
    assert_true(v.d == 0.5);
    assert_int_equal(parse(err, sizeof err, &v, &id, (const char *[]){"demo", "--wait", "2s", NULL}), TK_OPT_END);
    assert_int_equal(v.i, 2000);
    assert_int_equal(parse(err, sizeof err, &v, &id, (const char *[]){"demo", "-m", "insert", NULL}), TK_OPT_END);
    assert_int_equal(id, 'm');
    assert_int_equal(v.i, 2);
    assert_string_equal(v.str, "insert");
    assert_string_equal(err, "");
}

/* One line on stderr, naming the flag, with the hint; exit code 2. */
static void expect_error(const char *const *args, const char *want)
{
    char err[512];
    tk_optval v;
    int id = 0;
    int rc = parse(err, sizeof err, &v, &id, args);
    assert_int_equal(rc, TK_OPT_ERROR);
    assert_int_equal(tk_opt_exit(rc), 2);
    if (!strstr(err, want))
        fail_msg("'%s' does not say '%s'", err, want);
    assert_non_null(strstr(err, "(try --help)\n"));
    assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err)); /* exactly one line */
    assert_true(!strncmp(err, "ticketctl demo: ", 16));
}

static void bad_flags_are_one_line(void **state)
{
    (void)state;
    expect_error((const char *[]){"demo", "--users", "abc", NULL}, "--users: \"abc\" is not a whole number");
    expect_error((const char *[]){"demo", "--users", "0", NULL}, "--users: 0 is out of range (1 to 1000)");
    expect_error((const char *[]){"demo", "-u", "1001", NULL}, "--users: 1001 is out of range");
    expect_error((const char *[]){"demo", "--users", NULL}, "--users needs a value (N)");
    expect_error((const char *[]){"demo", "--scale", "0", NULL}, "--scale: 0 is out of range");
    expect_error((const char *[]){"demo", "--scale", "1.5", NULL}, "--scale: 1.5 is out of range");
    expect_error((const char *[]){"demo", "--scale", "half", NULL}, "--scale: \"half\" is not a number");
    expect_error((const char *[]){"demo", "--wait", "soon", NULL}, "--wait: \"soon\" is not a duration");
    expect_error((const char *[]){"demo", "--wait", "0", NULL}, "--wait: 0 is shorter than 1 ms");
    expect_error((const char *[]){"demo", "--method", "copy", NULL}, "--method: \"copy\" is not one of auto|load|insert");
    expect_error((const char *[]){"demo", "--bogus", NULL}, "unknown option '--bogus'");
    expect_error((const char *[]){"demo", "-z", NULL}, "unknown option '-z'");
    expect_error((const char *[]){"demo", "--json=yes", NULL}, "--json takes no value");
    char err[512];
    tk_optval v;
    int id;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), STDOUT_FILENO);
    int rc = parse(err, sizeof err, &v, &id, (const char *[]){"demo", "--users", "3", "--help", NULL});
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    fclose(tmp);
    assert_int_equal(rc, TK_OPT_HELP);
    assert_int_equal(tk_opt_exit(rc), 0);
}

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, arg);
    fclose(f);
    return buf;
}

static void help_cb(FILE *f, const void *a) { tk_opt_help(a, f); }
static void man_cb(FILE *f, const void *a) { tk_opt_man(a, f); }

static void help_and_man_come_from_the_rows(void **state)
{
    (void)state;
    char *h = capture(help_cb, &set);
    assert_non_null(strstr(h, "usage: ticketctl demo [options]\n       ticketctl demo sub\n"));
    assert_non_null(strstr(h, "\nA demo.\n"));
    assert_non_null(strstr(h, "  -u, --users N         virtual users\n"));
    assert_non_null(strstr(h, "      --scale F         a fraction\n                        second line\n"));
    assert_non_null(strstr(h, "timing:\n      --wait DUR"));
    assert_non_null(strstr(h, "  -m, --method auto|load|insert\n                        how\n"));
    assert_non_null(strstr(h, "  -h, --help            this help\n"));
    assert_non_null(strstr(h, "subcommands:\n  sub"));
    assert_non_null(strstr(h, "\nThe end.\n"));
    free(h);
    char *m = capture(man_cb, &set);
    assert_non_null(strstr(m, ".TP\n\\fB\\-u\\fR, \\fB\\-\\-users\\fR \\fIN\\fR\nvirtual users\n"));
    assert_non_null(strstr(m, "a fraction second line\n")); /* lines joined: troff fills */
    assert_non_null(strstr(m, ".SS demo sub\n"));
    free(m);
}

static void completion_words(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tk_opt_words(&set, 0, NULL, f);
    fclose(f);
    assert_string_equal(buf, "sub\n--users\n--scale\n--wait\n--method\n--json\n--help\n");
    free(buf);
    f = open_memstream(&buf, &len);
    tk_opt_words(&set, 2, (char *[]){"sub", "--method"}, f);
    fclose(f);
    assert_string_equal(buf, "auto\nload\ninsert\n");
    free(buf);
    f = open_memstream(&buf, &len);
    tk_opt_words(&set, 1, (char *[]){"--users"}, f);
    fclose(f);
    assert_string_equal(buf, ""); /* a value: the shell offers files */
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_are_checked),
        cmocka_unit_test(bad_flags_are_one_line),
        cmocka_unit_test(help_and_man_come_from_the_rows),
        cmocka_unit_test(completion_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
