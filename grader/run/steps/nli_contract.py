"""What the NLI steps and the NLI checks must agree on: file names, parameter names, fingerprints.

This module is part of the step runner's image (``grader.run.image``): the
sandboxed steps import it, and so does the trusted side (through
``grader.tasks.nli``), so both name a peft-wrapped parameter, fingerprint a
tensor and read an input file the same way. It holds no data generator, no
oracle and no held-back path.

Heavy imports (torch, transformers, datasets) stay inside functions.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Iterable

from grader.errors import DataError
from grader.homework import NLI_MODES as MODES  # noqa: F401 - tasks.nli, experiments.nli import it

TASK = "nli"
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


# --------------------------------------------------------------------------- the profile's tokenizer


def load_tokenizer(model_name: str):
    """The tokenizer of the profile's model, loaded by the grader (for the encoding oracle)."""
    from grader.models import load_nli_model, minilm_path, tiny_roberta_tokenizer

    if model_name == "tiny-roberta":
        return tiny_roberta_tokenizer()
    if model_name == "minilm":
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(minilm_path())
    return load_nli_model(model_name)[1]


def rows_as_columns(rows: list[dict], keys: tuple[str, ...] = ("premise", "hypothesis", "label")) -> dict[str, list]:
    return {key: [row[key] for row in rows] for key in keys if rows and key in rows[0]}


def to_dataset(rows: list[dict]) -> Any:
    """A ``datasets.Dataset`` with ``premise``, ``hypothesis``, ``label`` (int64) columns."""
    from datasets import Dataset

    return Dataset.from_dict(rows_as_columns(rows))
