/* ticketctl migrate: bring the MariaDB schema up to this binary's version. */
#include "commands.h"
#include "ticketctl/db.h"
#include "ticketctl/devstack.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: ticketctl migrate [--mysql URL] [--state DIR]\n\n"
                 "Apply every schema migration newer than the database records (safe to rerun).\n\n"
                 "options:\n"
                 "  --mysql URL  mysql://user:pass@host:port/db (default $TICKETCTL_MYSQL,\n"
                 "               else the dev stack, started if needed)\n"
                 "  --state DIR  dev stack state dir (default $TICKETCTL_STATE or ./.ticketctl)\n"
                 "  -h, --help   this text\n");
}

int cmd_migrate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"mysql", required_argument, NULL, 'm'},
        {"state", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *mysql = NULL, *state = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': mysql = optarg; break;
        case 's': state = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ticketctl migrate: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    char err[1024];
    tk_backend b;
    if (tk_backend_resolve_some(&b, TK_NEED_MYSQL, mysql, NULL, NULL, state, 1, err, sizeof err) != 0) {
        fprintf(stderr, "migrate: %s\n", err);
        return 1;
    }
    MYSQL *db = tk_db_connect(b.mysql, err, sizeof err);
    if (!db) {
        fprintf(stderr, "migrate: %s\n", err);
        return 1;
    }
    int applied = tk_db_migrate(db, err, sizeof err);
    long long version = 0;
    char e2[512];
    int rc = 0;
    if (applied < 0) {
        fprintf(stderr, "migrate: %s\n", err);
        rc = 1;
    } else if (tk_db_query_i64(db, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", &version, e2,
                               sizeof e2) < 0) {
        fprintf(stderr, "migrate: cannot read the schema version: %s\n", e2);
        rc = 1;
    } else {
        printf("schema at version %lld (applied %d)\n", version, applied);
    }
    mysql_close(db);
    return rc;
}
