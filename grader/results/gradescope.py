"""Gradescope ``results.json`` from scored checks, and back.

Format: Gradescope's "Autograder Specifications", section *Output format*
(https://gradescope-autograders.readthedocs.io/en/latest/specs/); the schema
in ``gradescope_schema.json`` is written from it and a test validates every
file we produce against it. :func:`checks_from_gradescope` reads a file back
into the :class:`CheckResult` records it was written from, so the report shows
a Gradescope-only grade exactly as it shows ``checks.json``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Iterable

from grader.atomic import write_json_atomic  # noqa: F401 - re-exported: batch, slurm, experiments import it
from grader.homework import TASKS
from grader.results.model import STATUSES, CheckResult, totals

SCHEMA_PATH = Path(__file__).with_name("gradescope_schema.json")
# DESIGN's "hidden" means instructor-only; Gradescope's "hidden" is exactly that.
VISIBILITY = {"visible": "visible", "hidden": "hidden"}
PASSED_EN, PASSED_FA = "Passed.", "قبول شد."
_NAMED_TEST = re.compile(r"^(.*) \| (.*) \[([\w.\-]+)\]$", re.S)
"""A test's ``name`` as :func:`gradescope_results` writes it: "title_en | title_fa [id]"."""


def test_output(result: CheckResult) -> str:
    """English first, then Persian."""
    if result.status == "passed":
        en, fa = result.message_en or PASSED_EN, result.message_fa or PASSED_FA
    else:
        en, fa = result.message_en, result.message_fa
    return f"{en}\n\n{fa}".strip()


def _test_extra(result: CheckResult) -> dict:
    """What a Gradescope test has no field for: an ``error`` status (Gradescope knows only passed and
    failed) and where the check's code is (its pytest node id)."""
    extra = {"status": result.status} if result.status not in ("passed", "failed") else {}
    if result.location:
        extra["location"] = result.location
    return extra


def gradescope_results(results: Iterable[CheckResult], *, execution_time: float, output: str = "",
                       extra_data: dict | None = None) -> dict:
    """The ``results.json`` Gradescope reads: one test per check, its task in ``tags``."""
    results = list(results)
    earned, _max = totals(results)
    tests = []
    for r in results:
        test = {
            "name": f"{r.title_en} | {r.title_fa} [{r.name}]",
            "number": r.name,
            "score": r.earned,
            "max_score": r.points,
            "status": "passed" if r.status == "passed" else "failed",
            "output": test_output(r),
            "visibility": VISIBILITY[r.visibility],
            "tags": [r.task] if r.task else [],
        }
        extra = _test_extra(r)
        if extra:
            test["extra_data"] = extra
        tests.append(test)
    doc = {
        "score": earned,
        "execution_time": round(float(execution_time), 2),
        "output_format": "text",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if output:
        doc["output"] = output
    if extra_data:
        doc["extra_data"] = extra_data
    return doc


def _has_arabic(line: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in line)


def _split_output(output: str) -> tuple[str, str]:
    """A test's ``output`` back into the English message and the Persian one (:func:`test_output`):
    the Persian begins at the first line with an Arabic-script letter."""
    lines = (output or "").splitlines()
    for i, line in enumerate(lines):
        if _has_arabic(line):
            return "\n".join(lines[:i]).strip(), "\n".join(lines[i:]).strip()
    return "\n".join(lines).strip(), ""


def rubric_tasks(results: Iterable[CheckResult]) -> list[CheckResult]:
    """``results`` with each empty task taken from the rubric's entry for the id (files written before
    a record carried its task); an id the rubric does not know keeps ``""``."""
    results = list(results)
    if all(r.task for r in results):
        return results
    from grader.rubric import load_rubric

    task_of = {e.id: e.task for e in load_rubric()}
    return [r if r.task else dataclasses.replace(r, task=task_of.get(r.name, "")) for r in results]


def check_from_test(test: dict) -> CheckResult:
    """One Gradescope test entry back into the :class:`CheckResult` it was written from.

    Everything :func:`gradescope_results` writes travels back except ``duration_s`` (0.0) and the
    whitespace around a message; the split of ``output`` into English and Persian assumes the English
    message has no Arabic-script letter and the Persian one does on its first line. A test written by
    an older Mizan or by hand comes back as well as its fields allow: no ``[id]`` in the name means the
    name is the English title, and the id is ``number``.
    """
    extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
    score, max_score = float(test.get("score") or 0), float(test.get("max_score") or 0)
    status = extra.get("status") if extra.get("status") in STATUSES else None
    status = status or test.get("status") or ("passed" if score >= max_score else "failed")
    name = title_en = str(test.get("name", ""))
    title_fa = ""
    named = _NAMED_TEST.match(name)
    if named:
        title_en, title_fa, name = named.groups()
    elif test.get("number"):
        name = str(test["number"])
    en, fa = _split_output(test.get("output", ""))
    if status == "passed":      # the boilerplate test_output adds says nothing the status does not
        en, fa = ("" if en == PASSED_EN else en), ("" if fa == PASSED_FA else fa)
    tags = test.get("tags") if isinstance(test.get("tags"), list) else []
    task = next((t for t in tags if t in TASKS), "")
    return CheckResult(name=name, title_en=title_en, title_fa=title_fa, points=max_score, earned=score,
                       visibility=test.get("visibility", "visible"), status=status, message_en=en, message_fa=fa,
                       task=task, location=str(extra.get("location") or ""))


def checks_from_gradescope(data: dict) -> list[CheckResult]:
    """The reverse of :func:`gradescope_results`: the check records of a ``results.json`` document
    (entries of ``tests`` that are not objects are skipped; tasks missing from an old file come from
    the rubric)."""
    tests = data.get("tests") if isinstance(data, dict) else None
    return rubric_tasks(check_from_test(t) for t in (tests or []) if isinstance(t, dict))
