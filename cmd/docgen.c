/* Everything derived from the command table: shell completions
 * (`completion bash|zsh`, and `completion --words` that they call) and the
 * man page (`man`). A command with an option table (opt.h) is described
 * from the table, the same one its --help and its parser use; for the
 * others the --help text is captured by running it in a forked child. Either
 * way the completion words and the manual cannot drift from --help. */
#include "commands.h"
#include "opt.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ticketctl/buildinfo.h"

#define HELP_MAX (256 * 1024)

/* The --help text of `ticketctl <name> [sub]` (malloc'd, caller frees), or
 * NULL. Runs the command's entry in a child with stdout on a pipe. */
static char *capture_help(const tk_command *c, const char *sub)
{
    int p[2];
    if (pipe(p) != 0)
        return NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], STDOUT_FILENO);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDERR_FILENO); /* some commands print their usage on stderr: keep only stdout's */
        char *argv[4] = {(char *)c->name, sub ? (char *)sub : "--help", sub ? "--help" : NULL, NULL};
        int rc = c->fn(sub ? 3 : 2, argv);
        fflush(stdout);
        _exit(rc & 0xff);
    }
    close(p[1]);
    char *buf = malloc(HELP_MAX + 1);
    size_t n = 0;
    ssize_t k;
    while (buf && n < HELP_MAX && (k = read(p[0], buf + n, HELP_MAX - n)) > 0)
        n += (size_t)k;
    close(p[0]);
    waitpid(pid, NULL, 0);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static const tk_command *find(const char *name)
{
    size_t n;
    const tk_command *t = tk_commands(&n);
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    return NULL;
}

/* Print each distinct word once. */
typedef struct wordset {
    char w[256][40];
    int n;
} wordset;

static void add_word(wordset *s, const char *w, size_t len)
{
    if (len == 0 || len >= sizeof s->w[0] || s->n >= 256)
        return;
    for (int i = 0; i < s->n; i++)
        if (strlen(s->w[i]) == len && !strncmp(s->w[i], w, len))
            return;
    memcpy(s->w[s->n], w, len);
    s->w[s->n++][len] = '\0';
}

/* Subcommands from the usage lines ("ticketctl dev <up|down|...>",
 * "ticketctl scenario run FILE") and every long option ("--threads"). */
static void help_words(const char *help, const char *cmd, int want_subs, wordset *out)
{
    char lead[64];
    snprintf(lead, sizeof lead, "ticketctl %s ", cmd);
    for (const char *line = help; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *u = strstr(line, lead);
        if (want_subs && u && u < line + len && (!strncmp(line, "usage:", 6) || isspace((unsigned char)line[0]))) {
            const char *w = u + strlen(lead);
            if (*w == '<') { /* <a|b|c> */
                const char *close = memchr(w, '>', (size_t)(line + len - w));
                for (const char *s = w + 1; close && s < close;) {
                    const char *bar = memchr(s, '|', (size_t)(close - s));
                    const char *e = bar ? bar : close;
                    add_word(out, s, (size_t)(e - s));
                    s = e + 1;
                }
            } else if (islower((unsigned char)*w)) {
                size_t k = 0;
                while (w + k < line + len && (islower((unsigned char)w[k]) || w[k] == '-'))
                    k++;
                add_word(out, w, k);
            }
        }
        for (const char *s = line; s + 2 < line + len; s++)
            if (s[0] == '-' && s[1] == '-' && islower((unsigned char)s[2]) && (s == line || !isalnum((unsigned char)s[-1]))) {
                size_t k = 2;
                while (s + k < line + len && (islower((unsigned char)s[k]) || isdigit((unsigned char)s[k]) || s[k] == '-'))
                    k++;
                add_word(out, s, k);
                s += k - 1;
            }
        line = end ? end + 1 : NULL;
    }
}

/* completion --words [CMD [SUB ...]]: what may come next, one per line. */
static int print_words(int argc, char **argv)
{
    wordset ws = {.n = 0};
    if (argc == 0) {
        size_t n;
        const tk_command *t = tk_commands(&n);
        for (size_t i = 0; i < n; i++)
            add_word(&ws, t[i].name, strlen(t[i].name));
        add_word(&ws, "--help", 6);
    } else {
        const tk_command *c = find(argv[0]);
        if (!c)
            return 0;
        if (c->opts) { /* from its option table */
            tk_opt_words(c->opts, argc - 1, argv + 1, stdout);
            return 0;
        }
        int have_sub = argc > 1 && argv[1][0] != '-';
        char *help = capture_help(c, have_sub ? argv[1] : NULL);
        if (help)
            help_words(help, c->name, !have_sub, &ws);
        free(help);
    }
    for (int i = 0; i < ws.n; i++)
        puts(ws.w[i]);
    return 0;
}

static const char bash_script[] =
    "# bash completion for ticketctl (ticketctl completion bash)\n"
    "_ticketctl() {\n"
    "  local cur=${COMP_WORDS[COMP_CWORD]}\n"
    "  local words\n"
    "  words=$(ticketctl completion --words \"${COMP_WORDS[@]:1:COMP_CWORD-1}\" 2>/dev/null)\n"
    "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
    "  if [ ${#COMPREPLY[@]} -eq 0 ] && [[ $cur != -* ]]; then COMPREPLY=($(compgen -f -- \"$cur\")); fi\n"
    "}\n"
    "complete -o filenames -F _ticketctl ticketctl\n";

static const char zsh_script[] =
    "#compdef ticketctl\n"
    "# zsh completion for ticketctl (ticketctl completion zsh)\n"
    "_ticketctl() {\n"
    "  local -a w\n"
    "  w=(${(f)\"$(ticketctl completion --words ${words[2,CURRENT-1]} 2>/dev/null)\"})\n"
    "  compadd -a w\n"
    "  [[ $PREFIX == -* ]] || _files\n"
    "}\n"
    "_ticketctl \"$@\"\n";

enum { OPT_WORDS = 256 };

static const tk_opt completion_rows[] = {
    {.id = OPT_WORDS, .name = "words", .type = TK_OPT_FLAG,
     .help = "print what may follow COMMAND [SUBCOMMAND] ..., one per line\n(the scripts call it)"},
    TK_OPT_ROW_END,
};

const tk_optset tk_optset_completion = {
    .cmd = "completion",
    .synopsis = "completion bash|zsh\ncompletion --words [COMMAND [SUBCOMMAND ...]]",
    .about = "Print a completion script for the shell. Install it with\n"
             "  ticketctl completion bash > /etc/bash_completion.d/ticketctl\n"
             "  ticketctl completion zsh > \"${fpath[1]}/_ticketctl\"\n"
             "or `source <(ticketctl completion bash)` for this shell only. The script asks\n"
             "`ticketctl completion --words` what may follow: a command's option table, or\n"
             "the words of its --help.",
    .opts = completion_rows,
};

int cmd_completion(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--words")) /* the words after it are the line so far, not options */
        return print_words(argc - 2, argv + 2);
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, &tk_optset_completion, argc, argv, &v)) > 0)
        ;
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (argc - optind != 1)
        return tk_opt_error(&tk_optset_completion, "which shell: bash or zsh?");
    if (!strcmp(argv[optind], "bash")) {
        fputs(bash_script, stdout);
        return 0;
    }
    if (!strcmp(argv[optind], "zsh")) {
        fputs(zsh_script, stdout);
        return 0;
    }
    return tk_opt_error(&tk_optset_completion, "no completion for '%s' (bash or zsh)", argv[optind]);
}

/* Help text as a troff no-fill block: backslashes escaped, control
 * characters at a line start neutralised (groff_man(7)). */
static void troff_block(FILE *f, const char *s)
{
    fputs(".nf\n", f);
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", f);
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
        bol = *s == '\n';
    }
    if (!bol)
        fputc('\n', f);
    fputs(".fi\n", f);
}

const tk_optset tk_optset_man = {
    .cmd = "man",
    .synopsis = "man > ticketctl.1",
    .about = "Print the manual page (troff, section 1): the command list and every command's\n"
             "options, from its option table or its --help.",
    .opts = tk_opt_no_rows,
};

int cmd_man(int argc, char **argv)
{
    int rc = tk_opt_only(&tk_optset_man, argc, argv);
    if (rc >= 0)
        return rc;
    FILE *f = stdout;
    fprintf(f, ".TH TICKETCTL 1 \"\" \"ticketctl %s\" \"User Commands\"\n", tk_build_version());
    fputs(".SH NAME\nticketctl \\- run a ticket on-sale and prove that it holds\n"
          ".SH SYNOPSIS\n.B ticketctl\n.I command\n[\\fIoptions\\fR]\n"
          ".SH DESCRIPTION\n"
          "A reservation API (\\fBserve\\fR) on MariaDB and Redis with events to Kafka, and the harness that "
          "proves it holds: \\fBseed\\fR, \\fBbench\\fR, \\fBscenario\\fR, \\fBreport\\fR, \\fBtune\\fR, "
          "\\fBanomaly\\fR, \\fBnotify\\fR, and \\fBdev\\fR for a private local stack.\n",
          f);
    char *top = NULL;
    size_t toplen = 0;
    FILE *mem = open_memstream(&top, &toplen);
    if (mem) {
        tk_usage(mem);
        fclose(mem);
        troff_block(f, top);
        free(top);
    }
    fputs(".SH COMMANDS\n", f);
    size_t n;
    const tk_command *t = tk_commands(&n);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(t[i].name, "man"))
            continue;
        fprintf(f, ".SS %s\n%s.\n", t[i].name, t[i].summary);
        if (t[i].opts) { /* from its option table: a tagged paragraph per option */
            tk_opt_man(t[i].opts, f);
            continue;
        }
        char *help = capture_help(&t[i], NULL);
        if (help && *help)
            troff_block(f, help);
        free(help);
    }
    fputs(".SH ENVIRONMENT\n"
          ".TP\n.B TICKETCTL_STATE\nthe dev stack's state directory (default ./.ticketctl)\n"
          ".TP\n.B TICKETCTL_MYSQL\\fR, \\fBTICKETCTL_REDIS\\fR, \\fBTICKETCTL_KAFKA_BROKERS\n"
          "backends; with none, the dev stack is used and started if needed\n"
          ".SH EXIT STATUS\n0 done; 1 failure (or an invariant failed); 2 usage error; 3 a threshold failed.\n"
          ".SH SEE ALSO\nThe project's README.md, docs/API.md and docs/RESULTS.md.\n",
          f);
    return 0;
}
