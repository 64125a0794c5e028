"""Gallery (alt_plain_python): alternative correct: ADASYN with plain Python loops, no NumPy vectorisation.

Slow but follows He et al. 2008 step by step; random numbers come from one
``random.Random(random_state)``, so its synthetic rows differ from a NumPy
implementation's yet lie on the same segments.
"""

import math
import random


def _distance(a, b):
    return math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b)))


def _nearest(points, i, candidates, k):
    """Indices of the k candidates nearest to points[i], i itself excluded."""
    scored = sorted((_distance(points[i], points[j]), j) for j in candidates if j != i)
    return [j for _, j in scored[:k]]


class ADASYN:
    def __init__(self, *, beta=1.0, k=5, d_threshold=0.75, random_state=None):
        self.beta = beta
        self.k = k
        self.d_threshold = d_threshold
        self.random_state = random_state

    def fit_resample(self, X, y):
        rows = [[float(v) for v in row] for row in X]
        labels = [int(v) for v in y]
        if len(rows) != len(labels):
            raise ValueError(f"X has {len(rows)} rows but y has {len(labels)} labels")
        if any(math.isnan(v) or math.isinf(v) for row in rows for v in row):
            raise ValueError("X contains NaN or infinite values")
        classes = sorted(set(labels))
        if len(classes) != 2:
            raise ValueError(f"y must hold exactly two classes, found {len(classes)}")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must be between 0 and 1, got {self.beta}")
        count = {c: labels.count(c) for c in classes}
        minority = min(classes, key=lambda c: (count[c], c))
        majority = classes[0] if classes[1] == minority else classes[1]
        m_s, m_l = count[minority], count[majority]
        if self.k >= m_s:
            raise ValueError(f"k = {self.k} must be smaller than the number of minority samples ({m_s})")
        self.d_ = m_s / m_l
        if self.d_ >= self.d_threshold:
            return [list(r) for r in rows], list(labels)
        self.G_ = int((m_l - m_s) * self.beta)
        minority_idx = [i for i, c in enumerate(labels) if c == minority]
        everyone = range(len(rows))
        self.r_ = []
        for i in minority_idx:
            neighbours = _nearest(rows, i, everyone, self.k)
            self.r_.append(sum(1 for j in neighbours if labels[j] != minority) / self.k)
        total = sum(self.r_)
        if total == 0:
            raise ValueError("r sums to 0: no minority sample has a majority neighbour")
        self.r_hat_ = [r / total for r in self.r_]
        self.g_ = [int(round(r * self.G_)) for r in self.r_hat_]     # round() is half-to-even, as np.rint
        rng = random.Random(self.random_state)
        new_rows = []
        for pos, i in enumerate(minority_idx):
            neighbours = _nearest(rows, i, minority_idx, self.k)
            for _ in range(self.g_[pos]):
                z = neighbours[rng.randrange(self.k)]
                lam = rng.random()
                new_rows.append([a + lam * (b - a) for a, b in zip(rows[i], rows[z])])
        return [list(r) for r in rows] + new_rows, list(labels) + [minority] * len(new_rows)
