"""The experiments' inputs, made on the trusted side: the data sets (the profile travels with each
part, as for every step: :func:`grader.run.orchestrate.run_step`).

The data are loaded here, by Mizan's own loaders (generated sets, MNLI files,
``creditcard.csv``), so the sandbox needs neither the generators nor the data
paths nor the hub's cache: it gets plain JSON lines and one ``.npz``. The
experiments are the student's own study, so the evaluation labels travel too
(``train`` reports its per-epoch evaluation accuracy on them); the trusted side
keeps its own copy and computes every reported metric from the predictions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from grader.experiments import fraud as fraud_part
from grader.experiments import nli as nli_part
from grader.run.orchestrate import readable_by_steps


def _write_jsonl(path: Path, dataset) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for p, h, label in zip(dataset["premise"], dataset["hypothesis"], dataset["label"]):
            fh.write(json.dumps({"premise": p, "hypothesis": h, "label": int(label)}, ensure_ascii=False) + "\n")


def write_inputs(profile, tasks: tuple[str, ...], folder: Path) -> dict:
    """Write the inputs of ``tasks`` into ``folder`` (world-readable: the sandbox runs as another uid);
    return what the trusted side keeps: ``{"nli_labels": array}``, ``{"fraud_rows": n}``."""
    kept: dict = {}
    folder.mkdir(parents=True, exist_ok=True)
    if "nli" in tasks:
        from grader.data.nli import load_nli_splits

        train, evaluation = load_nli_splits(profile.nli)
        (folder / "nli").mkdir(exist_ok=True)
        _write_jsonl(folder / nli_part.INPUTS["train"], train)
        _write_jsonl(folder / nli_part.INPUTS["eval"], evaluation)
        kept["nli_labels"] = np.asarray(evaluation["label"], dtype=np.int64)
    if "fraud" in tasks:
        from grader.data.fraud import load_fraud_frame, split_xy

        X, y = split_xy(load_fraud_frame(profile.fraud))
        (folder / "fraud").mkdir(exist_ok=True)
        with open(folder / fraud_part.DATA_INPUT, "wb") as fh:
            np.savez(fh, X=X, y=y)
        kept["fraud_rows"] = int(len(y))
    readable_by_steps(folder)
    return kept
