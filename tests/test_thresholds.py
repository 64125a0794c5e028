"""One threshold policy for every metric check: configured, else measured, else an error naming the table."""

import dataclasses

import pytest

from grader.checks._thresholds import MEASURED, threshold
from grader.errors import ProfileError
from grader.profiles import PROFILES, THRESHOLD_KEYS, get_profile


def test_every_built_in_profile_has_a_measured_value_for_every_key():
    for task, keys in THRESHOLD_KEYS.items():
        assert sorted(MEASURED[task]) == sorted(PROFILES), task
        for name, row in MEASURED[task].items():
            assert sorted(row) == sorted(keys), (task, name)


def test_the_measured_value_of_the_profile_name():
    assert threshold("cpu", "nli", "full") == 0.45
    assert threshold(get_profile("cpu"), "fraud", "recall") == 0.40
    assert threshold(get_profile("paper"), "nli", "freeze") == 0.0


def test_a_course_configuration_replaces_the_measured_value_it_sets():
    course = dataclasses.replace(get_profile("cpu"), thresholds={"nli": {"full": 0.5}})
    assert threshold(course, "nli", "full") == 0.5
    assert threshold(course, "nli", "lora") == 0.42          # not set: measured
    assert threshold(course, "fraud", "pr_auc") == 0.35


def test_a_profile_nobody_measured_takes_the_configured_value():
    course = dataclasses.replace(get_profile("cpu"), name="course", thresholds={"fraud": {"recall": 0.3}})
    assert threshold(course, "fraud", "recall") == 0.3


def test_a_profile_nobody_measured_and_no_configured_value_is_an_error_naming_the_table():
    course = dataclasses.replace(get_profile("cpu"), name="course", thresholds={"fraud": {"recall": 0.3}})
    with pytest.raises(ProfileError) as err:
        threshold(course, "fraud", "pr_auc")
    assert str(err.value) == (
        "no fraud threshold 'pr_auc' for profile 'course': none was measured for it "
        "(grader/checks/_thresholds.py) and the course configuration sets none; set it in mizan.toml, "
        "e.g. [thresholds.fraud] pr_auc = <a lower bound in [0, 1]> (see docs/mizan.example.toml)")
    with pytest.raises(ProfileError, match=r"e\.g\. \[thresholds\.nli\] full = "):
        threshold("course", "nli", "full")
