/* The index tuner: finds the workload's slow plans, proposes indexes, builds
 * each for real and keeps it only when a measurement proves it.
 *
 * Workload: the query registry (queries.h) and, optionally, the SELECTs of
 * a MariaDB slow query log (grouped by their normalised text). Each query
 * runs under ANALYZE FORMAT=JSON with realistic parameters; the plan gives
 * the server-side time (query_block.r_total_time_ms), rows examined
 * (sum over table accesses of r_rows x r_loops), full scans (access_type
 * ALL, or a full "index" scan, reading at least min_rows rows),
 * filesorts and temporary tables (when the query examines at least
 * min_rows rows: sorting a handful of rows costs nothing).
 *
 * Candidates come from parsing the SQL (not from hints): the equality
 * columns of the main table's WHERE conjuncts first, then its ORDER BY
 * columns, or else its first range column; trailing primary-key columns
 * are dropped (InnoDB appends the primary key to every secondary index).
 * A candidate that is a left prefix of an existing index, or whose
 * equality columns start with a whole UNIQUE index, is "served" and not
 * built. At most max_per_table candidates are built per table.
 *
 * Proof: a candidate is built (ALTER TABLE ADD INDEX) and the query timed
 * with it and with it IGNORED (MariaDB 10.6+ ALTER INDEX ... IGNORED),
 * alternating the order each round, on the same parameter sets; the
 * medians over rounds give before/after. It is kept when
 * 1 - after/before >= min_gain (and the plan with it uses it). Its write
 * cost is the median time (3 runs) of one multi-row INSERT of copies of
 * write_rows rows of the table (built client side from its first rows),
 * in a transaction rolled back, measured before the index exists and
 * after it is built (an IGNORED index is still maintained, so the
 * "without" side must be without it). Tables with a UNIQUE secondary key
 * are skipped (copies would collide). The rolled-back inserts consume
 * AUTO_INCREMENT values (gaps in ids), nothing else. A failed probe is
 * reported in write_cost.error and does not stop the run.
 *
 * Redundant indexes: a non-unique index whose columns are a left prefix of
 * another index of the same table. Unused indexes: non-unique secondary
 * indexes that no analysed plan uses; from information_schema
 * INDEX_STATISTICS when userstat is on, else from the plans ("source"
 * says which).
 *
 * Results are a JSON object with "kind": "tune" (docs in tk_tune_run);
 * advice only by default: every index the tuner built is dropped again. */
#ifndef TICKETCTL_TUNE_H
#define TICKETCTL_TUNE_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include <mysql.h>

#include "ticketctl/progress.h"

#define TK_TUNE_MAX_COLS 8
#define TK_TUNE_NAME 64

/* ---- pure helpers (unit-tested) ---------------------------------------- */

/* What the tuner reads from one SELECT: its main table and the columns of
 * that table in WHERE conjuncts and ORDER BY (lower case, unqualified). */
typedef struct tk_sql_shape {
    char table[TK_TUNE_NAME];
    char alias[TK_TUNE_NAME];
    char eq[TK_TUNE_MAX_COLS][TK_TUNE_NAME];    /* col = const, col IN (...), col IS NULL */
    int neq;
    char range[TK_TUNE_MAX_COLS][TK_TUNE_NAME]; /* <, <=, >, >=, BETWEEN, LIKE 'prefix%' */
    int nrange;
    char order[TK_TUNE_MAX_COLS][TK_TUNE_NAME]; /* ORDER BY, only when every key is a main-table column */
    int norder;
} tk_sql_shape;

/* Parse sql (a SELECT with literals or '?' placeholders). Returns 0, or -1
 * when it is not a SELECT or has no FROM table. Conjuncts with OR, a
 * function of the column, or another table's column are ignored. */
int tk_sql_shape_parse(const char *sql, tk_sql_shape *out);

/* The table an alias of `sql`'s FROM or JOIN clauses names ("s" in
 * "FROM seats s"), written to `table` (cap bytes, NUL-terminated). When the
 * alias is not found, `table` is the alias itself. Never fails; `sql` is only
 * read. */
void tk_sql_alias_table(const char *sql, const char *alias, char *table, size_t cap);

/* The candidate index of a shape: equality columns, then ORDER BY columns
 * (or else the first range column), trailing pk columns dropped, at most
 * TK_TUNE_MAX_COLS. pk may be NULL. Returns the column count (0: none). */
int tk_tune_candidate(const tk_sql_shape *s, const char *pk, char cols[][TK_TUNE_NAME]);

/* An index as the tuner sees it. */
typedef struct tk_index {
    char table[TK_TUNE_NAME];
    char name[TK_TUNE_NAME];
    char cols[TK_TUNE_MAX_COLS][TK_TUNE_NAME];
    int ncols;
    int unique;  /* UNIQUE or PRIMARY */
    int primary;
} tk_index;

/* 1 when cols[0..n) is a left prefix of (or equal to) ix's columns. */
int tk_index_serves(const tk_index *ix, char cols[][TK_TUNE_NAME], int n);

/* Index i of ix[0..n) is redundant: non-unique and a left prefix of another
 * index of the same table (exact duplicates: the later name is the
 * redundant one). Returns the covering index's position, or -1. */
int tk_index_redundant(const tk_index *ix, size_t n, size_t i);

/* What a plan (ANALYZE FORMAT=JSON text) says. */
typedef struct tk_plan {
    double ms;             /* query_block.r_total_time_ms (server side), -1 if absent */
    double rows_examined;  /* sum of r_rows x r_loops over table accesses */
    int full_scan;         /* an access_type ALL or index */
    char full_scan_table[TK_TUNE_NAME];
    double full_scan_rows; /* rows examined by the largest full scan */
    int filesort;
    int temporary;
    char keys[8][2 * TK_TUNE_NAME + 2]; /* "table.key" of each access using an index (table as named
                                         * in the plan: the alias when the query gives one) */
    int nkeys;
    char access[16];      /* access_type of the first table */
} tk_plan;

/* Parse ANALYZE FORMAT=JSON output. Returns 0, or -1 when it is not JSON
 * with a query_block. */
int tk_plan_parse(const char *json, tk_plan *out);

/* One query group of a slow query log. */
typedef struct tk_slowq {
    char *normalized; /* literals replaced by ?, whitespace collapsed; owned */
    char *example;    /* the first statement seen, literals kept; owned */
    long count;
    double total_s;   /* sum of Query_time */
    double max_s;
    long rows_examined_max;
} tk_slowq;

/* Parse a MariaDB/MySQL slow query log (the "# Time:", "# User@Host:",
 * "# Query_time: ... Rows_examined: N" header lines, then "use db;",
 * "SET timestamp=N;" and the statement up to the next header). Statements
 * are grouped by normalised text, in first-seen order. *out (caller frees
 * with tk_slowlog_free) gets *n groups. Returns 0, or TK_ENOMEM. */
int tk_slowlog_parse(const char *text, size_t len, tk_slowq **out, size_t *n);
void tk_slowlog_free(tk_slowq *q, size_t n);

/* Normalise one statement into a malloc'd string (caller frees): string
 * and number literals become ?, IN (?, ?, ...) becomes IN (?+), runs of
 * whitespace one space, keywords left as written, trailing ';' dropped. */
char *tk_sql_normalize(const char *sql);

/* ---- the run ------------------------------------------------------------- */

typedef struct tk_tune_opts {
    const char *only;        /* registry query name, or NULL for all */
    const char *slow_log;    /* slow query log path, or NULL */
    int no_registry;         /* only the slow log's queries */
    int samples;             /* parameter sets per query (default 5) */
    int repeats;             /* timing rounds per state (default 7) */
    double min_gain;         /* keep when 1 - after/before >= this (default 0.5) */
    long min_rows;           /* findings need this many rows examined (default 1000) */
    int max_per_table;       /* candidates built per table (default 3) */
    int write_rows;          /* rows per write-cost batch (default 2000; 0 = skip) */
    int apply;               /* keep the winners */
    int drop_redundant;      /* with apply: drop the redundant indexes */
    unsigned long long seed; /* parameter generator seed */
    tk_progress *progress;   /* may be NULL */
} tk_tune_opts;

/* Defaults as documented above. */
void tk_tune_opts_default(tk_tune_opts *o);

/* Run the tuner on db (the schema of the connection). *out gets a new
 * results object (caller json_decref's):
 *   {"kind":"tune", "config":{...}, "server":{"version", "userstat"},
 *    "queries":[{"name","origin","sql","table","findings":[...],
 *                "before":{"ms","rows_examined","access","keys":[...]},
 *                "candidate":{"table","columns":[...],"index","ddl","status",
 *                   "reason","before_ms","after_ms","ratio","gain",
 *                   "rows_before","rows_after","build_ms",
 *                   "write_cost":{"rows","insert_ms_without","insert_ms_with","ratio"}} or null}],
 *    "proposed":[{"table","index","columns","ddl","gain","query"}],
 *    "redundant":[{"table","index","columns","covered_by","ddl"}],
 *    "unused":[{"table","index","columns"}], "unused_source":"plans"|"userstat",
 *    "applied":bool}
 * status is one of kept, rejected (gain below min_gain), served (an existing
 * index serves it), no_issue (the plan had no finding), same (another
 * query's candidate), limit (max_per_table reached), error.
 * Returns 0, or -1 with a message in err (indexes built so far are dropped
 * unless kept by apply). */
int tk_tune_run(MYSQL *db, const tk_tune_opts *o, json_t **out, char *err /* OUT */, size_t errlen);

/* Latency of registry queries as the server sees it (client wall time of
 * query + fetch, fresh realistic parameters each execution; rendering not
 * timed). only = one query name or NULL for every registry query. *out:
 * {"kind":"tune-measure","n":N,"queries":[{"name","p50_ms","p99_ms","max_ms","mean_ms","n"}]}.
 * Returns 0, or -1 with a message in err. */
int tk_tune_measure(MYSQL *db, const char *only, int n, unsigned long long seed, tk_progress *progress,
                    json_t **out, char *err /* OUT */, size_t errlen);

/* Text rendering of a tk_tune_run / tk_tune_measure result to f. */
void tk_tune_print(const json_t *result, FILE *f);

#endif
