/* ticketctl openapi: print the API's OpenAPI document (server/openapi.c),
 * the one served at /api/v1/openapi.json, pretty-printed; docs/openapi.json
 * is this output (`ticketctl openapi > docs/openapi.json`). */
#include "commands.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

int cmd_openapi(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: ticketctl openapi\n\nPrint the reservation API's OpenAPI 3.0.3 document (the one served at\n"
             "/api/v1/openapi.json), made from the route table; docs/openapi.json is this output.");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "ticketctl openapi: unexpected argument '%s' (try --help)\n", argv[1]);
        return 2;
    }
    json_t *doc = tk_openapi_document();
    if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0) {
        json_decref(doc);
        fputs("ticketctl openapi: cannot render the document\n", stderr);
        return 1;
    }
    putchar('\n');
    json_decref(doc);
    return 0;
}
