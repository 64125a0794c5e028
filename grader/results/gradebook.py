"""``gradebook.csv`` over every graded submission, rewritten atomically after each one."""

from __future__ import annotations

import csv
import fcntl
import io
import json
from pathlib import Path

from grader.atomic import write_text_atomic

META = "grade.json"       # written by grader.batch next to results.json
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """``value`` safe to open in a spreadsheet (OWASP's rule against CSV injection).

    Names come from the student's ``student.toml``: a text cell starting with = + - @, tab or CR
    would be run as a formula (``=HYPERLINK(...)``), so it gets a leading single quote. Numbers
    are left as they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _rows(grades_root: Path) -> tuple[list[dict], list[str]]:
    rows, check_ids = [], []
    for meta_path in sorted(grades_root.glob(f"*/{META}")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        row = {"id": meta.get("id", meta_path.parent.name), "name": meta.get("name", ""),
               "student_id": meta.get("student_id", ""), "score": meta.get("score", 0.0),
               "max_score": meta.get("max_score", 0.0), "profile": meta.get("profile", ""),
               "graded_at": meta.get("graded_at", "")}
        for name, earned in meta.get("checks", {}).items():
            row[name] = earned
            if name not in check_ids:
                check_ids.append(name)
        rows.append(row)
    return rows, check_ids


def write_gradebook(grades_root: Path | str) -> Path:
    """Rewrite ``grades_root/gradebook.csv`` from every ``*/grade.json`` (under a lock, atomically)."""
    grades_root = Path(grades_root)
    grades_root.mkdir(parents=True, exist_ok=True)
    out = grades_root / "gradebook.csv"
    with open(grades_root / ".gradebook.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows, check_ids = _rows(grades_root)
        buf = io.StringIO()
        fields = ["id", "name", "student_id", "score", "max_score", "profile", "graded_at", *check_ids]
        writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: csv_cell(value) for key, value in row.items()})
        write_text_atomic(out, buf.getvalue(), newline="")    # csv writes its own \r\n line ends
    return out
