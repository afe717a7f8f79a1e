/* CPU time of the processes a run measures: the server(s), mariadbd,
 * redis-server, nginx and the load generator itself.
 *
 * CPU per unit of work (CPU-ms per completed flow, or per request) is the
 * figure to quote on a shared machine: req/s moves with whatever else runs,
 * CPU spent per flow much less. A run takes one sample at the start of its
 * steady window and one at its end; tk_cpu_use_between() turns the two into
 * CPU-ms per unit for each role.
 *
 * Source of the numbers: the kernel's per-process CPU clock (user + system
 * time of all threads, clock_getcpuclockid(3), ns resolution), falling back
 * to utime + stime of /proc/<pid>/stat (proc(5), clock ticks) when the clock
 * cannot be read. Linux only. */
#ifndef TICKETCTL_CPUSTAT_H
#define TICKETCTL_CPUSTAT_H

#include <jansson.h>
#include <stddef.h>

enum { TK_CPU_SERVE = 0, TK_CPU_MARIADBD, TK_CPU_REDIS, TK_CPU_NGINX, TK_CPU_BENCH, TK_CPU_NROLES };

#define TK_CPU_MAX_PIDS 64

/* JSON key of a role: "serve", "mariadbd", "redis", "nginx", "bench"; static storage. */
const char *tk_cpu_role_name(int role);

/* Where to find the processes. Every field may be 0/NULL ("find it"). */
typedef struct tk_cpu_find_opts {
    const char *state_dir;  /* dev stack state dir (stack.env): mariadbd, redis, instances, nginx */
    const char *target;     /* bench target URL: whoever listens on its loopback port */
    const int *server_pids; /* explicit serve pids (--server-pid), nserver of them */
    int nserver;
    int mysql_pid;          /* explicit mariadbd pid (--mysql-pid) */
    int redis_pid;          /* explicit redis-server pid (--redis-pid) */
    const char *mysql_url;  /* mysql://host:port: its listener is mariadbd when no pid is known */
    const char *redis_url;  /* redis://host:port: likewise for redis-server */
} tk_cpu_find_opts;

/* The pids of each role (n[role] == 0: not found, its figures are null). */
typedef struct tk_cpu_pids {
    int pid[TK_CPU_NROLES][TK_CPU_MAX_PIDS];
    int n[TK_CPU_NROLES];
} tk_cpu_pids;

/* Resolve the pids, in this order per role: the explicit pid; the dev
 * stack's stack.env (mariadbd, redis, the serve instances and nginx when the
 * target is the stack's TICKETCTL_TARGET); the processes that hold a
 * listening socket on the target's (or URL's) port, found through
 * /proc/net/tcp{,6} and /proc/<pid>/fd (a listener named nginx is counted as
 * nginx, with all its workers). bench is always getpid(). Only live pids are
 * kept. Returns 0 (roles not found are simply empty), or -1 with err when an
 * explicit pid does not exist. */
int tk_cpu_pids_find(const tk_cpu_find_opts *o, tk_cpu_pids *out /* OUT */, char *err /* OUT */, size_t errlen);

/* The pids of every process with a listening TCP socket on `port` (any
 * local address, IPv4 or IPv6): up to cap of them into pids. Returns the
 * count (0: none, or /proc unreadable). */
int tk_cpu_listener_pids(int port, int *pids /* OUT */, int cap);

/* Cumulative CPU time of each role in ms: the sum over its pids; NAN when
 * the role has no pid or one of its pids could not be read (it exited). */
typedef struct tk_cpu_sample {
    double ms[TK_CPU_NROLES];
} tk_cpu_sample;

/* Read the CPU clocks of every pid in p. Cheap (one syscall per pid); safe to
 * call from any thread. Returns 0, or -1 when no role could be read. */
int tk_cpu_sample_take(const tk_cpu_pids *p, tk_cpu_sample *out /* OUT */);

/* CPU spent between two samples, per unit of work. per_unit[role] and
 * backend_total are CPU-ms per unit, NAN when unknown. backend_total =
 * serve + mariadbd + redis (+ nginx when present): it is NAN unless all
 * three of serve, mariadbd and redis are known, so a partial sum is never
 * passed off as the whole. units: completed flows (or requests) in the
 * window; window_s: its length in seconds (for CPU cores used). */
typedef struct tk_cpu_use {
    double per_unit[TK_CPU_NROLES];
    double backend_total;
    double cores[TK_CPU_NROLES]; /* CPU-seconds per second of the window: 1.0 = one core busy */
    double units;
    double window_s;
} tk_cpu_use;

void tk_cpu_use_between(const tk_cpu_sample *a, const tk_cpu_sample *b, double units, double window_s,
                        tk_cpu_use *out /* OUT */);

/* {"serve":…, "mariadbd":…, "redis":…, "nginx":…, "bench":…, "backend_total":…}
 * in CPU-ms per unit, numbers or null. New reference (caller decrefs);
 * NULL on out-of-memory. */
json_t *tk_cpu_use_json(const tk_cpu_use *u);

/* {"serve":…, …} in cores (CPU-s per s) over the window; same conventions. */
json_t *tk_cpu_cores_json(const tk_cpu_use *u);

#endif
