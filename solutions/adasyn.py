"""Task 2a, reference solution: ADASYN from scratch (He, Bai, Garcia and Li, IJCNN 2008).

This module is copied as ``submission/adasyn.py`` and graded like a student's,
so it is self-contained: numpy and scikit-learn's ``NearestNeighbors`` only,
nothing from ``grader`` (the student bundle has no grader). The tests pin it to
``grader.oracles.adasyn`` and to imbalanced-learn's ``ADASYN``. It follows the
estimator contract of imbalanced-learn's samplers (``base.py``): scikit-learn's
``BaseEstimator`` supplies ``get_params``/``set_params``/``clone`` from the
keyword-only ``__init__``, which only stores its arguments; ``fit_resample``
validates, then calls ``_fit_resample``; fitted attributes end in ``_``.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors

_BLOCK = 32_768  # synthetic rows written per block (8 MB of float64 for 30 features)


class ADASYN(BaseEstimator):
    """Adaptive synthetic oversampling of the minority class.

    ADASYN generates more synthetic minority samples where the minority class
    is harder to learn: around minority samples whose neighbourhoods are
    dominated by the majority class (He et al. 2008, step (b)).

    Parameters
    ----------
    beta : float in [0, 1], default=1.0
        Desired balance level after generation: ``G = int((m_l - m_s) * beta)``;
        1 balances the classes fully.
    k : int, default=5
        Number of nearest neighbours, both for the difficulty ratio ``r_i`` and
        for choosing the partner of each synthetic sample.
    d_threshold : float, default=0.75
        If the degree of imbalance ``d = m_s / m_l`` is at least this, the data
        count as balanced and nothing is generated.
    random_state : int, numpy Generator or None, default=None
        Seed of the one ``np.random.default_rng`` that draws neighbours and λ.

    Attributes
    ----------
    d_ : float
        Degree of imbalance ``m_s / m_l`` (step (a)).
    G_ : int
        Number of synthetic samples to generate (step (b)(1)); 0 when
        ``d_ >= d_threshold``.
    r_ : ndarray of shape (m_s,)
        ``Δ_i / k``: share of majority samples among the k nearest neighbours
        of minority sample i in the whole X, the sample itself excluded, for
        minority samples in their order of appearance (step (b)(2)-(3)).
    r_hat_ : ndarray of shape (m_s,)
        ``r_ / r_.sum()``, a density distribution (step (b)(4)).
    g_ : ndarray of int of shape (m_s,)
        ``np.rint(r_hat_ * G_)``: synthetic samples generated from each
        minority sample (step (b)(5)).
    minority_label_ : label
        The rarer class (the smaller label on equal counts).
    n_synthetic_ : int
        ``g_.sum()``, the number of rows appended.

    When ``d_ >= d_threshold``, ``r_``, ``r_hat_`` and ``g_`` are empty arrays.

    References
    ----------
    .. [1] H. He, Y. Bai, E. A. Garcia and S. Li, "ADASYN: Adaptive synthetic
       sampling approach for imbalanced learning," 2008 IEEE International
       Joint Conference on Neural Networks (IJCNN), pp. 1322-1328, 2008.
       doi:10.1109/IJCNN.2008.4633969

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (90, 2)), rng.normal(1, 1, (10, 2))])
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> ada = ADASYN(k=3, random_state=0)
    >>> X_res, y_res = ada.fit_resample(X, y)
    >>> ada.d_, ada.G_
    (0.1111111111111111, 80)
    >>> bool((X_res[:100] == X).all()) and int(y_res.sum()) == 10 + ada.n_synthetic_
    True
    """

    def __init__(self, *, beta=1.0, k=5, d_threshold=0.75, random_state=None):
        self.beta = beta
        self.k = k
        self.d_threshold = d_threshold
        self.random_state = random_state

    # -- public API ---------------------------------------------------------

    def fit_resample(self, X, y):
        """Return ``(X_res, y_res)``: X in its original order, then the synthetic rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric, finite features.
        y : array-like of shape (n_samples,)
            Binary labels.

        Returns
        -------
        X_res : ndarray of float64, shape (n_samples + n_synthetic_, n_features)
        y_res : ndarray, shape (n_samples + n_synthetic_,)
        """
        X, y = self._validate(X, y)
        return self._fit_resample(X, y)

    # -- implementation -----------------------------------------------------

    def _validate(self, X, y):
        """Check parameters and data; name the problem in every error."""
        beta, k, d_threshold = self.beta, self.k, self.d_threshold
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be a number in [0, 1], got {beta!r}")
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if isinstance(d_threshold, bool) or not isinstance(d_threshold, numbers.Real) or not d_threshold > 0:
            raise ValueError(f"d_threshold must be a positive number, got {d_threshold!r}")

        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("X must be a numeric 2-D array (n_samples, n_features)") from None
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (n_samples, n_features), got {X.ndim} dimension(s)")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y must be a 1-D array of labels, got shape {y.shape}")
        if len(X) != len(y):
            raise ValueError(f"length mismatch: X has {len(X)} rows but y has {len(y)} labels")
        if not np.isfinite(X).all():
            bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
            raise ValueError(
                f"X contains NaN or infinite values ({bad.size} row(s), first at row {bad[0]}); "
                "impute or drop them before resampling"
            )
        labels = np.unique(y)
        if labels.size != 2:
            raise ValueError(
                f"y must be binary (exactly two classes), found {labels.size} class(es): {labels[:5].tolist()}"
            )
        m_s = int(min(np.count_nonzero(y == labels[0]), np.count_nonzero(y == labels[1])))
        if k >= m_s:
            raise ValueError(
                f"k={k} must be smaller than the number of minority samples m_s={m_s} "
                "(each minority sample needs k minority neighbours other than itself)"
            )
        return X, y

    def _fit_resample(self, X, y):
        labels, counts = np.unique(y, return_counts=True)
        s = int(np.argmin(counts))  # the rarer class; the smaller label on equal counts
        m_s, m_l = int(counts[s]), int(counts[1 - s])
        self.minority_label_ = labels[s]
        self.d_ = m_s / m_l  # step (a)
        k = int(self.k)

        if self.d_ >= self.d_threshold:
            self.G_ = 0
            self.r_ = np.zeros(0)
            self.r_hat_ = np.zeros(0)
            self.g_ = np.zeros(0, dtype=int)
            self.n_synthetic_ = 0
            return X.copy(), y.copy()

        self.G_ = int((m_l - m_s) * self.beta)  # step (b)(1)
        # X_res is allocated once, with room for every synthetic row: Σ rint(r̂_i G) <= G + m_s / 2.
        # Its head is a C-ordered copy of X that NearestNeighbors uses as is (a pandas-made X is
        # Fortran-ordered, and scikit-learn would copy it again).
        n = len(X)
        X_res = np.empty((n + self.G_ + m_s, X.shape[1]))
        X_res[:n] = X
        X = X_res[:n]
        minority = np.flatnonzero(y == self.minority_label_)
        X_min = X[minority]

        # Step (b)(2)-(3): majority share among the k nearest neighbours in the whole X.
        nn_all = NearestNeighbors(n_neighbors=k + 1).fit(X)
        neigh = nn_all.kneighbors(X_min, return_distance=False)
        neigh = _drop_self(neigh, minority)
        self.r_ = np.count_nonzero(y[neigh] != self.minority_label_, axis=1) / k
        total = self.r_.sum()
        if total == 0:
            raise ValueError(
                "no minority sample has a majority neighbour (sum of r is 0), so r_hat is undefined; "
                "the classes are already separated: ADASYN is not suited, use SMOTE or no resampling"
            )
        self.r_hat_ = self.r_ / total  # step (b)(4)
        self.g_ = np.rint(self.r_hat_ * self.G_).astype(int)  # step (b)(5)
        n_new = int(self.g_.sum())
        self.n_synthetic_ = n_new
        if n_new == 0:
            return X_res[:n], y.copy()

        # Step (c): x_i + λ (x_zi − x_i), x_zi one of x_i's k nearest minority neighbours.
        rng = np.random.default_rng(self.random_state)
        partners = NearestNeighbors(n_neighbors=k).fit(X_min).kneighbors(return_distance=False)
        parent = np.repeat(np.arange(m_s), self.g_)
        zi = partners[parent, rng.integers(0, k, size=n_new)]
        lam = rng.random((n_new, 1))
        # Written in place into X_res, in blocks: no other large temporary.
        X_new = X_res[n:n + n_new]
        for start in range(0, n_new, _BLOCK):
            block = slice(start, start + _BLOCK)
            out = X_new[block]
            np.take(X_min, parent[block], axis=0, out=out)
            step = X_min[zi[block]]
            step -= out
            step *= lam[block]
            out += step

        y_res = np.concatenate([y, np.full(n_new, self.minority_label_, dtype=y.dtype)])
        return X_res[:n + n_new], y_res


def _drop_self(neigh: np.ndarray, self_index: np.ndarray) -> np.ndarray:
    """Remove each query's own row from its k + 1 neighbours.

    If exact duplicates pushed the sample itself out of the list (all at
    distance 0), the last neighbour goes instead: scikit-learn's rule for
    ``kneighbors(X=None)``.
    """
    keep = neigh != self_index[:, None]
    keep[keep.all(axis=1), -1] = False
    return neigh[keep].reshape(len(neigh), neigh.shape[1] - 1)
