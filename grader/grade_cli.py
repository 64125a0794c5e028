"""``python -m grader grade`` and ``check``: a batch (here or on Slurm) and one submission's visible checks.

The parsers are in ``grader.cli``; these functions take its parsed arguments and return the exit code.
Both write under the one build folder (``grader.paths``) unless ``--out`` names another, so
``make report`` finds what they wrote from any working folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader.errors import MizanError
from grader.paths import build_dir, default_submission


def run_grade(args: argparse.Namespace) -> int:
    """Exit 0 when every submission has a final grade, 1 when one errored or must be regraded."""
    from grader import batch
    from grader.secret import SECRET_ENV, SECRET_FILE_ENV, grading_secret
    from grader.slurm import executor_of

    if args.submission and args.submissions:
        raise MizanError("pass either --submission or --submissions, not both")
    if args.submissions:
        subs = batch.find_submissions(args.submissions)
    elif args.submission:
        subs = [batch.validate_submission(args.submission)]
    else:
        subs = [batch.reference_submission()]
        print(f"mizan: no submission given; grading the reference solution ({subs[0]})")
    out = Path(args.out) if args.out else build_dir() / "grades"
    executor = executor_of(args)
    how = "as a Slurm job array" if executor == "slurm" else f"with {args.jobs} job(s)"
    print(f"mizan: grading {len(subs)} submission(s) on profile {args.profile} {how} into {out}", flush=True)
    if not grading_secret():
        print(f"mizan: no grading secret ({SECRET_ENV} or {SECRET_FILE_ENV}): held-back data are drawn with "
              f"the public seeds, which any copy of Mizan can regenerate; set one for real grading", flush=True)
    if executor == "slurm":
        from grader.slurm import grade_on_slurm, options_of

        summaries = grade_on_slurm(subs, args.resolved_profile, out, tasks=args.tasks, force=args.force,
                                   allow_unsandboxed=args.unsandboxed, options=options_of(args),
                                   progress=lambda line: print(line, flush=True))
    else:
        summaries = batch.grade_many(subs, args.resolved_profile, out, jobs=max(1, args.jobs), tasks=args.tasks,
                                     force=args.force, progress=lambda line: print(line, flush=True),
                                     allow_unsandboxed=args.unsandboxed)
    print()
    print(batch.score_table(summaries))
    print(f"\nResults: {out}/<id>/results.json; gradebook: {out}/gradebook.csv")
    if any(s.status == "overloaded" for s in summaries):
        print("mizan: the machine was overloaded for some steps: those grades are NOT final; run the same "
              "command again (it regrades only them)", file=sys.stderr)
    return 1 if any(s.status in ("error", "overloaded") for s in summaries) else 0


def run_check(args: argparse.Namespace) -> int:
    """Exit 0 when every visible check passed, 1 when one failed, 2 when the grader could not grade."""
    from grader import batch

    sub = batch.validate_submission(args.submission) if args.submission else default_submission()
    out = Path(args.out) if args.out else build_dir() / "check" / batch.submission_id(sub)
    print(f"mizan: visible checks of {sub} on profile {args.profile} (output: {out})", flush=True)
    # The student's own machine: nothing to guard that the student does not own, so no sandbox is required.
    summary = batch.grade_submission(sub, args.resolved_profile, out, tasks=args.tasks, visible_only=True,
                                     feedback=False, allow_unsandboxed=True,
                                     progress=lambda line: print(line, flush=True))
    if summary.status == "error":
        raise MizanError(summary.message)
    checks = json.loads((out / "checks.json").read_text(encoding="utf-8")).get("checks", [])
    for c in checks:
        mark = "PASS" if c["status"] == "passed" else "FAIL"
        print(f"[{mark}] {c['name']} ({c['earned']:g}/{c['points']:g}) {c['title_en']}")
        if c["status"] != "passed":
            print(f"       {c['message_en']}")
            print(f"       {c['message_fa']}")
    passed = sum(c["status"] == "passed" for c in checks)
    print(f"\n{summary.score:g}/{summary.max_score:g} points on the visible checks; {passed} of {len(checks)} "
          f"passed ({'unchanged, from the last run' if summary.status == 'skipped' else 'run log: ' + str(out / 'run.log')})")
    return 0 if checks and passed == len(checks) else 1
