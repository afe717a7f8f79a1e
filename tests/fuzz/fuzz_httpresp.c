/* libFuzzer target: the lean load engine's HTTP response parser
 * (conn_feed/parse_head of lib/httpload.c, included to reach them; used
 * read-only).
 *
 * The first byte picks a split step (1..16, or 0: whole). Property: the
 * parser's verdict (complete / more / malformed), the bytes it used and
 * the status and keep-alive it read do not depend on how the bytes were
 * split across reads; never a crash, leak or UB. */
#include "httpload.c"

typedef struct outcome {
    int rc;
    size_t used;
    int status, keep;
} outcome;

static outcome run(const char *p, size_t len, size_t step)
{
    static char head[HEAD_MAX];
    hl_conn c;
    memset(&c, 0, sizeof c);
    c.head = head;
    parser_reset(&c);
    outcome o = {0, 0, 0, 0};
    size_t off = 0;
    if (step == 0)
        step = len ? len : 1;
    while (off < len) {
        size_t n = len - off < step ? len - off : step, used = 0;
        o.rc = conn_feed(&c, p + off, n, &used);
        if (o.rc != 0) {
            o.used = off + used;
            break;
        }
        if (used != n)
            abort(); /* "more needed" must have consumed everything */
        off += n;
        o.used = off;
    }
    o.status = o.rc == 1 ? c.status : 0;
    o.keep = o.rc == 1 ? c.keep : 0;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0] % 17;
    const char *p = (const char *)data + 1;
    size_t len = size - 1;
    outcome whole = run(p, len, 0), split = run(p, len, step);
    if (whole.rc != split.rc)
        abort();
    if (whole.rc == 1 && (whole.used != split.used || whole.status != split.status || whole.keep != split.keep))
        abort();
    if (whole.rc == 1 && (whole.status < 200 || whole.status > 599 || whole.used > len))
        abort();
    return 0;
}
