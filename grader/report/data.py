"""Reading what the report shows: results JSON, check results and ``student.toml``.

Every loader returns either the data or a :class:`Missing` that says, in both
languages, why a part is not available; the report prints the note and goes on
(a crashed task must not hide the other task's results). Only ``student.toml``
raises (:func:`grader.student_info.read_student`, here ``load_student``), because
a malformed one is the student's to fix before handing in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import MizanError
from grader.homework import NLI_MODES
from grader.results.gradescope import check_from_test, rubric_tasks
from grader.results.model import CheckResult
from grader.results.safe_io import read_json
from grader.student_info import STUDENT_FILE, Student  # noqa: F401 - re-exported for the report
from grader.student_info import read_student as load_student

MAX_EPOCHS = 1000
"""History cap for a results file that records no epochs (no profile trains more than 46)."""


class ReportError(MizanError):
    """The report cannot be made: no results to show, a bad checks file, a failed render."""


@dataclass(frozen=True)
class Missing:
    """Why a part of the report is not available: a catalogue key under ``na.`` and its values."""

    key: str
    values: dict = field(default_factory=dict)

    def __bool__(self) -> bool:   # `if piece:` reads as "is there data"
        return False


def load_json(path: Path, *, task: str | None = None) -> dict | Missing:
    """The JSON object in ``path``, or a :class:`Missing` naming what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        return Missing("missing_file", {"file": path.name, "dir": str(path.parent)})
    try:
        data = read_json(path)          # bounded size and nesting depth
    except (OSError, ValueError) as err:
        return Missing("bad_json", {"file": path.name, "detail": str(err)[:300]})
    if not isinstance(data, dict):
        return Missing("bad_json", {"file": path.name, "detail": f"top level is a {type(data).__name__}"})
    if task is not None and data.get("task") != task:
        return Missing("wrong_task", {"file": path.name, "expected": task, "found": data.get("task")})
    return data


def require(data: dict, file: str, *keys: str) -> Missing | None:
    """A Missing for the first key absent from ``data``, else None; "a.b" is b inside a
    (one level: keys such as "at_0.5" hold a dot themselves)."""
    for key in keys:
        node = data
        for part in key.split(".", 1):
            if not isinstance(node, dict) or part not in node or node[part] is None:
                return Missing("missing_key", {"file": file, "key": key})
            node = node[part]
    return None


def history_note(data: dict, file: str, section: str) -> Missing | None:
    """Cut ``data["history"]`` to the run's epochs in place; a note when it is, or was, longer.

    The summary already caps what it writes (and records ``history_malformed``); results made
    some other way are capped here, so no file can make the report plot millions of points.
    """
    from grader.summary import cap_history

    profile = data.get("profile")
    part = profile.get(section) if isinstance(profile, dict) else None
    epochs = part.get("epochs") if isinstance(part, dict) else None
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs <= 0:
        epochs = MAX_EPOCHS
    flag = data.get("history_malformed")
    if "history" in data:
        data["history"], capped = cap_history(data["history"], epochs)
        flag = capped or flag
    if not isinstance(flag, dict):
        return None
    return Missing("history_malformed", {"file": file, "found": flag.get("found"), "kept": flag.get("kept")})


@dataclass
class Results:
    """The four results files of docs/CONTRACTS.md, each data or Missing; ``notes``: per task
    ("nli", "fraud"), what the report must say about data it shows (a capped history)."""

    directory: Path
    nli: dict[str, dict | Missing]
    fraud: dict | Missing
    notes: dict[str, list[Missing]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | str) -> "Results":
        directory = Path(directory)
        nli, notes = {}, {"nli": [], "fraud": []}
        for mode in NLI_MODES:
            data = load_json(directory / f"nli_{mode}.json", task="nli")
            if data and data.get("mode") not in (None, mode):
                data = Missing("wrong_task", {"file": f"nli_{mode}.json", "expected": f"nli/{mode}",
                                              "found": f"nli/{data.get('mode')}"})
            if data:
                missing = require(data, f"nli_{mode}.json", "trainable_params", "total_params",
                                  "accuracy", "macro_f1", "confusion_matrix")
                data = missing if missing is not None else data
            note = history_note(data, f"nli_{mode}.json", "nli") if data else None
            if note is not None:
                notes["nli"].append(note)
            nli[mode] = data
        fraud = load_json(directory / "fraud.json", task="fraud")
        note = history_note(fraud, "fraud.json", "fraud") if fraud else None
        if note is not None:
            notes["fraud"].append(note)
        return cls(directory, nli, fraud, notes)

    @property
    def any(self) -> bool:
        return bool(self.fraud) or any(bool(v) for v in self.nli.values())

    def profile(self) -> dict:
        """The profile dict of the first available results file (they share one run)."""
        for piece in (*self.nli.values(), self.fraud):
            if piece and isinstance(piece.get("profile"), dict):
                return piece["profile"]
        return {}


_CHECK_DEFAULTS = {"name": "", "title_en": "", "title_fa": "", "points": 0.0, "earned": 0.0,
                   "visibility": "visible", "status": "failed"}
"""What a ``checks.json`` record written by hand or by an older Mizan may leave out."""


def _check_from_record(rec: dict) -> CheckResult:
    rec = {**_CHECK_DEFAULTS, **rec}
    return CheckResult.from_dict({**rec, "name": str(rec["name"]), "points": float(rec["points"]),
                                  "earned": float(rec["earned"])})


def load_checks(path: Path | str | None) -> tuple[list[CheckResult], Path | None]:
    """Checks from ``checks.json`` (CheckResult records, preferred) or a Gradescope ``results.json``
    (read back as :func:`grader.results.gradescope.checks_from_gradescope` does).

    ``path`` may be either file or a folder holding them. Returns ([], None) when none is found.
    """
    if path is None:
        return [], None
    path = Path(path)
    if path.is_dir():
        for name in ("checks.json", "results.json"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            return [], None
    if not path.is_file():
        return [], None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportError(f"{path} is not valid JSON ({err}); re-run the checks to rewrite it") from None
    records = data
    if isinstance(data, dict):
        records = data.get("checks", data.get("results", data.get("tests")))
    if not isinstance(records, list):
        raise ReportError(f"{path} holds no list of checks (expected a list, or 'checks' / 'tests')")
    checks = [check_from_test(rec) if "max_score" in rec else _check_from_record(rec)   # a Gradescope test
              for rec in records if isinstance(rec, dict)]
    return rubric_tasks(checks), path


def load_steps(artifacts_dir: Path) -> list[dict]:
    """Step status records ``artifacts/steps/<ID>.json`` (GRADING.md), in name order."""
    steps = []
    folder = Path(artifacts_dir) / "steps"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = load_json(path)
        if data:
            steps.append(data)
    return steps
