"""One student.toml, one reader: the gradebook and the report name the same student from the same file."""

from __future__ import annotations

import csv
import shutil
import types

from grader import batch
from grader.cli import build_parser
from grader.report import cli as report_cli
from grader.report import render
from grader.run.sandbox import Limits
from grader.student_info import Student
from tests.mizan_demo import CHECKS_DIR, HERE, RUBRIC_DIR, STEP_MODULE, open_tmpdir, prepare_demo_inputs

STUDENT_TOML = 'name = "سارا احمدی"\nid = "s-4012.x_1"\nemail = "sara@example.com"\n'
"""``id`` rather than the documented ``student_id``: the form the gradebook always accepted."""


def test_id_in_student_toml_reaches_the_gradebook_and_the_report(monkeypatch):
    with open_tmpdir() as tmp:
        monkeypatch.setenv("MIZAN_BUILD", str(tmp / "build"))
        inputs = prepare_demo_inputs(tmp / "build" / "cache" / "inputs" / "smoke",
                                     tmp / "build" / "cache" / "heldback" / "smoke")
        sub = tmp / "subs" / "sara"
        shutil.copytree(HERE / "honest", sub)
        (sub / "student.toml").write_text(STUDENT_TOML, encoding="utf-8")

        # the gradebook path: grade (student.toml read before anything runs) -> grade.json -> gradebook.csv
        graded = batch.grade_many([sub], "smoke", tmp / "build" / "grades", jobs=1, progress=lambda _: None,
                                  tasks=("demo",), step_modules=(STEP_MODULE,), checks_dir=CHECKS_DIR,
                                  rubric_dir=RUBRIC_DIR, inputs=inputs, limits=Limits(wall_s=30, address_space_mb=2048),
                                  feedback=False)
        assert [s.status for s in graded] == ["graded"]
        rows = list(csv.DictReader((tmp / "build" / "grades" / "gradebook.csv").open(encoding="utf-8")))
        assert [(r["id"], r["name"], r["student_id"]) for r in rows] == [("sara", "سارا احمدی", "s-4012.x_1")]

        # the report path: `grader report` reads the same file for the cover
        reported = {}
        monkeypatch.setattr(render, "build_report", lambda results_dir, **kw: reported.update(kw) or kw["out_pdf"])
        monkeypatch.setattr(batch, "grade_submission", lambda sub_dir, profile, out_dir, **kw: types.SimpleNamespace(
            status="graded", message=""))
        args = build_parser().parse_args(["report", "--profile", "smoke", "--submission", str(sub)])
        assert report_cli.run_report(args) == 0
        assert reported["student"] == Student("سارا احمدی", "s-4012.x_1", "sara@example.com")
