"""The fraud study's three arms side by side, and the original report's claims answered by a
measurement (view model only: no rendering, fast). ``full/fraud.json`` carries a
``no_resampling`` block that only the fixture has until the experiment harness writes one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from grader.report.render import ARMS, arms_view

FIXTURES = Path(__file__).parent / "fixtures" / "report"


@pytest.fixture()
def fraud() -> dict:
    return json.loads((FIXTURES / "full" / "fraud.json").read_text(encoding="utf-8"))


def test_three_arms_in_protocol_order_with_their_numbers(fraud):
    view = arms_view(fraud)
    assert view["arms"] == list(ARMS) == ["no_resampling", "correct", "leaky"] and view["missing"] == []
    rows = {r["key"]: r["values"] for r in view["rows"]}
    assert rows["auprc"] == [0.7023, 0.7412, 0.9987]
    assert rows["precision_05"] == [0.9048, 0.5104, 0.9949]
    assert rows["best_f1_value"] == [0.7636, 0.7679, 0.9981]
    assert view["synthetic"] == {"synthetic": 11879, "rows": 23880, "share": pytest.approx(49.7446, abs=1e-4)}


def test_each_arm_shows_its_own_test_sets_synthetic_share(fraud):
    assert arms_view(fraud)["shares"] == [None, None, pytest.approx(49.7446, abs=1e-4)]   # graded: leaky only
    fraud["test_sets"] = {"no_resampling": {"rows": 12000, "synthetic_rows": 0},
                          "correct": {"rows": 12000, "synthetic_rows": 0}}                 # what experiments write
    assert arms_view(fraud)["shares"] == [0.0, 0.0, pytest.approx(49.7446, abs=1e-4)]


def test_the_claims_are_measured_differences(fraud):
    view = arms_view(fraud)
    assert view["leaky_claim"]["gap"] == pytest.approx(0.9949 - 0.5104)       # precision at 0.5, leaky - correct
    assert view["resampling_claim"]["gap"] == pytest.approx(0.7412 - 0.7023)  # AUPRC, ADASYN - none


def test_null_arms_are_listed_as_not_measured(fraud):
    fraud["no_resampling"] = fraud["leaky"] = fraud["leaky_test"] = None     # what a graded run writes
    view = arms_view(fraud)
    assert view["arms"] == ["correct"] and view["missing"] == ["no_resampling", "leaky"]
    assert [r["values"] for r in view["rows"]][0] == [0.7412]
    assert "synthetic" not in view and "leaky_claim" not in view and "resampling_claim" not in view


def test_a_leaky_arm_without_its_test_counts_has_no_share_but_keeps_its_claim(fraud):
    del fraud["leaky_test"]
    view = arms_view(fraud)
    assert "synthetic" not in view and "leaky_claim" in view


def test_a_malformed_number_drops_the_claim_not_the_table(fraud):
    broken = copy.deepcopy(fraud)
    broken["no_resampling"]["pr_auc"] = "n/a"
    view = arms_view(broken)
    assert {r["key"]: r["values"] for r in view["rows"]}["auprc"][0] == "n/a"    # the table prints "—"
    assert "resampling_claim" not in view and "leaky_claim" in view
