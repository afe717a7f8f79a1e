/* Isolation Forest: our own implementation of Liu, Ting & Zhou, "Isolation
 * Forest", ICDM 2008 (Algorithms 1-3 and Eq. 1-2 of the paper).
 *
 * Training draws t subsamples of psi points without replacement, grows one
 * isolation tree per subsample to the height limit ceil(log2 psi) with a
 * uniformly chosen attribute (among the ones not constant in the node) and a
 * split value uniform in (min, max) of that attribute. A point's path length
 * h(x) is the number of edges from the root to the external node it reaches
 * plus c(size) of that node (the paper's adjustment for unbuilt subtrees).
 * The score is s(x) = 2^(-E[h(x)] / c(psi)), in (0, 1]: close to 1 is
 * anomalous, well below 0.5 is normal.
 *
 * Determinism: the generator is our own (splitmix64 seeding xoshiro256**),
 * so the same data, parameters and seed give the same forest and the same
 * scores bit for bit on every platform with IEEE doubles.
 *
 * Inputs are row-major arrays of doubles: point i, attribute j is
 * x[i * dims + j]. Values must be finite (NaN/inf are rejected by training;
 * scoring treats them as landing on the right side of every split).
 *
 * A forest is immutable after training or loading and may be scored from
 * several threads at once. */
#ifndef TICKETCTL_IFOREST_H
#define TICKETCTL_IFOREST_H

#include <stddef.h>
#include <stdint.h>

#define TK_IFOREST_VERSION 1     /* model file format version */
#define TK_IFOREST_MAX_DIMS 64   /* attributes per point */
#define TK_IFOREST_MAX_TREES 10000
#define TK_IFOREST_MAX_PSI 65536 /* subsample size (height limit 16) */
#define TK_IFOREST_META_MAX 256  /* caller metadata stored in the model, bytes incl. NUL */

typedef struct tk_iforest tk_iforest;

typedef struct tk_iforest_params {
    uint32_t trees; /* t, number of trees; 0 means the default 100 */
    uint32_t psi;   /* subsample size; 0 means the default 256; capped at n */
    uint64_t seed;  /* generator seed */
} tk_iforest_params;

/* Average path length of an unsuccessful BST search over n points, the
 * paper's normaliser: c(n) = 2 H(n-1) - 2 (n-1) / n, c(1) = c(0) = 0,
 * c(2) = 1. H is summed exactly for n <= 4096 and uses
 * ln(i) + 0.5772156649 + 1/(2i) - 1/(12 i^2) above (error < 1e-15). */
double tk_iforest_c(size_t n);

/* Train a forest on n points of `dims` attributes (x is n * dims doubles,
 * row-major, only read). Returns the forest, which the caller frees with
 * tk_iforest_free(), or NULL with a message in err (OUT) when the input is
 * invalid (n < 2, dims outside 1..TK_IFOREST_MAX_DIMS, a non-finite value,
 * parameters out of range) or memory runs out. Cost: O(t * psi * log psi). */
tk_iforest *tk_iforest_train(const double *x, size_t n, size_t dims, const tk_iforest_params *p,
                             char *err, size_t errlen);

/* Free a forest; NULL is a no-op. */
void tk_iforest_free(tk_iforest *f);

/* Shape of a forest. psi is the subsample size actually used (min(psi, n)). */
size_t tk_iforest_dims(const tk_iforest *f);
uint32_t tk_iforest_trees(const tk_iforest *f);
uint32_t tk_iforest_psi(const tk_iforest *f);
uint64_t tk_iforest_seed(const tk_iforest *f);
/* Total number of tree nodes (internal + external) over all trees. */
size_t tk_iforest_node_count(const tk_iforest *f);

/* Free-form caller metadata saved with the model (e.g. how the features were
 * built). Stored as a copy; at most TK_IFOREST_META_MAX - 1 bytes, longer
 * strings are rejected with -1. tk_iforest_meta() returns "" when unset; the
 * string is owned by the forest. */
int tk_iforest_set_meta(tk_iforest *f, const char *meta);
const char *tk_iforest_meta(const tk_iforest *f);

/* E[h(x)]: the mean adjusted path length of one point (dims doubles) over
 * all trees, in edges. */
double tk_iforest_path_length(const tk_iforest *f, const double *x);

/* Anomaly score s(x) = 2^(-E[h(x)] / c(psi)) of one point, in (0, 1]. */
double tk_iforest_score(const tk_iforest *f, const double *x);

/* Scores of n points (x: n * dims, row-major) into out[0..n-1]. Same values
 * as tk_iforest_score(), bit for bit; walks points in blocks for speed and
 * does not allocate. */
void tk_iforest_score_many(const tk_iforest *f, const double *x, size_t n, double *out);

/* Serialise to a malloc'd buffer (*out, *outlen; the caller frees *out).
 * Format (all integers little-endian, doubles as IEEE-754 bit patterns):
 *   "TKIFORST" magic (8 bytes), u32 version, u32 dims, u32 trees, u32 psi,
 *   u64 seed, u32 meta length, meta bytes, then per tree: u32 node count,
 *   per node: u8 kind (0 internal, 1 external); internal: u16 attribute,
 *   f64 split, u32 left child index (right child is left + 1); external:
 *   u32 size. Last: u64 FNV-1a checksum of every preceding byte.
 * Returns TK_OK or TK_ENOMEM. */
int tk_iforest_serialize(const tk_iforest *f, uint8_t **out, size_t *outlen);

/* Parse a buffer written by tk_iforest_serialize(). Every field is bounds-
 * and consistency-checked (magic, version, checksum, shapes, child indices,
 * depth within the height limit, every node reachable exactly once), so a
 * corrupt, truncated or foreign buffer gives TK_EINVAL with a message in err
 * (OUT), never a crash. On TK_OK *out is a new forest the caller frees. */
int tk_iforest_deserialize(const uint8_t *buf, size_t len, tk_iforest **out, char *err, size_t errlen);

/* Write / read a model file (the format above). Save writes PATH.tmp and
 * renames it over PATH. Return TK_OK, TK_EIO (cannot open, read or write;
 * message in err) or, for load, TK_EINVAL (not a valid model file) /
 * TK_ENOMEM. */
int tk_iforest_save(const tk_iforest *f, const char *path, char *err, size_t errlen);
int tk_iforest_load(const char *path, tk_iforest **out, char *err, size_t errlen);

#endif
