"""The instructor's per-submission feedback: ``feedback.html`` then ``feedback.pdf``.

Called by the grader (``grader/batch.py``) after ``results.json`` is written: the
score table, each failed check's message in both languages, the status of every
run step, and the figures drawn from the trusted ``summary/`` results JSON. The
HTML is written before the PDF is attempted, so a failed PDF render (a missing
system library, a WeasyPrint bug) never leaves the instructor with nothing, and
it never touches the grade (which is already on disk).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from grader.report.data import ReportError, Results, load_checks, load_steps
from grader.report.render import FigureSet, _profile_summary, checks_view, dates, fraud_view, guarded, \
    langs_for, nli_view, render_html, write_pdf


def feedback_context(grade_dir: Path | str, *, today: _dt.date | None = None) -> dict:
    """Everything ``templates/feedback.html.j2`` needs; figures go to ``grade_dir/figures``, drawn
    once with English labels (the instructor's page; captions stay bilingual), which keeps a batch's
    feedback at half the drawing time of a student's bilingual report."""
    grade_dir = Path(grade_dir)
    checks, source = load_checks(grade_dir)
    results = Results.load(grade_dir / "summary")
    figs = FigureSet(grade_dir / "figures", grade_dir)
    langs = langs_for("both")
    today = today or _dt.date.today()
    empty = {"available": False, "missing": []}
    return {
        "langs": langs, "submission": grade_dir.name, "dates": {L.code: dates(today, L) for L in langs},
        "checks": checks_view(checks, source), "steps": load_steps(grade_dir / "artifacts"),
        "has_log": (grade_dir / "run.log").is_file(), "profile": _profile_summary(results),
        "nli": guarded(nli_view, results, figs, "nli_<mode>.json") if any(results.nli.values()) else empty,
        "fraud": guarded(fraud_view, results, figs, "fraud.json") if results.fraud else empty,
        "n_figures": figs.count, "figure_paths": figs.paths,
    }


def build_feedback(grade_dir: Path | str, *, today: _dt.date | None = None) -> tuple[Path, Path]:
    """Write ``feedback.html`` then ``feedback.pdf`` in ``grade_dir``; returns both paths.

    A PDF failure raises :class:`ReportError` naming the cause, after the HTML is on disk.
    """
    grade_dir = Path(grade_dir)
    if not grade_dir.is_dir():
        raise ReportError(f"{grade_dir} is not a graded submission folder (run `make grade` first)")
    html_path, pdf_path = grade_dir / "feedback.html", grade_dir / "feedback.pdf"
    html = render_html("feedback.html.j2", feedback_context(grade_dir, today=today))
    html_path.write_text(html, encoding="utf-8")
    try:
        write_pdf(html, grade_dir, pdf_path)
    except Exception as err:  # noqa: BLE001 - WeasyPrint/Pango errors share no base class
        raise ReportError(f"feedback.pdf for {grade_dir.name} could not be rendered ({type(err).__name__}: "
                          f"{err}); feedback.html was written and the grade is unaffected") from err
    return html_path, pdf_path


# The grader's hook (grader/batch.py imports this name): it logs whatever this raises.
write_feedback = build_feedback
