"""Gallery (adasyn_no_synthesis): d_, G_, r_, r_hat_ and g_ are right, but no synthetic row is ever returned."""

import numpy as np
from sklearn.neighbors import NearestNeighbors


class ADASYN:
    def __init__(self, *, beta=1.0, k=5, d_threshold=0.75, random_state=None):
        self.beta = beta
        self.k = k
        self.d_threshold = d_threshold
        self.random_state = random_state

    def _validate(self, X, y):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinite values")
        labels, counts = np.unique(y, return_counts=True)
        if len(labels) != 2:
            raise ValueError(f"y must be binary, found {len(labels)} classes")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {self.beta}")
        return X, y, labels, counts

    def fit_resample(self, X, y):
        X, y, labels, counts = self._validate(X, y)
        minority = labels[np.argmin(counts)]
        m_s, m_l = counts.min(), counts.max()
        if self.k >= m_s:
            raise ValueError(f"k={self.k} needs more than k minority samples, found {m_s}")
        self.d_ = m_s / m_l
        if self.d_ >= self.d_threshold:
            return X.copy(), y.copy()
        self.G_ = int((m_l - m_s) * self.beta)
        idx = np.flatnonzero(y == minority)
        neigh = NearestNeighbors(n_neighbors=self.k + 1).fit(X).kneighbors(X[idx], return_distance=False)[:, 1:]
        self.r_ = (y[neigh] != minority).sum(axis=1) / self.k
        if self.r_.sum() == 0:
            raise ValueError("no minority sample has a majority neighbour (sum of r is 0)")
        self.r_hat_ = self.r_ / self.r_.sum()
        self.g_ = np.rint(self.r_hat_ * self.G_).astype(int)
        X_min = X[idx]
        min_neigh = NearestNeighbors(n_neighbors=self.k + 1).fit(X_min).kneighbors(X_min, return_distance=False)[:, 1:]
        rng = np.random.default_rng(self.random_state)
        parents = np.repeat(np.arange(len(idx)), self.g_)
        chosen = min_neigh[parents, rng.integers(0, self.k, size=len(parents))]
        lam = rng.random(len(parents))[:, None]
        synthetic = X_min[parents] + lam * (X_min[chosen] - X_min[parents])
        return X.copy(), y.copy()
