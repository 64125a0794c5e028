"""``pytest`` entry point of the student bundle (copied there as ``visible_checks.py``).

Running ``pytest`` in the bundle folder grades ``submission/`` next to it with
the visible checks: the grader's two phases run once, in a subprocess (the
submission in its sandbox, the checks in a process that never imports it),
and every visible check becomes one pytest test here, failing with the
check's English and Persian message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
OUT = HERE / "build" / "check"


def _run_visible_checks() -> list[dict]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3")
    (OUT / "checks.json").unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "grader", "check", "--submission", str(HERE),
                           "--out", str(OUT), "--profile", os.environ.get("PROFILE", "cpu")],
                          cwd=HERE, env=env, capture_output=True, text=True)
    results = OUT / "checks.json"
    if not results.is_file():
        raise RuntimeError(f"the grader wrote no results (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(results.read_text(encoding="utf-8"))["checks"]


CHECKS = _run_visible_checks()


@pytest.mark.parametrize("check", CHECKS, ids=[c["name"] for c in CHECKS])
def test_visible_check(check: dict) -> None:
    if check["status"] != "passed":
        pytest.fail(f"{check['title_en']} ({check['points']:g} points)\n{check['message_en']}\n\n"
                    f"{check['title_fa']}\n{check['message_fa']}", pytrace=False)
