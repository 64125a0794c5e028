"""Gallery: a correct split-then-resample protocol and the homework's CNN (Sequential)."""

import numpy as np
from sklearn.model_selection import train_test_split


def split_then_resample(X, y, sampler, *, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = train_test_split(
        np.asarray(X), np.asarray(y), test_size=test_size, stratify=y, random_state=seed)
    X_train, y_train = sampler.fit_resample(X_train, y_train)
    return X_train, X_test, y_train, y_test


def build_cnn(n_features):
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input(shape=(n_features, 1)),
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
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4), loss="binary_crossentropy")
    return model


class FraudDetector:
    def __init__(self, *, epochs, batch_size, seed=0):
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, X, y, validation_data=None):
        import keras

        keras.utils.set_random_seed(self.seed)
        X = np.asarray(X, dtype=np.float32)
        self.mean_ = X.mean(axis=0)
        self.std_ = X.std(axis=0) + 1e-8
        self.model_ = build_cnn(X.shape[1])
        val = None
        if validation_data is not None:
            val = (self._scale(validation_data[0]), np.asarray(validation_data[1], dtype=np.float32))
        history = self.model_.fit(self._scale(X), np.asarray(y, dtype=np.float32), epochs=self.epochs,
                                  batch_size=self.batch_size, validation_data=val, verbose=0)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        return self

    def _scale(self, X):
        X = (np.asarray(X, dtype=np.float32) - self.mean_) / self.std_
        return X[..., None]

    def predict_proba(self, X):
        return self.model_.predict(self._scale(X), verbose=0).ravel()
