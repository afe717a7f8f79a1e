/* ticketctl version: what this binary is (lib/buildinfo.c). */
#include "commands.h"
#include "opt.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ticketctl/buildinfo.h"

enum { OPT_JSON = 256 };

static const tk_opt version_rows[] = {
    {.id = OPT_JSON, .name = "json", .type = TK_OPT_FLAG, .help = "one JSON object instead of lines"},
    TK_OPT_ROW_END,
};

const tk_optset tk_optset_version = {
    .cmd = "version",
    .synopsis = "version [--json]",
    .about = "The version, the git commit it was configured from, the build type, the compiler,\n"
             "and each library's version at build time and at run time.",
    .opts = version_rows,
};

int cmd_version(int argc, char **argv)
{
    int json = 0, c;
    tk_optparse p = {0};
    tk_optval v;
    while ((c = tk_opt_next(&p, &tk_optset_version, argc, argv, &v)) > 0)
        if (c == OPT_JSON)
            json = 1;
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind != argc)
        return tk_opt_error(&tk_optset_version, "unexpected argument '%s'", argv[optind]);
    if (!json) {
        tk_build_print(stdout);
        return 0;
    }
    json_t *j = tk_build_json();
    if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) != 0) {
        json_decref(j);
        fputs("ticketctl version: out of memory\n", stderr);
        return 1;
    }
    putchar('\n');
    json_decref(j);
    return 0;
}
