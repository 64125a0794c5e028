"""The student's loop without running a grade: the environment gate, the commands a copy offers,
the flags its messages name, and the progress lines of a run (the bundle end to end: tests/test_dist.py)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader import batch, cli, environment

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# the environment gate (issue 13, item 3)


def test_requirements_are_read_with_their_pins(tmp_path: Path):
    req = tmp_path / "requirements.txt"
    req.write_text("# comment\ntorch==2.13.0\nsafetensors\n\nscikit-learn == 1.9.1  # pinned\n")
    assert environment.pinned(req) == {"torch": "2.13.0", "safetensors": None, "scikit-learn": "1.9.1"}


@pytest.mark.parametrize("want, have, same", [("2.13.0", "2.13.0+cpu", True), ("2.12", "2.012", True),
                                              ("2.13.0", "2.13", True), ("2.13.0", "2.13.1", False)])
def test_pins_compare_as_versions(want: str, have: str, same: bool):
    assert environment._same_version(want, have) is same


def test_a_missing_pinned_package_stops_with_one_line(tmp_path: Path):
    req = tmp_path / "requirements.txt"
    req.write_text("numpy\nmizan-no-such-package==1.0\n")
    with pytest.raises(environment.EnvironmentProblem) as err:
        environment.require(req)
    text = str(err.value)
    assert "\n" not in text
    assert "lacks Mizan's pinned packages (mizan-no-such-package)" in text
    assert "`make venv`" in text        # the main Makefile's target that creates .venv


def test_this_virtualenv_has_every_pinned_package():
    assert environment.problems()[0] == []


@pytest.mark.parametrize("error_type, message, module", [
    ("ModuleNotFoundError", "No module named 'torch.nn'", "torch"),
    ("ModuleNotFoundError", "No module named 'sklearn'", "sklearn"),
    ("ModuleNotFoundError", "No module named 'xgboost'", None),         # the student's own import
    ("ImportError", "No module named 'torch'", None),
    (None, "", None),
])
def test_a_step_that_cannot_import_a_dependency_of_mizan_is_the_graders_failure(error_type, message, module):
    assert environment.missing_dependency(error_type, message) == module


def test_the_wrong_python_names_the_setup_command_and_grades_nothing(tmp_path: Path):
    """The base interpreter of the virtualenv has none of the pinned packages: one line, exit 3, no output."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists() or subprocess.run([str(base), "-c", "import torch"], capture_output=True).returncode == 0:
        pytest.skip("no base interpreter without torch here")
    env = dict(os.environ, MIZAN_BUILD=str(tmp_path / "build"))
    done = subprocess.run([str(base), "-m", "grader", "check", "--submission", str(ROOT / "assignment" / "starter"),
                           "--out", str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mizan: {base}"), done.stderr
    assert "lacks Mizan's pinned packages (torch" in lines[0] and "run `make venv`" in lines[0]
    assert done.stdout == ""
    assert not (tmp_path / "out").exists() and not (tmp_path / "build").exists()


# ---------------------------------------------------------------------------------------------
# help that tells the truth (item 7)


def _commands(parser) -> dict:
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_a_student_bundle_offers_only_check_experiments_and_report():
    bundle = _commands(cli.build_parser(student_bundle=True))
    assert sorted(bundle) == ["check", "experiments", "report"]
    for name in ("check", "experiments", "report"):
        helps = {a.option_strings[0]: a.help for a in bundle[name]._actions if a.option_strings}
        assert helps["--submission"] == "submission folder (default: this folder, which holds submission/)"
        assert "--unsandboxed" not in helps     # a student's own machine runs unsandboxed where it must
    full = _commands(cli.build_parser(student_bundle=False))
    assert sorted(full) == ["check", "dist", "experiments", "grade", "gradescope", "report"]
    assert "--unsandboxed" in {a.option_strings[0] for a in full["experiments"]._actions if a.option_strings}
    helps = {a.option_strings[0]: a.help for a in full["grade"]._actions if a.option_strings}
    assert helps["--submission"] == "one submission folder (default: the reference solution)"


MESSAGE_CALLS = {"print", "log", "say", "progress", "fail", "error", "warn", "exit", "write_line", "UsageError"}
MESSAGE_KEYWORDS = {"help", "en", "message"}
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])")
NAMED_COMMAND = re.compile(r"python -m (grader|solutions\.nli|solutions\.fraud)\b")

# The command that prints a module's messages, where it is not `python -m grader`. The reference
# solutions have no command line of their own (`grader experiments` runs them like any submission),
# so a message naming `python -m solutions.nli` or `solutions.fraud` names a command that does not exist.
PARSERS = {"grader": "grader/cli.py", "checks": "grader/checks/plugin.py"}
OWNER = {"grader/checks/plugin.py": "checks"}


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def messages(path: Path):
    """``(line, text)`` of every message a module prints or raises: exception arguments, print/log/fail
    calls, argparse help; an f-string's literal parts joined by a space."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            yield node.lineno, " ".join(s for a in node.exc.args for s in _strings(a))
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in MESSAGE_CALLS:
                yield node.lineno, " ".join(s for a in [*node.args, *(k.value for k in node.keywords if k.arg != "fa")]
                                            for s in _strings(a))
            for kw in node.keywords:
                if kw.arg in MESSAGE_KEYWORDS:
                    yield node.lineno, " ".join(_strings(kw.value))


def parser_flags(path: Path) -> set[str]:
    """Every ``--flag`` a module's parser declares (add_argument / addoption)."""
    flags = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("add_argument", "addoption")):
            flags |= {a.value[2:] for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("--")}
    return flags


def test_the_message_scanner_finds_flags():
    found = dict(messages(ROOT / "grader" / "batch.py"))
    assert any("pass --submissions DIR" in text for text in found.values())
    assert {"submission", "submissions", "unsandboxed", "jobs", "profile"} <= parser_flags(ROOT / PARSERS["grader"])


def test_every_flag_a_message_names_exists_in_the_parser_of_its_command():
    parsers = {name: parser_flags(ROOT / rel) for name, rel in PARSERS.items()}
    wrong, seen = [], 0
    for folder in ("grader", "solutions"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for line, text in messages(path):
                named = NAMED_COMMAND.search(text)
                owner = named.group(1) if named else OWNER.get(rel, "grader")
                if owner not in parsers:
                    wrong.append(f"{rel}:{line}: names `python -m {owner}`, which has no command line: {text[:120]!r}")
                    continue
                for flag in FLAG.findall(text):
                    seen += 1
                    if flag not in parsers[owner]:
                        wrong.append(f"{rel}:{line}: --{flag} is not an option of {owner}: {text[:120]!r}")
    assert not wrong, "\n".join(wrong)
    assert seen >= 10      # the scan reaches the messages that name flags


# ---------------------------------------------------------------------------------------------
# progress lines (item 6)


def test_each_step_is_announced_as_it_starts_and_ends():
    """Steps run side by side: each line names its step, numbered in the order they started."""
    said = []
    ticker = batch._StepTicker(said.append, ["fraud.split", "fraud.cnn_arch", "fraud.detector"])
    ticker("fraud.cnn_arch", None)
    ticker("fraud.split", None)
    ticker("fraud.split", {"status": "ok", "sandbox": {"wall_s": 5.0}})
    ticker("fraud.detector", None)
    ticker("fraud.cnn_arch", {"status": "error", "error_type": "ValueError", "where": "fraud.build_cnn (line 3)",
                              "message": "bad shape", "sandbox": {"wall_s": 21.2}})
    ticker("fraud.detector", {"status": "timeout", "message": "the submission's total CPU budget ran out",
                              "wall_s": 0.0})
    assert said == [
        "  step 1/3 fraud.cnn_arch ... started",
        "  step 2/3 fraud.split ... started",
        "  step 2/3 fraud.split ... ok in 5.0 s",
        "  step 3/3 fraud.detector ... started",
        "  step 1/3 fraud.cnn_arch ... error: ValueError fraud.build_cnn (line 3): bad shape in 21.2 s",
        "  step 3/3 fraud.detector ... timeout: the submission's total CPU budget ran out",
    ]


@pytest.mark.parametrize("seconds, text", [(5.4, "5 s"), (75, "1 min 15 s"), (3600, "60 min 00 s")])
def test_clock(seconds: float, text: str):
    assert batch._clock(seconds) == text
