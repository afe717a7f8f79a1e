/* Everything derived from the command table: shell completions
 * (`completion bash|zsh`, and `completion --words` that they call) and the
 * man page (`man`). Every command has an option table (opt.h), the same one
 * its --help and its parser use, so the completion words and the manual
 * cannot drift from --help. */
#include "commands.h"
#include "opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/buildinfo.h"

static const tk_command *find(const char *name)
{
    size_t n;
    const tk_command *t = tk_commands(&n);
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    return NULL;
}

/* completion --words [CMD [SUB ...]]: what may come next, one per line. */
static int print_words(int argc, char **argv)
{
    if (argc == 0) {
        size_t n;
        const tk_command *t = tk_commands(&n);
        for (size_t i = 0; i < n; i++)
            puts(t[i].name);
        puts("--help");
        return 0;
    }
    const tk_command *c = find(argv[0]);
    if (c) /* from its option table */
        tk_opt_words(c->opts, argc - 1, argv + 1, stdout);
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
             "`ticketctl completion --words` what may follow, from the command's option table.",
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
             "options, from its option table.",
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
        tk_opt_man(t[i].opts, f); /* from its option table: a tagged paragraph per option */
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
