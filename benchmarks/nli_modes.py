"""Training speed and peak memory of the three NLI modes on the cpu profile (a benchmark, not a test).

    .venv/bin/python -m benchmarks.nli_modes                 # 384 examples, 1 epoch (about a minute here)
    .venv/bin/python -m benchmarks.nli_modes --n-train 2400 --epochs 4 --padded 0

Each mode runs in a fresh process (so one mode's peak memory cannot hide
another's) through the same code path as ``grader experiments`` (grader/experiments/nli.py): the
reference ``prepare_model`` / ``train`` / ``predict`` with dynamic padding.
Examples/s counts training examples over the wall time of ``train`` (its
per-epoch evaluation included). Peak memory is the process's peak resident
set (CUDA's allocator peak on a GPU); "over base" subtracts what the process
held before the model was loaded (libraries and data).
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.homework import NLI_MODES  # noqa: E402 - after the repository is on sys.path


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pad_every_batch_to(length: int) -> None:
    """Make ``solutions.nli.train`` pad every batch to ``length`` tokens (what a fixed-length pipeline does).

    Every ``DataCollatorWithPadding`` made in this (throw-away) process pads to
    ``length`` instead of to its batch's longest pair; nothing else changes.
    (Replacing the name ``transformers.DataCollatorWithPadding`` is not enough:
    transformers' lazy module hands the original class to a later import.)
    """
    from transformers.data.data_collator import DataCollatorWithPadding

    made = DataCollatorWithPadding.__init__

    def padded(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.padding, self.max_length = "max_length", length

    DataCollatorWithPadding.__init__ = padded


def measure(profile_name: str, mode: str, n_train: int, n_eval: int, epochs: int, pad_to: int | None = None) -> dict:
    """One mode in this (fresh) process: the experiment's record plus the memory before loading the model.

    ``pad_to`` pads every batch to that many tokens instead of its own longest pair.
    """
    import torch  # counted in the baseline, as in every real run

    from grader.data.nli import load_nli_splits
    from grader.models import quiet_libraries
    from grader.experiments.nli import train_mode
    from grader.oracles.nli_metrics import nli_metrics
    from grader.profiles import get_profile
    from solutions import nli

    quiet_libraries()
    budget = {"n_train": n_train, "n_eval": n_eval, "epochs": epochs}
    if pad_to:
        _pad_every_batch_to(pad_to)
        budget["max_length"] = pad_to
    profile = get_profile(profile_name).replace(nli=budget)
    train_set, eval_set = load_nli_splits(profile.nli)
    try:
        base_mb = _rss_mb()
    except OSError:
        base_mb = float("nan")
    record, predicted = train_mode(nli, profile, mode, train_set, eval_set)
    record["accuracy"] = nli_metrics(list(eval_set["label"]), predicted)["accuracy"]
    keys = ("mode", "trainable_params", "total_params", "examples_per_s", "peak_memory_mb", "train_time_s",
            "accuracy", "n_train")
    return {**{k: record[k] for k in keys}, "base_mb": base_mb, "batch_size": profile.nli.batch_size,
            "max_length": profile.nli.max_length, "model": profile.nli.model,
            "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", help="profile whose model and batch size are used (default: cpu)")
    parser.add_argument("--n-train", type=int, default=384, help="training examples (default: %(default)s)")
    parser.add_argument("--n-eval", type=int, default=64, help="evaluation examples per epoch (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs (default: %(default)s)")
    parser.add_argument("--padded", type=int, default=128, metavar="LENGTH",
                        help="also time full fine-tuning with every batch padded to LENGTH tokens, the "
                             "fixed-length baseline dynamic padding is compared with; 0 skips it (default: %(default)s)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    results = {}
    for mode in NLI_MODES:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            results[mode] = pool.submit(measure, args.profile, mode, args.n_train, args.n_eval, args.epochs).result()
        r = results[mode]
        print(f"  {mode:6s} done: {r['examples_per_s']:.1f} ex/s, peak {r['peak_memory_mb']:.0f} MB", flush=True)

    if args.padded:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            padded = pool.submit(measure, args.profile, "full", args.n_train, args.n_eval, args.epochs,
                                 args.padded).result()
        print(f"  full, padded to {args.padded}: {padded['examples_per_s']:.1f} ex/s", flush=True)

    first = results["full"]
    print(f"\nNLI modes, {args.profile} profile: model {first['model']}, {first['n_train']} examples x {args.epochs} "
          f"epoch(s), batch {first['batch_size']}, max length {first['max_length']}, dynamic padding, "
          f"torch threads {first['threads']}\n")
    header = f"{'mode':6s}  {'trainable':>11s}  {'ex/s':>7s}  {'train s':>7s}  {'peak MB':>8s}  {'over base MB':>12s}"
    print(header)
    print("-" * len(header))
    for mode, r in results.items():
        print(f"{mode:6s}  {r['trainable_params']:>11,}  {r['examples_per_s']:>7.1f}  {r['train_time_s']:>7.1f}  "
              f"{r['peak_memory_mb']:>8.0f}  {r['peak_memory_mb'] - r['base_mb']:>12.0f}")
    print()
    for mode in ("lora", "freeze"):
        r = results[mode]
        print(f"{mode}/full: speed x{r['examples_per_s'] / first['examples_per_s']:.2f}, "
              f"peak memory x{r['peak_memory_mb'] / first['peak_memory_mb']:.2f}, "
              f"memory over base x{(r['peak_memory_mb'] - r['base_mb']) / (first['peak_memory_mb'] - first['base_mb']):.2f}")
    if args.padded:
        print(f"full with dynamic padding vs every batch padded to {args.padded} tokens: "
              f"{first['examples_per_s']:.1f} vs {padded['examples_per_s']:.1f} ex/s "
              f"(x{first['examples_per_s'] / padded['examples_per_s']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
