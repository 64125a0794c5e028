"""The fraud checks on artifacts written in-process (no sandbox, no TensorFlow): each fault, one check.

The fraud steps are called with a StepContext whose ``module()`` hands them a
Python object instead of importing ``submission/``; the checks are then called
directly with a CheckContext over the artifacts and the held-back copies that
``grader.tasks.fraud`` writes. The sandboxed, end-to-end version of the same
claims is tests/test_gallery_fraud.py.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from grader.checks import adasyn_errors, adasyn_math, adasyn_synthesis, cnn_arch, fraud_metrics, split_protocol
from grader.checks._support import CheckContext, CheckFailed
from grader.profiles import get_profile
from grader.run.step_api import StepContext
from grader.run.steps import fraud as steps
from grader.tasks import fraud as tasks

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "tests" / "submissions" / "fraud_correct" / "submission"

ADASYN_CHECKS = {
    "adasyn.d": adasyn_math.test_imbalance_degree,
    "adasyn.G": adasyn_math.test_amount_to_generate,
    "adasyn.r": adasyn_math.test_majority_ratios,
    "adasyn.r_hat": adasyn_math.test_normalised_ratios,
    "adasyn.g": adasyn_math.test_rounded_counts,
    "adasyn.originals_first": adasyn_synthesis.test_originals_first_in_order,
    "adasyn.synthetic_count": adasyn_synthesis.test_synthetic_count_and_labels,
    "adasyn.segments": adasyn_synthesis.test_synthetic_rows_on_minority_segments,
    "adasyn.per_sample_counts": adasyn_synthesis.test_each_sample_gets_g_i_rows,
    "adasyn.threshold": adasyn_synthesis.test_nothing_generated_above_threshold,
    "adasyn.reproducible": adasyn_synthesis.test_same_random_state_same_rows,
    "adasyn.errors": adasyn_errors.test_bad_input_raises_value_error,
}
SPLIT_CHECKS = {
    "split.sampler_train_only": split_protocol.test_sampler_saw_training_rows_only,
    "split.test_original": split_protocol.test_test_rows_original_untouched,
    "split.disjoint": split_protocol.test_train_and_test_disjoint,
    "split.stratified": split_protocol.test_split_is_stratified,
    "split.train_resampled": split_protocol.test_training_part_is_resampled,
}


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BASE_ADASYN = _load(BASE / "adasyn.py", "gallery_base_adasyn").ADASYN
BASE_SPLIT = _load(BASE / "fraud.py", "gallery_base_fraud").split_then_resample


class FakeStepContext(StepContext):
    """A StepContext whose submission modules are given objects (tests only)."""

    def __init__(self, modules: dict, **kwargs):
        super().__init__(**kwargs)
        self._modules = modules

    def module(self, name):
        return self._modules[name]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """inputs/ and heldback/ with the ADASYN and split inputs (the detector part is not needed here)."""
    root = tmp_path_factory.mktemp("fraud")
    inputs, held = root / "inputs" / "fraud", root / "heldback" / "fraud"
    inputs.mkdir(parents=True)
    held.mkdir(parents=True)
    tasks.write_case_inputs(inputs, held, tasks.CASES_SEED)
    return root


def run_steps(folders: Path, out: Path, modules: dict, step_funcs) -> CheckContext:
    ctx = FakeStepContext(modules, inputs=folders / "inputs", out=out, profile=get_profile("smoke"), seed=0,
                          submission_dir=out)
    for func, step_id in step_funcs:
        func(ctx)
        (out / "steps").mkdir(parents=True, exist_ok=True)
        (out / "steps" / f"{step_id}.json").write_text(json.dumps({"step": step_id, "status": "ok"}))
    return CheckContext(out, folders / "heldback", get_profile("smoke"))


def failing(ctx: CheckContext, checks: dict) -> set[str]:
    failed = set()
    for cid, check in checks.items():
        try:
            check(ctx)
        except CheckFailed:
            failed.add(cid)
    return failed


def adasyn_ctx(folders, tmp_path, cls) -> CheckContext:
    mod = SimpleNamespace(ADASYN=cls)
    return run_steps(folders, tmp_path / "art", {"adasyn": mod},
                     [(steps.adasyn_cases, "fraud.adasyn_cases"), (steps.adasyn_errors, "fraud.adasyn_errors")])


# -- ADASYN --------------------------------------------------------------------------------------
def test_correct_adasyn_passes_every_check(folders, tmp_path):
    assert failing(adasyn_ctx(folders, tmp_path, BASE_ADASYN), ADASYN_CHECKS) == set()


class RandomParentsADASYN(BASE_ADASYN):
    """Computes g_ but draws the parents of the synthetic rows uniformly at random."""

    def fit_resample(self, X, y):
        X_res, y_res = super().fit_resample(X, y)
        if not hasattr(self, "g_") or len(X_res) == len(X):
            return X_res, y_res
        X, y = np.asarray(X, float), np.asarray(y)
        minority = y_res[-1]
        X_min = X[y == minority]
        from sklearn.neighbors import NearestNeighbors

        neigh = NearestNeighbors(n_neighbors=self.k + 1).fit(X_min).kneighbors(X_min, return_distance=False)[:, 1:]
        rng = np.random.default_rng(0)
        n_new = len(X_res) - len(X)
        parents = rng.integers(0, len(X_min), n_new)
        z = neigh[parents, rng.integers(0, self.k, n_new)]
        S = X_min[parents] + rng.random((n_new, 1)) * (X_min[z] - X_min[parents])
        return np.vstack([X, S]), y_res


class WholeXNeighboursADASYN(BASE_ADASYN):
    """Keeps g_ but draws x_zi among the k nearest neighbours in the whole X (majority ones included)."""

    def fit_resample(self, X, y):
        X_res, y_res = super().fit_resample(X, y)
        if not hasattr(self, "g_") or len(X_res) == len(X):
            return X_res, y_res
        from sklearn.neighbors import NearestNeighbors

        X, y = np.asarray(X, float), np.asarray(y)
        idx = np.flatnonzero(y == y_res[-1])
        neigh = NearestNeighbors(n_neighbors=self.k + 1).fit(X).kneighbors(X[idx], return_distance=False)[:, 1:]
        rng = np.random.default_rng(0)
        parents = np.repeat(np.arange(len(idx)), self.g_)
        z = neigh[parents, rng.integers(0, self.k, len(parents))]
        S = X[idx[parents]] + rng.random((len(parents), 1)) * (X[z] - X[idx[parents]])
        return np.vstack([X, S]), np.r_[y, np.full(len(S), y_res[-1])]


class UnseededADASYN(BASE_ADASYN):
    """Ignores random_state: every call draws from fresh entropy."""

    def fit_resample(self, X, y):
        self.random_state = None
        return super().fit_resample(X, y)


class WrongLabelADASYN(BASE_ADASYN):
    def fit_resample(self, X, y):
        X_res, y_res = super().fit_resample(X, y)
        y_res = np.asarray(y_res).copy()
        y_res[len(y):] = 1 - y_res[len(y):]
        return X_res, y_res


@pytest.mark.parametrize("cls, expected", [
    (RandomParentsADASYN, {"adasyn.per_sample_counts"}),
    (UnseededADASYN, {"adasyn.reproducible"}),
    (WrongLabelADASYN, {"adasyn.synthetic_count"}),
])
def test_one_fault_one_failing_check(folders, tmp_path, cls, expected):
    assert failing(adasyn_ctx(folders, tmp_path, cls), ADASYN_CHECKS) == expected


def test_rows_toward_majority_neighbours_are_named_from_the_expected_neighbourhoods(folders, tmp_path):
    ctx = adasyn_ctx(folders, tmp_path, WholeXNeighboursADASYN)
    with pytest.raises(CheckFailed, match=r"blobs_k5 .* of them lie on a segment toward a \*majority\* neighbour"):
        adasyn_synthesis.test_synthetic_rows_on_minority_segments(ctx)
    assert {"adasyn.d", "adasyn.G", "adasyn.r", "adasyn.r_hat", "adasyn.g"}.isdisjoint(failing(ctx, ADASYN_CHECKS))


@pytest.mark.parametrize("cls, expected", [(BASE_ADASYN, set()), (RandomParentsADASYN, {"adasyn.per_sample_counts"})])
def test_cases_drawn_from_a_grading_secret_grade_the_same(tmp_path, monkeypatch, cls, expected):
    monkeypatch.setenv("MIZAN_SECRET", "course-staff-only")
    inputs, held = tmp_path / "inputs" / "fraud", tmp_path / "heldback" / "fraud"
    inputs.mkdir(parents=True)
    held.mkdir(parents=True)
    tasks.write_case_inputs(inputs, held, tasks.cases_seed())
    assert not np.array_equal(tasks.adasyn_cases(tasks.cases_seed())[2]["X"], tasks.adasyn_cases()[2]["X"])
    assert failing(adasyn_ctx(tmp_path, tmp_path, cls), ADASYN_CHECKS) == expected


def test_edited_fitted_attributes_fail_only_their_check(folders, tmp_path):
    ctx = adasyn_ctx(folders, tmp_path, BASE_ADASYN)
    path = tmp_path / "art" / "fraud" / "adasyn_cases.json"
    records = json.loads(path.read_text())
    records["blobs_k5"]["attributes"]["d_"] = 0.5
    path.write_text(json.dumps(records))
    fresh = CheckContext(ctx.artifacts, ctx.heldback, ctx.profile)
    assert failing(fresh, ADASYN_CHECKS) == {"adasyn.d"}


def test_g_check_accepts_the_rounding_variants_and_nothing_else(folders, tmp_path):
    ctx = adasyn_ctx(folders, tmp_path, BASE_ADASYN)
    arrays = dict(np.load(tmp_path / "art" / "fraud" / "adasyn_cases.npz"))
    r_hat, G = arrays["r_hat__tiny_hand"], 4
    np.testing.assert_allclose(r_hat * G, [0.5, 0.5, 1, 1, 1])          # the hand-computed tie
    # rint (half to even), floor, largest remainder and half-up are nearest-integer roundings: accepted
    for g, ok in (([0, 0, 1, 1, 1], True), ([1, 0, 1, 1, 1], True), ([1, 1, 1, 1, 1], True),
                  ([2, 0, 1, 1, 1], False), ([0, 0, 1, 1, 2], False)):
        arrays["g__tiny_hand"] = np.array(g)
        np.savez(tmp_path / "art" / "fraud" / "adasyn_cases.npz", **arrays)
        fresh = CheckContext(ctx.artifacts, ctx.heldback, ctx.profile)
        assert ("adasyn.g" not in failing(fresh, {"adasyn.g": adasyn_math.test_rounded_counts})) is ok, g


def test_a_crashing_case_fails_the_checks_that_need_it_with_the_error(folders, tmp_path):
    class Crashy(BASE_ADASYN):
        def fit_resample(self, X, y):
            if len(X) == 600:
                raise RuntimeError("boom on the big case")
            return super().fit_resample(X, y)

    ctx = adasyn_ctx(folders, tmp_path, Crashy)
    with pytest.raises(CheckFailed, match="RuntimeError: boom on the big case"):
        adasyn_math.test_majority_ratios(ctx)
    assert failing(ctx, {"adasyn.threshold": adasyn_synthesis.test_nothing_generated_above_threshold}) == set()


def test_the_starter_gets_one_not_implemented_message_per_check(folders, tmp_path):
    class Starter(BASE_ADASYN):
        def fit_resample(self, X, y):
            raise NotImplementedError("ADASYN.fit_resample is not implemented yet")

    ctx = adasyn_ctx(folders, tmp_path, Starter)
    for check in ADASYN_CHECKS.values():
        with pytest.raises(CheckFailed, match=r"^ADASYN.fit_resample \(submission/adasyn.py\) is not implemented"):
            check(ctx)


def test_errors_check_names_the_input_that_did_not_raise(folders, tmp_path):
    class Lenient(BASE_ADASYN):
        def fit_resample(self, X, y):
            if self.beta > 1:
                return np.asarray(X), np.asarray(y)
            return super().fit_resample(X, y)

    ctx = adasyn_ctx(folders, tmp_path, Lenient)
    with pytest.raises(CheckFailed, match="beta_above_one .*no exception"):
        adasyn_errors.test_bad_input_raises_value_error(ctx)


def test_steps_refuse_objects_that_lie_about_equality():
    class Liar:
        def __eq__(self, other):
            return True

    with pytest.raises(TypeError, match="numeric array"):
        steps.as_float_array([Liar(), Liar()], "X_res")
    with pytest.raises(TypeError, match="whole numbers"):
        steps.as_int_array([0.5, 1.0], "y_res")
    assert steps.as_int(np.array([3.0]), "G_") == 3


def test_recording_sampler_logs_ids_and_marks_added_rows():
    sampler = steps.RecordingSampler()
    X = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    X_res, y_res = sampler.fit_resample(X, np.array([0, 1, 0]))
    np.testing.assert_array_equal(sampler.calls[0], [0, 1, 2])
    np.testing.assert_array_equal(X_res[-1], [-2.0, 2.0])
    np.testing.assert_array_equal(y_res, [0, 1, 0, 1])


# -- segments and counts ------------------------------------------------------------------------
def test_parents_within_counts_is_a_b_matching():
    cand = np.array([[1, 1], [1, 0], [1, 0]], dtype=bool)       # rows 1, 2 can only come from parent 0
    assert adasyn_synthesis.parents_within_counts(cand, np.array([2, 1])) == (True, 3)
    assert adasyn_synthesis.parents_within_counts(cand, np.array([1, 5])) == (False, 2)


def test_segment_candidates_keep_both_ends_of_a_mutual_segment():
    X_min = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 5.0]])
    neigh = np.array([[1], [0], [0]])
    cand = adasyn_synthesis.segment_candidates(X_min, np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 0.0]]), neigh)
    assert cand.tolist() == [[True, True, False], [False, False, True], [False, False, False]]


# -- split protocol ------------------------------------------------------------------------------
def _split_ctx(folders, tmp_path, func) -> CheckContext:
    return run_steps(folders, tmp_path / "art", {"fraud": SimpleNamespace(split_then_resample=func)},
                     [(steps.split, "fraud.split")])


def _before_split(X, y, sampler, *, test_size=0.2, seed=0):
    from sklearn.model_selection import train_test_split

    X_res, y_res = sampler.fit_resample(X, y)
    return train_test_split(X_res, y_res, test_size=test_size, stratify=y_res, random_state=seed)


def _both_parts(X, y, sampler, *, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = BASE_SPLIT(X, y, sampler, test_size=test_size, seed=seed)
    X_test, y_test = sampler.fit_resample(X_test, y_test)
    return X_train, X_test, y_train, y_test


def _unstratified(X, y, sampler, *, test_size=0.2, seed=0):
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=seed)
    X_train, y_train = sampler.fit_resample(X_train, y_train)
    return X_train, X_test, y_train, y_test


def _scaled_test(X, y, sampler, *, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = BASE_SPLIT(X, y, sampler, test_size=test_size, seed=seed)
    return X_train, (X_test - X_test.mean(axis=0)) / X_test.std(axis=0), y_train, y_test


def _not_resampled(X, y, sampler, *, test_size=0.2, seed=0):
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
    sampler.fit_resample(X_train, y_train)
    return X_train, X_test, y_train, y_test


def _overlapping(X, y, sampler, *, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = BASE_SPLIT(X, y, sampler, test_size=test_size, seed=seed)
    return np.vstack([X_train, X_test[:5]]), X_test, np.r_[y_train, y_test[:5]], y_test


@pytest.mark.parametrize("func, expected", [
    (BASE_SPLIT, set()),
    (_before_split, {"split.sampler_train_only", "split.test_original", "split.disjoint"}),
    (_both_parts, {"split.sampler_train_only", "split.test_original"}),
    (_unstratified, {"split.stratified"}),
    (_scaled_test, {"split.test_original"}),
    (_not_resampled, {"split.train_resampled"}),
    (_overlapping, {"split.disjoint"}),
])
def test_split_faults_fail_exactly_their_check(folders, tmp_path, func, expected):
    assert failing(_split_ctx(folders, tmp_path, func), SPLIT_CHECKS) == expected


def test_classify_rows_tells_original_added_and_modified():
    X = np.array([[0.0, 1.0], [1.0, 2.0]])
    y = np.array([0, 1])
    part = np.array([[1.0, 2.0], [-2.0, 2.0], [0.0, 1.5], [1.0, 2.0]])
    kind, src = split_protocol.classify_rows(part, np.array([1, 1, 0, 0]), X, y)
    assert kind.tolist() == [split_protocol.ORIGINAL, split_protocol.ADDED, split_protocol.MODIFIED,
                             split_protocol.MODIFIED]          # the last one has the wrong label
    assert src.tolist() == [1, 1, -1, -1]


# -- CNN (model JSON written by hand in Keras 3's format) ------------------------------------------
def _layer(cls, **config):
    return {"module": "keras.layers", "class_name": cls, "config": {"name": f"{cls.lower()}", **config}}


HOMEWORK = [
    _layer("Conv1D", filters=32, kernel_size=[2], strides=[1], padding="valid", activation="relu", use_bias=True),
    _layer("BatchNormalization", axis=-1, center=True, scale=True),
    _layer("MaxPooling1D", pool_size=[2], strides=[2], padding="valid"),
    _layer("Dropout", rate=0.2),
    _layer("Conv1D", filters=64, kernel_size=[2], strides=[1], padding="valid", activation="relu", use_bias=True),
    _layer("BatchNormalization", axis=-1, center=True, scale=True),
    _layer("MaxPooling1D", pool_size=[2], strides=[2], padding="valid"),
    _layer("Dropout", rate=0.5),
    _layer("Flatten"),
    _layer("Dense", units=64, activation="relu", use_bias=True),
    _layer("Dropout", rate=0.5),
    _layer("Dense", units=64, activation="relu", use_bias=True),
    _layer("Dense", units=1, activation="sigmoid", use_bias=True),
]
CNN_CHECKS = {"cnn.layers": cnn_arch.test_layer_sequence_and_parameters, "cnn.dropout": cnn_arch.test_dropout_rates,
              "cnn.optimizer": cnn_arch.test_adam_learning_rate, "cnn.loss": cnn_arch.test_binary_cross_entropy}


def _cnn_ctx(tmp_path, layers, *, params=(33_505, 192), opt=("Adam", 9.999999747378752e-05),
             loss=("str", "binary_crossentropy", {})) -> CheckContext:
    art = tmp_path / "art"
    (art / "fraud").mkdir(parents=True)
    (art / "steps").mkdir()
    (art / "steps" / "fraud.cnn_arch.json").write_text(json.dumps({"status": "ok"}))
    model = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 30, 1]}}, *layers]}}
    (art / "fraud" / "cnn_model.json").write_text(json.dumps(model))
    (art / "fraud" / "cnn.json").write_text(json.dumps({
        "total_params": params[0], "non_trainable_params": params[1], "trainable_params": params[0] - params[1],
        "optimizer": {"class": opt[0], "learning_rate": opt[1], "config": {"name": opt[0].lower()}},
        "loss": {"kind": loss[0], "name": loss[1], "config": loss[2]}}))
    return CheckContext(art, tmp_path, get_profile("smoke"))


def test_homework_cnn_passes(tmp_path):
    assert failing(_cnn_ctx(tmp_path, HOMEWORK), CNN_CHECKS) == set()


def test_separate_activation_layers_are_folded(tmp_path):
    layers = [dict(HOMEWORK[0], config={**HOMEWORK[0]["config"], "activation": "linear"}),
              _layer("Activation", activation="relu"), *HOMEWORK[1:]]
    assert failing(_cnn_ctx(tmp_path, layers), CNN_CHECKS) == set()


def test_missing_dense_is_named_in_the_message(tmp_path):
    layers = HOMEWORK[:11] + HOMEWORK[12:]
    with pytest.raises(CheckFailed, match=r"missing Dense\(64, relu\)"):
        cnn_arch.test_layer_sequence_and_parameters(_cnn_ctx(tmp_path, layers, params=(29_345, 192)))


@pytest.mark.parametrize("kwargs, expected", [
    ({"opt": ("Adam", 1e-3)}, {"cnn.optimizer"}),
    ({"opt": ("SGD", 1e-4)}, {"cnn.optimizer"}),
    ({"loss": ("str", "mse", {})}, {"cnn.loss"}),
    ({"loss": ("object", "BinaryCrossentropy", {"name": "binary_crossentropy", "from_logits": True})},
     {"cnn.loss"}),
    ({"loss": ("object", "LossFunctionWrapper", {"name": "binary_crossentropy", "from_logits": False})}, set()),
    ({"params": (33_697, 384)}, {"cnn.layers"}),
])
def test_compile_faults(tmp_path, kwargs, expected):
    assert failing(_cnn_ctx(tmp_path, HOMEWORK, **kwargs), CNN_CHECKS) == expected


def test_functional_branch_is_rejected():
    hist = lambda name: {"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}]}
    model = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "InputLayer", "name": "in", "config": {"batch_shape": [None, 30, 1]}, "inbound_nodes": []},
        {"class_name": "Conv1D", "name": "a", "config": {}, "inbound_nodes": [hist("in")]},
        {"class_name": "Conv1D", "name": "b", "config": {}, "inbound_nodes": [hist("in")]}]}}
    with pytest.raises(CheckFailed, match="single chain"):
        cnn_arch.flatten_layers(model)


# -- held-back metrics ---------------------------------------------------------------------------
def _metric_ctx(tmp_path, proba, labels) -> CheckContext:
    art, held = tmp_path / "art", tmp_path / "held"
    (art / "fraud").mkdir(parents=True)
    (art / "steps").mkdir()
    (held / "fraud").mkdir(parents=True)
    (art / "steps" / "fraud.detector.json").write_text(json.dumps({"status": "ok"}))
    np.savez(art / "fraud" / "detector.npz", proba=np.asarray(proba))
    np.save(held / "fraud" / "test_labels.npy", np.asarray(labels))
    return CheckContext(art, held, get_profile("smoke"))


METRIC_CHECKS = {"fraud.proba_contract": fraud_metrics.test_predict_proba_contract,
                 "fraud.pr_auc": fraud_metrics.test_pr_auc_above_threshold,
                 "fraud.recall": fraud_metrics.test_recall_above_threshold}


def test_majority_only_fails_both_metrics_and_a_useful_model_passes(tmp_path):
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(588, int), np.ones(12, int)]
    assert failing(_metric_ctx(tmp_path / "a", np.zeros(600), y), METRIC_CHECKS) == {"fraud.pr_auc", "fraud.recall"}
    useful = np.clip(0.3 * y + rng.uniform(0, 0.45, 600), 0, 1)
    assert failing(_metric_ctx(tmp_path / "b", useful, y), METRIC_CHECKS) == set()


def test_a_test_part_without_frauds_is_a_grader_error_even_at_a_zero_bar(tmp_path):
    """No frauds is no evidence for recall: not a pass at a configured 0.0 threshold, not the student's fault."""
    ctx = _metric_ctx(tmp_path, np.full(600, 0.1), np.zeros(600, int))
    ctx.profile = dataclasses.replace(ctx.profile, thresholds={"fraud": {"recall": 0.0}})
    status, en, _ = outcome(fraud_metrics.test_recall_above_threshold, ctx)
    assert status == "error" and "hold no fraud: recall cannot be judged" in en


def test_wrong_shape_fails_the_contract_but_is_still_scored(tmp_path):
    y = np.r_[np.zeros(588, int), np.ones(12, int)]
    proba = (0.9 * y + 0.05)[:, None]
    assert failing(_metric_ctx(tmp_path, proba, y), METRIC_CHECKS) == {"fraud.proba_contract"}


# -- inputs --------------------------------------------------------------------------------------
def test_prepare_inputs_holds_the_test_labels_back(tmp_path):
    profile = get_profile("smoke")
    tasks.prepare_inputs(profile, tmp_path / "inputs", tmp_path / "heldback")
    with np.load(tmp_path / "inputs" / "fraud" / "detector_test.npz") as test:
        assert test.files == ["X"]
        n_test = len(test["X"])
    labels = np.load(tmp_path / "heldback" / "fraud" / "test_labels.npy")
    meta = json.loads((tmp_path / "heldback" / "fraud" / "detector_meta.json").read_text())
    assert len(labels) == n_test == 600                      # 20 % of the smoke profile's 3,000 rows
    assert meta["class_counts"]["test"] == {"0": 588, "1": 12}
    after = meta["class_counts"]["train_after"]
    assert abs(after["0"] - after["1"]) <= 0.05 * after["0"]  # imbalanced-learn's ADASYN, beta = 1
    before = meta["class_counts"]["train_before"]
    assert meta["adasyn"]["G"] == before["0"] - before["1"] and len(meta["adasyn"]["r"]) == before["1"]
    for name in tasks.PUBLIC_FILES:                          # the checks read their own copy
        assert (tmp_path / "heldback" / "fraud" / name).read_bytes() == \
            (tmp_path / "inputs" / "fraud" / name).read_bytes()
    assert not list((tmp_path / "inputs").rglob("*label*"))


# -- no evidence is a failure (DESIGN.md "No vacuous passes") --------------------------------------
def outcome(check, ctx: CheckContext) -> tuple[str, str, str]:
    """(status, message_en, message_fa) exactly as the check plugin records the check's result."""
    from grader.checks import plugin

    out = plugin._outcome_from(pytest.CallInfo.from_call(lambda: check(ctx), "call"), "call")
    return out.status, out.message_en, out.message_fa


def held_copy(folders: Path, tmp_path: Path, name: str, edit) -> Path:
    """A copy of the held-back folder with the JSON list ``fraud/<name>`` passed through ``edit``."""
    import shutil

    held = tmp_path / "held"
    shutil.copytree(folders / "heldback", held)
    path = held / "fraud" / name
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return held


class NoRowsADASYN(BASE_ADASYN):
    """Fills d_, G_, r_, r_hat_ and g_ correctly but returns X, y: nothing is generated."""

    def fit_resample(self, X, y):
        super().fit_resample(X, y)
        return np.asarray(X, float).copy(), np.asarray(y).copy()


class ZeroCountsADASYN(NoRowsADASYN):
    """Generates nothing and says so: g_ is all zeros, so no case has a row to judge."""

    def fit_resample(self, X, y):
        out = super().fit_resample(X, y)
        if hasattr(self, "g_"):
            self.g_ = np.zeros_like(self.g_)
        return out


class OffSegmentADASYN(BASE_ADASYN):
    """Σg rows, each far from every minority segment: none has a parent to count."""

    def fit_resample(self, X, y):
        X_res, y_res = super().fit_resample(X, y)
        X_res = np.asarray(X_res, float).copy()
        X_res[len(X):] += 1000.0
        return X_res, y_res


NO_ROWS_FAILS = {"adasyn.synthetic_count", "adasyn.segments", "adasyn.per_sample_counts", "adasyn.threshold",
                 "adasyn.reproducible"}


def test_an_adasyn_that_generates_nothing_fails_every_check_of_the_rows(folders, tmp_path):
    assert failing(adasyn_ctx(folders, tmp_path, NoRowsADASYN), ADASYN_CHECKS) == NO_ROWS_FAILS


@pytest.mark.parametrize("check_id, fragment", [
    ("adasyn.segments", "Case blobs_k5: expected sum(g_) = 149 synthetic rows to judge, found none"),
    ("adasyn.per_sample_counts", "Case blobs_k5: expected sum(g_) = 149 synthetic rows to judge, found none"),
    ("adasyn.threshold", "nothing was generated on any case with d < d_threshold either"),
    ("adasyn.reproducible", "Case blobs_k5: no synthetic row was generated, so there was no random draw"),
])
def test_no_rows_is_named_in_each_failing_message(folders, tmp_path, check_id, fragment):
    status, en, fa = outcome(ADASYN_CHECKS[check_id], adasyn_ctx(folders, tmp_path, NoRowsADASYN))
    assert (status, fragment in en, bool(fa) and fa != en) == ("failed", True, True), en


@pytest.mark.parametrize("check_id, fragment", [
    ("adasyn.synthetic_count", "No case produced a synthetic row whose label could be checked"),
    ("adasyn.segments", "No case produced a synthetic row to place on a segment"),
    ("adasyn.per_sample_counts", "No case produced a synthetic row on a segment from a minority sample"),
])
def test_zero_counts_and_zero_rows_is_no_evidence(folders, tmp_path, check_id, fragment):
    status, en, _ = outcome(ADASYN_CHECKS[check_id], adasyn_ctx(folders, tmp_path, ZeroCountsADASYN))
    assert status == "failed" and fragment in en, en


def test_rows_off_every_segment_leave_per_sample_counts_no_evidence(folders, tmp_path):
    ctx = adasyn_ctx(folders, tmp_path, OffSegmentADASYN)
    assert failing(ctx, {k: ADASYN_CHECKS[k] for k in ("adasyn.segments", "adasyn.per_sample_counts")}) == \
        {"adasyn.segments", "adasyn.per_sample_counts"}
    status, en, _ = outcome(adasyn_synthesis.test_each_sample_gets_g_i_rows, ctx)
    assert status == "failed" and "No case produced a synthetic row on a segment from a minority sample" in en


def test_an_empty_g_against_an_empty_r_hat_fails_g(folders, tmp_path):
    ctx = adasyn_ctx(folders, tmp_path, BASE_ADASYN)
    arrays = dict(np.load(tmp_path / "art" / "fraud" / "adasyn_cases.npz"))
    arrays["g__blobs_k5"], arrays["r_hat__blobs_k5"] = np.zeros(0, int), np.zeros(0)
    np.savez(tmp_path / "art" / "fraud" / "adasyn_cases.npz", **arrays)
    status, en, _ = outcome(adasyn_math.test_rounded_counts, CheckContext(ctx.artifacts, ctx.heldback, ctx.profile))
    assert status == "failed" and "Case blobs_k5: expected g_ to hold one count per minority sample (30" in en


GENERATE_CHECKS = ("adasyn.d", "adasyn.G", "adasyn.r", "adasyn.r_hat", "adasyn.g", "adasyn.originals_first",
                   "adasyn.synthetic_count", "adasyn.segments", "adasyn.per_sample_counts", "adasyn.reproducible")


@pytest.mark.parametrize("check_id", GENERATE_CHECKS)
def test_generating_checks_fail_without_a_generating_case(folders, tmp_path, check_id):
    ctx = adasyn_ctx(folders, tmp_path, BASE_ADASYN)
    held = held_copy(folders, tmp_path, "adasyn_cases.json",
                     lambda cases: [c for c in cases if c["kind"] == "threshold" or c["params"]["beta"] == 0.0])
    status, en, _ = outcome(ADASYN_CHECKS[check_id], CheckContext(ctx.artifacts, held, ctx.profile))
    assert status == "failed" and "hold no case of kind generate (beta > 0)" in en, en


def test_threshold_fails_without_a_threshold_case(folders, tmp_path):
    ctx = adasyn_ctx(folders, tmp_path, BASE_ADASYN)
    held = held_copy(folders, tmp_path, "adasyn_cases.json",
                     lambda cases: [c for c in cases if c["kind"] != "threshold"])
    status, en, _ = outcome(adasyn_synthesis.test_nothing_generated_above_threshold,
                            CheckContext(ctx.artifacts, held, ctx.profile))
    assert status == "failed" and "hold no case of kind threshold" in en


def test_threshold_fails_when_no_case_exercises_it(folders, tmp_path):
    def raise_thresholds(cases):
        for case in cases:
            if case["kind"] == "threshold":
                case["params"]["d_threshold"] = 0.99         # now d < d_threshold: not a threshold case
        return cases

    ctx = adasyn_ctx(folders, tmp_path, BASE_ADASYN)
    held = held_copy(folders, tmp_path, "adasyn_cases.json", raise_thresholds)
    status, en, _ = outcome(adasyn_synthesis.test_nothing_generated_above_threshold,
                            CheckContext(ctx.artifacts, held, ctx.profile))
    assert status == "failed" and "so the threshold could not be exercised" in en


def test_reproducible_fails_without_a_repeated_case(folders, tmp_path):
    ctx = adasyn_ctx(folders, tmp_path, BASE_ADASYN)
    held = held_copy(folders, tmp_path, "adasyn_cases.json",
                     lambda cases: [{**c, "repeat": False} for c in cases])
    status, en, _ = outcome(adasyn_synthesis.test_same_random_state_same_rows,
                            CheckContext(ctx.artifacts, held, ctx.profile))
    assert status == "failed" and "hold no case run twice" in en


def test_errors_fail_without_a_bad_input(folders, tmp_path):
    ctx = adasyn_ctx(folders, tmp_path, BASE_ADASYN)
    held = held_copy(folders, tmp_path, "adasyn_errors.json",
                     lambda cases: [c for c in cases if c["name"] == "control"])
    status, en, _ = outcome(adasyn_errors.test_bad_input_raises_value_error,
                            CheckContext(ctx.artifacts, held, ctx.profile))
    assert status == "failed" and "the grader's list of bad ADASYN inputs is empty" in en


def _empty_test(X, y, sampler, *, test_size=0.2, seed=0):
    X_train, y_train = sampler.fit_resample(X, y)
    return X_train, X[:0], y_train, y[:0]


def _never_resampled(X, y, sampler, *, test_size=0.2, seed=0):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)


def _before_split_test_scaled(X, y, sampler, *, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = _before_split(X, y, sampler, test_size=test_size, seed=seed)
    return X_train, X_test * 2.0, y_train, y_test


def _repeated_test(X, y, sampler, *, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = BASE_SPLIT(X, y, sampler, test_size=test_size, seed=seed)
    return X_train, np.vstack([X_test, X_test[:3]]), y_train, np.r_[y_test, y_test[:3]]


def _both_scaled_overlapping(X, y, sampler, *, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = BASE_SPLIT(X, y, sampler, test_size=test_size, seed=seed)
    return X_train * 2.0, np.vstack([X_test, X_train[:4]]) * 2.0, y_train, np.r_[y_test, y_train[:4]]


@pytest.mark.parametrize("func, check_id, fragment", [
    (_empty_test, "split.sampler_train_only", "the test part is empty, so this property has no rows"),
    (_empty_test, "split.test_original", "the test part is empty, so this property has no rows"),
    (_empty_test, "split.disjoint", "the test part is empty, so this property has no rows"),
    (_never_resampled, "split.sampler_train_only", "sampler.fit_resample was never called, so there is no "
                                                   "resampling to verify"),
    (_before_split_test_scaled, "split.sampler_train_only", "rows outside the"),
    (_before_split, "split.test_original", "were added by the sampler (resampled rows)"),
    (_before_split, "split.test_original", "were given to the sampler with the training data"),
    (_before_split, "split.disjoint", "of them through a resampled copy: oversampling before the split"),
    (_both_parts, "split.test_original", "were added by the sampler (resampled rows)"),
    (_scaled_test, "split.test_original", "are not an input row with its label"),
    (_repeated_test, "split.test_original", "3 are original rows repeated in the test part"),
    (_both_scaled_overlapping, "split.disjoint", "4 changed test rows equal a changed training row"),
])
def test_split_checks_name_what_the_test_part_lacks(folders, tmp_path, func, check_id, fragment):
    status, en, fa = outcome(SPLIT_CHECKS[check_id], _split_ctx(folders, tmp_path, func))
    assert (status, fragment in en, bool(fa) and fa != en) == ("failed", True, True), en


@pytest.mark.parametrize("check_id", sorted(SPLIT_CHECKS))
def test_split_checks_fail_without_a_split_run(folders, tmp_path, check_id):
    ctx = _split_ctx(folders, tmp_path, BASE_SPLIT)
    held = held_copy(folders, tmp_path, "split_runs.json", lambda runs: [])
    status, en, _ = outcome(SPLIT_CHECKS[check_id], CheckContext(ctx.artifacts, held, ctx.profile))
    assert status == "failed" and "the grader's list of split runs is empty" in en


# -- messages that say where (issue 13, item 10) -------------------------------------------------
def _starter_cnn_ctx(tmp_path: Path, status: dict) -> CheckContext:
    """Artifacts of the starter's cnn step: build_cnn raised NotImplementedError, as recorded by the sandbox."""
    art = tmp_path / "art"
    (art / "steps").mkdir(parents=True)
    (art / "steps" / "fraud.cnn_arch.json").write_text(json.dumps(
        {"step": "fraud.cnn_arch", "status": "error", "error_type": "NotImplementedError",
         "message": "build_cnn is not implemented yet", **status}))
    return CheckContext(art, tmp_path, get_profile("smoke"))


@pytest.mark.parametrize("status, en, fa", [
    ({"where": "fraud.build_cnn (line 25)"},
     "fraud.build_cnn (line 25) is not implemented yet (it raised NotImplementedError).",
     "fraud.build_cnn (سطر 25) هنوز پیاده‌سازی نشده است (NotImplementedError داد)."),
    ({"where": ""},      # no traceback frame inside submission/: the step's own declaration names the function
     "submission/fraud.py: build_cnn is not implemented yet (it raised NotImplementedError).",
     "submission/fraud.py: build_cnn هنوز پیاده‌سازی نشده است (NotImplementedError داد)."),
])
def test_the_cnn_not_implemented_message_names_build_cnn(tmp_path, status, en, fa):
    ctx = _starter_cnn_ctx(tmp_path, status)
    for check in CNN_CHECKS.values():
        assert outcome(check, ctx) == ("failed", en, fa)


def test_a_timed_out_step_names_the_functions_it_calls(tmp_path):
    ctx = _starter_cnn_ctx(tmp_path, {"status": "timeout", "error_type": None, "message": "", "where": ""})
    status, en, fa = outcome(cnn_arch.test_dropout_rates, ctx)
    assert en.endswith("Look for an endless loop or work far beyond the budget in submission/fraud.py: build_cnn.")
    assert "your submission" not in en + fa and "submission/fraud.py: build_cnn" in fa


def test_a_leak_in_every_run_is_one_sentence_naming_the_four_runs(folders, tmp_path):
    status, en, fa = outcome(split_protocol.test_sampler_saw_training_rows_only,
                             _split_ctx(folders, tmp_path, _before_split))
    assert status == "failed"
    assert en == ("In all 4 runs (s0, s1, s2, s3): the sampler was given 2500 rows, 492–751 of which ended up in "
                  "the test part: it ran before the split (the leak that inflates test scores). Expected: split "
                  "first, then sampler.fit_resample(X_train, y_train). Look at split_then_resample in "
                  "submission/fraud.py.")
    assert fa == ("در هر 4 اجرا (s0، s1، s2، s3): به sampler در مجموع 2500 سطر داده شد که 492 تا 751 سطر از آن‌ها در بخش "
                  "آزمون قرار گرفتند: بازنمونه‌گیری پیش از تقسیم انجام شده است (نشت داده که امتیازهای آزمون را "
                  "بزرگ‌تر از واقع نشان می‌دهد). انتظار: اول تقسیم، سپس sampler.fit_resample(X_train, y_train). "
                  "split_then_resample در submission/fraud.py را بررسی کنید.")


def test_runs_are_collapsed_only_when_they_share_the_fault():
    def run(name, seed):
        return split_protocol.SplitRun(name, seed, 0.2, [], *([np.zeros(0)] * 8))
    s0, s1, s2 = run("s0", 0), run("s1", 1), run("s2", 2)
    problems = [(s0, "found 3 rows.", "3 سطر پیدا شد."), (s1, "found 7 rows.", "7 سطر پیدا شد."),
                (s2, "never called.", "هرگز فراخوانی نشد.")]
    assert split_protocol.collapse_runs(problems, 3) == [
        ("In 2 of the 3 runs (s0, s1): found 3–7 rows.", "در 2 اجرا از 3 اجرا (s0، s1): 3 تا 7 سطر پیدا شد."),
        ("Run s2 (seed 2, test_size 0.2): never called.", "اجرای s2 (seed=2، test_size=0.2): هرگز فراخوانی نشد.")]


def test_every_bad_adasyn_input_is_described_in_persian():
    names = {case["name"] for case in tasks.adasyn_error_cases()} - {"control"}
    assert set(adasyn_errors.PROBLEM_FA) == names


def test_a_lenient_adasyn_is_told_which_input_in_persian(folders, tmp_path):
    class Lenient(BASE_ADASYN):
        def fit_resample(self, X, y):
            if len(set(np.asarray(y).tolist())) > 2:
                return np.asarray(X), np.asarray(y)
            return super().fit_resample(X, y)

    status, _, fa = outcome(adasyn_errors.test_bad_input_raises_value_error, adasyn_ctx(folders, tmp_path, Lenient))
    assert status == "failed" and fa.startswith("ورودی non_binary_y (y سه کلاس دارد): انتظار ValueError می‌رفت، "
                                                 "اما هیچ خطایی رخ نداد.")


def test_every_step_names_the_submission_functions_it_calls():
    """A step that stops without a traceback (timeout, kill, crash) is still reported with its functions."""
    from grader.run.step_api import all_steps, describe_calls, step

    assert {s.id: describe_calls(s.calls) for s in all_steps() if s.id.startswith("fraud.")} == {
        "fraud.adasyn_cases": "submission/adasyn.py: ADASYN.fit_resample",
        "fraud.adasyn_errors": "submission/adasyn.py: ADASYN.fit_resample",
        "fraud.split": "submission/fraud.py: split_then_resample",
        "fraud.cnn_arch": "submission/fraud.py: build_cnn",
        "fraud.detector": "submission/fraud.py: FraudDetector.fit, FraudDetector.predict_proba"}
    assert all(s.calls for s in all_steps() if s.module.startswith("grader.run.steps."))
    with pytest.raises(ValueError, match=r"calls entry 'build_cnn' should be '<module>.<function>'"):
        step("fraud.bad", task="fraud", calls=("build_cnn",))
