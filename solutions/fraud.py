"""Task 2b (reference): a leakage-safe protocol and the homework's 1D CNN for fraud.

This module is graded like a student's ``submission/fraud.py``: it imports only
third-party libraries (NumPy, scikit-learn, Keras/TensorFlow), and the heavy ones
inside the functions that need them. Its experiments (the CNN without resampling,
with split-then-ADASYN, and with the leaky ADASYN-then-split) run like any
submission's: ``make experiments`` (``grader/experiments/``).
"""

from __future__ import annotations

import numpy as np

# The smallest input that survives two (Conv1D k=2 -> MaxPool 2) blocks with
# length >= 1: n -> n-1 -> (n-1)//2 -> (n-1)//2 - 1 -> ((n-1)//2 - 1)//2.
MIN_FEATURES = 7


def _as_xy(X, y, who: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"{who}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if y.ndim != 1:
        raise ValueError(f"{who}: y must be 1-D (n_samples,), got shape {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"{who}: X has {len(X)} rows but y has {len(y)} labels; pass matching arrays")
    return X, y


def split_then_resample(X, y, sampler, *, test_size=0.2, seed=0):
    """Split the raw rows first (stratified), then resample the training part only.

    Resampling before the split is the leak this homework is about: synthetic
    points interpolated from a fraud end up on both sides, and the test set no
    longer has the real class ratio (He et al. 2008 oversample training data
    only). The test rows returned are copies of original rows of ``X``.

    Returns ``(X_train, X_test, y_train, y_test)``; the training part is what
    ``sampler.fit_resample`` returned.
    """
    from sklearn.model_selection import train_test_split

    X, y = _as_xy(X, y, "split_then_resample")
    if not callable(getattr(sampler, "fit_resample", None)):
        raise TypeError(
            f"split_then_resample: sampler must have a fit_resample(X, y) method, got {type(sampler).__name__}"
        )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=seed
    )
    X_res, y_res = sampler.fit_resample(X_train, y_train)
    return np.asarray(X_res), np.asarray(X_test), np.asarray(y_res), np.asarray(y_test)


def build_cnn(n_features):
    """The homework's 1D CNN over the feature axis, compiled with Adam(1e-4) and BCE.

    Conv1D(32, 2, relu) → BatchNorm → MaxPool1D(2) → Dropout(0.2) →
    Conv1D(64, 2, relu) → BatchNorm → MaxPool1D(2) → Dropout(0.5) → Flatten →
    Dense(64, relu) → Dropout(0.5) → Dense(64, relu) → Dense(1, sigmoid).
    For 30 features: 33,505 parameters, 192 of them (the BatchNorm moving
    means and variances) non-trainable.
    """
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)):
        raise ValueError(f"build_cnn: n_features must be an integer, got {n_features!r}")
    if n_features < MIN_FEATURES:
        raise ValueError(
            f"build_cnn: n_features={n_features} is too small for two Conv1D(k=2) + MaxPool1D(2) blocks; "
            f"at least {MIN_FEATURES} features are needed"
        )
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input(shape=(int(n_features), 1)),
            layers.Conv1D(32, 2, activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling1D(2),
            layers.Dropout(0.2),
            layers.Conv1D(64, 2, activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling1D(2),
            layers.Dropout(0.5),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(64, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="fraud_cnn",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-4),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(curve="PR", name="pr_auc"), keras.metrics.AUC(curve="ROC", name="roc_auc")],
    )
    return model


def _seed_keras(seed: int) -> None:
    """Seed Python, NumPy and the backend, and ask TensorFlow for deterministic ops."""
    import keras

    keras.utils.set_random_seed(int(seed))
    try:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    except (ImportError, AttributeError, RuntimeError):  # other backend or an old TensorFlow
        pass


class FraudDetector:
    """Standardise with training statistics, train the CNN, predict fraud probabilities.

    The scaler is fitted on the training rows only, and validation rows (if any)
    are scaled with those statistics: fitting anything on held-out rows leaks
    their distribution into the model.

    Fitted attributes: ``scaler_`` (scikit-learn ``StandardScaler``), ``model_``
    (the Keras model), ``history_`` (Keras history dict of plain floats),
    ``n_features_in_``.
    """

    def __init__(self, *, epochs, batch_size, seed=0):
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    def _check_budget(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"FraudDetector: {name} must be a positive integer, got {value!r}")

    def _raw(self, X, who: str, n_features: int) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ValueError(
                f"FraudDetector.{who}: X must have shape (n, {n_features}) like the training data, got {X.shape}"
            )
        if not np.isfinite(X).all():
            raise ValueError(f"FraudDetector.{who}: X contains NaN or infinite values; clean the data first")
        return X

    def _features(self, X, who: str) -> np.ndarray:
        """Scale in float64 (Time and Amount reach 1e5), then hand Keras float32 of shape (n, f, 1)."""
        X = self._raw(X, who, self.n_features_in_)
        scaled = self.scaler_.transform(X).astype(np.float32)
        return scaled.reshape(len(scaled), self.n_features_in_, 1)

    def fit(self, X, y, validation_data=None):
        """Fit the scaler on ``X``, build and train the CNN quietly; return ``self``."""
        from sklearn.preprocessing import StandardScaler

        self._check_budget()
        X, y = _as_xy(X, y, "FraudDetector.fit")
        y = y.astype(np.float32)
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError(f"FraudDetector.fit: y must hold 0/1 labels, got values {np.unique(y)[:5]}")
        X = self._raw(X, "fit", X.shape[1])
        self.n_features_in_ = X.shape[1]
        self.scaler_ = StandardScaler().fit(X)
        X_in = self._features(X, "fit")
        val = None
        if validation_data is not None:
            X_val, y_val = _as_xy(*validation_data, "FraudDetector.fit(validation_data)")
            val = (self._features(X_val, "fit(validation_data)"), y_val.astype(np.float32))

        _seed_keras(self.seed)
        self.model_ = build_cnn(self.n_features_in_)
        history = self.model_.fit(
            X_in, y, epochs=int(self.epochs), batch_size=int(self.batch_size),
            validation_data=val, shuffle=True, verbose=0,
        )
        self.history_ = {key: [float(v) for v in values] for key, values in history.history.items()}
        return self

    def predict_proba(self, X):
        """Fraud probability of each raw row, shape (n,), float64 in [0, 1]."""
        if not hasattr(self, "model_"):
            raise RuntimeError("FraudDetector.predict_proba: call fit(X, y) first")
        X_in = self._features(X, "predict_proba")
        proba = self.model_.predict(X_in, batch_size=4096, verbose=0)
        return np.asarray(proba, dtype=np.float64).reshape(-1)
