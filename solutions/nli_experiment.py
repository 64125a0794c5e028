"""Task 1 experiment: the reference solution in full, freeze and LoRA modes on one profile.

    python -m solutions.nli --profile cpu --mode all
    python -m solutions.nli --profile paper --config lora-paper --mode lora --model /data/roberta-large
    accelerate launch -m solutions.nli --profile paper --mode all     # several GPUs, same code

For each mode it loads a fresh model (same seed, so the same head), applies
``solutions.nli.prepare_model``, trains with ``solutions.nli.train``, predicts
the evaluation set and writes ``nli_<mode>.json`` (docs/CONTRACTS.md) into
``--out`` (default ``build/results/<profile>/``), then prints a comparison
table. Under ``torchrun`` every rank trains; only rank 0 writes and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

from grader.errors import MizanError, ProfileError
from grader.profiles import LORA_PAPER_NLI, NLI_SOURCES, PROFILES, NLIConfig, Profile, get_profile

MODES = ("full", "freeze", "lora")
CONFIGS = {
    "homework": "the profile as written (paper: the original homework, 1,000 examples, 5 epochs, "
                "validation_mismatched, LoRA r=32/alpha=64)",
    "lora-paper": "paper profile only: Hu et al. 2021 Table 9 MNLI setting (r=8, alpha=16, lr 3e-4, "
                  "warm-up 6 %%, max length 128, 10 epochs, full MNLI)",
}


def resolve_profile(profile_name: str, config: str = "homework", model: str | None = None,
                    source: str | None = None, data: str | None = None) -> Profile:
    """The profile to run: ``profile_name`` with the ``config``'s NLI budget and, if given, another model
    and another NLI data source (``--source glue-tsv --data /path/to/MNLI``, as the loaders' errors suggest)."""
    profile = get_profile(profile_name)
    if config not in CONFIGS:
        raise ProfileError(f"unknown config {config!r}: choose one of {', '.join(CONFIGS)}")
    if config == "lora-paper":
        if profile.name != "paper":
            raise ProfileError("--config lora-paper is the LoRA paper's full-MNLI budget: use it with --profile paper")
        profile = dataclasses.replace(profile, nli=LORA_PAPER_NLI)
    if model is not None:
        profile = profile.replace(nli={"model": model})  # NLIConfig names a missing folder
    if source is not None or data is not None:
        profile = profile.replace(nli={k: v for k, v in (("source", source), ("data_path", data)) if v is not None})
    return profile


def learning_rate_for(cfg: NLIConfig, mode: str) -> float | None:
    """The profile's step size for ``full`` and ``lora``; ``None`` (the solution's
    head-only default) for ``freeze``, which needs a larger step than full fine-tuning."""
    return {"full": cfg.learning_rate, "lora": cfg.lora_learning_rate}.get(mode)


def is_main_process() -> bool:
    """Rank 0 (or a plain single-process run): the one that writes and prints."""
    return int(os.environ.get("RANK", "0")) == 0


class PeakMemory:
    """Peak memory in MiB over a ``with`` block: CUDA's allocator peak on a GPU,
    otherwise the process's peak resident set size (VmHWM), reset at entry
    through ``/proc/self/clear_refs`` where Linux allows it so each mode of one
    run is measured on its own; elsewhere ``getrusage``'s lifetime peak."""

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
            _release_freed_memory()
            with contextlib.suppress(OSError):
                Path("/proc/self/clear_refs").write_text("5")
        return self

    def __exit__(self, *exc) -> None:
        import torch

        if self._cuda:
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self.peak_mb = _peak_rss_mb()


def _release_freed_memory() -> None:
    """Hand memory the previous mode freed back to the OS (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _peak_rss_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB on Linux


def run_mode(profile: Profile, mode: str, train_set, eval_set) -> dict:
    """Train and evaluate one mode; the ``nli_<mode>.json`` record."""
    import torch

    from grader.models import load_nli_model
    from grader.oracles.nli_metrics import nli_metrics
    from solutions import nli

    cfg = profile.nli
    model, tokenizer = load_nli_model(cfg.model, num_labels=3, seed=cfg.seed)
    torch.manual_seed(cfg.seed)  # LoRA's A matrices are drawn here
    model = nli.prepare_model(model, mode, r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout)
    trainable, total = nli.count_parameters(model)
    with PeakMemory() as memory:
        start = time.perf_counter()
        history = nli.train(model, tokenizer, train_set, eval_set, epochs=cfg.epochs, batch_size=cfg.batch_size,
                            seed=cfg.seed, learning_rate=learning_rate_for(cfg, mode),
                            warmup_ratio=cfg.warmup_ratio, max_length=cfg.max_length)
        train_time = time.perf_counter() - start
    predictions = nli.predict(model, tokenizer, list(eval_set["premise"]), list(eval_set["hypothesis"]),
                              max_length=cfg.max_length)
    record = {
        "task": "nli", "mode": mode, "profile": profile.to_dict(), "model": cfg.model,
        "trainable_params": trainable, "total_params": total,
        "trainable_percent": 100.0 * trainable / total,
    }
    record.update(nli_metrics(list(eval_set["label"]), predictions))
    record.update({
        "history": history,
        "train_time_s": train_time,
        "examples_per_s": len(train_set) * cfg.epochs / train_time,
        "peak_memory_mb": memory.peak_mb,
        "n_train": len(train_set), "n_eval": len(eval_set),
    })
    del model
    return record


def write_result(record: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"nli_{record['mode']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def format_table(records: list[dict]) -> str:
    """The comparison of the modes, one row each, as plain text."""
    header = ("mode", "trainable", "total", "trainable %", "accuracy", "macro-F1", "train s", "ex/s", "peak MB")
    rows = [header]
    for r in records:
        rows.append((r["mode"], f"{r['trainable_params']:,}", f"{r['total_params']:,}",
                     f"{r['trainable_percent']:.3f}", f"{r['accuracy']:.3f}", f"{r['macro_f1']:.3f}",
                     f"{r['train_time_s']:.1f}", f"{r['examples_per_s']:.1f}", f"{r['peak_memory_mb']:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m solutions.nli",
        description="Fine-tune the reference NLI solution in full, freeze and LoRA modes and compare them.",
    )
    parser.add_argument("--profile", default="cpu", choices=sorted(PROFILES),
                        help="model, data and budget (default: %(default)s)")
    parser.add_argument("--mode", default="all", choices=(*MODES, "all"), help="mode(s) to run (default: %(default)s)")
    parser.add_argument("--config", default="homework", choices=tuple(CONFIGS),
                        help="; ".join(f"{k}: {v}" for k, v in CONFIGS.items()))
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for nli_<mode>.json (default: build/results/<profile>/, "
                             "build/results/paper-lora-paper/ for --config lora-paper)")
    parser.add_argument("--model", default=None,
                        help="a local model folder (save_pretrained / hf download) instead of the profile's model")
    parser.add_argument("--source", default=None, choices=NLI_SOURCES,
                        help="NLI data source instead of the profile's (glue-tsv and multinli-jsonl need --data)")
    parser.add_argument("--data", default=None,
                        help="folder or file of the local NLI data for --source glue-tsv / multinli-jsonl")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    main_process = is_main_process()
    try:
        from grader.data.nli import load_nli_splits
        from grader.models import quiet_libraries

        profile = resolve_profile(args.profile, args.config, args.model, args.source, args.data)
        out_dir = args.out or Path("build/results") / (
            profile.name if args.config == "homework" else f"{profile.name}-{args.config}")
        quiet_libraries()
        train_set, eval_set = load_nli_splits(profile.nli)
        modes = MODES if args.mode == "all" else (args.mode,)
        records = []
        for mode in modes:
            record = run_mode(profile, mode, train_set, eval_set)
            records.append(record)
            if main_process:
                path = write_result(record, out_dir)
                print(f"{mode}: accuracy {record['accuracy']:.3f}, macro-F1 {record['macro_f1']:.3f}, "
                      f"{record['train_time_s']:.1f} s -> {path}", flush=True)
    except MizanError as err:
        print(f"solutions.nli: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("solutions.nli: interrupted; modes already finished are written.", file=sys.stderr)
        return 130
    if main_process:
        print(f"\n{profile.name} profile, model {profile.nli.model}, {len(train_set)} train / "
              f"{len(eval_set)} eval examples, {profile.nli.epochs} epochs, batch {profile.nli.batch_size}\n")
        print(format_table(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
