"""Batch grading: content-hash skip, resume after a kill, parallel jobs, gradebook, CLI errors."""

import csv
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import jsonschema
import pytest

from grader import batch
from grader.results.gradescope import SCHEMA_PATH
from grader.run.orchestrate import REPO
from grader.run.sandbox import Limits
from tests.mizan_demo import CHECKS_DIR, HERE, RUBRIC_DIR, STEP_MODULE, open_tmpdir, prepare_demo_inputs

LIMITS = Limits(wall_s=30, address_space_mb=2048)


@pytest.fixture()
def env(monkeypatch):
    with open_tmpdir() as tmp:
        monkeypatch.setenv("MIZAN_BUILD", str(tmp / "build"))
        inputs = prepare_demo_inputs(tmp / "build" / "cache" / "inputs" / "smoke",
                                     tmp / "build" / "cache" / "heldback" / "smoke")
        subs = tmp / "subs"
        for name in ("amy", "bob", "cyrus"):
            shutil.copytree(HERE / "honest", subs / name)
        (subs / "amy" / "student.toml").write_text('name = "Amy Karimi"\nstudent_id = "4011"\n')
        (subs / "not-a-submission").mkdir()
        kwargs = dict(tasks=("demo",), step_modules=(STEP_MODULE,), checks_dir=CHECKS_DIR, rubric_dir=RUBRIC_DIR,
                      inputs=inputs, limits=LIMITS, feedback=False)
        yield types.SimpleNamespace(tmp=tmp, subs=subs, out=tmp / "build" / "grades", kwargs=kwargs)


def test_parallel_batch_then_hash_skip_then_regrade_of_a_changed_submission(env):
    lines = []
    subs = batch.find_submissions(env.subs)
    assert [s.name for s in subs] == ["amy", "bob", "cyrus"]
    first = batch.grade_many(subs, "smoke", env.out, jobs=2, progress=lines.append, **env.kwargs)
    assert [(s.id, s.status, s.score, s.max_score) for s in first] == [
        ("amy", "graded", 5.0, 5.0), ("bob", "graded", 5.0, 5.0), ("cyrus", "graded", 5.0, 5.0)]
    assert sorted(line.split("] ")[1].split(" ...")[0] for line in lines) == ["amy", "bob", "cyrus"]
    assert lines[-1].startswith("[3/3] ")
    schema = json.loads(SCHEMA_PATH.read_text())
    for s in first:
        jsonschema.validate(json.loads((env.out / s.id / "results.json").read_text()), schema)

    rows = list(csv.DictReader((env.out / "gradebook.csv").open(encoding="utf-8")))
    assert [(r["id"], r["name"], r["student_id"], r["score"], r["demo.count"]) for r in rows] == [
        ("amy", "Amy Karimi", "4011", "5.0", "2.0"), ("bob", "", "", "5.0", "2.0"), ("cyrus", "", "", "5.0", "2.0")]

    (env.subs / "bob" / "submission" / "nli.py").write_text("def count_parameters(model):\n    return (0, 0)\n")
    second = batch.grade_many(subs, "smoke", env.out, jobs=1, progress=lambda _: None, **env.kwargs)
    assert [(s.id, s.status, s.score) for s in second] == [
        ("amy", "skipped", 5.0), ("bob", "graded", 3.0), ("cyrus", "skipped", 5.0)]
    rows = list(csv.DictReader((env.out / "gradebook.csv").open(encoding="utf-8")))
    assert [r["score"] for r in rows] == ["5.0", "3.0", "5.0"]


def test_a_killed_batch_resumes_keeping_what_was_finished(env):
    subs = batch.find_submissions(env.subs)
    done = batch.grade_submission(subs[0], "smoke", env.out / "amy", **env.kwargs)
    finished_at = json.loads((env.out / "amy" / "grade.json").read_text())["graded_at"]
    # bob was being graded when the batch was killed: artifacts and a log, but no grade.json.
    (env.out / "bob" / "artifacts" / "demo").mkdir(parents=True)
    (env.out / "bob" / "artifacts" / "demo" / "count.json").write_text("{}")
    (env.out / "bob" / "run.log").write_text("killed midway\n")
    resumed = batch.grade_many(subs, "smoke", env.out, progress=lambda _: None, **env.kwargs)
    assert done.status == "graded"
    assert [(s.id, s.status) for s in resumed] == [("amy", "skipped"), ("bob", "graded"), ("cyrus", "graded")]
    assert json.loads((env.out / "amy" / "grade.json").read_text())["graded_at"] == finished_at
    assert "killed midway" not in (env.out / "bob" / "run.log").read_text()


def test_content_hash_covers_the_api_modules_and_the_profile(env):
    sub = env.subs / "amy"
    h = batch.content_hash(sub, "smoke")
    assert h == batch.content_hash(sub, "smoke") and h != batch.content_hash(sub, "cpu")
    (sub / "submission" / "notes.txt").write_text("not an API module")
    assert batch.content_hash(sub, "smoke") == h
    (sub / "submission" / "fraud.py").write_text("x = 1\n")
    h2 = batch.content_hash(sub, "smoke")
    assert h2 != h


def test_content_hash_changes_when_the_grader_changes(env, monkeypatch):
    sub = env.subs / "amy"
    h = batch.content_hash(sub, "smoke")
    monkeypatch.setattr(batch, "grader_fingerprint", lambda: "a fixed check")
    assert batch.content_hash(sub, "smoke") != h


def test_a_broken_check_phase_and_a_broken_feedback_never_lose_the_grade(env, monkeypatch, tmp_path):
    rubric = tmp_path / "rubric"
    rubric.mkdir()
    (rubric / "demo.toml").write_text((RUBRIC_DIR / "demo.toml").read_text() +
                                      '\n["demo.orphan"]\npoints = 1\nvisibility = "visible"\n'
                                      'title_en = "x"\ntitle_fa = "ایکس"\n')
    # The feedback runs in a child process (grader.batch._post_phase): break it there, where it writes.
    (env.out / "amy" / "feedback.html").mkdir(parents=True)
    kwargs = {**env.kwargs, "rubric_dir": rubric, "feedback": True}
    summary = batch.grade_submission(env.subs / "amy", "smoke", env.out / "amy", **kwargs)
    # The grade is kept (results.json) but is not the submission's: an error, never cached (issue 13).
    assert (summary.status, summary.score, summary.max_score) == ("error", 0.0, 6.0)
    assert summary.message.startswith("the grader could not grade this run (the check phase wrote no results)")
    doc = json.loads((env.out / "amy" / "results.json").read_text())
    assert {t["status"] for t in doc["tests"]} == {"failed"}
    assert all("grader itself failed" in t["output"] for t in doc["tests"])
    log = (env.out / "amy" / "run.log").read_text()
    assert "no check has this id" in log and "feedback failed: IsADirectoryError" in log
    meta = json.loads((env.out / "amy" / "grade.json").read_text())
    assert meta["regrade"] is True and meta["grader_errors"] == ["the check phase wrote no results"]
    again = batch.grade_submission(env.subs / "amy", "smoke", env.out / "amy", **{**kwargs, "feedback": False})
    assert again.status == "error"          # graded again, not "skipped": the failed run was not cached


def test_a_lost_checks_json_is_graded_again_and_each_step_is_announced(env):
    """Issue 13: a second run once checks.json is gone grades again instead of reading the lost file."""
    import re

    out, lines = env.out / "amy", []
    first = batch.grade_submission(env.subs / "amy", "smoke", out, progress=lines.append, **env.kwargs)
    assert (first.status, first.score) == ("graded", 5.0)
    steps = [ln for ln in lines if ln.startswith("  step ")]
    started = [ln for ln in steps if ln.endswith(" ... started")]
    ended = [ln for ln in steps if not ln.endswith(" ... started")]
    assert len(started) == len(ended) >= 2, steps        # side by side: each step starts once and ends once
    assert re.fullmatch(r"  step 1/(\d+) demo\.\S+ \.\.\. started", steps[0]), steps
    assert all(re.fullmatch(r"  step \d+/\d+ demo\.\S+ \.\.\. \w+.* in \d+\.\d s", ln) for ln in ended), steps
    assert sorted(ln.split(" ... ")[0] for ln in started) == sorted(ln.split(" ... ")[0] for ln in ended), steps
    assert re.fullmatch(r"checks: \d+ of \d+ passed, 5/5 points, in \d+\.\d s", lines[-1]), lines
    assert batch.grade_submission(env.subs / "amy", "smoke", out, **env.kwargs).status == "skipped"
    (out / "checks.json").unlink()
    again = batch.grade_submission(env.subs / "amy", "smoke", out, **env.kwargs)
    assert (again.status, again.score) == ("graded", 5.0)
    assert (out / "checks.json").is_file()


def test_reference_submission_is_built_from_solutions(tmp_path):
    ref = batch.reference_submission(tmp_path)
    assert sorted(p.name for p in (ref / "submission").iterdir()) == ["__init__.py", "adasyn.py", "fraud.py", "nli.py"]
    assert (ref / "submission" / "nli.py").read_bytes() == (REPO / "solutions" / "nli.py").read_bytes()


@pytest.mark.parametrize("argv, message", [
    (["grade", "--submission", "/no/such/folder"], "mizan: /no/such/folder: no such folder"),
    (["grade", "--submission", "{tmp}"], "no submission/ folder inside"),
    (["check", "--submission", "{tmp}"], "no submission/ folder inside"),
    (["grade", "--submissions", "{tmp}"], "no folder inside holds submission/"),
    (["grade", "--submission", "{tmp}", "--submissions", "{tmp}"], "either --submission or --submissions"),
])
def test_cli_rejects_bad_paths_with_exit_2_and_no_traceback(tmp_path, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "grader", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_concurrent_grades_is_announced_to_the_sandbox_and_restored(monkeypatch):
    from grader.run.sandbox import CONCURRENT_GRADES_ENV, step_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setenv(CONCURRENT_GRADES_ENV, "3")
    with batch._concurrent_grades(2):
        assert os.environ[CONCURRENT_GRADES_ENV] == "2" and step_threads() == 2
    assert os.environ[CONCURRENT_GRADES_ENV] == "3"
    monkeypatch.delenv(CONCURRENT_GRADES_ENV)
    with batch._concurrent_grades(1):
        assert step_threads() == 4
    assert CONCURRENT_GRADES_ENV not in os.environ


def test_a_bad_student_toml_stops_that_submission_before_anything_runs(tmp_path):
    from grader.errors import StudentFileError

    sub = tmp_path / "dana"
    shutil.copytree(HERE / "honest", sub)
    (sub / "student.toml").write_text('name = "Dana"\nstudent_id = "=1+2"\n')
    with pytest.raises(StudentFileError) as err:
        batch.grade_submission(sub, "smoke", tmp_path / "out", inputs=(tmp_path, tmp_path))
    assert str(err.value) == (f"{sub.resolve() / 'student.toml'}: student_id '=1+2' is not a student ID: use only "
                              f"letters, digits, '-', '_' and '.', at most 64 characters (write it as:\n"
                              f'  name = "Sara Ahmadi"\n  student_id = "40112345")')
    assert not (tmp_path / "out").exists()
    summary = batch._grade_worker((str(sub), "smoke", str(tmp_path / "out"), {"inputs": (tmp_path, tmp_path)}))
    assert (summary.status, summary.message) == ("error", f"StudentFileError: {err.value}")


def test_an_overloaded_step_is_run_again_and_a_starved_grade_is_not_final(env, monkeypatch):
    """The CPU-starved verdict never reaches a student as a zero: the step reruns, and a grade that stays
    starved is marked for regrading and regraded (not skipped) by the next run."""
    from grader.run import orchestrate
    from grader.run.sandbox import SandboxOutcome

    real = orchestrate._run_step_once
    calls = []

    def starved_once(spec, **kw):
        calls.append(spec.id)
        if spec.id == "demo.adasyn" and calls.count(spec.id) <= limit[0]:
            return SandboxOutcome("overloaded", None, 99.0, 0.0, "", "", ("wall-clock backstop ... regrade",),
                                  1.0, "bwrap"), None
        return real(spec, **kw)

    limit = [1]
    monkeypatch.setattr(orchestrate, "_run_step_once", starved_once)
    first = batch.grade_submission(env.subs / "amy", "smoke", env.out / "amy", **env.kwargs)
    assert (first.status, first.score) == ("graded", 5.0) and calls.count("demo.adasyn") == 2

    limit[0] = 2
    calls.clear()
    starved = batch.grade_submission(env.subs / "amy", "smoke", env.out / "amy", force=True, **env.kwargs)
    checks = json.loads((env.out / "amy" / "checks.json").read_text())["checks"]
    adasyn = next(c for c in checks if c["name"] == "demo.adasyn_originals")
    assert (starved.status, starved.score) == ("overloaded", 2.0)
    assert adasyn["message_en"].startswith("GRADER OVERLOADED, REGRADE: step demo.adasyn")
    assert json.loads((env.out / "amy" / "grade.json").read_text())["regrade"] is True

    limit[0] = 0
    again = batch.grade_submission(env.subs / "amy", "smoke", env.out / "amy", **env.kwargs)
    assert (again.status, again.score) == ("graded", 5.0)           # regraded, not skipped
