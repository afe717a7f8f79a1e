/* libFuzzer target: access tokens (tk_jwt_verify, lib/auth.c).
 *
 * The first byte picks the mode. Mode 0 verifies the input as a raw token
 * string, which finds parsing bugs but almost never gets past the
 * signature. Mode 1 reads the input as "header JSON \n payload JSON",
 * base64url-encodes both and signs them with the right key (HMAC-SHA256,
 * RFC 7515 / RFC 7519), so that the claim checks behind the signature see
 * hostile JSON too. Property: TK_OK only with sub > 0 and exp in the
 * future; otherwise TK_EAUTH; never a crash, leak or UB. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticketctl/auth.h"

static const unsigned char key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

static char *b64url(const unsigned char *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(cap);
    if (s)
        sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s;
}

static void check(const char *token)
{
    tk_claims c;
    memset(&c, 0xA5, sizeof c);
    tk_rc rc = tk_jwt_verify(key, sizeof key, token, &c);
    if (rc == TK_OK) {
        if (c.user_id == 0 || c.exp <= (int64_t)time(NULL) - 1)
            abort(); /* accepted a token the contract says to refuse */
    } else if (rc != TK_EAUTH) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (tk_auth_init() != 0)
            abort();
        ready = 1;
    }
    if (size == 0 || size > 65536)
        return 0;
    if ((data[0] & 1) == 0) {
        char *tok = malloc(size);
        memcpy(tok, data + 1, size - 1);
        tok[size - 1] = '\0';
        check(tok);
        free(tok);
        return 0;
    }
    const unsigned char *nl = memchr(data + 1, '\n', size - 1);
    size_t hl = nl ? (size_t)(nl - (data + 1)) : size - 1;
    const unsigned char *pay = nl ? nl + 1 : data + size;
    size_t pl = (size_t)(data + size - pay);
    char *h = b64url(data + 1, hl), *p = b64url(pay, pl);
    size_t n = strlen(h) + strlen(p) + 2;
    char *signing = malloc(n);
    snprintf(signing, n, "%s.%s", h, p);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, sizeof key);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
    crypto_auth_hmacsha256_final(&st, mac);
    char *sig = b64url(mac, sizeof mac);
    size_t tn = n + strlen(sig) + 1;
    char *tok = malloc(tn);
    snprintf(tok, tn, "%s.%s", signing, sig);
    check(tok);
    free(tok), free(sig), free(signing), free(h), free(p);
    return 0;
}
