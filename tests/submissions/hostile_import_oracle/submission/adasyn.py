"""HOSTILE: takes d, G, r, r_hat and g from Mizan's own ADASYN oracle instead of computing them"""

import numpy as np
from grader.oracles.adasyn import adasyn_amount, majority_ratios


class ADASYN:
    def __init__(self, *, beta=1.0, k=5, d_threshold=0.75, random_state=None):
        self.beta, self.k, self.d_threshold, self.random_state = beta, k, d_threshold, random_state

    def fit_resample(self, X, y):
        self.r_ = majority_ratios(X, y, self.k)
        return np.asarray(X), np.asarray(y)
