/* ticketctl version: what this binary is (lib/buildinfo.c). */
#include "commands.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ticketctl/buildinfo.h"

int cmd_version(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: ticketctl version [--json]\n\nThe version, the git commit it was configured from, the "
                 "build type, the compiler,\nand each library's version at build time and at run time.\n\n"
                 "      --json   one JSON object instead of lines");
            return 0;
        } else {
            fprintf(stderr, "ticketctl version: unknown option '%s' (try --json)\n", argv[i]);
            return 2;
        }
    }
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
