"""What the report reads: student.toml, check results, results JSON (no rendering: fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.errors import MizanError, StudentFileError
from grader.report.data import Missing, Results, load_checks, load_steps, load_student

FIXTURES = Path(__file__).parent / "fixtures" / "report"


def _student(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "student.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return tmp_path


def test_student_toml_is_read():
    s = load_student(FIXTURES / "failing")
    assert (s.name, s.student_id) == ("علی رضایی", "40198765")


def test_student_toml_is_optional(tmp_path):
    s = load_student(tmp_path)
    assert (s.name, s.student_id) == (None, None)


def test_numeric_student_id_is_accepted_as_text(tmp_path):
    assert load_student(_student(tmp_path, 'name = "Sara"\nstudent_id = 40112345\n')).student_id == "40112345"


@pytest.mark.parametrize("text, problem", [
    ('name = "Sara\nstudent_id = "1"\n', r"is not valid TOML"),
    ('name = "Sara"\n', r"lacks student_id"),
    ('student_id = "1"\n', r"lacks name"),
    ('name = ["Sara"]\nstudent_id = "1"\n', r"name must be a quoted string, got list"),
    ('name = "  "\nstudent_id = "1"\n', r"name is empty"),
    ('name = "Sara"\nstudent_id = "1"\nphone = "0912"\n', r"unknown key\(s\) phone"),
    (b'name = "\xff"\nstudent_id = "1"\n', r"is not UTF-8"),
    ('name = "Sara"\nstudent_id = "1"\nid = "1"\n', r"gives both student_id and id; keep only student_id"),
    ('name = "Sara\\u0007"\nstudent_id = "1"\n', r"name contains the control character U\+0007"),
    ('name = "Sara\\u202eiru"\nstudent_id = "1"\n', r"name contains the control character U\+202E"),
    ('name = "Sara\\nAhmadi"\nstudent_id = "1"\n', r"name contains the control character U\+000A"),
    (f'name = "{"S" * 201}"\nstudent_id = "1"\n', r"name is 201 characters long; shorten it to at most 200"),
    ('name = "Sara"\nid = "40 11"\n', r"id '40 11' is not a student ID"),
    (f'name = "Sara"\nstudent_id = "{"4" * 65}"\n', r"student_id '4{65}' is not a student ID"),
    ('name = "Sara"\nstudent_id = "1"\nemail = "sara at x"\n', r"email 'sara at x' is not an e-mail address"),
])
def test_malformed_student_toml_names_the_file_and_the_problem(tmp_path, text, problem):
    folder = _student(tmp_path, text)
    with pytest.raises(MizanError, match=problem) as err:
        load_student(folder)
    assert str(folder / "student.toml") in str(err.value)
    assert 'name = "Sara Ahmadi"' in str(err.value) or 'email = "sara@example.com"' in str(err.value)  # the fix


def test_a_bad_student_id_gives_the_exact_message(tmp_path):
    folder = _student(tmp_path, 'name = "Sara"\nstudent_id = "4011/../x"\n')
    with pytest.raises(StudentFileError) as err:
        load_student(folder)
    assert str(err.value) == (f"{folder / 'student.toml'}: student_id '4011/../x' is not a student ID: use only "
                              f"letters, digits, '-', '_' and '.', at most 64 characters (write it as:\n"
                              f'  name = "Sara Ahmadi"\n  student_id = "40112345")')


def test_id_email_and_formula_like_names_are_accepted(tmp_path):
    s = load_student(_student(tmp_path, 'name = "=HYPERLINK(1)"\nid = "ab-12.c_3"\nemail = "s@x.ir"\n'))
    assert (s.name, s.student_id, s.email) == ("=HYPERLINK(1)", "ab-12.c_3", "s@x.ir")   # the CSV writer quotes it
    s = load_student(_student(tmp_path, 'name = "  علی\u200cرضا  "\nstudent_id = 4011\n'))   # ZWNJ is text
    assert (s.name, s.student_id, s.email) == ("علی\u200cرضا", "4011", None)


def test_the_report_and_the_gradebook_share_one_reader():
    from grader import student_info
    from grader.report import data

    assert data.load_student is student_info.read_student and data.Student is student_info.Student


def test_checks_json_is_preferred(tmp_path):
    checks, source = load_checks(FIXTURES / "full")
    assert source.name == "checks.json"
    assert len(checks) == 11 and sum(c.points for c in checks) == 25.0
    assert checks[1].name == "nli.freeze_trainable" and checks[1].title_fa.startswith("در حالت")


def test_gradescope_results_are_parsed_back():
    checks, source = load_checks(FIXTURES / "failing")
    assert source.name == "results.json"
    byname = {c.name: c for c in checks}
    lora = byname["nli.lora_init"]
    assert (lora.earned, lora.points, lora.status) == (0.0, 2.0, "failed")
    assert lora.title_en == "LoRA starts with B = 0 and scaling alpha/r"
    assert lora.title_fa.startswith("LoRA با B = 0")
    assert lora.message_en.startswith("Expected lora_B to be all zeros")
    assert lora.message_fa.startswith("انتظار می‌رفت lora_B")
    assert byname["nli.params_count"].message_en == ""           # the "Passed." boilerplate is dropped
    assert sum(c.earned for c in checks) == 17.0


def test_no_checks_is_not_an_error(tmp_path):
    assert load_checks(tmp_path) == ([], None)


def test_broken_checks_json_is_an_error(tmp_path):
    (tmp_path / "checks.json").write_text("{", encoding="utf-8")
    with pytest.raises(MizanError, match=r"checks\.json is not valid JSON"):
        load_checks(tmp_path)


def test_results_missing_and_malformed_parts(tmp_path):
    for name in ("nli_full.json", "fraud.json"):
        (tmp_path / name).write_text((FIXTURES / "full" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "nli_freeze.json").write_text("[1, 2", encoding="utf-8")
    bad_lora = json.loads((FIXTURES / "full" / "nli_lora.json").read_text(encoding="utf-8"))
    del bad_lora["confusion_matrix"]
    (tmp_path / "nli_lora.json").write_text(json.dumps(bad_lora), encoding="utf-8")
    r = Results.load(tmp_path)
    assert r.nli["full"]["accuracy"] == 0.8267
    assert r.nli["freeze"] == Missing("bad_json", {"file": "nli_freeze.json",
                                                   "detail": r.nli["freeze"].values["detail"]})
    assert r.nli["lora"] == Missing("missing_key", {"file": "nli_lora.json", "key": "confusion_matrix"})
    assert r.profile()["name"] == "cpu"


def test_results_of_the_wrong_task(tmp_path):
    (tmp_path / "fraud.json").write_text(json.dumps({"task": "nli"}), encoding="utf-8")
    r = Results.load(tmp_path)
    assert r.fraud == Missing("wrong_task", {"file": "fraud.json", "expected": "fraud", "found": "nli"})
    assert r.nli["full"] == Missing("missing_file", {"file": "nli_full.json", "dir": str(tmp_path)})
    assert not r.nli["full"] and not r.any


def test_step_status_records(tmp_path):
    steps = tmp_path / "steps"
    steps.mkdir()
    (steps / "nli.params.json").write_text('{"step": "nli.params", "status": "ok"}', encoding="utf-8")
    (steps / "broken.json").write_text("{", encoding="utf-8")
    assert load_steps(tmp_path) == [{"step": "nli.params", "status": "ok"}]


def test_a_history_longer_than_the_epochs_is_capped_and_noted(tmp_path):
    nli = json.loads((FIXTURES / "full" / "nli_full.json").read_text(encoding="utf-8"))      # 3 epochs
    nli["history"] = nli["history"] * 10_000
    (tmp_path / "nli_full.json").write_text(json.dumps(nli), encoding="utf-8")
    fraud = json.loads((FIXTURES / "full" / "fraud.json").read_text(encoding="utf-8"))     # 8 epochs
    fraud["history"]["loss"] = [0.5] * 5_000_000
    (tmp_path / "fraud.json").write_text(json.dumps(fraud), encoding="utf-8")
    r = Results.load(tmp_path)
    assert r.nli["full"]["history"] == nli["history"][:3]
    assert r.fraud["history"]["loss"] == [0.5] * 8 and r.fraud["history"]["val_loss"] == fraud["history"]["val_loss"]
    assert r.notes == {"nli": [Missing("history_malformed", {"file": "nli_full.json", "found": 30_000, "kept": 3})],
                       "fraud": [Missing("history_malformed", {"file": "fraud.json", "found": 5_000_000, "kept": 8})]}


def test_a_history_the_summary_capped_is_noted(tmp_path):
    fraud = json.loads((FIXTURES / "full" / "fraud.json").read_text(encoding="utf-8"))
    fraud["history_malformed"] = {"found": 5_000_000, "kept": 8}
    (tmp_path / "fraud.json").write_text(json.dumps(fraud), encoding="utf-8")
    assert Results.load(tmp_path).notes["fraud"] == [
        Missing("history_malformed", {"file": "fraud.json", "found": 5_000_000, "kept": 8})]
    assert Results.load(FIXTURES / "full").notes == {"nli": [], "fraud": []}


def test_a_deeply_nested_results_file_is_bad_json_not_a_crash(tmp_path):
    (tmp_path / "fraud.json").write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    assert Results.load(tmp_path).fraud == Missing("bad_json", {
        "file": "fraud.json", "detail": "JSON nested more than 100 levels deep; write plain records "
                                        "(lists of numbers, flat dicts)"})
