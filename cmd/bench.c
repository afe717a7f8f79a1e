/* PLACEHOLDER: replaced by the real command in this session. */
#include "commands.h"
#include <stdio.h>
int cmd_bench(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "%s: not built yet\n", argv[0]);
    return 1;
}
