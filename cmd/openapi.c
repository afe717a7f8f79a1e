/* ticketctl openapi: print the API's OpenAPI document (server/openapi.c),
 * the one served at /api/v1/openapi.json, pretty-printed; docs/openapi.json
 * is this output (`ticketctl openapi > docs/openapi.json`). */
#include "commands.h"
#include "opt.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

const tk_optset tk_optset_openapi = {
    .cmd = "openapi",
    .synopsis = "openapi > docs/openapi.json",
    .about = "Print the reservation API's OpenAPI 3.0.3 document (the one served at\n"
             "/api/v1/openapi.json), made from the route table; docs/openapi.json is this output.",
    .opts = tk_opt_no_rows,
};

int cmd_openapi(int argc, char **argv)
{
    int rc = tk_opt_only(&tk_optset_openapi, argc, argv);
    if (rc >= 0)
        return rc;
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
