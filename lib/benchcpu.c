/* CPU per unit of work over a bench run's steady window, for both load
 * engines (bench.c, httpload.c): the two CPU samples of cpustat.h taken by
 * the thread that waits on the run, at the end of the ramp and at the end
 * of the run, so no load thread ever reads a clock of another process. */
#include "bench_int.h"
#include "ticketctl/cpustat.h"

#include <string.h>

int tk_benchcpu_init(tk_benchcpu *w, const tk_bench_config *c, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (c->no_cpu)
        return 0;
    tk_cpu_find_opts o = c->cpu;
    o.target = c->target;
    if (tk_cpu_pids_find(&o, &w->pids, err, errlen) != 0)
        return -1;
    w->on = 1;
    return 0;
}

void tk_benchcpu_window(tk_benchcpu *w, uint64_t start_us, uint64_t end_us)
{
    w->at[0] = start_us;
    w->at[1] = end_us;
    if (end_us <= start_us)
        w->on = 0;
}

uint64_t tk_benchcpu_wake(const tk_benchcpu *w, uint64_t wake)
{
    for (int i = 0; w->on && i < 2; i++)
        if (!w->took[i] && w->at[i] < wake)
            return w->at[i];
    return wake;
}

void tk_benchcpu_poll(tk_benchcpu *w, uint64_t now)
{
    for (int i = 0; w->on && i < 2; i++)
        if (!w->took[i] && now >= w->at[i] && (i == 0 || w->took[0])) {
            if (tk_cpu_sample_take(&w->pids, &w->s[i]) != 0) {
                w->on = 0; /* nothing readable: no figure rather than a wrong one */
                return;
            }
            w->took[i] = now;
        }
}

void tk_benchcpu_finish(const tk_benchcpu *w, double units, tk_bench_result *r)
{
    r->cpu_measured = 0;
    if (!w->on || !w->took[0] || !w->took[1] || !(units > 0))
        return;
    tk_cpu_use_between(&w->s[0], &w->s[1], units, (double)(w->took[1] - w->took[0]) / 1e6, &r->cpu);
    r->cpu_measured = 1;
}
