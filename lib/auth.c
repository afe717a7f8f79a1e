/* Passwords and tokens. Both are outside what the project exists for, so
 * they are thin wrappers over well-kept libraries: libsodium's argon2id and
 * libjwt's HS256. What we add is the policy: HS256 pinned, exp required. */
#include "ticketctl/auth.h"

#include <errno.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int tk_auth_init(void) { return sodium_init() < 0 ? -1 : 0; }

int tk_pw_hash(const char *password, char out[TK_PW_HASH_MAX])
{
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 ? 0 : -1;
}

int tk_pw_hash_cheap(const char *password, char out[TK_PW_HASH_MAX])
{
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_MIN,
                             crypto_pwhash_MEMLIMIT_MIN) == 0 ? 0 : -1;
}

int tk_pw_verify(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 ? 0 : -1;
}

char *tk_jwt_issue(const unsigned char *key, size_t keylen, uint64_t user_id, int admin, int64_t ttl_s)
{
    jwt_t *jwt = NULL;
    char *tok = NULL;
    long now = (long)time(NULL);
    if (jwt_new(&jwt) != 0)
        return NULL;
    if (jwt_add_grant_int(jwt, "sub", (long)user_id) || jwt_add_grant(jwt, "role", admin ? "ADMIN" : "USER") ||
        jwt_add_grant_int(jwt, "iat", now) || jwt_add_grant_int(jwt, "exp", now + (long)ttl_s) ||
        jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)keylen))
        goto out;
    tok = jwt_encode_str(jwt);
out:
    jwt_free(jwt);
    return tok;
}

tk_rc tk_jwt_verify(const unsigned char *key, size_t keylen, const char *token, tk_claims *out)
{
    jwt_t *jwt = NULL;
    tk_rc rc = TK_EAUTH;
    if (!token || strlen(token) > 4096)
        return TK_EAUTH;
    if (jwt_decode(&jwt, token, key, (int)keylen) != 0 || !jwt)
        goto out;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        goto out;
    errno = 0;
    long sub = jwt_get_grant_int(jwt, "sub");
    if (errno || sub <= 0)
        goto out;
    long exp = jwt_get_grant_int(jwt, "exp");
    if (errno || exp <= (long)time(NULL))
        goto out;
    const char *role = jwt_get_grant(jwt, "role");
    out->user_id = (uint64_t)sub;
    out->exp = exp;
    out->admin = role && !strcmp(role, "ADMIN");
    rc = TK_OK;
out:
    jwt_free(jwt);
    return rc;
}

typedef struct jwt_slot {
    uint64_t hash;
    size_t len; /* 0: empty */
    tk_claims claims;
    char token[TK_JWT_CACHE_TOKEN];
} jwt_slot;

struct tk_jwt_cache {
    size_t mask;
    jwt_slot slot[];
};

tk_jwt_cache *tk_jwt_cache_new(size_t slots)
{
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    tk_jwt_cache *c = calloc(1, sizeof *c + n * sizeof(jwt_slot));
    if (c)
        c->mask = n - 1;
    return c;
}

void tk_jwt_cache_free(tk_jwt_cache *c) { free(c); }

tk_rc tk_jwt_verify_cached(tk_jwt_cache *c, const unsigned char *key, size_t keylen, const char *token,
                           tk_claims *out)
{
    size_t len = token ? strnlen(token, TK_JWT_CACHE_TOKEN) : 0;
    if (!c || len == 0 || len >= TK_JWT_CACHE_TOKEN)
        return tk_jwt_verify(key, keylen, token, out);
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)token[i]) * 1099511628211ULL;
    jwt_slot *sl = &c->slot[h & c->mask];
    if (sl->len == len && sl->hash == h && !memcmp(sl->token, token, len)) {
        if (sl->claims.exp <= (int64_t)time(NULL))
            return TK_EAUTH;
        *out = sl->claims;
        return TK_OK;
    }
    tk_rc rc = tk_jwt_verify(key, keylen, token, out);
    if (rc == TK_OK) {
        sl->hash = h;
        sl->len = len;
        sl->claims = *out;
        memcpy(sl->token, token, len);
    }
    return rc;
}
