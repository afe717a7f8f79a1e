/* A lease in Redis with a fencing token: "this job runs in one process at a
 * time", for jobs that every `serve` instance could run (the hold sweeper,
 * the waiting room's admission job) but only one may run per tick.
 *
 * The lease is the key tk:lease:<name> = <owner> with a TTL; whoever sets
 * it (SET NX PX) holds it until it expires or is released, and renews it
 * by presenting the same owner. Each new acquisition INCRs the counter
 * tk:lease:<name>:fence, so holders get strictly increasing fencing tokens
 * (Kleppmann 2016, "How to do distributed locking"): an effect guarded by
 * the lease should check, in the same atomic step that applies it, that
 * its token is still the newest (see tk_lease_fence_lua), so a holder that
 * paused past its TTL cannot act after a successor took over.
 *
 * Keys: tk:lease:{<name>}, tk:lease:{<name>}:fence: one hash tag, so the
 * acquire script touches one Redis Cluster slot; an effect script that
 * checks the newest token (tk_lease_fence_lua) must use keys tagged {<name>}
 * too: name the lease after the resource's tag (the waiting room's
 * admission lease of sale S is "sale:S", tk_queue_lease_name). */
#ifndef TICKETCTL_LEASE_H
#define TICKETCTL_LEASE_H

#include <hiredis/hiredis.h>
#include <stdint.h>

typedef struct tk_lease {
    char key[128];   /* tk:lease:{<name>} */
    char fence_key[140]; /* tk:lease:{<name>}:fence */
    char owner[33];  /* 128 random bits, hex: unique per tk_lease_init */
    int64_t ttl_ms;  /* lease length; renew well before it runs out (e.g. every ttl/3) */
    uint64_t fence;  /* the token of the current holding; 0 when not held */
} tk_lease;

/* Fill *l for lease `name` (<= 100 bytes, no spaces) of ttl_ms (> 0) with
 * a fresh random owner. No Redis call. */
void tk_lease_init(tk_lease *l, const char *name, int64_t ttl_ms);

/* Acquire the lease, or renew it when this owner already holds it, in one
 * Lua script. Returns 1 (held; l->fence is the token of this holding,
 * unchanged by renewals), 0 (another owner holds it; l->fence = 0) or -1
 * (Redis error; l->fence = 0: a holder that cannot reach Redis must assume
 * it lost the lease). */
int tk_lease_acquire(tk_lease *l, redisContext *c);

/* Give the lease up if this owner still holds it (compare-and-delete).
 * Errors are ignored: the key expires by itself. Sets l->fence = 0. */
void tk_lease_release(tk_lease *l, redisContext *c);

/* A Lua prologue for effect scripts guarded by a lease: with KEYS[1] the
 * fence key (l->fence_key) and ARGV[1] the holder's token (l->fence), it
 * returns -2 from the script unless ARGV[1] equals the newest token, i.e.
 * no successor acquired the lease since. Concatenate it in front of the
 * script body; the body then uses KEYS[2..], ARGV[2..]. Static storage. */
const char *tk_lease_fence_lua(void);


#endif
