/* Contextual Anomaly Detector (CAD OSE); see ticketctl/cad.h for what it
 * computes and where it comes from.
 *
 * Layout: two "sides" (left and right semi-contexts), each with its facts
 * pool, a hash -> semi-context map, and per fact the list of semi-contexts
 * holding it (what a step "crosses"). A context is a (left, right) pair of
 * semi-contexts; each left one lists its pairs. A crossing touches only the
 * semi-contexts that hold one of the step's facts (per-step stamps stand in
 * for clearing every count), so a step costs what the step's facts reach,
 * not the whole memory. */
#include "ticketctl/cad.h"
#include "ticketctl/common.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FACT_SENSOR 65536u
#define FACT_NEURON 0x80000000u
#define SIGN_BIT 40u /* the fact of a value below the range */

/* ---- small containers ------------------------------------------------------ */

typedef struct u32vec {
    uint32_t *v;
    size_t n, cap;
} u32vec;

static int vec_push(u32vec *a, uint32_t x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 8;
        uint32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

typedef struct slot {
    uint64_t key;
    uint32_t val, used;
} slot;

typedef struct hmap {
    slot *s;
    size_t cap, n; /* cap a power of two, load <= 1/2 */
} hmap;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static int hmap_get(const hmap *h, uint64_t key, uint32_t *val)
{
    if (!h->cap)
        return 0;
    for (size_t i = mix64(key) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        if (!h->s[i].used)
            return 0;
        if (h->s[i].key == key) {
            *val = h->s[i].val;
            return 1;
        }
    }
}

static int hmap_put(hmap *h, uint64_t key, uint32_t val)
{
    if (2 * (h->n + 1) > h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        slot *s = calloc(cap, sizeof *s);
        if (!s)
            return -1;
        for (size_t j = 0; j < h->cap; j++) {
            if (!h->s[j].used)
                continue;
            size_t i = mix64(h->s[j].key) & (cap - 1);
            while (s[i].used)
                i = (i + 1) & (cap - 1);
            s[i] = h->s[j];
        }
        free(h->s);
        h->s = s;
        h->cap = cap;
    }
    size_t i = mix64(key) & (h->cap - 1);
    while (h->s[i].used && h->s[i].key != key)
        i = (i + 1) & (h->cap - 1);
    if (!h->s[i].used)
        h->n++;
    h->s[i] = (slot){.key = key, .val = val, .used = 1};
    return 0;
}

static uint64_t facts_hash(const uint32_t *f, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < n; i++)
        h = mix64(h ^ f[i]) + 0x632be59bd9b4e019ULL;
    return h;
}

/* ---- semi-contexts and contexts --------------------------------------------- */

typedef struct semi {
    uint32_t off, len;     /* facts: pool[off .. off + len) */
    uint32_t crossed;      /* facts present at the last crossing (valid when stamp matches) */
    uint32_t stamp;
    uint64_t hash;
    u32vec pairs;          /* left side: (right id, context id) pairs, flattened */
} semi;

typedef struct side {
    semi *s;
    size_t n, cap;
    u32vec pool;
    hmap byhash;           /* facts hash -> semi id */
    hmap byfact;           /* fact -> index into lists */
    u32vec *lists;         /* semi ids holding a fact */
    size_t nlists, caplists;
    u32vec touched;        /* semi ids crossed at the last crossing, ascending */
    uint32_t stamp;
} side;

typedef struct context {
    uint64_t selected;     /* sum of the right part's size over the steps its left part was fully present */
    uint64_t followed;     /* sum of the right facts present on those steps */
    uint32_t activations;  /* steps the right part followed in full */
    uint32_t left, right;
    uint8_t zero_level;
} context;

struct active_key;

struct tk_cad {
    tk_cad_params p;
    struct active_key *keys; /* sort buffer of the active contexts */
    size_t capkeys;
    side sd[2];
    context *c;
    size_t nc, capc;
    hmap pair;             /* left id << 32 | right id -> context id */
    uint32_t new_ctx;      /* the zero-level context stored this step (0: none, as in CAD OSE where
                            * False == 0, so context 0 is never updated) */
    u32vec left_group, pred, facts, pot, active, scratch;
    double lo, hi;
    double last_raw;       /* the last score before the rest period */
    size_t seen, last_high; /* index of the last score >= base_threshold (1-based records; 0: the seed) */
};

static uint32_t crossed(const side *s, uint32_t id) { return s->s[id].stamp == s->stamp ? s->s[id].crossed : 0; }

static void side_free(side *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->s[i].pairs.v);
    for (size_t i = 0; i < s->nlists; i++)
        free(s->lists[i].v);
    free(s->s);
    free(s->pool.v);
    free(s->byhash.s);
    free(s->byfact.s);
    free(s->lists);
    free(s->touched.v);
}

/* The id of the semi-context holding facts f[n] (sorted), made if absent
 * and make is set. 1 found, 0 absent (not made), -1 out of memory. */
static int semi_get(side *s, const uint32_t *f, size_t n, int make, uint32_t *id)
{
    uint64_t h = facts_hash(f, n);
    if (hmap_get(&s->byhash, h, id))
        return 1;
    if (!make)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        semi *ns = realloc(s->s, cap * sizeof *ns);
        if (!ns)
            return -1;
        s->s = ns;
        s->cap = cap;
    }
    uint32_t sid = (uint32_t)s->n;
    semi *m = &s->s[sid];
    memset(m, 0, sizeof *m);
    m->off = (uint32_t)s->pool.n;
    m->len = (uint32_t)n;
    m->hash = h;
    for (size_t i = 0; i < n; i++)
        if (vec_push(&s->pool, f[i]) != 0)
            return -1;
    if (hmap_put(&s->byhash, h, sid) != 0)
        return -1;
    s->n++;
    for (size_t i = 0; i < n; i++) {
        uint32_t li;
        if (!hmap_get(&s->byfact, f[i], &li)) {
            if (s->nlists == s->caplists) {
                size_t cap = s->caplists ? 2 * s->caplists : 64;
                u32vec *nl = realloc(s->lists, cap * sizeof *nl);
                if (!nl)
                    return -1;
                s->lists = nl;
                s->caplists = cap;
            }
            li = (uint32_t)s->nlists++;
            s->lists[li] = (u32vec){0};
            if (hmap_put(&s->byfact, f[i], li) != 0)
                return -1;
        }
        if (vec_push(&s->lists[li], sid) != 0)
            return -1;
    }
    *id = sid;
    return 1;
}

/* CAD OSE's getContextByFacts for one (left, right) pair: 1 when a new
 * context was stored, 0 when it existed (a zero-level one marks it so) or
 * the cap is reached, -1 out of memory. */
static int context_get(tk_cad *d, const uint32_t *l, size_t nl, const uint32_t *r, size_t nr, int zero_level)
{
    int make = d->nc < d->p.max_contexts;
    uint32_t lid, rid, cid;
    int a = semi_get(&d->sd[0], l, nl, make, &lid), b = a > 0 ? semi_get(&d->sd[1], r, nr, make, &rid) : a;
    if (a < 0 || b < 0)
        return -1;
    if (!a || !b)
        return 0;
    uint64_t key = (uint64_t)lid << 32 | rid;
    if (hmap_get(&d->pair, key, &cid)) {
        if (zero_level)
            d->c[cid].zero_level = 1;
        return 0;
    }
    if (!make)
        return 0;
    if (d->nc == d->capc) {
        size_t cap = d->capc ? 2 * d->capc : 256;
        context *nc = realloc(d->c, cap * sizeof *nc);
        if (!nc)
            return -1;
        d->c = nc;
        d->capc = cap;
    }
    cid = (uint32_t)d->nc;
    if (hmap_put(&d->pair, key, cid) != 0 || vec_push(&d->sd[0].s[lid].pairs, rid) != 0 ||
        vec_push(&d->sd[0].s[lid].pairs, cid) != 0)
        return -1;
    d->c[cid] = (context){.left = lid, .right = rid, .zero_level = (uint8_t)zero_level};
    d->nc++;
    if (zero_level)
        d->new_ctx = cid;
    return 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_u32(u32vec *a)
{
    if (a->n > 1)
        qsort(a->v, a->n, sizeof *a->v, cmp_u32);
}

/* Count, for every semi-context of side s, how many of facts f[n] it holds. */
static int cross(side *s, const uint32_t *f, size_t n)
{
    s->stamp++;
    s->touched.n = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t li;
        if (!hmap_get(&s->byfact, f[i], &li))
            continue;
        const u32vec *l = &s->lists[li];
        for (size_t k = 0; k < l->n; k++) {
            semi *m = &s->s[l->v[k]];
            if (m->stamp != s->stamp) {
                m->stamp = s->stamp;
                m->crossed = 0;
                if (vec_push(&s->touched, l->v[k]) != 0)
                    return -1;
            }
            m->crossed++;
        }
    }
    /* ascending ids, as CAD OSE walks its semi-contexts: when the crossing
     * reached a good part of them a scan of the stamps is cheaper than a
     * sort (perf: the sort was 30% of the time), and gives the same order */
    if (s->touched.n * 8 > s->n) {
        s->touched.n = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->s[i].stamp == s->stamp)
                s->touched.v[s->touched.n++] = (uint32_t)i;
    } else
        sort_u32(&s->touched);
    return 0;
}

/* Sorted intersection of a[na] and b[nb] appended to out as [n, facts...]. */
static int push_intersection(u32vec *out, const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    size_t at = out->n;
    if (vec_push(out, 0) != 0)
        return -1;
    for (size_t i = 0, j = 0; i < na && j < nb;) {
        if (a[i] < b[j])
            i++;
        else if (a[i] > b[j])
            j++;
        else {
            if (vec_push(out, a[i]) != 0)
                return -1;
            out->v[at]++;
            i++;
            j++;
        }
    }
    return 0;
}

/* CAD OSE's updateContextsAndGetActive: after the right crossing, update
 * the contexts of the left semi-contexts crossed at the previous step;
 * d->active gets the active contexts, d->pot the potential new ones. */
static int update_contexts(tk_cad *d, int new_flag, size_t *selected)
{
    side *L = &d->sd[0], *R = &d->sd[1];
    d->active.n = d->pot.n = 0;
    *selected = 0;
    for (size_t t = 0; t < L->touched.n; t++) {
        uint32_t lid = L->touched.v[t];
        const semi *ls = &L->s[lid];
        int full = ls->len == ls->crossed;
        for (size_t k = 0; k + 1 < ls->pairs.n; k += 2) {
            uint32_t rid = ls->pairs.v[k], cid = ls->pairs.v[k + 1];
            if (cid == d->new_ctx)
                continue;
            context *c = &d->c[cid];
            const semi *rs = &R->s[rid];
            uint32_t rc = crossed(R, rid);
            int pot = 0;
            if (full) {
                (*selected)++;
                c->selected += rs->len;
                if (rc > 0) {
                    c->followed += rc;
                    if (rc == rs->len) {
                        c->activations++;
                        if (vec_push(&d->active, cid) != 0)
                            return -1;
                    } else
                        pot = 1;
                }
            } else
                pot = rc > 0;
            if (pot && c->zero_level && new_flag && ls->crossed <= d->p.max_left &&
                (push_intersection(&d->pot, L->pool.v + ls->off, ls->len, d->left_group.v, d->left_group.n) != 0 ||
                 push_intersection(&d->pot, R->pool.v + rs->off, rs->len, d->facts.v, d->facts.n) != 0))
                return -1;
        }
    }
    d->new_ctx = 0;
    return 0;
}

/* An active context with its sort key (activations, then the semi-context
 * hashes, as CAD OSE sorts them). */
typedef struct active_key active_key;
struct active_key {
    uint32_t activations, id;
    uint64_t lh, rh;
};

static int cmp_active(const void *a, const void *b)
{
    const active_key *x = a, *y = b;
    if (x->activations != y->activations)
        return x->activations < y->activations ? -1 : 1;
    if (x->lh != y->lh)
        return x->lh < y->lh ? -1 : 1;
    return x->rh < y->rh ? -1 : x->rh > y->rh;
}

/* d->active sorted ascending by that key (qsort's comparator has no context
 * argument, so the keys are copied out into d->keys; a static would not be
 * thread-safe). */
static int sort_active(tk_cad *d)
{
    if (d->active.n < 2)
        return 0;
    if (d->active.n > d->capkeys) {
        active_key *nk = realloc(d->keys, d->active.n * sizeof *nk);
        if (!nk)
            return -1;
        d->keys = nk;
        d->capkeys = d->active.n;
    }
    active_key *k = d->keys;
    for (size_t i = 0; i < d->active.n; i++) {
        const context *c = &d->c[d->active.v[i]];
        k[i] = (active_key){c->activations, d->active.v[i], d->sd[0].s[c->left].hash, d->sd[1].s[c->right].hash};
    }
    qsort(k, d->active.n, sizeof *k, cmp_active);
    for (size_t i = 0; i < d->active.n; i++)
        d->active.v[i] = k[i].id;
    return 0;
}

/* Distinct (left, right) pairs among the zero-level one (when z) and d->pot. */
static size_t unique_potential(tk_cad *d, int z)
{
    size_t n = 0, cap = d->pot.n / 2 + 2;
    uint64_t *k = malloc(2 * cap * sizeof *k);
    if (!k)
        return 0;
    if (z) {
        k[0] = facts_hash(d->left_group.v, d->left_group.n);
        k[1] = facts_hash(d->facts.v, d->facts.n);
        n = 1;
    }
    for (size_t i = 0; i < d->pot.n;) {
        size_t nl = d->pot.v[i], nr = d->pot.v[i + 1 + nl];
        k[2 * n] = facts_hash(d->pot.v + i + 1, nl);
        k[2 * n + 1] = facts_hash(d->pot.v + i + 2 + nl, nr);
        n++;
        i += 2 + nl + nr;
    }
    size_t u = 0;
    for (size_t i = 0; i < n; i++) { /* n is small: the potential contexts of one step */
        size_t j = 0;
        while (j < i && !(k[2 * j] == k[2 * i] && k[2 * j + 1] == k[2 * i + 1]))
            j++;
        u += j == i;
    }
    free(k);
    return u;
}

/* One CAD OSE step over the sensor facts in d->facts: updates d->pred (the
 * next step's predicted facts); *a1: active / selected, *a2: added /
 * potential. */
static int step(tk_cad *d, double *a1, double *a2)
{
    int new_flag = 0;
    if (d->left_group.n && d->facts.n && (new_flag = context_get(d, d->left_group.v, d->left_group.n, d->facts.v,
                                                                  d->facts.n, 1)) < 0)
        return -1;
    int z = d->left_group.n && d->facts.n;
    if (cross(&d->sd[1], d->facts.v, d->facts.n) != 0)
        return -1;
    size_t selected;
    if (update_contexts(d, new_flag, &selected) != 0)
        return -1;
    size_t uniq = unique_potential(d, z);
    *a1 = selected ? (double)d->active.n / (double)selected : 0.0;
    if (sort_active(d) != 0)
        return -1;
    size_t from = d->active.n > d->p.max_active ? d->active.n - d->p.max_active : 0;
    /* the new left group: the sensor facts, then the neurons (all above them) */
    d->left_group.n = 0;
    for (size_t i = 0; i < d->facts.n; i++)
        if (vec_push(&d->left_group, d->facts.v[i]) != 0)
            return -1;
    d->scratch.n = 0;
    for (size_t i = from; i < d->active.n; i++)
        if (vec_push(&d->scratch, FACT_NEURON + d->active.v[i]) != 0)
            return -1;
    sort_u32(&d->scratch);
    for (size_t i = 0; i < d->scratch.n; i++)
        if (vec_push(&d->left_group, d->scratch.v[i]) != 0)
            return -1;
    /* store the potential contexts, then cross the left side */
    size_t added = new_flag ? 1 : 0;
    for (size_t i = 0; i < d->pot.n;) {
        size_t nl = d->pot.v[i], nr = d->pot.v[i + 1 + nl];
        int r = context_get(d, d->pot.v + i + 1, nl, d->pot.v + i + 2 + nl, nr, 0);
        if (r < 0)
            return -1;
        added += (size_t)r;
        i += 2 + nl + nr;
    }
    *a2 = new_flag && uniq ? (double)added / (double)uniq : 0.0;
    side *L = &d->sd[0];
    if (cross(L, d->left_group.v, d->left_group.n) != 0)
        return -1;
    double best = 0;
    d->scratch.n = 0; /* the predicting contexts */
    for (size_t t = 0; t < L->touched.n; t++) {
        const semi *ls = &L->s[L->touched.v[t]];
        if (ls->len != ls->crossed)
            continue;
        for (size_t k = 0; k + 1 < ls->pairs.n; k += 2) {
            const context *c = &d->c[ls->pairs.v[k + 1]];
            double w = c->selected ? (double)c->followed / (double)c->selected : 0.0;
            if (w > best) {
                best = w;
                d->scratch.n = 0;
            }
            if (w == best && vec_push(&d->scratch, ls->pairs.v[k + 1]) != 0)
                return -1;
        }
    }
    d->pred.n = 0;
    for (size_t i = 0; i < d->scratch.n; i++) {
        const semi *rs = &d->sd[1].s[d->c[d->scratch.v[i]].right];
        for (size_t j = 0; j < rs->len; j++)
            if (vec_push(&d->pred, d->sd[1].pool.v[rs->off + j]) != 0)
                return -1;
    }
    sort_u32(&d->pred);
    size_t u = 0;
    for (size_t i = 0; i < d->pred.n; i++)
        if (!u || d->pred.v[u - 1] != d->pred.v[i])
            d->pred.v[u++] = d->pred.v[i];
    d->pred.n = u;
    return 0;
}

/* ---- public ------------------------------------------------------------------ */

void tk_cad_defaults(tk_cad_params *p, size_t probation)
{
    memset(p, 0, sizeof *p);
    p->bits = 3;
    p->max_left = 7;
    p->max_active = 15;
    p->rest = (unsigned)(probation / 5);
    p->base_threshold = 0.75;
    p->max_contexts = 4000000;
}

void tk_cad_free(tk_cad *d)
{
    if (!d)
        return;
    side_free(&d->sd[0]);
    side_free(&d->sd[1]);
    free(d->c);
    free(d->pair.s);
    free(d->left_group.v);
    free(d->pred.v);
    free(d->facts.v);
    free(d->pot.v);
    free(d->active.v);
    free(d->scratch.v);
    free(d->keys);
    free(d);
}

tk_cad *tk_cad_new(const tk_cad_params *p, char *err, size_t errlen)
{
    if (p->bits < 1 || p->bits > 16 || p->max_left < 1 || p->max_active < 1 || p->max_active > 100000 ||
        !(p->base_threshold > 0) || p->max_contexts < 1 || p->max_contexts > (FACT_NEURON - 1)) {
        tk_err(err, errlen, "cad: bits 1..16, max_left >= 1, max_active 1..100000, base threshold > 0, "
                            "max contexts 1..2^31-1");
        return NULL;
    }
    tk_cad *d = calloc(1, sizeof *d);
    if (!d) {
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    d->p = *p;
    return d;
}

size_t tk_cad_contexts(const tk_cad *d) { return d->nc; }
double tk_cad_last_raw(const tk_cad *d) { return d->last_raw; }

/* The sensor facts of v in d->facts (sorted): bit s of the quantised value
 * is fact 65536 + 2 s + bit, as CAD OSE writes them. */
static int encode(tk_cad *d, double v)
{
    double maxbin = ldexp(1.0, (int)d->p.bits) - 1, range = d->hi - d->lo;
    double step = range > 0 ? range / maxbin : 1.0;
    double q = (v - d->lo) / step;
    q = q > 1048575 ? 1048575 : q < -1048575 ? -1048575 : q;
    long n = (long)q; /* truncation toward zero, as Python's int() */
    unsigned long m = (unsigned long)(n < 0 ? -n : n);
    d->facts.n = 0;
    for (unsigned s = 0; s < d->p.bits || (m >> s); s++)
        if (vec_push(&d->facts, FACT_SENSOR + 2 * s + ((m >> s) & 1)) != 0)
            return -1;
    if (n < 0 && vec_push(&d->facts, FACT_SENSOR + 2 * SIGN_BIT + 1) != 0)
        return -1;
    return 0;
}

double tk_cad_update(tk_cad *d, double v)
{
    if (d->seen == 0 && d->p.known_range) {
        d->lo = d->p.lo;
        d->hi = d->p.hi;
    } else if (d->seen == 0)
        d->lo = d->hi = v;
    double score = 0;
    if (encode(d, v) == 0) {
        /* a fact the previous step did not predict (both lists sorted) */
        int missed = 0;
        for (size_t i = 0, j = 0; i < d->facts.n && !missed; i++) {
            while (j < d->pred.n && d->pred.v[j] < d->facts.v[i])
                j++;
            missed = j == d->pred.n || d->pred.v[j] != d->facts.v[i];
        }
        double a1, a2;
        if (step(d, &a1, &a2) == 0)
            score = missed ? (1.0 - a1 + a2) / 2.0 : 0.0;
    }
    if (!d->p.known_range && (!d->p.calibration || d->seen < d->p.calibration)) {
        d->lo = v < d->lo ? v : d->lo;
        d->hi = v > d->hi ? v : d->hi;
    }
    d->seen++; /* this record's index in CAD OSE's score history (the seed 1.0 is index 0) */
    int quiet = d->last_high + d->p.rest >= d->seen;
    if (score >= d->p.base_threshold)
        d->last_high = d->seen;
    d->last_raw = score;
    return quiet ? 0.0 : score;
}
