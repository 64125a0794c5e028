"""The written analysis: sections by question id, bad input as one clear message, Markdown and math."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.errors import MizanError
from grader.report.analysis import QUESTIONS, AnalysisError, analysis_view, load_analysis, render_markdown
from grader.report.i18n import isolate_fa, load_catalogue

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str, name: str = "analysis.fa.md") -> Path:
    (tmp_path / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return tmp_path


def test_sections_by_id_and_missing_ones_listed(tmp_path):
    _write(tmp_path, "# عنوان\n\n## q1 — چرا LoRA\n\nپاسخ اول.\n\n## Why the split {#q4}\n\nAnswer.\n\n## q5\n\n",
           "analysis.fa.md")
    view = analysis_view(load_analysis(tmp_path), ["en", "fa"])
    got = {q["qid"]: [a.lang for a in q["answers"]] for q in view["questions"]}
    assert got == {"q1": ["fa"], "q2": [], "q3": [], "q4": ["fa"], "q5": []}      # an empty section is missing
    assert view["files"] == ["analysis.fa.md"] and view["answered"] == 2


def test_no_files_is_not_an_error(tmp_path):
    assert analysis_view(load_analysis(tmp_path), ["fa"])["any"] is False


@pytest.mark.parametrize("text, match", [
    ("## q1\n\nok\n\n## Results\n\nx\n", r"analysis\.fa\.md: line 5: the heading \"## Results\" names no question; start each"),
    ("## q7\n\nx\n", r"line 1: \"## q7\" names q7, but the statement asks q1, q2, q3, q4, q5"),
    ("## q1\n\na\n\n## q1 again\n\nb\n", r"line 5: a second section for q1; merge"),
    ("Some words first.\n\n## q1\n\na\n", r"line 1: text before the first question heading would not be shown"),
    ("just text, no headings\n", r"no question heading found"),
    ("## q1\n\na\n\n# Title late\n", r"line 5: the first-level heading"),
])
def test_bad_headings_are_one_clear_message(tmp_path, text, match):
    _write(tmp_path, text)
    with pytest.raises(AnalysisError, match=match) as err:
        load_analysis(tmp_path)
    assert isinstance(err.value, MizanError) and str(tmp_path / "analysis.fa.md") in str(err.value)


def test_unreadable_files_say_how_to_fix(tmp_path):
    _write(tmp_path, b"## q1\n\n\xff\xfe broken\n", "analysis.en.md")
    with pytest.raises(AnalysisError, match=r"analysis\.en\.md: line 3 is not UTF-8; save analysis\.en\.md as a UTF-8"):
        load_analysis(tmp_path)
    (tmp_path / "analysis.en.md").unlink()
    (tmp_path / "analysis.en.md").mkdir()
    with pytest.raises(AnalysisError, match="not a regular file"):
        load_analysis(tmp_path)


def test_markdown_math_and_code_in_persian():
    html, errors = render_markdown("تابع `prepare_model(model, \"lora\")` در submission/nli.py با $r = 8$ و "
                                   "$\\foo$ و <b>x</b>\n\n$$\\frac{a}{b}$$\n", "fa")
    assert errors == ["\\foo"]
    assert '<code dir="ltr">prepare_model(model, &#34;lora&#34;)</code>' in html
    assert '<bdi dir="ltr"><span class="nb">submission/nli.py</span></bdi>' in html
    assert re.search(r'<span class="math" dir="ltr"><img class="math" src="data:image/svg\+xml;base64,', html)
    assert '<p class="math-block"><span class="math display"' in html
    assert "&gt;x&lt;" in html and "<b>" not in html             # no raw HTML from a student
    assert "$" not in re.sub(r'alt="[^"]*"', "", html)


def test_images_are_not_fetched():
    html, _ = render_markdown("![x](file:///etc/passwd)\n", "en")
    assert "<img" not in html


def test_latin_runs_in_persian_catalogue_and_check_text():
    # the cases of issue 14: a combining hat, quotes, a path, a parenthesised code value
    assert str(isolate_fa("ADASYN: r̂ = r / Σr یک توزیع")).startswith('<bdi dir="ltr">ADASYN: r̂ = r / Σr</bdi>')
    assert '<bdi dir="ltr">prepare_model(‹…›, &#34;full&#34;)</bdi>' in isolate_fa("ببینید prepare_model(‹…›, \"full\") را")
    assert '<span class="nb">submission/nli.py</span>' in isolate_fa("در submission/nli.py")
    assert '<bdi dir="ltr">Run a (seed 0, test_size 0.2)</bdi>:' in isolate_fa("Run a (seed 0, test_size 0.2): بخش")


def test_statements_ask_the_questions_the_report_matches():
    en, fa = load_catalogue("en"), load_catalogue("fa")
    for name in ("README.md", "README.fa.md"):
        text = (REPO / "assignment" / name).read_text(encoding="utf-8")
        assert re.findall(r"^- \*\*(q\d)\.\*\*", text, re.M) == list(QUESTIONS), name
    def prose(name: str) -> str:
        """The statement as a reader sees it: no code ticks, no <bdi> marks, list items on one line."""
        text = (REPO / "assignment" / name).read_text(encoding="utf-8")
        return re.sub(r"</?bdi>", "", text.replace("`", "")).replace("\n  ", " ")

    for qid in QUESTIONS:
        assert en[f"analysis.{qid}"] in prose("README.md")
        assert fa[f"analysis.{qid}"] in prose("README.fa.md")
