"""Task 2b: a leakage-safe protocol and the 1D CNN for credit-card fraud."""

from __future__ import annotations


def split_then_resample(X, y, sampler, *, test_size=0.2, seed=0):
    """Split the raw rows first (stratified), then ``sampler.fit_resample`` on the
    training part only. Every test row must be an original, untouched row.

    Return ``(X_train, X_test, y_train, y_test)``.
    """
    raise NotImplementedError("split_then_resample is not implemented yet")


def build_cnn(n_features):
    """Return the compiled Keras model (Adam 1e-4, binary cross-entropy), input
    ``(n_features, 1)``, exactly:

    Conv1D(32, 2, relu) → BatchNorm → MaxPool1D(2) → Dropout(0.2) →
    Conv1D(64, 2, relu) → BatchNorm → MaxPool1D(2) → Dropout(0.5) → Flatten →
    Dense(64, relu) → Dropout(0.5) → Dense(64, relu) → Dense(1, sigmoid).

    For 30 features it has 33,505 parameters, 192 of them non-trainable.
    """
    raise NotImplementedError("build_cnn is not implemented yet")


class FraudDetector:
    """Scale with training statistics, build and train the CNN, predict probabilities."""

    def __init__(self, *, epochs, batch_size, seed=0):
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, X, y, validation_data=None):
        """Train on raw features; store the Keras history dict in ``history_``; return self."""
        raise NotImplementedError("FraudDetector.fit is not implemented yet")

    def predict_proba(self, X):
        """Return fraud probabilities, a ``numpy.ndarray`` of shape (n,)."""
        raise NotImplementedError("FraudDetector.predict_proba is not implemented yet")
