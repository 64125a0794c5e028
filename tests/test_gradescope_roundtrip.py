"""Gradescope ``results.json`` read back: the report shows a Gradescope-only grade as it shows checks.json."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest

from grader.report.data import load_checks
from grader.results.gradescope import SCHEMA_PATH, checks_from_gradescope, gradescope_results
from grader.results.model import CheckResult

RESULTS = [
    CheckResult("nli.count_parameters", "count_parameters matches peft's count",
                "count_parameters با شمارش peft یکسان است", 2.0, 2.0, "visible", "passed", task="nli", duration_s=0.41,
                location="nli_params.py::test_count_parameters"),
    CheckResult("nli.lora_zero_init", "LoRA starts with B = 0", "LoRA با B = 0 شروع می‌شود", 2.0, 0.0, "visible",
                "failed",
                "Expected lora_B to be all zeros; found max |B| = 0.0213.\n\nLook at prepare_model(mode='lora').",
                "انتظار می‌رفت lora_B تماماً صفر باشد؛ 0.0213 پیدا شد.\nتابع prepare_model را ببینید.", "nli", 1.5,
                "lora_init.py::test_lora_b_is_zero"),
    CheckResult("adasyn.r", "ADASYN weights r_i", "وزن‌های r_i در ADASYN", 3.5, 0.0, "hidden", "error",
                "The grader itself failed while running this check (the check did not run).",
                "خود ارزیاب هنگام اجرای این بررسی خطا داد.", "fraud"),
    CheckResult("split.sampler_train_only", "Split before resampling", "تقسیم پیش از بازنمونه‌گیری", 1.0, 0.0,
                "hidden", "failed", "", "فقط پیام فارسی.", "fraud"),
    CheckResult("cnn.layers", "The CNN's layers", "لایه‌های CNN", 1.5, 1.5, "visible", "passed",
                "Passed with 3 convolutions.", "", "fraud", location="cnn_arch.py::test_layers"),
    CheckResult("fraud.pr_auc", "PR-AUC above the bar", "PR-AUC بالاتر از حد", 0.5, 0.0, "visible", "failed",
                "Expected PR-AUC >= 0.5; found 0.31.", "", "fraud"),
]
"""Passed, failed and error; visible and hidden; English only, Persian only, both, multi-line, none;
an id whose prefix is not its task (adasyn, split, cnn are the fraud task's)."""


def _round_trip(results: list[CheckResult]) -> list[CheckResult]:
    doc = json.loads(json.dumps(gradescope_results(results, execution_time=3.2, output="summary",
                                                   extra_data={"id": "s1"}), ensure_ascii=False))
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    return checks_from_gradescope(doc)


def test_every_field_but_the_duration_travels_through_results_json():
    back = _round_trip(RESULTS)
    # duration_s does not travel (Gradescope has one execution_time for the whole run): it reads back as 0.0
    assert back == [dataclasses.replace(r, duration_s=0.0) for r in RESULTS]


def test_the_error_status_and_the_location_travel_in_the_tests_extra_data():
    doc = gradescope_results(RESULTS, execution_time=1.0)
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed", "failed", "failed", "passed", "failed"]
    assert [t.get("extra_data") for t in doc["tests"]] == [
        {"location": "nli_params.py::test_count_parameters"}, {"location": "lora_init.py::test_lora_b_is_zero"},
        {"status": "error"}, None, {"location": "cnn_arch.py::test_layers"}, None]
    assert [t["tags"] for t in doc["tests"]] == [["nli"], ["nli"], ["fraud"], ["fraud"], ["fraud"], ["fraud"]]


def test_the_report_reads_results_json_as_it_reads_checks_json(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(gradescope_results(RESULTS, execution_time=1.0)),
                                           encoding="utf-8")
    checks, source = load_checks(tmp_path)
    assert source.name == "results.json"
    assert checks == [dataclasses.replace(r, duration_s=0.0) for r in RESULTS]
    (tmp_path / "checks.json").write_text(json.dumps({"checks": [r.to_dict() for r in RESULTS]}), encoding="utf-8")
    assert load_checks(tmp_path) == (RESULTS, tmp_path / "checks.json")


@pytest.mark.parametrize("tags", [[], ["adasyn"]])
def test_a_file_without_the_task_takes_it_from_the_rubric(tags):
    """Older files tagged each test with its id's prefix, or nothing: the rubric says which task it is."""
    doc = gradescope_results(RESULTS, execution_time=1.0)
    for test in doc["tests"]:
        test["tags"] = tags
    assert [c.task for c in checks_from_gradescope(doc)] == ["nli", "nli", "fraud", "fraud", "fraud", "fraud"]
