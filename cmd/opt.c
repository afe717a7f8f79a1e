/* Option tables (opt.h): the getopt_long array, value checks with one-line
 * errors, --help, the man page section and the completion words, all from
 * one table per command. */
#include "opt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/common.h"

#define HELP_COL 24 /* where help text starts: "  -c, --connections N   " */

static void setup(tk_optparse *p, const tk_optset *set)
{
    size_t n = 0, s = 0;
    int have_help = 0;
    p->shortopts[s++] = ':'; /* a missing argument returns ':', not '?' */
    for (const tk_opt *o = set->opts; o && o->name && n < sizeof p->longopts / sizeof p->longopts[0] - 2; o++) {
        p->longopts[n++] = (struct option){o->name, o->type == TK_OPT_FLAG ? no_argument : required_argument, NULL,
                                           o->id};
        have_help |= !strcmp(o->name, "help");
        if (o->short_name && s + 3 < sizeof p->shortopts) {
            p->shortopts[s++] = o->short_name;
            if (o->type != TK_OPT_FLAG)
                p->shortopts[s++] = ':';
        }
    }
    if (!have_help) {
        p->longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
        p->shortopts[s++] = 'h';
    }
    p->longopts[n] = (struct option){NULL, 0, NULL, 0};
    p->shortopts[s] = '\0';
    p->set = set;
    p->ready = 1;
}

int tk_opt_error(const tk_optset *set, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ticketctl %s: %s (try --help)\n", set->cmd, msg);
    return 2;
}

int tk_opt_exit(int rc) { return rc == TK_OPT_HELP ? 0 : 2; }

const tk_opt tk_opt_no_rows[] = {TK_OPT_ROW_END};

int tk_opt_only(const tk_optset *set, int argc, char **argv)
{
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, set, argc, argv, &v)) > 0)
        ;
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind != argc)
        return tk_opt_error(set, "takes no arguments, not '%s'", argv[optind]);
    return -1;
}

/* The row getopt_long answered for: long options return the row's id,
 * short ones their letter. */
static const tk_opt *row_of(const tk_optset *set, int c, int long_index)
{
    if (long_index >= 0)
        for (const tk_opt *o = set->opts; o && o->name; o++)
            if (o->id == c)
                return o;
    for (const tk_opt *o = set->opts; o && o->name; o++)
        if (o->short_name && o->short_name == c)
            return o;
    for (const tk_opt *o = set->opts; o && o->name; o++)
        if (o->id == c)
            return o;
    return NULL;
}

/* Is word one of "a|b|c"? Its index, or -1. */
static int choice_index(const char *choices, const char *word)
{
    size_t wl = strlen(word);
    int i = 0;
    for (const char *c = choices; c && *c; i++) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == wl && !strncmp(c, word, len))
            return i;
        c = bar ? bar + 1 : c + len;
    }
    return -1;
}

static int check_value(const tk_optset *set, const tk_opt *o, const char *arg, tk_optval *v)
{
    v->str = arg;
    v->i = 0;
    v->d = 0;
    switch (o->type) {
    case TK_OPT_FLAG:
    case TK_OPT_STR: return 0;
    case TK_OPT_INT:
        if (tk_parse_i64(arg, INT64_MIN, INT64_MAX, &v->i) != 0)
            return tk_opt_error(set, "--%s: \"%s\" is not a whole number", o->name, arg);
        if (v->i < o->min || v->i > o->max)
            return tk_opt_error(set, "--%s: %lld is out of range (%lld to %lld)", o->name, (long long)v->i,
                                (long long)o->min, (long long)o->max);
        return 0;
    case TK_OPT_REAL: {
        char *end = NULL;
        errno = 0;
        v->d = strtod(arg, &end);
        if (errno || !*arg || *end || !isfinite(v->d))
            return tk_opt_error(set, "--%s: \"%s\" is not a number", o->name, arg);
        if (v->d < o->lo || (o->lo_open && v->d == o->lo) || v->d > o->hi)
            return tk_opt_error(set, "--%s: %g is out of range (%g %s x <= %g)", o->name, v->d, o->lo,
                                o->lo_open ? "<" : "<=", o->hi);
        return 0;
    }
    case TK_OPT_DURATION:
        if (tk_parse_duration_ms(arg, &v->i) != 0)
            return tk_opt_error(set, "--%s: \"%s\" is not a duration (like 500ms, 10s, 5m)", o->name, arg);
        if (v->i < o->min)
            return tk_opt_error(set, "--%s: %s is shorter than %lld ms", o->name, arg, (long long)o->min);
        return 0;
    case TK_OPT_CHOICE:
        if ((v->i = choice_index(o->choices, arg)) < 0)
            return tk_opt_error(set, "--%s: \"%s\" is not one of %s", o->name, arg, o->choices);
        return 0;
    }
    return 0;
}

int tk_opt_next(tk_optparse *p, const tk_optset *set, int argc, char **argv, tk_optval *v)
{
    if (!p->ready || p->set != set) {
        setup(p, set);
        optind = 1;
    }
    opterr = 0; /* our messages, not getopt's */
    int li = -1;
    int c = getopt_long(argc, argv, p->shortopts, p->longopts, &li);
    if (c == -1)
        return TK_OPT_END;
    if (c == '?') {
        const char *bad = optind > 0 ? argv[optind - 1] : "";
        const char *eq = !strncmp(bad, "--", 2) ? strchr(bad, '=') : NULL;
        const tk_opt *flag = NULL;
        size_t nlen = eq ? (size_t)(eq - bad - 2) : 0;
        for (const tk_opt *o = set->opts; eq && o && o->name; o++)
            if (o->type == TK_OPT_FLAG && strlen(o->name) == nlen && !strncmp(o->name, bad + 2, nlen))
                flag = o; /* --json=1 */
        if (flag)
            tk_opt_error(set, "--%s takes no value", flag->name);
        else if (optopt && optopt < 256 && strncmp(bad, "--", 2) != 0)
            tk_opt_error(set, "unknown option '-%c'", optopt);
        else
            tk_opt_error(set, "unknown option '%.80s'", argv[optind - 1]);
        return TK_OPT_ERROR;
    }
    if (c == ':') {
        const tk_opt *o = row_of(set, optopt, li);
        tk_opt_error(set, "--%s needs a value (%s)", o ? o->name : "?",
                     o && o->arg ? o->arg : o && o->choices ? o->choices : "an argument");
        return TK_OPT_ERROR;
    }
    const tk_opt *o = row_of(set, c, li);
    if (!o && c == 'h') {
        tk_opt_help(set, stdout);
        return TK_OPT_HELP;
    }
    if (!o) /* cannot happen: every id the array holds has a row */
        return TK_OPT_ERROR;
    if (check_value(set, o, optarg, v) != 0)
        return TK_OPT_ERROR;
    return c;
}

/* "  -o, --out-dir DIR" */
static void left_column(const tk_opt *o, char *buf, size_t len)
{
    const char *arg = o->type == TK_OPT_FLAG ? NULL : o->arg ? o->arg : o->choices;
    if (o->short_name)
        snprintf(buf, len, "  -%c, --%s%s%s", o->short_name, o->name, arg ? " " : "", arg ? arg : "");
    else
        snprintf(buf, len, "      --%s%s%s", o->name, arg ? " " : "", arg ? arg : "");
}

static void indent_lines(FILE *out, const char *text, int first_col, int col)
{
    int pad = col - first_col;
    for (const char *s = text; s && *s;) {
        const char *nl = strchr(s, '\n');
        int n = nl ? (int)(nl - s) : (int)strlen(s);
        fprintf(out, "%*s%.*s\n", pad > 0 ? pad : 1, "", n, s);
        pad = col;
        s = nl ? nl + 1 : s + n;
    }
}

void tk_opt_help(const tk_optset *set, FILE *out)
{
    const char *s = set->synopsis;
    for (int first = 1; s && *s; first = 0) {
        const char *nl = strchr(s, '\n');
        int n = nl ? (int)(nl - s) : (int)strlen(s);
        fprintf(out, "%s ticketctl %.*s\n", first ? "usage:" : "      ", n, s);
        s = nl ? nl + 1 : s + n;
    }
    if (set->about)
        fprintf(out, "\n%s\n", set->about);
    fputc('\n', out);
    char left[160];
    for (const tk_opt *o = set->opts; o && o->name; o++) {
        if (o->group)
            fprintf(out, "%s\n", o->group);
        left_column(o, left, sizeof left);
        int w = (int)strlen(left);
        if (w + 2 > HELP_COL) {
            fprintf(out, "%s\n", left);
            indent_lines(out, o->help, 0, HELP_COL);
        } else {
            fputs(left, out);
            indent_lines(out, o->help, w, HELP_COL);
        }
    }
    fprintf(out, "  -h, --help%*sthis help\n", HELP_COL - 12, "");
    if (set->subs) {
        fputs("\nsubcommands:\n", out);
        for (const tk_optset *const *sub = set->subs; *sub; sub++) {
            const char *name = strrchr((*sub)->cmd, ' ');
            const char *about = (*sub)->about ? (*sub)->about : "";
            const char *nl = strchr(about, '\n');
            fprintf(out, "  %-22s %.*s\n", name ? name + 1 : (*sub)->cmd, nl ? (int)(nl - about) : (int)strlen(about),
                    about);
        }
        fprintf(out, "Run 'ticketctl %s SUBCOMMAND --help' for its options.\n", set->cmd);
    }
    if (set->epilog)
        fprintf(out, "\n%s\n", set->epilog);
}

/* troff text: '\' and '-' escaped, a leading '.' or '\'' neutralised; '\n' as join. */
static void troff_text(FILE *out, const char *s, const char *join)
{
    int bol = 1;
    for (; s && *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", out);
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else if (*s == '\n')
            fputs(join, out);
        else
            fputc(*s, out);
        bol = *s == '\n' && join[strlen(join) - 1] == '\n';
    }
}

void tk_opt_man(const tk_optset *set, FILE *out)
{
    fputs(".nf\n", out);
    const char *s = set->synopsis;
    while (s && *s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char line[512];
        snprintf(line, sizeof line, "ticketctl %.*s", (int)n, s);
        fputs("\\fB", out);
        troff_text(out, line, " ");
        fputs("\\fR\n", out);
        s = nl ? nl + 1 : s + n;
    }
    fputs(".fi\n", out);
    if (set->about) {
        fputs(".PP\n", out);
        troff_text(out, set->about, "\n");
        fputc('\n', out);
    }
    for (const tk_opt *o = set->opts; o && o->name; o++) {
        const char *arg = o->type == TK_OPT_FLAG ? NULL : o->arg ? o->arg : o->choices;
        fputs(".TP\n", out);
        if (o->short_name)
            fprintf(out, "\\fB\\-%c\\fR, ", o->short_name);
        fputs("\\fB\\-\\-", out);
        troff_text(out, o->name, " ");
        fputs("\\fR", out);
        if (arg) {
            fputs(" \\fI", out);
            troff_text(out, arg, " ");
            fputs("\\fR", out);
        }
        fputc('\n', out);
        troff_text(out, o->help, " ");
        fputc('\n', out);
    }
    if (set->epilog) {
        fputs(".PP\n", out);
        troff_text(out, set->epilog, "\n");
        fputc('\n', out);
    }
    for (const tk_optset *const *sub = set->subs; sub && *sub; sub++) {
        fputs(".SS ", out);
        troff_text(out, (*sub)->cmd, " ");
        fputc('\n', out);
        tk_opt_man(*sub, out);
    }
}

void tk_opt_words(const tk_optset *set, int argc, char **argv, FILE *out)
{
    int sub_given = 0;
    if (set->subs && argc > 0)
        for (const tk_optset *const *sub = set->subs; *sub; sub++) {
            const char *name = strrchr((*sub)->cmd, ' ');
            if (name && !strcmp(name + 1, argv[0])) {
                set = *sub;
                sub_given = 1;
                argc--;
                argv++;
                break;
            }
        }
    if (argc > 0 && !strncmp(argv[argc - 1], "--", 2)) { /* the value of the option before? */
        for (const tk_opt *o = set->opts; o && o->name; o++)
            if (!strcmp(o->name, argv[argc - 1] + 2) && o->type != TK_OPT_FLAG) {
                for (const char *c = o->type == TK_OPT_CHOICE ? o->choices : NULL; c && *c;) {
                    const char *bar = strchr(c, '|');
                    size_t len = bar ? (size_t)(bar - c) : strlen(c);
                    fprintf(out, "%.*s\n", (int)len, c);
                    c = bar ? bar + 1 : c + len;
                }
                return; /* nothing, or the choices: the shell completes a file name */
            }
    }
    if (set->subs && !sub_given)
        for (const tk_optset *const *sub = set->subs; *sub; sub++) {
            const char *name = strrchr((*sub)->cmd, ' ');
            fprintf(out, "%s\n", name ? name + 1 : (*sub)->cmd);
        }
    for (const tk_opt *o = set->opts; o && o->name; o++)
        fprintf(out, "--%s\n", o->name);
    fputs("--help\n", out);
}
