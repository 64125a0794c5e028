"""Is this Python able to grade at all? Asked before any step runs.

A run the grader could not do (no torch in this interpreter, a Python too old
for the pinned packages) must never look like the student's fault, nor be
cached under the submission's hash: the commands stop first with one line
saying which command sets the environment up. Only the standard library is
used here, and only syntax an older Python parses, so the answer comes even
from the wrong interpreter.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
PYTHON = (3, 11)

# Packages a grading needs before anything runs; requirements.txt pins the rest, which are
# checked the same way. Names as pip spells them.
ESSENTIAL = ("numpy", "torch", "transformers", "datasets", "peft", "safetensors", "scikit-learn",
             "imbalanced-learn", "keras", "tensorflow-cpu", "pytest", "jinja2")

# Top-level modules of Mizan's own dependencies: a step that cannot import one of them failed
# because of the machine, not the submission (``grader.batch`` then caches nothing).
DEPENDENCY_MODULES = frozenset({"numpy", "torch", "transformers", "datasets", "peft", "accelerate", "safetensors",
                                "sklearn", "keras", "tensorflow", "pandas", "scipy", "tokenizers"})


class EnvironmentProblem(Exception):
    """This interpreter cannot run Mizan; the message is one line naming the command that fixes it."""


def in_student_bundle() -> bool:
    """True inside ``dist/student`` (``make dist`` leaves ``solutions/`` and ``grader/dist.py`` behind)."""
    return not (ROOT / "grader" / "dist.py").is_file()


def setup_command() -> str:
    """The command that creates ``.venv`` with the pinned packages, as this copy of Mizan spells it."""
    if in_student_bundle():
        return "`make setup` (or `make check`, which runs it first)"
    return "`make venv` (`make grade` and `make test` run it first)"


def pinned(requirements: Path = REQUIREMENTS) -> dict[str, str | None]:
    """``{pip name: pinned version or None}`` from requirements.txt."""
    found = {}
    try:
        lines = requirements.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {name: None for name in ESSENTIAL}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(?:==\s*([^\s;]+))?", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _same_version(want: str, have: str) -> bool:
    """PEP 440's equality for the pins we use: ``2.13.0+cpu`` is 2.13.0, ``2.012`` is 2.12."""
    def key(v):
        parts = v.split("+", 1)[0].split(".")
        return tuple(int(p) if p.isdigit() else p for p in parts)
    a, b = list(key(want)), list(key(have))
    while a and a[-1] == 0:
        a.pop()
    while b and b[-1] == 0:
        b.pop()
    return a == b


def problems(requirements: Path = REQUIREMENTS) -> tuple[list[str], list[str]]:
    """``(missing, different)``: pinned packages this interpreter lacks, and ``name want (have)``
    for those installed at another version."""
    missing, different = [], []
    for name, version in pinned(requirements).items():
        have = _installed(name)
        if have is None:
            missing.append(name)
        elif version and not _same_version(version, have):
            different.append(f"{name}=={version} (found {have})")
    return missing, different


def require(requirements: Path = REQUIREMENTS) -> list[str]:
    """Raise :class:`EnvironmentProblem` (one line) when this interpreter cannot grade; return warnings."""
    where = f"in {ROOT}"
    if sys.version_info[:2] < PYTHON:
        raise EnvironmentProblem(
            f"{sys.executable} is Python {sys.version_info[0]}.{sys.version_info[1]}; Mizan needs Python "
            f"{PYTHON[0]}.{PYTHON[1]}: run {setup_command()} {where} with PYTHON=python{PYTHON[0]}.{PYTHON[1]}, "
            f"then use .venv/bin/python")
    missing, different = problems(requirements)
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        raise EnvironmentProblem(
            f"{sys.executable} lacks Mizan's pinned packages ({shown}), so nothing was graded: run "
            f"{setup_command()} {where}, which creates .venv with them, then use .venv/bin/python "
            f"(or .venv/bin/pytest)")
    if different:
        return [f"this Python has other versions than requirements.txt pins ({', '.join(different[:4])}"
                f"{' ...' if len(different) > 4 else ''}); results may differ from the official grade"]
    return []


def missing_dependency(error_type: str | None, message: str | None) -> str | None:
    """The Mizan dependency a step's ``ModuleNotFoundError`` names, if it names one."""
    if error_type != "ModuleNotFoundError" or not message:
        return None
    match = re.search(r"No module named '([^']+)'", message)
    if not match:
        return None
    top = match.group(1).split(".")[0]
    return top if top in DEPENDENCY_MODULES else None
