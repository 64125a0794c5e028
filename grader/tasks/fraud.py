"""Trusted inputs of the fraud task: what the sandboxed steps read and what only the checks read.

``prepare_inputs`` writes, deterministically per profile:

* ``inputs/fraud/adasyn_cases.{json,npz}``: the grader-chosen ADASYN inputs (a
  hand-made 14-point case, generated imbalanced cases with several beta/k, a
  credit-card-like case, and two cases at or above ``d_threshold``);
* ``inputs/fraud/adasyn_errors.{json,npz}``: one bad input per ``ValueError``
  the contract lists, plus a valid control;
* ``inputs/fraud/split_frame.npz`` and ``split_runs.json``: a frame whose
  column 0 (``Time``) is replaced by a unique row id, so every row can be
  followed through ``split_then_resample``;
* ``inputs/fraud/detector_{train,val}.npz`` (with labels) and
  ``detector_test.npz`` (inputs only) for ``FraudDetector``.

The checks never trust the sandbox's copy: every public file is copied to
``heldback/fraud/`` together with ``test_labels.npy``, ``detector_meta.json``
and ``adasyn_expected.json``: the oracle's numbers for each ADASYN case
(:func:`adasyn_expected`), so the checks compare with values fixed here and
never run an ADASYN themselves. The student bundle ships without the oracle
and reads the same values precomputed by ``make dist`` for the public seeds.

The cases and the split frame are drawn from ``CASES_SEED``; with a grading
secret (grader.secret) from a seed derived from it, with the same shapes and
properties, so a submission cannot recognise them and return memorised
answers. The public seed stays for the students' local checks.

Why the grader, not the student's ``split_then_resample``, prepares the
detector's training part: the student's split would need the labels of every
row, held-back test rows included, on the untrusted side; and grading the
CNN on the grader's split keeps a fault in the student's ADASYN or split
from also costing the CNN's metric points (each check grades one thing).
The training part is resampled with imbalanced-learn's ``ADASYN``, which is
independent of both the reference and the student.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from grader.errors import MizanError
from grader.profiles import FRAUD_VALIDATION_FRACTION, Profile

CASES_SEED = 20_080_601          # He et al. 2008 appeared at IJCNN, June 2008
SPLIT_ROWS, SPLIT_FRAUD = 2500, 600
SPLIT_RUNS = ({"name": "s0", "seed": 0, "test_size": 0.2},
              {"name": "s1", "seed": 1, "test_size": 0.2},
              {"name": "s2", "seed": 2, "test_size": 0.3},
              {"name": "s3", "seed": 3, "test_size": 0.25})
ID_COLUMN = 0                    # the split frame's Time column carries the row id

PUBLIC_FILES = ("adasyn_cases.json", "adasyn_cases.npz", "adasyn_errors.json", "adasyn_errors.npz",
                "split_frame.npz", "split_runs.json")
EXPECTED_FILE = "adasyn_expected.json"   # in heldback/fraud/: what the ADASYN checks compare with
SHIPPED_EXPECTED = Path(__file__).resolve().parent / "expected" / EXPECTED_FILE
"""Only in the student bundle (grader/dist.py writes it): the expected values for the public seeds."""
EXPECTED_FORMAT = 1

# The hand-made case: 9 majority (0) and 5 minority (1) points in the plane, k = 3;
# no two pairwise distances are equal, so the neighbour sets are unambiguous. By hand:
# r = (1/3, 1/3, 2/3, 2/3, 2/3), r_hat = (1/8, 1/8, 1/4, 1/4, 1/4), G = 4, r_hat * G =
# (0.5, 0.5, 1, 1, 1): a tie that np.rint, floor and largest remainder round differently.
TINY_X = np.array([
    [0.0, 0.0], [1.31, 1.22], [1.12, 0.29], [2.33, -0.41], [2.57, 1.13], [0.42, 2.24], [1.68, 2.07],
    [3.14, 1.71], [-1.23, 1.38], [0.19, 1.03], [2.02, 3.31], [-0.72, -1.63], [3.93, 2.88], [4.21, -0.94],
])
TINY_Y = np.array([0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0])


def cases_seed() -> int:
    """The seed of the grader-chosen cases: ``CASES_SEED``, or one derived from the grading secret."""
    from grader.secret import held_back_seed

    return held_back_seed(CASES_SEED, "cases")


def _generator_seed(seed: int) -> int:
    """The credit-card generator's seed for a cases seed: the public seed keeps its historic
    ``seed % 10_000`` (byte-identical cases); a secret-derived seed keeps all 31 bits."""
    return seed % 10_000 if seed == CASES_SEED else seed


def _moved(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The rows shuffled, rotated, scaled and translated at random.

    Every distance is multiplied by one factor, so the neighbour sets, r, G and
    the rounding tie of the hand-made case stay what the comment above works out;
    only the coordinates and the order of appearance change.
    """
    q, upper = np.linalg.qr(rng.normal(size=(X.shape[1], X.shape[1])))
    q = q * np.sign(np.diag(upper))
    order = rng.permutation(len(X))
    X = (X[order] - X.mean(axis=0)) @ q * rng.uniform(0.5, 2.0) + rng.normal(0.0, 3.0, X.shape[1])
    return X, y[order]


def _blobs(rng: np.random.Generator, n_major: int, n_minor: int, dim: int, shift: float) -> tuple:
    """Two overlapping Gaussian clouds, rows shuffled (minority not at the end)."""
    X = np.vstack([rng.normal(0.0, 1.0, (n_major, dim)), rng.normal(shift, 0.8, (n_minor, dim))])
    y = np.r_[np.zeros(n_major, int), np.ones(n_minor, int)]
    order = rng.permutation(len(y))
    return X[order], y[order]


def adasyn_cases(seed: int = CASES_SEED) -> list[dict]:
    """The ADASYN inputs: dicts with name, kind (generate|threshold), params, X, y, repeat.

    Any seed but ``CASES_SEED`` also moves the hand-made case (:func:`_moved`).
    """
    from grader.data.fraud import generate_creditcard, split_xy

    rng = np.random.default_rng(seed)
    cases = []
    tiny_X, tiny_y = (TINY_X, TINY_Y) if seed == CASES_SEED else _moved(TINY_X, TINY_Y, rng)

    def add(name, kind, X, y, *, beta=1.0, k=5, d_threshold=0.75, random_state=0, repeat=False):
        cases.append({"name": name, "kind": kind, "X": np.asarray(X, float), "y": np.asarray(y, int),
                      "params": {"beta": beta, "k": k, "d_threshold": d_threshold,
                                 "random_state": random_state}, "repeat": repeat})

    add("tiny_hand", "generate", tiny_X, tiny_y, k=3, random_state=1)
    add("tiny_minority_zero", "generate", tiny_X, 1 - tiny_y, k=3, random_state=2)
    Xb, yb = _blobs(rng, 180, 30, 5, 1.2)
    add("blobs_k5", "generate", Xb, yb, k=5, random_state=0, repeat=True)
    add("blobs_beta_half_k3", "generate", Xb, yb, beta=0.5, k=3, random_state=7)
    add("blobs_beta_zero", "generate", Xb, yb, beta=0.0, k=4, random_state=3)
    frame = generate_creditcard(n_rows=600, n_fraud=25, seed=_generator_seed(seed))
    Xc, yc = split_xy(frame)
    add("creditcard_600", "generate", Xc, yc, k=5, random_state=11)
    Xt, yt = _blobs(rng, 12, 10, 3, 0.9)        # d = 10/12 >= 0.75: nothing generated
    add("threshold_default", "threshold", Xt, yt, k=3, random_state=0)
    Xu, yu = _blobs(rng, 20, 12, 3, 0.9)        # d = 0.6 >= 0.5 (a non-default threshold)
    add("threshold_custom", "threshold", Xu, yu, k=3, d_threshold=0.5, random_state=0)
    return cases


def adasyn_error_cases(seed: int = CASES_SEED) -> list[dict]:
    """One bad input per ValueError of the contract, and a valid control that must not raise."""
    rng = np.random.default_rng(seed + 1)
    X, y = _blobs(rng, 40, 8, 2, 1.0)
    cases = []

    def add(name, problem, X_, y_, **params):
        full = {"beta": 1.0, "k": 3, "d_threshold": 0.75, "random_state": 0}
        full.update(params)
        cases.append({"name": name, "problem": problem, "X": np.asarray(X_, float),
                      "y": np.asarray(y_, int), "params": full})

    add("control", "none: a valid input that must not raise", X, y)
    y3 = y.copy()
    y3[np.flatnonzero(y == 0)[:5]] = 2
    add("non_binary_y", "y has three classes", X, y3)
    add("length_mismatch", "len(y) != len(X)", X, y[:-1])
    Xn = X.copy()
    Xn[3, 1] = np.nan
    add("nan_in_X", "X contains NaN", Xn, y)
    Xi = X.copy()
    Xi[5, 0] = np.inf
    add("inf_in_X", "X contains inf", Xi, y)
    add("k_equals_m_s", "k >= m_s (k = m_s = 8)", X, y, k=int((y == 1).sum()))
    add("beta_above_one", "beta = 1.5 outside [0, 1]", X, y, beta=1.5)
    add("beta_negative", "beta = -0.1 outside [0, 1]", X, y, beta=-0.1)
    far = np.vstack([rng.normal(0.0, 1.0, (40, 2)), rng.normal(0.0, 0.3, (8, 2)) + 100.0])
    add("no_majority_neighbour", "every minority sample has only minority neighbours (sum r = 0)",
        far, np.r_[np.zeros(40, int), np.ones(8, int)])
    return cases


def split_frame(seed: int = CASES_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A credit-card-like frame whose column ``ID_COLUMN`` is the unique row id 0..n-1."""
    from grader.data.fraud import generate_creditcard, split_xy

    X, y = split_xy(generate_creditcard(n_rows=SPLIT_ROWS, n_fraud=SPLIT_FRAUD, seed=_generator_seed(seed) + 1))
    X = np.array(X, dtype=float)
    X[:, ID_COLUMN] = np.arange(len(X), dtype=float)
    return X, np.asarray(y, dtype=int)


def _write_cases(folder: Path, stem: str, cases: list[dict]) -> None:
    arrays = {}
    meta = []
    for case in cases:
        arrays[f"X__{case['name']}"] = case["X"]
        arrays[f"y__{case['name']}"] = case["y"]
        meta.append({key: value for key, value in case.items() if key not in ("X", "y")})
    np.savez(folder / f"{stem}.npz", **arrays)
    (folder / f"{stem}.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def adasyn_resample_train(X: np.ndarray, y: np.ndarray, *, beta: float, k: int, seed: int) -> tuple:
    """The detector's training part resampled by imbalanced-learn's ADASYN (G = beta (m_l - m_s))."""
    from imblearn.over_sampling import ADASYN as ImbADASYN

    counts = np.bincount(y, minlength=2)
    m_s, m_l = counts.min(), counts.max()
    target = (m_s + beta * (m_l - m_s)) / m_l
    if beta == 0.0 or target <= m_s / m_l:
        return X, y
    sampler = ImbADASYN(sampling_strategy=float(min(target, 1.0)), n_neighbors=k, random_state=seed)
    return sampler.fit_resample(X, y)


def fingerprint(X, y) -> dict:
    """What identifies a case's data on any machine: the shape, the labels exactly, X by two sums.

    The sums, not a hash of X: another platform's math library may change the
    last bits of a generated value, never a sum by more than a few parts in 1e12.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    return {"shape": list(X.shape), "y_sha256": hashlib.sha256(y.astype("<i8").tobytes()).hexdigest(),
            "x_abs": float(np.abs(X).sum()), "x_sumsq": float(np.square(X).sum())}


def _same_data(a: dict, b: dict) -> bool:
    return (a["shape"] == b["shape"] and a["y_sha256"] == b["y_sha256"]
            and bool(np.isclose(a["x_abs"], b["x_abs"], rtol=1e-9))
            and bool(np.isclose(a["x_sumsq"], b["x_sumsq"], rtol=1e-9)))


def _shipped() -> dict | None:
    """The student bundle's precomputed values, or None in the trusted grader (which has the oracle)."""
    if not SHIPPED_EXPECTED.is_file():
        return None
    return json.loads(SHIPPED_EXPECTED.read_text(encoding="utf-8"))


def adasyn_expected(cases: list[dict]) -> dict:
    """``{"format", "cases": {name: {params, fingerprint, d, G, minority, m_s, r, r_hat, g, ...}}}``.

    The expectations are grader.oracles.adasyn's ``case_expectations`` on the
    grader's own cases. The student bundle has no oracle: there they come from
    the values ``make dist`` computed for the public cases, and a case that is
    not one of those (a grading secret set, a stale bundle) is an error.
    """
    shipped = _shipped()
    if shipped is None:
        from grader.oracles.adasyn import case_expectations

        out = {case["name"]: {"params": case["params"], "fingerprint": fingerprint(case["X"], case["y"]),
                              **case_expectations(case["X"], case["y"], k=case["params"]["k"],
                                                  beta=case["params"]["beta"])}
               for case in cases}
        return {"format": EXPECTED_FORMAT, "cases": out}
    known = shipped.get("cases", {})
    differ = [case["name"] for case in cases
              if case["name"] not in known or known[case["name"]]["params"] != case["params"]
              or not _same_data(known[case["name"]]["fingerprint"], fingerprint(case["X"], case["y"]))]
    if differ:
        raise MizanError(f"the ADASYN case(s) {', '.join(differ)} are not the public ones this student bundle "
                         f"has expected values for ({SHIPPED_EXPECTED}): unset MIZAN_SECRET and "
                         f"MIZAN_SECRET_FILE (grading secrets are for instructors), or use a fresh bundle")
    return {"format": EXPECTED_FORMAT, "cases": {case["name"]: known[case["name"]] for case in cases}}


def read_adasyn_expected(path: Path | str) -> dict[str, dict]:
    """The checks' reader of :func:`adasyn_expected`'s file: per case name, its values with
    ``r``, ``r_hat``, each rounding's ``g`` and the neighbour indices as numpy arrays."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != EXPECTED_FORMAT:
        raise MizanError(f"{path}: expected-values format {data.get('format')!r}, this grader reads "
                         f"{EXPECTED_FORMAT}; prepare the inputs again")
    out = {}
    for name, rec in data["cases"].items():
        rec = dict(rec)
        for key, dtype in (("r", np.float64), ("r_hat", np.float64),
                           ("minority_neighbours", np.int64), ("neighbours", np.int64)):
            rec[key] = None if rec.get(key) is None else np.asarray(rec[key], dtype=dtype)
        if rec.get("g") is not None:
            rec["g"] = {method: np.asarray(g, dtype=np.int64) for method, g in rec["g"].items()}
        out[name] = rec
    return out


def write_case_inputs(inputs: Path, held: Path, seed: int) -> None:
    """The ADASYN cases, the error cases and the split frame drawn with ``seed``, their held-back
    copies, and the ADASYN cases' expected values (held back only: they are the answers)."""
    cases = adasyn_cases(seed)
    _write_cases(inputs, "adasyn_cases", cases)
    _write_cases(inputs, "adasyn_errors", adasyn_error_cases(seed))
    Xs, ys = split_frame(seed)
    np.savez(inputs / "split_frame.npz", X=Xs, y=ys)
    (inputs / "split_runs.json").write_text(json.dumps(list(SPLIT_RUNS), indent=1), encoding="utf-8")
    for name in PUBLIC_FILES:
        shutil.copyfile(inputs / name, held / name)
    (held / EXPECTED_FILE).write_text(json.dumps(adasyn_expected(cases)), encoding="utf-8")


def detector_parts(cfg, draw: int) -> tuple:
    """``(X, y, X_fit, y_fit, X_val, y_val, X_test, y_test)``: the profile's frame drawn with seed
    ``draw``, split into test (stratified), then validation, the rest the training part."""
    from sklearn.model_selection import train_test_split

    from grader.data.fraud import load_fraud_frame, split_xy

    X, y = split_xy(load_fraud_frame(dataclasses.replace(cfg, seed=draw)))
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=cfg.test_size, stratify=y, random_state=draw)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=FRAUD_VALIDATION_FRACTION, stratify=y_train, random_state=cfg.seed)
    return X, y, X_fit, y_fit, X_val, y_val, X_test, y_test


def detector_adasyn(X_fit: np.ndarray, y_fit: np.ndarray, cfg, profile_name: str) -> dict:
    """ADASYN's d, G and r on the detector's training part, for the report (``detector_meta.json``).

    The oracle computes them; the student bundle takes them from its precomputed
    values when this is the public draw of that profile, and otherwise leaves
    them out (the report then says they are not available).
    """
    out = {"implementation": "imbalanced-learn ADASYN", "beta": cfg.adasyn_beta, "k": cfg.adasyn_k}
    shipped = _shipped()
    if shipped is None:
        from grader.oracles.adasyn import adasyn_amount, majority_ratios

        d, G, _ = adasyn_amount(y_fit, cfg.adasyn_beta)
        return {**out, "d": d, "G": G, "r": majority_ratios(X_fit, y_fit, cfg.adasyn_k).round(6).tolist()}
    known = shipped.get("detector", {}).get(profile_name)
    if known and known["beta"] == cfg.adasyn_beta and known["k"] == cfg.adasyn_k \
            and _same_data(known["fingerprint"], fingerprint(X_fit, y_fit)):
        out.update(d=known["d"], G=known["G"], r=known["r"])
    return out


def shipped_expected(profiles) -> dict:
    """What the student bundle ships instead of the oracle (grader/dist.py): the expected values
    of the public cases and, per profile, the detector part's d, G and r. Always the public
    seeds, whatever secret is set where the bundle is built: students grade without one."""
    detector = {}
    for profile in profiles:
        cfg = profile.fraud
        _, _, X_fit, y_fit, *_ = detector_parts(cfg, cfg.seed)
        detector[profile.name] = {**detector_adasyn(X_fit, y_fit, cfg, profile.name),
                                  "fingerprint": fingerprint(X_fit, y_fit)}
    return {**adasyn_expected(adasyn_cases(CASES_SEED)), "detector": detector}


def prepare_inputs(profile: Profile, inputs_dir: Path | str, heldback_dir: Path | str) -> None:
    """Write the fraud inputs (see the module docstring); deterministic for a profile and grading secret."""
    from grader.secret import held_back_seed

    cfg = profile.fraud
    inputs = Path(inputs_dir) / "fraud"
    held = Path(heldback_dir) / "fraud"
    inputs.mkdir(parents=True, exist_ok=True)
    held.mkdir(parents=True, exist_ok=True)
    write_case_inputs(inputs, held, cases_seed())

    # Frame and split are drawn with the grading secret's seed when one is set
    # (grader.secret): no submission can regenerate the test rows and their labels.
    X, y, X_fit, y_fit, X_val, y_val, X_test, y_test = detector_parts(cfg, held_back_seed(cfg.seed, "fraud"))
    X_res, y_res = adasyn_resample_train(X_fit, y_fit, beta=cfg.adasyn_beta, k=cfg.adasyn_k, seed=cfg.seed)
    np.savez(inputs / "detector_train.npz", X=np.asarray(X_res, float), y=np.asarray(y_res, int))
    np.savez(inputs / "detector_val.npz", X=X_val, y=y_val)
    np.savez(inputs / "detector_test.npz", X=X_test)
    detector = {"epochs": cfg.epochs, "batch_size": cfg.batch_size, "seed": cfg.seed,
                "n_train": int(len(y_res)), "n_val": int(len(y_val)), "n_test": int(len(y_test))}
    (inputs / "detector.json").write_text(json.dumps(detector, indent=1), encoding="utf-8")

    np.save(held / "test_labels.npy", y_test)

    def counts(labels) -> dict:
        c = np.bincount(np.asarray(labels, int), minlength=2)
        return {"0": int(c[0]), "1": int(c[1])}

    meta = {"source": cfg.source, "test_size": cfg.test_size, "seed": cfg.seed,
            "validation_fraction": FRAUD_VALIDATION_FRACTION,
            "adasyn": detector_adasyn(X_fit, y_fit, cfg, profile.name),
            "class_counts": {"original": counts(y), "train_before": counts(y_fit),
                             "train_after": counts(y_res), "validation": counts(y_val),
                             "test": counts(y_test)}}
    (held / "detector_meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
