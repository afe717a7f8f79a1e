/* JSON text writer (see jsonw.h): one buffer, doubled when full. */
#include "ticketctl/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(tk_jsonw *w, size_t more)
{
    if (w->oom)
        return -1;
    if (w->len + more + 1 <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + more + 1)
        cap *= 2;
    char *nb = realloc(w->buf, cap);
    if (!nb) {
        free(w->buf);
        w->buf = NULL;
        w->len = w->cap = 0;
        w->oom = 1;
        return -1;
    }
    w->buf = nb;
    w->cap = cap;
    return 0;
}

void tk_jsonw_init(tk_jsonw *w, size_t hint)
{
    memset(w, 0, sizeof *w);
    if (grow(w, hint ? hint : 240) == 0)
        w->buf[0] = '\0';
}

void tk_jsonw_raw(tk_jsonw *w, const char *s, size_t n)
{
    if (grow(w, n) != 0)
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void tk_jsonw_lit(tk_jsonw *w, const char *s) { tk_jsonw_raw(w, s, strlen(s)); }

void tk_jsonw_str(tk_jsonw *w, const char *s)
{
    if (!s) {
        tk_jsonw_raw(w, "null", 4);
        return;
    }
    size_t n = strlen(s);
    if (grow(w, n * 6 + 2) != 0) /* worst case: every byte as \u00XX */
        return;
    char *o = w->buf + w->len;
    *o++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *o++ = '\\';
            *o++ = (char)*c;
        } else if (*c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            const char *short_esc = *c == '\n' ? "n" : *c == '\r' ? "r" : *c == '\t' ? "t" : *c == '\b' ? "b"
                                    : *c == '\f' ? "f" : NULL;
            *o++ = '\\';
            if (short_esc) {
                *o++ = *short_esc;
            } else {
                memcpy(o, "u00", 3);
                o[3] = hex[*c >> 4];
                o[4] = hex[*c & 15];
                o += 5;
            }
        } else {
            *o++ = (char)*c;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void tk_jsonw_i64(tk_jsonw *w, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", (long long)v);
    tk_jsonw_raw(w, num, (size_t)n);
}

char *tk_jsonw_take(tk_jsonw *w, size_t *len)
{
    char *out = w->oom ? NULL : w->buf;
    *len = out ? w->len : 0;
    memset(w, 0, sizeof *w);
    return out;
}

void tk_jsonw_discard(tk_jsonw *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}
