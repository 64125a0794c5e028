"""ADASYN's arithmetic as pure functions: what a correct submission must produce.

He, Bai, Garcia and Li, "ADASYN: Adaptive synthetic sampling approach for
imbalanced learning", IJCNN 2008, Algorithm (ADASYN), steps (a)-(c). Trusted
code applies them to the grader's own cases when it prepares the inputs
(:func:`case_expectations`, written by ``grader.tasks.fraud``) and the checks
compare a student's fitted attributes and synthetic rows with those values,
so this module never runs at check time and never reaches students (the
student bundle ships those values precomputed instead). The reference
solution computes the same numbers its own way (it must be self-contained),
and the tests pin the two together and against imbalanced-learn.

Conventions of DESIGN.md ("submission/adasyn.py"): minority = the rarer class
(the smaller label when counts are equal); neighbours are Euclidean; the
sample itself is never its own neighbour; minority samples are taken in their
order of appearance in X. Exact distance ties at the k-th neighbour make Δ_i
ambiguous (any tied point may be the k-th), so comparisons against these
functions are meaningful on data without ties, which the generated sets are.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

ROUNDINGS = ("rint", "floor", "largest_remainder")


def adasyn_amount(y, beta: float = 1.0) -> tuple[float, int, object]:
    """``(d, G, minority_label)``: step (a) degree of imbalance and step (b)(1) amount.

    ``d = m_s / m_l`` and ``G = int((m_l - m_s) * beta)`` exactly as DESIGN.md
    writes them (``int`` truncates, so 100 * 0.29 gives 28).
    """
    y = np.asarray(y)
    labels, counts = np.unique(y, return_counts=True)
    if labels.size != 2:
        raise ValueError(f"ADASYN needs exactly two classes in y, found {labels.size}: {labels[:5].tolist()}")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    s = int(np.argmin(counts))  # argmin takes the first (smaller) label on equal counts
    m_s, m_l = int(counts[s]), int(counts[1 - s])
    return m_s / m_l, int((m_l - m_s) * beta), labels[s]


def _knn_excluding_self(nn, X_query: np.ndarray, self_index: np.ndarray, k: int) -> np.ndarray:
    """k neighbour indices per query, dropping the query's own row.

    Queries k + 1 neighbours and removes the column holding the sample itself;
    if an exact duplicate pushed it out of the k + 1 (all of them at distance
    0), the last column goes instead. This is scikit-learn's own rule for
    ``kneighbors(X=None)``, applied to a subset of the fitted rows.
    """
    ind = nn.kneighbors(X_query, n_neighbors=k + 1, return_distance=False)
    keep = ind != self_index[:, None]
    missing = keep.all(axis=1)
    keep[missing, -1] = False
    return ind[keep].reshape(len(ind), k)


def majority_ratios(X, y, k: int, minority_label=None) -> np.ndarray:
    """Step (b)(3): ``r_i = Δ_i / k`` for each minority sample, in order of appearance.

    Δ_i counts samples of the other class among the k nearest neighbours of
    minority sample i in the whole X (Euclidean), the sample itself excluded.
    """
    y = np.asarray(y)
    if not 1 <= k < len(y):
        raise ValueError(f"k={k} must be in [1, n_samples - 1] = [1, {len(y) - 1}]")
    if minority_label is None:
        minority_label = adasyn_amount(y)[2]
    neigh = minority_neighbours_in_x(X, y, k, minority_label)
    return (y[neigh] != minority_label).sum(axis=1) / k


def minority_neighbours_in_x(X, y, k: int, minority_label=None) -> np.ndarray:
    """``(m_s, k)`` indices into X of each minority sample's k nearest neighbours in the whole X, itself excluded.

    The neighbourhoods :func:`majority_ratios` counts Δ_i in; the checks use them to tell a synthetic row
    drawn toward a *majority* neighbour from one that is simply off every segment.
    """
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if minority_label is None:
        minority_label = adasyn_amount(y)[2]
    idx = np.flatnonzero(y == minority_label)
    return _knn_excluding_self(NearestNeighbors(n_neighbors=k + 1).fit(X), X[idx], idx, k)


def round_counts(r_hat, G: int, method: str = "rint") -> np.ndarray:
    """Step (b)(5): ``g_i`` from ``r̂_i · G`` by one of the accepted roundings.

    ``rint`` is DESIGN.md's (and imbalanced-learn's) choice; ``floor`` and
    ``largest_remainder`` (floor, then one more to the largest remainders, in
    order of appearance on equal remainders, so that Σg = G) are accepted too.
    """
    v = np.asarray(r_hat, dtype=np.float64) * G
    if method == "rint":
        return np.rint(v).astype(int)
    if method == "floor":
        return np.floor(v).astype(int)
    if method == "largest_remainder":
        g = np.floor(v).astype(int)
        short = int(G - g.sum())
        if short > 0:
            order = np.argsort(-(v - g), kind="stable")
            g[order[:short]] += 1
        return g
    raise ValueError(f"unknown rounding {method!r}: choose one of {', '.join(ROUNDINGS)}")


def adasyn_weights(X, y, k: int, *, beta: float = 1.0, rounding: str = "rint"):
    """``(r, r_hat, g)`` of steps (b)(3)-(b)(5) for minority samples in order of appearance.

    ``G`` comes from :func:`adasyn_amount` with ``beta``. Raises ``ValueError``
    when Σr = 0 (no minority sample has a majority neighbour: r̂ is undefined).
    """
    _, G, label = adasyn_amount(y, beta)
    r = majority_ratios(X, y, k, label)
    total = r.sum()
    if total == 0:
        raise ValueError("sum of r is 0: no minority sample has a majority neighbour, r_hat is undefined")
    r_hat = r / total
    return r, r_hat, round_counts(r_hat, G, rounding)


def minority_neighbours(X_min, k: int) -> np.ndarray:
    """``(m_s, k)`` indices of each minority sample's k nearest minority neighbours, itself excluded."""
    from sklearn.neighbors import NearestNeighbors

    X_min = np.asarray(X_min, dtype=np.float64)
    return NearestNeighbors(n_neighbors=k).fit(X_min).kneighbors(return_distance=False)


def case_expectations(X, y, *, k: int, beta: float) -> dict:
    """Every number the checks compare a submission with on one grader-chosen case, as JSON values.

    ``d``, ``G``, the minority label and ``m_s`` (steps (a), (b)(1)); ``r``, ``r_hat`` and ``g``
    under each accepted rounding (steps (b)(3)-(5); ``r_hat`` and ``g`` are None where Σr = 0);
    each minority sample's k nearest minority neighbours (indices into the minority rows: the
    segments step (c) allows) and its k nearest neighbours in the whole X (indices into X: the
    neighbourhoods Δ_i is counted in). Trusted code writes these when it prepares the inputs
    (grader.tasks.fraud), so the checks, and the student bundle, need no copy of this module.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    d, G, label = adasyn_amount(y, beta)
    m_s = int(np.sum(y == label))
    r = majority_ratios(X, y, k, label)
    r_hat = r / r.sum() if r.sum() > 0 else None
    return {"d": float(d), "G": int(G), "minority": np.asarray(label).item(), "m_s": m_s,
            "r": r.tolist(), "r_hat": None if r_hat is None else r_hat.tolist(),
            "g": None if r_hat is None else {m: round_counts(r_hat, G, m).tolist() for m in ROUNDINGS},
            "minority_neighbours": minority_neighbours(X[y == label], k).tolist() if k < m_s else None,
            "neighbours": minority_neighbours_in_x(X, y, k, label).tolist()}


class SegmentMatch(NamedTuple):
    """Where each synthetic row lies: ``x_parent + lam * (x_neighbour - x_parent)``.

    ``parent`` and ``neighbour`` index the minority rows (order of appearance),
    -1 where a row lies on no allowed segment; ``lam`` is NaN there, and
    ``residual`` is the row's distance to the best segment found.
    """

    parent: np.ndarray
    neighbour: np.ndarray
    lam: np.ndarray
    residual: np.ndarray

    @property
    def on_segment(self) -> np.ndarray:
        return self.parent >= 0


def _project(s, a, b):
    d = b - a
    dd = np.einsum("ij,ij->i", d, d)
    lam = np.where(dd > 0, np.einsum("ij,ij->i", s - a, d) / np.where(dd > 0, dd, 1.0), 0.0)
    resid = np.linalg.norm(s - a - lam[:, None] * d, axis=1)
    return lam, resid


def segment_parents(X_min, synthetic, k: int | None = None, *, neighbours=None,
                    rtol: float = 1e-6, atol: float = 1e-9, chunk: int = 4096) -> SegmentMatch:
    """Step (c)(ii)-(iii): find, for each synthetic row, a segment it lies on.

    Allowed segments run from each minority sample x_i to one of its k nearest
    minority neighbours x_zi (``neighbours``, or :func:`minority_neighbours`).
    A row is on a segment when its distance to the segment's line is at most
    ``atol + rtol * max(|x_i|, |x_zi|)`` and λ ∈ [0, 1] within ``rtol``
    (λ = 1 cannot be told from 1 - 1e-16 in floating point).

    Vectorised: a row on a segment from x_i lies within x_i's k-th neighbour
    radius, so one distance matrix to the minority rows gives the few
    candidate parents; the triangle defect ``|s - a| + |s - b| - |b - a|``
    ranks their segments, and the exact projection decides. For mutual
    neighbours the segment i→z is also z→i, so the parent found is one valid
    parent, not necessarily the one the submission drew.
    """
    X_min = np.asarray(X_min, dtype=np.float64)
    S = np.asarray(synthetic, dtype=np.float64).reshape(-1, X_min.shape[1])
    if neighbours is None:
        if k is None:
            raise ValueError("segment_parents needs k or neighbours")
        neighbours = minority_neighbours(X_min, k)
    neighbours = np.asarray(neighbours)
    kk = neighbours.shape[1]
    norms = np.linalg.norm(X_min, axis=1)
    length = np.linalg.norm(X_min[neighbours] - X_min[:, None, :], axis=2)  # (m_s, k)
    seg_scale = np.maximum(norms[:, None], norms[neighbours])  # (m_s, k)
    slack = 1e-6 * (norms + length.max(axis=1)) + atol + rtol * seg_scale.max(axis=1)
    radius = length.max(axis=1) + slack
    sq_min = norms**2

    n = len(S)
    parent = np.full(n, -1)
    neighbour = np.full(n, -1)
    lam_out = np.full(n, np.nan)
    resid_out = np.full(n, np.inf)
    for start in range(0, n, chunk):
        s = S[start:start + chunk]
        sq = np.einsum("ij,ij->i", s, s)
        dist = np.sqrt(np.maximum(sq[:, None] + sq_min[None, :] - 2.0 * s @ X_min.T, 0.0))
        row, a = np.nonzero(dist <= radius)  # candidate parents per row
        if row.size == 0:
            continue
        row = np.repeat(row, kk)
        a = np.repeat(a, kk)
        j = np.tile(np.arange(kk), row.size // kk)
        b = neighbours[a, j]
        defect = dist[row, a] + dist[row, b] - length[a, j]
        # np.nonzero lists candidates row by row, so each row's block is contiguous.
        start_idx = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        rows_any = row[start_idx]
        row_min = np.minimum.reduceat(defect, start_idx)
        is_min = defect == np.repeat(row_min, np.diff(np.append(start_idx, row.size)))
        minima = np.flatnonzero(is_min)
        first = minima[np.searchsorted(minima, start_idx)]  # each row's best-ranked candidate
        # Exact test of each row's best-ranked segment ...
        lam, resid = _project(s[rows_any], X_min[a[first]], X_min[b[first]])
        ok = (resid <= atol + rtol * seg_scale[a[first], j[first]]) & (lam >= -rtol) & (lam <= 1 + rtol)
        pick = first.copy()
        # ... and, for rows where it fails (near-collinear segments), of all their candidates.
        if not ok.all():
            retry = np.isin(row, rows_any[~ok])
            idx = np.flatnonzero(retry)
            l2, r2 = _project(s[row[idx]], X_min[a[idx]], X_min[b[idx]])
            good = (r2 <= atol + rtol * seg_scale[a[idx], j[idx]]) & (l2 >= -rtol) & (l2 <= 1 + rtol)
            rows_ok, first_ok = np.unique(row[idx][good], return_index=True)
            where = np.searchsorted(rows_any, rows_ok)
            ok[where] = True
            pick[where] = idx[good][first_ok]
            lam[where] = l2[good][first_ok]
            resid[where] = r2[good][first_ok]
        out = start + rows_any
        resid_out[out] = resid
        out_ok = out[ok]
        parent[out_ok] = a[pick[ok]]
        neighbour[out_ok] = b[pick[ok]]
        lam_out[out_ok] = lam[ok]
    return SegmentMatch(parent, neighbour, lam_out, resid_out)
