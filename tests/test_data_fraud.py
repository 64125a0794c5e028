"""The generated credit-card frame and the creditcard.csv loader."""

import time

import numpy as np
import pandas as pd
import pytest

from grader.data.fraud import (
    COLUMNS,
    FEATURES,
    LABEL,
    generate_creditcard,
    load_creditcard,
    load_fraud_frame,
    split_xy,
)
from grader.errors import DataError
from grader.profiles import PROFILES, FraudConfig


@pytest.fixture(scope="module")
def small():
    return generate_creditcard(n_rows=5000, n_fraud=50, seed=3)


def test_columns_are_the_real_files():
    assert FEATURES == ["Time", *[f"V{j}" for j in range(1, 29)], "Amount"]
    assert len(FEATURES) == 30
    assert LABEL == "Class"
    assert COLUMNS == [*FEATURES, "Class"]


def test_shape_dtypes_and_exact_fraud_count(small):
    assert small.shape == (5000, 31)
    assert list(small.columns) == COLUMNS
    assert all(small[c].dtype == np.float64 for c in FEATURES)
    assert small[LABEL].dtype == np.int64
    assert int(small[LABEL].sum()) == 50
    assert set(small[LABEL].unique()) == {0, 1}
    assert not small.isna().any().any()
    assert np.isfinite(small[FEATURES].to_numpy()).all()


def test_real_like_ranges(small):
    assert small["Time"].is_monotonic_increasing
    assert small["Time"].min() >= 0 and small["Time"].max() <= 172_792
    assert (small["Time"] == np.round(small["Time"])).all()  # whole seconds
    assert (small["Amount"] >= 0).all()
    assert np.allclose(small["Amount"], small["Amount"].round(2))  # cents
    legit = small[small[LABEL] == 0]
    # PCA-like: centred, spreads decreasing from about 2 to about 0.3, uncorrelated.
    v = legit[[f"V{j}" for j in range(1, 29)]].to_numpy()
    assert np.abs(v.mean(axis=0)).max() < 0.15
    std = v.std(axis=0)
    assert 1.7 < std[0] < 2.25 and 0.27 < std[-1] < 0.4
    corr = np.corrcoef(v, rowvar=False)
    assert np.abs(corr[~np.eye(28, dtype=bool)]).max() < 0.1


def test_default_size_is_the_real_sets_and_fast():
    # CPU time of this process, not wall time: other jobs on a shared machine do not count.
    start = time.process_time()
    frame = generate_creditcard()
    elapsed = time.process_time() - start
    assert frame.shape == (284_807, 31)
    assert int(frame[LABEL].sum()) == 492
    assert round(100 * frame[LABEL].mean(), 3) == 0.173  # 492 / 284,807 = 0.1727 %
    assert elapsed < 4.0  # about 1 s of CPU here


def test_seeded_and_deterministic():
    a = generate_creditcard(2000, 20, seed=7)
    b = generate_creditcard(2000, 20, seed=7)
    c = generate_creditcard(2000, 20, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["V1"].to_numpy(), c["V1"].to_numpy())


def test_fraud_differs_where_the_real_fraud_does(small):
    fraud = small[small[LABEL] == 1]
    legit = small[small[LABEL] == 0]
    # Same signs as the real set's fraud means: V14, V12, V10, V17 down; V4, V11 up.
    for name in ("V14", "V12", "V10", "V17"):
        assert fraud[name].mean() < legit[name].mean() - 0.5
    for name in ("V4", "V11"):
        assert fraud[name].mean() > legit[name].mean() + 0.5
    # Fraud amounts have a lower median and a heavier tail relative to it.
    assert fraud["Amount"].median() < legit["Amount"].median()
    assert fraud["Amount"].quantile(0.9) / fraud["Amount"].median() > 5


def _logistic_pr_auc(frame) -> float:
    """PR-AUC of a standardised logistic regression on a 30 % stratified test part."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = split_xy(frame)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)
    return average_precision_score(y_te, model.predict_proba(X_te)[:, 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logistic_regression_learns_but_cannot_separate(seed):
    """PR-AUC lies in [0.3, 0.9]: far above the base rate (0.01 here), far below 1.

    Measured at 20,000 rows / 200 frauds: 0.64, 0.67, 0.68 for seeds 0-2, and
    0.50-0.73 over seeds 3-9.
    """
    assert 0.3 <= _logistic_pr_auc(generate_creditcard(20_000, 200, seed=seed)) <= 0.9


@pytest.mark.slow
def test_logistic_regression_band_at_full_size():
    """At 284,807 rows / 492 frauds (base rate 0.0017): measured 0.45-0.60 over seeds 0-5."""
    assert 0.3 <= _logistic_pr_auc(generate_creditcard()) <= 0.9


@pytest.mark.parametrize("kwargs, match", [
    ({"n_rows": 100, "n_fraud": 100}, "1 <= n_fraud < n_rows"),
    ({"n_rows": 100, "n_fraud": 0}, "1 <= n_fraud < n_rows"),
    ({"n_rows": 100.0, "n_fraud": 5}, "n_rows must be an integer"),
])
def test_generator_rejects_bad_sizes(kwargs, match):
    with pytest.raises(DataError, match=match):
        generate_creditcard(**kwargs)


def test_split_xy():
    frame = generate_creditcard(300, 6, seed=0)
    X, y = split_xy(frame)
    assert X.shape == (300, 30) and X.dtype == np.float64
    assert y.shape == (300,) and y.dtype == np.int64 and y.sum() == 6
    assert np.array_equal(X[:, 0], frame["Time"].to_numpy())
    assert np.array_equal(X[:, -1], frame["Amount"].to_numpy())
    with pytest.raises(DataError, match="lacks column"):
        split_xy(frame.drop(columns=["V3"]))


# --- the real file's format -------------------------------------------------

def _write_real_format(path, rows, columns=COLUMNS, quote_class=True):
    """Write rows the way the ULB file does: quoted header, quoted Class values."""
    lines = [",".join(f'"{c}"' for c in columns)]
    for row in rows:
        cells = [str(v) for v in row]
        if quote_class and columns[-1] == "Class":
            cells[-1] = f'"{cells[-1]}"'
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(n=6, frauds=(2,)):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        v = np.round(rng.standard_normal(28), 6).tolist()
        rows.append([float(i * 10), *v, round(float(rng.uniform(0, 200)), 2), 1 if i in frauds else 0])
    return rows


def test_loader_reads_the_real_format(tmp_path):
    rows = _rows()
    frame = load_creditcard(_write_real_format(tmp_path / "creditcard.csv", rows))
    assert list(frame.columns) == COLUMNS
    assert frame.shape == (6, 31)
    assert all(frame[c].dtype == np.float64 for c in FEATURES)
    assert frame[LABEL].dtype == np.int64
    assert frame[LABEL].tolist() == [0, 0, 1, 0, 0, 0]
    assert frame["V1"].tolist() == [r[1] for r in rows]
    assert frame["Amount"].tolist() == [r[29] for r in rows]


def test_loader_reads_unquoted_class_and_drops_extra_columns(tmp_path):
    rows = [[*r, "x"] for r in _rows()]
    path = tmp_path / "c.csv"
    lines = [",".join([*COLUMNS, "note"])] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    frame = load_creditcard(path)
    assert list(frame.columns) == COLUMNS
    assert frame[LABEL].sum() == 1


def test_loader_round_trips_the_generator(tmp_path):
    frame = generate_creditcard(400, 8, seed=1)
    path = tmp_path / "gen.csv"
    frame.to_csv(path, index=False)
    loaded = load_creditcard(path)
    pd.testing.assert_frame_equal(loaded, frame, check_exact=False, rtol=1e-12)


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv.*file not found.*--set fraud\.data_path="):
        load_creditcard(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty.csv.*the file is empty"):
        load_creditcard(path)


def test_missing_columns_are_named(tmp_path):
    cols = [c for c in COLUMNS if c not in ("V7", "Amount")]
    rows = [[v for c, v in zip(COLUMNS, r) if c in cols] for r in _rows()]
    path = _write_real_format(tmp_path / "short.csv", rows, columns=cols)
    with pytest.raises(DataError, match=r"short\.csv.*missing column\(s\) V7, Amount"):
        load_creditcard(path)


def test_non_numeric_column_is_named(tmp_path):
    rows = _rows()
    rows[3][5] = "abc"  # V5
    path = _write_real_format(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError, match=r"bad\.csv.*column 'V5' is not numeric \(data row 4 holds 'abc'\)"):
        load_creditcard(path)


def test_class_must_be_binary(tmp_path):
    rows = _rows()
    rows[1][-1] = 2
    with pytest.raises(DataError, match=r"column 'Class' must hold only 0 and 1, found 2"):
        load_creditcard(_write_real_format(tmp_path / "c.csv", rows))


def test_no_positive_class(tmp_path):
    with pytest.raises(DataError, match=r"c\.csv.*no positive class"):
        load_creditcard(_write_real_format(tmp_path / "c.csv", _rows(frauds=())))


@pytest.mark.parametrize("cell", ["", "NaN"])
def test_missing_values_are_reported(tmp_path, cell):
    rows = _rows()
    rows[4][29] = cell  # Amount
    with pytest.raises(DataError, match=r"column 'Amount' has 1 missing or NaN value\(s\) \(first at data row 5\)"):
        load_creditcard(_write_real_format(tmp_path / "c.csv", rows))


def test_header_only(tmp_path):
    with pytest.raises(DataError, match="header but no rows"):
        load_creditcard(_write_real_format(tmp_path / "c.csv", []))


def test_load_fraud_frame_dispatches_on_source(tmp_path):
    generated = load_fraud_frame(PROFILES["smoke"].fraud)
    assert generated.shape == (3000, 31) and int(generated[LABEL].sum()) == 60
    pd.testing.assert_frame_equal(generated, generate_creditcard(3000, 60, seed=0))

    path = _write_real_format(tmp_path / "creditcard.csv", _rows())
    from_csv = load_fraud_frame(FraudConfig(source="csv", data_path=str(path)))
    assert from_csv.shape == (6, 31)


def test_boolean_column_is_not_numeric(tmp_path):
    rows = _rows()
    for i, row in enumerate(rows):
        row[7] = "True" if i % 2 else "False"  # V7
    with pytest.raises(DataError, match=r"column 'V7' is not numeric \(it holds True/False\)"):
        load_creditcard(_write_real_format(tmp_path / "c.csv", rows))


def test_infinite_values_are_reported(tmp_path):
    rows = _rows()
    rows[2][0] = "inf"
    with pytest.raises(DataError, match=r"column 'Time' holds infinite values"):
        load_creditcard(_write_real_format(tmp_path / "c.csv", rows))


def test_load_fraud_frame_takes_a_whole_profile_too():
    frame = load_fraud_frame(PROFILES["smoke"])
    assert frame.shape == (3000, 31)


def test_a_byte_order_mark_is_tolerated(tmp_path):
    path = _write_real_format(tmp_path / "bom.csv", _rows())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as saved by some spreadsheet programs
    assert list(load_creditcard(path).columns) == COLUMNS
