/* Passwords (libsodium argon2id) and access tokens (JWT HS256 via libjwt). */
#ifndef TICKETCTL_AUTH_H
#define TICKETCTL_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "ticketctl/common.h"

/* Size of an encoded argon2id hash string, NUL included (crypto_pwhash_STRBYTES). */
#define TK_PW_HASH_MAX 128

/* Call once before any other function here (wraps sodium_init()). Returns 0 or -1. */
int tk_auth_init(void);

/* Hash a password with argon2id at libsodium's INTERACTIVE limits
 * (ops 2, 64 MiB; ~50-100 ms on one core). `out` receives a NUL-terminated
 * string of at most TK_PW_HASH_MAX bytes that records salt and limits.
 * Returns 0, or -1 when memory for the hash cannot be had. */
int tk_pw_hash(const char *password, char out[TK_PW_HASH_MAX]);

/* Same with libsodium's MIN limits: only for seeded load-test accounts. */
int tk_pw_hash_cheap(const char *password, char out[TK_PW_HASH_MAX]);

/* Verify a password against a hash from tk_pw_hash*. The limits recorded in
 * the hash decide the cost. Returns 0 when it matches, -1 otherwise. */
int tk_pw_verify(const char *hash, const char *password);

/* Claims carried by an access token. */
typedef struct tk_claims {
    uint64_t user_id; /* "sub" */
    int admin;        /* "role" == "ADMIN" */
    int64_t exp;      /* expiry, seconds since the epoch */
} tk_claims;

/* Issue an HS256 token for the claims (iat = now, exp = now + ttl_s).
 * Returns a malloc'd string the caller frees with free(), or NULL. */
char *tk_jwt_issue(const unsigned char *key, size_t keylen, uint64_t user_id, int admin, int64_t ttl_s);

/* Verify a token: signature with `key`, algorithm pinned to HS256 (a token
 * claiming "none" or any other alg is rejected), "exp" in the future, "sub"
 * a positive integer. Returns TK_OK and fills *out, or TK_EAUTH. */
tk_rc tk_jwt_verify(const unsigned char *key, size_t keylen, const char *token, tk_claims *out /* OUT */);

/* A cache of tokens already verified, for one thread (no locks: the server
 * keeps one per event loop). A hit needs the very bytes of a token whose
 * HS256 signature tk_jwt_verify accepted, so it proves what verifying
 * again would; "exp" is checked on every hit. Saves libjwt's base64,
 * JSON and HMAC work on each request of a logged-in user (perf under the
 * 5,000-VU bench: scripts/bench-server-cpu). Direct-mapped: a slot holds
 * the last token that hashed to it; tokens longer than TK_JWT_CACHE_TOKEN
 * bytes are verified every time. */
#define TK_JWT_CACHE_TOKEN 256
typedef struct tk_jwt_cache tk_jwt_cache;
/* slots: rounded up to a power of two (memory ~ slots x 280 bytes). NULL on OOM. */
tk_jwt_cache *tk_jwt_cache_new(size_t slots);
/* NULL is a no-op. */
void tk_jwt_cache_free(tk_jwt_cache *c);
/* tk_jwt_verify through the cache (c may be NULL: no cache). The key must be
 * the same on every call with one cache. */
tk_rc tk_jwt_verify_cached(tk_jwt_cache *c, const unsigned char *key, size_t keylen, const char *token,
                           tk_claims *out /* OUT */);

#endif
