/* Shared helpers: return-code names, clocks, parsing of numbers and durations. */
#include "ticketctl/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

const char *tk_rc_name(tk_rc rc)
{
    static const char *names[] = {
        [TK_OK] = "TK_OK", [TK_EINVAL] = "TK_EINVAL", [TK_ENOTFOUND] = "TK_ENOTFOUND",
        [TK_ECONFLICT] = "TK_ECONFLICT", [TK_EFUNDS] = "TK_EFUNDS", [TK_EEXPIRED] = "TK_EEXPIRED",
        [TK_EEXISTS] = "TK_EEXISTS", [TK_EAUTH] = "TK_EAUTH", [TK_EFORBIDDEN] = "TK_EFORBIDDEN",
        [TK_EBUSY] = "TK_EBUSY", [TK_EBACKEND] = "TK_EBACKEND", [TK_ENOMEM] = "TK_ENOMEM",
        [TK_EIO] = "TK_EIO",
    };
    if ((unsigned)rc < sizeof(names) / sizeof(names[0]) && names[rc])
        return names[rc];
    return "TK_UNKNOWN";
}

uint64_t tk_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t tk_mono_ms(void) { return tk_mono_us() / 1000u; }

int64_t tk_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tk_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int tk_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int tk_parse_duration_ms(const char *s, int64_t *out_ms)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    double mul;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else
        return -1;
    double ms = v * mul;
    if (ms > 9.0e15)
        return -1;
    *out_ms = (int64_t)ms;
    return 0;
}

long tk_raise_nofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rlim_t target = rl.rlim_max;
    if (want > 0 && (rlim_t)want < target)
        target = (rlim_t)want;
    if (rl.rlim_cur < target) {
        rl.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

int tk_read_file(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tk_err(err, errlen, "%s: %s", path, strerror(errno)), TK_EIO;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = TK_OK;
    for (;;) {
        if (len + 1 >= cap) {
            if (max && cap > max) {
                rc = TK_EINVAL;
                tk_err(err, errlen, "%s: larger than %zu bytes", path, max);
                break;
            }
            cap = cap ? cap * 2 : 1 << 16;
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = TK_ENOMEM;
                tk_err(err, errlen, "out of memory reading %s", path);
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, fp);
        len += got;
        if (got == 0) {
            if (ferror(fp)) {
                rc = TK_EIO;
                tk_err(err, errlen, "%s: read error", path);
            }
            break;
        }
    }
    fclose(fp);
    if (rc == TK_OK && max && len > max) {
        rc = TK_EINVAL;
        tk_err(err, errlen, "%s: larger than %zu bytes", path, max);
    }
    if (rc != TK_OK) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return TK_OK;
}
