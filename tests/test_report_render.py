"""The rendered report and feedback: PDF text, outline, fonts, images, pages; golden HTML.

Persian text extraction with pdftotext is lossy for Noto Sans Arabic (its dots are
separate glyphs and a PDF maps each glyph to one code point), so Persian headings
are checked in the PDF outline (bookmarks, exact Unicode, read with pdftohtml) and
in the HTML; Persian digits, which extract cleanly, are checked in the page text.

Tests that render a PDF are marked ``slow`` (seconds each; ``make test FAST=1`` skips them).
Golden HTML: ``MIZAN_UPDATE_GOLDENS=1 pytest tests/test_report_render.py`` rewrites
``tests/fixtures/report/golden/*.html`` after an intended template change.
"""

from __future__ import annotations

import datetime as dt
import html as htmlmod
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.errors import MizanError
from grader.report import ReportError, build_feedback, build_report
from grader.report.i18n import load_catalogue
from grader.report.render import render_html, report_context

FIXTURES = Path(__file__).parent / "fixtures" / "report"
GOLDEN = FIXTURES / "golden"
DAY = dt.date(2026, 11, 29)          # 8 Azar 1405
POPPLER = all(shutil.which(t) for t in ("pdftotext", "pdfimages", "pdfinfo", "pdffonts", "pdftohtml"))
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils missing: apt-get install -y poppler-utils")
EN, FA = load_catalogue("en"), load_catalogue("fa")
HEADINGS = ("meta.report_title", "nli.heading", "nli.table_heading", "nli.per_class_heading", "fraud.heading",
            "fraud.counts_heading", "fraud.metrics_heading", "arms.heading", "checks.heading")


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def pdf_text(pdf: Path) -> str:
    return _run("pdftotext", "-layout", str(pdf), "-")


def pdf_pages(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))


def pdf_outline(pdf: Path) -> list[str]:
    out = _run("pdftohtml", "-q", "-i", "-s", "-noframes", "-stdout", str(pdf))
    outline = out[out.index('<a name="outline"></a>'):] if '<a name="outline"></a>' in out else ""
    return [htmlmod.unescape(t) for t in re.findall(r'<a href="[^"]*#\d+">([^<]*)</a>', outline)]


def pdf_images(pdf: Path) -> list[tuple[int, int]]:
    rows = _run("pdfimages", "-list", str(pdf)).splitlines()[2:]
    return [(int(r.split()[3]), int(r.split()[4])) for r in rows if r.split()[2] == "image"]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "report.pdf"
    build_report(FIXTURES / "full", student=FIXTURES / "full", out_pdf=out, today=DAY)
    return out


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    out = tmp_path_factory.mktemp("failing") / "report.pdf"
    build_report(FIXTURES / "failing", student=FIXTURES / "failing", out_pdf=out, today=DAY)
    return out


# ---- the full-marks report ------------------------------------------------------------------------

@pytest.mark.slow
@needs_poppler
def test_key_numbers_in_both_digit_systems(full):
    text = pdf_text(full)
    for number in ("22,714,371", "74,883", "0.827", "0.758", "0.7412", "0.9987", "25 / 25"):
        assert number in text, number
    for number in ("۲۲٬۷۱۴٬۳۷۱", "۷۴٬۸۸۳", "۰٫۸۲۷", "۰٫۷۵۸", "۰٫۷۴۱۲", "۴۰۱۱۲۳۴۵", "۱۴۰۵"):
        assert number in text, number
    # G is part of a formula, drawn as math with Latin digits in both languages
    assert full.with_suffix(".html").read_text(encoding="utf-8").count('alt="G = 47,520"') == 2
    for word in ("Sara Ahmadi", "40112345", "29 November 2026", "8 Azar 1405 SH", "all-MiniLM-L6-v2"):
        assert word in text, word
    assert re.search(r"Best F1\s+0\.912\s+0\.827\s+0\.717\s+0\.768", text)    # the threshold table
    assert "Not available" not in text


@pytest.mark.slow
@needs_poppler
def test_headings_of_both_languages(full):
    text, outline = pdf_text(full), pdf_outline(full)
    for key in HEADINGS:
        assert EN[key] in text, EN[key]
        assert EN[key] in outline, EN[key]
        assert FA[key] in outline, FA[key]          # exact Unicode, ZWNJ and all


@pytest.mark.slow
@needs_poppler
def test_cover_then_one_part_per_task(full):
    pages = pdf_pages(full)
    assert 10 <= pages <= 16, pages         # each language's part carries its own figures
    cover = _run("pdftotext", "-f", "1", "-l", "1", "-layout", str(full), "-")
    assert "Submission report" in cover and "Sara Ahmadi" in cover and EN["nli.table_heading"] not in cover
    page2 = _run("pdftotext", "-f", "2", "-l", "2", "-layout", str(full), "-")
    assert EN["nli.heading"] in page2 and EN["nli.table_heading"] in page2


@pytest.mark.slow
@needs_poppler
def test_every_figure_is_embedded(full):
    figures = sorted((full.parent / "figures").glob("*.png"))
    names = ["nli_params", "nli_curves", "nli_confusion", "fraud_counts", "adasyn_r", "cnn_curves", "pr_curve",
             "fraud_confusion"]
    # each figure drawn twice: English labels for the English part, Persian for the Persian part
    assert [f.name for f in figures] == sorted(f"{n}.{lang}.png" for n in names for lang in ("en", "fa"))
    images = pdf_images(full)
    assert len(images) == len(figures) == 16
    assert all(w == 1020 for w, _ in images)         # 6.8 in at 150 dpi: the text width, sharp in print
    html = full.with_suffix(".html").read_text(encoding="utf-8")
    assert sorted(re.findall(r'<img src="figures/([a-z_]+\.(?:en|fa))\.png"', html)) == [f.stem for f in figures]
    for lang in ("en", "fa"):        # in its language's part, with its language's caption
        assert len(re.findall(rf'<figure class="[a-z]*" lang="{lang}" dir="[a-z]+">\s*<img src="figures/[a-z_]+\.{lang}\.png"',
                              html)) == 8
    assert len(re.findall(r'<figcaption lang="en"', html)) == len(re.findall(r'<figcaption lang="fa" dir="rtl"', html)) == 8


@pytest.mark.slow
@needs_poppler
def test_persian_font_from_the_pip_package_is_embedded(full):
    fonts = _run("pdffonts", str(full))
    assert re.search(r"\+Noto-Sans-Arabic\b", fonts)          # the @font-face family of the package font
    assert re.search(r"\+DejaVu-Sans\b", fonts)


@pytest.mark.slow
def test_persian_blocks_are_rtl_and_isolate_latin(full):
    html = full.with_suffix(".html").read_text(encoding="utf-8")
    tags = re.findall(r'<[a-z0-9]+ [^>]*lang="fa"[^>]*>', html)
    assert len(tags) > 15
    assert [t for t in tags if 'dir="rtl"' not in t] == []
    assert '<bdi dir="ltr"><span class="nb">all-MiniLM-L6-v2</span></bdi>' in html
    assert 'alt="r = 8"' in html and 'alt="\\alpha = 16"' in html           # formulas drawn, Latin digits
    # tables mirror by direction: a Persian table sits inside a dir="rtl" block
    assert re.search(r'<div class="block" lang="fa" dir="rtl">(?:(?!</div>).)*<h2>پارامترها، کیفیت و هزینه</h2>\s*<table',
                     html, re.S)


# ---- a submission with failures ---------------------------------------------------------------------

@pytest.mark.slow
@needs_poppler
def test_failing_report_shows_failures_and_gaps(failing):
    text = pdf_text(failing)
    assert "17 / 25" in text
    assert "۱۷ از ۲۵" in failing.with_suffix(".html").read_text(encoding="utf-8")   # "17 of 25": no slash in RTL
    assert "Expected lora_B to be all zeros" in text
    assert "split_then_resample() in" in text
    assert "nli_lora.json was not found in" in text                     # the crashed LoRA run
    # both null arms in one line, not a page
    assert "Not measured in this run: No resampling, ADASYN → split (leaky)." in text
    assert "✗ failed" in text and "✓ passed" in text
    outline = pdf_outline(failing)
    assert FA["checks.heading"] in outline and FA["arms.heading"] in outline
    assert len(pdf_images(failing)) == 16           # LoRA panels say "not available", the figures remain


@pytest.mark.slow
@needs_poppler
def test_three_fraud_arms_side_by_side_with_the_fixture_numbers(full):
    """full/fraud.json carries a no_resampling block (a fixture-only stand-in for the harness's)."""
    text = pdf_text(full)
    flat = " ".join(text.split())
    assert re.search(r"Metric\s+No resampling\s+Split → ADASYN \(correct\)\s+ADASYN → split \(leaky\)", text)
    for row in (r"AUPRC\s+0\.7023\s+0\.7412\s+0\.9987", r"ROC AUC\s+0\.9518\s+0\.9731\s+0\.9991",
                r"Base rate\s+0\.0050\s+0\.0050\s+0\.4998", r"Precision at 0\.5\s+0\.9048\s+0\.5104\s+0\.9949",
                r"Recall at 0\.5\s+0\.6333\s+0\.8167\s+0\.9992", r"F1 at 0\.5\s+0\.7451\s+0\.6282\s+0\.9971",
                r"Best F1\s+0\.7636\s+0\.7679\s+0\.9981", r"Synthetic rows in the test part\s+—\s+—\s+49\.7%"):
        assert re.search(row, text), row
    for number in ("۰٫۷۰۲۳", "۰٫۹۰۴۸", "۰٫۶۳۳۳", "۴۹٫۷٪"):                  # the Persian table
        assert number in text, number
    # the original report's claims, each answered by a measurement
    assert ("the leaky arm's precision at 0.5 is 0.995 against 0.510 in the correct arm (0.485 higher) and its "
            "AUPRC 0.999 against 0.741") in flat
    assert "49.7% of its test rows (11,879 of 23,880) are synthetic" in flat
    assert ("AUPRC is 0.702 without resampling and 0.741 with ADASYN after the split (0.039 higher); recall at 0.5 "
            "is 0.633 and 0.817") in flat
    assert ("LoRA reaches accuracy 0.758 and full fine-tuning 0.827 (LoRA: 0.068 lower). The claim does not hold "
            "in this run.") in flat
    assert "Not measured in this run" not in text


@pytest.mark.slow
@needs_poppler
def test_null_arms_are_one_line_not_a_table(failing):
    lines = [line.strip() for line in pdf_text(failing).splitlines()]
    assert "Not measured in this run: No resampling, ADASYN → split (leaky)." in lines
    assert not any(line.startswith("Metric") and "No resampling" in line for line in lines)
    assert any(re.fullmatch(r"Metric\s+Split → ADASYN \(correct\)", line) for line in lines)   # the one measured arm
    html = failing.with_suffix(".html").read_text(encoding="utf-8")
    assert "در این اجرا اندازه‌گیری نشده است: بدون بازنمونه‌گیری، اول" in html


def test_a_tie_between_lora_and_full_is_said_as_a_tie(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURES / "full", results)
    for mode, acc in (("full", 0.3333), ("lora", 0.33333)):     # the smoke profile's chance-level runs
        path = results / f"nli_{mode}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["accuracy"] = acc
        path.write_text(json.dumps(data), encoding="utf-8")
    ctx = report_context(results, student=results, lang="both", out_dir=tmp_path / "out", today=DAY)
    html = render_html("report.html.j2", ctx, font_urls={})
    assert "(LoRA: no difference to three decimals). The claim does not hold in this run." in " ".join(html.split())
    assert "(<bdi dir=\"ltr\">LoRA</bdi>: بدون تفاوت تا سه رقم اعشار)" in html and FA["arms.lora_fails"] in html


@pytest.mark.slow
def test_failing_html_has_persian_messages(failing):
    html = failing.with_suffix(".html").read_text(encoding="utf-8")
    assert "انتظار می‌رفت" in html
    assert '<bdi dir="ltr">prepare_model(mode=&#39;lora&#39;)</bdi>' in html
    assert "علی رضایی" in html


@pytest.mark.slow
@needs_poppler
def test_broken_results_render_as_not_available(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    fraud = json.loads((FIXTURES / "full" / "fraud.json").read_text(encoding="utf-8"))
    del fraud["adasyn"], fraud["history"]
    (results / "fraud.json").write_text(json.dumps(fraud), encoding="utf-8")
    (results / "nli_full.json").write_text("{ not json", encoding="utf-8")
    pdf = build_report(results, lang="en", out_pdf=tmp_path / "out" / "report.pdf", today=DAY)
    text = pdf_text(pdf)
    assert "nli_full.json is not valid JSON" in text
    assert "nli_freeze.json was not found" in text
    assert "fraud.json: field 'adasyn'" in text or "fraud.json: field 'history'" in text
    assert "No check results were found" in text
    assert "not given (add student.toml" in text
    assert len(pdf_images(pdf)) == 3                 # class counts, PR curve, confusion matrices


# ---- languages and goldens ----------------------------------------------------------------------

def _html(lang: str, tmp_path: Path, fixture: str = "full") -> str:
    ctx = report_context(FIXTURES / fixture, student=FIXTURES / fixture, lang=lang, out_dir=tmp_path, today=DAY)
    return render_html("report.html.j2", ctx, font_urls={400: "NOTO-400", 700: "NOTO-700"})


def test_lang_fa_only(tmp_path):
    html = re.sub(r"<style>.*?</style>", "", _html("fa", tmp_path), flags=re.S)
    assert '<html lang="fa" dir="rtl">' in html
    assert EN["nli.heading"] not in html and FA["nli.heading"] in html
    assert 'lang="en"' not in html.replace('lang="en" class="en-in-fa"', "")


def test_lang_en_only(tmp_path):
    html = _html("en", tmp_path)
    assert '<html lang="en" dir="ltr">' in html
    assert not re.search("[\u0600-\u06ff]", re.sub(r"<style>.*?</style>", "", html, flags=re.S))


def test_unknown_lang_is_a_clear_error(tmp_path):
    with pytest.raises(MizanError, match="use fa, en or both"):
        build_report(FIXTURES / "full", lang="de", out_pdf=tmp_path / "r.pdf")


def _golden(name: str, html: str, results_dir: Path) -> None:
    html = re.sub(r"<style>.*?</style>", "<style/>", html, flags=re.S).replace(str(results_dir), "RESULTS")
    # Persian text may set the leading "/" outside the path's LTR run: normalise that spelling too.
    html = html.replace(str(results_dir).lstrip("/"), "RESULTS")
    path = GOLDEN / name
    if os.environ.get("MIZAN_UPDATE_GOLDENS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    assert path.is_file(), f"no golden {path}: run with MIZAN_UPDATE_GOLDENS=1 once"
    assert html == path.read_text(encoding="utf-8"), \
        f"{name} differs from its golden; if the change is intended, rerun with MIZAN_UPDATE_GOLDENS=1"


@pytest.mark.parametrize("fixture", ["full", "failing"])
def test_golden_html(fixture, tmp_path):
    _golden(f"report_{fixture}.html", _html("both", tmp_path, fixture), FIXTURES / fixture)


# ---- instructor feedback ----------------------------------------------------------------------------

def _grade_dir(tmp_path: Path) -> Path:
    grade = tmp_path / "student-7"
    (grade / "summary").mkdir(parents=True)
    for name in ("nli_full.json", "nli_freeze.json", "fraud.json"):
        shutil.copy(FIXTURES / "failing" / name, grade / "summary" / name)
    shutil.copy(FIXTURES / "failing" / "results.json", grade / "results.json")
    steps = grade / "artifacts" / "steps"
    steps.mkdir(parents=True)
    (steps / "nli.train_lora.json").write_text(json.dumps(
        {"step": "nli.train_lora", "status": "error", "error_type": "RuntimeError",
         "message": "CUDA error: no kernel image", "where": "nli.train", "wall_s": 3.2}), encoding="utf-8")
    (steps / "fraud.cnn.json").write_text(json.dumps({"step": "fraud.cnn", "status": "timeout", "wall_s": 300.0}),
                                          encoding="utf-8")
    (grade / "run.log").write_text("log\n", encoding="utf-8")
    return grade


@pytest.mark.slow
@needs_poppler
def test_feedback_html_and_pdf(tmp_path):
    grade = _grade_dir(tmp_path)
    html_path, pdf_path = build_feedback(grade, today=DAY)
    assert html_path == grade / "feedback.html" and pdf_path == grade / "feedback.pdf"
    text = pdf_text(pdf_path)
    assert "Grading feedback — student-7" in text
    assert "17 / 25" in text and EN["feedback.failed_heading"] in text
    assert "found 2,388 of 12,000 test rows" in text
    assert "RuntimeError in nli.train: CUDA error: no kernel image" in text and "timeout" in text
    assert FA["feedback.failed_heading"] in pdf_outline(pdf_path)
    assert len(pdf_images(pdf_path)) == len(list((grade / "figures").glob("*.png"))) == 8


@pytest.mark.slow
def test_failed_pdf_keeps_the_html_and_says_why(tmp_path, monkeypatch):
    import grader.report.feedback as fb

    def broken(*args, **kwargs):
        raise OSError("cairo surface failed")
    monkeypatch.setattr(fb, "write_pdf", broken)
    grade = _grade_dir(tmp_path)
    with pytest.raises(ReportError, match=r"feedback\.pdf for student-7 could not be rendered \(OSError: cairo"):
        fb.write_feedback(grade)
    assert "ناموفق" in (grade / "feedback.html").read_text(encoding="utf-8")
    assert not (grade / "feedback.pdf").exists()
    assert (grade / "results.json").is_file()


def test_malformed_values_make_a_part_unavailable_not_a_crash(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    nli = json.loads((FIXTURES / "full" / "nli_full.json").read_text(encoding="utf-8"))
    nli["total_params"] = "many"                      # printed as "—"
    nli["per_class"] = ["entailment"]                 # a list where a table belongs
    (results / "nli_full.json").write_text(json.dumps(nli), encoding="utf-8")
    fraud = json.loads((FIXTURES / "full" / "fraud.json").read_text(encoding="utf-8"))
    fraud["leaky"]["pr_auc"] = None
    (results / "fraud.json").write_text(json.dumps(fraud), encoding="utf-8")
    ctx = report_context(results, lang="en", out_dir=tmp_path / "out", today=DAY)
    assert ctx["nli"]["available"] is False
    assert ctx["nli"]["missing"][0].values["detail"].startswith("AttributeError")
    assert ctx["fraud"]["leaky"]["gap"] is None
    html = render_html("report.html.j2", ctx, font_urls={})
    assert "This part could not be drawn from nli_&lt;mode&gt;.json: AttributeError" in html
    assert "overstates it by —" in html


def test_a_capped_history_is_drawn_capped_and_said_in_both_languages(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    fraud = json.loads((FIXTURES / "full" / "fraud.json").read_text(encoding="utf-8"))     # 8 epochs
    fraud["history"]["loss"] = [0.5] * 1_000_000
    (results / "fraud.json").write_text(json.dumps(fraud), encoding="utf-8")
    ctx = report_context(results, lang="both", out_dir=tmp_path / "out", today=DAY)
    assert ctx["fraud"]["available"] is True and ctx["n_figures"] >= 1
    html = render_html("report.html.j2", ctx, font_urls={})
    assert ("fraud.json holds a training history of 1000000 entries for 8 epochs, which is malformed; "
            "only the first 8 are shown.") in html
    assert "تاریخچهٔ آموزشی" in html
