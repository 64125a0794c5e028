"""grader.secret: without a secret the public seeds; with one, held-back data nobody can regenerate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader import secret
from grader.errors import MizanError
from grader.profiles import get_profile

SMOKE = get_profile("smoke")


@pytest.fixture
def no_secret(monkeypatch):
    monkeypatch.delenv(secret.SECRET_ENV, raising=False)
    monkeypatch.delenv(secret.SECRET_FILE_ENV, raising=False)
    return monkeypatch


def test_without_a_secret_the_public_seeds_are_used(no_secret):
    assert secret.grading_secret() == ""
    assert secret.held_back_seed(0, "nli") == 0 and secret.held_back_seed(7, "fraud") == 7
    assert secret.secret_tag() == "public"


def test_a_secret_derives_seeds_per_purpose_and_seed(no_secret):
    no_secret.setenv(secret.SECRET_ENV, "course-staff-only")
    seeds = {secret.held_back_seed(s, p) for s in (0, 1) for p in ("nli", "fraud")}
    assert len(seeds) == 4 and all(0 <= s < 2 ** 31 for s in seeds)
    assert secret.held_back_seed(0, "nli") == secret.held_back_seed(0, "nli")
    tag = secret.secret_tag()
    assert len(tag) == 12 and tag != "public" and "course" not in tag
    no_secret.setenv(secret.SECRET_ENV, "another")
    assert secret.held_back_seed(0, "nli") not in seeds and secret.secret_tag() != tag


def test_the_secret_file_is_read_and_its_problems_are_named(no_secret, tmp_path):
    path = tmp_path / "secret"
    path.write_text("  s3cret\n")
    no_secret.setenv(secret.SECRET_FILE_ENV, str(path))
    assert secret.grading_secret() == "s3cret"
    path.write_text("\n")
    with pytest.raises(MizanError, match="MIZAN_SECRET_FILE=.*the file is empty"):
        secret.grading_secret()
    no_secret.setenv(secret.SECRET_FILE_ENV, str(tmp_path / "absent"))
    with pytest.raises(MizanError, match="cannot read the grading secret"):
        secret.grading_secret()


def _nli_inputs(tmp_path, name):
    from grader.tasks import nli

    inputs, held = tmp_path / name / "in", tmp_path / name / "held"
    inputs.mkdir(parents=True)
    nli.prepare_inputs(SMOKE, inputs, held)
    pairs = [json.loads(line) for line in (inputs / nli.INPUT_FILES["eval_inputs"]).read_text().splitlines()]
    return pairs, np.load(held / nli.HELDBACK_LABELS)


def test_a_secret_changes_the_held_back_nli_pairs(no_secret, tmp_path):
    from grader.data.nli_synthetic import generate_nli

    public, public_labels = _nli_inputs(tmp_path, "public")
    n = SMOKE.nli.n_eval
    regenerated = generate_nli(n, seed=2 * SMOKE.nli.seed + 1)      # what a submission could do
    assert [p["premise"] for p in public] == regenerated["premise"]
    no_secret.setenv(secret.SECRET_ENV, "course-staff-only")
    salted, salted_labels = _nli_inputs(tmp_path, "salted")
    assert len(salted) == n and salted_labels.shape == (n,)
    assert not {p["premise"] + p["hypothesis"] for p in salted} & {p["premise"] + p["hypothesis"] for p in public}


def test_a_secret_changes_the_held_back_fraud_rows(no_secret, tmp_path):
    from grader.tasks import fraud

    def test_rows(name):
        inputs, held = tmp_path / name / "in", tmp_path / name / "held"
        fraud.prepare_inputs(SMOKE, inputs, held)
        return np.load(inputs / "fraud" / "detector_test.npz")["X"], np.load(held / "fraud" / "test_labels.npy")

    public_X, public_y = test_rows("public")
    no_secret.setenv(secret.SECRET_ENV, "course-staff-only")
    salted_X, salted_y = test_rows("salted")
    assert salted_X.shape == public_X.shape and salted_y.sum() == public_y.sum()   # same sizes and stratification
    assert not np.isin(salted_X[:, 1], public_X[:, 1]).any()                       # other rows (V1 differs)


def test_the_secret_enters_the_inputs_cache_key_and_the_content_hash(no_secret):
    from grader import batch
    from grader.run.orchestrate import task_fingerprint

    sub = batch.reference_submission()
    public = (task_fingerprint("nli"), batch.content_hash(sub, "smoke"))
    no_secret.setenv(secret.SECRET_ENV, "course-staff-only")
    salted = (task_fingerprint("nli"), batch.content_hash(sub, "smoke"))
    assert public[0] != salted[0] and public[1] != salted[1]


# -- the grader-chosen cases: public without a secret, drawn from it with one -------------------
SECRETS = ("course-staff-only", "spring-term", "s3")


def _rows(X: np.ndarray) -> set:
    return {tuple(row) for row in np.asarray(X).tolist()}


def _kth_gap(X: np.ndarray, rows: np.ndarray, among: np.ndarray, k: int) -> float:
    """Smallest relative gap between the k-th and (k+1)-th distance from X[rows] to X[among] (self excluded)."""
    from scipy.spatial.distance import cdist

    dist = np.sort(cdist(X[rows], X[among]), axis=1)[:, 1:]   # column 0: the row itself
    if dist.shape[1] <= k:
        return np.inf
    return float(np.min((dist[:, k] - dist[:, k - 1]) / dist[:, k]))


def test_without_a_secret_the_cases_are_the_public_ones(no_secret, tmp_path):
    from grader.tasks import fraud

    assert fraud.cases_seed() == fraud.CASES_SEED
    inputs, held = tmp_path / "in", tmp_path / "held"
    inputs.mkdir()
    held.mkdir()
    fraud.write_case_inputs(inputs, held, fraud.cases_seed())
    with np.load(inputs / "adasyn_cases.npz") as data:
        written = {name: np.array(data[name]) for name in data.files}
    for case in fraud.adasyn_cases(fraud.CASES_SEED):
        assert written[f"X__{case['name']}"].tobytes() == case["X"].tobytes()
    # Values drawn before the secret existed (commit b7effa2), so every course's local checks agree.
    assert written["X__tiny_hand"].tobytes() == fraud.TINY_X.tobytes()
    assert written["X__blobs_k5"][0].round(6).tolist() == [-0.041324, 2.460813, 1.373428, 0.272193, 2.9566]
    assert written["y__blobs_k5"][:12].tolist() == [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]
    assert written["X__creditcard_600"][0, :4].round(6).tolist() == [689.0, 0.405655, -0.636484, 0.968013]
    assert written["X__threshold_custom"][0].round(6).tolist() == [-0.592713, -0.0779, 0.362009]
    with np.load(inputs / "adasyn_errors.npz") as data:
        assert data["X__control"][0].round(6).tolist() == [1.302827, 0.475937]
    with np.load(inputs / "split_frame.npz") as data:
        assert data["X"][1, :4].round(6).tolist() == [1.0, -3.414665, 0.867796, 2.713952]
        assert data["X"].shape == (2500, 30) and int(data["y"].sum()) == 600
    expected = json.loads((held / fraud.EXPECTED_FILE).read_text())
    assert expected["cases"]["tiny_hand"]["r"] == [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3]
    assert not (inputs / fraud.EXPECTED_FILE).exists()          # the answers stay held back


@pytest.mark.parametrize("secret_value", SECRETS)
def test_a_secret_draws_other_adasyn_cases_with_the_same_shapes_and_properties(no_secret, secret_value):
    from grader.oracles.adasyn import adasyn_amount, majority_ratios
    from grader.tasks import fraud

    public = fraud.adasyn_cases(fraud.CASES_SEED)
    no_secret.setenv(secret.SECRET_ENV, secret_value)
    seed = fraud.cases_seed()
    assert seed != fraud.CASES_SEED and seed == fraud.cases_seed()
    salted = fraud.adasyn_cases(seed)
    assert [c["name"] for c in salted] == [c["name"] for c in public]
    for p, s in zip(public, salted):
        name, params = s["name"], s["params"]
        assert (s["kind"], params, s["repeat"]) == (p["kind"], p["params"], p["repeat"]), name
        assert s["X"].shape == p["X"].shape and np.bincount(s["y"]).tolist() == np.bincount(p["y"]).tolist()
        assert not _rows(s["X"]) & _rows(p["X"]), f"{name}: a row of the public case is back"
        d, G, label = adasyn_amount(s["y"], params["beta"])
        minority = np.flatnonzero(s["y"] == label)
        assert 1 <= params["k"] < len(minority), name
        r = majority_ratios(s["X"], s["y"], params["k"])
        if s["kind"] == "generate":      # r_hat is defined: some minority sample has a majority neighbour
            assert d < params["d_threshold"] and r.sum() > 0, name
        else:                             # the threshold is what stops generation, not G = 0
            assert d >= params["d_threshold"] and G > 0, name
        # Δ_i and the minority neighbours are unambiguous: no tie at the k-th neighbour.
        assert _kth_gap(s["X"], minority, np.arange(len(s["X"])), params["k"]) > 1e-6, name
        assert _kth_gap(s["X"], minority, minority, params["k"]) > 1e-6, name
    # The hand-made case is moved, not redrawn: the same r (in another order), G and the .5 tie
    # of r_hat * G that rint, floor and largest remainder round differently.
    tiny_p, tiny_s = public[0], salted[0]
    r_p = majority_ratios(tiny_p["X"], tiny_p["y"], 3)
    r_s = majority_ratios(tiny_s["X"], tiny_s["y"], 3)
    assert sorted(r_s.tolist()) == sorted(r_p.tolist()) == [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3]
    np.testing.assert_allclose(np.sort(r_s / r_s.sum() * 4), [0.5, 0.5, 1, 1, 1])


@pytest.mark.parametrize("secret_value", SECRETS)
def test_a_secret_draws_other_error_cases_and_split_frame_with_the_same_properties(no_secret, secret_value):
    from grader.oracles.adasyn import majority_ratios
    from grader.tasks import fraud

    public_errors = {c["name"]: c for c in fraud.adasyn_error_cases(fraud.CASES_SEED)}
    public_X, public_y = fraud.split_frame(fraud.CASES_SEED)
    no_secret.setenv(secret.SECRET_ENV, secret_value)
    seed = fraud.cases_seed()
    errors = {c["name"]: c for c in fraud.adasyn_error_cases(seed)}
    assert list(errors) == list(public_errors)
    for name, case in errors.items():
        p = public_errors[name]
        assert (case["problem"], case["params"]) == (p["problem"], p["params"]), name
        assert case["X"].shape == p["X"].shape and case["y"].shape == p["y"].shape, name
        assert not np.array_equal(case["X"], p["X"]), name
    control = errors["control"]
    assert np.bincount(control["y"]).tolist() == [40, 8] and control["params"]["k"] < 8
    assert majority_ratios(control["X"], control["y"], control["params"]["k"]).sum() > 0
    assert len(np.unique(errors["non_binary_y"]["y"])) == 3
    assert len(errors["length_mismatch"]["y"]) == len(errors["length_mismatch"]["X"]) - 1
    assert np.isnan(errors["nan_in_X"]["X"]).sum() == 1 and np.isinf(errors["inf_in_X"]["X"]).sum() == 1
    assert errors["k_equals_m_s"]["params"]["k"] == int((errors["k_equals_m_s"]["y"] == 1).sum()) == 8
    assert errors["beta_above_one"]["params"]["beta"] == 1.5 and errors["beta_negative"]["params"]["beta"] == -0.1
    far = errors["no_majority_neighbour"]
    assert majority_ratios(far["X"], far["y"], far["params"]["k"]).sum() == 0

    X, y = fraud.split_frame(seed)
    assert X.shape == public_X.shape == (2500, 30) and int(y.sum()) == int(public_y.sum()) == 600
    assert X[:, fraud.ID_COLUMN].tolist() == list(range(2500))      # every row still followable by its id
    assert not np.isin(X[:, 1], public_X[:, 1]).any()                # other rows (V1 differs)
