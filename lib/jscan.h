/* A bounded, allocation-free scanner for the list answers of the booking
 * flow (concerts, schedules, seats): {"items":[{"id":1,...},...],"total":N}.
 * Internal to the load engines (not a public API).
 *
 * Why not jansson there: perf of `bench` over the flow (50 VUs, no think
 * time) put 29 % of the generator's CPU in libjansson and most of the 32 %
 * in malloc/free under it - building a tree of ~1,000 nodes per 12 KB seats
 * answer to read one id. This reads the numbers it is asked for in one pass
 * and builds nothing; jansson stays for everything else.
 *
 * Grammar: RFC 8259 JSON, validated as it is skipped (strings with escapes,
 * numbers, true/false/null, nesting up to TK_JSCAN_MAX_DEPTH); what the
 * caller asks for must be at the top level of the document or of an element
 * of the array. */
#ifndef TICKETCTL_JSCAN_H
#define TICKETCTL_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#define TK_JSCAN_ABSENT INT64_MIN /* key missing, or its value not an integer */
#define TK_JSCAN_MAX_KEYS 8
#define TK_JSCAN_MAX_DEPTH 64

/* Called for each element of the array that is an object: vals[i] is the
 * integer value of its top-level member keys[i], or TK_JSCAN_ABSENT. */
typedef void (*tk_jscan_fn)(void *ud, const int64_t *vals);

/* Scan the JSON object text s[0..n). For every object element of its
 * top-level array member `array_key` call fn (may be NULL) with the members
 * keys[0..nkeys) (nkeys <= TK_JSCAN_MAX_KEYS). When top_key is not NULL,
 * *top_val gets the integer value of that top-level member (or
 * TK_JSCAN_ABSENT). Keys are compared byte for byte with the raw member
 * names (a name written with escapes never matches). A member that appears
 * twice: the last one wins (an array member twice: fn runs for both). Returns the number of elements of the array,
 * or -1 when the text is not one valid JSON object, is nested deeper than
 * TK_JSCAN_MAX_DEPTH, or has no array member `array_key`. */
int tk_jscan_items(const char *s, size_t n, const char *array_key, const char *const *keys, size_t nkeys,
                   tk_jscan_fn fn, void *ud, const char *top_key, int64_t *top_val);

#endif
