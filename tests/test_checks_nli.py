"""The NLI checks on artifacts: each fault is written into a copy of correct artifacts and must be caught.

The cheap steps (``nli.params``, ``nli.lora_init``, ``nli.encode``, ``nli.predict``) run in
process on the gallery base ``tests/submissions/nli_correct`` (smoke profile);
the training steps' artifacts are built here from the pretrained weights, so
no test trains a model. Checks are called directly with a ``CheckContext``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader.checks import lora_init, lora_structure, nli_accuracy, nli_encode, nli_params, nli_predict, nli_weights
from grader.checks import _thresholds
from grader.checks._support import CheckContext, CheckFailed
from grader.oracles.stats import wilson_interval
from grader.profiles import get_profile
from grader.run.step_api import StepContext
from grader.tasks import nli as T

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "tests" / "submissions" / "nli_correct" / "submission" / "nli.py"
PROFILE = get_profile("smoke")
VISIBLE = {
    "nli.full_trainable": nli_params.test_full_mode_trains_every_parameter,
    "nli.freeze_trainable": nli_params.test_freeze_mode_trains_only_the_head,
    "nli.count_parameters": nli_params.test_count_parameters_matches_the_graders_count,
    "nli.unknown_mode": nli_params.test_unknown_mode_raises_value_error,
    "nli.lora_targets": lora_structure.test_adapters_on_exactly_query_and_value,
    "nli.lora_rank_alpha": lora_structure.test_lora_honours_rank_and_alpha,
    "nli.lora_head_trainable": lora_structure.test_lora_trains_the_head,
    "nli.lora_frozen_base": lora_structure.test_lora_freezes_the_pretrained_weights,
    "nli.lora_zero_init": lora_init.test_lora_starts_at_the_pretrained_model,
    "nli.lora_a_init": lora_init.test_lora_a_is_random,
    "nli.encode_pair": nli_encode.test_pairs_are_encoded_as_sentence_pairs,
    "nli.encode_truncation": nli_encode.test_long_pairs_are_truncated,
    "nli.predict_argmax": nli_predict.test_predict_returns_the_models_argmax,
}


class _InProcess(StepContext):
    """A StepContext whose submission module is given, not imported from ``submission/``."""

    def __init__(self, module, **kwargs):
        super().__init__(**kwargs)
        self._module = module

    def module(self, name):
        return self._module


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_step(func, step_id: str, module, root: Path) -> None:
    ctx = _InProcess(module, inputs=root / "in", out=root / "art", profile=PROFILE, seed=0, submission_dir=root,
                     step_id=step_id)
    func(ctx)
    _status(root / "art", step_id)


def _status(art: Path, step_id: str, status: str = "ok") -> None:
    (art / "steps").mkdir(parents=True, exist_ok=True)
    (art / "steps" / f"{step_id}.json").write_text(json.dumps({"step": step_id, "status": status}))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, smoke_inputs):
    """Inputs, held-back data and the visible steps' artifacts of the gallery base, once per module."""
    from grader.run.steps import nli as steps

    root = tmp_path_factory.mktemp("nli-smoke")
    (root / "in").symlink_to(smoke_inputs[0])       # the run's shared smoke inputs (tests/conftest.py)
    (root / "hb").symlink_to(smoke_inputs[1])
    module = _load(BASE, "nli_gallery_base")
    _run_step(steps.nli_params, "nli.params", module, root)
    _run_step(steps.nli_lora_init, "nli.lora_init", module, root)
    _run_step(steps.nli_encode, "nli.encode", module, root)
    _run_step(steps.nli_predict, "nli.predict", module, root)
    return root


@pytest.fixture()
def art(smoke, tmp_path) -> Path:
    """A private copy of the artifacts, free to corrupt."""
    shutil.copytree(smoke / "art", tmp_path / "art")
    return tmp_path / "art"


@pytest.fixture()
def hb(smoke) -> Path:
    return smoke / "hb"


def _ctx(art: Path, hb: Path) -> CheckContext:
    return CheckContext(art, hb, PROFILE)


def _failure(check, art: Path, hb: Path) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        check(_ctx(art, hb))
    assert info.value.fa and info.value.en != info.value.fa
    return info.value


def _edit_params(art: Path, edit) -> None:
    path = art / "nli" / "params.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _state(data: dict, model: str, mode: str, r=None) -> dict:
    return next(s for s in data["states"] if s["model"] == model and s["mode"] == mode and s["r"] == r)


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize("name, role, canonical", [
    ("base_model.model.roberta.encoder.layer.0.attention.self.query.base_layer.weight", "base",
     "roberta.encoder.layer.0.attention.self.query.weight"),
    ("base_model.model.roberta.encoder.layer.0.attention.self.query.lora_A.default.weight", "lora_A",
     "roberta.encoder.layer.0.attention.self.query"),
    ("base_model.model.classifier.modules_to_save.default.out_proj.bias", "head", "classifier.out_proj.bias"),
    ("base_model.model.classifier.original_module.dense.weight", "head_original", "classifier.dense.weight"),
    ("classifier.weight", "head", "classifier.weight"),
    ("bert.embeddings.word_embeddings.weight", "base", "bert.embeddings.word_embeddings.weight"),
])
def test_classify_param_maps_peft_names_back_to_pretrained_names(name, role, canonical):
    assert T.classify_param(name)[:2] == (role, canonical)


def test_count_from_records_is_peft_semantics():
    records = [["a", [3, 4], True], ["b", [5], False], ["c", [], True]]
    assert T.count_from_records(records) == (13, 18)


def test_tensor_digest_tells_bit_identical_from_changed():
    import torch

    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    assert T.tensor_digest(x) == T.tensor_digest(x.clone())
    y = x.clone()
    y[0, 0] = torch.nextafter(y[0, 0], torch.tensor(1.0))
    assert T.tensor_digest(x) != T.tensor_digest(y)
    assert T.tensor_digest(x) != T.tensor_digest(x.double())
    assert T.tensor_digest(x) != T.tensor_digest(x.reshape(3, 2))


def test_numerical_rank_ignores_float32_rounding_of_a_merge():
    rng = np.random.default_rng(0)
    w0 = rng.normal(0, 0.05, (64, 64)).astype(np.float32)
    delta = (rng.normal(size=(64, 3)) @ rng.normal(size=(3, 64)) * 1e-3).astype(np.float32)
    merged = (w0 + delta).astype(np.float32)
    rank, _ = nli_weights.numerical_rank(merged.astype(np.float64) - w0.astype(np.float64),
                                         float(np.linalg.norm(merged)))
    assert rank == 3
    full = merged + rng.normal(0, 1e-4, merged.shape).astype(np.float32)
    rank, _ = nli_weights.numerical_rank(full.astype(np.float64) - w0, float(np.linalg.norm(full)))
    assert rank > 60  # a dense update: far above any LoRA rank (the smallest noise directions may sink)


def test_prepare_inputs_keeps_eval_labels_out_of_the_inputs(smoke):
    meta = json.loads((smoke / "in" / T.INPUT_FILES["meta"]).read_text())
    assert (meta["n_train"], meta["n_dev"], meta["n_eval"]) == (64, 16, 48)
    rows = T.read_jsonl(smoke / "in" / T.INPUT_FILES["eval_inputs"])
    assert len(rows) == 48 and all(set(r) == {"premise", "hypothesis"} for r in rows)
    labels = np.load(smoke / "hb" / T.HELDBACK_LABELS)
    assert labels.shape == (48,) and set(labels.tolist()) <= {0, 1, 2}
    train = T.read_jsonl(smoke / "in" / T.INPUT_FILES["train"])
    dev = T.read_jsonl(smoke / "in" / T.INPUT_FILES["dev"])
    assert len(train) == 64 and len(dev) == 16 and all("label" in r for r in train + dev)


# --------------------------------------------------------------------------- the base passes


@pytest.mark.parametrize("check_id", sorted(VISIBLE))
def test_the_gallery_base_passes_every_visible_check(check_id, art, hb):
    VISIBLE[check_id](_ctx(art, hb))


def test_params_record_the_exact_roberta_large_counts(art):
    data = json.loads((art / "nli" / "params.json").read_text())
    assert tuple(_state(data, "roberta-large-meta", "full")["count"]) == (355_362_819, 355_362_819)
    assert tuple(_state(data, "roberta-large-meta", "freeze")["count"]) == (1_052_675, 355_362_819)
    assert tuple(_state(data, "roberta-large-meta", "lora", 8)["count"]) == (1_839_107, 357_201_926)
    assert tuple(_state(data, "roberta-large-meta", "lora", 32)["count"]) == (4_198_403, 359_561_222)
    assert data["bogus"]["is_value_error"] is True


# --------------------------------------------------------------------------- faults are caught


def test_freeze_with_an_encoder_layer_trainable_fails_freeze_only(art, hb):
    def edit(data):
        for st in (_state(data, "profile", "freeze"), _state(data, "roberta-large-meta", "freeze")):
            for rec in st["params"]:
                if ".layer.1." in rec[0]:
                    rec[2] = True
    _edit_params(art, edit)
    err = _failure(nli_params.test_freeze_mode_trains_only_the_head, art, hb)
    assert "encoder tensors trainable" in err.en and "roberta.encoder.layer.1." in err.en
    nli_params.test_full_mode_trains_every_parameter(_ctx(art, hb))


def test_freeze_with_the_head_frozen_names_the_head(art, hb):
    _edit_params(art, lambda d: [rec.__setitem__(2, False) for rec in _state(d, "profile", "freeze")["params"]])
    err = _failure(nli_params.test_freeze_mode_trains_only_the_head, art, hb)
    assert "4 head tensors frozen" in err.en


def test_full_mode_with_a_frozen_tensor_fails(art, hb):
    _edit_params(art, lambda d: _state(d, "roberta-large-meta", "full")["params"][0].__setitem__(2, False))
    err = _failure(nli_params.test_full_mode_trains_every_parameter, art, hb)
    assert "1 frozen tensors" in err.en and "roberta.embeddings.word_embeddings.weight" in err.en


def test_full_mode_returning_a_wrapped_model_fails(art, hb):
    def edit(data):
        for rec in _state(data, "profile", "full")["params"]:
            rec[0] = "base_model.model." + rec[0]
    _edit_params(art, edit)
    err = _failure(nli_params.test_full_mode_trains_every_parameter, art, hb)
    assert "unchanged in name and shape" in err.en


def test_count_parameters_counting_the_frozen_head_copy_fails(art, hb):
    def edit(data):
        st = _state(data, "roberta-large-meta", "lora", 8)
        st["count"] = [1_839_107 + 1_052_675, 357_201_926]
    _edit_params(art, edit)
    err = _failure(nli_params.test_count_parameters_matches_the_graders_count, art, hb)
    assert "returned (2891782, 357201926), expected (1,839,107, 357,201,926)" in err.en


def test_count_parameters_that_raises_is_reported(art, hb):
    _edit_params(art, lambda d: _state(d, "profile", "full").update(
        count=None, count_error={"type": "TypeError", "message": "boom"}))
    err = _failure(nli_params.test_count_parameters_matches_the_graders_count, art, hb)
    assert "raised TypeError" in err.en and "boom" in err.en


def test_count_parameters_is_judged_where_prepare_model_failed_elsewhere(art, hb):
    _edit_params(art, lambda d: _state(d, "profile", "lora", 8).update(error={"type": "X", "message": "y"}))
    nli_params.test_count_parameters_matches_the_graders_count(_ctx(art, hb))
    _failure(lora_structure.test_adapters_on_exactly_query_and_value, art, hb)


@pytest.mark.parametrize("bogus, fragment", [({"raised": None, "is_value_error": False}, "returned normally"),
                                              ({"raised": "KeyError", "is_value_error": False}, "raised KeyError")])
def test_unknown_mode_without_value_error_fails(art, hb, bogus, fragment):
    _edit_params(art, lambda d: d.update(bogus=bogus))
    assert fragment in _failure(nli_params.test_unknown_mode_raises_value_error, art, hb).en


def test_adapters_on_key_instead_of_query_fail_targets_only(art, hb):
    def edit(data):
        for st in data["states"]:
            if st["mode"] == "lora":
                for rec in st["params"]:
                    rec[0] = rec[0].replace(".query.lora_", ".key.lora_")
    _edit_params(art, edit)
    err = _failure(lora_structure.test_adapters_on_exactly_query_and_value, art, hb)
    assert "missing on 2" in err.en and "attention.self.key" in err.en
    lora_structure.test_lora_honours_rank_and_alpha(_ctx(art, hb))
    lora_structure.test_lora_trains_the_head(_ctx(art, hb))


def test_an_ignored_rank_fails_rank_alpha(art, hb):
    def edit(data):
        for rec in _state(data, "roberta-large-meta", "lora", 32)["params"]:
            if ".lora_A." in rec[0]:
                rec[1][0] = 8
            elif ".lora_B." in rec[0]:
                rec[1][1] = 8
    _edit_params(art, edit)
    err = _failure(lora_structure.test_lora_honours_rank_and_alpha, art, hb)
    assert "with r=32" in err.en and "(expected (32, 1024))" in err.en


def test_an_ignored_alpha_fails_rank_alpha_through_the_measured_scaling(art, hb):
    path = art / "nli" / "lora_scaling.npz"
    arrays = dict(np.load(path))
    arrays["r16_a32__delta"] = arrays["r16_a32__delta"] / 2  # the update of alpha=16, r=16
    np.savez(path, **arrays)
    err = _failure(lora_structure.test_lora_honours_rank_and_alpha, art, hb)
    assert "scaled by 1;" in err.en and "32/16 = 2" in err.en


def test_the_measured_scaling_of_the_base_is_alpha_over_r(art, hb):
    arrays = np.load(art / "nli" / "lora_scaling.npz")
    for r, alpha in T.PROFILE_LORA_PAIRS:
        k = f"r{r}_a{alpha}"
        basis = arrays[f"{k}__x"] @ arrays[f"{k}__A"].T @ arrays[f"{k}__B"].T
        assert np.allclose(arrays[f"{k}__delta"], alpha / r * basis, rtol=1e-4, atol=1e-6)


def test_a_frozen_head_in_lora_mode_fails_head_check_only(art, hb):
    def edit(data):
        for st in data["states"]:
            if st["mode"] == "lora":
                for rec in st["params"]:
                    if "modules_to_save" in rec[0]:
                        rec[2] = False
    _edit_params(art, edit)
    err = _failure(lora_structure.test_lora_trains_the_head, art, hb)
    assert "head tensors are frozen or absent" in err.en
    lora_structure.test_lora_freezes_the_pretrained_weights(_ctx(art, hb))


def test_a_trainable_base_weight_in_lora_mode_fails_frozen_base(art, hb):
    _edit_params(art, lambda d: [rec.__setitem__(2, True) for rec in _state(d, "profile", "lora", 8)["params"]
                                 if "embeddings" in rec[0]])
    err = _failure(lora_structure.test_lora_freezes_the_pretrained_weights, art, hb)
    assert "are trainable" in err.en and "embeddings" in err.en


def _rewrite_factors(art: Path, change) -> None:
    from safetensors.numpy import load_file, save_file

    path = art / "nli" / "lora_init.safetensors"
    tensors = {k: np.array(v) for k, v in load_file(str(path)).items()}
    change(tensors)
    save_file(tensors, str(path))


def test_a_random_b_fails_zero_init(art, hb):
    rng = np.random.default_rng(0)

    def change(tensors):
        for k in tensors:
            if ".lora_B." in k:
                tensors[k] = rng.normal(0, 0.1, tensors[k].shape).astype(np.float32)
    _rewrite_factors(art, change)
    err = _failure(lora_init.test_lora_starts_at_the_pretrained_model, art, hb)
    assert "4 of 4 B matrices hold non-zero values" in err.en
    lora_init.test_lora_a_is_random(_ctx(art, hb))


def test_an_output_that_moved_at_init_fails_zero_init(art, hb):
    path = art / "nli" / "lora_init.npz"
    arrays = dict(np.load(path))
    arrays["lora_logits"] = arrays["lora_logits"] + 1e-2
    np.savez(path, **arrays)
    assert "differ by up to 0.01" in _failure(lora_init.test_lora_starts_at_the_pretrained_model, art, hb).en


def _same_row(a):
    return np.tile(np.random.default_rng(0).uniform(-0.17, 0.17, (1, a.shape[1])), (a.shape[0], 1)).astype(a.dtype)


@pytest.mark.parametrize("make, fragment", [(np.zeros_like, "std 0 outside"), (_same_row, "rank 1 < 8")])
def test_a_zero_or_constant_a_fails_a_init(art, hb, make, fragment):
    def change(tensors):
        for k in tensors:
            if ".lora_A." in k:
                tensors[k] = make(tensors[k])
    _rewrite_factors(art, change)
    assert fragment in _failure(lora_init.test_lora_a_is_random, art, hb).en


def _edit_encode(art: Path, case: str, edit) -> None:
    path = art / "nli" / "encode.json"
    data = json.loads(path.read_text())
    edit(data[case])
    path.write_text(json.dumps(data))


def test_a_joined_string_fails_pair_encoding(art, hb):
    tokenizer = T.load_tokenizer("tiny-roberta")
    pairs = json.loads((hb / T.HELDBACK_ENCODE).read_text())["short"]
    joined = tokenizer([f"{p['premise']} {p['hypothesis']}" for p in pairs], truncation=True, max_length=128)

    def edit(case):
        case["input_ids"], case["attention_mask"] = joined["input_ids"], joined["attention_mask"]
    _edit_encode(art, "short_default", edit)
    err = _failure(nli_encode.test_pairs_are_encoded_as_sentence_pairs, art, hb)
    assert "is not encoded as a sentence pair" in err.en and "</s> </s>" in err.en
    nli_encode.test_long_pairs_are_truncated(_ctx(art, hb))


def test_padding_is_the_students_choice(art, hb):
    def edit(case):
        width = max(len(r) for r in case["input_ids"]) + 3
        case["input_ids"] = [r + [1] * (width - len(r)) for r in case["input_ids"]]
        case["attention_mask"] = [m + [0] * (width - len(m)) for m in case["attention_mask"]]
    _edit_encode(art, "short_default", edit)
    nli_encode.test_pairs_are_encoded_as_sentence_pairs(_ctx(art, hb))


def test_no_truncation_fails_truncation_only(art, hb):
    tokenizer = T.load_tokenizer("tiny-roberta")
    pairs = json.loads((hb / T.HELDBACK_ENCODE).read_text())["long"]
    full = tokenizer([p["premise"] for p in pairs], [p["hypothesis"] for p in pairs])

    def edit(case):
        case["input_ids"], case["attention_mask"] = full["input_ids"], full["attention_mask"]
    _edit_encode(art, "long", edit)
    err = _failure(nli_encode.test_long_pairs_are_truncated, art, hb)
    assert "expected at most max_length=16" in err.en
    nli_encode.test_pairs_are_encoded_as_sentence_pairs(_ctx(art, hb))


def test_truncation_by_slicing_fails_truncation(art, hb):
    tokenizer = T.load_tokenizer("tiny-roberta")
    pairs = json.loads((hb / T.HELDBACK_ENCODE).read_text())["long"]
    full = tokenizer([p["premise"] for p in pairs], [p["hypothesis"] for p in pairs])

    def edit(case):
        case["input_ids"] = [r[:16] for r in full["input_ids"]]
        case["attention_mask"] = [m[:16] for m in full["attention_mask"]]
    _edit_encode(art, "long", edit)
    assert "end with </s>" in _failure(nli_encode.test_long_pairs_are_truncated, art, hb).en


def test_an_encode_error_is_reported(art, hb):
    _edit_encode(art, "long", lambda c: c.update(error={"type": "TypeError", "message": "unexpected keyword"}))
    assert "TypeError: unexpected keyword" in _failure(nli_encode.test_long_pairs_are_truncated, art, hb).en


def _edit_predictions(art: Path, change) -> None:
    path = art / "nli" / "predict.npz"
    labels = np.load(path)["labels"]
    np.savez(path, labels=change(labels))


def test_the_predict_probe_has_varied_clear_cut_labels(art):
    ref = np.load(art / "nli" / "predict_reference.npz")
    assert ref["labels"].shape == (T.PREDICT_N,) and len(set(ref["labels"].tolist())) == 3
    assert float(ref["scale"]) == pytest.approx(1.0, rel=1e-3)
    assert (ref["margin"] > nli_predict.MARGIN_RTOL).sum() >= T.PREDICT_N - 2


@pytest.mark.parametrize("change, fragment", [
    (np.zeros_like, "Every prediction is 0"),
    (lambda y: y[::-1].copy(), "Keep the input order"),
    (lambda y: y[:-1], "expected (32,)"),
    (lambda y: y + 0.5, "dtype float64"),
])
def test_wrong_predictions_fail_predict_argmax(art, hb, change, fragment):
    _edit_predictions(art, change)
    assert fragment in _failure(nli_predict.test_predict_returns_the_models_argmax, art, hb).en


# --------------------------------------------------------------------------- weight-level checks


def _pretrained():
    return T.pretrained_model(PROFILE.nli.model, PROFILE.nli.seed)


def _write_freeze(art: Path, change=None) -> None:
    digests = T.state_digests(_pretrained())
    if change:
        change(digests)
    (art / "nli" / "freeze_digests.json").write_text(json.dumps(digests))
    _status(art, "nli.train_freeze")


def test_freeze_weights_pass_when_only_the_head_moved(art, hb):
    _write_freeze(art, lambda d: d["classifier.dense.weight"].update(sha256="0" * 64))
    nli_weights.test_freeze_training_leaves_the_encoder_bit_identical(_ctx(art, hb))


def test_freeze_weights_fail_when_an_encoder_tensor_moved(art, hb):
    name = "roberta.encoder.layer.1.output.dense.weight"
    _write_freeze(art, lambda d: d[name].update(sha256="0" * 64))
    err = _failure(nli_weights.test_freeze_training_leaves_the_encoder_bit_identical, art, hb)
    assert "1 encoder tensors changed" in err.en and name in err.en


def test_freeze_weights_fail_when_the_training_step_failed(art, hb):
    _write_freeze(art)
    _status(art, "nli.train_freeze", "timeout")
    assert "ran out of time" in _failure(nli_weights.test_freeze_training_leaves_the_encoder_bit_identical,
                                         art, hb).en


def _write_lora(art: Path, deltas: dict) -> None:
    """Merged weights = pretrained + deltas[name], fingerprinted and saved as the step does."""
    import torch
    from safetensors.torch import save_file

    model = _pretrained()
    merged, digests = {}, {}
    for name, param in model.named_parameters():
        value = param.detach().clone()
        if name in deltas:
            value = (value + torch.as_tensor(deltas[name], dtype=torch.float32)).contiguous()
        digests[name] = {"sha256": T.tensor_digest(value), "dtype": "float32", "shape": list(value.shape)}
        if T.is_target_weight(name):
            merged[name] = value
    (art / "nli" / "lora_digests.json").write_text(json.dumps({"info": {"merged": True}, "digests": digests}))
    save_file(merged, str(art / "nli" / "lora_targets.safetensors"))
    _status(art, "nli.train_lora")


def _low_rank(shape, rank, scale=1e-2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(shape[0], rank)) @ rng.normal(size=(rank, shape[1])) * scale).astype(np.float32)


def test_lora_weights_pass_with_rank_r_deltas_on_query_and_value(art, hb):
    shape = tuple(_pretrained().roberta.encoder.layer[0].attention.self.query.weight.shape)
    _write_lora(art, {"roberta.encoder.layer.0.attention.self.query.weight": _low_rank(shape, 8),
                      "roberta.encoder.layer.1.attention.self.value.weight": _low_rank(shape, 2, seed=1),
                      "classifier.out_proj.weight": np.ones((3, 32), dtype=np.float32)})
    nli_weights.test_lora_training_changes_only_query_value_by_low_rank(_ctx(art, hb))


def test_lora_weights_fail_on_a_full_rank_change(art, hb):
    shape = tuple(_pretrained().roberta.encoder.layer[0].attention.self.query.weight.shape)
    name = "roberta.encoder.layer.0.attention.self.query.weight"
    _write_lora(art, {name: np.random.default_rng(0).normal(0, 1e-3, shape).astype(np.float32)})
    err = _failure(nli_weights.test_lora_training_changes_only_query_value_by_low_rank, art, hb)
    assert f"merged {name} differs" in err.en and "rank 32 > r" in err.en


def test_lora_weights_fail_when_a_non_target_matrix_changed(art, hb):
    shape = tuple(_pretrained().roberta.encoder.layer[0].attention.self.key.weight.shape)
    _write_lora(art, {"roberta.encoder.layer.0.attention.self.key.weight": _low_rank(shape, 2)})
    err = _failure(nli_weights.test_lora_training_changes_only_query_value_by_low_rank, art, hb)
    assert "1 other pretrained tensors changed" in err.en and "attention.self.key.weight" in err.en


# --------------------------------------------------------------------------- accuracy and history


def _write_training(art: Path, mode: str, predictions, history=None) -> None:
    history = history if history is not None else [
        {"epoch": e, "train_loss": 1.0, "eval_loss": 1.0, "eval_accuracy": 0.5} for e in (1, 2)]
    (art / "nli").mkdir(exist_ok=True)
    (art / "nli" / f"train_{mode}.json").write_text(json.dumps({"mode": mode, "history": history}))
    np.savez(art / "nli" / f"predictions_{mode}.npz", labels=np.asarray(predictions, dtype=np.int64))
    _status(art, f"nli.train_{mode}")


def test_accuracy_thresholds_sit_between_chance_and_the_measured_reference():
    for name, row in _thresholds.NLI.items():
        assert set(row) == set(T.MODES), name
        n = get_profile(name).nli.n_eval
        chance_low = wilson_interval(n // 3, n)[0]
        for mode, value in row.items():
            assert value == 0.0 or value > chance_low, (name, mode)   # a one-label predictor fails
    # measured: solutions/nli.py graded on the cpu profile (make grade), held-back pairs right of 1,200
    reference = {"full": 690, "lora": 658, "freeze": 502}
    assert get_profile("cpu").nli.n_eval == 1200
    for mode, right in reference.items():
        bar = _thresholds.threshold("cpu", "nli", mode)
        assert wilson_interval(right, 1200)[0] > bar + 0.04, mode      # room for seed noise
        assert wilson_interval(400, 1200)[0] < bar - 0.03, mode        # a one-label predictor fails
    assert _thresholds.threshold("smoke", "nli", "full") == 0.0     # the tiny random model learns nothing


def test_a_single_label_predictor_fails_a_threshold_above_chance(art, hb, monkeypatch):
    monkeypatch.setitem(_thresholds.NLI, "smoke", {"full": 0.40, "freeze": 0.40, "lora": 0.40})
    labels = np.load(hb / T.HELDBACK_LABELS)
    _write_training(art, "full", np.zeros_like(labels))
    err = _failure(nli_accuracy.test_full_accuracy, art, hb)
    assert "Every prediction is the same label" in err.en and "entailment 48, neutral 0" in err.en
    _write_training(art, "lora", labels)
    nli_accuracy.test_lora_accuracy(_ctx(art, hb))


def test_an_empty_held_back_set_is_a_grader_error_not_a_pass(art, hb, tmp_path):
    """No evaluation pairs is no evidence: even at the smoke profile's 0.0 bar the check does not pass."""
    empty = tmp_path / "hb-empty"
    shutil.copytree(hb, empty)
    np.save(empty / T.HELDBACK_LABELS, np.zeros(0, dtype=np.int64))
    _write_training(art, "full", [])
    status, en, _ = _outcome(nli_accuracy.test_full_accuracy, art, empty)
    assert status == "error" and "held-back evaluation labels (nli/eval_labels.npy) are empty" in en


def test_predictions_of_the_wrong_length_or_ids_fail(art, hb):
    labels = np.load(hb / T.HELDBACK_LABELS)
    _write_training(art, "freeze", labels[:-1])
    assert "one id per pair" in _failure(nli_accuracy.test_freeze_accuracy, art, hb).en
    _write_training(art, "freeze", np.full_like(labels, 3))
    assert "label ids [3]" in _failure(nli_accuracy.test_freeze_accuracy, art, hb).en


@pytest.mark.parametrize("history, fragment", [
    ([{"epoch": 1, "train_loss": 1.0, "eval_loss": 1.0, "eval_accuracy": 0.5}], "1 records for epochs=2"),
    ([{"epoch": 1, "train_loss": math.nan, "eval_loss": 1.0, "eval_accuracy": 0.5},
      {"epoch": 2, "train_loss": 1.0, "eval_loss": 1.0, "eval_accuracy": 0.5}], "non-finite"),
    ([{"epoch": 1, "train_loss": 1.0, "eval_accuracy": 0.5},
      {"epoch": 2, "train_loss": 1.0, "eval_loss": 1.0, "eval_accuracy": 0.5}], "lacks eval_loss"),
])
def test_a_malformed_history_fails(art, hb, history, fragment):
    labels = np.load(hb / T.HELDBACK_LABELS)
    for mode in T.MODES:
        _write_training(art, mode, labels)
    nli_accuracy.test_train_returns_one_record_per_epoch(_ctx(art, hb))
    _write_training(art, "lora", labels, history)
    assert fragment in _failure(nli_accuracy.test_train_returns_one_record_per_epoch, art, hb).en


# --------------------------------------------------------------------------- the steps isolate calls


def test_params_step_records_each_failing_call_and_keeps_the_rest(tmp_path, smoke):
    from grader.run.steps import nli as steps

    module = _load(BASE, "nli_gallery_base_broken")
    original = module.prepare_model

    def prepare_model(model, mode, **kwargs):
        if mode == "full":
            raise RuntimeError("full is broken")
        return original(model, mode, **kwargs)

    def count_parameters(model):
        raise TypeError("cannot count")

    module.prepare_model, module.count_parameters = prepare_model, count_parameters
    (tmp_path / "in").symlink_to(smoke / "in")
    _run_step(steps.nli_params, "nli.params", module, tmp_path)
    data = json.loads((tmp_path / "art" / "nli" / "params.json").read_text())
    full = _state(data, "profile", "full")
    assert full["error"] == {"type": "RuntimeError", "message": "full is broken"}
    freeze = _state(data, "profile", "freeze")
    assert freeze["error"] is None and freeze["count_error"]["message"] == "cannot count"
    assert T.count_from_records(_state(data, "roberta-large-meta", "freeze")["params"]) == (1_052_675, 355_362_819)


# --------------------------------------------------------------------------- no evidence is a failure


def _outcome(check, art: Path, hb: Path) -> tuple[str, str, str]:
    """(status, message_en, message_fa) exactly as the check plugin records the check's result."""
    from grader.checks import plugin

    out = plugin._outcome_from(pytest.CallInfo.from_call(lambda: check(_ctx(art, hb)), "call"), "call")
    return out.status, out.message_en, out.message_fa


def test_lora_weights_fail_when_the_adapters_never_trained(art, hb):
    _write_lora(art, {})                                       # merged weights == pretrained: B stayed 0
    status, en, fa = _outcome(nli_weights.test_lora_training_changes_only_query_value_by_low_rank, art, hb)
    assert status == "failed" and "no pretrained weight changed at all" in en and "هیچ وزن پیش‌آموخته‌ای" in fa


def test_lora_weights_fail_when_only_the_head_trained(art, hb):
    _write_lora(art, {"classifier.out_proj.weight": np.ones((3, 32), dtype=np.float32)})
    status, en, _ = _outcome(nli_weights.test_lora_training_changes_only_query_value_by_low_rank, art, hb)
    assert status == "failed" and "the adapters never trained (B stayed 0)" in en


def test_freeze_weights_fail_without_an_encoder_to_compare(art, hb, monkeypatch):
    _write_freeze(art)
    head_only = {n: d for n, d in T.state_digests(_pretrained()).items() if n.startswith(T.HEAD_PREFIX)}
    monkeypatch.setattr(nli_weights, "_pretrained_digests", lambda ctx: head_only)
    status, en, _ = _outcome(nli_weights.test_freeze_training_leaves_the_encoder_bit_identical, art, hb)
    assert status == "failed" and "lists no encoder weight" in en


def test_zero_init_fails_on_empty_logits(art, hb):
    np.savez(art / "nli" / "lora_init.npz", base_logits=np.zeros((0, 3)), lora_logits=np.zeros((0, 3)))
    status, en, _ = _outcome(lora_init.test_lora_starts_at_the_pretrained_model, art, hb)
    assert status == "failed" and "holds no logits for the grader's probe pairs" in en


@pytest.mark.parametrize("case, check", [("short_default", nli_encode.test_pairs_are_encoded_as_sentence_pairs),
                                         ("long", nli_encode.test_long_pairs_are_truncated)])
def test_encode_checks_fail_on_no_rows(art, hb, case, check):
    _edit_encode(art, case, lambda c: c.update(n=0, input_ids=[], attention_mask=[]))
    status, en, _ = _outcome(check, art, hb)
    assert status == "failed" and "returned 0 rows for the grader's" in en


def test_truncation_fails_when_no_pair_needs_truncating(art, hb, tmp_path):
    held = tmp_path / "hb"
    shutil.copytree(hb, held)
    inputs = json.loads((held / T.HELDBACK_ENCODE).read_text())
    inputs["long_max_length"] = 10_000
    (held / T.HELDBACK_ENCODE).write_text(json.dumps(inputs))
    status, en, _ = _outcome(nli_encode.test_long_pairs_are_truncated, art, held)
    assert status == "failed" and "truncation was not exercised" in en


def test_predict_argmax_fails_without_a_clear_cut_pair(art, hb):
    path = art / "nli" / "predict_reference.npz"
    ref = dict(np.load(path))
    np.savez(path, **{**ref, "margin": np.zeros_like(ref["margin"])})
    status, en, _ = _outcome(nli_predict.test_predict_returns_the_models_argmax, art, hb)
    assert status == "failed" and "holds no clear-cut probe pair" in en
