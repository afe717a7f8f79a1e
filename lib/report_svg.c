/* Inline SVG line charts over a run's per-second time series (report_int.h). */
#include "report_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void rpt_series_free(series *s)
{
    free(s->t);
    free(s->vus);
    free(s->rps);
    free(s->errors);
    free(s->p50);
    free(s->p95);
    free(s->p99);
    memset(s, 0, sizeof *s);
}

int rpt_series_load(const json_t *root, series *s)
{
    memset(s, 0, sizeof *s);
    json_t *ts = rpt_jget(root, "timeseries");
    size_t n = json_is_array(ts) ? json_array_size(ts) : 0;
    if (n == 0)
        return 0;
    double **cols[] = {&s->t, &s->vus, &s->rps, &s->errors, &s->p50, &s->p95, &s->p99};
    static const char *keys[] = {"t", "vus", "rps", "errors", "p50", "p95", "p99"};
    for (size_t c = 0; c < 7; c++) {
        *cols[c] = malloc(n * sizeof(double));
        if (!*cols[c]) {
            rpt_series_free(s);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *pt = json_array_get(ts, i);
        for (size_t c = 0; c < 7; c++)
            (*cols[c])[i] = rpt_jnum(pt, keys[c]);
        if (!isfinite(s->t[i]))
            s->t[i] = (double)(i + 1);
    }
    s->n = n;
    return 0;
}

double rpt_series_max(const double *v, size_t n)
{
    double m = NAN;
    for (size_t i = 0; v && i < n; i++)
        if (isfinite(v[i]) && (!isfinite(m) || v[i] > m))
            m = v[i];
    return m;
}


/* ---- SVG charts --------------------------------------------------------------------- */

#define CW 960
#define CH 300
#define PL 70 /* plot margins */
#define PR 70
#define PT 34
#define PB 44


double rpt_nice_step(double range, int ticks)
{
    if (!(range > 0))
        return 1;
    double raw = range / ticks;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return nf * mag;
}

const char *rpt_fmt_tick(char *buf, size_t cap, double v, double step)
{
    if (step >= 1 || v == 0)
        return rpt_fmt_num(buf, cap, v, 0);
    int dec = (int)ceil(-log10(step));
    return rpt_fmt_num(buf, cap, v, dec > 6 ? 6 : dec);
}

/* Path of one line; NAN values break it into segments. */
static void svg_path(FILE *f, const series *s, const double *y, double x0, double x1, double ymax, int fill)
{
    double w = CW - PL - PR, h = CH - PT - PB;
    int pen = 0;
    double first_x = 0, last_x = 0;
    fputs(" d=\"", f);
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(y[i])) {
            pen = 0;
            continue;
        }
        double px = PL + (x1 > x0 ? (s->t[i] - x0) / (x1 - x0) : 0.5) * w;
        double py = PT + h - (y[i] / ymax) * h;
        if (py < PT)
            py = PT;
        if (!pen)
            first_x = px;
        fprintf(f, "%s%.1f %.1f ", pen ? "L" : "M", px, py);
        last_x = px;
        pen = 1;
    }
    if (fill && pen)
        fprintf(f, "L%.1f %.1f L%.1f %.1f Z", last_x, (double)(PT + h), first_x, (double)(PT + h));
    fputs("\"", f);
}

/* <svg ...> with its accessible name, tooltip title and visible title. */
static void svg_open(FILE *f, const char *title)
{
    fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", CW, CH);
    rpt_html_esc(f, title);
    fputs("\">\n<title>", f);
    rpt_html_esc(f, title);
    fputs("</title>\n", f);
    fprintf(f, "<text x=\"%d\" y=\"20\" class=\"ct\">", PL);
    rpt_html_esc(f, title);
    fputs("</text>\n", f);
}

/* Horizontal grid lines and the left axis labels, 0..top every step. */
static void svg_left_grid(FILE *f, double top, double step)
{
    char a[64];
    double w = CW - PL - PR, h = CH - PT - PB;
    for (double v = 0; v <= top + step / 2; v += step) {
        double y = PT + h - v / top * h;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", PL, y, PL + w, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"yl\">%s</text>\n", PL - 6, y + 4,
                rpt_fmt_tick(a, sizeof a, v, step));
    }
}

/* A line chart over the series' time axis. Left axis for lines with
 * right == 0, right axis (its own scale) for right == 1. */
void rpt_svg_chart(FILE *f, const char *title, const series *s, const line *lines, size_t nlines,
                      const char *left_label, const char *right_label)
{
    char a[64];
    double w = CW - PL - PR, h = CH - PT - PB;
    double x0 = s->t[0], x1 = s->t[s->n - 1];
    double lmax = 0, rmax = 0;
    for (size_t l = 0; l < nlines; l++) {
        double m = rpt_series_max(lines[l].y, s->n);
        if (isfinite(m)) {
            if (lines[l].right)
                rmax = m > rmax ? m : rmax;
            else
                lmax = m > lmax ? m : lmax;
        }
    }
    double lstep = rpt_nice_step(lmax > 0 ? lmax : 1, 5), rstep = rpt_nice_step(rmax > 0 ? rmax : 1, 5);
    double ltop = ceil((lmax > 0 ? lmax : 1) / lstep) * lstep, rtop = ceil((rmax > 0 ? rmax : 1) / rstep) * rstep;
    int has_right = right_label != NULL;

    svg_open(f, title);
    svg_left_grid(f, ltop, lstep); /* grid and left axis */
    if (has_right)
        for (double v = 0; v <= rtop + rstep / 2; v += rstep) {
            double y = PT + h - v / rtop * h;
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"yr\">%s</text>\n", PL + w + 6, y + 4,
                    rpt_fmt_tick(a, sizeof a, v, rstep));
        }
    /* x axis */
    double xstep = rpt_nice_step(x1 - x0 > 0 ? x1 - x0 : 1, 8);
    for (double v = ceil(x0 / xstep) * xstep; v <= x1 + xstep / 1000; v += xstep) {
        double x = PL + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * w;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"tick\"/>", x, PT + h, x, PT + h + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"xl\">%s</text>\n", x, PT + h + 18, rpt_fmt_tick(a, sizeof a, v, xstep));
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", PL, PT + h, PL + w, PT + h);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"xt\">", PL + w / 2, CH - 6);
    rpt_html_esc(f, s->x_label ? s->x_label : "time (s)");
    fputs("</text>\n", f);
    fprintf(f, "<text transform=\"translate(16 %.1f) rotate(-90)\" class=\"at\">", PT + h / 2);
    rpt_html_esc(f, left_label);
    fputs("</text>\n", f);
    if (has_right) {
        fprintf(f, "<text transform=\"translate(%d %.1f) rotate(90)\" class=\"at\">", CW - 14, PT + h / 2);
        rpt_html_esc(f, right_label);
        fputs("</text>\n", f);
    }
    /* lines */
    for (size_t l = 0; l < nlines; l++) {
        if (!isfinite(rpt_series_max(lines[l].y, s->n)))
            continue;
        double top = lines[l].right ? rtop : ltop;
        if (lines[l].fill) {
            fputs("<path", f);
            svg_path(f, s, lines[l].y, x0, x1, top, 1);
            fprintf(f, " fill=\"%s\" fill-opacity=\"0.12\" stroke=\"none\"/>\n", lines[l].color);
        }
        fputs("<path", f);
        svg_path(f, s, lines[l].y, x0, x1, top, 0);
        fprintf(f, " fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s stroke-linejoin=\"round\"/>\n",
                lines[l].color, lines[l].dashed ? " stroke-dasharray=\"6 4\"" : "");
    }
    /* legend */
    double lx = PL + w;
    for (size_t l = nlines; l-- > 0;) {
        if (!isfinite(rpt_series_max(lines[l].y, s->n)))
            continue;
        double tw = 7.0 * (double)strlen(lines[l].name) + 34;
        lx -= tw;
        fprintf(f, "<line x1=\"%.1f\" y1=\"16\" x2=\"%.1f\" y2=\"16\" stroke=\"%s\" stroke-width=\"3\"%s/>", lx,
                lx + 20, lines[l].color, lines[l].dashed ? " stroke-dasharray=\"6 4\"" : "");
        fprintf(f, "<text x=\"%.1f\" y=\"20\" class=\"lg\">", lx + 25);
        rpt_html_esc(f, lines[l].name);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}


/* A bar chart of n labelled values (a distribution's buckets), one bar per
 * label, linear count axis. */
void rpt_svg_bars(FILE *f, const char *title, const char *const *labels, const double *v, size_t n,
                  const char *ylabel, const char *xlabel)
{
    char a[64];
    double w = CW - PL - PR, h = CH - PT - PB;
    double vmax = rpt_series_max(v, n);
    if (!(vmax > 0))
        vmax = 1;
    double step = rpt_nice_step(vmax, 5), top = ceil(vmax / step) * step;
    svg_open(f, title);
    svg_left_grid(f, top, step);
    double slot = n ? w / (double)n : w;
    for (size_t i = 0; i < n; i++) {
        double x = PL + slot * (double)i, bh = isfinite(v[i]) && v[i] > 0 ? v[i] / top * h : 0;
        if (bh > 0 && bh < 1)
            bh = 1; /* a bucket with a few answers stays visible */
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2563eb\"><title>", x + 2,
                PT + h - bh, slot - 4 > 1 ? slot - 4 : 1, bh);
        rpt_html_esc(f, labels[i]);
        fprintf(f, ": %s</title></rect>\n", rpt_fmt_num(a, sizeof a, isfinite(v[i]) ? v[i] : 0, 0));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"xl\">", x + slot / 2, PT + h + 18);
        rpt_html_esc(f, labels[i]);
        fputs("</text>\n", f);
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", PL, PT + h, PL + w, PT + h);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"xt\">", PL + w / 2, CH - 6);
    rpt_html_esc(f, xlabel);
    fputs("</text>\n", f);
    fprintf(f, "<text transform=\"translate(16 %.1f) rotate(-90)\" class=\"at\">", PT + h / 2);
    rpt_html_esc(f, ylabel);
    fputs("</text>\n</svg>\n", f);
}
