/* Isolation Forest (Liu, Ting & Zhou, ICDM 2008), trained and scored in
 * process, with a checked binary model format. See ticketctl/iforest.h.
 *
 * Layout: every tree is a flat array of 16-byte nodes, trees stored back to
 * back. The children of an internal node are adjacent (left, left + 1), so a
 * step is `i = left[i] + (x[attr[i]] >= split[i])` with no branch. An
 * external node points at itself and has a NaN split (every comparison with
 * NaN is false), so a walk can take exactly `height limit` steps without
 * testing for leaves; the adjusted path length of each external node
 * (depth + c(size)) is precomputed in a parallel array. Scoring walks a
 * block of points through one tree in lockstep, which keeps that tree in
 * cache and lets the CPU overlap the independent loads of the block. */
#include "ticketctl/iforest.h"
#include "ticketctl/common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TREES 100
#define DEFAULT_PSI 256
#define SCORE_BLOCK 64
#define MAX_FILE_BYTES (1u << 30)

static const uint8_t MAGIC[8] = {'T', 'K', 'I', 'F', 'O', 'R', 'S', 'T'};

typedef struct node {
    double split;  /* internal: go right when x[attr] >= split; external: NaN */
    uint32_t left; /* internal: left child (right is left + 1); external: itself */
    uint16_t attr; /* internal: attribute index; external: 0 */
    uint16_t leaf; /* 1 for an external node */
} node;

struct tk_iforest {
    uint32_t dims, trees, psi, height; /* height = ceil(log2 psi) */
    uint64_t seed;
    double c_psi;     /* c(psi), the score normaliser */
    uint32_t *off;    /* trees + 1 offsets into nodes[] */
    node *nodes;      /* all trees back to back */
    double *hval;     /* per node: depth + c(size) for external nodes, else 0 */
    uint32_t *lsize;  /* per node: external node size, else 0 */
    char meta[TK_IFOREST_META_MAX];
};

/* ---- c(n) ---------------------------------------------------------------- */

static double harmonic(size_t n)
{
    if (n <= 4096) {
        double h = 0;
        for (size_t i = 1; i <= n; i++)
            h += 1.0 / (double)i;
        return h;
    }
    double x = (double)n;
    return log(x) + 0.57721566490153286 + 1.0 / (2 * x) - 1.0 / (12 * x * x);
}

double tk_iforest_c(size_t n)
{
    if (n <= 1)
        return 0.0;
    if (n == 2)
        return 1.0;
    return 2.0 * harmonic(n - 1) - 2.0 * (double)(n - 1) / (double)n;
}

static uint32_t height_limit(uint32_t psi)
{
    uint32_t h = 0;
    while (((uint64_t)1 << h) < psi)
        h++;
    return h;
}

/* ---- generator: splitmix64 seeding xoshiro256** ---------------------------- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, bound) (Lemire's multiply-shift; bias < bound / 2^64). */
static uint64_t rng_below(rng *r, uint64_t bound)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * bound) >> 64);
}

/* Uniform in the open interval (0, 1). */
static double rng_open01(rng *r) { return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0; }

/* ---- training ------------------------------------------------------------ */

typedef struct builder {
    const double *x;
    uint32_t dims, height;
    rng *r;
    uint32_t *idx; /* sample point indices, partitioned in place */
    node *nodes;   /* this tree's nodes */
    double *hval;
    uint32_t *lsize;
    uint32_t count; /* nodes used */
} builder;

static void make_leaf(builder *b, uint32_t i, uint32_t depth, uint32_t size)
{
    b->nodes[i] = (node){.split = NAN, .left = i, .attr = 0, .leaf = 1};
    b->hval[i] = (double)depth + tk_iforest_c(size);
    b->lsize[i] = size;
}

/* Algorithm 2 (iTree) of the paper on idx[lo, hi). */
static void build(builder *b, uint32_t i, uint32_t lo, uint32_t hi, uint32_t depth)
{
    uint32_t size = hi - lo;
    if (depth >= b->height || size <= 1) {
        make_leaf(b, i, depth, size);
        return;
    }
    double mn[TK_IFOREST_MAX_DIMS], mx[TK_IFOREST_MAX_DIMS];
    for (uint32_t d = 0; d < b->dims; d++)
        mn[d] = mx[d] = b->x[(size_t)b->idx[lo] * b->dims + d];
    for (uint32_t k = lo + 1; k < hi; k++) {
        const double *p = b->x + (size_t)b->idx[k] * b->dims;
        for (uint32_t d = 0; d < b->dims; d++) {
            if (p[d] < mn[d])
                mn[d] = p[d];
            if (p[d] > mx[d])
                mx[d] = p[d];
        }
    }
    uint16_t cand[TK_IFOREST_MAX_DIMS];
    uint32_t ncand = 0;
    for (uint32_t d = 0; d < b->dims; d++)
        if (mx[d] > mn[d])
            cand[ncand++] = (uint16_t)d;
    if (ncand == 0) { /* all points identical: cannot be split further */
        make_leaf(b, i, depth, size);
        return;
    }
    uint16_t q = cand[ncand == 1 ? 0 : rng_below(b->r, ncand)];
    double split = mn[q] + rng_open01(b->r) * (mx[q] - mn[q]);
    if (split <= mn[q]) /* rounding: keep both sides non-empty */
        split = nextafter(mn[q], INFINITY);
    if (split > mx[q])
        split = mx[q];

    uint32_t a = lo, z = hi;
    while (a < z) {
        if (b->x[(size_t)b->idx[a] * b->dims + q] < split) {
            a++;
        } else {
            uint32_t t = b->idx[a];
            b->idx[a] = b->idx[--z];
            b->idx[z] = t;
        }
    }
    uint32_t left = b->count;
    b->count += 2;
    b->nodes[i] = (node){.split = split, .left = left, .attr = q, .leaf = 0};
    b->hval[i] = 0;
    b->lsize[i] = 0;
    build(b, left, lo, a, depth + 1);
    build(b, left + 1, a, hi, depth + 1);
}

static tk_iforest *alloc_forest(uint32_t dims, uint32_t trees, uint32_t psi, size_t nodes_cap)
{
    tk_iforest *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->dims = dims;
    f->trees = trees;
    f->psi = psi;
    f->height = height_limit(psi);
    f->c_psi = tk_iforest_c(psi);
    f->off = calloc((size_t)trees + 1, sizeof *f->off);
    f->nodes = malloc(nodes_cap * sizeof *f->nodes);
    f->hval = malloc(nodes_cap * sizeof *f->hval);
    f->lsize = malloc(nodes_cap * sizeof *f->lsize);
    if (!f->off || !f->nodes || !f->hval || !f->lsize) {
        tk_iforest_free(f);
        return NULL;
    }
    return f;
}

tk_iforest *tk_iforest_train(const double *x, size_t n, size_t dims, const tk_iforest_params *p,
                             char *err, size_t errlen)
{
    uint32_t trees = p && p->trees ? p->trees : DEFAULT_TREES;
    uint32_t psi = p && p->psi ? p->psi : DEFAULT_PSI;
    uint64_t seed = p ? p->seed : 0;
    if (!x || n < 2 || n > UINT32_MAX) {
        tk_err(err, errlen, "need at least 2 training points (got %zu)", n);
        return NULL;
    }
    if (dims < 1 || dims > TK_IFOREST_MAX_DIMS) {
        tk_err(err, errlen, "dims must be 1..%d (got %zu)", TK_IFOREST_MAX_DIMS, dims);
        return NULL;
    }
    if (trees > TK_IFOREST_MAX_TREES) {
        tk_err(err, errlen, "trees must be 1..%d (got %u)", TK_IFOREST_MAX_TREES, trees);
        return NULL;
    }
    if (psi < 2 || psi > TK_IFOREST_MAX_PSI) {
        tk_err(err, errlen, "subsample size must be 2..%d (got %u)", TK_IFOREST_MAX_PSI, psi);
        return NULL;
    }
    for (size_t k = 0; k < n * dims; k++)
        if (!isfinite(x[k])) {
            tk_err(err, errlen, "point %zu attribute %zu is not a finite number", k / dims, k % dims);
            return NULL;
        }
    if (psi > n)
        psi = (uint32_t)n;

    size_t per_tree = 2 * (size_t)psi - 1;
    tk_iforest *f = alloc_forest((uint32_t)dims, trees, psi, per_tree * trees);
    uint32_t *perm = malloc(n * sizeof *perm);
    uint32_t *idx = malloc((size_t)psi * sizeof *idx);
    if (!f || !perm || !idx) {
        tk_err(err, errlen, "out of memory");
        goto fail;
    }
    f->seed = seed;
    rng r;
    rng_seed(&r, seed);
    for (size_t k = 0; k < n; k++)
        perm[k] = (uint32_t)k;

    uint32_t used = 0;
    for (uint32_t t = 0; t < trees; t++) {
        /* Partial Fisher-Yates: perm[0, psi) becomes a uniform sample
         * without replacement (perm stays a permutation across trees). */
        for (uint32_t k = 0; k < psi; k++) {
            uint32_t j = k + (uint32_t)rng_below(&r, n - k);
            uint32_t tmp = perm[k];
            perm[k] = perm[j];
            perm[j] = tmp;
            idx[k] = perm[k];
        }
        builder b = {.x = x, .dims = (uint32_t)dims, .height = f->height, .r = &r, .idx = idx,
                     .nodes = f->nodes + used, .hval = f->hval + used, .lsize = f->lsize + used, .count = 1};
        build(&b, 0, 0, psi, 0);
        f->off[t] = used;
        used += b.count;
    }
    f->off[trees] = used;
    free(perm);
    free(idx);
    return f;
fail:
    free(perm);
    free(idx);
    tk_iforest_free(f);
    return NULL;
}

void tk_iforest_free(tk_iforest *f)
{
    if (!f)
        return;
    free(f->off);
    free(f->nodes);
    free(f->hval);
    free(f->lsize);
    free(f);
}

size_t tk_iforest_dims(const tk_iforest *f) { return f->dims; }
uint32_t tk_iforest_trees(const tk_iforest *f) { return f->trees; }
uint32_t tk_iforest_psi(const tk_iforest *f) { return f->psi; }
uint64_t tk_iforest_seed(const tk_iforest *f) { return f->seed; }
size_t tk_iforest_node_count(const tk_iforest *f) { return f->off[f->trees]; }
const char *tk_iforest_meta(const tk_iforest *f) { return f->meta; }

int tk_iforest_set_meta(tk_iforest *f, const char *meta)
{
    size_t len = meta ? strlen(meta) : 0;
    if (len >= TK_IFOREST_META_MAX)
        return -1;
    memcpy(f->meta, meta ? meta : "", len + 1);
    return 0;
}

/* ---- scoring ------------------------------------------------------------- */

double tk_iforest_path_length(const tk_iforest *f, const double *x)
{
    double h = 0;
    for (uint32_t t = 0; t < f->trees; t++) {
        const node *nd = f->nodes + f->off[t];
        uint32_t i = 0;
        for (uint32_t s = 0; s < f->height; s++)
            i = nd[i].left + (x[nd[i].attr] >= nd[i].split);
        h += f->hval[f->off[t] + i];
    }
    return h / (double)f->trees;
}

static double score_of(const tk_iforest *f, double h) { return exp2(-(h / (double)f->trees) / f->c_psi); }

double tk_iforest_score(const tk_iforest *f, const double *x)
{
    double h = 0;
    for (uint32_t t = 0; t < f->trees; t++) {
        const node *nd = f->nodes + f->off[t];
        uint32_t i = 0;
        for (uint32_t s = 0; s < f->height; s++)
            i = nd[i].left + (x[nd[i].attr] >= nd[i].split);
        h += f->hval[f->off[t] + i];
    }
    return score_of(f, h);
}

void tk_iforest_score_many(const tk_iforest *f, const double *x, size_t n, double *out)
{
    const size_t dims = f->dims;
    for (size_t base = 0; base < n; base += SCORE_BLOCK) {
        size_t m = n - base < SCORE_BLOCK ? n - base : SCORE_BLOCK;
        const double *xb = x + base * dims;
        double h[SCORE_BLOCK] = {0};
        uint32_t at[SCORE_BLOCK];
        for (uint32_t t = 0; t < f->trees; t++) {
            const node *nd = f->nodes + f->off[t];
            const double *hv = f->hval + f->off[t];
            for (size_t k = 0; k < m; k++)
                at[k] = 0;
            for (uint32_t s = 0; s < f->height; s++)
                for (size_t k = 0; k < m; k++) {
                    const node *c = nd + at[k];
                    at[k] = c->left + (xb[k * dims + c->attr] >= c->split);
                }
            for (size_t k = 0; k < m; k++)
                h[k] += hv[at[k]];
        }
        for (size_t k = 0; k < m; k++)
            out[base + k] = score_of(f, h[k]);
    }
}

/* ---- model format -------------------------------------------------------- */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

typedef struct wbuf {
    uint8_t *p;
    size_t len;
} wbuf;

static void put(wbuf *w, uint64_t v, int bytes)
{
    for (int k = 0; k < bytes; k++)
        w->p[w->len++] = (uint8_t)(v >> (8 * k));
}

static void put_f64(wbuf *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    put(w, u, 8);
}

int tk_iforest_serialize(const tk_iforest *f, uint8_t **out, size_t *outlen)
{
    size_t metalen = strlen(f->meta);
    size_t total = tk_iforest_node_count(f);
    size_t cap = 8 + 4 * 4 + 8 + 4 + metalen + 4 * (size_t)f->trees + total * 15 + 8;
    wbuf w = {malloc(cap), 0};
    if (!w.p)
        return TK_ENOMEM;
    memcpy(w.p, MAGIC, 8);
    w.len = 8;
    put(&w, TK_IFOREST_VERSION, 4);
    put(&w, f->dims, 4);
    put(&w, f->trees, 4);
    put(&w, f->psi, 4);
    put(&w, f->seed, 8);
    put(&w, metalen, 4);
    memcpy(w.p + w.len, f->meta, metalen);
    w.len += metalen;
    for (uint32_t t = 0; t < f->trees; t++) {
        uint32_t cnt = f->off[t + 1] - f->off[t];
        put(&w, cnt, 4);
        for (uint32_t i = 0; i < cnt; i++) {
            const node *nd = f->nodes + f->off[t] + i;
            if (nd->leaf) {
                put(&w, 1, 1);
                put(&w, f->lsize[f->off[t] + i], 4);
            } else {
                put(&w, 0, 1);
                put(&w, nd->attr, 2);
                put_f64(&w, nd->split);
                put(&w, nd->left, 4);
            }
        }
    }
    put(&w, fnv1a(w.p, w.len), 8);
    *out = w.p;
    *outlen = w.len;
    return TK_OK;
}

typedef struct rbuf {
    const uint8_t *p;
    size_t len, at;
} rbuf;

static int get(rbuf *r, int bytes, uint64_t *v)
{
    if (r->len - r->at < (size_t)bytes)
        return -1;
    uint64_t x = 0;
    for (int k = 0; k < bytes; k++)
        x |= (uint64_t)r->p[r->at++] << (8 * k);
    *v = x;
    return 0;
}

#define GET(bytes, dst, what)                                                                      \
    do {                                                                                           \
        uint64_t v_;                                                                               \
        if (get(&r, (bytes), &v_) != 0) {                                                          \
            tk_err(err, errlen, "model truncated while reading %s", (what));                       \
            goto fail;                                                                             \
        }                                                                                          \
        (dst) = v_;                                                                                \
    } while (0)

int tk_iforest_deserialize(const uint8_t *buf, size_t len, tk_iforest **out, char *err, size_t errlen)
{
    tk_iforest *f = NULL;
    uint32_t *depth = NULL;
    uint8_t *seen = NULL;
    int rc = TK_EINVAL;
    *out = NULL;
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0)
        return tk_err(err, errlen, "not an isolation forest model (bad magic)"), TK_EINVAL;
    if (len < 12)
        return tk_err(err, errlen, "model truncated (no version)"), TK_EINVAL;
    uint32_t version = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
    if (version != TK_IFOREST_VERSION)
        return tk_err(err, errlen, "unsupported model version %u (this build reads version %d)", version,
                      TK_IFOREST_VERSION),
               TK_EINVAL;
    if (len < 12 + 8)
        return tk_err(err, errlen, "model truncated (%zu bytes)", len), TK_EINVAL;
    uint64_t want = 0;
    for (int k = 0; k < 8; k++)
        want |= (uint64_t)buf[len - 8 + k] << (8 * k);
    if (fnv1a(buf, len - 8) != want)
        return tk_err(err, errlen, "model checksum mismatch: file is corrupt or truncated"), TK_EINVAL;

    rbuf r = {buf, len - 8, 12};
    uint64_t dims, trees, psi, seed, metalen;
    GET(4, dims, "dims");
    GET(4, trees, "tree count");
    GET(4, psi, "subsample size");
    GET(8, seed, "seed");
    GET(4, metalen, "metadata length");
    if (dims < 1 || dims > TK_IFOREST_MAX_DIMS || trees < 1 || trees > TK_IFOREST_MAX_TREES || psi < 2 ||
        psi > TK_IFOREST_MAX_PSI || metalen >= TK_IFOREST_META_MAX) {
        tk_err(err, errlen, "model header out of range (dims %llu, trees %llu, psi %llu, meta %llu)",
               (unsigned long long)dims, (unsigned long long)trees, (unsigned long long)psi,
               (unsigned long long)metalen);
        goto fail;
    }
    if (r.len - r.at < metalen) {
        tk_err(err, errlen, "model truncated while reading metadata");
        goto fail;
    }
    /* Bound the allocation by what the buffer can hold (>= 5 bytes a node). */
    size_t per_tree = 2 * (size_t)psi - 1;
    size_t cap = per_tree * trees;
    if (cap > (r.len - r.at) / 5 + 1)
        cap = (r.len - r.at) / 5 + 1;
    f = alloc_forest((uint32_t)dims, (uint32_t)trees, (uint32_t)psi, cap);
    depth = malloc(per_tree * sizeof *depth);
    seen = malloc(per_tree);
    if (!f || !depth || !seen) {
        tk_err(err, errlen, "out of memory loading model");
        rc = TK_ENOMEM;
        goto fail;
    }
    f->seed = seed;
    memcpy(f->meta, buf + r.at, metalen);
    f->meta[metalen] = '\0';
    r.at += metalen;
    if (memchr(f->meta, '\0', metalen)) {
        tk_err(err, errlen, "model metadata contains a NUL byte");
        goto fail;
    }

    size_t used = 0;
    for (uint32_t t = 0; t < f->trees; t++) {
        uint64_t cnt;
        GET(4, cnt, "tree node count");
        if (cnt < 1 || cnt > per_tree || cnt > cap - used) {
            tk_err(err, errlen, "tree %u: node count %llu out of range", t, (unsigned long long)cnt);
            goto fail;
        }
        node *nd = f->nodes + used;
        double *hv = f->hval + used;
        uint32_t *ls = f->lsize + used;
        memset(seen, 0, cnt);
        depth[0] = 0;
        seen[0] = 1;
        uint64_t leaf_total = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            uint64_t kind;
            GET(1, kind, "node kind");
            if (!seen[i]) {
                tk_err(err, errlen, "tree %u: node %u is not reachable from the root", t, i);
                goto fail;
            }
            if (kind == 1) {
                uint64_t size;
                GET(4, size, "external node size");
                if (size < 1 || size > psi || depth[i] > f->height) {
                    tk_err(err, errlen, "tree %u: external node %u is inconsistent", t, i);
                    goto fail;
                }
                leaf_total += size;
                nd[i] = (node){.split = NAN, .left = i, .attr = 0, .leaf = 1};
                hv[i] = (double)depth[i] + tk_iforest_c((size_t)size);
                ls[i] = (uint32_t)size;
            } else if (kind == 0) {
                uint64_t attr, bits, left;
                GET(2, attr, "split attribute");
                GET(8, bits, "split value");
                GET(4, left, "child index");
                double split;
                memcpy(&split, &bits, sizeof split);
                if (attr >= dims || !isfinite(split) || left <= i || left + 1 >= cnt || depth[i] >= f->height ||
                    seen[left] || seen[left + 1]) {
                    tk_err(err, errlen, "tree %u: internal node %u is inconsistent", t, i);
                    goto fail;
                }
                seen[left] = seen[left + 1] = 1;
                depth[left] = depth[left + 1] = depth[i] + 1;
                nd[i] = (node){.split = split, .left = (uint32_t)left, .attr = (uint16_t)attr, .leaf = 0};
                hv[i] = 0;
                ls[i] = 0;
            } else {
                tk_err(err, errlen, "tree %u: node %u has unknown kind %llu", t, i, (unsigned long long)kind);
                goto fail;
            }
        }
        if (leaf_total != psi) {
            tk_err(err, errlen, "tree %u: external node sizes add up to %llu, not %llu", t,
                   (unsigned long long)leaf_total, (unsigned long long)psi);
            goto fail;
        }
        f->off[t] = (uint32_t)used;
        used += cnt;
    }
    f->off[f->trees] = (uint32_t)used;
    if (r.at != r.len) {
        tk_err(err, errlen, "model has %zu unexpected trailing bytes", r.len - r.at);
        goto fail;
    }
    free(depth);
    free(seen);
    *out = f;
    return TK_OK;
fail:
    free(depth);
    free(seen);
    tk_iforest_free(f);
    return rc;
}

int tk_iforest_save(const tk_iforest *f, const char *path, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return tk_err(err, errlen, "%s: path too long", path), TK_EINVAL;
    if (tk_iforest_serialize(f, &buf, &len) != TK_OK)
        return tk_err(err, errlen, "out of memory"), TK_ENOMEM;
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        tk_err(err, errlen, "%s: %s", tmp, strerror(errno));
        free(buf);
        return TK_EIO;
    }
    int ok = fwrite(buf, 1, len, fp) == len;
    ok = (fclose(fp) == 0) && ok;
    free(buf);
    if (!ok || rename(tmp, path) != 0) {
        tk_err(err, errlen, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        return TK_EIO;
    }
    return TK_OK;
}

int tk_iforest_load(const char *path, tk_iforest **out, char *err, size_t errlen)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = tk_read_file(path, MAX_FILE_BYTES, &buf, &len, err, errlen);
    if (rc == TK_EINVAL)
        tk_err(err, errlen, "%s: larger than %u bytes, not a model", path, MAX_FILE_BYTES);
    if (rc == TK_OK) {
        char msg[512];
        rc = tk_iforest_deserialize((const uint8_t *)buf, len, out, msg, sizeof msg);
        if (rc != TK_OK)
            tk_err(err, errlen, "%s: %s", path, msg);
    }
    free(buf);
    return rc;
}
