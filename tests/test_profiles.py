import pytest

from grader.errors import ProfileError
from grader.profiles import PROFILES, get_profile


def test_default_profile_is_cpu(monkeypatch):
    monkeypatch.delenv("PROFILE", raising=False)
    assert get_profile().name == "cpu"
    assert get_profile().nli.model == "minilm"


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("PROFILE", "smoke")
    assert get_profile().nli.model == "tiny-roberta"


def test_unknown_profile_names_the_choices():
    with pytest.raises(ProfileError, match="unknown profile 'gpu'.*smoke, cpu, paper"):
        get_profile("gpu")


def test_invalid_field_names_field_and_value():
    with pytest.raises(ProfileError, match=r"nli.epochs must be a positive number, got 0"):
        PROFILES["smoke"].replace(nli={"epochs": 0})
    with pytest.raises(ProfileError, match=r"fraud.adasyn_beta must be in \[0, 1\], got 1.5"):
        PROFILES["smoke"].replace(fraud={"adasyn_beta": 1.5})


def test_profile_serialises_to_plain_dict():
    d = PROFILES["paper"].to_dict()
    assert d["nli"]["model"] == "roberta-large"
    assert d["nli"]["lora_r"] == 32
    assert d["fraud"]["epochs"] == 46
