/* libFuzzer target: model files (tk_iforest_deserialize, lib/iforest.c).
 * The first byte picks the mode: raw bytes as a model file, or a valid
 * model with bytes flipped where the input says and its FNV-1a checksum
 * sealed again (the format's last 8 bytes, little-endian, over the rest),
 * so that mutations get past the magic, version and checksum into the
 * shape and tree checks.
 * Property: a model that loads can be scored and gives a score in [0,1];
 * anything else is TK_EINVAL or TK_ENOMEM with a message; never a crash. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/common.h"
#include "ticketctl/iforest.h"

static uint8_t *good;
static size_t good_len;

static void make_good(void)
{
    double x[64 * 2];
    for (int i = 0; i < 64; i++)
        x[2 * i] = i, x[2 * i + 1] = (i * 7) % 13;
    tk_iforest_params p = {.trees = 8, .psi = 32, .seed = 1};
    char err[256];
    tk_iforest *f = tk_iforest_train(x, 64, 2, &p, err, sizeof err);
    if (!f || tk_iforest_serialize(f, &good, &good_len) != TK_OK)
        abort();
    tk_iforest_free(f);
}

static void check(const uint8_t *buf, size_t len)
{
    tk_iforest *f = NULL;
    char err[256] = "";
    int rc = tk_iforest_deserialize(buf, len, &f, err, sizeof err);
    if (rc != TK_OK) {
        if ((rc != TK_EINVAL && rc != TK_ENOMEM) || !err[0] || f)
            abort();
        return;
    }
    size_t d = tk_iforest_dims(f);
    if (d == 0 || d > 4096)
        abort();
    double *x = calloc(d, sizeof *x);
    double s = tk_iforest_score(f, x);
    if (!(s >= 0 && s <= 1))
        abort();
    free(x);
    tk_iforest_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!good)
        make_good();
    if (size == 0 || size > 1 << 20)
        return 0;
    if ((data[0] & 1) == 0) {
        check(data + 1, size - 1);
        return 0;
    }
    uint8_t *m = malloc(good_len);
    memcpy(m, good, good_len);
    for (size_t i = 1; i + 2 < size; i += 3) { /* (position lo, position hi, xor) triples */
        size_t at = ((size_t)data[i] | (size_t)data[i + 1] << 8) % good_len;
        m[at] ^= data[i + 2] ? data[i + 2] : 1;
    }
    if (data[0] & 2) { /* re-seal: FNV-1a 64 of all but the last 8 bytes */
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i + 8 < good_len; i++) {
            h ^= m[i];
            h *= 0x100000001b3ULL;
        }
        for (int k = 0; k < 8; k++)
            m[good_len - 8 + k] = (uint8_t)(h >> (8 * k));
    }
    check(m, good_len);
    free(m);
    return 0;
}
