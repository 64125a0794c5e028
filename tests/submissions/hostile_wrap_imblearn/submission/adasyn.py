"""HOSTILE: 'from scratch' ADASYN that wraps imbalanced-learn's"""

import numpy as np
from imblearn.over_sampling import ADASYN as _Library


class ADASYN:
    def __init__(self, *, beta=1.0, k=5, d_threshold=0.75, random_state=None):
        self.beta, self.k, self.d_threshold, self.random_state = beta, k, d_threshold, random_state

    def fit_resample(self, X, y):
        return _Library(n_neighbors=self.k, random_state=self.random_state).fit_resample(X, y)
