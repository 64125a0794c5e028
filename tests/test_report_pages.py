"""The rendered PDF as a reader meets it: no near-empty pages, the student's analysis, math drawn,
Latin runs inside Persian kept whole and in logical order.

The partial submission is the ``failing`` fixture (a crashed LoRA run, no leaky arm) with the short
``analysis/analysis.fa.md``: a formula, a code span and a path inside Persian sentences.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.report import build_report

FIXTURES = Path(__file__).parent / "fixtures" / "report"
DAY = dt.date(2026, 11, 29)
POPPLER = all(shutil.which(t) for t in ("pdftotext", "pdfimages", "pdfinfo"))
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils missing: apt-get install -y poppler-utils")
FILL = 0.10          # a page (but the last) with less than a tenth of a full page's text and no figure fails


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def page_texts(pdf: Path) -> list[str]:
    n = int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))
    return [_run("pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdf), "-") for i in range(1, n + 1)]


def underfilled_pages(pdf: Path) -> list[str]:
    """Pages (1-based, not the last) whose text, without the running head and foot, is under FILL
    of the fullest page's and which hold no figure."""
    texts = page_texts(pdf)
    figures = {int(r.split()[0]) for r in _run("pdfimages", "-list", str(pdf)).splitlines()[2:]
               if r.split()[2] == "image"}

    def body(text: str) -> int:
        lines = [line for line in text.splitlines() if line.strip()]
        return sum(len(re.sub(r"\s", "", line)) for line in lines[1:-1])      # head and foot off
    sizes = [body(t) for t in texts]
    full = max(sizes)
    return [f"page {i + 1}: {sizes[i]} characters of {full}" for i in range(len(texts) - 1)
            if sizes[i] < FILL * full and i + 1 not in figures]


def _partial(tmp_path: Path) -> Path:
    sub = tmp_path / "partial"
    shutil.copytree(FIXTURES / "failing", sub)
    shutil.copy(FIXTURES / "analysis" / "analysis.fa.md", sub / "analysis.fa.md")
    return sub


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("partial")
    sub = _partial(tmp)
    return sub, build_report(sub, student=sub, out_pdf=tmp / "out" / "report.pdf", today=DAY)


@pytest.fixture(scope="module")
def partial_fa(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("partial_fa")
    sub = _partial(tmp)
    return sub, build_report(sub, student=sub, lang="fa", out_pdf=tmp / "out" / "report.pdf", today=DAY)


@pytest.mark.slow
@needs_poppler
@pytest.mark.parametrize("fixture", ["full", "failing"])
def test_no_near_empty_page(fixture, tmp_path):
    pdf = build_report(FIXTURES / fixture, student=FIXTURES / fixture, out_pdf=tmp_path / "report.pdf", today=DAY)
    assert underfilled_pages(pdf) == []


@pytest.mark.slow
@needs_poppler
def test_the_fill_check_catches_a_page_of_one_line(tmp_path):
    from weasyprint import HTML

    pdf = tmp_path / "thin.pdf"
    HTML(string="<p>" + "word " * 3000 + "</p><p style='break-before: page'>one line</p>"
                "<p style='break-before: page'>" + "word " * 300 + "</p>").write_pdf(pdf)
    assert any("characters of" in p for p in underfilled_pages(pdf))


@pytest.mark.slow
@needs_poppler
def test_partial_submission_report_with_analysis(partial):
    sub, pdf = partial
    text = _run("pdftotext", "-layout", str(pdf), "-")
    # the student's own numbers, from the results JSON
    full = json.loads((sub / "nli_full.json").read_text(encoding="utf-8"))
    assert f"{full['trainable_params']:,}" in text and f"{full['accuracy']:.3f}" in text
    assert "nli_lora.json was not found" in text
    # the analysis: Latin runs of the Persian answers, each whole and in logical order
    for run in ("submission/nli.py", 'prepare_model(model, "lora")', "split_then_resample", "test_size=0.2"):
        assert run in text, run
    # questions answered and missing, in both languages
    assert "Why is LoRA efficient?" in text
    assert text.count("Not answered: analysis.fa.md has no section ## q") == 3
    # math is drawn, not printed: no TeX source and no dollar in the page text
    assert "$" not in text and "\\frac" not in text and "Delta W" not in text
    html = pdf.with_suffix(".html").read_text(encoding="utf-8")
    assert html.count('<img class="math') >= 2 and html.count('<img class="math display"') == 1
    assert underfilled_pages(pdf) == []


@pytest.mark.slow
@needs_poppler
def test_persian_pages_keep_latin_runs_in_logical_order(partial_fa):
    _, pdf = partial_fa
    texts = page_texts(pdf)
    start = next((i for i, t in enumerate(texts) if "submission/nli.py" in t), None)
    assert start is not None, "the Persian analysis page lost its path"
    page = "".join(texts[start:])                     # the analysis may run onto the next page
    # (pdftotext's own bidi pass hands the neutral '")' that ends an LTR run to the Persian line
    # around it, so the code span is checked up to its last letter; the PNG shows it whole.)
    for run in ("submission/nli.py", 'prepare_model(model, "lora', "split_then_resample", "test_size=0.2"):
        assert run in page, run
        assert run[::-1] not in page
    # a check title with a combining hat inside Persian: the hat stays on its r (no lone U+0302)
    html = pdf.with_suffix(".html").read_text(encoding="utf-8")
    assert not re.search(r"</bdi>\u0302", html)
    assert underfilled_pages(pdf) == []
