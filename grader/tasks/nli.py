"""Task 1 on the trusted side: the inputs the NLI steps read, and what the checks share.

``prepare_inputs`` writes what the sandboxed steps may read (training and
development pairs with labels, evaluation pairs *without* labels, probe pairs
for encoding and LoRA-at-init) and, apart, what only the checks read (the
evaluation labels). Everything is deterministic per profile.

The rest are the small pure helpers both sides must agree on: how a
parameter name of a peft-wrapped model maps back to the pretrained model's
name, how a tensor is fingerprinted, the Wilson interval. The checks also
load the *pretrained* model here: that is grader code on grader data, never
the student's.

Heavy imports (torch, transformers, datasets) stay inside functions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Iterable

from grader.errors import DataError
from grader.profiles import Profile

TASK = "nli"
MODES = ("full", "freeze", "lora")
TARGET_MODULES = ("query", "value")
"""The modules DESIGN.md's ``prepare_model`` targets by default (Hu et al. 2021 §4.2: W_q and W_v)."""

PROFILE_LORA_PAIRS = ((8, 16), (16, 32), (2, 8))
"""(r, alpha) pairs ``nli.params`` passes to ``prepare_model`` on the profile's model.

Two different ranks catch an ignored ``r``; three scalings (2, 2, 4) catch an
ignored ``alpha`` and also ``alpha`` silently replaced by ``2 r``.
"""
META_LORA_PAIRS = ((8, 16), (32, 64))
"""(r, alpha) pairs on the meta-device RoBERTa-large: the LoRA paper's r=8 and the homework's r=32."""

ROBERTA_LARGE_TOTAL = 355_362_819
ROBERTA_LARGE_HEAD = 1_052_675
ROBERTA_LARGE_LORA_PER_RANK = 98_304
"""RoBERTa-large: 24 layers x (query + value) x r x (1024 + 1024) = 98,304 r LoRA weights."""

ENCODE_SHORT_N = 8
ENCODE_LONG_MAX_LENGTH = 16
PROBE_N = 6
PREDICT_N = 32
PREDICT_BATCH = 8
"""``nli.predict`` asks for 32 pairs in batches of 8, so batching and order are exercised."""
HEAD_PREFIX = "classifier."

INPUT_FILES = {
    "train": "nli/train.jsonl",
    "dev": "nli/dev.jsonl",
    "eval_inputs": "nli/eval_inputs.jsonl",
    "encode": "nli/encode_pairs.json",
    "probe": "nli/probe_pairs.json",
    "predict": "nli/predict_pairs.json",
    "meta": "nli/meta.json",
}
HELDBACK_LABELS = "nli/eval_labels.npy"
HELDBACK_ENCODE = "nli/encode_pairs.json"


# --------------------------------------------------------------------------- inputs


def dev_size(n_eval: int) -> int:
    """Size of the labelled development set ``train()`` evaluates on after every epoch.

    The held-back evaluation set never reaches the student's code with labels,
    so ``train(..., eval_set)`` gets these extra training-distribution pairs.
    """
    return int(min(max(n_eval // 4, 16), 256))


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path | str) -> list[dict]:
    """Rows of a JSON-lines file; a malformed line is a :class:`DataError` naming the line."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as err:
                raise DataError(f"{path}:{number}: not valid JSON ({err}); re-run prepare_inputs") from None
    return rows


def _pairs(dataset) -> list[dict]:
    return [{"premise": str(p), "hypothesis": str(h), "label": int(y)}
            for p, h, y in zip(dataset["premise"], dataset["hypothesis"], dataset["label"])]


def _long_pairs(rows: list[dict]) -> list[dict]:
    """Pairs far longer than ``ENCODE_LONG_MAX_LENGTH`` tokens, built by joining grader sentences.

    Three shapes so each truncation strategy is exercised: both sides long,
    a long premise with a short hypothesis, and the reverse.
    """
    premises = [r["premise"] for r in rows]
    hypotheses = [r["hypothesis"] for r in rows]
    long_p = " ".join(premises[:6])
    long_h = " ".join(hypotheses[:6])
    long_p2 = " ".join(premises[6:12]) or long_p
    return [
        {"premise": long_p, "hypothesis": long_h},
        {"premise": long_p2, "hypothesis": hypotheses[0]},
        {"premise": premises[1], "hypothesis": long_h},
    ]


def prepare_inputs(profile: Profile, inputs_dir: Path | str, heldback_dir: Path | str) -> None:
    """Write the NLI inputs of ``profile`` (see ``INPUT_FILES``) and the held-back labels.

    Training and development pairs come from one draw of ``n_train + n_dev``
    training examples (so the training budget is exactly ``n_train``); the
    evaluation pairs are written without labels, their labels go to
    ``heldback_dir/nli/eval_labels.npy``.
    """
    import dataclasses

    import numpy as np

    from grader.data.nli import load_nli_splits
    from grader.secret import held_back_seed

    inputs_dir, heldback_dir = Path(inputs_dir), Path(heldback_dir)
    cfg = profile.nli
    n_dev = dev_size(cfg.n_eval)
    # The draw's seed comes from the grading secret when one is set (grader.secret), so
    # no submission can regenerate the evaluation pairs and their labels.
    train_set, eval_set = load_nli_splits(dataclasses.replace(cfg, n_train=cfg.n_train + n_dev,
                                                              seed=held_back_seed(cfg.seed, "nli")))
    rows = _pairs(train_set)
    if len(rows) < cfg.n_train + n_dev:
        raise DataError(f"the NLI source gave {len(rows)} training pairs; the profile needs "
                        f"{cfg.n_train} + {n_dev} (development): lower nli.n_train")
    train_rows, dev_rows = rows[:cfg.n_train], rows[cfg.n_train:cfg.n_train + n_dev]
    eval_rows = _pairs(eval_set)
    _write_jsonl(inputs_dir / INPUT_FILES["train"], train_rows)
    _write_jsonl(inputs_dir / INPUT_FILES["dev"], dev_rows)
    _write_jsonl(inputs_dir / INPUT_FILES["eval_inputs"],
                 ({"premise": r["premise"], "hypothesis": r["hypothesis"]} for r in eval_rows))
    short = [{"premise": r["premise"], "hypothesis": r["hypothesis"]} for r in dev_rows[:ENCODE_SHORT_N]]
    encode = {"short": short, "long": _long_pairs(train_rows), "long_max_length": ENCODE_LONG_MAX_LENGTH,
              "profile_max_length": cfg.max_length}
    (inputs_dir / INPUT_FILES["encode"]).write_text(json.dumps(encode, ensure_ascii=False), encoding="utf-8")
    (heldback_dir / "nli").mkdir(parents=True, exist_ok=True)
    (heldback_dir / HELDBACK_ENCODE).write_text(json.dumps(encode, ensure_ascii=False), encoding="utf-8")
    probe = [{"premise": r["premise"], "hypothesis": r["hypothesis"]} for r in dev_rows[:PROBE_N]]
    (inputs_dir / INPUT_FILES["probe"]).write_text(json.dumps(probe, ensure_ascii=False), encoding="utf-8")
    predict = [{"premise": r["premise"], "hypothesis": r["hypothesis"]} for r in train_rows[:PREDICT_N]]
    (inputs_dir / INPUT_FILES["predict"]).write_text(json.dumps(predict, ensure_ascii=False), encoding="utf-8")
    meta = {"model": cfg.model, "source": cfg.source, "n_train": len(train_rows), "n_dev": len(dev_rows),
            "n_eval": len(eval_rows), "max_length": cfg.max_length, "seed": cfg.seed}
    (inputs_dir / INPUT_FILES["meta"]).write_text(json.dumps(meta), encoding="utf-8")
    labels = np.asarray([r["label"] for r in eval_rows], dtype=np.int64)
    np.save(heldback_dir / HELDBACK_LABELS, labels, allow_pickle=False)


# --------------------------------------------------------------------------- parameter names


_LORA_RE = re.compile(r"^(?P<module>.+)\.(?P<kind>lora_A|lora_B)\.(?P<adapter>[^.]+)\.weight$")
_HEAD_COPY_RE = re.compile(r"^classifier\.modules_to_save\.[^.]+\.(?P<rest>.+)$")
_HEAD_ORIG_RE = re.compile(r"^classifier\.original_module\.(?P<rest>.+)$")


def strip_peft_prefix(name: str) -> str:
    """``base_model.model.X`` (peft's ``PeftModel`` wrapper) -> ``X``."""
    return name[len("base_model.model."):] if name.startswith("base_model.model.") else name


def classify_param(name: str) -> tuple[str, str, str]:
    """(role, canonical name, module) of one ``named_parameters()`` name.

    role is ``lora_A`` / ``lora_B`` (canonical = the adapted module's path),
    ``head`` (canonical = the pretrained model's ``classifier.*`` name; peft's
    trainable copy ``classifier.modules_to_save.default.*`` or the plain head),
    ``head_original`` (peft's frozen copy ``classifier.original_module.*``) or
    ``base`` (canonical = the pretrained name: ``.base_layer`` removed).
    """
    name = strip_peft_prefix(name)
    match = _LORA_RE.match(name)
    if match:
        return match["kind"], match["module"], match["module"]
    match = _HEAD_COPY_RE.match(name)
    if match:
        return "head", HEAD_PREFIX + match["rest"], "classifier"
    match = _HEAD_ORIG_RE.match(name)
    if match:
        return "head_original", HEAD_PREFIX + match["rest"], "classifier"
    canonical = name.replace(".base_layer.", ".")
    if canonical.startswith(HEAD_PREFIX):
        return "head", canonical, "classifier"
    return "base", canonical, canonical.rsplit(".", 1)[0]


def is_target_weight(canonical: str, targets: Iterable[str] = TARGET_MODULES) -> bool:
    """Whether ``canonical`` is the weight matrix of a module whose last name is in ``targets``."""
    parts = canonical.split(".")
    return len(parts) >= 2 and parts[-1] == "weight" and parts[-2] in set(targets)


def numel(shape: Iterable[int]) -> int:
    return int(math.prod(int(s) for s in shape))


def count_from_records(records: list) -> tuple[int, int]:
    """(trainable, total) from ``[[name, shape, trainable], ...]``: peft's
    ``get_nb_trainable_parameters`` over ``named_parameters()``."""
    trainable = total = 0
    for _name, shape, flag in records:
        n = numel(shape)
        total += n
        if flag is True:
            trainable += n
    return trainable, total


def param_records(model) -> list[list]:
    """``[[name, shape, requires_grad], ...]`` in ``named_parameters()`` order (shared tensors once)."""
    return [[name, [int(s) for s in p.shape], bool(p.requires_grad)] for name, p in model.named_parameters()]


# --------------------------------------------------------------------------- fingerprints


def tensor_digest(tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and raw bytes: equal digests mean bit-identical tensors.

    Fingerprints instead of full tensors keep artifacts small (the MiniLM
    encoder is 91 MB, RoBERTa-large's 1.4 GB) at no loss: the question the
    check asks is "bit-identical or not".
    """
    import torch

    t = tensor.detach().to("cpu").contiguous()
    h = hashlib.sha256()
    h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def state_digests(model) -> dict[str, dict]:
    """``{name: {"sha256", "dtype", "shape"}}`` over ``named_parameters()`` (not buffers)."""
    return {name: {"sha256": tensor_digest(p), "dtype": str(p.dtype).replace("torch.", ""),
                   "shape": [int(s) for s in p.shape]}
            for name, p in model.named_parameters()}


# --------------------------------------------------------------------------- trusted models


def load_tokenizer(model_name: str):
    """The tokenizer of the profile's model, loaded by the grader (for the encoding oracle)."""
    from grader.models import load_nli_model, minilm_path, tiny_roberta_tokenizer

    if model_name == "tiny-roberta":
        return tiny_roberta_tokenizer()
    if model_name == "minilm":
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(minilm_path())
    return load_nli_model(model_name)[1]


@functools.lru_cache(maxsize=2)
def pretrained_model(model_name: str, seed: int = 0):
    """The profile's pretrained model as the steps receive it (``load_nli_model``, same seed)."""
    from grader.models import load_nli_model

    return load_nli_model(model_name, num_labels=3, seed=seed)[0]


def pretrained_records(model_name: str, seed: int = 0) -> list[list]:
    """Names and shapes of the profile's pretrained model (all trainable, as loaded)."""
    return param_records(pretrained_model(model_name, seed))


@functools.lru_cache(maxsize=1)
def roberta_large_records() -> list[list]:
    """Names and shapes of RoBERTa-large on the meta device (no weights)."""
    from grader.models import roberta_large_meta

    return param_records(roberta_large_meta())


# --------------------------------------------------------------------------- statistics


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927; Brown, Cai & DasGupta 2001 §4.1).

    Unlike the normal approximation it stays inside [0, 1] and keeps close to
    its nominal coverage for small ``n``, which matters for the smoke profile's
    48 evaluation pairs.
    """
    if n <= 0:
        raise ValueError("wilson_interval needs n > 0")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rows_as_columns(rows: list[dict], keys: tuple[str, ...] = ("premise", "hypothesis", "label")) -> dict[str, list]:
    return {key: [row[key] for row in rows] for key in keys if rows and key in rows[0]}


def to_dataset(rows: list[dict]) -> Any:
    """A ``datasets.Dataset`` with ``premise``, ``hypothesis``, ``label`` (int64) columns."""
    from datasets import Dataset

    return Dataset.from_dict(rows_as_columns(rows))
