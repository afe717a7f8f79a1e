/* A bench results file as JUnit XML, for CI systems that show test results
 * (GitLab, Jenkins, GitHub's test reporters): one test suite per kind of
 * gate (thresholds, invariants, the generator's self-check), one test case
 * per gate, a <failure> with the numbers for each one that did not hold.
 * The format is the common subset those tools read (the Ant JUnit schema:
 * testsuites > testsuite > testcase > failure/skipped). */
#include "report_int.h"

#include <errno.h>
#include <string.h>

/* XML character data / attribute value: the five entities, and control
 * characters (not allowed in XML 1.0) as '?'. */
static void xml_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                fputc('?', f);
            else
                fputc(c, f);
        }
    }
}

static void testcase(FILE *f, const char *suite, const char *name, int ok, int skipped, const char *detail)
{
    fputs("    <testcase classname=\"ticketctl.", f);
    xml_esc(f, suite);
    fputs("\" name=\"", f);
    xml_esc(f, name);
    if (ok && !skipped) {
        fputs("\"/>\n", f);
        return;
    }
    fputs("\">\n      <", f);
    fputs(skipped ? "skipped" : "failure", f);
    fputs(" message=\"", f);
    xml_esc(f, detail && *detail ? detail : skipped ? "not measured" : "failed");
    fputs("\"/>\n    </testcase>\n", f);
}

static size_t failed_in(json_t *arr)
{
    size_t i, n = 0;
    json_t *it;
    json_array_foreach(arr, i, it) n += !json_is_true(json_object_get(it, "ok"));
    return n;
}

int tk_report_junit(const tk_report *r, FILE *f, size_t *failed, char *err, size_t errlen)
{
    json_t *th = rpt_jget(r->root, "thresholds"), *inv = rpt_jget(r->root, "invariants");
    json_t *valid = rpt_jget(r->root, "valid");
    size_t nth = json_is_array(th) ? json_array_size(th) : 0, ninv = json_is_array(inv) ? json_array_size(inv) : 0;
    size_t fth = nth ? failed_in(th) : 0, finv = ninv ? failed_in(inv) : 0;
    int has_gen = json_is_boolean(valid), fgen = has_gen && !json_is_true(valid);
    if (failed)
        *failed = fth + finv + (size_t)fgen;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ticketctl ", f);
    xml_esc(f, rpt_jstr(r->root, "kind") ? rpt_jstr(r->root, "kind") : "bench");
    fputs(": ", f);
    xml_esc(f, r->name);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\">\n", nth + ninv + (size_t)has_gen, fth + finv + (size_t)fgen);
    fprintf(f, "  <testsuite name=\"thresholds\" tests=\"%zu\" failures=\"%zu\">\n", nth, fth);
    size_t i;
    json_t *it;
    if (nth)
        json_array_foreach(th, i, it) {
            /* a threshold whose metric was not measured has actual == null: it failed, say why */
            testcase(f, "thresholds", rpt_jstr(it, "threshold") ? rpt_jstr(it, "threshold") : "?",
                     json_is_true(json_object_get(it, "ok")), 0, rpt_jstr(it, "detail"));
        }
    fputs("  </testsuite>\n", f);
    fprintf(f, "  <testsuite name=\"invariants\" tests=\"%zu\" failures=\"%zu\">\n", ninv, finv);
    if (ninv)
        json_array_foreach(inv, i, it) {
            testcase(f, "invariants", rpt_jstr(it, "name") ? rpt_jstr(it, "name") : "?",
                     json_is_true(json_object_get(it, "ok")), 0, rpt_jstr(it, "detail"));
        }
    fputs("  </testsuite>\n", f);
    fprintf(f, "  <testsuite name=\"generator\" tests=\"%d\" failures=\"%d\">\n", has_gen, fgen);
    if (has_gen)
        testcase(f, "generator", "load generator not saturated", !fgen, 0,
                 rpt_jstr(r->root, "generator.invalid_reason"));
    fputs("  </testsuite>\n</testsuites>\n", f);
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}
