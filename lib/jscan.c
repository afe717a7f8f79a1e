/* tk_jscan: one pass over a JSON list answer, reading only the integers
 * asked for (jscan.h). A cursor over the text; every value is validated
 * while it is skipped, so a truncated or malformed answer is -1, never a
 * partial success. */
#include "jscan.h"

#include <stdint.h>
#include <string.h>

typedef struct cur {
    const char *p, *end;
} cur;

static void ws(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hexd(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* A string at c->p ('"'): its raw bytes [*s, *s + *len) between the quotes;
 * *esc = 1 when it holds an escape. 0, or -1 when malformed. */
static int str(cur *c, const char **s, size_t *len, int *esc)
{
    if (c->p >= c->end || *c->p != '"')
        return -1;
    const char *b = ++c->p;
    *esc = 0;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            *s = b;
            *len = (size_t)(c->p - b);
            c->p++;
            return 0;
        }
        if (ch < 0x20)
            return -1; /* control characters must be escaped */
        if (ch == '\\') {
            *esc = 1;
            if (++c->p >= c->end)
                return -1;
            char e = *c->p;
            if (e == 'u') {
                if (c->end - c->p < 5 || !hexd(c->p[1]) || !hexd(c->p[2]) || !hexd(c->p[3]) || !hexd(c->p[4]))
                    return -1;
                c->p += 4;
            } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                return -1;
            }
        }
        c->p++;
    }
    return -1;
}

/* A number at c->p (RFC 8259 grammar). *iv gets its value when it is an
 * integer that fits int64_t, else TK_JSCAN_ABSENT. 0, or -1 when malformed. */
static int num(cur *c, int64_t *iv)
{
    const char *p = c->p;
    int neg = 0, integer = 1, overflow = 0;
    uint64_t v = 0;
    if (p < c->end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= c->end || *p < '0' || *p > '9')
        return -1;
    if (*p == '0') {
        p++;
    } else {
        for (; p < c->end && *p >= '0' && *p <= '9'; p++) {
            if (v > (UINT64_MAX - 9) / 10)
                overflow = 1;
            else
                v = v * 10 + (uint64_t)(*p - '0');
        }
    }
    if (p < c->end && *p == '.') {
        integer = 0;
        if (++p >= c->end || *p < '0' || *p > '9')
            return -1;
        while (p < c->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < c->end && (*p == 'e' || *p == 'E')) {
        integer = 0;
        if (++p < c->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= c->end || *p < '0' || *p > '9')
            return -1;
        while (p < c->end && *p >= '0' && *p <= '9')
            p++;
    }
    c->p = p;
    if (!integer || overflow || v > (uint64_t)INT64_MAX)
        *iv = TK_JSCAN_ABSENT; /* not an integer, or out of range (INT64_MIN is the "absent" mark) */
    else
        *iv = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int lit(cur *c, const char *w)
{
    size_t k = strlen(w);
    if ((size_t)(c->end - c->p) < k || memcmp(c->p, w, k) != 0)
        return -1;
    c->p += k;
    return 0;
}

/* What to do with each member of an object (key is its raw name, esc when
 * written with escapes) or each element of an array (key NULL): consume the
 * value at c->p; 0, or -1 when malformed. */
typedef int (*each_fn)(cur *c, int depth, const char *key, size_t klen, int esc, void *ctx);

static int value(cur *c, int depth, int64_t *iv);

/* The object or array at c->p ('{' or '['), depth its nesting: each member
 * or element through fn. Returns the number of them, or -1. */
static int walk(cur *c, int depth, each_fn fn, void *ctx)
{
    char close = *c->p == '{' ? '}' : ']';
    int obj = close == '}', n = 0;
    if (depth >= TK_JSCAN_MAX_DEPTH)
        return -1;
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        const char *k = NULL;
        size_t klen = 0;
        int esc = 0;
        if (obj) {
            ws(c);
            if (str(c, &k, &klen, &esc) != 0)
                return -1;
            ws(c);
            if (c->p >= c->end || *c->p++ != ':')
                return -1;
        }
        ws(c);
        if (fn(c, depth + 1, k, klen, esc, ctx) != 0 || n == INT32_MAX)
            return -1;
        n++;
        ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        return *c->p++ == close ? n : -1;
    }
}

static int skip_each(cur *c, int depth, const char *key, size_t klen, int esc, void *ctx)
{
    (void)key;
    (void)klen;
    (void)esc;
    (void)ctx;
    int64_t iv;
    return value(c, depth, &iv);
}

/* Skip any value; *iv: its integer value or TK_JSCAN_ABSENT. */
static int value(cur *c, int depth, int64_t *iv)
{
    const char *s;
    size_t len;
    int esc;
    *iv = TK_JSCAN_ABSENT;
    ws(c);
    if (c->p >= c->end)
        return -1;
    switch (*c->p) {
    case '"':
        return str(c, &s, &len, &esc);
    case 't':
        return lit(c, "true");
    case 'f':
        return lit(c, "false");
    case 'n':
        return lit(c, "null");
    case '{':
    case '[':
        return walk(c, depth, skip_each, NULL) < 0 ? -1 : 0;
    default:
        return num(c, iv);
    }
}

/* s[0..len) (esc: written with escapes) is the name key of length klen
 * (measured once per call of tk_jscan_items, not per member). */
static int key_is(const char *s, size_t len, int esc, const char *key, size_t klen)
{
    return key && s && !esc && klen == len && memcmp(s, key, len) == 0;
}

/* The integers asked for among one object's members. */
typedef struct ints_ctx {
    const char *const *keys;
    const size_t *klens;
    size_t nkeys;
    int64_t *vals;
} ints_ctx;

static int ints_each(cur *c, int depth, const char *key, size_t klen, int esc, void *ctx)
{
    ints_ctx *x = ctx;
    int64_t iv;
    if (value(c, depth, &iv) != 0)
        return -1;
    for (size_t i = 0; i < x->nkeys; i++)
        if (key_is(key, klen, esc, x->keys[i], x->klens[i]))
            x->vals[i] = iv;
    return 0;
}

/* The elements of the array asked for: fn for each object among them. */
typedef struct items_ctx {
    const char *const *keys;
    size_t klens[TK_JSCAN_MAX_KEYS];
    size_t nkeys;
    tk_jscan_fn fn;
    void *ud;
} items_ctx;

static int items_each(cur *c, int depth, const char *key, size_t klen, int esc, void *ctx)
{
    (void)key;
    (void)klen;
    (void)esc;
    items_ctx *x = ctx;
    if (c->p >= c->end || *c->p != '{')
        return skip_each(c, depth, NULL, 0, 0, NULL);
    int64_t vals[TK_JSCAN_MAX_KEYS];
    for (size_t i = 0; i < x->nkeys; i++)
        vals[i] = TK_JSCAN_ABSENT;
    ints_ctx ic = {x->keys, x->klens, x->nkeys, vals};
    if (walk(c, depth, ints_each, &ic) < 0)
        return -1;
    if (x->fn)
        x->fn(x->ud, vals);
    return 0;
}

/* The top-level members: the array, the top-level integer, the rest skipped. */
typedef struct top_ctx {
    const char *array_key, *top_key;
    size_t array_klen, top_klen;
    int64_t *top_val;
    int count;
    items_ctx items;
} top_ctx;

static int top_each(cur *c, int depth, const char *key, size_t klen, int esc, void *ctx)
{
    top_ctx *x = ctx;
    if (key_is(key, klen, esc, x->array_key, x->array_klen)) {
        if (c->p < c->end && *c->p == '[')
            return (x->count = walk(c, depth, items_each, &x->items)) < 0 ? -1 : 0;
        x->count = -1; /* the name is there but not an array */
    }
    int64_t iv;
    if (value(c, depth, &iv) != 0)
        return -1;
    if (x->top_val && key_is(key, klen, esc, x->top_key, x->top_klen))
        *x->top_val = iv;
    return 0;
}

int tk_jscan_items(const char *text, size_t n, const char *array_key, const char *const *keys, size_t nkeys,
                   tk_jscan_fn fn, void *ud, const char *top_key, int64_t *top_val)
{
    if (top_val)
        *top_val = TK_JSCAN_ABSENT;
    if (!text || !array_key || nkeys > TK_JSCAN_MAX_KEYS || (nkeys && !keys))
        return -1;
    cur c = {text, text + n};
    top_ctx x = {array_key, top_key, strlen(array_key), top_key ? strlen(top_key) : 0, top_val, -1,
                 {keys, {0}, nkeys, fn, ud}};
    for (size_t i = 0; i < nkeys; i++)
        x.items.klens[i] = keys[i] ? strlen(keys[i]) : 0;
    ws(&c);
    if (c.p >= c.end || *c.p != '{' || walk(&c, 0, top_each, &x) < 0)
        return -1;
    ws(&c);
    if (c.p != c.end)
        return -1; /* trailing bytes */
    return x.count;
}
