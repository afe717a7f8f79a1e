/* Results JSON -> a self-contained HTML page (inline CSS, SVG charts drawn
 * here) and a Markdown summary: loading, the table of report kinds, and
 * writing the files. Each kind renders in its own file (report_<kind>.c);
 * the shared formatting is report_fmt.c and the charts report_svg.c.
 *
 * Everything is read through rpt_jnum()/rpt_jget() with dotted paths, which
 * return NAN/NULL for what is missing, so files from other versions render
 * what they have. Strings from the file are untrusted (a step name could
 * carry markup): every one goes through rpt_html_esc() or rpt_md_esc(). */
#include "report_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading ---------------------------------------------------------------- */

tk_report *tk_report_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root) {
        tk_err(err, errlen, "%s:%d:%d: malformed JSON: %s", name ? name : "results", je.line, je.column,
               je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        tk_err(err, errlen, "%s: not a results file (the top level is not a JSON object)", name ? name : "results");
        return NULL;
    }
    tk_report *r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(root);
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    r->root = root;
    snprintf(r->name, sizeof r->name, "%s", name ? name : "results");
    return r;
}

tk_report *tk_report_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tk_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 65536 * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                tk_err(err, errlen, "out of memory reading %s", path);
                return NULL;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        tk_err(err, errlen, "cannot read %s", path);
        return NULL;
    }
    const char *base = strrchr(path, '/');
    tk_report *r = tk_report_parse(buf, len, base ? base + 1 : path, err, errlen);
    free(buf);
    return r;
}

void tk_report_free(tk_report *r)
{
    if (!r)
        return;
    json_decref(r->root);
    free(r);
}

/* ---- field access ------------------------------------------------------------ */

/* ---- kinds ------------------------------------------------------------------------ */

/* First match wins; bench is the default and matches everything. */
static const rpt_kind *const kinds[] = {&rpt_kind_queue_compare, &rpt_kind_scenario, &rpt_kind_tune,
                                        &rpt_kind_capacity, &rpt_kind_bench};

static const rpt_kind *kind_of(const json_t *root)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i]->match(root))
            return kinds[i];
    return &rpt_kind_bench;
}

int tk_report_html(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    return kind_of(r->root)->html(r, f, err, errlen);
}

int tk_report_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    return kind_of(r->root)->markdown(r, f, err, errlen);
}

/* ---- files ---------------------------------------------------------------------------- */

typedef int (*render_fn)(const tk_report *, FILE *, char *, size_t);

static int write_one(const tk_report *r, render_fn fn, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tk_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    char e[256] = "";
    int rc = fn(r, f, e, sizeof e);
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        snprintf(e, sizeof e, "%s", strerror(errno));
    }
    if (rc != 0) {
        remove(path);
        return tk_err(err, errlen, "cannot write %s: %s", path, e);
    }
    return 0;
}

int tk_report_write_files(const char *json_path, const char *out_dir, char *html_path, size_t html_len,
                          char *md_path, size_t md_len, char *err, size_t errlen)
{
    tk_report *r = tk_report_load(json_path, err, errlen);
    if (!r)
        return -1;
    const char *slash = strrchr(json_path, '/');
    const char *base = slash ? slash + 1 : json_path;
    char dir[4096], stem[1024], hp[4096 + 1100], mp[4096 + 1100];
    if (out_dir)
        snprintf(dir, sizeof dir, "%s", out_dir);
    else if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - json_path) ? (int)(slash - json_path) : 1, json_path);
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(stem, sizeof stem, "%s", base);
    size_t sl = strlen(stem);
    if (sl > 5 && strcmp(stem + sl - 5, ".json") == 0)
        stem[sl - 5] = '\0';
    size_t dl = strlen(dir);
    const char *sep = dl > 0 && dir[dl - 1] == '/' ? "" : "/";
    snprintf(hp, sizeof hp, "%s%s%s.html", dir, sep, stem);
    snprintf(mp, sizeof mp, "%s%s%s.md", dir, sep, stem);
    int rc = -1;
    if (write_one(r, tk_report_html, hp, err, errlen) != 0 || write_one(r, tk_report_markdown, mp, err, errlen) != 0)
        goto out;
    if (html_path)
        snprintf(html_path, html_len, "%s", hp);
    if (md_path)
        snprintf(md_path, md_len, "%s", mp);
    rc = 0;
out:
    tk_report_free(r);
    return rc;
}

