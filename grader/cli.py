"""Mizan's command line: a switchboard that connects the phases, nothing more.

Heavy libraries (torch, TensorFlow) are imported only inside the commands that
need them, so ``python -m grader --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys

from grader.errors import MizanError
from grader.profiles import DEFAULT_PROFILE, PROFILES


def _tasks(text: str) -> tuple[str, ...]:
    tasks = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in tasks if t not in ("nli", "fraud")]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown task(s) {', '.join(unknown)}: choose from nli, fraud")
    return tasks


def _grade(args: argparse.Namespace) -> int:
    from grader import batch

    if args.submission and args.submissions:
        raise MizanError("pass either --submission or --submissions, not both")
    if args.submissions:
        subs = batch.find_submissions(args.submissions)
    elif args.submission:
        subs = [batch.validate_submission(args.submission)]
    else:
        subs = [batch.reference_submission()]
        print(f"mizan: no submission given; grading the reference solution ({subs[0]})")
    from grader.slurm import executor_of

    executor = executor_of(args)
    how = "as a Slurm job array" if executor == "slurm" else f"with {args.jobs} job(s)"
    print(f"mizan: grading {len(subs)} submission(s) on profile {args.profile} {how} into {args.out}", flush=True)
    from grader.secret import SECRET_ENV, SECRET_FILE_ENV, grading_secret

    if not grading_secret():
        print(f"mizan: no grading secret ({SECRET_ENV} or {SECRET_FILE_ENV}): held-back data are drawn with "
              f"the public seeds, which any copy of Mizan can regenerate; set one for real grading", flush=True)
    if executor == "slurm":
        from grader.slurm import grade_on_slurm, options_of

        summaries = grade_on_slurm(subs, args.resolved_profile, args.out, tasks=args.tasks, force=args.force,
                                   allow_unsandboxed=args.unsandboxed, options=options_of(args),
                                   progress=lambda line: print(line, flush=True))
    else:
        summaries = batch.grade_many(subs, args.resolved_profile, args.out, jobs=max(1, args.jobs), tasks=args.tasks,
                                     force=args.force, progress=lambda line: print(line, flush=True),
                                     allow_unsandboxed=args.unsandboxed)
    print()
    print(batch.score_table(summaries))
    print(f"\nResults: {args.out}/<id>/results.json; gradebook: {args.out}/gradebook.csv")
    if any(s.status == "overloaded" for s in summaries):
        print("mizan: the machine was overloaded for some steps: those grades are NOT final; run the same "
              "command again (it regrades only them)", file=sys.stderr)
    return 1 if any(s.status in ("error", "overloaded") for s in summaries) else 0


def _default_submission():
    """The folder graded when none is given: the bundle itself for a student, the reference otherwise."""
    from grader import batch
    from grader.environment import ROOT, in_student_bundle

    return batch.validate_submission(ROOT) if in_student_bundle() else batch.reference_submission()


def _check(args: argparse.Namespace) -> int:
    """Exit 0 when every visible check passed, 1 when one failed, 2 when the grader could not grade."""
    import json
    from pathlib import Path

    from grader import batch

    sub = batch.validate_submission(args.submission) if args.submission else _default_submission()
    out = Path(args.out) if args.out else Path("build") / "check" / batch.submission_id(sub)
    print(f"mizan: visible checks of {sub} on profile {args.profile} (output: {out})", flush=True)
    # The student's own machine: nothing to guard that the student does not own, so no sandbox is required.
    summary = batch.grade_submission(sub, args.resolved_profile, out, tasks=args.tasks, visible_only=True, feedback=False,
                                     allow_unsandboxed=True, progress=lambda line: print(line, flush=True))
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


def build_parser(student_bundle: bool | None = None) -> argparse.ArgumentParser:
    """The commands of this copy of Mizan: a student bundle has ``check`` and ``report`` only."""
    from grader.environment import in_student_bundle

    bundle = in_student_bundle() if student_bundle is None else student_bundle
    default_sub = ("default: this folder, which holds submission/" if bundle
                   else "default: the reference solution")
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="Mizan: grade the deep-learning homework (NLI fine-tuning, fraud detection) and write reports.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_profile(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """The options every command resolves into one effective profile (grader.config)."""
        p.add_argument("--profile", default=None, choices=sorted(PROFILES),
                       help=f"base profile: model, data and budget (default: the course configuration's "
                            f"profile, else $PROFILE, else {DEFAULT_PROFILE})")
        p.add_argument("--config", metavar="PATH",
                       help="course configuration (TOML; default: $MIZAN_CONFIG, else ./mizan.toml when present)")
        p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override one value of the course configuration for this run, e.g. nli.epochs=2 "
                            "(repeatable)")
        return p

    check = with_profile(sub.add_parser(
        "check", help="run the visible checks on one submission (exit 0 only when all of them pass)"))
    check.add_argument("--submission", help=f"submission folder ({default_sub})")
    check.add_argument("--tasks", type=_tasks, default=(), help="comma-separated tasks to check: nli,fraud")
    check.add_argument("--out", help="output folder (default: build/check/<submission id>)")
    check.set_defaults(func=_check)

    report = with_profile(sub.add_parser("report", help="write a student's bilingual report.pdf"))
    report.add_argument("--submission", help=f"submission folder ({default_sub})")
    report.add_argument("--lang", default="both", choices=("fa", "en", "both"))
    report.set_defaults(func=lambda args: __import__("grader.report.cli", fromlist=["run_report"]).run_report(args))

    experiments = with_profile(sub.add_parser(
        "experiments", help="run a submission through the homework's experiments (three NLI modes, three fraud "
                            "arms) and write the results JSON its report shows"))
    experiments.add_argument("--submission", help=f"submission folder ({default_sub})")
    experiments.add_argument("--tasks", type=_tasks, default=(), help="comma-separated tasks to run: nli,fraud")
    experiments.add_argument("--out", help="output folder (default: build/experiments/<submission id>/<profile>)")
    experiments.set_defaults(
        func=lambda args: __import__("grader.experiments.cli", fromlist=["run_cli"]).run_cli(args))
    if bundle:      # a student's own machine: the checks run unsandboxed where no sandbox is possible
        return parser
    report.add_argument("--unsandboxed", action="store_true",
                        help="run the checks a report needs even where no sandbox is possible")
    experiments.add_argument("--unsandboxed", action="store_true",
                             help="run the experiments even where no sandbox is possible")

    grade = with_profile(sub.add_parser("grade", help="grade one submission or a folder of them"))
    grade.add_argument("--submission", help=f"one submission folder ({default_sub})")
    grade.add_argument("--submissions", help="a folder whose sub-folders are submissions")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    grade.add_argument("--out", default="build/grades", help="output folder (default: %(default)s)")
    grade.add_argument("--tasks", type=_tasks, default=(), help="comma-separated tasks to grade: nli,fraud")
    grade.add_argument("--force", action="store_true", help="grade again even when the content hash is unchanged")
    grade.add_argument("--unsandboxed", action="store_true",
                       help="grade even where no sandbox is possible; every result is then marked unsandboxed")
    grade.add_argument("--executor", choices=("local", "slurm"),
                       help="where submissions are graded: here (--jobs at a time) or one Slurm job array "
                            "(default: the course configuration's executor, else local)")
    for name, what in (("partition", "partition"), ("account", "account"), ("qos", "quality of service")):
        grade.add_argument(f"--{name}", help=f"Slurm {what} of the job array (default: the course "
                                             f"configuration's [slurm] {name}, else Slurm's own)")
    grade.set_defaults(func=_grade)

    dist = with_profile(sub.add_parser("dist", help="build the student bundle and the Gradescope autograder zip"))
    dist.add_argument("--out", default="dist", help="output folder (default: %(default)s)")
    dist.set_defaults(func=lambda args: __import__("grader.dist", fromlist=["run_dist"]).run_dist(args))

    gradescope = with_profile(sub.add_parser(
        "gradescope", help="Gradescope's run_autograder: grade <root>/submission into <root>/results"))
    gradescope.add_argument("--root", default="/autograder", help="Gradescope's root (default: %(default)s)")
    gradescope.add_argument("--unsandboxed", action="store_true",
                            help="grade even where no sandbox is possible; the results say so")
    gradescope.set_defaults(func=lambda args: __import__("grader.dist", fromlist=["run_gradescope"]).run_gradescope(args))
    return parser


def main(argv: list[str] | None = None) -> int:
    from grader.environment import EnvironmentProblem, require

    args = build_parser().parse_args(argv)
    try:
        for warning in require():
            print(f"mizan: warning: {warning}", file=sys.stderr)
    except EnvironmentProblem as err:     # before anything runs: nothing graded, nothing cached
        print(f"mizan: {err}", file=sys.stderr)
        return 3
    try:
        if hasattr(args, "set"):        # every command with --config/--set: one effective profile
            from grader.config import resolve_args

            args.resolved_profile = resolve_args(args)
            args.profile = args.resolved_profile.name
        return int(args.func(args) or 0)
    except MizanError as err:
        print(f"mizan: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mizan: interrupted; finished results are kept and a re-run resumes.", file=sys.stderr)
        return 130
