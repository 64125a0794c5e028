"""Catalogues and Persian text rules of the report (no rendering: fast)."""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest
from markupsafe import Markup

from grader.report.i18n import CATALOGUE_DIR, CatalogueError, Lang, isolate_fa, load_catalogue, persian_digits


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogues_have_the_same_keys():
    en, fa = load_catalogue("en"), load_catalogue("fa")
    assert sorted(set(en) - set(fa)) == [], "keys in en.toml missing from fa.toml"
    assert sorted(set(fa) - set(en)) == [], "keys in fa.toml missing from en.toml"
    assert len(en) > 100


def test_catalogues_use_the_same_placeholders_per_key():
    en, fa = load_catalogue("en"), load_catalogue("fa")
    differ = {k: (_placeholders(en[k]), _placeholders(fa[k])) for k in en if _placeholders(en[k]) != _placeholders(fa[k])}
    assert differ == {}


def test_parity_check_catches_a_missing_key(tmp_path):
    (tmp_path / "en.toml").write_text('[a]\nx = "X"\ny = "Y"\n', encoding="utf-8")
    (tmp_path / "fa.toml").write_text('[a]\nx = "ایکس"\n', encoding="utf-8")
    en, fa = load_catalogue("en", tmp_path), load_catalogue("fa", tmp_path)
    assert set(en) - set(fa) == {"a.y"}


def test_malformed_catalogue_names_the_file(tmp_path):
    (tmp_path / "en.toml").write_text("[a\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"en\.toml is not valid TOML"):
        load_catalogue("en", tmp_path)


def test_month_lists_have_twelve_entries_in_both_languages():
    for code in ("en", "fa"):
        cat = load_catalogue(code)
        assert len(cat["date.gregorian_months"].split("|")) == 12
        assert len(cat["date.hijri_months"].split("|")) == 12


def test_persian_digits_and_separators():
    assert persian_digits("0.827") == "۰٫۸۲۷"
    assert persian_digits("22,714,371") == "۲۲٬۷۱۴٬۳۷۱"
    assert persian_digits("98%") == "۹۸٪"
    assert persian_digits("-0.5") == "\u2212۰٫۵"


def test_latin_runs_are_isolated_and_keep_their_digits():
    html = isolate_fa("تابع prepare_model(mode='freeze') در encoder.layer.3 مقدار 0.85 دارد")
    assert '<bdi dir="ltr">prepare_model(mode=&#39;freeze&#39;)</bdi>' in html
    assert '<bdi dir="ltr">encoder.layer.3</bdi>' in html       # a name keeps ASCII digits
    assert "۰٫۸۵" in html and "0.85" not in html                 # a number on its own gets Persian digits


def test_brackets_and_formulas_in_persian_text():
    html = isolate_fa("سه روش (full) با r = 8 و r_i = Δ_i / k و lr 1e-4")
    assert '(<bdi dir="ltr">full</bdi>)' in html                 # the bracket stays outside the isolate
    assert '<bdi dir="ltr">r = 8</bdi>' in html                  # a formula is one LTR island, Latin digits
    assert '<bdi dir="ltr">r_i = Δ_i / k</bdi>' in html          # Greek belongs to the formula
    assert '<bdi dir="ltr">lr <span class="nb">1e-4</span></bdi>' in html     # one token, never broken


def test_code_spans_and_escaping():
    html = isolate_fa("فایل `nli.py` را <ببینید> & دوباره")
    assert '<code dir="ltr">nli.py</code>' in html
    assert "&lt;ببینید&gt; &amp;" in html
    assert isinstance(html, Markup)


def test_lang_numbers():
    fa, en = Lang.get("fa"), Lang.get("en")
    assert fa.int(22714371) == "۲۲٬۷۱۴٬۳۷۱" and en.int(22714371) == "22,714,371"
    assert fa.num(0.82745) == "۰٫۸۲۷" and en.num(0.82745) == "0.827"
    assert fa.pct(0.00508, 4) == "۰٫۰۰۵۱٪"
    assert en.num(None) == en.num(float("nan")) == en.int("12") == fa.pct(True) == "—"   # never a crash
    # a signed number is an LTR island in Persian, or its sign drifts to the right-hand side
    assert str(fa.signed(0.2575, 4)) == '<bdi dir="ltr">+۰٫۲۵۷۵</bdi>'
    assert en.signed(-0.25, 2) == "\u22120.25"


def test_english_only_text_inside_persian_stays_english():
    html = Lang.get("fa").text("LoRA starts with B = 0 and 33,505 parameters")
    assert 'lang="en"' in html and "33,505" in html and "B = 0" in html


def test_unknown_key_names_both_catalogues():
    with pytest.raises(CatalogueError, match=r"no key 'nli\.nope'.*en\.toml and fa\.toml"):
        Lang.get("en").t("nli.nope")


def test_no_catalogue_text_is_left_untranslated():
    """A Persian entry with no Persian letter is a forgotten translation (acronyms excepted)."""
    fa = load_catalogue("fa")
    latin_only = {k: v for k, v in fa.items() if not re.search("[\u0600-\u06ff]", v)}
    allowed = {"nli.f1", "nli.modes.lora", "fraud.auprc", "fraud.roc_auc",
               "figures.mode_lora", "figures.pr_label", "figures.trainable_label"}   # names and placeholders
    assert {k for k in latin_only if k not in allowed and not k.startswith("date.")} == set()


def test_catalogue_dir_holds_exactly_the_two_languages_and_the_glossary():
    assert sorted(p.stem for p in CATALOGUE_DIR.glob("*.toml")) == ["en", "fa", "glossary"]


def test_the_glossary_loads_one_persian_word_per_term():
    from grader.report.i18n import load_glossary

    glossary = load_glossary()
    assert (glossary["accuracy"].fa, glossary["precision"].fa, glossary["recall"].fa) == ("صحت", "دقت", "بازیابی")
    assert "دقت" in glossary["accuracy"].synonyms and glossary["grader"].fa == "ارزیاب"


def test_a_glossary_entry_without_a_persian_term_is_refused(tmp_path):
    from grader.report.i18n import load_glossary

    bad = tmp_path / "glossary.toml"
    bad.write_text('[accuracy]\nen = ["accuracy"]\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"\[accuracy\] needs en = \[English forms\] and fa = "):
        load_glossary(bad)


@pytest.mark.parametrize("day, en_hijri, fa_hijri", [
    (dt.date(2026, 11, 29), "8 Azar 1405 SH", "۸ آذر ۱۴۰۵"),
    (dt.date(2026, 3, 21), "1 Farvardin 1405 SH", "۱ فروردین ۱۴۰۵"),     # Nowruz
    (dt.date(2026, 3, 20), "29 Esfand 1404 SH", "۲۹ اسفند ۱۴۰۴"),
])
def test_cover_dates_in_both_calendars(day, en_hijri, fa_hijri):
    from grader.report.render import dates

    en, fa = dates(day, Lang.get("en")), dates(day, Lang.get("fa"))
    assert en["hijri"] == en_hijri and fa["hijri"] == fa_hijri
    assert en["gregorian"] == f"{day.day} {day.strftime('%B')} {day.year}"
    assert fa["gregorian"].endswith(persian_digits(str(day.year)))
