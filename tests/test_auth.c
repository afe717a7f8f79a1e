/* tk_pw_* and tk_jwt_*: password hashes verify only the right password, and
 * a token is accepted only when it is HS256, signed with our key, unexpired,
 * unmodified, not oversized, and carries a positive "sub". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticketctl/auth.h"

static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef";
#define KEYLEN (sizeof KEY - 1)
static const unsigned char OTHER_KEY[] = "fedcba9876543210fedcba9876543210";
#define OTHER_KEYLEN (sizeof OTHER_KEY - 1)

static int setup(void **state)
{
    (void)state;
    return tk_auth_init() == 0 ? 0 : -1;
}

/* A filled-in claims struct, so a rejected verify that wrote anything shows. */
static tk_claims poisoned(void)
{
    tk_claims c = {.user_id = 777, .admin = 7, .exp = 7};
    return c;
}

/* Base64url without padding (as JWT uses it) of a NUL-terminated string. */
static char *b64url(const char *s)
{
    size_t n = strlen(s);
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    assert_non_null(out);
    sodium_bin2base64(out, cap, (const unsigned char *)s, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* An HS256 token built directly with libjwt: sub (if > 0), exp (if != 0),
 * and an optional padding claim of pad_len bytes. */
static char *make_token(const unsigned char *key, size_t keylen, long sub, long exp, size_t pad_len)
{
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    if (sub > 0)
        assert_int_equal(jwt_add_grant_int(jwt, "sub", sub), 0);
    assert_int_equal(jwt_add_grant(jwt, "role", "USER"), 0);
    assert_int_equal(jwt_add_grant_int(jwt, "iat", (long)time(NULL)), 0);
    if (exp != 0)
        assert_int_equal(jwt_add_grant_int(jwt, "exp", exp), 0);
    if (pad_len) {
        char *pad = malloc(pad_len + 1);
        assert_non_null(pad);
        memset(pad, 'x', pad_len);
        pad[pad_len] = '\0';
        assert_int_equal(jwt_add_grant(jwt, "pad", pad), 0);
        free(pad);
    }
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)keylen), 0);
    char *tok = jwt_encode_str(jwt);
    assert_non_null(tok);
    jwt_free(jwt);
    return tok;
}

/* ---- passwords ------------------------------------------------------------ */

static void test_pw_cheap_roundtrip(void **state)
{
    (void)state;
    char h[TK_PW_HASH_MAX];
    assert_int_equal(tk_pw_hash_cheap("correct horse", h), 0);
    assert_true(strlen(h) > 0 && strlen(h) < TK_PW_HASH_MAX);
    assert_true(strncmp(h, "$argon2id$", 10) == 0);
    assert_int_equal(tk_pw_verify(h, "correct horse"), 0);
    assert_int_equal(tk_pw_verify(h, "correct horsE"), -1);
    assert_int_equal(tk_pw_verify(h, "correct horse "), -1);
    assert_int_equal(tk_pw_verify(h, "correct"), -1);
    assert_int_equal(tk_pw_verify(h, ""), -1);
}

static void test_pw_salted(void **state)
{
    (void)state;
    char a[TK_PW_HASH_MAX], b[TK_PW_HASH_MAX];
    assert_int_equal(tk_pw_hash_cheap("same", a), 0);
    assert_int_equal(tk_pw_hash_cheap("same", b), 0);
    assert_string_not_equal(a, b); /* random salt */
    assert_int_equal(tk_pw_verify(a, "same"), 0);
    assert_int_equal(tk_pw_verify(b, "same"), 0);
}

static void test_pw_empty(void **state)
{
    (void)state;
    char h[TK_PW_HASH_MAX];
    assert_int_equal(tk_pw_hash_cheap("", h), 0);
    assert_int_equal(tk_pw_verify(h, ""), 0);
    assert_int_equal(tk_pw_verify(h, "x"), -1);
}

static void test_pw_garbage_hash(void **state)
{
    (void)state;
    assert_int_equal(tk_pw_verify("", "pw"), -1);
    assert_int_equal(tk_pw_verify("not a hash", "pw"), -1);
    assert_int_equal(tk_pw_verify("$argon2id$v=19$m=65536,t=2,p=1$AAAA$BBBB", "pw"), -1);
}

/* The interactive profile costs ~64 MiB / 100 ms per call, so one hash and
 * one verify; wrong passwords are covered with the cheap profile above. */
static void test_pw_interactive(void **state)
{
    (void)state;
    char h[TK_PW_HASH_MAX];
    assert_int_equal(tk_pw_hash("s3cret-pass", h), 0);
    assert_non_null(strstr(h, "m=65536")); /* INTERACTIVE memlimit, in KiB */
    assert_non_null(strstr(h, "t=2"));
    assert_int_equal(tk_pw_verify(h, "s3cret-pass"), 0);
}

/* ---- tokens --------------------------------------------------------------- */

static void test_jwt_roundtrip(void **state)
{
    (void)state;
    int64_t before = (int64_t)time(NULL);
    char *tok = tk_jwt_issue(KEY, KEYLEN, 42, 0, 3600);
    assert_non_null(tok);
    tk_claims c = poisoned();
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_OK);
    assert_int_equal(c.user_id, 42);
    assert_int_equal(c.admin, 0);
    assert_true(c.exp >= before + 3600 && c.exp <= (int64_t)time(NULL) + 3600);
    free(tok);

    tok = tk_jwt_issue(KEY, KEYLEN, 9000000001ULL, 1, 60);
    assert_non_null(tok);
    c = poisoned();
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_OK);
    assert_int_equal(c.user_id, 9000000001ULL);
    assert_int_equal(c.admin, 1);
    free(tok);
}

/* The verified-token cache: a hit gives the same claims; a token that
 * differs in one byte (tampered, or another user's) is verified afresh and
 * refused when bad; an expired token is refused from the cache too; one
 * slot shared by two tokens keeps answering both right; a long token skips
 * the cache; a NULL cache is plain verification. */
static void test_jwt_cache(void **state)
{
    (void)state;
    tk_jwt_cache *jc = tk_jwt_cache_new(1); /* one slot: every token collides */
    assert_non_null(jc);
    char *a = tk_jwt_issue(KEY, KEYLEN, 42, 0, 3600), *b = tk_jwt_issue(KEY, KEYLEN, 43, 1, 3600);
    char *old = tk_jwt_issue(KEY, KEYLEN, 44, 0, 1);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(old);
    for (int round = 0; round < 2; round++) { /* miss, then hit */
        tk_claims c = poisoned();
        assert_int_equal(tk_jwt_verify_cached(jc, KEY, KEYLEN, a, &c), TK_OK);
        assert_int_equal(c.user_id, 42);
        assert_int_equal(c.admin, 0);
    }
    tk_claims c = poisoned();
    assert_int_equal(tk_jwt_verify_cached(jc, KEY, KEYLEN, b, &c), TK_OK); /* evicts a */
    assert_int_equal(c.user_id, 43);
    assert_int_equal(c.admin, 1);
    c = poisoned();
    assert_int_equal(tk_jwt_verify_cached(jc, KEY, KEYLEN, a, &c), TK_OK);
    assert_int_equal(c.user_id, 42);
    /* a cached token with its signature changed is verified again: refused */
    char *bad = strdup(a);
    assert_non_null(bad);
    char *sig = strrchr(bad, '.');
    sig[1] = sig[1] == 'A' ? 'B' : 'A';
    c = poisoned();
    assert_int_equal(tk_jwt_verify_cached(jc, KEY, KEYLEN, bad, &c), TK_EAUTH);
    assert_int_equal(c.user_id, 777);
    /* ... and the good one is still there */
    assert_int_equal(tk_jwt_verify_cached(jc, KEY, KEYLEN, a, &c), TK_OK);
    /* expiry is checked on hits */
    assert_int_equal(tk_jwt_verify_cached(jc, KEY, KEYLEN, old, &c), TK_OK);
    struct timespec ts = {2, 100000000L};
    nanosleep(&ts, NULL);
    c = poisoned();
    assert_int_equal(tk_jwt_verify_cached(jc, KEY, KEYLEN, old, &c), TK_EAUTH);
    /* no cache, and tokens too long for a slot: plain verification */
    assert_int_equal(tk_jwt_verify_cached(NULL, KEY, KEYLEN, b, &c), TK_OK);
    char longtok[TK_JWT_CACHE_TOKEN + 8];
    memset(longtok, 'a', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    assert_int_equal(tk_jwt_verify_cached(jc, KEY, KEYLEN, longtok, &c), TK_EAUTH);
    assert_int_equal(tk_jwt_verify_cached(jc, KEY, KEYLEN, "", &c), TK_EAUTH);
    free(bad);
    free(a);
    free(b);
    free(old);
    tk_jwt_cache_free(jc);
    tk_jwt_cache_free(NULL);
}

static void test_jwt_header_is_hs256(void **state)
{
    (void)state;
    char *tok = tk_jwt_issue(KEY, KEYLEN, 1, 0, 60);
    assert_non_null(tok);
    /* three segments, the last (signature) non-empty */
    char *d1 = strchr(tok, '.');
    assert_non_null(d1);
    char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    assert_null(strchr(d2 + 1, '.'));
    assert_true(strlen(d2 + 1) > 0);
    /* libjwt may order the header keys either way; decode instead of comparing */
    unsigned char raw[128];
    size_t rawlen = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof raw - 1, tok, (size_t)(d1 - tok), NULL, &rawlen, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    raw[rawlen] = '\0';
    assert_non_null(strstr((char *)raw, "\"HS256\""));
    free(tok);
}

static void test_jwt_wrong_key(void **state)
{
    (void)state;
    char *tok = tk_jwt_issue(KEY, KEYLEN, 42, 1, 3600);
    assert_non_null(tok);
    tk_claims c = poisoned();
    assert_int_equal(tk_jwt_verify(OTHER_KEY, OTHER_KEYLEN, tok, &c), TK_EAUTH);
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN - 1, tok, &c), TK_EAUTH); /* key prefix */
    assert_int_equal(c.user_id, 777);
    free(tok);
}

static void test_jwt_tampered_payload(void **state)
{
    (void)state;
    char *tok = tk_jwt_issue(KEY, KEYLEN, 42, 0, 3600);
    assert_non_null(tok);
    char *d1 = strchr(tok, '.');
    char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    assert_non_null(d2);
    char *mid = d1 + 1 + (d2 - d1 - 1) / 2;
    *mid = *mid == 'A' ? 'B' : 'A';
    tk_claims c = poisoned();
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    assert_int_equal(c.user_id, 777);
    free(tok);
}

static void test_jwt_tampered_signature(void **state)
{
    (void)state;
    char *tok = tk_jwt_issue(KEY, KEYLEN, 42, 0, 3600);
    assert_non_null(tok);
    char *d2 = strrchr(tok, '.');
    assert_non_null(d2);
    d2[1] = d2[1] == 'A' ? 'B' : 'A';
    tk_claims c = poisoned();
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    /* signature stripped entirely */
    d2[1] = '\0';
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    free(tok);
}

/* Replace the payload of a genuine token by one claiming admin/another user,
 * keeping the genuine header and signature. */
static void test_jwt_forged_payload(void **state)
{
    (void)state;
    char *tok = tk_jwt_issue(KEY, KEYLEN, 42, 0, 3600);
    assert_non_null(tok);
    char *d1 = strchr(tok, '.');
    char *d2 = strrchr(tok, '.');
    assert_true(d1 && d2 && d1 != d2);
    char body[128];
    snprintf(body, sizeof body, "{\"sub\":1,\"role\":\"ADMIN\",\"exp\":%ld}", (long)time(NULL) + 3600);
    char *p = b64url(body);
    char forged[1024];
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(d1 - tok), tok, p, d2);
    tk_claims c = poisoned();
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, forged, &c), TK_EAUTH);
    assert_int_equal(c.user_id, 777);
    free(p);
    free(tok);
}

static void test_jwt_alg_none(void **state)
{
    (void)state;
    char body[128];
    snprintf(body, sizeof body, "{\"sub\":42,\"role\":\"ADMIN\",\"exp\":%ld}", (long)time(NULL) + 3600);
    char *h = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}");
    char *p = b64url(body);
    char tok[512];
    tk_claims c = poisoned();

    snprintf(tok, sizeof tok, "%s.%s.", h, p); /* empty signature */
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    snprintf(tok, sizeof tok, "%s.%s", h, p); /* no signature segment */
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    assert_int_equal(c.user_id, 777);
    free(h);

    /* same for "None" and "HS512" claimed in the header */
    h = b64url("{\"alg\":\"None\",\"typ\":\"JWT\"}");
    snprintf(tok, sizeof tok, "%s.%s.", h, p);
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    free(h);
    free(p);
}

/* A token signed with HS512 and our key is still refused: alg is pinned. */
static void test_jwt_other_alg(void **state)
{
    (void)state;
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grant_int(jwt, "sub", 42), 0);
    assert_int_equal(jwt_add_grant_int(jwt, "exp", (long)time(NULL) + 3600), 0);
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS512, KEY, (int)KEYLEN), 0);
    char *tok = jwt_encode_str(jwt);
    assert_non_null(tok);
    jwt_free(jwt);
    tk_claims c = poisoned();
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    free(tok);
}

static void test_jwt_libjwt_token_accepted(void **state)
{
    (void)state;
    /* control for the tests below: the same builder with good claims passes */
    long exp = (long)time(NULL) + 600;
    char *tok = make_token(KEY, KEYLEN, 5, exp, 0);
    tk_claims c = poisoned();
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_OK);
    assert_int_equal(c.user_id, 5);
    assert_int_equal(c.exp, exp);
    assert_int_equal(c.admin, 0);
    free(tok);
}

static void test_jwt_expired(void **state)
{
    (void)state;
    tk_claims c = poisoned();
    char *tok = make_token(KEY, KEYLEN, 5, (long)time(NULL) - 10, 0);
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    free(tok);
    tok = make_token(KEY, KEYLEN, 5, (long)time(NULL) - 86400 * 365, 0);
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    free(tok);
    /* issued by us with a negative ttl */
    tok = tk_jwt_issue(KEY, KEYLEN, 5, 1, -5);
    assert_non_null(tok);
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    free(tok);
    assert_int_equal(c.user_id, 777);
}

static void test_jwt_missing_exp(void **state)
{
    (void)state;
    tk_claims c = poisoned();
    char *tok = make_token(KEY, KEYLEN, 5, 0, 0);
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    free(tok);
}

static void test_jwt_missing_or_bad_sub(void **state)
{
    (void)state;
    tk_claims c = poisoned();
    char *tok = make_token(KEY, KEYLEN, 0, (long)time(NULL) + 600, 0);
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    free(tok);

    /* sub present but zero, negative, or a string */
    static const char *const subs[] = {"0", "-3", "\"42\"", "null", "4.5"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char js[128];
        snprintf(js, sizeof js, "{\"sub\":%s,\"exp\":%ld}", subs[i], (long)time(NULL) + 600);
        jwt_t *jwt = NULL;
        assert_int_equal(jwt_new(&jwt), 0);
        assert_int_equal(jwt_add_grants_json(jwt, js), 0);
        assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256, KEY, (int)KEYLEN), 0);
        tok = jwt_encode_str(jwt);
        assert_non_null(tok);
        jwt_free(jwt);
        print_message("sub=%s\n", subs[i]);
        assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
        free(tok);
    }
    assert_int_equal(c.user_id, 777);
}

static void test_jwt_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", ".", "..", "...", "a.b.c", "not-a-token", "Bearer x.y.z",
        "eyJhbGciOiJIUzI1NiJ9", /* header only */
        "eyJhbGciOiJIUzI1NiJ9..", "!!!.@@@.###", "eyJ.eyJ.eyJ",
    };
    tk_claims c = poisoned();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("token=\"%s\"\n", bad[i]);
        assert_int_equal(tk_jwt_verify(KEY, KEYLEN, bad[i], &c), TK_EAUTH);
    }
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, NULL, &c), TK_EAUTH);
    assert_int_equal(c.user_id, 777);
}

/* A genuinely signed, unexpired token is refused once it is over the size
 * limit (10 KB); a 1 KB one from the same builder is accepted. */
static void test_jwt_oversized(void **state)
{
    (void)state;
    long exp = (long)time(NULL) + 600;
    tk_claims c = poisoned();
    char *tok = make_token(KEY, KEYLEN, 5, exp, 1000);
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_OK);
    free(tok);

    c = poisoned();
    tok = make_token(KEY, KEYLEN, 5, exp, 7600);
    assert_true(strlen(tok) >= 10000);
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, tok, &c), TK_EAUTH);
    assert_int_equal(c.user_id, 777);
    free(tok);

    char *big = malloc(10241);
    assert_non_null(big);
    memset(big, 'A', 10240);
    big[100] = '.';
    big[200] = '.';
    big[10240] = '\0';
    assert_int_equal(tk_jwt_verify(KEY, KEYLEN, big, &c), TK_EAUTH);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pw_cheap_roundtrip),
        cmocka_unit_test(test_pw_salted),
        cmocka_unit_test(test_pw_empty),
        cmocka_unit_test(test_pw_garbage_hash),
        cmocka_unit_test(test_pw_interactive),
        cmocka_unit_test(test_jwt_roundtrip),
        cmocka_unit_test(test_jwt_header_is_hs256),
        cmocka_unit_test(test_jwt_wrong_key),
        cmocka_unit_test(test_jwt_tampered_payload),
        cmocka_unit_test(test_jwt_tampered_signature),
        cmocka_unit_test(test_jwt_forged_payload),
        cmocka_unit_test(test_jwt_alg_none),
        cmocka_unit_test(test_jwt_other_alg),
        cmocka_unit_test(test_jwt_libjwt_token_accepted),
        cmocka_unit_test(test_jwt_expired),
        cmocka_unit_test(test_jwt_missing_exp),
        cmocka_unit_test(test_jwt_missing_or_bad_sub),
        cmocka_unit_test(test_jwt_garbage),
        cmocka_unit_test(test_jwt_oversized),
        cmocka_unit_test(test_jwt_cache),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
