#!/usr/bin/env python3
"""Compare our Isolation Forest with scikit-learn's on the same data.

Generates a series with planted outliers, scores it with
sklearn.ensemble.IsolationForest (n_estimators=100, max_samples=256, fixed
random_state) and with `ticketctl anomaly forest` (the bare forest: same
trees and subsample size, the same attribute matrix), and checks that our
ROC AUC is within 0.02 of sklearn's. Cases: the raw value alone, and value
with its first difference.

usage: iforest_sklearn.py /path/to/ticketctl
Exit 0 on agreement, 1 on disagreement, 77 (CTest skip) without sklearn.
"""
import csv
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score
except ImportError:
    print("sklearn not installed (Debian: python3-sklearn); skipping")
    sys.exit(77)

TOL = 0.02


def make_series(rng, n=4000, n_out=40):
    """Bimodal inliers (two operating levels) with far and near outliers."""
    level = np.where(rng.random(n) < 0.7, 10.0, 14.0)
    v = level + rng.normal(0, 0.8, n)
    idx = rng.choice(np.arange(50, n), n_out, replace=False)
    y = np.zeros(n, dtype=int)
    y[idx] = 1
    # half far out, half in the gap between the two levels or just outside
    far = idx[: n_out // 2]
    near = idx[n_out // 2:]
    v[far] = rng.choice([-1, 1], len(far)) * rng.uniform(6, 12, len(far)) + 12.0
    v[near] = rng.choice([12.0, 6.5, 17.5], len(near)) + rng.normal(0, 0.2, len(near))
    return v, y


def write_matrix(path, x):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a%d" % j for j in range(x.shape[1])])
        for row in x:
            w.writerow([repr(float(c)) for c in row])


def ours(binary, path):
    out = subprocess.run([binary, "anomaly", "forest", "--from", path, "--trees", "100", "--sample", "256",
                          "--seed", "7"], check=True, capture_output=True, text=True).stdout.splitlines()
    assert out[0] == "score", out[0]
    return np.array([float(line) for line in out[1:]])


def theirs(x, seed=7):
    f = IsolationForest(n_estimators=100, max_samples=256, contamination="auto", random_state=seed)
    f.fit(x)
    return -f.score_samples(x)  # score_samples is the negated paper score


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    rng = np.random.default_rng(20080101)
    v, y = make_series(rng)
    ok = True
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "planted.csv")
        diff = np.concatenate([[0.0], np.diff(v)])
        cases = [("value", v.reshape(-1, 1)), ("value,diff", np.column_stack([v, diff]))]
        for features, x in cases:
            write_matrix(path, x)
            s_ours = ours(binary, path)
            assert len(s_ours) == len(v)
            auc_ours = roc_auc_score(y, s_ours)
            # sklearn's own seed-to-seed spread, for scale
            aucs = [roc_auc_score(y, theirs(x, seed)) for seed in (7, 8, 9)]
            auc_sk = aucs[0]
            agree = abs(auc_ours - auc_sk) <= TOL
            ok = ok and agree
            print("features %-10s ROC AUC ours %.4f sklearn %.4f (seeds 7..9: %s) diff %+.4f %s" %
                  (features, auc_ours, auc_sk, " ".join("%.4f" % a for a in aucs), auc_ours - auc_sk,
                   "ok" if agree else "DISAGREE (tolerance %.2f)" % TOL))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
