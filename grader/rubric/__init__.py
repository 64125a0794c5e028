"""The rubric: points, visibility and bilingual titles of every check.

One TOML file per task (``nli.toml``, ``fraud.toml``), one table per check id::

    ["nli.freeze_trainable"]
    points = 2
    visibility = "visible"          # visible | hidden
    title_en = "Freeze mode trains only the classification head"
    title_fa = "..."

The file's stem is the check's task (what ``--tasks`` selects). Every value is
validated with an error that names the file and the id it came from, the way
pytest-timeout's ``_validate_timeout(value, where)`` does.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.errors import MizanError

RUBRIC_DIR = Path(__file__).resolve().parent
VISIBILITIES = ("visible", "hidden")
_KEYS = {"points", "visibility", "title_en", "title_fa"}


class RubricError(MizanError, ValueError):
    """A rubric file is malformed, or the rubric and the checks disagree."""


@dataclass(frozen=True)
class RubricEntry:
    id: str
    points: float
    visibility: str
    title_en: str
    title_fa: str
    task: str
    source: str          # "grader/rubric/nli.toml": where the entry came from, for messages


def _validate_points(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise RubricError(f"{where}: points must be a positive number, got {value!r}")
    return float(value)


def _validate_entry(check_id: str, table, task: str, source: str) -> RubricEntry:
    where = f"{source} [{check_id!r}]"
    if not isinstance(table, dict):
        raise RubricError(f"{where}: expected a table with points, visibility, title_en, title_fa; "
                          f"got {type(table).__name__} (quote dotted ids: [\"nli.x\"])")
    missing = sorted(_KEYS - set(table))
    if missing:
        hint = (" (a dotted id must be quoted: [\"nli.x\"], not [nli.x])"
                if table and all(isinstance(v, dict) for v in table.values()) else "")
        raise RubricError(f"{where}: missing {', '.join(missing)}{hint}")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise RubricError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    points = _validate_points(table["points"], where)
    if table["visibility"] not in VISIBILITIES:
        raise RubricError(f"{where}: visibility must be 'visible' or 'hidden', got {table['visibility']!r}")
    for key in ("title_en", "title_fa"):
        if not isinstance(table[key], str) or not table[key].strip():
            raise RubricError(f"{where}: {key} must be a non-empty string")
    return RubricEntry(check_id, points, table["visibility"], table["title_en"], table["title_fa"], task, source)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(RUBRIC_DIR.parent.parent))
    except ValueError:
        return str(path)


def load_rubric(directory: Path | str | None = None, tasks: list[str] | tuple[str, ...] | None = None
                ) -> list[RubricEntry]:
    """All entries of ``directory/*.toml`` (default: this package), in file then table order."""
    directory = Path(directory) if directory is not None else RUBRIC_DIR
    entries: list[RubricEntry] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        task = path.stem
        if tasks and task not in tasks:
            continue
        source = _display(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise RubricError(f"{source}: not valid TOML ({err})") from None
        for check_id, table in data.items():
            if check_id in seen:
                raise RubricError(f"{source} [{check_id!r}]: id already defined in {seen[check_id]}")
            seen[check_id] = source
            entries.append(_validate_entry(check_id, table, task, source))
    return entries


def apply_overrides(entries: list[RubricEntry], overrides: dict[str, dict]) -> list[RubricEntry]:
    """The rubric a course grades with: its ``[rubric."<id>"]`` points and visibility, and without the
    checks it switched off (``enabled = false``). Validated by grader.config, which names the line."""
    out = []
    for entry in entries:
        change = overrides.get(entry.id, {})
        if change.get("enabled", True) is False:
            continue
        if "points" in change or "visibility" in change:
            entry = dataclasses.replace(entry, points=float(change.get("points", entry.points)),
                                        visibility=change.get("visibility", entry.visibility),
                                        source=f"{entry.source} + course configuration")
        out.append(entry)
    return out
