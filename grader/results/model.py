"""Results are data: one frozen record per check, scored in one pure function.

Follows Otter-Grader's ``TestCaseResult``: the check phase reports an outcome
(passed / failed / error with bilingual messages) and :func:`score_checks`
turns outcomes plus the rubric into :class:`CheckResult` records. Nothing else
decides points.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Mapping

STATUSES = ("passed", "failed", "error")

GRADER_ERROR_EN = ("The grader itself failed while running this check ({detail}). "
                   "This is not your fault; tell the course staff.")
GRADER_ERROR_FA = ("خود ارزیاب هنگام اجرای این بررسی خطا داد ({detail}). "
                   "این اشکال از شما نیست؛ به دستیاران آموزشی اطلاع دهید.")
NOT_RUN_DETAIL = "the check did not run"


@dataclass(frozen=True)
class CheckResult:
    """One check of the rubric, scored all-or-nothing."""

    name: str
    title_en: str
    title_fa: str
    points: float
    earned: float
    visibility: str
    status: str
    message_en: str = ""
    message_fa: str = ""
    task: str = ""
    duration_s: float = 0.0
    location: str = ""          # its pytest node id in the checks folder: lora_init.py::test_lora_a_is_random

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "CheckResult":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


@dataclass(frozen=True)
class Outcome:
    """What the check phase observed for one check id, before points are applied."""

    status: str                 # passed | failed | error
    message_en: str = ""
    message_fa: str = ""
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def score_checks(rubric: Iterable, outcomes: Mapping[str, Outcome], *, visible_only: bool = False,
                 locations: Mapping[str, str] | None = None) -> list[CheckResult]:
    """The one scoring function: rubric entries x outcomes -> results, all-or-nothing.

    Every rubric entry yields a result; one without an outcome (its module failed
    to import, the check phase crashed) scores 0 with a "grader failed" message,
    so a grader bug is visible instead of silently dropping points from the max.
    ``rubric`` holds :class:`grader.rubric.RubricEntry` objects (``id``, ``points``,
    ``visibility``, ``title_en``, ``title_fa``, ``task``); ``locations`` maps a check id to
    where its code is (the pytest node id).
    """
    locations = locations or {}
    results = []
    for entry in rubric:
        if visible_only and entry.visibility != "visible":
            continue
        out = outcomes.get(entry.id)
        if out is None:
            out = Outcome("error", GRADER_ERROR_EN.format(detail=NOT_RUN_DETAIL),
                          GRADER_ERROR_FA.format(detail=NOT_RUN_DETAIL))
        if out.status not in STATUSES:
            raise ValueError(f"check {entry.id}: unknown outcome status {out.status!r}; use one of {STATUSES}")
        earned = float(entry.points) if out.status == "passed" else 0.0
        results.append(CheckResult(
            name=entry.id, title_en=entry.title_en, title_fa=entry.title_fa,
            points=float(entry.points), earned=earned, visibility=entry.visibility,
            status=out.status, message_en=out.message_en, message_fa=out.message_fa,
            task=entry.task, duration_s=round(float(out.duration_s), 3), location=locations.get(entry.id, "")))
    return results


def totals(results: Iterable[CheckResult]) -> tuple[float, float]:
    """(earned, max) over ``results``."""
    results = list(results)
    return (round(sum(r.earned for r in results), 4), round(sum(r.points for r in results), 4))
