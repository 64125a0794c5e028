"""The reference CNN and FraudDetector (TensorFlow: kept to a few tiny fits).

The fraud experiment's three arms are tested with `grader experiments` in tests/test_experiments.py."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.tf

N_FEATURES = 30


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def data():
    """Raw-scale features (far from zero mean / unit variance) with a learnable signal."""
    rng = np.random.default_rng(0)
    X = rng.normal(loc=50.0, scale=20.0, size=(320, N_FEATURES))
    y = (X[:, 3] + rng.normal(scale=10.0, size=320) > 60.0).astype(int)
    X_val = rng.normal(loc=80.0, scale=5.0, size=(64, N_FEATURES))  # shifted: own statistics would differ
    y_val = (X_val[:, 3] > 80.0).astype(int)
    return X, y, X_val, y_val


@pytest.fixture(scope="module")
def fitted(keras, data):
    from solutions.fraud import FraudDetector

    X, y, X_val, y_val = data
    return FraudDetector(epochs=2, batch_size=64, seed=7).fit(X, y, validation_data=(X_val, y_val))


def test_cnn_layers_and_hyper_parameters(keras):
    from solutions.fraud import build_cnn

    model = build_cnn(N_FEATURES)
    assert model.input_shape == (None, N_FEATURES, 1)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv1D", "BatchNormalization", "MaxPooling1D", "Dropout",
                     "Conv1D", "BatchNormalization", "MaxPooling1D", "Dropout", "Flatten",
                     "Dense", "Dropout", "Dense", "Dense"]
    conv1, conv2 = model.layers[0], model.layers[4]
    assert (conv1.filters, conv1.kernel_size, conv1.get_config()["activation"]) == (32, (2,), "relu")
    assert (conv2.filters, conv2.kernel_size, conv2.get_config()["activation"]) == (64, (2,), "relu")
    assert conv1.padding == conv2.padding == "valid"
    assert [model.layers[i].pool_size for i in (2, 6)] == [(2,), (2,)]
    assert [model.layers[i].rate for i in (3, 7, 10)] == [0.2, 0.5, 0.5]
    dense = [model.layers[i] for i in (9, 11, 12)]
    assert [(d.units, d.get_config()["activation"]) for d in dense] == [(64, "relu"), (64, "relu"), (1, "sigmoid")]
    assert type(model.optimizer).__name__ == "Adam"
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    assert model.loss == "binary_crossentropy"


def test_cnn_parameter_counts(keras):
    from solutions.fraud import build_cnn

    model = build_cnn(N_FEATURES)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert model.count_params() == 33_505
    assert non_trainable == 192  # moving mean + variance of BatchNorm(32) and BatchNorm(64)
    assert build_cnn(7).output_shape == (None, 1)  # the smallest input that still flattens


def test_scaler_uses_training_statistics_only(fitted, data):
    X, _, X_val, _ = data
    np.testing.assert_allclose(fitted.scaler_.mean_, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(fitted.scaler_.scale_, X.std(axis=0), rtol=1e-12)
    assert np.all(np.abs(fitted.scaler_.mean_ - X_val.mean(axis=0)) > 10)
    assert fitted.n_features_in_ == N_FEATURES


def test_validation_is_scaled_with_training_statistics(keras, fitted, data):
    _, _, X_val, y_val = data
    scaled = fitted.scaler_.transform(X_val).astype(np.float32).reshape(-1, N_FEATURES, 1)
    loss = fitted.model_.evaluate(scaled, y_val.astype(np.float32), verbose=0, return_dict=True)["loss"]
    assert fitted.history_["val_loss"][-1] == pytest.approx(loss, rel=1e-4)


def test_history_is_a_plain_dict_of_floats_per_epoch(fitted):
    assert {"loss", "val_loss"} <= set(fitted.history_)
    assert all(len(v) == 2 and all(type(x) is float for x in v) for v in fitted.history_.values())
    json.dumps(fitted.history_)


def test_predict_proba_on_raw_features(fitted, data):
    X, _, _, _ = data
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X),)
    assert np.all((proba >= 0) & (proba <= 1))
    scaled = fitted.scaler_.transform(X).astype(np.float32).reshape(-1, N_FEATURES, 1)
    np.testing.assert_allclose(proba, fitted.model_.predict(scaled, verbose=0).ravel(), rtol=1e-6)


def test_same_seed_same_model_other_seed_other_model(fitted, data):
    from solutions.fraud import FraudDetector

    X, y, X_val, y_val = data
    again = FraudDetector(epochs=2, batch_size=64, seed=7).fit(X, y, validation_data=(X_val, y_val))
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    assert again.history_ == fitted.history_
    other = FraudDetector(epochs=1, batch_size=64, seed=8).fit(X, y)
    assert "val_loss" not in other.history_
    assert not np.array_equal(other.predict_proba(X), fitted.predict_proba(X))


def test_detector_errors_name_the_problem(fitted):
    from solutions.fraud import FraudDetector

    with pytest.raises(RuntimeError, match="call fit"):
        FraudDetector(epochs=1, batch_size=8).predict_proba(np.zeros((2, N_FEATURES)))
    with pytest.raises(ValueError, match=r"shape \(n, 30\)"):
        fitted.predict_proba(np.zeros((2, 29)))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        FraudDetector(epochs=0, batch_size=8).fit(np.zeros((4, N_FEATURES)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        FraudDetector(epochs=1, batch_size=8).fit(np.full((2, N_FEATURES), np.nan), np.array([0, 1]))
    with pytest.raises(ValueError, match="0/1 labels"):
        FraudDetector(epochs=1, batch_size=8).fit(np.zeros((3, N_FEATURES)), np.array([0, 2, 1]))

