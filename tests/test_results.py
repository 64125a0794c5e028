"""Scoring, the Gradescope results.json schema, the gradebook."""

import csv
import json

import jsonschema
import pytest

from grader.errors import StudentFileError
from grader.results.gradebook import csv_cell, write_gradebook
from grader.results.gradescope import SCHEMA_PATH, gradescope_results, write_json_atomic
from grader.results.model import CheckResult, Outcome, score_checks, totals
from grader.rubric import RubricEntry
from grader.student_info import Student, read_student


def entry(cid, points, visibility="visible", task="nli"):
    return RubricEntry(cid, points, visibility, f"title {cid}", f"عنوان {cid}", task, "rubric/nli.toml")


RUBRIC = [entry("nli.a", 2), entry("nli.b", 1.5, "hidden"), entry("nli.c", 3)]


def test_scoring_is_all_or_nothing_and_a_missing_outcome_is_a_grader_error():
    outcomes = {"nli.a": Outcome("passed"), "nli.b": Outcome("failed", "expected 1, found 2", "انتظار ۱")}
    results = score_checks(RUBRIC, outcomes)
    assert [(r.name, r.earned, r.points, r.status) for r in results] == [
        ("nli.a", 2.0, 2.0, "passed"), ("nli.b", 0.0, 1.5, "failed"), ("nli.c", 0.0, 3.0, "error")]
    assert "grader itself failed" in results[2].message_en and "ارزیاب" in results[2].message_fa
    assert totals(results) == (2.0, 6.5)


def test_visible_only_drops_hidden_checks_from_the_total():
    results = score_checks(RUBRIC, {"nli.a": Outcome("passed"), "nli.c": Outcome("passed")}, visible_only=True)
    assert [r.name for r in results] == ["nli.a", "nli.c"]
    assert totals(results) == (5.0, 5.0)


def test_each_result_carries_its_checks_location():
    results = score_checks(RUBRIC, {"nli.a": Outcome("passed")}, locations={"nli.a": "nli_params.py::test_a"})
    assert [(r.name, r.location) for r in results] == [("nli.a", "nli_params.py::test_a"), ("nli.b", ""),
                                                        ("nli.c", "")]
    assert CheckResult.from_dict(results[0].to_dict()).location == "nli_params.py::test_a"


def test_unknown_outcome_status_is_refused():
    with pytest.raises(ValueError, match="unknown outcome status 'maybe'"):
        score_checks(RUBRIC[:1], {"nli.a": Outcome("maybe")})


def test_results_json_matches_gradescope_schema_and_keeps_both_languages():
    results = score_checks(RUBRIC, {"nli.a": Outcome("passed"),
                                    "nli.b": Outcome("failed", "Expected B = 0; found 0.3.", "انتظار B = 0؛ 0.3 یافت شد.")})
    doc = gradescope_results(results, execution_time=12.345, output="summary")
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validate(doc, schema)
    assert doc["score"] == 2.0 and doc["execution_time"] == 12.35
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed", "failed"]
    assert [t["visibility"] for t in doc["tests"]] == ["visible", "hidden", "visible"]
    assert doc["tests"][1]["output"] == "Expected B = 0; found 0.3.\n\nانتظار B = 0؛ 0.3 یافت شد."
    assert "leaderboard" not in doc


def test_schema_rejects_what_gradescope_would_reject():
    schema = json.loads(SCHEMA_PATH.read_text())
    good = {"score": 1, "execution_time": 2, "tests": [{"name": "x", "score": 1, "max_score": 1,
                                                          "status": "passed", "visibility": "visible"}]}
    jsonschema.validate(good, schema)
    for bad in ({**good, "execution_time": "2s"},
                {**good, "tests": [{**good["tests"][0], "status": "ok"}]},
                {**good, "tests": [{**good["tests"][0], "visibility": "secret"}]},
                {**good, "scroe": 3}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_checkresult_round_trips_through_a_dict():
    r = CheckResult("nli.a", "t", "ع", 2.0, 2.0, "visible", "passed", "", "", "nli", 0.5)
    assert CheckResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r


def test_gradebook_has_one_row_per_graded_submission_and_per_check_columns(tmp_path):
    for sid, name, checks in (("bob", "Bob", {"nli.a": 2.0, "nli.b": 0.0}), ("amy", "امی", {"nli.a": 0.0})):
        write_json_atomic(tmp_path / sid / "grade.json", {"id": sid, "name": name, "student_id": "99", "score": 2.0,
                                                          "max_score": 3.5, "checks": checks})
    (tmp_path / "half").mkdir()   # a submission still being graded: no grade.json yet
    path = write_gradebook(tmp_path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["amy", "bob"]
    assert rows[0]["name"] == "امی" and rows[1]["nli.b"] == "0.0" and rows[0]["nli.b"] == ""
    assert list(rows[0])[:5] == ["id", "name", "student_id", "score", "max_score"]


def test_student_toml_is_read_as_data(tmp_path):
    (tmp_path / "student.toml").write_text('name = "Sara Ahmadi"\nstudent_id = 401234567\n')
    assert read_student(tmp_path) == Student("Sara Ahmadi", "401234567")
    (tmp_path / "student.toml").write_text('name = "Sara Ahmadi"\nid = "s-4012.x_1"\nemail = "sara@example.com"\n')
    assert read_student(tmp_path) == Student("Sara Ahmadi", "s-4012.x_1", "sara@example.com")
    (tmp_path / "student.toml").write_text("name = [broken")
    with pytest.raises(StudentFileError, match=r"student\.toml is not valid TOML"):
        read_student(tmp_path)


def _graded(root, sid, sub, score=2.0):
    """grade.json as grader.batch writes it, the student read from ``sub``'s student.toml."""
    student = read_student(sub)
    write_json_atomic(root / sid / "grade.json", {"id": sid, "name": student.name or "",
                                                  "student_id": student.student_id or "", "score": score,
                                                  "max_score": 3.5, "checks": {"nli.a": score}})


def test_gradebook_neutralises_formulas_from_student_toml(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "student.toml").write_text('name = "=HYPERLINK(\\"http://x\\",\\"y\\")"\nstudent_id = "-4011"\n')
    _graded(tmp_path / "grades", "sara", sub, score=-1.0)
    path = write_gradebook(tmp_path / "grades")
    lines = path.read_text(encoding="utf-8").splitlines()
    # OWASP: a leading quote makes the cell text; csv doubles the inner quotes. Numbers are untouched.
    assert lines[1] == "sara,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'-4011,-1.0,3.5,,,-1.0"
    row = next(csv.DictReader(path.open(encoding="utf-8")))
    assert row["name"] == "'=HYPERLINK(\"http://x\",\"y\")" and row["student_id"] == "'-4011"


@pytest.mark.parametrize("text, cell", [("+98 912", "'+98 912"), ("@SUM(A1)", "'@SUM(A1)"),
                                        ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("Sara", "Sara"),
                                        ("a=b", "a=b"), (-3.0, -3.0)])
def test_csv_cell_follows_owasp(text, cell):
    assert csv_cell(text) == cell
