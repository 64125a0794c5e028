"""The check plugin and the rubric: validation errors name the file and the id; outcomes are scored."""

import json
import shutil
from pathlib import Path

import pytest

from grader.checks.launcher import CheckPhase, grader_error_results, run_checks
from grader.rubric import RubricError, load_rubric
from tests.mizan_demo import CHECKS_DIR, RUBRIC_DIR, prepare_demo_inputs

GOOD = """["t.one"]
points = 2
visibility = "visible"
title_en = "One"
title_fa = "یک"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, message", [
    (GOOD.replace("points = 2", "points = 0"), "t.toml ['t.one']: points must be a positive number, got 0"),
    (GOOD.replace("points = 2", 'points = "2"'), "t.toml ['t.one']: points must be a positive number, got '2'"),
    (GOOD.replace('"visible"', '"public"'), "visibility must be 'visible' or 'hidden', got 'public'"),
    (GOOD.replace('title_fa = "یک"\n', ""), "t.toml ['t.one']: missing title_fa"),
    (GOOD + "weight = 3\n", "unknown key(s) weight"),
    (GOOD.replace('["t.one"]', "[t.one]"), "t.toml ['t']: missing points, title_en, title_fa, visibility "
                                           "(a dotted id must be quoted"),
    ("[x\n", "t.toml: not valid TOML"),
])
def test_rubric_errors_name_the_file_and_the_id(tmp_path, text, message):
    write(tmp_path / "t.toml", text)
    with pytest.raises(RubricError) as err:
        load_rubric(tmp_path)
    assert message in str(err.value)


def test_rubric_id_defined_twice_names_both_files(tmp_path):
    write(tmp_path / "a.toml", GOOD)
    write(tmp_path / "b.toml", GOOD)
    with pytest.raises(RubricError, match=r"b.toml \['t.one'\]: id already defined in .*a.toml"):
        load_rubric(tmp_path)


def test_rubric_task_is_the_file_stem_and_tasks_filter(tmp_path):
    write(tmp_path / "nli.toml", GOOD.replace("t.one", "nli.one"))
    write(tmp_path / "fraud.toml", GOOD.replace("t.one", "adasyn.one").replace("points = 2", "points = 1.5"))
    entries = load_rubric(tmp_path)
    assert [(e.id, e.task, e.points) for e in entries] == [("adasyn.one", "fraud", 1.5), ("nli.one", "nli", 2.0)]
    assert [e.id for e in load_rubric(tmp_path, tasks=("nli",))] == ["nli.one"]


@pytest.fixture()
def artifacts(tmp_path):
    """Artifacts as the run phase leaves them for an honest demo submission."""
    import numpy as np

    inputs, heldback = prepare_demo_inputs(tmp_path / "in", tmp_path / "hb")
    art = tmp_path / "art"
    write(art / "steps" / "demo.count.json", json.dumps({"step": "demo.count", "status": "ok"}))
    write(art / "steps" / "demo.adasyn.json", json.dumps({"step": "demo.adasyn", "status": "ok"}))
    write(art / "demo" / "count.json", json.dumps({"trainable": 22, "total": 26}))
    X = np.arange(24, dtype=float).reshape(12, 2)
    np.savez(art / "demo" / "adasyn.npz", X_res=np.vstack([X, X[-3:]]), y_res=np.r_[np.zeros(9), np.ones(6)])
    write(art / "manifest.json", json.dumps({"demo/count.json": "demo.count", "demo/adasyn.npz": "demo.adasyn"}))
    return art, heldback


def launch(art, hb, tmp_path, **kw) -> CheckPhase:
    kw.setdefault("checks_dir", CHECKS_DIR)
    kw.setdefault("rubric_dir", RUBRIC_DIR)
    return run_checks(art, hb, "smoke", tmp_path / "checks.json", log_path=tmp_path / "log.txt", **kw)


def run(art, hb, tmp_path, **kw) -> dict | None:
    """The results file the check process wrote (None: it wrote none)."""
    return launch(art, hb, tmp_path, **kw).results


def test_plugin_scores_each_check_and_honours_visible_only(artifacts, tmp_path):
    art, hb = artifacts
    full = run(art, hb, tmp_path)
    assert [(c["name"], c["earned"], c["status"]) for c in full["checks"]] == [
        ("demo.count", 2.0, "passed"), ("demo.adasyn_originals", 3.0, "passed")]
    visible = run(art, hb, tmp_path, visible_only=True)
    assert [c["name"] for c in visible["checks"]] == ["demo.count"]
    assert run(art, hb, tmp_path, tasks=("nli",))["checks"] == []


def test_a_failed_step_and_a_foreign_artifact_fail_with_bilingual_messages(artifacts, tmp_path):
    art, hb = artifacts
    write(art / "steps" / "demo.count.json", json.dumps({"step": "demo.count", "status": "error",
                                                         "error_type": "NotImplementedError",
                                                         "where": "nli.count_parameters (line 3)"}))
    write(art / "manifest.json", json.dumps({"demo/count.json": "demo.count", "demo/adasyn.npz": "demo.count"}))
    checks = {c["name"]: c for c in run(art, hb, tmp_path)["checks"]}
    assert checks["demo.count"]["message_en"] == ("nli.count_parameters (line 3) is not implemented yet "
                                                  "(it raised NotImplementedError).")
    assert "هنوز پیاده‌سازی نشده" in checks["demo.count"]["message_fa"]
    assert checks["demo.adasyn_originals"]["message_en"] == (
        "The artifact demo/adasyn.npz was not written by step demo.adasyn (found: 'demo.count').")


def test_unknown_check_id_and_orphan_rubric_entry_are_reported_by_name(artifacts, tmp_path):
    art, hb = artifacts
    checks = tmp_path / "checks"
    shutil.copytree(CHECKS_DIR, checks)
    text = (checks / "demo_checks.py").read_text().replace('check("demo.count")', 'check("demo.cuont")')
    write(checks / "demo_checks.py", text)
    assert run(art, hb, tmp_path, checks_dir=checks) is None
    log = (tmp_path / "log.txt").read_text()
    assert "demo_checks.py::test_count: check id 'demo.cuont' is not in the rubric" in log

    rubric = tmp_path / "rubric"
    write(rubric / "demo.toml", (RUBRIC_DIR / "demo.toml").read_text() + GOOD.replace("t.one", "demo.extra"))
    assert run(art, hb, tmp_path, rubric_dir=rubric) is None
    assert "demo.toml ['demo.extra']: no check has this id" in (tmp_path / "log.txt").read_text()


def test_a_check_module_that_cannot_import_costs_only_its_own_checks(artifacts, tmp_path):
    art, hb = artifacts
    checks = tmp_path / "checks"
    shutil.copytree(CHECKS_DIR, checks)
    text = (checks / "demo_checks.py").read_text()
    head, tail = text.split('@pytest.mark.check("demo.adasyn_originals")')
    write(checks / "demo_checks.py", head)
    write(checks / "demo_broken.py", "import numpy as np\nimport pytest\nfrom grader.checks._support import fail\n"
                                     "import no_such_module_anywhere\n\n"
                                     '@pytest.mark.check("demo.adasyn_originals")' + tail)
    result = run(art, hb, tmp_path, checks_dir=checks)
    by_name = {c["name"]: c for c in result["checks"]}
    assert by_name["demo.count"]["earned"] == 2.0
    assert by_name["demo.adasyn_originals"]["status"] == "error"
    assert "grader itself failed" in by_name["demo.adasyn_originals"]["message_en"]
    assert any("demo_broken.py" in e for e in result["collection_errors"])


def test_a_conftest_and_an_ini_planted_in_the_checks_folder_are_ignored(artifacts, tmp_path):
    """Grading as an ordinary user, a step could write into the checks folder: nothing there but checks runs."""
    art, hb = artifacts
    (art / "demo" / "count.json").write_text(json.dumps({"trainable": 1, "total": 1}))     # a wrong count
    checks = tmp_path / "checks"
    shutil.copytree(CHECKS_DIR, checks)
    marker = tmp_path / "planted-ran"
    forge = ("import pytest\nopen(%r, 'w').write('x')\n\n@pytest.hookimpl(hookwrapper=True)\n"
             "def pytest_runtest_makereport(item, call):\n    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
    write(checks / "conftest.py", forge % str(marker))
    write(checks / "pytest.ini", "[pytest]\naddopts = --no-such-option-planted\n")
    result = run(art, hb, tmp_path, checks_dir=checks)
    assert not marker.exists()
    assert [(c["name"], c["status"]) for c in result["checks"]] == [
        ("demo.count", "failed"), ("demo.adasyn_originals", "passed")]


def test_the_launcher_returns_what_it_measured(artifacts, tmp_path):
    """One value per run: the results, pytest's exit status, the process's peak memory and its time."""
    art, hb = artifacts
    phase = launch(art, hb, tmp_path)
    assert phase.exit_status == 0 and not phase.timed_out
    assert 20 < phase.peak_mb < 8192 and phase.wall_s > 0
    assert [(c.name, c.earned) for c in phase.checks] == [("demo.count", 2.0), ("demo.adasyn_originals", 3.0)]
    (art / "demo" / "count.json").write_text(json.dumps({"trainable": 1, "total": 1}))     # a wrong count
    assert launch(art, hb, tmp_path).exit_status == 1                                       # a check failed
    assert "pytest exit status 1" in (tmp_path / "log.txt").read_text()
    stopped = launch(art, hb, tmp_path, timeout_s=0.01)
    assert stopped.timed_out and stopped.results is None and stopped.checks == []
    assert stopped.exit_status == -9


def test_a_check_process_that_writes_nothing_scores_every_entry_zero_as_a_grader_error(tmp_path):
    results = grader_error_results(tmp_path / "checks.json", "smoke", rubric_dir=RUBRIC_DIR, visible_only=True)
    assert [(r.name, r.points, r.earned, r.status) for r in results] == [("demo.count", 2.0, 0.0, "error")]
    assert "grader itself failed" in results[0].message_en
    written = json.loads((tmp_path / "checks.json").read_text())
    assert written["grader_error"] is True and [c["name"] for c in written["checks"]] == ["demo.count"]



def test_a_grader_error_grade_keeps_the_courses_rubric(tmp_path):
    """The maximum of a failed check phase is the course's: its points, and not the checks it switched off."""
    overrides = {"demo.count": {"points": 5}, "demo.adasyn_originals": {"enabled": False}}
    results = grader_error_results(tmp_path / "checks.json", "smoke", rubric_dir=RUBRIC_DIR, overrides=overrides)
    assert [(r.name, r.points, r.earned, r.status) for r in results] == [("demo.count", 5.0, 0.0, "error")]


def test_each_result_records_where_its_check_is(artifacts, tmp_path):
    art, hb = artifacts
    checks = run(art, hb, tmp_path)["checks"]
    assert [(c["name"], c["location"]) for c in checks] == [
        ("demo.count", "demo_checks.py::test_count"),
        ("demo.adasyn_originals", "demo_checks.py::test_adasyn_keeps_originals")]


def test_a_helper_module_named_with_an_underscore_is_never_collected(artifacts, tmp_path):
    """``_*.py`` in a checks folder holds helpers: a ``test_`` function there is no check (nor a rubric error)."""
    art, hb = artifacts
    checks = tmp_path / "checks"
    shutil.copytree(CHECKS_DIR, checks)
    marker = tmp_path / "helper-imported"
    write(checks / "_helper.py", f"open({str(marker)!r}, 'w').write('x')\n\n"
                                 "def test_not_a_check():\n    raise AssertionError('collected')\n")
    result = run(art, hb, tmp_path, checks_dir=checks)
    assert result is not None and result["collection_errors"] == []
    assert [(c["name"], c["status"]) for c in result["checks"]] == [
        ("demo.count", "passed"), ("demo.adasyn_originals", "passed")]
    assert not marker.exists()
    assert "test_not_a_check" not in (tmp_path / "log.txt").read_text()
