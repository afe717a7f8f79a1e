/* tk_jscan: one pass over a JSON list answer, reading only the integers
 * asked for (jscan.h). A cursor over the text; every value is validated
 * while it is skipped, so a truncated or malformed answer is -1, never a
 * partial success. */
#include "jscan.h"

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
    case '[': {
        char close = *c->p == '{' ? '}' : ']';
        int obj = close == '}';
        if (depth >= TK_JSCAN_MAX_DEPTH)
            return -1;
        c->p++;
        ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return 0;
        }
        for (;;) {
            int64_t dummy;
            if (obj) {
                ws(c);
                if (str(c, &s, &len, &esc) != 0)
                    return -1;
                ws(c);
                if (c->p >= c->end || *c->p++ != ':')
                    return -1;
            }
            if (value(c, depth + 1, &dummy) != 0)
                return -1;
            ws(c);
            if (c->p >= c->end)
                return -1;
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p++ != close)
                return -1;
            return 0;
        }
    }
    default:
        return num(c, iv);
    }
}

static int key_is(const char *s, size_t len, int esc, const char *key)
{
    return key && !esc && strlen(key) == len && memcmp(s, key, len) == 0;
}

/* The members of an object at c->p ('{'); vals[i] for keys[i]. */
static int object_ints(cur *c, int depth, const char *const *keys, size_t nkeys, int64_t *vals)
{
    const char *s;
    size_t len;
    int esc;
    for (size_t i = 0; i < nkeys; i++)
        vals[i] = TK_JSCAN_ABSENT;
    if (depth >= TK_JSCAN_MAX_DEPTH)
        return -1;
    c->p++; /* '{' */
    ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 0;
    }
    for (;;) {
        ws(c);
        if (str(c, &s, &len, &esc) != 0)
            return -1;
        ws(c);
        if (c->p >= c->end || *c->p++ != ':')
            return -1;
        int64_t iv;
        if (value(c, depth + 1, &iv) != 0)
            return -1;
        for (size_t i = 0; i < nkeys; i++)
            if (key_is(s, len, esc, keys[i]))
                vals[i] = iv;
        ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        return *c->p++ == '}' ? 0 : -1;
    }
}

/* The array at c->p ('['): fn for each object element; returns the count. */
static int items(cur *c, const char *const *keys, size_t nkeys, tk_jscan_fn fn, void *ud)
{
    int n = 0;
    c->p++; /* '[' */
    ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return 0;
    }
    for (;;) {
        ws(c);
        if (c->p < c->end && *c->p == '{') {
            int64_t vals[TK_JSCAN_MAX_KEYS];
            if (object_ints(c, 2, keys, nkeys, vals) != 0)
                return -1;
            if (fn)
                fn(ud, vals);
        } else {
            int64_t iv;
            if (value(c, 2, &iv) != 0)
                return -1;
        }
        if (n == INT32_MAX)
            return -1;
        n++;
        ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        return *c->p++ == ']' ? n : -1;
    }
}

int tk_jscan_items(const char *text, size_t n, const char *array_key, const char *const *keys, size_t nkeys,
                   tk_jscan_fn fn, void *ud, const char *top_key, int64_t *top_val)
{
    cur c = {text, text + n};
    const char *s;
    size_t len;
    int esc, count = -1;
    if (top_val)
        *top_val = TK_JSCAN_ABSENT;
    if (!text || !array_key || nkeys > TK_JSCAN_MAX_KEYS || (nkeys && !keys))
        return -1;
    ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return -1;
    c.p++;
    ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            ws(&c);
            if (str(&c, &s, &len, &esc) != 0)
                return -1;
            ws(&c);
            if (c.p >= c.end || *c.p++ != ':')
                return -1;
            ws(&c);
            int64_t iv;
            if (key_is(s, len, esc, array_key) && c.p < c.end && *c.p == '[') {
                if ((count = items(&c, keys, nkeys, fn, ud)) < 0)
                    return -1;
            } else {
                if (value(&c, 1, &iv) != 0)
                    return -1;
                if (top_val && key_is(s, len, esc, top_key))
                    *top_val = iv;
                if (key_is(s, len, esc, array_key))
                    count = -1; /* the name is there but not an array */
            }
            ws(&c);
            if (c.p >= c.end)
                return -1;
            if (*c.p == ',') {
                c.p++;
                continue;
            }
            if (*c.p++ != '}')
                return -1;
            break;
        }
    }
    ws(&c);
    if (c.p != c.end)
        return -1; /* trailing bytes */
    return count;
}
