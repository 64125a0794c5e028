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
    from grader.data.nli import generate_nli

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
