"""A short ADASYN stand-in: originals first, then points on minority-minority segments."""

import numpy as np


class ADASYN:
    def __init__(self, *, beta=1.0, k=5, d_threshold=0.75, random_state=None):
        self.beta, self.k, self.d_threshold, self.random_state = beta, k, d_threshold, random_state

    def fit_resample(self, X, y):
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        minority = X[y == 1]
        rng = np.random.default_rng(self.random_state)
        G = int(((y == 0).sum() - (y == 1).sum()) * self.beta)
        pick = rng.integers(0, len(minority), size=(G, 2))
        lam = rng.random((G, 1))
        synthetic = minority[pick[:, 0]] + lam * (minority[pick[:, 1]] - minority[pick[:, 0]])
        return np.vstack([X, synthetic]), np.concatenate([y, np.ones(G, dtype=y.dtype)])
