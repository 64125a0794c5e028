"""Message catalogues and the small rules that make Persian text read right.

One TOML catalogue per language (``i18n/en.toml``, ``i18n/fa.toml``) holds every
sentence the report prints, so a translator edits one file and a test can prove
both catalogues carry the same keys. Persian text follows the Unicode
Bidirectional Algorithm (UAX #9): Latin runs (identifiers, formulas) are wrapped
in ``<bdi dir="ltr">`` so they keep their order inside right-to-left text (UAX #9
§6.3, isolates), and numbers use Persian digits with the Persian decimal and
thousands separators (U+066B, U+066C) and percent sign (U+066A).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape

from grader.errors import MizanError

CATALOGUE_DIR = Path(__file__).resolve().parent / "i18n"
LANGS = ("en", "fa")

_FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_FA_DECIMAL, _FA_THOUSANDS, _FA_PERCENT = "\u066b", "\u066c", "\u066a"

# A Latin run: starts with a letter/underscore (or digits glued to letters, "1e-4", "2D"), or an
# opening quote/bracket right before one, may hold spaces and code punctuation, ends on something
# that is not a space. Combining marks (r̂) stay with their letter; Persian digits inside a run are
# a localised value ("r = ۸") and go back to ASCII: a formula or code keeps Latin digits.
_MARK = "\u0300-\u036f"
_LAT = "A-Za-z_\u0370-\u03ff"                      # Latin and Greek letters (Δ_i, λ, Σ)
_MID = _LAT + _MARK + "0-9.\\-+=/()'\"\\[\\]<>*^,:|~ ·×−≤≥%‹›…\u06f0-\u06f9\u066b\u066c"
_END = _LAT + _MARK + "0-9)'\"\\]>*%›…/\u06f0-\u06f9"
_OPEN = "\"'‹(\\["
_LATIN_RUN = re.compile(rf"[{_OPEN}]*(?:[{_LAT}]|\d+(?:\.\d+)?[{_LAT}])[{_MID}]*[{_END}]|[{_LAT}][{_MARK}]*")
_NUMBER = re.compile(r"[-\u2212]?\d+(?:[.,]\d+)*%?")
_PAIRS = {"(": ")", "[": "]", "‹": "›"}
_TO_ASCII = str.maketrans("۰۱۲۳۴۵۶۷۸۹\u066b\u066c\u066a\u2212", "0123456789.,%-")
# Where a line may break inside code or a path ("submission/" | "nli.py"): such tokens are kept whole.
# (UAX #14 breaks after "/" and "-" before a letter; ".", ":", "_" and brackets hold on their own.)
_BREAKABLE = re.compile("[/\\-\u2010-\u2014]")
_ARABIC = re.compile("[\u0600-\u06ff]")
_LATIN_LETTER = re.compile("[A-Za-z]")
_CODE = re.compile(r"`([^`]+)`")
_CODE_OR_MATH = re.compile(r"`([^`]+)`|\$([^$\s][^$]*?)\$")


def _math(tex: str) -> str:
    """A catalogue formula ("$r_i = \\Delta_i / k$") drawn as vector math, ASCII digits inside."""
    from grader.report import mathsvg

    tex = tex.translate(_TO_ASCII)
    drawn = mathsvg.img(tex)
    return f'<span class="math" dir="ltr">{drawn}</span>' if drawn is not None else f'<code dir="ltr">{escape(tex)}</code>'



def _finite(value) -> bool:
    """A number the report can print (a results file may hold null, NaN or a stray string)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class CatalogueError(MizanError):
    """A catalogue file is missing, malformed, or lacks a key the report needs."""


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        elif isinstance(value, str):
            out[full] = value
        else:
            raise CatalogueError(f"catalogue key {full!r} must be a string, got {type(value).__name__}")
    return out


@lru_cache(maxsize=None)
def load_catalogue(lang: str, directory: Path = CATALOGUE_DIR) -> dict[str, str]:
    """Flat ``{"section.key": text}`` for ``lang``, read from ``<directory>/<lang>.toml``."""
    path = Path(directory) / f"{lang}.toml"
    if not path.is_file():
        raise CatalogueError(f"no catalogue for language {lang!r}: {path} does not exist")
    try:
        return _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as err:
        raise CatalogueError(f"{path} is not valid TOML: {err}") from None


@dataclass(frozen=True)
class GlossaryTerm:
    """One English term and the one Persian word Mizan uses for it (``i18n/glossary.toml``)."""

    key: str
    en: tuple[str, ...]
    fa: str
    synonyms: tuple[str, ...] = ()


@lru_cache(maxsize=None)
def load_glossary(path: Path = CATALOGUE_DIR / "glossary.toml") -> dict[str, GlossaryTerm]:
    """``{term: GlossaryTerm}``: the one home of Mizan's Persian terminology, so a translator changes a
    word in one place and a test can find every Persian string that strays from it."""
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise CatalogueError(f"cannot read the glossary {path}: {err}") from None
    terms = {}
    for key, entry in table.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("fa"), str) or not entry.get("en"):
            raise CatalogueError(f"{path}: [{key}] needs en = [English forms] and fa = \"the Persian term\"")
        terms[key] = GlossaryTerm(key, tuple(entry["en"]), entry["fa"], tuple(entry.get("synonyms", ())))
    return terms


def persian_digits(text: str) -> str:
    """ASCII digits -> Persian digits; '.'/',' inside a number -> Persian separators."""
    def one(match: re.Match) -> str:
        s = match.group(0).replace("\u2212", "-")
        sign = ""
        if s.startswith("-"):
            sign, s = "\u2212", s[1:]
        s = s.replace(",", _FA_THOUSANDS).replace(".", _FA_DECIMAL).replace("%", _FA_PERCENT)
        return sign + s.translate(_FA_DIGITS)
    return _NUMBER.sub(one, text)


def isolate_fa(text: str, *, math: bool = False) -> Markup:
    """Escape ``text`` for HTML inside a Persian block: Latin runs and `code` spans become
    LTR isolates, every other number gets Persian digits; with ``math``, ``$…$`` is a formula."""
    parts: list[str] = []
    pos = 0
    for code in (_CODE_OR_MATH if math else _CODE).finditer(text):
        parts.append(_isolate_plain(text[pos:code.start()]))
        if code.group(1) is None:
            parts.append(_math(code.group(2)))
        else:
            parts.append(f'<code dir="ltr">{keep_tokens(code.group(1))}</code>')
        pos = code.end()
    parts.append(_isolate_plain(text[pos:]))
    return Markup("".join(parts))


def _balance(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``text[start:end]`` until its brackets and quotes pair up, then take in a closer
    that directly follows: "(lora)" isolates "lora", "f(x" + ")" isolates "f(x)", and a quote
    never ends up on one side of the isolate only (it would be drawn doubled or mirrored)."""
    changed = True
    while changed and end - start > 1:
        changed = False
        run = text[start:end]
        for o, c in _PAIRS.items():
            if run.count(c) > run.count(o) and run.endswith(c):
                end, changed = end - 1, True
                break
            if run.count(o) > run.count(c):
                if end < len(text) and text[end] == c and text.count(o, start, end) == text.count(c, start, end) + 1:
                    end, changed = end + 1, True
                elif run.startswith(o):
                    start, changed = start + 1, True
                break
        else:
            for q in "\"'":
                if run.count(q) % 2:
                    if run.startswith(q):
                        start, changed = start + 1, True
                    elif run.endswith(q):
                        end, changed = end - 1, True
                    break
    run = text[start:end]
    if len(run) > 2 and _PAIRS.get(run[0]) == run[-1] and _balance(run, 1, len(run) - 1) == (1, len(run) - 1):
        start, end = start + 1, end - 1     # "(full)": the brackets belong to the Persian sentence
    return start, end


def keep_tokens(text: str) -> str:
    """Escaped ``text`` whose code-like tokens (paths, calls, dotted names) cannot break across lines."""
    out = []
    for token in re.split(r"(\s+)", text):
        if len(token) > 1 and not token.isspace() and _BREAKABLE.search(token):
            out.append(f'<span class="nb">{escape(token)}</span>')
        else:
            out.append(str(escape(token)))
    return "".join(out)


def isolate_latin(text: str, *, localise: bool = True) -> str:
    """Escaped Persian text whose Latin runs are LTR isolates with ASCII digits; with ``localise``
    the numbers outside them get Persian digits (catalogue text), without it they stay as written
    (a student's own words)."""
    loc = persian_digits if localise else (lambda s: s)
    parts: list[str] = []
    pos = 0
    for run in _LATIN_RUN.finditer(text):
        start, end = _balance(text, *run.span())
        if start < pos or start >= end:
            continue
        if not re.search(f"[{_LAT}]", text[start:end]):
            continue
        parts.append(str(escape(loc(text[pos:start]))))
        parts.append(f'<bdi dir="ltr">{keep_tokens(text[start:end].translate(_TO_ASCII))}</bdi>')
        pos = end
    parts.append(str(escape(loc(text[pos:]))))
    return "".join(parts)


def _isolate_plain(text: str) -> str:
    return isolate_latin(text, localise=True)


def markup_en(text: str, *, math: bool = False) -> Markup:
    """Escape English text; `code` spans become <code>; with ``math``, ``$…$`` is a formula."""
    parts: list[str] = []
    pos = 0
    for code in (_CODE_OR_MATH if math else _CODE).finditer(text):
        parts.append(str(escape(text[pos:code.start()])))
        parts.append(_math(code.group(2)) if code.group(1) is None else f"<code>{keep_tokens(code.group(1))}</code>")
        pos = code.end()
    parts.append(str(escape(text[pos:])))
    return Markup("".join(parts))


@dataclass
class Lang:
    """Everything a template needs to write in one language: text, numbers, direction."""

    code: str
    catalogue: dict[str, str] = field(repr=False)

    @classmethod
    def get(cls, code: str) -> "Lang":
        if code not in LANGS:
            raise CatalogueError(f"unknown report language {code!r}: choose one of {', '.join(LANGS)}")
        return cls(code, load_catalogue(code))

    @property
    def dir(self) -> str:
        return "rtl" if self.code == "fa" else "ltr"

    @property
    def rtl(self) -> bool:
        return self.code == "fa"

    def raw(self, key: str, /, **values) -> str:
        """The catalogue text for ``key`` with ``values`` filled in, as plain text."""
        try:
            text = self.catalogue[key]
        except KeyError:
            raise CatalogueError(f"catalogue {self.code}.toml has no key {key!r}; add it to both "
                                 f"en.toml and fa.toml") from None
        try:
            return text.format(**values) if values else text
        except (KeyError, IndexError) as err:
            raise CatalogueError(f"catalogue {self.code}.toml key {key!r} uses placeholder {err} "
                                 f"that the report does not supply") from None

    def t(self, key: str, /, **values) -> Markup:
        """The catalogue text for ``key`` as safe HTML in this language."""
        return self.text(self.raw(key, **values), math=True)

    def text(self, text: str | None, *, math: bool = False) -> Markup:
        """Free text (a check message, a file name) as safe HTML in this language; ``math``
        (catalogue text) draws ``$…$`` as a formula."""
        text = "" if text is None else str(text)
        if self.rtl and _LATIN_LETTER.search(text) and not _ARABIC.search(text):
            # a wholly English text (a check without a Persian title) stays English, digits included
            return Markup(f'<span dir="ltr" lang="en" class="en-in-fa">{markup_en(text, math=math)}</span>')
        return isolate_fa(text, math=math) if self.rtl else markup_en(text, math=math)

    # Numbers: formatted here once, then localised, so tables and sentences agree.
    def _loc(self, s: str) -> str | Markup:
        if s.startswith("-"):
            s = "\u2212" + s[1:]
        if not self.rtl:
            return s
        s = persian_digits(s)
        # a signed number is an LTR island in RTL text, or its sign drifts to the wrong side
        return Markup(f'<bdi dir="ltr">{s}</bdi>') if s[:1] in "\u2212+" else s

    def signed(self, value, digits: int = 3) -> str | Markup:
        """Like :meth:`num` with an explicit '+' for positive values (differences)."""
        if not _finite(value):
            return "—"
        return self._loc(f"{float(value):+,.{digits}f}")

    def num(self, value, digits: int = 3) -> str:
        if not _finite(value):
            return "—"
        return self._loc(f"{float(value):,.{digits}f}")

    def int(self, value) -> str:
        if not _finite(value):
            return "—"
        return self._loc(f"{int(round(float(value))):,}")

    def pct(self, value, digits: int = 2) -> str:
        """``value`` already in percent (e.g. 0.52 for 0.52 %)."""
        if not _finite(value):
            return "—"
        return self._loc(f"{float(value):,.{digits}f}%")

    def score_of(self, earned, total) -> Markup:
        """"17 / 25" in English, "۱۷ از ۲۵" in Persian (a slash between numbers reads backwards in RTL)."""
        return self.t("checks.score_of", earned=self.score(earned), max=self.score(total))

    def score(self, value) -> str:
        """Points: no trailing zeros (2, 1.5)."""
        if not _finite(value):
            return "—"
        return self._loc(f"{float(value):g}")
