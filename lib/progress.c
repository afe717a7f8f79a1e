/* Progress bars on stderr for long work: label, done/total, %, rate, ETA.
 *
 * Counters are atomics so worker threads report without locking; drawing
 * is rate-limited (TTY: every 100 ms, redrawn in place; otherwise a plain
 * line every 5 s) and done under a trylock by whichever thread finds a
 * redraw due, so the reporting path never waits on the terminal. */
#include "ticketctl/progress.h"
#include "ticketctl/common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TTY_INTERVAL_US 100000u   /* ~10 redraws a second */
#define PLAIN_INTERVAL_US 5000000u /* a plain line every 5 s */
#define BAR_WIDTH 20
#define LABEL_MAX 23

typedef struct bar {
    char label[LABEL_MAX + 1];
    uint64_t total;
    uint64_t start_us;
    _Atomic uint64_t done;
    _Atomic uint64_t end_us; /* 0 while running */
    int final_printed;       /* plain mode: final line already out (under lock) */
} bar;

struct tk_progress {
    FILE *out;
    char unit[16];
    int tty;
    int nbars;
    int lines_drawn; /* TTY: lines of the block on screen (cursor on the last) */
    int finished;
    _Atomic uint64_t next_draw_us;
    pthread_mutex_t lock;
    bar bars[TK_PROGRESS_MAX_BARS];
};

tk_progress *tk_progress_new(FILE *out, const char *unit)
{
    tk_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->out = out ? out : stderr;
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "items");
    const char *mode = getenv("TICKETCTL_PROGRESS");
    p->tty = isatty(fileno(p->out)) && !(mode && strcmp(mode, "plain") == 0);
    pthread_mutex_init(&p->lock, NULL);
    atomic_store(&p->next_draw_us, 0);
    return p;
}

void tk_progress_free(tk_progress *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int tk_progress_add(tk_progress *p, const char *label, uint64_t total)
{
    if (!p || p->nbars >= TK_PROGRESS_MAX_BARS)
        return -1;
    bar *b = &p->bars[p->nbars];
    snprintf(b->label, sizeof b->label, "%s", label ? label : "");
    b->total = total;
    b->start_us = tk_mono_us();
    atomic_store(&b->done, 0);
    atomic_store(&b->end_us, 0);
    b->final_printed = 0;
    /* Plain mode: first line after an interval, so short work prints only
     * its final line. */
    if (!p->tty && p->nbars == 0)
        atomic_store(&p->next_draw_us, b->start_us + PLAIN_INTERVAL_US);
    return p->nbars++;
}

/* 1234567 -> "1,234,567" */
static void fmt_count(char *dst, size_t cap, uint64_t v)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 1 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0 && o + 2 < cap)
            dst[o++] = ',';
        dst[o++] = raw[i];
    }
    dst[o] = '\0';
}

static void fmt_eta(char *dst, size_t cap, double s)
{
    if (s < 0 || s > 359999)
        snprintf(dst, cap, "--");
    else if (s >= 3600)
        snprintf(dst, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
    else if (s >= 60)
        snprintf(dst, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(dst, cap, "%ds", (int)(s + 0.999));
}

static int label_width(const tk_progress *p)
{
    int w = 1;
    for (int i = 0; i < p->nbars; i++) {
        int l = (int)strlen(p->bars[i].label);
        if (l > w)
            w = l;
    }
    return w;
}

/* Width of the widest total, so the counts of all bars line up. */
static int count_width(const tk_progress *p)
{
    int w = 1;
    char tmp[32];
    for (int i = 0; i < p->nbars; i++) {
        fmt_count(tmp, sizeof tmp, p->bars[i].total);
        int l = (int)strlen(tmp);
        if (l > w)
            w = l;
    }
    return w;
}

/* One bar's line, no newline. */
static void format_line(const tk_progress *p, const bar *b, uint64_t now, char *buf, size_t cap)
{
    uint64_t done = atomic_load(&b->done);
    uint64_t end = atomic_load(&b->end_us);
    int final = end != 0;
    uint64_t stop = final ? end : now;
    double secs = stop > b->start_us ? (double)(stop - b->start_us) / 1e6 : 0.0;
    double rate = secs > 0 ? (double)done / secs : 0.0;
    char cdone[32], ctotal[32], crate[32], eta[16];
    fmt_count(cdone, sizeof cdone, done);
    fmt_count(ctotal, sizeof ctotal, b->total);
    fmt_count(crate, sizeof crate, (uint64_t)(rate + 0.5));

    char barbuf[BAR_WIDTH + 3] = "";
    char pct[16] = "";
    if (b->total > 0) {
        double frac = (double)done / (double)b->total;
        if (frac > 1)
            frac = 1;
        int fill = (int)(frac * BAR_WIDTH);
        barbuf[0] = '[';
        for (int i = 0; i < BAR_WIDTH; i++)
            barbuf[1 + i] = i < fill ? '#' : '-';
        barbuf[BAR_WIDTH + 1] = ']';
        barbuf[BAR_WIDTH + 2] = '\0';
        snprintf(pct, sizeof pct, "%5.1f%%", frac * 100.0);
    }
    int lw = label_width(p);
    int cw = count_width(p);
    if (final) {
        snprintf(buf, cap, "%-*s %s %*s/%-*s %s  in %.2fs, %s %s/s", lw, b->label, barbuf, cw, cdone,
                 cw, b->total ? ctotal : "?", pct, secs, crate, p->unit);
    } else {
        if (b->total > 0 && rate > 0)
            fmt_eta(eta, sizeof eta, (double)(b->total > done ? b->total - done : 0) / rate);
        else
            snprintf(eta, sizeof eta, "--");
        snprintf(buf, cap, "%-*s %s %*s/%-*s %s  %s %s/s  ETA %s", lw, b->label, barbuf, cw, cdone,
                 cw, b->total ? ctotal : "?", pct, crate, p->unit, eta);
    }
}

/* Caller holds the lock. */
static void draw_locked(tk_progress *p, uint64_t now, int force_plain)
{
    char line[256];
    if (p->tty) {
        if (p->lines_drawn > 1)
            fprintf(p->out, "\033[%dA", p->lines_drawn - 1);
        for (int i = 0; i < p->nbars; i++) {
            format_line(p, &p->bars[i], now, line, sizeof line);
            fprintf(p->out, "%s\r%s\033[K", i ? "\n" : "", line);
        }
        p->lines_drawn = p->nbars;
    } else {
        for (int i = 0; i < p->nbars; i++) {
            bar *b = &p->bars[i];
            if (b->final_printed)
                continue;
            int final = atomic_load(&b->end_us) != 0;
            if (!final && !force_plain)
                continue;
            format_line(p, b, now, line, sizeof line);
            fprintf(p->out, "%s\n", line);
            if (final)
                b->final_printed = 1;
        }
    }
    fflush(p->out);
}

static void maybe_draw(tk_progress *p, int urgent)
{
    uint64_t now = tk_mono_us();
    if (!urgent && now < atomic_load(&p->next_draw_us))
        return;
    if (pthread_mutex_trylock(&p->lock) != 0)
        return;
    if (!p->finished) {
        int plain_due = now >= atomic_load(&p->next_draw_us);
        draw_locked(p, now, plain_due);
        if (plain_due || p->tty)
            atomic_store(&p->next_draw_us, now + (p->tty ? TTY_INTERVAL_US : PLAIN_INTERVAL_US));
    }
    pthread_mutex_unlock(&p->lock);
}

void tk_progress_set(tk_progress *p, int bar_i, uint64_t done)
{
    if (!p || bar_i < 0 || bar_i >= p->nbars)
        return;
    atomic_store(&p->bars[bar_i].done, done);
    maybe_draw(p, 0);
}

void tk_progress_advance(tk_progress *p, int bar_i, uint64_t n)
{
    if (!p || bar_i < 0 || bar_i >= p->nbars)
        return;
    atomic_fetch_add(&p->bars[bar_i].done, n);
    maybe_draw(p, 0);
}

void tk_progress_done(tk_progress *p, int bar_i)
{
    if (!p || bar_i < 0 || bar_i >= p->nbars)
        return;
    uint64_t zero = 0, now = tk_mono_us();
    if (now == 0)
        now = 1;
    atomic_compare_exchange_strong(&p->bars[bar_i].end_us, &zero, now);
    /* Plain mode prints the final line of this bar at once; a TTY shows it
     * on the next redraw. */
    maybe_draw(p, !p->tty);
}

void tk_progress_finish(tk_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    if (!p->finished) {
        uint64_t now = tk_mono_us();
        for (int i = 0; i < p->nbars; i++) {
            uint64_t zero = 0;
            atomic_compare_exchange_strong(&p->bars[i].end_us, &zero, now ? now : 1);
        }
        draw_locked(p, now, 1);
        if (p->tty && p->lines_drawn > 0)
            fputc('\n', p->out);
        fflush(p->out);
        p->finished = 1;
    }
    pthread_mutex_unlock(&p->lock);
}

double tk_progress_seconds(const tk_progress *p, int bar_i)
{
    if (!p || bar_i < 0 || bar_i >= p->nbars)
        return 0.0;
    const bar *b = &p->bars[bar_i];
    uint64_t end = atomic_load(&b->end_us);
    uint64_t stop = end ? end : tk_mono_us();
    return stop > b->start_us ? (double)(stop - b->start_us) / 1e6 : 0.0;
}

uint64_t tk_progress_count(const tk_progress *p, int bar_i)
{
    if (!p || bar_i < 0 || bar_i >= p->nbars)
        return 0;
    return atomic_load(&p->bars[bar_i].done);
}
