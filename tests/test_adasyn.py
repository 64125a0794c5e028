"""The reference ADASYN (solutions/adasyn.py): by hand, against the oracle, against imbalanced-learn."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors

from grader.oracles.adasyn import adasyn_weights, minority_neighbours, segment_parents
from solutions.adasyn import ADASYN

# --- a 14-point example small enough to check on paper ------------------------
# One feature. Majority (0): 0, 1.1, 2.3, 3.6, 10, 11.2, 12.5, 20, 21.5, 23.
# Minority (1), in order of appearance: 3.0, 13.4, 5.0, 22.1.  k = 2.
#   3.0 : nearest 3.6 (0.6, maj), 2.3 (0.7, maj)      -> Δ = 2, r = 1
#  13.4 : nearest 12.5 (0.9, maj), 11.2 (2.2, maj)    -> Δ = 2, r = 1
#   5.0 : nearest 3.6 (1.4, maj), 3.0 (2.0, min)      -> Δ = 1, r = 0.5
#  22.1 : nearest 21.5 (0.6, maj), 23 (0.9, maj)      -> Δ = 2, r = 1
# d = 4/10 = 0.4 < 0.75; G = (10 - 4) * 1 = 6; Σr = 3.5; r̂ = (2/7, 2/7, 1/7, 2/7);
# r̂·G = (12/7, 12/7, 6/7, 12/7) = (1.714, 1.714, 0.857, 1.714) -> rint g = (2, 2, 1, 2), Σg = 7.
# Minority neighbours (k = 2) for synthesis:
#   3.0 -> 5.0, 13.4;  13.4 -> 5.0, 22.1;  5.0 -> 3.0, 13.4;  22.1 -> 13.4, 5.0.
HAND_X = np.array([0, 3.0, 1.1, 2.3, 13.4, 3.6, 10, 5.0, 11.2, 12.5, 20, 22.1, 21.5, 23]).reshape(-1, 1)
HAND_Y = np.array([0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0])
HAND_PARTNERS = {3.0: (5.0, 13.4), 13.4: (5.0, 22.1), 5.0: (3.0, 13.4), 22.1: (13.4, 5.0)}


def test_hand_example_fitted_attributes():
    ada = ADASYN(k=2, random_state=0)
    X_res, y_res = ada.fit_resample(HAND_X, HAND_Y)
    assert ada.d_ == 0.4
    assert ada.G_ == 6
    assert ada.minority_label_ == 1
    assert ada.r_.tolist() == [1.0, 1.0, 0.5, 1.0]
    np.testing.assert_allclose(ada.r_hat_, [2 / 7, 2 / 7, 1 / 7, 2 / 7], rtol=1e-15)
    assert ada.g_.tolist() == [2, 2, 1, 2]
    assert ada.n_synthetic_ == 7
    assert X_res.shape == (21, 1) and y_res.tolist() == HAND_Y.tolist() + [1] * 7
    assert np.array_equal(X_res[:14], HAND_X)


def test_hand_example_synthetic_rows_lie_between_parent_and_a_partner():
    ada = ADASYN(k=2, random_state=1)
    X_res, _ = ada.fit_resample(HAND_X, HAND_Y)
    parents = [3.0, 3.0, 13.4, 13.4, 5.0, 22.1, 22.1]  # np.repeat over g = (2, 2, 1, 2)
    for parent, value in zip(parents, X_res[14:, 0]):
        lo_hi = [sorted((parent, p)) for p in HAND_PARTNERS[parent]]
        assert any(lo <= value <= hi for lo, hi in lo_hi), (parent, value)


def test_matches_the_oracle_module():
    X, y = _blobs(seed=4)
    ada = ADASYN(k=5, beta=0.6, random_state=0)
    ada.fit_resample(X, y)
    r, r_hat, g = adasyn_weights(X, y, 5, beta=0.6)
    assert np.array_equal(ada.r_, r)
    np.testing.assert_allclose(ada.r_hat_, r_hat, rtol=1e-12)
    assert np.array_equal(ada.g_, g)
    assert ada.G_ == int((200 - 20) * 0.6) == 108


# --- imbalanced-learn as the oracle -----------------------------------------

def _blobs(seed, n_maj=200, n_min=20, n_features=3):
    """Continuous, overlapping classes: no distance ties; minority rows spread through X."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n_maj, n_features)), rng.normal(0.8, 0.8, (n_min, n_features))])
    y = np.array([0] * n_maj + [1] * n_min)
    order = rng.permutation(len(y))
    return X[order], y[order]


_RECORDED: list = []


class _RecordingNN(NearestNeighbors):
    """NearestNeighbors that records what imbalanced-learn's ADASYN asks of it (it clones us)."""

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        out = super().kneighbors(X, n_neighbors, return_distance)
        _RECORDED.append(out)
        return out


class _ZeroSteps(np.random.RandomState):
    """A RandomState whose λ are all 0: imblearn's synthetic rows are then copies of their parents."""

    def uniform(self, low=0.0, high=1.0, size=None):
        return np.zeros(size)


def _imblearn_r_and_counts(X, y, k, G):
    """imblearn's ratio_nn (its own formula on its own neighbours) and its per-sample rint counts."""
    from imblearn.over_sampling import ADASYN as ImbADASYN

    _RECORDED.clear()
    # For over-samplers a dict gives each class's count *after* resampling: m_s + G.
    sampler = ImbADASYN(sampling_strategy={1: int((y == 1).sum()) + G}, n_neighbors=_RecordingNN(n_neighbors=k + 1),
                        random_state=_ZeroSteps(0))
    X_res, _ = sampler.fit_resample(X, y)
    nns = _RECORDED[0][:, 1:]  # first call: minority rows queried in the whole X
    ratio_nn = np.sum(y[nns] != 1, axis=1) / k  # imblearn _adasyn.py, verbatim
    X_min = X[y == 1]
    synthetic = X_res[len(X):]
    counts = (synthetic[:, None, :] == X_min[None, :, :]).all(axis=2).sum(axis=0)
    assert counts.sum() == len(synthetic)  # every imblearn row is a copy of exactly one parent
    return ratio_nn, counts


@pytest.mark.parametrize("seed, k, beta", [(0, 5, 1.0), (1, 3, 1.0), (2, 7, 0.5), (3, 5, 0.25)])
def test_same_r_and_counts_as_imblearn(seed, k, beta):
    X, y = _blobs(seed)
    ada = ADASYN(k=k, beta=beta, random_state=0)
    ada.fit_resample(X, y)
    ratio_nn, counts = _imblearn_r_and_counts(X, y, k, ada.G_)
    assert np.array_equal(ada.r_, ratio_nn)
    assert np.array_equal(ada.g_, counts)
    assert ada.r_.sum() > 0 and 0 < ada.g_.sum()


def test_same_shapes_and_originals_as_imblearn():
    from imblearn.over_sampling import ADASYN as ImbADASYN

    X, y = _blobs(5)
    X_ours, y_ours = ADASYN(random_state=0).fit_resample(X, y)
    X_imb, y_imb = ImbADASYN(random_state=0).fit_resample(X, y)
    assert X_ours.shape == X_imb.shape
    assert np.array_equal(X_ours[:len(X)], X_imb[:len(X)])
    assert np.array_equal(y_ours, y_imb)


# --- synthesis -----------------------------------------------------------------

def test_every_synthetic_row_is_on_a_segment_from_its_parent():
    X, y = _blobs(6, n_maj=300, n_min=30, n_features=4)
    ada = ADASYN(k=4, random_state=3)
    X_res, y_res = ada.fit_resample(X, y)
    X_min = X[y == 1]
    synthetic = X_res[len(X):]
    assert (y_res[len(X):] == 1).all() and len(synthetic) == ada.g_.sum()

    match = segment_parents(X_min, synthetic, k=4)
    assert match.on_segment.all()
    assert ((match.lam >= 0) & (match.lam <= 1)).all()

    # Stronger, for the reference's own order: row t comes from parent np.repeat(arange, g)[t].
    parent = np.repeat(np.arange(len(X_min)), ada.g_)
    partners = minority_neighbours(X_min, 4)[parent]  # (n_new, k)
    a = X_min[parent][:, None, :]
    d = X_min[partners] - a
    lam = ((synthetic[:, None, :] - a) * d).sum(axis=2) / (d * d).sum(axis=2)
    resid = np.linalg.norm(synthetic[:, None, :] - a - lam[..., None] * d, axis=2)
    on = (resid < 1e-9) & (lam >= 0) & (lam < 1)
    assert on.any(axis=1).all()


def test_lambda_is_spread_over_zero_one():
    X, y = _blobs(7, n_maj=2000, n_min=40, n_features=2)
    ada = ADASYN(k=3, random_state=0)
    X_res, _ = ada.fit_resample(X, y)
    lam = segment_parents(X[y == 1], X_res[len(X):], k=3).lam
    assert len(lam) > 1500
    assert 0.45 < lam.mean() < 0.55 and lam.min() < 0.01 and lam.max() > 0.99


def test_reproducible_with_random_state():
    X, y = _blobs(8)
    a1, _ = ADASYN(random_state=11).fit_resample(X, y)
    a2, _ = ADASYN(random_state=11).fit_resample(X, y)
    b, _ = ADASYN(random_state=12).fit_resample(X, y)
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, b)
    assert np.array_equal(a1[:len(X)], b[:len(X)])
    rng_state = ADASYN(random_state=np.random.default_rng(11)).fit_resample(X, y)[0]
    assert np.array_equal(rng_state, a1)  # a Generator seeded 11 draws the same stream


def test_minority_label_may_be_zero_and_labels_any_type():
    X, y = _blobs(9)
    flipped = np.where(y == 1, "fraud", "ok")  # the rarer class as a string
    ada = ADASYN(random_state=0)
    X_res, y_res = ada.fit_resample(X, flipped)
    assert ada.minority_label_ == "fraud"
    assert (y_res[len(X):] == "fraud").all()
    zero_minority = 1 - y
    ada0 = ADASYN(random_state=0)
    ada0.fit_resample(X, zero_minority)
    assert ada0.minority_label_ == 0
    assert np.array_equal(ada0.r_, ada.r_)


def test_balanced_enough_generates_nothing_and_returns_copies():
    X, y = _blobs(10, n_maj=40, n_min=30)  # d = 0.75
    ada = ADASYN(random_state=0)
    X_res, y_res = ada.fit_resample(X, y)
    assert ada.d_ == 0.75 and ada.G_ == 0 and ada.n_synthetic_ == 0
    assert ada.g_.size == 0 and ada.r_.size == 0
    assert np.array_equal(X_res, X) and np.array_equal(y_res, y)
    X_res[0, 0] = 99.0
    assert X[0, 0] != 99.0  # a copy, not the caller's array
    higher = ADASYN(d_threshold=0.8, random_state=0)  # d = 0.75 < 0.8: generates G = 10
    X_more, _ = higher.fit_resample(X, y)
    assert higher.G_ == 10 and len(X_more) == 70 + higher.n_synthetic_ and higher.n_synthetic_ > 0


def test_beta_zero_generates_nothing_but_fits_r():
    X, y = _blobs(11)
    ada = ADASYN(beta=0.0, random_state=0)
    X_res, _ = ada.fit_resample(X, y)
    assert ada.G_ == 0 and ada.g_.sum() == 0 and X_res.shape == X.shape
    assert ada.r_.shape == (20,) and ada.r_.sum() > 0


def test_dataframe_and_list_inputs():
    import pandas as pd

    X, y = _blobs(12)
    X_res, y_res = ADASYN(random_state=0).fit_resample(pd.DataFrame(X), list(y))
    X_ref, y_ref = ADASYN(random_state=0).fit_resample(X, y)
    assert np.array_equal(X_res, X_ref) and np.array_equal(y_res, y_ref)


# --- the estimator contract -------------------------------------------------------

def test_init_only_stores_and_is_keyword_only():
    ada = ADASYN(beta=0.5, k=3, d_threshold=0.6, random_state=7)
    assert ada.get_params() == {"beta": 0.5, "k": 3, "d_threshold": 0.6, "random_state": 7}
    assert not [name for name in vars(ada) if name.endswith("_")]
    with pytest.raises(TypeError):
        ADASYN(0.5)  # keyword-only
    bad = ADASYN(beta=7)  # no validation before fit_resample
    assert bad.beta == 7
    assert clone(ada).get_params() == ada.get_params()


def test_docstring_cites_he_et_al():
    doc = ADASYN.__doc__
    assert "References" in doc and "He" in doc and "2008" in doc and "IJCNN" in doc


# --- errors -------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, X, y, match", [
    ({}, np.zeros((6, 2)), [0, 1, 2, 0, 1, 2], r"y must be binary .* found 3 class"),
    ({}, np.zeros((6, 2)), [1] * 6, r"y must be binary .* found 1 class"),
    ({}, np.zeros((6, 2)), [0, 1, 0], r"length mismatch: X has 6 rows but y has 3"),
    ({}, [[0.0, np.nan]] + [[1.0, 1.0]] * 5, [0, 1] * 3, r"NaN or infinite .* first at row 0"),
    ({}, [[1.0, 1.0]] * 5 + [[np.inf, 0.0]], [0, 1] * 3, r"NaN or infinite .* first at row 5"),
    ({"k": 3}, np.arange(12.0).reshape(6, 2), [0, 0, 0, 1, 1, 1], r"k=3 must be smaller .* m_s=3"),
    ({"k": 0}, np.arange(12.0).reshape(6, 2), [0, 0, 0, 1, 1, 1], r"k must be a positive integer, got 0"),
    ({"beta": 1.5}, np.zeros((6, 2)), [0, 1] * 3, r"beta must be a number in \[0, 1\], got 1.5"),
    ({"beta": -0.1}, np.zeros((6, 2)), [0, 1] * 3, r"beta must be a number in \[0, 1\], got -0.1"),
    ({}, np.zeros(6), [0, 1] * 3, r"X must be a 2-D array"),
    ({}, [["a", "b"]] * 6, [0, 1] * 3, r"X must be a numeric 2-D array"),
])
def test_bad_input_names_the_problem(kwargs, X, y, match):
    with pytest.raises(ValueError, match=match):
        ADASYN(**kwargs).fit_resample(X, y)


def test_no_minority_sample_with_a_majority_neighbour():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(100, 1, (10, 2))])
    y = np.array([0] * 50 + [1] * 10)
    with pytest.raises(ValueError, match=r"no minority sample has a majority neighbour \(sum of r is 0\)"):
        ADASYN(k=3).fit_resample(X, y)


def test_duplicates_do_not_count_the_sample_as_its_own_neighbour():
    # Minority 5.0 appears twice: each copy's nearest other point is the other copy (minority).
    X = np.array([0.0, 1.0, 2.0, 3.0, 4.1, 5.0, 5.0, 6.2, 7.0, 8.0, 9.0, 10.0]).reshape(-1, 1)
    y = np.array([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0])
    ada = ADASYN(k=1, random_state=0)
    ada.fit_resample(X, y)
    # 5.0 -> the other 5.0 (minority): r = 0, twice; 8.0 -> 7.0 or 9.0 (majority): r = 1.
    assert ada.r_.tolist() == [0.0, 0.0, 1.0]


def test_blockwise_synthesis_equals_one_block(monkeypatch):
    import solutions.adasyn as module

    X, y = _blobs(13)
    whole, _ = ADASYN(random_state=5).fit_resample(X, y)
    monkeypatch.setattr(module, "_BLOCK", 7)  # 180 synthetic rows in 26 blocks
    blocks, _ = ADASYN(random_state=5).fit_resample(X, y)
    assert len(whole) == 400 and np.array_equal(blocks, whole)


def test_fortran_ordered_input_and_output_independent_of_the_callers_array():
    X, y = _blobs(14)
    X_c, y_c = ADASYN(random_state=2).fit_resample(X, y)
    X_f = np.asfortranarray(X)  # what DataFrame.to_numpy() gives for a float frame
    X_res, y_res = ADASYN(random_state=2).fit_resample(X_f, y)
    assert np.array_equal(X_res, X_c) and np.array_equal(y_res, y_c)
    assert X_res.flags.c_contiguous
    X_res[:] = 0.0
    assert not np.shares_memory(X_res, X_f) and X_f[0, 0] != 0.0
