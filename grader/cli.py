"""Mizan's command line: a switchboard that connects the phases, nothing more.

One table (:data:`COMMANDS`) names every subcommand, its options and the phase function
that handles it (parsed arguments in, exit code out). A phase is imported only when its
command runs, and heavy libraries (torch, TensorFlow) only inside the phases that need
them, so ``python -m grader --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from typing import Callable

from grader.errors import MizanError
from grader.homework import TASKS
from grader.profiles import DEFAULT_PROFILE, PROFILES

# ---------------------------------------------------------------------------------------------
# options


def _tasks(text: str) -> tuple[str, ...]:
    tasks = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown task(s) {', '.join(unknown)}: choose from {', '.join(TASKS)}")
    return tasks


def _profile_options(p: argparse.ArgumentParser) -> None:
    """The options every command resolves into one effective profile (grader.config)."""
    p.add_argument("--profile", default=None, choices=sorted(PROFILES),
                   help=f"base profile: model, data and budget (default: the course configuration's "
                        f"profile, else $PROFILE, else {DEFAULT_PROFILE})")
    p.add_argument("--config", metavar="PATH",
                   help="course configuration (TOML; default: $MIZAN_CONFIG, else ./mizan.toml when present)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one value of the course configuration for this run, e.g. nli.epochs=2 "
                        "(repeatable)")


def _default_sub(bundle: bool) -> str:
    return "default: this folder, which holds submission/" if bundle else "default: the reference solution"


def _check_options(p: argparse.ArgumentParser, bundle: bool) -> None:
    p.add_argument("--submission", help=f"submission folder ({_default_sub(bundle)})")
    p.add_argument("--tasks", type=_tasks, default=(), help="comma-separated tasks to check: nli,fraud")
    p.add_argument("--out", help="output folder (default: build/check/<submission id>)")


def _report_options(p: argparse.ArgumentParser, bundle: bool) -> None:
    p.add_argument("--submission", help=f"submission folder ({_default_sub(bundle)})")
    p.add_argument("--lang", default="both", choices=("fa", "en", "both"))
    if not bundle:      # a student's own machine: the checks run unsandboxed where no sandbox is possible
        p.add_argument("--unsandboxed", action="store_true",
                       help="run the checks a report needs even where no sandbox is possible")


def _experiments_options(p: argparse.ArgumentParser, bundle: bool) -> None:
    p.add_argument("--submission", help=f"submission folder ({_default_sub(bundle)})")
    p.add_argument("--tasks", type=_tasks, default=(), help="comma-separated tasks to run: nli,fraud")
    p.add_argument("--out", help="output folder (default: build/experiments/<submission id>/<profile>)")
    if not bundle:
        p.add_argument("--unsandboxed", action="store_true",
                       help="run the experiments even where no sandbox is possible")


def _grade_options(p: argparse.ArgumentParser, bundle: bool) -> None:
    p.add_argument("--submission", help=f"one submission folder ({_default_sub(bundle)})")
    p.add_argument("--submissions", help="a folder whose sub-folders are submissions")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    p.add_argument("--out", help="output folder (default: build/grades)")
    p.add_argument("--tasks", type=_tasks, default=(), help="comma-separated tasks to grade: nli,fraud")
    p.add_argument("--force", action="store_true", help="grade again even when the content hash is unchanged")
    p.add_argument("--unsandboxed", action="store_true",
                   help="grade even where no sandbox is possible; every result is then marked unsandboxed")
    p.add_argument("--executor", choices=("local", "slurm"),
                   help="where submissions are graded: here (--jobs at a time) or one Slurm job array "
                        "(default: the course configuration's executor, else local)")
    for name, what in (("partition", "partition"), ("account", "account"), ("qos", "quality of service")):
        p.add_argument(f"--{name}", help=f"Slurm {what} of the job array (default: the course "
                                         f"configuration's [slurm] {name}, else Slurm's own)")


def _dist_options(p: argparse.ArgumentParser, bundle: bool) -> None:
    p.add_argument("--out", help="output folder (default: dist/ beside grader/)")


def _gradescope_options(p: argparse.ArgumentParser, bundle: bool) -> None:
    p.add_argument("--root", default="/autograder", help="Gradescope's root (default: %(default)s)")
    p.add_argument("--unsandboxed", action="store_true",
                   help="grade even where no sandbox is possible; the results say so")


# ---------------------------------------------------------------------------------------------
# the table


@dataclass(frozen=True)
class Command:
    """One subcommand: what ``--help`` says, its options (given whether this is a student bundle), its handler."""

    help: str
    options: Callable[[argparse.ArgumentParser, bool], None]
    handler: str
    """``module:function`` taking the parsed arguments and returning the exit code."""
    student: bool = False
    """Offered in a student bundle too (the others need the instructor's tree)."""

    def run(self, args: argparse.Namespace) -> int:
        module, function = self.handler.split(":")
        return getattr(importlib.import_module(module), function)(args)


COMMANDS: dict[str, Command] = {
    "check": Command("run the visible checks on one submission (exit 0 only when all of them pass)",
                     _check_options, "grader.grade_cli:run_check", student=True),
    "report": Command("write a student's bilingual report.pdf", _report_options, "grader.report.cli:run_report",
                      student=True),
    "experiments": Command("run a submission through the homework's experiments (three NLI modes, three fraud "
                           "arms) and write the results JSON its report shows",
                           _experiments_options, "grader.experiments.cli:run_cli", student=True),
    "grade": Command("grade one submission or a folder of them", _grade_options, "grader.grade_cli:run_grade"),
    "dist": Command("build the student bundle and the Gradescope autograder zip", _dist_options,
                    "grader.dist:run_dist"),
    "gradescope": Command("Gradescope's run_autograder: grade <root>/submission into <root>/results",
                          _gradescope_options, "grader.dist:run_gradescope"),
}


def build_parser(student_bundle: bool | None = None) -> argparse.ArgumentParser:
    """The commands of this copy of Mizan: a student bundle has ``check``, ``report`` and ``experiments``."""
    from grader.environment import in_student_bundle

    bundle = in_student_bundle() if student_bundle is None else student_bundle
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="Mizan: grade the deep-learning homework (NLI fine-tuning, fraud detection) and write reports.",
        epilog="Every command reads and writes under one build folder, whatever the working folder: "
               "$MIZAN_BUILD, else build/ beside grader/.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        if bundle and not command.student:
            continue
        p = sub.add_parser(name, help=command.help)
        _profile_options(p)
        command.options(p, bundle)
        p.set_defaults(func=command.run)
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
        from grader.config import resolve_args

        args.resolved_profile = resolve_args(args)      # --profile / --config / --set: one effective profile
        args.profile = args.resolved_profile.name
        return int(args.func(args) or 0)
    except MizanError as err:
        print(f"mizan: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mizan: interrupted; finished results are kept and a re-run resumes.", file=sys.stderr)
        return 130
