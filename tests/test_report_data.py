"""What the report reads: student.toml, check results, results JSON (no rendering: fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.errors import MizanError
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
    ('name = "Sara"\nstudent_id = "1"\nemail = "s@x"\n', r"unknown key\(s\) email"),
    (b'name = "\xff"\nstudent_id = "1"\n', r"is not UTF-8"),
])
def test_malformed_student_toml_names_the_file_and_the_problem(tmp_path, text, problem):
    folder = _student(tmp_path, text)
    with pytest.raises(MizanError, match=problem) as err:
        load_student(folder)
    assert str(folder / "student.toml") in str(err.value)
    assert 'name = "Sara Ahmadi"' in str(err.value)              # the message shows the fix


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
