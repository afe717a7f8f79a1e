/* libFuzzer target: waiting-room queue tokens (tk_qtoken_verify,
 * lib/queue.c; used read-only).
 *
 * The first byte picks the mode. Mode 0 verifies the input as a raw token.
 * Mode 1 issues a real token for (user, sale) taken from the input, then
 * flips one byte of it where the input says, so the checks behind a valid
 * shape see near-misses. Properties: a raw input is OK only if it is a
 * token the key signed; a flipped token is never OK; an unflipped one is
 * OK for its own user and sale and refused for any other; never a crash,
 * leak or UB. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/queue.h"

static const unsigned char key[32] = "fuzz-qtoken-key-fuzz-qtoken-key";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int64_t now = 1800000000;
    tk_qtoken t;
    if (data[0] % 2 == 0) {
        char tok[512];
        size_t n = size - 1 < sizeof tok - 1 ? size - 1 : sizeof tok - 1;
        memcpy(tok, data + 1, n);
        tok[n] = '\0';
        tk_qtoken_verdict v = tk_qtoken_verify(key, sizeof key, tok, 1, 1, now, &t);
        if (v == TK_QTOKEN_OK && (t.user != 1 || t.sale != 1))
            abort();
        return 0;
    }
    if (size < 20)
        return 0;
    uint64_t user, sale;
    memcpy(&user, data + 1, 8);
    memcpy(&sale, data + 9, 8);
    user = user % 1000000 + 1;
    sale = sale % 1000000 + 1;
    int64_t seq = data[17];
    char tok[TK_QTOKEN_MAX];
    if (tk_qtoken_issue(key, sizeof key, user, sale, seq, now - 10, 600, tok) != 0)
        return 0;
    if (tk_qtoken_verify(key, sizeof key, tok, user, sale, now, &t) != TK_QTOKEN_OK || t.user != user ||
        t.sale != sale || t.seq != seq)
        abort();
    if (tk_qtoken_verify(key, sizeof key, tok, user + 1, sale, now, NULL) == TK_QTOKEN_OK ||
        tk_qtoken_verify(key, sizeof key, tok, user, sale + 1, now, NULL) == TK_QTOKEN_OK ||
        tk_qtoken_verify(key, sizeof key, tok, user, sale, now + 100000, NULL) == TK_QTOKEN_OK)
        abort();
    size_t len = strlen(tok), at = data[18] % len;
    char flip = (char)(data[19] ? data[19] : 1);
    if ((char)(tok[at] ^ flip) == '\0')
        return 0;
    tok[at] = (char)(tok[at] ^ flip);
    if (tk_qtoken_verify(key, sizeof key, tok, user, sale, now, NULL) == TK_QTOKEN_OK)
        abort(); /* a changed token must not verify */
    return 0;
}
