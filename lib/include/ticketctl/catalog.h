/* The box office's reads (issue 16): keyword search over the concerts, a
 * concert's detail with its schedules, a user's own reservations page by
 * page. On the store's connection (tk_store_db); errors as the store's
 * (a tk_rc, the API code and message on the store). JSON results are new
 * references the caller json_decref()s. */
#ifndef TICKETCTL_CATALOG_H
#define TICKETCTL_CATALOG_H

#include <jansson.h>
#include <stddef.h>

#include "ticketctl/store.h"

/* Words of a keyword that count: at most this many, each at most 50 bytes. */
#define TK_CATALOG_WORDS_MAX 8

/* The WHERE condition of a keyword search (on `concerts c`), into out:
 * the keyword is split on whitespace; every word must match in the title
 * or the venue, case-insensitively (the columns' utf8mb4 collation). A
 * word of 3 or more letters/digits (InnoDB's innodb_ft_min_token_size) that
 * is not an InnoDB stopword becomes a `+word*` term of one FULLTEXT
 * MATCH(title, venue) ... IN BOOLEAN MODE (the index of migration 12: a
 * word matches the start of a word there); any other word is a substring
 * filter (title LIKE %w% OR venue LIKE %w%), which cannot use the index,
 * so a keyword of only such words scans the table. Punctuation inside a
 * word splits it. Returns the number of FULLTEXT terms (>= 0), or -1 when
 * the keyword has no word or out is too short. */
int tk_catalog_search_where(struct st_mysql *db, const char *keyword, char *out, size_t len);

/* Keyword search, page `page` (>= 1) of `size` (1..100): bookable concerts
 * first (the sale has opened and a future schedule has seats left), then
 * by their next show (none last), then by id:
 * {"items":[{id,title,venue,sale_opens_at,bookable,next_show_at}],"page","size","total","keyword"}.
 * TK_EINVAL (VALIDATION) for a keyword with no word. SQL: TK_SQL_CONCERTS_SEARCH
 * (queries.h, tuned as "concerts.search"). */
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
