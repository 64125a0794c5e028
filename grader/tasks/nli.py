"""Task 1 on the trusted side: the inputs the NLI steps read, and what the checks share.

``prepare_inputs`` writes what the sandboxed steps may read (training and
development pairs with labels, evaluation pairs *without* labels, probe pairs
for encoding and LoRA-at-init) and, apart, what only the checks read (the
evaluation labels). Everything is deterministic per profile.

What both sides must agree on (file names, how a peft parameter name maps
back to the pretrained one, tensor fingerprints) lives in
``grader.run.steps.nli_contract``, the part of the step runner's image the
sandbox sees, and is re-exported here for the checks. The checks also load
the *pretrained* model here: that is grader code on grader data, never the
student's.

Heavy imports (torch, transformers, datasets) stay inside functions.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Iterable

from grader.errors import DataError
from grader.profiles import Profile
from grader.run.steps.nli_contract import (  # noqa: F401 - re-exported: the checks' vocabulary
    ENCODE_LONG_MAX_LENGTH, ENCODE_SHORT_N, HEAD_PREFIX, INPUT_FILES, META_LORA_PAIRS, MODES, PREDICT_BATCH,
    PREDICT_N, PROBE_N, PROFILE_LORA_PAIRS, ROBERTA_LARGE_HEAD, ROBERTA_LARGE_LORA_PER_RANK, ROBERTA_LARGE_TOTAL,
    TARGET_MODULES, TASK, classify_param, count_from_records, is_target_weight, load_tokenizer, numel,
    param_records, read_jsonl, rows_as_columns, state_digests, strip_peft_prefix, tensor_digest, to_dataset)

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


# --------------------------------------------------------------------------- trusted models


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

