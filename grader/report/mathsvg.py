"""TeX formulas as vector drawings: matplotlib's mathtext -> SVG -> an <img> WeasyPrint draws as paths.

A formula in the report (a student's ``$r_i = \\Delta_i / k$`` or one of the report's own) is set
the way a reader of a paper expects, with real fractions, hats and sub-scripts, and stays sharp at
any zoom because glyphs are written as outlines (``svg.fonttype = "path"``), not as text: a PDF
reader never sees the TeX source. mathtext covers the TeX subset a homework answer needs
(matplotlib's "Writing mathematical expressions"); what it cannot parse is returned as ``None``,
and the caller shows the source as code with a note, never a silent gap.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

MAX_TEX = 2000                 # one formula; longer is not a formula but a pasted file
FONTSET = "cm"                 # Computer Modern: what a formula looks like in a paper
OVERSAMPLE = 10
DISPLAY_SCALE = 1.2            # mathtext has no \displaystyle: a display formula is set larger


@dataclass(frozen=True)
class Drawn:
    """One typeset formula: the SVG and its box in points (depth below the baseline)."""

    svg: bytes
    width: float
    height: float
    depth: float


class MathError(ValueError):
    """mathtext cannot set this formula (unknown command, unbalanced braces, too long)."""


@lru_cache(maxsize=512)
def draw(tex: str, size: float = 9.0, display: bool = False, color: str = "#212529") -> Drawn:
    """``tex`` (without dollars) set at ``size`` points; raises :class:`MathError`."""
    tex = tex.strip()
    if not tex:
        raise MathError("empty formula")
    if len(tex) > MAX_TEX:
        raise MathError(f"formula longer than {MAX_TEX} characters")
    if "\n" in tex:
        tex = re.sub(r"\s*\n\s*", " ", tex)
    import matplotlib

    matplotlib.use("agg", force=False)
    from matplotlib import mathtext, rc_context
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    if display:                       # a displayed fraction is set at full size, as TeX's display style
        tex = re.sub(r"\\frac(?![a-zA-Z])", r"\\dfrac", tex)
    source = f"${tex}$"
    prop = FontProperties(size=size * (DISPLAY_SCALE if display else 1.0), math_fontfamily=FONTSET)
    with rc_context({"mathtext.fontset": FONTSET, "svg.fonttype": "path", "svg.hashsalt": "mizan",
                     "text.usetex": False}):
        try:
            parsed = mathtext.MathTextParser("path").parse(source, dpi=72 * OVERSAMPLE, prop=prop)
        except ValueError as err:          # mathtext's ParseFatalException is a ValueError
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            raise MathError(lines[-1] if lines else "mathtext cannot parse it") from None
        # mathtext rounds its box to whole pixels: measured at 10x, the box is exact to 0.1 pt
        width, height, depth = (v / OVERSAMPLE for v in (parsed.width, parsed.height, parsed.depth))
        # the same drawing matplotlib.mathtext.math_to_image makes, saved without a date (reproducible)
        fig = Figure(figsize=(max(width, 1) / 72, max(height, 1) / 72))
        fig.text(0, depth / max(height, 1), source, fontproperties=prop, color=color)
        buf = io.BytesIO()
        fig.savefig(buf, dpi=72, format="svg", transparent=True, metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = re.sub(rb"<\?xml.*?\?>\s*|<!DOCTYPE.*?>\s*|<metadata>.*?</metadata>\s*", b"", svg, flags=re.S)
    return Drawn(svg, float(width), float(height), float(depth))


def img(tex: str, *, size: float = 9.0, display: bool = False) -> Markup | None:
    """An ``<img>`` of ``tex`` sitting on the text's baseline, or None when it cannot be set."""
    try:
        d = draw(tex, size, display)
    except MathError:
        return None
    uri = "data:image/svg+xml;base64," + base64.b64encode(d.svg).decode("ascii")
    style = f"width:{d.width:.2f}pt;height:{d.height:.2f}pt;vertical-align:{-d.depth:.2f}pt"
    cls = "math display" if display else "math"
    return Markup(f'<img class="{cls}" src="{uri}" alt="{escape(tex)}" style="{style}">')


def error_of(tex: str) -> str | None:
    """Why ``tex`` cannot be set, or None when it can."""
    try:
        draw(tex.strip() or " ", 9.0, False)
    except MathError as err:
        return str(err)
    return None
