/* ticketctl migrate: bring the MariaDB schema up to this binary's version. */
#include "commands.h"
#include "opt.h"
#include "ticketctl/db.h"
#include "ticketctl/devstack.h"

#include <stdio.h>

enum { OPT_MYSQL = 256, OPT_STATE };

static const tk_opt migrate_rows[] = {
    TK_OPT_ROW_MYSQL(OPT_MYSQL),
    TK_OPT_ROW_STATE(OPT_STATE),
    TK_OPT_ROW_END,
};

const tk_optset tk_optset_migrate = {
    .cmd = "migrate",
    .synopsis = "migrate [--mysql URL] [--state DIR]",
    .about = "Apply every schema migration newer than the database records (safe to rerun).",
    .opts = migrate_rows,
};

int cmd_migrate(int argc, char **argv)
{
    const char *mysql = NULL, *state = NULL;
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, &tk_optset_migrate, argc, argv, &v)) > 0) {
        switch (c) {
        case OPT_MYSQL: mysql = v.str; break;
        case OPT_STATE: state = v.str; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind != argc)
        return tk_opt_error(&tk_optset_migrate, "unexpected argument '%s'", argv[optind]);
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
