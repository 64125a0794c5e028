"""``grader experiments`` / ``make experiments``: a submission's experiments into
``build/experiments/<submission id>/<profile>/``, one progress line per epoch."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.errors import MizanError
from grader.paths import build_dir, default_submission


def experiments_dir(sid: str, profile: str) -> Path:
    """Where the results JSON of submission ``sid`` on ``profile`` go (the report reads them there)."""
    return build_dir() / "experiments" / sid / profile


def run_cli(args: argparse.Namespace) -> int:
    """Exit 0 when every part ran, 1 when one failed (the submission's doing), 2 when nothing could run."""
    from grader import batch
    from grader.environment import in_student_bundle
    from grader.experiments.run import run_experiments
    from grader.profiles import get_profile

    profile = getattr(args, "resolved_profile", None) or get_profile(args.profile)
    sub = batch.validate_submission(args.submission) if args.submission else default_submission()
    out = Path(args.out) if args.out else experiments_dir(batch.submission_id(sub), profile.name)
    print(f"mizan: experiments of {sub} on profile {profile.name} into {out}", flush=True)
    # A student's own machine guards nothing the student does not own: unsandboxed where no sandbox is
    # possible, as `make check`; in the instructor's tree only when asked (--unsandboxed).
    allow = in_student_bundle() or bool(getattr(args, "unsandboxed", False))
    outcome = run_experiments(sub, profile, out, tasks=tuple(args.tasks or ()), allow_unsandboxed=allow,
                              say=lambda line: print(line, flush=True))
    if not outcome.parts:
        raise MizanError("no experiment ran")
    failed = [p for p in outcome.parts if p.status != "ok"]
    print(f"\n{len(outcome.parts) - len(failed)} of {len(outcome.parts)} parts ran; wrote "
          f"{', '.join(outcome.written) or 'no results'} in {out} (details: {out / 'run.log'})")
    for part in failed:
        print(f"  {part.label}: {part.message or part.status}")
    return 1 if failed else 0
