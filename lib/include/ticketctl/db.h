/* MariaDB connections and versioned schema migrations. */
#ifndef TICKETCTL_DB_H
#define TICKETCTL_DB_H

#include <stddef.h>
#include <mysql.h>

/* Open a blocking connection to a mysql:// URL (see backend.h), utf8mb4,
 * autocommit on, LOCAL INFILE allowed, READ COMMITTED isolation.
 * Returns a handle the caller closes with mysql_close(), or NULL with a
 * message in err. */
MYSQL *tk_db_connect(const char *url, char *err /* OUT */, size_t errlen);

/* Run one statement, discarding any result. Returns 0, or -1 with
 * mysql_error() copied into err. */
int tk_db_exec(MYSQL *db, const char *sql, char *err /* OUT */, size_t errlen);

/* Run a query returning one integer (first column of the first row).
 * Returns 0 and stores it, 1 if there was no row, -1 on error. */
int tk_db_query_i64(MYSQL *db, const char *sql, long long *out, char *err /* OUT */, size_t errlen);

/* Apply every migration newer than the schema_migrations table records, in
 * order, each recorded once; running it again is a no-op. Takes a named
 * lock (GET_LOCK) so concurrent callers do not race. Returns the number of
 * migrations applied (>= 0), or -1 with a message in err. */
int tk_db_migrate(MYSQL *db, char *err /* OUT */, size_t errlen);

/* Highest migration version this binary knows. */
int tk_db_schema_version(void);

#endif
