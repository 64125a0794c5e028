"""pytest plugin of the check phase: options, the ``check`` marker, the ``ctx`` fixture, results.

Loaded with ``-p grader.checks.plugin`` (see :func:`check_argv`). Each check is
a test function marked ``@pytest.mark.check("<id>")`` in a module of this folder;
helper modules are named ``_*.py`` and never collected. The rubric
(:mod:`grader.rubric`) gives each check its points, visibility and titles.
Validation follows pytest-timeout's ``_validate_timeout(value, where)``: every
error names the file and the id. One run's state lives on a :class:`CheckSession`
registered with the plugin manager and kept in ``config.stash`` (as pytest's
junitxml keeps its ``LogXML``): outcomes are collected in
``pytest_runtest_logreport`` and written once, scored by
:func:`grader.results.model.score_checks`, in ``pytest_sessionfinish``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from pathlib import Path

import pytest

from grader.results.model import GRADER_ERROR_EN, GRADER_ERROR_FA, CheckResult, Outcome, score_checks
from grader.rubric import RubricError, load_rubric

CHECKS_DIR = Path(__file__).resolve().parent
HELPERS = "_*.py"
"""Modules of a checks folder that hold helpers, not checks: never collected."""
NOT_CHECKS = {"plugin.py", "launcher.py", "conftest.py"}
"""The check phase's own machinery, and a conftest.py planted in the folder: never collected either."""


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


class CheckSession:
    """One check run's state: the graded rubric, which node is which check, outcomes, collection errors.

    Registered with the plugin manager in :func:`pytest_configure` (its methods are hooks) and kept in
    ``config.stash``, as pytest's junitxml keeps its ``LogXML``: nothing outlives the run.
    """

    def __init__(self, config: pytest.Config, rubric: list, all_ids: set[str], profile) -> None:
        self.config = config
        self.rubric = rubric                    # the course's graded entries (switched-off ones left out)
        self.all_ids = all_ids                  # every id of the rubric files: the collection validates against them
        self.profile = profile
        self.ids: dict[str, str] = {}           # pytest node id -> check id
        self.outcomes: dict[str, Outcome] = {}  # pytest node id -> what the check did
        self.collect_errors: list[str] = []
        self.invalid: str | None = None         # a grader bug found at collection: no results file at all
        self.results: list[CheckResult] | None = None

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {str(report.longrepr)[-800:]}")

    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list) -> None:
        try:
            self._validate_and_select(items)
        except pytest.UsageError as err:
            self.invalid = str(err)     # a grader bug: no results file, so nobody is scored by it
            raise

    def _validate_and_select(self, items: list) -> None:
        rubric = {e.id: e for e in self.rubric}
        owners: dict[str, str] = {}
        for item in items:
            cid = _check_id(item)
            where = f"{item.path}::{item.name}"
            if cid not in self.all_ids:
                raise pytest.UsageError(f"{where}: check id {cid!r} is not in the rubric "
                                        f"(add a [\"{cid}\"] table to grader/rubric/<task>.toml)")
            if cid in owners:
                raise pytest.UsageError(f"{where}: check id {cid!r} is already used by {owners[cid]}")
            owners[cid] = where
            self.ids[item.nodeid] = cid
        if not self.collect_errors:
            for entry in self.rubric:       # (a check switched off by the course is not in self.rubric)
                if entry.id not in owners:
                    raise pytest.UsageError(f"{entry.source} [{entry.id!r}]: no check has this id "
                                            f"(mark one with @pytest.mark.check({entry.id!r}) or remove the table)")
        tasks = _tasks(self.config)
        visible_only = self.config.getoption("--visible-only")
        keep, drop = [], []
        for item in items:
            entry = rubric.get(self.ids[item.nodeid])
            ok = entry is not None and (not tasks or entry.task in tasks) and (not visible_only or
                                                                                 entry.visibility == "visible")
            (keep if ok else drop).append(item)
        if drop:
            self.config.hook.pytest_deselected(items=drop)
            items[:] = keep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if call.when in ("setup", "call") and (call.excinfo is not None or call.when == "call"):
            report.user_properties.append(("mizan_outcome", _outcome_from(call, call.when).to_dict()))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == "mizan_outcome":
                self.outcomes[report.nodeid] = Outcome(**value)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.invalid:
            return
        config = self.config
        outcomes = {self.ids[nodeid]: out for nodeid, out in self.outcomes.items() if nodeid in self.ids}
        locations = {cid: nodeid for nodeid, cid in self.ids.items()}
        tasks = _tasks(config)
        rubric = [e for e in self.rubric if not tasks or e.task in tasks]
        self.results = score_checks(rubric, outcomes, visible_only=bool(config.getoption("--visible-only")),
                                    locations=locations)
        out_path = config.getoption("--results-out")
        if not out_path:
            return
        from grader.atomic import write_json_atomic

        write_json_atomic(out_path, {
            "profile": config.getoption("--profile"), "visible_only": bool(config.getoption("--visible-only")),
            "tasks": list(tasks), "exitstatus": int(exitstatus), "collection_errors": list(self.collect_errors),
            "checks": [r.to_dict() for r in self.results]})

    def pytest_terminal_summary(self, terminalreporter, exitstatus: int, config: pytest.Config) -> None:
        if self.results is None:
            return
        earned = sum(r.earned for r in self.results)
        total = sum(r.points for r in self.results)
        terminalreporter.write_line(f"mizan: {earned:g}/{total:g} points over {len(self.results)} checks")
        if self.collect_errors:
            print("mizan: some check modules failed to import:\n" + "\n".join(self.collect_errors), file=sys.stderr)


_SESSION = pytest.StashKey[CheckSession]()


def pytest_configure(config: pytest.Config) -> None:
    from grader.rubric import apply_overrides

    config.addinivalue_line("markers", "check(id): a graded check; its points and visibility are in grader/rubric")
    try:
        rubric = load_rubric(config.getoption("--rubric-dir"))
        profile = _profile(config)
    except RubricError as err:
        raise pytest.UsageError(str(err)) from None
    # every check id stays known (the collection validates against all of them); switched-off ones are deselected
    session = CheckSession(config, apply_overrides(rubric, profile.rubric), {e.id for e in rubric}, profile)
    config.stash[_SESSION] = session
    config.pluginmanager.register(session, "mizan-check-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        del config.stash[_SESSION]
        config.pluginmanager.unregister(session)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    name = collection_path.name
    if name == "__pycache__" or name in NOT_CHECKS or fnmatch.fnmatch(name, HELPERS):
        return True
    return None


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


@pytest.fixture(scope="session")
def ctx(request: pytest.FixtureRequest):
    """The :class:`~grader.checks._support.CheckContext` over ``--artifacts``/``--heldback``."""
    from grader.checks._support import CheckContext

    config = request.config
    artifacts = config.getoption("--artifacts")
    if not artifacts:
        raise pytest.UsageError("the checks need --artifacts DIR (the run phase's output)")
    heldback = config.getoption("--heldback") or os.devnull
    return CheckContext(Path(artifacts), Path(heldback), config.stash[_SESSION].profile)


def _outcome_from(call: pytest.CallInfo, when: str) -> Outcome:
    from grader.checks._support import CheckFailed

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
