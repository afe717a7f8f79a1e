/* sockwait.so: where a load generator's latency goes, measured the same way
 * for any generator (issue 17; scripts/bench-loadgen part 7).
 *
 * LD_PRELOAD it into a generator (wrk, ticketctl bench). On every IPv4/IPv6
 * TCP socket it connect()s it turns on kernel receive timestamps
 * (SO_TIMESTAMPNS, socket(7)), notes the time of each write()/send(), and
 * reads through recvmsg() to get the timestamp of the data. Per read that
 * returns data, all CLOCK_REALTIME:
 *   server = kernel arrival of the data - the last send on that socket
 *            (the server, and the loopback both ways);
 *   wait   = the read's return - kernel arrival
 *            (the answer waited in the socket for the generator: its own
 *            scheduling and loop, not the server);
 *   raw    = the read's return - the last send (first read after a send
 *            only): a clock outside the generator, as its uncorrected one.
 * With one request in flight per connection and answers that fit one read
 * (the closed loop of bench-loadgen part 1), a read is an answer. At exit
 * it prints one line per figure to stderr:
 *   SOCKWAIT <name> n <count> p50 <us> p90 <us> p99 <us> p99.9 <us> max <us>
 * Histograms: 1 us buckets up to 100 ms (above: the last bucket), atomic
 * counters shared by the generator's threads.
 *
 * Build: cc -O2 -shared -fPIC -o sockwait.so scripts/sockwait.c -ldl
 * A measurement tool, never linked into ticketctl. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define NB 100000   /* 1 us buckets: up to 100 ms */
#define MAXFD 65536 /* sockets with a higher number are left alone */

static _Atomic uint64_t h_server[NB], h_wait[NB], h_raw[NB];
static uint64_t last_send[MAXFD]; /* us, the last send on fd; 0 after the first read */
static unsigned char watched[MAXFD];

static uint64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void record(_Atomic uint64_t *h, uint64_t us)
{
    atomic_fetch_add_explicit(&h[us < NB ? us : NB - 1], 1, memory_order_relaxed);
}

static int is_watched(int fd) { return fd >= 0 && fd < MAXFD && watched[fd]; }

int connect(int fd, const struct sockaddr *a, socklen_t l)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    if (fd >= 0 && fd < MAXFD && a && (a->sa_family == AF_INET || a->sa_family == AF_INET6)) {
        int on = 1;
        watched[fd] = setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
        last_send[fd] = 0;
    }
    return real(fd, a, l);
}

static void sent(int fd)
{
    if (is_watched(fd))
        last_send[fd] = now_us();
}

ssize_t write(int fd, const void *b, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    sent(fd);
    return real(fd, b, n);
}

ssize_t send(int fd, const void *b, size_t n, int flags)
{
    static ssize_t (*real)(int, const void *, size_t, int);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    sent(fd);
    return real(fd, b, n, flags);
}

static ssize_t timed_read(int fd, void *b, size_t n, int flags)
{
    struct iovec iov = {b, n};
    char cbuf[CMSG_SPACE(sizeof(struct timespec)) + 64];
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    ssize_t got = recvmsg(fd, &mh, flags);
    if (got <= 0)
        return got;
    uint64_t now = now_us(), sent_at = last_send[fd];
    if (sent_at && now >= sent_at)
        record(h_raw, now - sent_at);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            uint64_t k = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
            record(h_wait, now > k ? now - k : 0);
            if (sent_at && k >= sent_at)
                record(h_server, k - sent_at);
        }
    last_send[fd] = 0;
    return got;
}

ssize_t read(int fd, void *b, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    if (is_watched(fd))
        return timed_read(fd, b, n, 0);
    if (!real)
        real = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    return real(fd, b, n);
}

ssize_t recv(int fd, void *b, size_t n, int flags)
{
    static ssize_t (*real)(int, void *, size_t, int);
    if (is_watched(fd))
        return timed_read(fd, b, n, flags);
    if (!real)
        real = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
    return real(fd, b, n, flags);
}

static void print_one(const char *name, _Atomic uint64_t *h)
{
    uint64_t total = 0, max = 0;
    for (uint64_t i = 0; i < NB; i++)
        if (h[i]) {
            total += h[i];
            max = i;
        }
    if (!total)
        return;
    static const double ps[] = {50, 90, 99, 99.9};
    fprintf(stderr, "SOCKWAIT %s n %llu", name, (unsigned long long)total);
    for (int j = 0; j < 4; j++) { /* nearest rank */
        uint64_t rank = (uint64_t)(ps[j] / 100.0 * (double)total + 0.999999), acc = 0;
        for (uint64_t i = 0; i < NB; i++)
            if ((acc += h[i]) >= rank) {
                fprintf(stderr, " p%g %llu", ps[j], (unsigned long long)i);
                break;
            }
    }
    fprintf(stderr, " max %llu\n", (unsigned long long)max);
}

__attribute__((destructor)) static void report(void)
{
    print_one("server", h_server);
    print_one("wait", h_wait);
    print_one("raw", h_raw);
}
