/* Response helpers: one place for the JSON error shape and the mapping of
 * library return codes to HTTP statuses. */
#include "internal.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void job_reply_text(tk_job *j, int status, char *json, size_t len)
{
    free(j->resp);
    j->resp = json;
    if (!j->resp) {
        j->status = 500;
        j->resp = strdup("{\"error\":{\"code\":\"INTERNAL\",\"message\":\"could not render the response\"}}");
        len = j->resp ? strlen(j->resp) : 0;
    } else {
        j->status = status;
    }
    j->resp_len = j->resp ? len : 0;
}

void job_reply_json(tk_job *j, int status, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    job_reply_text(j, status, text, text ? strlen(text) : 0);
}

void job_reply_error(tk_job *j, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof msg) { /* cut mid-character? drop the partial one */
        size_t len = strlen(msg), start = len ? len - 1 : 0;
        while (start > 0 && ((unsigned char)msg[start] & 0xC0) == 0x80)
            start--;
        unsigned char lead = (unsigned char)msg[start];
        size_t need = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
        if (start + need > len)
            msg[start] = '\0';
    }
    job_reply_json(j, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

int tk_rc_http_status(tk_rc rc)
{
    switch (rc) {
    case TK_OK: return 200;
    case TK_EINVAL: return 422;
    case TK_ENOTFOUND: return 404;
    case TK_ECONFLICT:
    case TK_EFUNDS:
    case TK_EEXPIRED:
    case TK_EEXISTS: return 409;
    case TK_EAUTH: return 401;
    case TK_EFORBIDDEN: return 403;
    case TK_EBUSY:
    case TK_EBACKEND: return 503;
    default: return 500;
    }
}

void job_reply_store(tk_job *j, tk_rc rc, tk_store *s)
{
    job_reply_error(j, tk_rc_http_status(rc), tk_store_errcode(s), "%s", tk_store_errmsg(s));
}

json_t *job_body_object(tk_job *j)
{
    if (j->body_len > TK_MAX_BODY) {
        job_reply_error(j, 413, "PAYLOAD_TOO_LARGE", "request body over %d bytes", TK_MAX_BODY);
        return NULL;
    }
    if (j->body_len == 0) {
        job_reply_error(j, 400, "BAD_JSON", "a JSON object body is required");
        return NULL;
    }
    json_error_t e;
    json_t *root = json_loadb(j->body, j->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!root) {
        job_reply_error(j, 400, "BAD_JSON", "malformed JSON at line %d column %d: %s", e.line, e.column, e.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        job_reply_error(j, 400, "BAD_JSON", "the body must be a JSON object");
        return NULL;
    }
    return root;
}

const char *job_query(tk_job *j, const char *name)
{
    return j->query ? evhttp_find_header(j->query, name) : NULL;
}
