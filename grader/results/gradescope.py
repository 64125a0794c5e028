"""Gradescope ``results.json`` from scored checks, and atomic JSON writes.

Format: Gradescope's "Autograder Specifications", section *Output format*
(https://gradescope-autograders.readthedocs.io/en/latest/specs/); the schema
in ``gradescope_schema.json`` is written from it and a test validates every
file we produce against it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterable

from grader.results.model import CheckResult, totals

SCHEMA_PATH = Path(__file__).with_name("gradescope_schema.json")
# DESIGN's "hidden" means instructor-only; Gradescope's "hidden" is exactly that.
VISIBILITY = {"visible": "visible", "hidden": "hidden"}
PASSED_EN, PASSED_FA = "Passed.", "قبول شد."


def write_json_atomic(path: Path | str, data, *, indent: int | None = 1) -> Path:
    """Write JSON to a temp file beside ``path`` then ``os.replace``: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=indent)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def test_output(result: CheckResult) -> str:
    """English first, then Persian."""
    if result.status == "passed":
        en, fa = result.message_en or PASSED_EN, result.message_fa or PASSED_FA
    else:
        en, fa = result.message_en, result.message_fa
    return f"{en}\n\n{fa}".strip()


def gradescope_results(results: Iterable[CheckResult], *, execution_time: float, output: str = "",
                       extra_data: dict | None = None) -> dict:
    results = list(results)
    earned, _max = totals(results)
    doc = {
        "score": earned,
        "execution_time": round(float(execution_time), 2),
        "output_format": "text",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": f"{r.title_en} | {r.title_fa} [{r.name}]",
                "number": r.name,
                "score": r.earned,
                "max_score": r.points,
                "status": "passed" if r.status == "passed" else "failed",
                "output": test_output(r),
                "visibility": VISIBILITY[r.visibility],
                "tags": [r.task] if r.task else [],
            }
            for r in results
        ],
    }
    if output:
        doc["output"] = output
    if extra_data:
        doc["extra_data"] = extra_data
    return doc
