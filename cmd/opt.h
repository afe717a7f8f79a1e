/* Option tables: one row per flag (long name, short name, argument name,
 * help text, value type and range) from which the getopt_long array, the
 * --help text, the man page and the shell completions (docgen.c) are all
 * made, and whose values are checked before the command sees them. A bad
 * flag gets one line that names it, and a hint:
 *   ticketctl seed: --users: "abc" is not a whole number (try --help)
 * never the whole usage. */
#ifndef TICKETCTL_OPT_H
#define TICKETCTL_OPT_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

typedef enum tk_opt_type {
    TK_OPT_FLAG,     /* no argument */
    TK_OPT_STR,      /* any string (a path, a URL, a name) */
    TK_OPT_INT,      /* a whole number in [min, max] -> v.i */
    TK_OPT_REAL,     /* a real number in (lo, hi] when lo_open, else [lo, hi] -> v.d */
    TK_OPT_DURATION, /* "250ms", "10s", "5m" (tk_parse_duration_ms), at least min ms -> v.i in ms */
    TK_OPT_CHOICE,   /* one of choices, "auto|load|insert" -> v.i its index */
} tk_opt_type;

typedef struct tk_opt {
    int id;           /* what tk_opt_next returns: a short letter, or a value >= 256 */
    const char *name; /* long name without the dashes: "out-dir" */
    char short_name;  /* 'o', or 0 */
    tk_opt_type type;
    const char *arg;  /* the argument's name in help, "DIR" (NULL for a flag; CHOICE: its choices) */
    const char *help; /* one line or several, '\n' between them */
    int64_t min, max; /* TK_OPT_INT bounds; TK_OPT_DURATION: min in ms */
    double lo, hi;    /* TK_OPT_REAL bounds */
    int lo_open;      /* TK_OPT_REAL: lo itself is refused */
    const char *choices; /* TK_OPT_CHOICE: "a|b|c" */
    const char *group;   /* a heading printed before this row in --help ("measurement:"), or NULL */
} tk_opt;

/* One command's (or subcommand's) table: what --help, the man page and the
 * completions say, and what the parser accepts. -h/--help is implied. */
typedef struct tk_optset {
    const char *cmd;      /* "report", "scenario run" */
    const char *synopsis; /* usage lines without "usage: ticketctl ", '\n' between them */
    const char *about;    /* what it does (paragraphs, '\n'), or NULL */
    const tk_opt *opts;   /* ends with a row whose name is NULL */
    const char *epilog;   /* printed after the options, or NULL */
    const struct tk_optset *const *subs; /* subcommands' tables, NULL-terminated, or NULL */
} tk_optset;

typedef struct tk_optval {
    const char *str; /* the argument as given (NULL for a flag) */
    int64_t i;       /* INT; DURATION in ms; CHOICE index */
    double d;        /* REAL */
} tk_optval;

/* The parser's state; zero it (or tk_opt_init) before the first call. */
typedef struct tk_optparse {
    const tk_optset *set;
    struct option longopts[64];
    char shortopts[160];
    int ready;
} tk_optparse;

enum {
    TK_OPT_END = -1,   /* no more options: operands start at optind */
    TK_OPT_HELP = -2,  /* --help was printed on stdout: exit 0 */
    TK_OPT_ERROR = -3, /* the one-line error was printed on stderr: exit 2 */
};

/* Parse the next option of argv (getopt_long underneath, so optind is the
 * index of the first operand at TK_OPT_END). Returns the row's id with *v
 * filled and checked, or TK_OPT_END, TK_OPT_HELP or TK_OPT_ERROR. */
int tk_opt_next(tk_optparse *p, const tk_optset *set, int argc, char **argv, tk_optval *v /* OUT */);

/* The exit code for a TK_OPT_HELP or TK_OPT_ERROR return: 0 or 2. */
int tk_opt_exit(int rc);

/* Print "ticketctl CMD: MESSAGE (try --help)" on stderr; returns 2, the
 * usage-error exit code, so `return tk_opt_error(...)` reads well. */
int tk_opt_error(const tk_optset *set, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For a command without options or operands: parse argv (--help, or an
 * error for anything else). Returns -1 when the command should run, else
 * its exit code (0 after --help, 2 after the one-line error). */
int tk_opt_only(const tk_optset *set, int argc, char **argv);

/* An empty option table, for such commands. */
extern const tk_opt tk_opt_no_rows[];

/* The --help text: usage lines, about, the option rows, the epilog. */
void tk_opt_help(const tk_optset *set, FILE *out);

/* The man page section of set and its subcommands (troff, groff_man(7)). */
void tk_opt_man(const tk_optset *set, FILE *out);

/* The words that may follow `ticketctl CMD [SUB] ... prev`: the choices of
 * prev when it is a CHOICE option, else subcommand names (when no
 * subcommand was given yet) and the long options; one per line. */
void tk_opt_words(const tk_optset *set, int argc, char **argv, FILE *out);

/* Backend rows shared by the commands that open connections. */
#define TK_OPT_ROW_MYSQL(ID)                                                                                    \
    {.id = (ID), .name = "mysql", .type = TK_OPT_STR, .arg = "URL",                                             \
     .help = "MariaDB, mysql://user:pass@host:port/db (default\n$TICKETCTL_MYSQL, else the dev stack, "      \
             "started\nif needed)"}
#define TK_OPT_ROW_REDIS(ID)                                                                                    \
    {.id = (ID), .name = "redis", .type = TK_OPT_STR, .arg = "URL",                                             \
     .help = "Redis, redis://[user:pass@]host:port[/db] (default\n$TICKETCTL_REDIS, else the dev stack)"}
#define TK_OPT_ROW_KAFKA(ID)                                                                                    \
    {.id = (ID), .name = "kafka-brokers", .type = TK_OPT_STR, .arg = "LIST",                                    \
     .help = "Kafka brokers host:port,... (default\n$TICKETCTL_KAFKA_BROKERS, else the dev stack)"}
#define TK_OPT_ROW_STATE(ID)                                                                                    \
    {.id = (ID), .name = "state", .type = TK_OPT_STR, .arg = "DIR",                                             \
     .help = "the dev stack's state dir (default $TICKETCTL_STATE,\nelse ./.ticketctl)"}
#define TK_OPT_ROW_END {.name = NULL}

#endif
