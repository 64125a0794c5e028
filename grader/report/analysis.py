"""The student's written analysis: ``analysis.fa.md`` / ``analysis.en.md`` next to ``submission/``.

Each file is Markdown (CommonMark with tables) and TeX math in ``$…$`` / ``$$…$$``, split into
one section per question of the statement by a second-level heading that names the question's id:
``## q1`` (any words may follow: ``## q1 — why LoRA is efficient``), or any heading ending in an
explicit anchor ``## Why LoRA {#q1}``. The ids and their questions live here and in the
catalogues (``analysis.q1`` …), and the statements (assignment/README*.md) carry the same ids.

The report shows every question in order: the answers found (in the report's languages first),
or a box saying the answer is missing, in both languages, so nothing is silently dropped. A file
the report cannot use (not UTF-8, too large, a heading naming no question, a question twice,
text before the first question) stops the report with one message naming the file, the line and
the fix: a student would rather fix a heading than hand in a report that lost a section.

Markdown goes through markdown-it-py (raw HTML off, images off: a report draws nothing from
outside the folder); Persian answers get their Latin runs isolated the way the report's own
Persian text does (:func:`grader.report.i18n.isolate_latin`), without touching the student's digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape

from grader.report.data import ReportError
from grader.report.i18n import LANGS, isolate_latin, keep_tokens

QUESTIONS = ("q1", "q2", "q3", "q4", "q5")
FILES = {"fa": "analysis.fa.md", "en": "analysis.en.md"}
MAX_BYTES = 256 * 1024
_ID = re.compile(r"^q(\d+)\b[\s.:)\-—–]*", re.I)
_ANCHOR = re.compile(r"\s*\{#(q\d+)\}\s*$", re.I)
FIX = ("start each answer with a heading naming its question, \"## q1\" to \"## q5\" (the ids in the "
       "statement), and make other headings \"###\"")


class AnalysisError(ReportError):
    """An analysis file the report cannot use; the message names the file, the line and the fix."""


@dataclass
class Answer:
    qid: str
    lang: str                 # the language of the file it came from
    html: Markup
    source: str               # the file name
    title: str = ""           # the words after the id in the student's heading, if any
    math_errors: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    """What the student wrote: per question, the answers by file language."""

    files: dict[str, Path] = field(default_factory=dict)
    answers: dict[str, dict[str, Answer]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.files)

    def for_question(self, qid: str, langs: list[str]) -> list[Answer]:
        """The answers to ``qid``: those in ``langs`` (report order) first, then any other."""
        got = self.answers.get(qid, {})
        order = list(langs) + [code for code in LANGS if code not in langs]
        return [got[code] for code in order if code in got]


# ---- Markdown ------------------------------------------------------------------------------------

def _math_inline(state, silent: bool) -> bool:
    """``$x$`` (no space inside either dollar, not followed by a digit) and ``$$x$$`` inline."""
    src, pos = state.src, state.pos
    if src[pos] != "$":
        return False
    display = src.startswith("$$", pos)
    opener = "$$" if display else "$"
    start = pos + len(opener)
    if start >= state.posMax or (not display and src[start] in " \t\n"):
        return False
    end = start
    while True:
        end = src.find(opener, end)
        if end < 0 or end >= state.posMax:
            return False
        if src[end - 1] == "\\":
            end += 1
            continue
        if not display and (src[end - 1] in " \t\n" or (end + 1 < len(src) and src[end + 1].isdigit())):
            end += 1
            continue
        break
    if end == start:
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = src[start:end]
        token.markup = opener
        token.info = "display" if display else ""
    state.pos = end + len(opener)
    return True


def _math_block(state, start_line: int, end_line: int, silent: bool) -> bool:
    """A display formula: lines from one starting with ``$$`` to one ending with ``$$``."""
    pos = state.bMarks[start_line] + state.tShift[start_line]
    maximum = state.eMarks[start_line]
    if state.sCount[start_line] - state.blkIndent >= 4 or not state.src.startswith("$$", pos):
        return False
    first = state.src[pos + 2:maximum]
    if first.strip().endswith("$$"):
        content, last = first.strip()[:-2], start_line        # $$ x $$ on one line
    else:
        lines, last = [first], None
        for line in range(start_line + 1, end_line):
            text = state.src[state.bMarks[line] + state.tShift[line]:state.eMarks[line]]
            if text.rstrip().endswith("$$"):
                lines.append(text.rstrip()[:-2])
                last = line
                break
            lines.append(text)
        if last is None:
            return False
        content = "\n".join(lines)
    if silent:
        return True
    token = state.push("math_block", "math", 0)
    token.block, token.content, token.markup = True, content, "$$"
    token.map = [start_line, last + 1]
    state.line = last + 1
    return True


@lru_cache(maxsize=None)
def _parser():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable(["image", "html_inline", "html_block"])
    md.inline.ruler.before("escape", "math_inline", _math_inline)
    md.block.ruler.before("fence", "math_block", _math_block,
                          {"alt": ["paragraph", "reference", "blockquote", "list"]})
    return md


class _Renderer:
    """markdown-it's HTML renderer with math as vector drawings and Persian Latin runs isolated."""

    def __init__(self, lang: str, size: float):
        self.rtl, self.size, self.errors = lang == "fa", size, []

    def math(self, tex: str, display: bool) -> str:
        from grader.report import mathsvg

        drawn = mathsvg.img(tex, size=self.size, display=display)
        if drawn is not None:
            return f'<span class="math{" display" if display else ""}" dir="ltr">{drawn}</span>'
        self.errors.append(tex)
        why = mathsvg.error_of(tex) or "?"
        return (f'<code class="math-error" dir="ltr" title="{escape(why)}">{keep_tokens(tex)}</code>'
                f'<sup class="math-error-mark">⚠</sup>')

    def render(self, text: str) -> Markup:
        md = _parser()
        tokens = md.parse(text)
        rules = md.renderer.rules
        saved = dict(rules)
        rtl = self.rtl

        def text_rule(tokens, idx, options, env):
            content = tokens[idx].content
            return isolate_latin(content, localise=False) if rtl else str(escape(content))

        def code_inline(tokens, idx, options, env):
            return f'<code dir="ltr">{keep_tokens(tokens[idx].content)}</code>'

        def code_block(tokens, idx, options, env):
            return f'<pre dir="ltr"><code>{escape(tokens[idx].content)}</code></pre>\n'

        rules.update({
            "text": text_rule, "code_inline": code_inline, "fence": code_block, "code_block": code_block,
            "math_inline": lambda t, i, o, e: self.math(t[i].content, t[i].info == "display"),
            "math_block": lambda t, i, o, e: f'<p class="math-block">{self.math(t[i].content, True)}</p>\n',
        })
        try:
            return Markup(md.renderer.render(tokens, md.options, {}))
        finally:
            rules.clear()
            rules.update(saved)


def render_markdown(text: str, lang: str, *, size: float | None = None) -> tuple[Markup, list[str]]:
    """``text`` as HTML for a block in ``lang``, and the formulas that could not be typeset."""
    r = _Renderer(lang, size or (9.5 if lang == "fa" else 9.0))
    return r.render(text), r.errors


# ---- sections -------------------------------------------------------------------------------------

def _read(path: Path) -> str:
    fix = f"save {path.name} as a UTF-8 text file (Markdown) next to submission/"
    try:
        if not path.is_file():
            raise AnalysisError(f"{path}: not a regular file; {fix}")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise AnalysisError(f"{path}: {size:,} bytes, more than the {MAX_BYTES // 1024} KiB an analysis "
                                f"may have; shorten it (figures and data belong in the results, not the text)")
        data = path.read_bytes()
    except OSError as err:
        raise AnalysisError(f"{path}: cannot be read ({err.strerror or err}); {fix}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise AnalysisError(f"{path}: line {line} is not UTF-8; {fix}") from None


def split_sections(text: str, path: Path) -> dict[str, tuple[str, str]]:
    """``{qid: (heading words, body markdown)}`` of one analysis file; raises :class:`AnalysisError`."""
    tokens = _parser().parse(text)
    lines = text.splitlines()
    heads: list[tuple[int, int, str, str]] = []      # (first line, end line, qid, words)
    preamble_ok_until = 0
    for i, tok in enumerate(tokens):
        if tok.type != "heading_open" or tok.level != 0 or tok.map is None:
            continue
        words = tokens[i + 1].content.strip()
        line = tok.map[0] + 1
        if tok.tag == "h1":
            if heads:
                raise AnalysisError(f"{path}: line {line}: the first-level heading \"# {words}\" comes after "
                                    f"a question's section; a first-level heading may only title the file. {FIX}")
            preamble_ok_until = tok.map[1]
            continue
        if tok.tag != "h2":
            continue
        anchor = _ANCHOR.search(words)
        qid, title = None, words
        if anchor:
            qid, title = anchor.group(1).lower(), words[:anchor.start()].strip()
        else:
            m = _ID.match(words)
            if m:
                qid, title = f"q{int(m.group(1))}", words[m.end():].strip()
        if qid is None:
            raise AnalysisError(f"{path}: line {line}: the heading \"## {words}\" names no question; {FIX}.")
        if qid not in QUESTIONS:
            raise AnalysisError(f"{path}: line {line}: \"## {words}\" names {qid}, but the statement asks "
                                f"{', '.join(QUESTIONS)}; {FIX}.")
        if any(h[2] == qid for h in heads):
            raise AnalysisError(f"{path}: line {line}: a second section for {qid}; merge the two answers "
                                f"under one \"## {qid}\" heading.")
        heads.append((tok.map[0], tok.map[1], qid, title))
    first = heads[0][0] if heads else len(lines)
    stray = [n for n in range(preamble_ok_until, first) if lines[n].strip()]
    if stray:
        where = f"line {stray[0] + 1}"
        if not heads:
            raise AnalysisError(f"{path}: no question heading found, so none of its text would be shown "
                                f"({where} onwards); {FIX}.")
        raise AnalysisError(f"{path}: {where}: text before the first question heading would not be shown; "
                            f"move it under one of the \"## qN\" headings. {FIX}.")
    sections = {}
    for n, (start, body_start, qid, title) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        sections[qid] = (title, "\n".join(lines[body_start:end]).strip("\n"))
    return sections


def load_analysis(folder: Path | str | None) -> Analysis:
    """The analysis files in ``folder`` (a submission folder, beside ``submission/``); none is fine."""
    result = Analysis()
    if folder is None:
        return result
    folder = Path(folder)
    for lang, name in FILES.items():
        path = folder / name
        if not (path.exists() or path.is_symlink()):
            continue
        text = _read(path)
        result.files[lang] = path
        for qid, (title, body) in split_sections(text, path).items():
            if not body.strip():
                continue                    # a heading with nothing under it is a missing answer
            html, errors = render_markdown(body, lang)
            result.answers.setdefault(qid, {})[lang] = Answer(qid, lang, html, name, title, errors)
    return result


def analysis_view(analysis: Analysis, langs: list[str]) -> dict:
    """What the template lays out: per question, its answers (or none: shown as missing)."""
    return {
        "files": sorted(p.name for p in analysis.files.values()),
        "any": bool(analysis),
        "questions": [{"qid": qid, "answers": analysis.for_question(qid, langs)} for qid in QUESTIONS],
        "answered": sum(1 for qid in QUESTIONS if analysis.answers.get(qid)),
        "n": len(QUESTIONS),
    }
