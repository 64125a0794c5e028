"""Real MultiNLI (Williams et al. 2018) from the hub, GLUE's ``MNLI/`` TSV folder or MultiNLI 1.0 JSON lines.

Every NLI set Mizan hands a step, generated or real, is a ``datasets.Dataset``
with exactly the columns ``premise``, ``hypothesis`` and ``label``; labels
follow GLUE's MNLI ids (0 entailment, 1 neutral, 2 contradiction). That
format is defined here, beside the files it comes from.

Only the standard library is imported at module level (``datasets`` inside
the functions), so ``grader.cli`` can import this without torch.
"""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

from grader.errors import DataError
from grader.homework import NLI_LABELS

ENTAILMENT, NEUTRAL, CONTRADICTION = 0, 1, 2
LABEL_IDS = {name: i for i, name in enumerate(NLI_LABELS)}
COLUMNS = ("premise", "hypothesis", "label")


def empty_rows() -> dict[str, list]:
    """One empty list per column: what every reader and the generator fill."""
    return {c: [] for c in COLUMNS}


def features():
    """The ``datasets.Features`` of every NLI set: two strings and an int64 GLUE label id."""
    import datasets

    return datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                              "label": datasets.Value("int64")})


# --------------------------------------------------------------------------- where the files are

MNLI_SPLITS = ("train", "validation_matched", "validation_mismatched")
MNLI_HUB = ("nyu-mll/glue", "mnli")
GLUE_TSV_FILES = {"train": "train.tsv", "validation_matched": "dev_matched.tsv",
                  "validation_mismatched": "dev_mismatched.tsv"}
MULTINLI_FILES = {"train": "multinli_1.0_train.jsonl", "validation_matched": "multinli_1.0_dev_matched.jsonl",
                  "validation_mismatched": "multinli_1.0_dev_mismatched.jsonl"}
_SPLIT_ALIASES = {"dev_matched": "validation_matched", "dev_mismatched": "validation_mismatched",
                  "validation": "validation_matched", "dev": "validation_matched"}
MNLI_SOURCES = ("hub", "glue-tsv", "multinli-jsonl")
_UNLABELLED = "-"  # MultiNLI: no annotator majority (Williams et al. 2018 §2.2); GLUE drops these pairs


def _check_split(split: str) -> str:
    split = _SPLIT_ALIASES.get(split, split)
    if split not in MNLI_SPLITS:
        raise DataError(f"unknown MNLI split {split!r}: choose one of {', '.join(MNLI_SPLITS)}")
    return split


def _label_id(value, where: str) -> int | None:
    """GLUE id of a text label; None for MultiNLI's "-" (no gold label)."""
    text = str(value).strip()
    if text == _UNLABELLED:
        return None
    if text not in LABEL_IDS:
        raise DataError(f"{where}: unknown label {text!r}; expected one of {', '.join(NLI_LABELS)} or '-'")
    return LABEL_IDS[text]


def _locate(path, split: str, files: dict[str, str], source: str, subfolders: tuple[str, ...]) -> Path:
    """The file of ``split`` inside the folder ``path`` (or ``path`` itself when it is a file)."""
    if path is None:
        raise DataError(f"source {source!r} needs a path: the folder holding {', '.join(files.values())}; "
                        f"set nli.source = \"{source}\" and nli.data_path = \"/path/to/folder\" in the course "
                        f"configuration (mizan.toml), or for one run: python -m grader grade --set "
                        f"nli.source={source} --set nli.data_path=/path/to/folder")
    path = Path(os.path.expanduser(str(path)))
    if path.is_file():
        return path
    if not path.is_dir():
        raise DataError(f"{path} does not exist: source {source!r} expects a folder holding "
                        f"{', '.join(files.values())}")
    for folder in (path, *(path / sub for sub in subfolders)):
        candidate = folder / files[split]
        if candidate.is_file():
            return candidate
    raise DataError(f"{path} has no {files[split]} (split {split!r}); source {source!r} expects "
                    f"{', '.join(files.values())} in that folder")


def _read_glue_tsv(file: Path) -> dict[str, list]:
    """GLUE's MNLI TSV: tab-separated, a header row, quotes are literal text (hence QUOTE_NONE)."""
    rows = empty_rows()
    csv.field_size_limit(1 << 24)
    with open(file, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{file} is empty: expected a GLUE MNLI TSV with a header row")
        missing = [c for c in ("sentence1", "sentence2", "gold_label") if c not in header]
        if missing:
            raise DataError(f"{file} lacks column(s) {', '.join(missing)}; found {', '.join(header)}. "
                            f"Is it GLUE's MNLI TSV (test files carry no gold_label)?")
        i1, i2, il = header.index("sentence1"), header.index("sentence2"), header.index("gold_label")
        for line_no, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) <= max(i1, i2, il):
                raise DataError(f"{file}, line {line_no}: {len(fields)} fields, the header names {len(header)}")
            label = _label_id(fields[il], f"{file}, line {line_no}")
            if label is None:
                continue
            rows["premise"].append(fields[i1])
            rows["hypothesis"].append(fields[i2])
            rows["label"].append(label)
    return rows


def _read_multinli_jsonl(file: Path) -> dict[str, list]:
    """MultiNLI 1.0 JSON lines with keys sentence1, sentence2, gold_label."""
    rows = empty_rows()
    with open(file, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{file}, line {line_no}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{file}, line {line_no}: expected a JSON object, got {type(record).__name__}")
            missing = [k for k in ("sentence1", "sentence2", "gold_label") if k not in record]
            if missing:
                raise DataError(f"{file}, line {line_no}: missing key(s) {', '.join(missing)}; "
                                f"MultiNLI 1.0 lines carry sentence1, sentence2 and gold_label")
            label = _label_id(record["gold_label"], f"{file}, line {line_no}")
            if label is None:
                continue
            rows["premise"].append(str(record["sentence1"]))
            rows["hypothesis"].append(str(record["sentence2"]))
            rows["label"].append(label)
    return rows


def _read_hub(split: str) -> dict[str, list]:
    """GLUE MNLI from the hub: columns premise, hypothesis, label (-1 where unlabelled), idx."""
    import datasets

    try:
        ds = datasets.load_dataset(*MNLI_HUB, split=split)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"could not load {'/'.join(MNLI_HUB)} split {split!r} from the hub ({reason[:200]}). "
            f"Offline, use a local copy: set nli.source = \"glue-tsv\" and nli.data_path = \"/path/to/MNLI\" (GLUE's "
            f"train.tsv, dev_matched.tsv, dev_mismatched.tsv) or nli.source = \"multinli-jsonl\" and "
            f"nli.data_path = \"/path/to/multinli_1.0\" in the course configuration (mizan.toml), or for one run: "
            f"python -m grader grade --set nli.source=glue-tsv --set nli.data_path=/path/to/MNLI"
        ) from None
    missing = [c for c in ("premise", "hypothesis", "label") if c not in ds.column_names]
    if missing:
        raise DataError(f"hub dataset {'/'.join(MNLI_HUB)} ({split}) lacks column(s) {', '.join(missing)}; "
                        f"found {', '.join(ds.column_names)}")
    rows = empty_rows()
    for premise, hypothesis, label in zip(ds["premise"], ds["hypothesis"], ds["label"]):
        label = int(label)
        if label == -1:
            continue
        if label not in (ENTAILMENT, NEUTRAL, CONTRADICTION):
            raise DataError(f"hub dataset {'/'.join(MNLI_HUB)} ({split}): unknown label id {label}")
        rows["premise"].append(premise)
        rows["hypothesis"].append(hypothesis)
        rows["label"].append(label)
    return rows


def _subset(rows: dict[str, list], n: int | None, seed: int, where: str) -> dict[str, list]:
    """A seeded random subset of ``n`` rows, kept in file order; all rows when ``n`` is None."""
    total = len(rows["label"])
    if n is None:
        return rows
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataError(f"n must be a positive integer or None, got {n!r}")
    if n > total:
        raise DataError(f"{where} holds {total} labelled pairs, fewer than the {n} asked for: "
                        f"lower n_train / n_eval or use a bigger split")
    keep = sorted(random.Random(seed).sample(range(total), n))
    return {k: [v[i] for i in keep] for k, v in rows.items()}


def load_mnli(source: str, split: str, *, path=None, n: int | None = None, seed: int = 0) -> "datasets.Dataset":  # noqa: F821
    """MultiNLI pairs with GLUE labels from the hub, a GLUE ``MNLI/`` folder or a MultiNLI 1.0 folder.

    Pairs without a gold label ("-" in the files, -1 on the hub) are dropped,
    as GLUE does. ``n`` takes a seeded random subset (file order kept).
    """
    import datasets

    split = _check_split(split)
    if source == "hub":
        rows, where = _read_hub(split), f"hub {'/'.join(MNLI_HUB)} {split}"
    elif source == "glue-tsv":
        file = _locate(path, split, GLUE_TSV_FILES, source, ("MNLI",))
        rows, where = _read_glue_tsv(file), str(file)
    elif source == "multinli-jsonl":
        file = _locate(path, split, MULTINLI_FILES, source, ("multinli_1.0",))
        rows, where = _read_multinli_jsonl(file), str(file)
    else:
        raise DataError(f"unknown MNLI source {source!r}: choose one of {', '.join(MNLI_SOURCES)}")
    if not rows["label"]:
        raise DataError(f"{where} holds no labelled pairs")
    return datasets.Dataset.from_dict(_subset(rows, n, seed, where), features=features())
