"""The reference leakage-safe split and the CNN's input check (no TensorFlow here).

The experiments' error paths (a bad or missing creditcard.csv) are tested with `grader experiments`
in tests/test_experiments.py."""

import numpy as np
import pytest

from solutions.fraud import MIN_FEATURES, build_cnn, split_then_resample

N, N_FRAUD = 1000, 50


def frame():
    """Rows identifiable by their first column (0..N-1); frauds are every 20th row."""
    rng = np.random.default_rng(3)
    X = np.column_stack([np.arange(N, dtype=float), rng.normal(size=(N, 4))])
    y = np.zeros(N, dtype=int)
    y[::20] = 1
    return X, y


class RecordingSampler:
    """Records what it was given and appends two synthetic frauds tagged with id -1."""

    def fit_resample(self, X, y):
        self.X_seen, self.y_seen = X.copy(), y.copy()
        synthetic = np.full((2, X.shape[1]), -1.0)
        return np.vstack([X, synthetic]), np.concatenate([y, [1, 1]])


def row_keys(X):
    return {row.tobytes() for row in np.ascontiguousarray(X)}


def test_test_rows_are_original_untouched_copies_in_the_original_ratio():
    X, y = frame()
    sampler = RecordingSampler()
    X_train, X_test, y_train, y_test = split_then_resample(X, y, sampler, test_size=0.2, seed=0)

    assert X_test.shape == (200, 5) and y_test.shape == (200,)
    assert row_keys(X_test) <= row_keys(X)  # bitwise equal to rows of X
    ids = X_test[:, 0].astype(int)
    np.testing.assert_array_equal(X_test, X[ids])
    np.testing.assert_array_equal(y_test, y[ids])  # labels travel with their rows
    assert int(y_test.sum()) == 10  # stratified: exactly 5 % frauds, as in X
    assert not np.shares_memory(X_test, X)  # copies: editing them cannot alter the data


def test_sampler_saw_only_training_rows_and_its_output_is_the_training_part():
    X, y = frame()
    sampler = RecordingSampler()
    X_train, X_test, y_train, y_test = split_then_resample(X, y, sampler, test_size=0.2, seed=0)

    seen = set(sampler.X_seen[:, 0].astype(int))
    test = set(X_test[:, 0].astype(int))
    assert len(seen) == 800 and not seen & test and seen | test == set(range(N))
    assert int(sampler.y_seen.sum()) == 40
    np.testing.assert_array_equal(X_train[:800], sampler.X_seen)
    assert X_train.shape == (802, 5) and int(y_train.sum()) == 42
    assert -1.0 not in X_test[:, 0]  # no synthetic row in the test set


def test_seed_fixes_the_split_and_changes_it():
    X, y = frame()
    a = split_then_resample(X, y, RecordingSampler(), seed=0)[1]
    b = split_then_resample(X, y, RecordingSampler(), seed=0)[1]
    c = split_then_resample(X, y, RecordingSampler(), seed=1)[1]
    np.testing.assert_array_equal(a, b)
    assert set(a[:, 0]) != set(c[:, 0])


def test_test_size_is_honoured():
    X, y = frame()
    _, X_test, _, y_test = split_then_resample(X, y, RecordingSampler(), test_size=0.3, seed=0)
    assert len(X_test) == 300 and int(y_test.sum()) == 15


def test_bad_inputs_name_the_problem():
    X, y = frame()
    with pytest.raises(ValueError, match="X has 1000 rows but y has 999 labels"):
        split_then_resample(X, y[:-1], RecordingSampler())
    with pytest.raises(TypeError, match="fit_resample"):
        split_then_resample(X, y, object())
    with pytest.raises(ValueError, match="X must be 2-D"):
        split_then_resample(X[:, 0], y, RecordingSampler())


def test_build_cnn_rejects_inputs_too_short_for_two_pooling_blocks():
    # 6 -> conv 5 -> pool 2 -> conv 1 -> pool 0: nothing left to flatten.
    assert MIN_FEATURES == 7
    with pytest.raises(ValueError, match="n_features=6 is too small"):
        build_cnn(6)
    with pytest.raises(ValueError, match="must be an integer"):
        build_cnn(30.0)

