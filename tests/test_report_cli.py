"""`python -m grader report`: which results and checks the report is made from (no PDF rendered)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from grader import batch
from grader.cli import build_parser
from grader.errors import MizanError
from grader.report import cli as report_cli
from grader.report import render

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "report"


@pytest.fixture
def setup(tmp_path, monkeypatch):
    sub = tmp_path / "alice"
    shutil.copytree(REPO / "assignment" / "starter" / "submission", sub / "submission")
    (sub / "student.toml").write_text('name = "Alice Karimi"\nstudent_id = "40100001"\n', encoding="utf-8")
    build = tmp_path / "build"
    monkeypatch.setenv("MIZAN_BUILD", str(build))
    calls = {"report": [], "grade": []}

    def fake_report(results_dir, **kw):
        calls["report"].append((Path(results_dir), kw))
        return kw["out_pdf"]

    def fake_grade(sub_dir, profile, out_dir, **kw):
        profile = getattr(profile, "name", profile)      # the command passes its effective Profile
        calls["grade"].append((Path(sub_dir), profile, Path(out_dir), kw))
        _graded(Path(out_dir), Path(sub_dir), profile, visible_only=kw.get("visible_only", False))
        return batch.GradeSummary(Path(sub_dir).name, "graded", out_dir=str(out_dir))

    monkeypatch.setattr(render, "build_report", fake_report)
    monkeypatch.setattr(batch, "grade_submission", fake_grade)
    return sub, build, calls


def _graded(out: Path, sub: Path, profile: str, *, visible_only: bool = False, graded_at: str = "2026-11-29T07:00:00"):
    (out / "summary").mkdir(parents=True, exist_ok=True)
    for name in ("nli_full.json", "nli_freeze.json", "nli_lora.json", "fraud.json"):
        shutil.copy(FIXTURES / "full" / name, out / "summary" / name)
    shutil.copy(FIXTURES / "full" / "checks.json", out / "checks.json")
    (out / "grade.json").write_text(json.dumps({
        "profile": profile, "tasks": [], "visible_only": visible_only, "graded_at": graded_at,
        "hash": batch.content_hash(sub, profile, (), visible_only)}), encoding="utf-8")


def _args(sub: Path, lang: str = "both") -> argparse.Namespace:
    return build_parser().parse_args(["report", "--profile", "smoke", "--submission", str(sub), "--lang", lang])


def test_report_command_is_wired_to_run_report(monkeypatch):
    args = build_parser().parse_args(["report", "--lang", "fa"])
    assert args.lang == "fa"
    monkeypatch.setattr(report_cli, "run_report", lambda given: 7 if given is args else 0)
    assert args.func(args) == 7       # the handler hands the parsed arguments to the report phase


def test_an_up_to_date_grading_is_reused(setup):
    sub, build, calls = setup
    _graded(build / "grades" / "alice", sub, "smoke")
    assert report_cli.run_report(_args(sub, "fa")) == 0
    assert calls["grade"] == []
    (results_dir, kw), = calls["report"]
    assert results_dir == build / "grades" / "alice" / "summary"
    assert kw["checks"] == build / "grades" / "alice"
    assert kw["lang"] == "fa" and kw["student"].name == "Alice Karimi"
    assert kw["out_pdf"] == build / "reports" / "alice" / "smoke" / "report.pdf"   # one folder per profile
    assert kw["analysis"] == sub


def test_the_newest_matching_grading_wins(setup):
    sub, build, calls = setup
    _graded(build / "grades" / "alice", sub, "smoke", graded_at="2026-11-29T07:00:00")
    _graded(build / "check" / "alice", sub, "smoke", visible_only=True, graded_at="2026-11-29T07:30:00")
    report_cli.run_report(_args(sub))
    assert calls["report"][0][1]["checks"] == build / "check" / "alice"


def test_a_changed_submission_is_checked_again(setup):
    sub, build, calls = setup
    _graded(build / "grades" / "alice", sub, "smoke")
    (sub / "submission" / "nli.py").write_text("# changed\n", encoding="utf-8")
    report_cli.run_report(_args(sub))
    (gsub, profile, out, kw), = calls["grade"]
    assert (gsub, profile, out) == (sub.resolve(), "smoke", build / "check" / "alice")
    assert callable(kw.pop("progress"))     # each step is announced on the terminal
    assert kw == {"visible_only": True, "feedback": False, "allow_unsandboxed": False}   # sandboxed outside a bundle
    assert calls["report"][0][0] == build / "check" / "alice" / "summary"


def test_another_profile_is_not_reused(setup):
    sub, build, calls = setup
    _graded(build / "grades" / "alice", sub, "cpu")
    report_cli.run_report(_args(sub))
    assert len(calls["grade"]) == 1


def test_malformed_student_toml_stops_before_grading(setup):
    sub, build, calls = setup
    (sub / "student.toml").write_text('name = "Alice"\n', encoding="utf-8")
    with pytest.raises(MizanError, match=r"student\.toml lacks student_id"):
        report_cli.run_report(_args(sub))
    assert calls["grade"] == [] and calls["report"] == []


def test_a_grading_without_results_still_reports_the_checks(setup, capsys):
    sub, build, calls = setup
    _graded(build / "grades" / "alice", sub, "smoke")
    shutil.rmtree(build / "grades" / "alice" / "summary")
    assert report_cli.run_report(_args(sub)) == 0
    assert "warning: no results JSON in" in capsys.readouterr().out
    assert calls["report"][0][1]["checks"] == build / "grades" / "alice"
