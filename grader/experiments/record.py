"""Record the reference's measured results as the one source of the numbers the statements quote.

``python -m grader.experiments.record [FOLDER]`` reads the results JSON that ``make experiments``
wrote for the reference (default ``build/experiments/reference/cpu``) and rewrites
``assignment/reference_results.json`` (docs/CONTRACTS.md, "Recorded reference results"); then
``MIZAN_UPDATE_GOLDENS=1 pytest tests/test_dist.py`` regenerates the statements' and README's
blocks from it. Nothing here is typed by hand: every number comes from a measured file.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path

from grader.atomic import write_text_atomic
from grader.errors import MizanError
from grader.homework import NLI_MODES
from grader.results.safe_io import read_json

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "assignment" / "reference_results.json"
RECORD_ORDER = tuple(sorted(NLI_MODES, key=("full", "lora", "freeze").index))
"""The order ``reference_results.json`` lists the modes in, most trainable parameters first: the statements
quote them in this order (``grader.dist.reference_markdown`` reads the keys as they come), a display order only."""
ARMS = ("no_resampling", "correct", "leaky")
CHANCE = round(1 / 3, 3)


def _load(folder: Path, name: str) -> dict:
    path = folder / name
    if not path.is_file():
        raise MizanError(f"{path} was not found: run `make experiments` on the reference first "
                         f"(it writes {folder})")
    return read_json(path)


def _arm(block: dict | None, test_set: dict | None) -> dict | None:
    if not block:
        return None
    share = (test_set["synthetic_rows"] / test_set["rows"]) if test_set and test_set.get("rows") else None
    return {"pr_auc": round(block["pr_auc"], 3), "precision_at_05": round(block["at_0.5"]["precision"], 3),
            "recall_at_05": round(block["at_0.5"]["recall"], 3), "base_rate": round(block["base_rate"], 4),
            "test_synthetic_share": None if share is None else round(share, 3)}


def record(folder: Path, *, recorded: str | None = None) -> dict:
    """The recorded-results document for the experiments in ``folder`` (one profile's run)."""
    runs = {mode: _load(folder, f"nli_{mode}.json") for mode in RECORD_ORDER}
    fraud = _load(folder, "fraud.json")
    profiles = {run["profile"]["name"] for run in (*runs.values(), fraud)}
    if len(profiles) != 1:
        raise MizanError(f"{folder} mixes profiles {sorted(profiles)}: record one run of one profile")
    profile = profiles.pop()
    n_eval = {run["n_eval"] for run in runs.values()}
    if len(n_eval) != 1:
        raise MizanError(f"{folder}: the three modes were evaluated on different sets ({sorted(n_eval)})")
    test_sets = fraud.get("test_sets") or {"leaky": fraud.get("leaky_test")}
    return {
        "about": "Results of the reference solution (solutions/) measured by `make experiments`: the one recorded "
                 "source of the numbers the statements and README.md quote (grader/dist.py generates them; "
                 "tests/test_dist.py keeps them in sync). Format: docs/CONTRACTS.md, 'Recorded reference results'.",
        "profile": profile,
        "recorded": recorded or _dt.date.today().isoformat(),
        "source": f"python -m grader.experiments.record {folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder}",
        "nli": {
            "command": f"make experiments PROFILE={profile} TASKS=nli",
            "n_eval": n_eval.pop(),
            "chance": CHANCE,
            "modes": {mode: {"accuracy": round(run["accuracy"], 3), "macro_f1": round(run["macro_f1"], 3),
                             "trainable_params": int(run["trainable_params"])}
                      for mode, run in runs.items()},
        },
        "fraud": {
            "command": f"make experiments PROFILE={profile} TASKS=fraud",
            "protocols": {arm: _arm(fraud.get(arm), test_sets.get(arm)) for arm in ARMS},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.experiments.record", description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", default=None,
                        help="the reference's experiments folder (default: <build>/experiments/reference/cpu)")
    args = parser.parse_args(argv)
    from grader.experiments.cli import experiments_dir

    folder = Path(args.folder) if args.folder else experiments_dir("reference", "cpu")
    try:
        doc = record(folder.resolve())
    except MizanError as err:
        print(f"mizan: {err}", file=sys.stderr)
        return 2
    write_text_atomic(TARGET, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"mizan: wrote {TARGET}; now run MIZAN_UPDATE_GOLDENS=1 pytest tests/test_dist.py to regenerate the "
          f"statements' blocks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
