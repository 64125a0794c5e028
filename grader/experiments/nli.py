"""Task 1 experiment, one mode per sandboxed part: a submission's ``prepare_model``, ``train``, ``predict``.

Runs inside the sandbox (the experiments image, :mod:`grader.experiments.run`):
it loads the profile's model, lets the submission prepare it in ``full``,
``freeze`` or ``lora`` mode and train it with the profile's budget (the same
call as the graded training step: epochs, batch size and seed are the
grader's, the learning rate is the student's), then predicts the evaluation
pairs. It writes what only the run can know (parameter counts, history,
times, peak memory, the predicted labels); the trusted side computes the
metrics from the predictions and its own copy of the labels.

Artifacts: ``experiments/nli_<mode>.json`` and ``experiments/nli_<mode>.npz`` (``labels``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from pathlib import Path

from grader.experiments.progress import ProgressWriter, torch_epochs
from grader.run.step_api import StepContext, step
from grader.run.steps.nli_contract import MODES
INPUTS = {"train": "nli/train.jsonl", "eval": "nli/eval.jsonl"}
"""Input files (JSON lines of premise, hypothesis, label) relative to the inputs folder."""
CALLS = ("nli.prepare_model", "nli.train", "nli.predict")


def step_id(mode: str) -> str:
    return f"experiments.nli_{mode}"


def part_timeout(profile) -> float:
    """CPU seconds of one mode: the graded training step's budget."""
    return max(400.0, profile.timeout_s / 3)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) over ``named_parameters()``, as peft's ``get_nb_trainable_parameters``:
    the experiment's own count, not the submission's ``count_parameters``."""
    trainable = total = 0
    for _, param in model.named_parameters():
        total += param.numel()
        trainable += param.numel() if param.requires_grad else 0
    return int(trainable), int(total)


class PeakMemory:
    """Peak memory in MiB over a ``with`` block: CUDA's allocator peak on a GPU, otherwise the
    process's peak resident set (VmHWM), reset at entry through ``/proc/self/clear_refs`` where
    Linux allows it, so the model's loading is not counted as training."""

    def __init__(self) -> None:
        self.peak_mb = 0.0

    def __enter__(self) -> "PeakMemory":
        import torch

        self._cuda = torch.cuda.is_available()
        gc.collect()
        if self._cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        else:
            with contextlib.suppress(OSError):
                Path("/proc/self/clear_refs").write_text("5")
        return self

    def __exit__(self, *exc) -> None:
        import torch

        if self._cuda:
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
            return
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_mb = int(line.split()[1]) / 1024
                    return
        import resource

        self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_mode(nli, profile, mode: str, train_set, eval_set, say=lambda text: None) -> tuple[dict, object]:
    """Train and predict one mode with the submission module ``nli``; ``(record, predicted labels)``.

    ``train_set`` and ``eval_set`` are ``datasets.Dataset`` with premise, hypothesis and label.
    """
    import numpy as np
    import torch

    from grader.models import load_nli_model, quiet_libraries

    quiet_libraries()
    cfg = profile.nli
    model, tokenizer = load_nli_model(cfg.model, num_labels=3, seed=cfg.seed)
    torch.manual_seed(cfg.seed)  # LoRA's A matrices are drawn here
    kwargs = {"r": cfg.lora_r, "alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout} if mode == "lora" else {}
    model = nli.prepare_model(model, mode, **kwargs)
    trainable, total = count_parameters(model)
    say(f"{trainable:,} of {total:,} parameters trainable; training {len(train_set)} pairs for "
        f"{cfg.epochs} epoch(s)")
    with PeakMemory() as memory, torch_epochs(model, len(train_set), cfg.epochs, say):
        start = time.perf_counter()
        history = nli.train(model, tokenizer, train_set, eval_set, epochs=cfg.epochs, batch_size=cfg.batch_size,
                            seed=cfg.seed)
        train_s = time.perf_counter() - start
    history = json.loads(json.dumps(history, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    for row in history if isinstance(history, list) else ():
        if isinstance(row, dict):
            say(", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    start = time.perf_counter()
    predictions = nli.predict(model, tokenizer, list(eval_set["premise"]), list(eval_set["hypothesis"]),
                              batch_size=64)
    predict_s = time.perf_counter() - start
    if hasattr(predictions, "detach"):
        predictions = predictions.detach().cpu().numpy()
    labels = np.asarray(predictions)
    if labels.dtype.kind not in "iub" and not (labels.dtype.kind == "f" and np.all(labels == np.rint(labels))):
        raise TypeError(f"predict returned {labels.dtype} values, not label ids")
    record = {"mode": mode, "trainable_params": trainable, "total_params": total, "history": history,
              "train_time_s": train_s, "predict_s": predict_s,
              "examples_per_s": len(train_set) * cfg.epochs / max(train_s, 1e-9),
              "peak_memory_mb": memory.peak_mb, "n_train": len(train_set), "n_eval": len(eval_set)}
    return record, labels.astype(np.int64)


def _part(ctx: StepContext, mode: str) -> None:
    from grader.run.steps import nli_contract as T

    nli = ctx.module("nli")
    nli.prepare_model, nli.train, nli.predict  # noqa: B018 - a missing function is reported before training
    profile = ctx.profile    # the effective profile (a course's values), handed over as JSON by run_step
    say = ProgressWriter(ctx.out, f"nli {mode}")
    train_set = T.to_dataset(T.read_jsonl(ctx.inputs / INPUTS["train"]))
    eval_set = T.to_dataset(T.read_jsonl(ctx.inputs / INPUTS["eval"]))
    record, labels = train_mode(nli, profile, mode, train_set, eval_set, say)
    ctx.write_npz(f"experiments/nli_{mode}.npz", labels=labels)
    ctx.write_json(f"experiments/nli_{mode}.json", record)
    say(f"done: {record['train_time_s']:.1f} s of training")


@step(step_id("full"), task="experiments", timeout_s=part_timeout, calls=CALLS)
def nli_full(ctx: StepContext) -> None:
    _part(ctx, "full")


@step(step_id("freeze"), task="experiments", timeout_s=part_timeout, calls=CALLS)
def nli_freeze(ctx: StepContext) -> None:
    _part(ctx, "freeze")


@step(step_id("lora"), task="experiments", timeout_s=part_timeout, calls=CALLS)
def nli_lora(ctx: StepContext) -> None:
    _part(ctx, "lora")
