"""``pytest`` in the student bundle (copied there as ``conftest.py``; the tests are ``visible_checks.py``).

Running ``pytest`` in the bundle folder grades ``submission/`` next to it (or
the folder named by ``SUBMISSION``) with the visible checks, exactly as
``make check`` does: the grader's two phases run once, in a subprocess
(``python -m grader check``: the submission in its sandbox, the checks in a
process that never imports it), its progress lines are shown as they come,
and every visible check becomes one pytest test, failing with the check's
English and Persian message. Both commands share ``build/check/<id>/``, so an
unchanged submission is not graded twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHECKS_ATTR = "mizan_visible_checks"    # on the config object: any pytest version, even a wrong interpreter's


def _say(config, line: str) -> None:
    """A line on the terminal now, even while pytest captures output."""
    capman = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            (reporter.write_line if reporter else print)(line)
    else:
        print(line, flush=True)


def _run_visible_checks(config) -> list[dict]:
    submission = Path(os.environ.get("SUBMISSION") or HERE)
    if not submission.is_absolute():
        submission = Path.cwd() / submission
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONUNBUFFERED="1")
    # The base profile: $PROFILE when set, else the course's mizan.toml shipped in the bundle (found in
    # the working folder, HERE), else cpu.
    argv = [sys.executable, "-m", "grader", "check", "--submission", str(submission),
            *(["--profile", os.environ["PROFILE"]] if os.environ.get("PROFILE") else [])]
    proc = subprocess.Popen(argv, cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed = []
    for line in proc.stdout:           # progress lines only; the results become the tests below
        line = line.rstrip("\n")
        if line.startswith(("mizan:", "inputs:", "  step", "checks:")):
            _say(config, line)
            printed.append(line)
    err = proc.stderr.read()
    code = proc.wait()
    if code not in (0, 1):
        # The grader could not grade (wrong Python, a bad folder, a grader error): one line, no test run.
        lines = [ln for ln in err.splitlines() if ln.strip()]
        said = [ln for ln in lines if ln.startswith("mizan:")]
        pytest.exit((said or lines or [f"python -m grader check exited with status {code}"])[-1], returncode=code)
    from grader.batch import submission_id
    from grader.paths import build_dir

    results = build_dir() / "check" / submission_id(submission) / "checks.json"
    return json.loads(results.read_text(encoding="utf-8"))["checks"]


def pytest_sessionstart(session) -> None:
    setattr(session.config, CHECKS_ATTR, _run_visible_checks(session.config))


def pytest_generate_tests(metafunc) -> None:
    if "check" in metafunc.fixturenames:
        checks = getattr(metafunc.config, CHECKS_ATTR)
        metafunc.parametrize("check", checks, ids=[c["name"] for c in checks])
