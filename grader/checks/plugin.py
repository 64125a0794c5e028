"""pytest plugin of the check phase: options, the ``check`` marker, the ``ctx`` fixture, results.

Loaded with ``-p grader.checks.plugin`` (see :func:`check_argv`). Each check is
a test function marked ``@pytest.mark.check("<id>")``; the rubric
(:mod:`grader.rubric`) gives its points, visibility and titles. Validation
follows pytest-timeout's ``_validate_timeout(value, where)``: every error names
the file and the id. Outcomes are collected in ``pytest_runtest_logreport`` and
written once, scored by :func:`grader.results.model.score_checks`, in
``pytest_sessionfinish``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from grader.results.model import GRADER_ERROR_EN, GRADER_ERROR_FA, Outcome, score_checks
from grader.rubric import RubricError, load_rubric

CHECKS_DIR = Path(__file__).resolve().parent
_NOT_CHECKS = {"plugin.py", "support.py", "conftest.py"}
_STASH = pytest.StashKey[dict]()
# Per-session state of hooks that receive no config (reset in pytest_configure).
_COLLECT_ERRORS: list[str] = []
_REPORTS: dict = {}


def check_argv(artifacts: Path | str, heldback: Path | str, profile: str, results_out: Path | str, *,
               visible_only: bool = False, tasks: list[str] | tuple[str, ...] | None = None,
               checks_dir: Path | str | None = None, rubric_dir: Path | str | None = None,
               quiet: bool = True, profile_json: Path | str | None = None) -> list[str]:
    """Arguments for ``python -m pytest`` that run the checks over one artifacts folder."""
    # --assert=plain: with python_files=*.py, assertion rewriting would recompile torch and transformers
    # on import (3 minutes instead of 20 s); checks fail through CheckFailed, not rewritten asserts.
    # --noconftest: a conftest.py planted in the checks folder (grading as an ordinary user) is never loaded.
    argv = ["--assert=plain", "--noconftest", "-p", "grader.checks.plugin", "-p", "no:cacheprovider",
            "-o", "python_files=*.py",
            "-o", "python_functions=test_* check_*", "--continue-on-collection-errors",
            "--rootdir", str(Path(checks_dir or CHECKS_DIR).resolve()),
            str(Path(checks_dir or CHECKS_DIR).resolve()),
            "--artifacts", str(artifacts), "--heldback", str(heldback), "--profile", profile,
            "--results-out", str(results_out), "-W", "ignore::DeprecationWarning"]
    if quiet:
        argv += ["-q", "--no-header", "-p", "no:warnings", "--tb=short"]
    if visible_only:
        argv.append("--visible-only")
    if tasks:
        argv += ["--tasks", ",".join(tasks)]
    if rubric_dir:
        argv += ["--rubric-dir", str(rubric_dir)]
    if profile_json:
        argv += ["--profile-json", str(profile_json)]
    return argv


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mizan", "Mizan check phase")
    group.addoption("--artifacts", help="artifacts folder written by the run phase")
    group.addoption("--heldback", help="held-back folder (labels, oracle data)")
    group.addoption("--profile", default="cpu", help="profile name (default: cpu)")
    group.addoption("--visible-only", action="store_true", help="run the visible checks only")
    group.addoption("--tasks", default="", help="comma-separated tasks (rubric file stems), e.g. nli")
    group.addoption("--results-out", help="where to write the scored results (JSON)")
    group.addoption("--rubric-dir", help="rubric folder (default: grader/rubric)")
    group.addoption("--profile-json", help="the effective profile (Profile.to_dict) of a course configuration; "
                                           "default: the built-in profile named by --profile")


def _tasks(config: pytest.Config) -> tuple[str, ...]:
    return tuple(t.strip() for t in (config.getoption("--tasks") or "").split(",") if t.strip())


def _profile(config: pytest.Config):
    """The effective profile: ``--profile-json`` (a course configuration's values) or the built-in one."""
    from grader.profiles import Profile, get_profile

    path = config.getoption("--profile-json")
    if path:
        return Profile.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    return get_profile(config.getoption("--profile"))


def pytest_configure(config: pytest.Config) -> None:
    from grader.rubric import apply_overrides

    config.addinivalue_line("markers", "check(id): a graded check; its points and visibility are in grader/rubric")
    try:
        rubric = load_rubric(config.getoption("--rubric-dir"))
        profile = _profile(config)
    except RubricError as err:
        raise pytest.UsageError(str(err)) from None
    # every check id stays known (the collection validates against all of them); switched-off ones are deselected
    graded = apply_overrides(rubric, profile.rubric)
    config.stash[_STASH] = {"rubric": graded, "all_ids": {e.id for e in rubric}, "ids": {}, "selected": [],
                            "start": time.time(), "profile": profile}
    _COLLECT_ERRORS.clear()
    _REPORTS.clear()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    if collection_path.name in _NOT_CHECKS or collection_path.name == "__pycache__":
        return True
    return None


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _COLLECT_ERRORS.append(f"{report.nodeid}: {str(report.longrepr)[-800:]}")



def _check_id(item: pytest.Item) -> str:
    markers = list(item.iter_markers("check"))
    where = f"{item.path}::{item.name}"
    if not markers:
        raise pytest.UsageError(f"{where}: a check needs @pytest.mark.check('<id>') (the id is its rubric table)")
    if len(markers) > 1:
        raise pytest.UsageError(f"{where}: more than one @pytest.mark.check marker")
    args = markers[0].args
    if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
        raise pytest.UsageError(f"{where}: @pytest.mark.check takes exactly one id string, got {args!r}")
    return args[0]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    state = config.stash[_STASH]
    try:
        _validate_and_select(config, state, items)
    except pytest.UsageError as err:
        state["invalid"] = str(err)     # a grader bug: no results file, so nobody is scored by it
        raise


def _validate_and_select(config: pytest.Config, state: dict, items: list) -> None:
    rubric = {e.id: e for e in state["rubric"]}
    owners: dict[str, str] = {}
    for item in items:
        cid = _check_id(item)
        where = f"{item.path}::{item.name}"
        if cid not in state["all_ids"]:
            raise pytest.UsageError(f"{where}: check id {cid!r} is not in the rubric "
                                    f"(add a [\"{cid}\"] table to grader/rubric/<task>.toml)")
        if cid in owners:
            raise pytest.UsageError(f"{where}: check id {cid!r} is already used by {owners[cid]}")
        owners[cid] = where
        state["ids"][item.nodeid] = cid
    if not _COLLECT_ERRORS:
        for entry in state["rubric"]:       # (a check switched off by the course is not in state["rubric"])
            if entry.id not in owners:
                raise pytest.UsageError(f"{entry.source} [{entry.id!r}]: no check has this id "
                                        f"(mark one with @pytest.mark.check({entry.id!r}) or remove the table)")
    tasks = _tasks(config)
    visible_only = config.getoption("--visible-only")
    keep, drop = [], []
    for item in items:
        entry = rubric.get(state["ids"][item.nodeid])
        ok = entry is not None and (not tasks or entry.task in tasks) and (not visible_only or
                                                                             entry.visibility == "visible")
        (keep if ok else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    state["selected"] = [state["ids"][i.nodeid] for i in keep]


@pytest.fixture(scope="session")
def ctx(request: pytest.FixtureRequest):
    """The :class:`~grader.checks.support.CheckContext` over ``--artifacts``/``--heldback``."""
    from grader.checks.support import CheckContext

    config = request.config
    artifacts = config.getoption("--artifacts")
    if not artifacts:
        raise pytest.UsageError("the checks need --artifacts DIR (the run phase's output)")
    heldback = config.getoption("--heldback") or os.devnull
    return CheckContext(Path(artifacts), Path(heldback), config.stash[_STASH]["profile"])


def _outcome_from(call: pytest.CallInfo, when: str) -> Outcome:
    from grader.checks.support import CheckFailed

    excinfo = call.excinfo
    duration = float(getattr(call, "duration", 0.0) or 0.0)
    if excinfo is None:
        return Outcome("passed", duration_s=duration)
    err = excinfo.value
    if isinstance(err, CheckFailed):
        return Outcome("failed", err.en, err.fa, duration)
    if excinfo.errisinstance(pytest.skip.Exception):
        reason = str(getattr(err, "msg", err))
        return Outcome("failed", f"This check was skipped: {reason}", f"این بررسی انجام نشد: {reason}", duration)
    if isinstance(err, AssertionError) and when == "call":
        text = str(err).strip() or "an assertion of the check did not hold"
        return Outcome("failed", text, f"یک شرط این بررسی برقرار نبود: {text}", duration)
    detail = f"{type(err).__name__}: {str(err)[:300]}"
    return Outcome("error", GRADER_ERROR_EN.format(detail=detail), GRADER_ERROR_FA.format(detail=detail), duration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if call.when in ("setup", "call") and (call.excinfo is not None or call.when == "call"):
        out = _outcome_from(call, call.when)
        report.user_properties.append(("mizan_outcome", out.to_dict()))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for key, value in report.user_properties:
        if key == "mizan_outcome":
            _REPORTS[report.nodeid] = Outcome(**value)



def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _STASH not in config.stash:
        return
    state = config.stash[_STASH]
    if state.get("invalid"):
        return
    outcomes = {state["ids"][nodeid]: out for nodeid, out in _REPORTS.items() if nodeid in state["ids"]}
    tasks = _tasks(config)
    rubric = [e for e in state["rubric"] if not tasks or e.task in tasks]
    results = score_checks(rubric, outcomes, visible_only=bool(config.getoption("--visible-only")))
    state["results"] = results
    out_path = config.getoption("--results-out")
    if not out_path:
        return
    payload = {"profile": config.getoption("--profile"), "visible_only": bool(config.getoption("--visible-only")),
               "tasks": list(tasks), "exitstatus": int(exitstatus), "collection_errors": list(_COLLECT_ERRORS),
               "checks": [r.to_dict() for r in results]}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, out_path)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _STASH not in config.stash or "results" not in config.stash[_STASH]:
        return
    results = config.stash[_STASH]["results"]
    earned = sum(r.earned for r in results)
    total = sum(r.points for r in results)
    terminalreporter.write_line(f"mizan: {earned:g}/{total:g} points over {len(results)} checks")
    if _COLLECT_ERRORS:
        print("mizan: some check modules failed to import:\n" + "\n".join(_COLLECT_ERRORS), file=sys.stderr)
