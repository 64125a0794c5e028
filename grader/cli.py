"""Mizan's command line: a switchboard that connects the phases, nothing more.

Heavy libraries (torch, TensorFlow) are imported only inside the commands that
need them, so ``python -m grader --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys

from grader.errors import MizanError
from grader.profiles import DEFAULT_PROFILE, PROFILES


def _not_built(what: str, issue: str):
    def run(args: argparse.Namespace) -> int:
        print(f"mizan: {what} is not built yet ({issue}); nothing was done.", file=sys.stderr)
        return 2
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mizan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def with_profile(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--profile", default=DEFAULT_PROFILE, choices=sorted(PROFILES),
                       help="model, data and budget (default: %(default)s)")
        return p

    grade = with_profile(sub.add_parser("grade", help="grade one submission or a folder of them"))
    grade.add_argument("--submission", help="one submission folder (default: the reference solution)")
    grade.add_argument("--submissions", help="a folder whose sub-folders are submissions")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    grade.add_argument("--out", default="build/grades", help="output folder (default: %(default)s)")
    grade.set_defaults(func=_not_built("grading", "the grader issue"))

    check = with_profile(sub.add_parser("check", help="run the visible checks on one submission"))
    check.add_argument("--submission", help="submission folder (default: the reference solution)")
    check.set_defaults(func=_not_built("the student checks", "the grader issue"))

    report = with_profile(sub.add_parser("report", help="write a student's bilingual report.pdf"))
    report.add_argument("--submission", help="submission folder (default: the reference solution)")
    report.add_argument("--lang", default="both", choices=("fa", "en", "both"))
    report.set_defaults(func=_not_built("the report", "the report issue"))

    dist = sub.add_parser("dist", help="build the student bundle and the Gradescope autograder zip")
    dist.set_defaults(func=_not_built("make dist", "the bundle issue"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MizanError as err:
        print(f"mizan: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mizan: interrupted; finished results are kept and a re-run resumes.", file=sys.stderr)
        return 130
