"""The check phase's launcher: ``pytest`` over the checks in a fresh trusted process, measured.

The checks read what sandboxed steps wrote, so they run in a process of their
own with a bounded address space (docs/GRADING.md, step 5), and the plugin
(:mod:`grader.checks.plugin`) scores them once and writes the results file. The
launcher only starts that process and returns what it measured as one
:class:`CheckPhase` value, read by whoever called it (no module state).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader.environment import ROOT
from grader.profiles import CHECKS_ADDRESS_SPACE_MB, Profile
from grader.results.model import CheckResult


@dataclass(frozen=True)
class CheckPhase:
    """What one run of the check process left: its results file and its measurements."""

    results: dict | None        # the plugin's results file; None when it wrote none (crash, invalid rubric)
    exit_status: int            # pytest's exit status (negative: killed by that signal)
    peak_mb: float              # peak resident memory of the check process
    wall_s: float
    timed_out: bool

    @property
    def checks(self) -> list[CheckResult]:
        """The checks as the plugin scored them (none when it wrote no results)."""
        return [CheckResult.from_dict(c) for c in (self.results or {}).get("checks", [])]


def run_checks(artifacts: Path | str, heldback: Path | str, profile: Profile | str, results_out: Path | str, *,
               visible_only: bool = False, tasks: tuple[str, ...] | list[str] | None = None,
               log_path: Path | str | None = None, checks_dir: Path | str | None = None,
               rubric_dir: Path | str | None = None, timeout_s: float = 3600,
               memory_mb: int | None = CHECKS_ADDRESS_SPACE_MB) -> CheckPhase:
    """Run ``pytest`` over the checks in a fresh trusted process; return its results file and measurements.

    The process's output is appended to ``log_path``. ``memory_mb`` bounds its address
    space: it reads what a submission wrote.
    """
    from grader.checks.plugin import check_argv

    name = profile if isinstance(profile, str) else profile.name
    results_out = Path(results_out)
    results_out.unlink(missing_ok=True)
    profile_json = None
    if not isinstance(profile, str):    # the effective values (thresholds, rubric) for the trusted checks
        profile_json = results_out.with_name("profile.json")
        profile_json.parent.mkdir(parents=True, exist_ok=True)
        profile_json.write_text(json.dumps(profile.to_dict(), indent=1, sort_keys=True), encoding="utf-8")
    argv = [sys.executable, "-m", "pytest", *check_argv(artifacts, heldback, name, results_out,
                                                         visible_only=visible_only, tasks=tasks,
                                                         checks_dir=checks_dir, rubric_dir=rubric_dir,
                                                         profile_json=profile_json)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # Only our plugin: no third-party pytest plugins found through entry points.
    env.update({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                "HF_DATASETS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONDONTWRITEBYTECODE": "1"})
    out = open(log_path, "a", encoding="utf-8") if log_path else open(os.devnull, "w")
    start = time.monotonic()
    timed_out = False
    with out:
        out.write("\n===== checks =====\n")
        out.flush()
        proc = subprocess.Popen(argv, cwd=str(ROOT), env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_address_space_limit(memory_mb))
        while True:   # os.wait4, not Popen.wait: it also gives this process's own peak memory
            pid, wstatus, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout_s:
                proc.kill()
                _, wstatus, rusage = os.wait4(proc.pid, 0)
                timed_out = True
                out.write(f"[checks] the check phase exceeded {timeout_s:g} s and was stopped\n")
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(wstatus)
        wall_s = time.monotonic() - start
        peak_mb = rusage.ru_maxrss / 1024.0
        out.write(f"[checks] pytest exit status {proc.returncode}, {wall_s:.1f} s, peak {peak_mb:.0f} MiB\n")
    return CheckPhase(results=_read_results(results_out), exit_status=proc.returncode, peak_mb=peak_mb,
                      wall_s=round(wall_s, 2), timed_out=timed_out)


def _read_results(path: Path) -> dict | None:
    if not path.is_file():
        return None
    with contextlib.suppress(ValueError):
        return json.loads(path.read_text(encoding="utf-8"))
    return None


def grader_error_results(results_out: Path | str, profile_name: str, *, rubric_dir: Path | str | None = None,
                         tasks: tuple[str, ...] | list[str] | None = None, visible_only: bool = False,
                         overrides: dict[str, dict] | None = None) -> list[CheckResult]:
    """The grade when the check process wrote no results: every rubric entry scores 0 as a grader error.

    Written to ``results_out`` (marked ``grader_error``) so the feedback and the report still list
    every check, and a grader bug shows instead of silently dropping points from the maximum.
    ``overrides`` are the course's ``[rubric."<id>"]`` changes (``Profile.rubric``), applied as the
    plugin applies them: the maximum is the one a normal grade of this course has.
    """
    from grader.atomic import write_json_atomic
    from grader.results.model import score_checks
    from grader.rubric import apply_overrides, load_rubric

    rubric = apply_overrides(load_rubric(rubric_dir, tasks or None), overrides or {})
    results = score_checks(rubric, {}, visible_only=visible_only)
    write_json_atomic(results_out, {"profile": profile_name, "checks": [r.to_dict() for r in results],
                                    "grader_error": True})
    return results


def _address_space_limit(memory_mb: int | None):
    def limit() -> None:
        if memory_mb:
            resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024, memory_mb * 1024 * 1024))
    return limit
