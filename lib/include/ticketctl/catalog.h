/* The box office's reads (issue 16): keyword search over the concerts, a
 * concert's detail with its schedules, a user's own reservations page by
 * page. On the store's connection (tk_store_db); errors as the store's
 * (a tk_rc, the API code and message on the store). JSON results are new
 * references the caller json_decref()s. */
#ifndef TICKETCTL_CATALOG_H
#define TICKETCTL_CATALOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketctl/store.h"

/* Words of a keyword that count: at most this many. */
#define TK_CATALOG_WORDS_MAX 8
/* Bytes of a word, NUL included (concert_words.word is VARCHAR(50)). */
#define TK_CATALOG_WORD_LEN 51
/* A keyword word that is the prefix of more indexed words than this is
 * matched by LIKE 'w%' on the word index instead of a list of words. */
#define TK_CATALOG_EXPAND_MAX 64
/* The search's total is exact up to this many matches; beyond it the answer
 * says total = this cap and "total_relation": "gte" (Elasticsearch's
 * track_total_hits; chosen by measurement at 2M concerts, docs/API.md). */
#define TK_CATALOG_TOTAL_CAP 100
/* page x size of a search is at most this (Elasticsearch's max_result_window). */
#define TK_CATALOG_RESULT_WINDOW 10000

/* The words of text as the search index keeps them, into words[0..max):
 * split on every byte that is not an ASCII letter or digit or part of a
 * UTF-8 character, ASCII lower-cased, cut to TK_CATALOG_WORD_LEN - 1 bytes
 * on a character boundary, each distinct word once, in order. Used for a
 * concert's title and venue (seed, admin) and for a keyword. Returns the
 * count (0 for NULL or no word). */
size_t tk_catalog_words(const char *text, char (*words)[TK_CATALOG_WORD_LEN], size_t max);

/* The statements of one search page (see tk_catalog_search_sql). */
typedef struct tk_catalog_search_plan {
    char page_sql[16384];  /* the page; "" when nothing can match */
    char count_sql[16384]; /* COUNT(*) of up to TK_CATALOG_TOTAL_CAP + 1 matches; "" when known_total >= 0 */
    long long known_total; /* the exact total when known without count_sql (no match; a one-word keyword), else -1 */
} tk_catalog_search_plan;

/* Plan a keyword search (one round trip on db: each keyword word's
 * expansions in search_terms). Every keyword word (tk_catalog_words) must
 * be the prefix of a word of the concert's title or venue, in any ASCII
 * case. The page walks ix_concert_words_rank (word, bookable DESC,
 * next_show_at, concert_id) of the rarest keyword word in result order,
 * one walk per word it expands to (UNIONed), each stopping at page x size
 * rows, and checks every other keyword word inside the index row when all
 * the words it expands to have a bit (search_terms.bit: the concert_words
 * row's sig0/sig1 hold the bits of all its concert's words), else by a
 * (concert_id, word) primary-key lookup. Returns 0, -1 for a keyword with no word or too long
 * (err), -2 on a database error (err, the connection's error). */
int tk_catalog_search_sql(struct st_mysql *db, const char *keyword, int page, int size,
                          tk_catalog_search_plan *plan /* OUT */, char *err /* OUT */, size_t errlen);

/* Re-key one concert: CALL tk_concert_rekey (migration 15) recomputes its
 * bookable flag, next show and rekey_at from its schedules and copies them
 * to its concert_words rows, in the caller's transaction if one is open.
 * Returns 0, or -1 on a database error (err). */
int tk_catalog_rekey(struct st_mysql *db, uint64_t concert_id, char *err /* OUT */, size_t errlen);

/* Re-key up to limit concerts whose sort key time has moved (rekey_at <=
 * now: the next show started, or the sale opened) by CALL tk_concert_rekey
 * (migration 15). Returns how many, or -1 on a database error (err). */
int tk_catalog_rekey_due(struct st_mysql *db, int limit, char *err /* OUT */, size_t errlen);

/* Keyword search (tk_catalog_search_sql), page `page` (>= 1) of `size`
 * (1..100), page x size <= TK_CATALOG_RESULT_WINDOW: bookable concerts
 * first (the sale has opened and a future schedule has seats left), then
 * by their next show (none last), then by id:
 * {"items":[{id,title,venue,sale_opens_at,bookable,next_show_at}],"page","size","total",
 *  "total_relation":"eq"|"gte","keyword"}; total is exact ("eq") up to
 * TK_CATALOG_TOTAL_CAP, else it is the cap and "gte" (the count is skipped
 * when the page tells: a short page, or a full one past the cap). bookable and
 * next_show_at are the row's stored sort key (migration 15), re-keyed
 * here at most once a second per process when time moved it. TK_EINVAL
 * (VALIDATION) for a keyword with no word or a page past the window. */
tk_rc tk_catalog_search(tk_store *s, const char *keyword, int page, int size, json_t **out /* OUT */);

/* A concert and all its schedules, each with its seats left:
 * {id,title,venue,sale_opens_at,"schedules":[{id,starts_at,total_seats,available_seats,on_sale}]}
 * (on_sale: the show is in the future). TK_ENOTFOUND. */
tk_rc tk_catalog_concert_detail(tk_store *s, uint64_t concert_id, json_t **out /* OUT */);

/* The user's reservations, newest first, page `page` of `size`, only those
 * in `status` (PENDING, CONFIRMED, CANCELED, EXPIRED; NULL: all):
 * {"items":[reservation],"page","size","total"}. TK_EINVAL for another status. */
tk_rc tk_catalog_reservations_of(tk_store *s, uint64_t user_id, const char *status, int page, int size,
                                 json_t **out /* OUT */);

#endif
