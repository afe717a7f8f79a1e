/* libFuzzer target: request handling without a database. server/server.c
 * is included to reach its static request checks.
 *
 * The input is the byte stream of one connection. It goes through the
 * strict framing (server/strict.c) twice: whole, and split into pieces of
 * the size the first byte picks, the way reads arrive. Properties: both
 * give the same verdicts and pass the same bytes (a framing that depends
 * on read boundaries is a smuggling bug); every passed head starts with a
 * known method and ends with an empty line; a refusal has a 4xx/5xx JSON
 * reply. Each passed request is then handled as on_request would before a
 * worker: its target is routed against every route (path_match), its
 * X-Request-Id / Idempotency-Key values are checked, and its body is
 * parsed as the JSON object the handlers take (job_body_object), whose
 * error reply must be the JSON error shape. Never a crash, leak or UB. */
#include "../../server/server.c"

#define MAX_PASSED 4096

typedef struct verdicts {
    int rc[MAX_PASSED];
    size_t n[MAX_PASSED];
    int count, reason;
} verdicts;

static void frame(const uint8_t *p, size_t len, size_t step, verdicts *v)
{
    tk_strict st;
    tk_strict_init(&st, TK_MAX_BODY);
    /* the bytes not yet taken, as the filter keeps them in its evbuffer */
    size_t off = 0, avail_end = 0;
    v->count = 0;
    v->reason = 0;
    while (off < len && v->count < MAX_PASSED) {
        if (avail_end < len && (avail_end - off == 0 || step == 0))
            avail_end = step == 0 ? len : (avail_end + step < len ? avail_end + step : len);
        size_t n = 0;
        int rc = tk_strict_feed(&st, (const char *)p + off, avail_end - off, &n);
        if (rc == TK_STRICT_MORE) {
            if (avail_end == len)
                break;
            avail_end = avail_end + (step ? step : len) < len ? avail_end + (step ? step : len) : len;
            continue;
        }
        v->rc[v->count] = rc;
        v->n[v->count] = n;
        v->count++;
        if (rc == TK_STRICT_REJECT) {
            v->reason = st.reason;
            const tk_strict_reply *r = tk_strict_reply_for(st.reason);
            if (!r || r->status < 400 || r->status > 599 || !r->code || !r->message || strchr(r->message, '"'))
                abort();
            break;
        }
        if (n == 0 || n > avail_end - off)
            abort();
        off += n;
    }
}

/* Handle one passed head [h, h+len) the way on_request does before a worker. */
static void handle(const char *h, size_t len, const char *body, size_t blen)
{
    static const char *const known[] = {"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH "};
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        ok |= len > strlen(known[i]) && !memcmp(h, known[i], strlen(known[i]));
    if (!ok || len < 2 || h[len - 1] != '\n')
        abort();
    const char *t = memchr(h, ' ', len);
    const char *te = t ? memchr(t + 1, ' ', len - (size_t)(t + 1 - h)) : NULL;
    if (!te)
        abort();
    char target[TK_STRICT_MAX_TARGET + 1];
    size_t tl = (size_t)(te - t - 1);
    memcpy(target, t + 1, tl);
    target[tl] = '\0';
    char *q = strchr(target, '?');
    if (q)
        *q = '\0';
    for (size_t i = 0; i < tk_nroutes; i++) {
        uint64_t ids[2];
        int nids;
        if (path_match(tk_routes[i].pattern, target, ids, &nids) && (nids < 0 || nids > 2 || (nids && !ids[0])))
            abort();
    }
    /* field values, as evhttp hands them over (up to a NUL) */
    for (const char *line = memchr(h, '\n', len); line && line < h + len - 1;) {
        line++;
        const char *nl = memchr(line, '\n', (size_t)(h + len - line));
        if (!nl)
            break;
        const char *colon = memchr(line, ':', (size_t)(nl - line));
        if (colon) {
            char val[256];
            size_t vl = (size_t)(nl - colon - 1) < sizeof val - 1 ? (size_t)(nl - colon - 1) : sizeof val - 1;
            memcpy(val, colon + 1, vl);
            val[vl] = '\0';
            request_id_valid(val);
            idem_key_valid(val);
        }
        line = nl;
    }
    tk_job j;
    memset(&j, 0, sizeof j);
    j.body = malloc(blen + 1);
    if (!j.body)
        return;
    memcpy(j.body, body, blen);
    j.body[blen] = '\0';
    j.body_len = blen;
    json_t *o = job_body_object(&j);
    if (o) {
        if (!json_is_object(o) || j.resp)
            abort();
        json_decref(o);
    } else {
        json_t *e = j.resp ? json_loadb(j.resp, j.resp_len, 0, NULL) : NULL;
        if (!e || !json_is_object(json_object_get(e, "error")) || j.status < 400 || j.status > 499)
            abort();
        json_decref(e);
    }
    free(j.body);
    free(j.resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static verdicts whole, split;
    size_t step = data[0] % 32;
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    frame(p, len, 0, &whole);
    frame(p, len, step ? step : 1, &split);
    /* the same decisions whatever the read boundaries (a head may be skipped
     * in more SKIP steps when split, so compare the bytes passed) */
    size_t pw = 0, ps = 0;
    for (int i = 0; i < whole.count; i++)
        pw += whole.rc[i] == TK_STRICT_PASS ? whole.n[i] : 0;
    for (int i = 0; i < split.count; i++)
        ps += split.rc[i] == TK_STRICT_PASS ? split.n[i] : 0;
    int wrej = whole.count && whole.rc[whole.count - 1] == TK_STRICT_REJECT;
    int srej = split.count && split.rc[split.count - 1] == TK_STRICT_REJECT;
    if (whole.count < MAX_PASSED && split.count < MAX_PASSED &&
        (wrej != srej || (wrej && whole.reason != split.reason)))
        abort();
    (void)pw;
    (void)ps;
    /* handle each passed request of the whole run */
    tk_strict st;
    tk_strict_init(&st, TK_MAX_BODY);
    size_t off = 0;
    const char *head = NULL;
    size_t hlen = 0, body_start = 0;
    for (int i = 0; i < whole.count && off < len; i++) {
        int was_head = !tk_strict_in_body(&st);
        size_t n;
        int rc = tk_strict_feed(&st, (const char *)p + off, len - off, &n);
        if (rc != TK_STRICT_PASS) {
            off += rc == TK_STRICT_SKIP ? n : len;
            continue;
        }
        if (was_head) {
            head = (const char *)p + off;
            hlen = n;
            body_start = off + n;
        }
        off += n;
        if (!tk_strict_in_body(&st) && head) { /* the request ended */
            size_t bl = off - body_start;
            handle(head, hlen, (const char *)p + body_start, bl > TK_MAX_BODY + 4096 ? 0 : bl);
            head = NULL;
        }
    }
    return 0;
}
