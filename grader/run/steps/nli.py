"""Task 1 steps: call the student's ``submission/nli.py`` in the sandbox and record safe artifacts.

Each step is one sandboxed process (GRADING.md), split so that a crash loses
little: the cheap *visible* steps (``nli.params``, ``nli.lora_init``,
``nli.encode``, ``nli.predict``) feed the checks students run themselves; the three training
steps are hidden and each trains one mode.

Inside a step every student call that can fail on its own is isolated and its
error recorded next to the other results, so one broken mode does not hide
what the rest did. The steps record facts (names, shapes, flags, tensors,
predictions); every judgement is made by ``grader/checks``.

Artifacts (relative to the artifacts root):

- ``nli/params.json`` and ``nli/lora_scaling.npz`` (``nli.params``)
- ``nli/lora_init.safetensors`` and ``nli/lora_init.npz`` (``nli.lora_init``)
- ``nli/encode.json`` (``nli.encode``)
- ``nli/predict_reference.npz`` and ``nli/predict.npz`` (``nli.predict``)
- ``nli/train_<mode>.json`` and ``nli/predictions_<mode>.npz`` (``nli.train_<mode>``),
  plus ``nli/freeze_digests.json`` or ``nli/lora_digests.json`` and
  ``nli/lora_targets.safetensors`` for the weight-level checks.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from typing import Any

from grader.run.step_api import StepContext, step
from grader.run.steps import nli_contract as T


def _visible_timeout(profile) -> float:
    """A limit, not a duration: the visible steps take seconds of CPU, but a shared machine stretches them."""
    return max(300.0, 0.2 * profile.timeout_s)


def _train_timeout(profile) -> float:
    return max(400.0, profile.timeout_s / 3)


def _error(err: BaseException) -> dict:
    return {"type": type(err).__name__, "message": str(err)[:1000]}


def _base_model(ctx: StepContext):
    """(model, tokenizer): the profile's model as a student's code receives it, seeded by the profile."""
    from grader.models import load_nli_model, quiet_libraries

    quiet_libraries()
    warnings.filterwarnings("ignore", category=FutureWarning)
    return load_nli_model(ctx.profile.nli.model, num_labels=3, seed=ctx.profile.nli.seed)


def _lora_kwargs(r: int | None, alpha: int | None, dropout: float | None = None) -> dict:
    if r is None:
        return {}
    kwargs = {"r": r, "alpha": alpha}
    if dropout is not None:
        kwargs["dropout"] = dropout
    return kwargs


def _count(nli, model) -> dict:
    """The student's ``count_parameters(model)``, or what went wrong with it."""
    try:
        answer = nli.count_parameters(model)
    except Exception as err:  # noqa: BLE001 - the student's error is data here
        return {"count_error": _error(err)}
    try:
        trainable, total = answer
        return {"count": [int(trainable), int(total)]}
    except (TypeError, ValueError) as err:
        return {"count_error": {"type": "BadReturn",
                                "message": f"expected a (trainable, total) pair of ints, got "
                                           f"{type(answer).__name__} {str(answer)[:200]} ({err})"}}


def _adapted_module(model):
    """(name, module, A, B) of the first module carrying LoRA factors, or None."""
    for name, module in model.named_modules():
        a = b = None
        for pname, param in module.named_parameters(recurse=True):
            parts = pname.split(".")
            if len(parts) == 3 and parts[0] == "lora_A" and parts[2] == "weight":
                a = param
            elif len(parts) == 3 and parts[0] == "lora_B" and parts[2] == "weight":
                b = param
        if a is not None and b is not None:
            return name, module, a, b
    return None


def _measure_scaling(model, key: str, seed: int) -> tuple[dict, dict]:
    """Measure the LoRA update of one adapted layer: its output with B = 0 and with B set to a known value.

    ``h = W x + s B A x`` (Hu et al. 2021 §4.1, eq. 3 with s = alpha / r), so
    the difference of the two outputs divided by ``B A x`` is the scaling ``s``
    the student's adapter really applies, whatever its config claims.
    """
    import torch

    found = _adapted_module(model)
    if found is None:
        return {"measured": False}, {}
    name, module, a, b = found
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4, a.shape[1], generator=gen)
    b_value = torch.randn(tuple(b.shape), generator=gen) * 0.1
    module.eval()
    with torch.no_grad():
        b.zero_()
        y0 = module(x)
        b.copy_(b_value)
        y1 = module(x)
    scaling = getattr(module, "scaling", None)
    peft_scaling = None
    if isinstance(scaling, dict) and scaling:
        peft_scaling = float(next(iter(scaling.values())))
    elif isinstance(scaling, (int, float)):
        peft_scaling = float(scaling)
    arrays = {f"{key}__x": x, f"{key}__A": a.detach().clone(), f"{key}__B": b_value,
              f"{key}__delta": (y1 - y0).detach()}
    return {"measured": True, "module": T.strip_peft_prefix(name), "peft_scaling": peft_scaling}, arrays


def _prepare_state(nli, model, *, model_kind: str, mode: str, r=None, alpha=None, measure_key=None, seed=0):
    """Call ``prepare_model`` on ``model`` and record names, shapes, flags and the student's count."""
    state: dict[str, Any] = {"model": model_kind, "mode": mode, "r": r, "alpha": alpha, "error": None}
    arrays: dict = {}
    try:
        prepared = nli.prepare_model(model, mode, **_lora_kwargs(r, alpha))
    except Exception as err:  # noqa: BLE001
        state["error"] = _error(err)
        return state, arrays
    if prepared is None or not hasattr(prepared, "named_parameters"):
        state["error"] = {"type": "BadReturn",
                          "message": f"prepare_model returned {type(prepared).__name__}, not the model"}
        return state, arrays
    state["returned_type"] = type(prepared).__name__
    state["params"] = T.param_records(prepared)
    state.update(_count(nli, prepared))
    if measure_key is not None:
        try:
            state["scaling"], arrays = _measure_scaling(prepared, measure_key, seed)
        except Exception as err:  # noqa: BLE001 - a forward pass of the student's layer
            state["scaling"] = {"measured": False, "error": _error(err)}
    return state, arrays


@step("nli.params", task="nli", timeout_s=_visible_timeout, visible=True,
      calls=("nli.prepare_model", "nli.count_parameters"))
def nli_params(ctx: StepContext) -> None:
    """``prepare_model`` in every mode on the profile's model and on RoBERTa-large (meta device)."""
    from grader.models import roberta_large_meta

    nli = ctx.module("nli")
    nli.prepare_model  # noqa: B018 - reported up front; a missing count_parameters is recorded per model
    base, _tokenizer = _base_model(ctx)
    states, arrays = [], {}
    plan = [("full", None, None), ("freeze", None, None)] + [("lora", r, a) for r, a in T.PROFILE_LORA_PAIRS]
    for mode, r, alpha in plan:
        key = f"r{r}_a{alpha}" if mode == "lora" else None
        state, found = _prepare_state(nli, copy.deepcopy(base), model_kind="profile", mode=mode, r=r,
                                      alpha=alpha, measure_key=key, seed=ctx.seed)
        states.append(state)
        arrays.update(found)
    meta_plan = [("full", None, None), ("freeze", None, None)] + [("lora", r, a) for r, a in T.META_LORA_PAIRS]
    for mode, r, alpha in meta_plan:
        state, _ = _prepare_state(nli, roberta_large_meta(), model_kind="roberta-large-meta", mode=mode,
                                  r=r, alpha=alpha)
        states.append(state)
    try:
        nli.prepare_model(copy.deepcopy(base), "bogus")
        bogus = {"raised": None, "is_value_error": False}
    except Exception as err:  # noqa: BLE001
        bogus = {"raised": type(err).__name__, "is_value_error": isinstance(err, ValueError),
                 "message": str(err)[:300]}
    ctx.write_json("nli/params.json", {"profile_model": ctx.profile.nli.model, "model_seed": ctx.profile.nli.seed,
                                       "states": states, "bogus": bogus})
    ctx.write_npz("nli/lora_scaling.npz", **arrays)


def _probe_batch(ctx: StepContext, tokenizer):
    pairs = json.loads((ctx.inputs / T.INPUT_FILES["probe"]).read_text(encoding="utf-8"))
    return tokenizer([p["premise"] for p in pairs], [p["hypothesis"] for p in pairs], padding=True,
                     truncation=True, max_length=ctx.profile.nli.max_length, return_tensors="pt")


def _logits(model, batch):
    import torch

    model.eval()
    with torch.no_grad():
        out = model(**batch)
    return out.logits if hasattr(out, "logits") else out[0]


@step("nli.lora_init", task="nli", timeout_s=_visible_timeout, visible=True, calls=("nli.prepare_model",))
def nli_lora_init(ctx: StepContext) -> None:
    """Every LoRA factor right after ``prepare_model(mode="lora")``, and the model's output before and after."""
    nli = ctx.module("nli")
    cfg = ctx.profile.nli
    model, tokenizer = _base_model(ctx)
    batch = _probe_batch(ctx, tokenizer)
    base_logits = _logits(model, batch).clone()
    lora = nli.prepare_model(model, "lora", r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout)
    factors = {}
    for name, param in lora.named_parameters():
        role = T.classify_param(name)[0]
        if role in ("lora_A", "lora_B"):
            factors[name] = param.detach().clone()
    lora_logits = _logits(lora, batch)
    ctx.write_npz("nli/lora_init.npz", base_logits=base_logits, lora_logits=lora_logits,
                  r=cfg.lora_r, alpha=cfg.lora_alpha)
    ctx.write_safetensors("nli/lora_init.safetensors", factors)


def _as_rows(value, key: str) -> list[list[int]]:
    """A batch of token ids (lists, numpy or torch, padded or not) as a list of int lists."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().tolist()
    elif hasattr(value, "tolist"):
        value = value.tolist()
    rows = [list(row) for row in value]
    return [[int(v) for v in row] for row in rows]


@step("nli.encode", task="nli", timeout_s=_visible_timeout, visible=True, calls=("nli.encode_pairs",))
def nli_encode(ctx: StepContext) -> None:
    """``encode_pairs`` on short pairs (default and profile max_length) and on long pairs with a small max_length."""
    nli = ctx.module("nli")
    nli.encode_pairs  # noqa: B018
    pairs = json.loads((ctx.inputs / T.INPUT_FILES["encode"]).read_text(encoding="utf-8"))
    cases = [("short_default", pairs["short"], None),
             ("short_profile", pairs["short"], pairs["profile_max_length"]),
             ("long", pairs["long"], pairs["long_max_length"])]
    results = {}
    for name, rows, max_length in cases:
        tokenizer = T.load_tokenizer(ctx.profile.nli.model)
        kwargs = {} if max_length is None else {"max_length": max_length}
        record: dict[str, Any] = {"max_length": max_length, "n": len(rows)}
        try:
            out = nli.encode_pairs(tokenizer, [r["premise"] for r in rows], [r["hypothesis"] for r in rows],
                                   **kwargs)
            for key in ("input_ids", "attention_mask"):
                try:
                    record[key] = _as_rows(out[key], key)
                except (KeyError, TypeError, ValueError) as err:
                    record.setdefault("error", {"type": "BadReturn",
                                                "message": f"no usable {key!r} in what encode_pairs returned "
                                                           f"({type(out).__name__}): {str(err)[:200]}"})
        except Exception as err:  # noqa: BLE001
            record["error"] = _error(err)
        results[name] = record
    ctx.write_json("nli/encode.json", results)


def _output_layer(model):
    """The head's last Linear with 3 outputs (RoBERTa: ``classifier.out_proj``; BERT: ``classifier``)."""
    import torch

    last = None
    for module in model.classifier.modules():
        if isinstance(module, torch.nn.Linear) and module.out_features == 3:
            last = module
    if last is None:
        raise RuntimeError(f"{type(model).__name__}.classifier has no Linear layer with 3 outputs")
    return last


def _model_input_keys(encoded) -> tuple[str, ...]:
    """The encoding's model inputs: BERT-style models (MiniLM) read the pair's segment ids too,
    so leaving ``token_type_ids`` out would judge ``predict`` against a different model input."""
    return tuple(k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded)


@step("nli.predict", task="nli", timeout_s=_visible_timeout, visible=True,
      calls=("nli.encode_pairs", "nli.predict"))
def nli_predict(ctx: StepContext) -> None:
    """``predict`` on a grader-made model whose argmax labels are known and varied.

    The head's output layer is shifted by the mean logit over the probe pairs
    and scaled to unit spread, so the pretrained (or random) encoder's per-pair
    differences decide the label and all three labels occur; the reference labels are the argmax of
    that model's logits on the student's own ``encode_pairs`` (the grader's
    pair encoding if that fails), so only ``predict``'s own logic is judged.
    """
    import numpy as np
    import torch

    nli = ctx.module("nli")
    nli.predict  # noqa: B018
    model, tokenizer = _base_model(ctx)
    pairs = json.loads((ctx.inputs / T.INPUT_FILES["predict"]).read_text(encoding="utf-8"))
    premises, hypotheses = [p["premise"] for p in pairs], [p["hypothesis"] for p in pairs]
    source = "encode_pairs"
    try:
        encoded = nli.encode_pairs(tokenizer, premises, hypotheses, max_length=ctx.profile.nli.max_length)
        keys = _model_input_keys(encoded)
        rows = [{key: _as_rows(encoded[key], key)[i] for key in keys} for i in range(len(pairs))]
    except Exception:  # noqa: BLE001 - judged by the encode checks; fall back to the grader's encoding
        source = "tokenizer"
        encoded = tokenizer(premises, hypotheses, truncation=True, max_length=ctx.profile.nli.max_length)
        rows = [{key: encoded[key][i] for key in _model_input_keys(encoded)} for i in range(len(pairs))]
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(**tokenizer.pad(rows[i:i + T.PREDICT_BATCH], return_tensors="pt")).logits
                            for i in range(0, len(rows), T.PREDICT_BATCH)])
        centred = logits - logits.mean(0)
        gain = 1.0 / float(centred.std().clamp_min(1e-12))
        out = _output_layer(model)
        out.weight.mul_(gain)
        out.bias.sub_(logits.mean(0)).mul_(gain)
        logits = centred * gain
    top2 = logits.topk(2, dim=-1).values
    ctx.write_npz("nli/predict_reference.npz", labels=logits.argmax(-1), margin=(top2[:, 0] - top2[:, 1]),
                  scale=logits.std())
    ctx.write_json("nli/predict_reference.json", {"encoding": source, "n": len(pairs),
                                                  "batch_size": T.PREDICT_BATCH})
    predictions = nli.predict(model, tokenizer, premises, hypotheses, batch_size=T.PREDICT_BATCH)
    if hasattr(predictions, "detach"):
        predictions = predictions.detach().cpu().numpy()
    ctx.write_npz("nli/predict.npz", labels=np.asarray(predictions))


def _peak_memory_mb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024)


def _train_step(ctx: StepContext, mode: str) -> None:
    """Train one mode with the profile's budget, predict the held-back inputs, keep what the checks need."""
    import numpy as np

    nli = ctx.module("nli")
    nli.prepare_model, nli.train, nli.predict  # noqa: B018
    cfg = ctx.profile.nli
    model, tokenizer = _base_model(ctx)
    kwargs = _lora_kwargs(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout) if mode == "lora" else {}
    model = nli.prepare_model(model, mode, **kwargs)
    train_rows = T.read_jsonl(ctx.inputs / T.INPUT_FILES["train"])
    dev_rows = T.read_jsonl(ctx.inputs / T.INPUT_FILES["dev"])
    eval_rows = T.read_jsonl(ctx.inputs / T.INPUT_FILES["eval_inputs"])
    record: dict[str, Any] = {"mode": mode, "epochs": cfg.epochs, "batch_size": cfg.batch_size, "seed": ctx.seed,
                              "n_train": len(train_rows), "n_dev": len(dev_rows), "n_eval": len(eval_rows),
                              "params": T.param_records(model),
                              "r": cfg.lora_r if mode == "lora" else None,
                              "alpha": cfg.lora_alpha if mode == "lora" else None}
    rel = f"nli/train_{mode}.json"
    start = time.perf_counter()
    history = nli.train(model, tokenizer, T.to_dataset(train_rows), T.to_dataset(dev_rows),
                        epochs=cfg.epochs, batch_size=cfg.batch_size, seed=ctx.seed)
    record["train_s"] = round(time.perf_counter() - start, 3)
    record["examples_per_s"] = round(cfg.epochs * len(train_rows) / max(record["train_s"], 1e-9), 3)
    try:
        record["history"] = json.loads(json.dumps(history, default=lambda o: o.tolist() if hasattr(o, "tolist")
                                                   else str(o)))
    except (TypeError, ValueError) as err:
        record["history_error"] = _error(err)
    ctx.write_json(rel, record)

    start = time.perf_counter()
    predictions = nli.predict(model, tokenizer, [r["premise"] for r in eval_rows],
                              [r["hypothesis"] for r in eval_rows], batch_size=64)
    record["predict_s"] = round(time.perf_counter() - start, 3)
    if hasattr(predictions, "detach"):
        predictions = predictions.detach().cpu().numpy()
    try:
        labels = np.asarray(predictions)
        if labels.dtype.kind not in "iub":
            if labels.dtype.kind != "f" or not np.all(np.isfinite(labels)) or not np.all(labels == np.rint(labels)):
                raise ValueError(f"dtype {labels.dtype} does not hold integer label ids")
        ctx.write_npz(f"nli/predictions_{mode}.npz", labels=labels.astype(np.int64))
    except (TypeError, ValueError) as err:
        record["predictions_error"] = {"type": "BadReturn",
                                       "message": f"predict returned {type(predictions).__name__} that is not an "
                                                  f"array of label ids: {str(err)[:200]}"}
    record["peak_memory_mb"] = round(_peak_memory_mb(), 1)
    ctx.write_json(rel, record)

    if mode == "freeze":
        ctx.write_json("nli/freeze_digests.json", T.state_digests(model))
    elif mode == "lora":
        _record_lora_weights(ctx, model)


def _record_lora_weights(ctx: StepContext, model) -> None:
    """Merge the adapters into the base weights (peft's ``merge_and_unload``) and record the result.

    Fingerprints of every weight, plus the merged query/value matrices whose
    difference from the pretrained ones the check decomposes (SVD).
    """
    merged = model
    info: dict[str, Any] = {"merged": False}
    if hasattr(model, "merge_and_unload"):
        try:
            merged = model.merge_and_unload()
            info["merged"] = True
        except Exception as err:  # noqa: BLE001 - a broken adapter; record the unmerged state
            info["merge_error"] = _error(err)
    digests = T.state_digests(merged)
    targets = {}
    for name, param in merged.named_parameters():
        role, canonical, _module = T.classify_param(name)
        if role == "base" and T.is_target_weight(canonical):
            targets[canonical] = param.detach().float().clone()
    ctx.write_json("nli/lora_digests.json", {"info": info, "digests": digests})
    ctx.write_safetensors("nli/lora_targets.safetensors", targets)


TRAIN_CALLS = ("nli.prepare_model", "nli.train", "nli.predict")


@step("nli.train_freeze", task="nli", timeout_s=_train_timeout, calls=TRAIN_CALLS)
def nli_train_freeze(ctx: StepContext) -> None:
    _train_step(ctx, "freeze")


@step("nli.train_lora", task="nli", timeout_s=_train_timeout, calls=TRAIN_CALLS)
def nli_train_lora(ctx: StepContext) -> None:
    _train_step(ctx, "lora")


@step("nli.train_full", task="nli", timeout_s=_train_timeout, calls=TRAIN_CALLS)
def nli_train_full(ctx: StepContext) -> None:
    _train_step(ctx, "full")
