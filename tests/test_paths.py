"""grader.paths: one build folder for every command, whatever folder a command is started from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader import batch, cli, paths, slurm
from grader.experiments.cli import experiments_dir
from grader.profiles import get_profile
from grader.report import render

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "report"


@pytest.fixture
def mizan(tmp_path, monkeypatch):
    """A copy of Mizan at ``tmp_path/mizan`` (only its folder: ``paths.ROOT``), no MIZAN_BUILD, and a
    working folder elsewhere."""
    root = tmp_path / "mizan"
    root.mkdir()
    monkeypatch.setattr(paths, "ROOT", root)
    monkeypatch.delenv(paths.BUILD_ENV, raising=False)
    monkeypatch.delenv("MIZAN_CONFIG", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return root


def test_the_build_folder_does_not_follow_the_working_folder(mizan, tmp_path, monkeypatch):
    assert paths.build_dir() == mizan / "build"
    monkeypatch.chdir(tmp_path)
    assert paths.build_dir() == mizan / "build"
    assert experiments_dir("alice", "smoke") == mizan / "build" / "experiments" / "alice" / "smoke"


def test_mizan_build_moves_it_and_is_made_absolute(mizan, tmp_path, monkeypatch):
    monkeypatch.setenv(paths.BUILD_ENV, str(tmp_path / "shared"))
    assert paths.build_dir() == tmp_path / "shared"
    monkeypatch.setenv(paths.BUILD_ENV, "relative/build")
    assert paths.build_dir() == tmp_path / "elsewhere" / "relative" / "build"
    assert paths.build_dir().is_absolute()


def test_the_reference_is_copied_into_the_build_folder(mizan):
    ref = batch.reference_submission()
    assert ref == mizan / "build" / "reference"
    assert (ref / "submission" / "nli.py").read_bytes() == (REPO / "solutions" / "nli.py").read_bytes()


def _fake_grading(out: Path, sub: Path, profile: str, *, visible_only: bool) -> None:
    """What a grade leaves for the report: checks.json, summary/*.json and grade.json with the content hash."""
    (out / "summary").mkdir(parents=True, exist_ok=True)
    for name in ("nli_full.json", "nli_freeze.json", "nli_lora.json", "fraud.json"):
        shutil.copy(FIXTURES / "full" / name, out / "summary" / name)
    shutil.copy(FIXTURES / "full" / "checks.json", out / "checks.json")
    (out / "grade.json").write_text(json.dumps({
        "profile": profile, "tasks": [], "visible_only": visible_only, "graded_at": "2026-11-29T07:00:00",
        "hash": batch.content_hash(sub, profile, (), visible_only)}), encoding="utf-8")


def test_report_started_elsewhere_finds_what_grade_wrote(mizan, tmp_path, monkeypatch, capsys):
    """`make grade` in one folder, `make report` in another: the report reuses that grading."""
    sub = tmp_path / "alice"
    shutil.copytree(REPO / "assignment" / "starter" / "submission", sub / "submission")
    (sub / "student.toml").write_text('name = "Alice Karimi"\nstudent_id = "40100001"\n', encoding="utf-8")

    def fake_grade_many(subs, profile, out_root, **kw):       # no real grade: what one leaves behind
        for s in subs:
            _fake_grading(Path(out_root) / s.name, s, profile.name, visible_only=False)
        return [batch.GradeSummary(s.name, "graded", out_dir=str(Path(out_root) / s.name)) for s in subs]

    def no_grading(*args, **kwargs):
        raise AssertionError("the report graded again instead of finding the grade")

    rendered = []
    monkeypatch.setattr(batch, "grade_many", fake_grade_many)
    monkeypatch.setattr(batch, "grade_submission", no_grading)
    monkeypatch.setattr(render, "build_report", lambda results, **kw: rendered.append((results, kw)))

    assert cli.main(["grade", "--profile", "smoke", "--submission", str(sub)]) == 0
    graded = mizan / "build" / "grades" / "alice"
    assert (graded / "grade.json").is_file()
    assert not (tmp_path / "elsewhere" / "build").exists()

    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    assert cli.main(["report", "--profile", "smoke", "--submission", str(sub)]) == 0, capsys.readouterr().err
    (results, kw), = rendered
    assert results == graded / "summary" and kw["checks"] == graded
    assert kw["out_pdf"] == mizan / "build" / "reports" / "alice" / "smoke" / "report.pdf"
    assert not (other / "build").exists()


def test_check_writes_into_the_build_folder(mizan, tmp_path, monkeypatch):
    sub = tmp_path / "bob"
    shutil.copytree(REPO / "assignment" / "starter" / "submission", sub / "submission")
    seen = []

    def fake_grade_submission(sub_dir, profile, out_dir, **kw):
        seen.append(Path(out_dir))
        _fake_grading(Path(out_dir), Path(sub_dir), profile.name, visible_only=True)
        return batch.GradeSummary("bob", "graded", out_dir=str(out_dir))

    monkeypatch.setattr(batch, "grade_submission", fake_grade_submission)
    cli.main(["check", "--profile", "smoke", "--submission", str(sub)])
    assert seen == [mizan / "build" / "check" / "bob"]


def test_a_slurm_task_uses_the_build_folder_of_the_submitting_side(mizan, tmp_path, monkeypatch):
    """The input cache is prepared before sbatch; a task reads it there even if its node's environment
    (or working folder) would say otherwise."""
    monkeypatch.setenv(paths.BUILD_ENV, str(tmp_path / "shared"))
    profile = get_profile("smoke")
    sub = tmp_path / "subs" / "carol"
    shutil.copytree(REPO / "assignment" / "starter" / "submission", sub / "submission")
    script = slurm.write_job(tmp_path / "grades", [sub], profile, slurm.resources(profile), slurm.SlurmOptions(),
                             tasks=(), force=False, allow_unsandboxed=False)
    manifest = script.with_suffix(".json")
    assert json.loads(manifest.read_text())["build"] == str(tmp_path / "shared")

    monkeypatch.setenv(paths.BUILD_ENV, str(tmp_path / "node-default"))
    used = []

    def fake_grade_or_error(sub_dir, profile, out, **kw):
        used.append((paths.build_dir(), Path(out)))
        return batch.GradeSummary("carol", "graded", out_dir=str(out))

    monkeypatch.setattr(batch, "grade_or_error", fake_grade_or_error)
    assert slurm.run_task(manifest, 0) == 0
    assert used == [(tmp_path / "shared", tmp_path / "grades" / "carol")]
