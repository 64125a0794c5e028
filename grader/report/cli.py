"""``make report`` / ``python -m grader report``: a submission's bilingual report.pdf.

The report shows results, it does not compute them: it reuses the newest
grading of this submission whose content hash still matches (``make grade`` in
``build/grades/<id>/`` or ``make check`` in ``build/check/<id>/``), and only when
there is none runs the visible checks first, the way ``make check`` does. The
submission's own experiments (``make experiments`` into
``build/experiments/<id>/<profile>/``) are preferred when present, since those are
the numbers its report should show (for the reference, also the older
``build/results/<profile>/``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from grader.errors import MizanError
from grader.paths import build_dir, default_submission

RESULT_FILES = ("nli_full.json", "nli_freeze.json", "nli_lora.json", "fraud.json")


def _has_results(folder: Path) -> bool:
    return any((folder / name).is_file() for name in RESULT_FILES)


def find_graded(sub: Path, profile, roots: list[Path]) -> Path | None:
    """The newest ``<root>/<id>/`` graded from exactly these files on ``profile`` (by content hash, which
    covers a course configuration's values too)."""
    from grader import batch
    from grader.profiles import get_profile

    profile = get_profile(profile) if isinstance(profile, str) else profile
    sid = batch.submission_id(sub)
    best, best_time = None, ""
    for root in roots:
        out = root / sid
        meta = batch._read_meta(out)
        if not meta or meta.get("profile") != profile.name or not (out / "checks.json").is_file():
            continue
        want = batch.content_hash(sub, profile, tuple(meta.get("tasks") or ()), bool(meta.get("visible_only")))
        if meta.get("hash") == want and meta.get("graded_at", "") >= best_time:
            best, best_time = out, meta.get("graded_at", "")
    return best


def run_report(args: argparse.Namespace) -> int:
    """Find (or make) the graded results of ``args.submission`` and render its report."""
    from grader import batch
    from grader.config import resolve_args
    from grader.report.data import load_student
    from grader.report.render import build_report

    start = time.perf_counter()
    from grader.environment import in_student_bundle

    profile = resolve_args(args)        # --profile / --config / --set, as every command

    reference = not args.submission and not in_student_bundle()
    sub = batch.validate_submission(args.submission) if args.submission else default_submission()
    student = load_student(sub)      # a malformed student.toml stops here, before any grading
    sid = batch.submission_id(sub)
    build = build_dir()
    graded = find_graded(sub, profile, [build / "grades", build / "check"])
    if graded is None:
        graded = build / "check" / sid
        print(f"mizan: {sub} has no up-to-date grading on profile {profile.name}; running the visible checks "
              f"first (as `make check` does) into {graded}", flush=True)
        # printing each step as it runs; unsandboxed only on a student's own machine (the bundle), as `make check`
        summary = batch.grade_submission(sub, profile, graded, visible_only=True, feedback=False,
                                         allow_unsandboxed=in_student_bundle() or bool(getattr(args, "unsandboxed", False)),
                                         progress=lambda line: print(line, flush=True))
        if summary.status == "error":
            raise MizanError(summary.message)
    results_dir = graded / "summary"
    # The submission's own experiments (`make experiments`) are the numbers its report should show;
    # build/results/<profile>/ is where the reference's experiments were written before them.
    from grader.experiments.cli import experiments_dir

    candidates = [experiments_dir(sid, profile.name)] + ([build / "results" / profile.name] if reference else [])
    for experiments in candidates:
        if _has_results(experiments):
            results_dir = experiments
            break
    if not _has_results(results_dir):
        # the check results are still worth a report; each task part says what is missing
        print(f"mizan: warning: no results JSON in {results_dir} (see {graded / 'run.log'}); the tasks' "
              f"parts of the report will say 'not available'", flush=True)
    # one folder per profile: a smoke report never overwrites the cpu one
    out_pdf = Path(getattr(args, "out", None) or build / "reports" / sid / profile.name / "report.pdf")
    if out_pdf.suffix != ".pdf":
        out_pdf = out_pdf / "report.pdf"
    lang = getattr(args, "lang", None) or os.environ.get("REPORT_LANG") or "both"
    t = time.perf_counter()
    build_report(results_dir, checks=graded, student=student, lang=lang, out_pdf=out_pdf, analysis=sub)
    print(f"mizan: report of {sid} ({lang}) from {results_dir} and {graded / 'checks.json'}: {out_pdf} "
          f"(rendered in {time.perf_counter() - t:.1f} s, {time.perf_counter() - start:.1f} s in all)")
    return 0
