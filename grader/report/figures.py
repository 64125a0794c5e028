"""Every figure of the report, drawn with matplotlib (Agg) from the results JSON alone.

Each ``fig_*`` function takes the loaded results and a :class:`Words` (the figure strings of
one language, catalogue keys ``figures.*``) and returns a matplotlib Figure; :func:`draw`
saves it as a PNG under the report's ``figures/`` folder, once per language of the report.

Persian labels are handed to matplotlib in logical order: matplotlib ≥ 3.11 lays text out
with libraqm (HarfBuzz shaping + the Unicode bidi algorithm), so pre-shaping them with
arabic_reshaper/python-bidi would reverse them a second time. :func:`shaping_available`
says whether this matplotlib has it; without it the Persian figures fall back to English.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grader.homework import NLI_MODES  # noqa: E402
from grader.report.data import Missing  # noqa: E402
from grader.report.i18n import load_catalogue, persian_digits  # noqa: E402

WIDTH_IN = 6.8          # the A4 text width with 18 mm margins
DPI = 150
MODE_COLOURS = {"full": "#1d4e89", "freeze": "#c8553d", "lora": "#2a9d8f"}
CORRECT, LEAKY, GREY, NONE = "#1d4e89", "#c8553d", "#6c757d", "#8d6a9f"
ARM_STYLE = {"no_resampling": (NONE, "-."), "correct": (CORRECT, "-"), "leaky": (LEAKY, "--")}
PERSIAN_FAMILY = "Noto Sans Arabic"
RLM = "\u200f"          # a right-to-left mark: the label's paragraph direction is RTL even if it opens with Latin
LRI, PDI = "\u2066", "\u2069"      # left-to-right isolate and its end (UAX #9 §2.7), as <bdi dir="ltr">

plt.rcParams.update({
    "font.family": "DejaVu Sans", "font.size": 8.5, "axes.titlesize": 9, "axes.labelsize": 8.5,
    "legend.fontsize": 7.5, "xtick.labelsize": 7.5, "ytick.labelsize": 7.5,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": "#e3e6ea", "grid.linewidth": 0.6, "axes.axisbelow": True,
    "svg.hashsalt": "mizan", "figure.dpi": DPI, "axes.unicode_minus": True,
})


def shaping_available() -> bool:
    """Whether matplotlib shapes and reorders complex scripts itself (libraqm, matplotlib ≥ 3.11)."""
    from matplotlib import ft2font

    return bool(getattr(ft2font, "__libraqm_version__", ""))


@lru_cache(maxsize=None)
def persian_family() -> str | None:
    """Register the report's Persian font (the static Noto Sans Arabic faces the PDF embeds) with
    matplotlib; its family name, or None when the font package is missing."""
    from matplotlib import font_manager

    from grader.report.render import persian_faces

    faces = persian_faces()
    if not faces:
        return None
    for path in sorted(set(faces.values())):
        font_manager.fontManager.addfont(str(path))
    return PERSIAN_FAMILY


@dataclass(frozen=True)
class Words:
    """The strings of one language's figures: catalogue text, numbers in its digits, its font.

    Numbers that belong to a formula or a code value ("r = 0.44", "t = 0.91") keep Latin digits
    in Persian too, as the report's text does; every other number gets the language's digits.
    """

    code: str
    EXTRA_BOTTOM_IN, EXTRA_TOP_IN, EXTRA_LEFT_IN = 0.26, 0.12, 0.1

    @classmethod
    def get(cls, code: str) -> "Words":
        if code == "fa" and not (shaping_available() and persian_family()):
            return cls("en")        # English labels beat unshaped, disconnected Persian letters
        return cls(code)

    @property
    def rtl(self) -> bool:
        return self.code == "fa"

    @property
    def family(self) -> list[str]:
        return [PERSIAN_FAMILY, "DejaVu Sans"] if self.rtl else ["DejaVu Sans"]

    def raw(self, key: str, /, **values) -> str:
        """The catalogue text of ``figures.<key>`` with ``values`` filled in, as written."""
        text = load_catalogue(self.code)[f"figures.{key}"]
        return text.format(**values) if values else text

    def t(self, key: str, /, **values) -> str:
        """:meth:`raw` as a label: in Persian, right-to-left with its Latin runs isolated."""
        text = self.raw(key, **values)
        return RLM + isolate_runs(text) if self.rtl else text

    def n(self, value, spec: str = ",") -> str:
        """``value`` formatted with ``spec`` in this language's digits (−, not -)."""
        s = format(value, spec).replace("-", "\u2212")
        return persian_digits(s) if self.rtl else s

    def pct(self, fraction: float, digits: int = 2) -> str:
        """``fraction`` as a percentage ("0.51%", "۰٫۵۱٪")."""
        return self.n(100 * fraction, f".{digits}f") + ("\u066a" if self.rtl else "%")

    def legend(self, where, **kwargs):
        """A legend whose markers sit on the reading side (right of the text in Persian)."""
        return where.legend(frameon=False, markerfirst=not self.rtl, prop={"family": self.family}, **kwargs)

    def finish(self, fig: plt.Figure) -> plt.Figure:
        """Every text of ``fig`` in this language's font; tick numbers in its digits."""
        for text in fig.findobj(matplotlib.text.Text):
            text.set_fontfamily(self.family)
        if self.rtl:
            # Noto Sans Arabic's lines are twice as tall as DejaVu Sans's (room for stacked marks):
            # the same margins would cut the x labels off, so the figure grows and its axes keep
            # their size in inches
            p, h = fig.subplotpars, fig.get_figheight()
            grown = h + self.EXTRA_BOTTOM_IN + self.EXTRA_TOP_IN
            fig.set_figheight(grown)
            fig.subplots_adjust(bottom=(p.bottom * h + self.EXTRA_BOTTOM_IN) / grown,
                                top=(p.top * h + self.EXTRA_BOTTOM_IN) / grown,
                                left=p.left + self.EXTRA_LEFT_IN / fig.get_figwidth())
            for ax in fig.axes:
                for axis in (ax.xaxis, ax.yaxis):
                    if not getattr(axis, "formula", False):
                        axis.set_major_formatter(_Localised(axis.get_major_formatter()))
        return fig


_FORMULA_PUNCT = set(" =:/+-−.,()[]_'×·^*%<>≤≥|\u066b\u066c")
_TO_LATIN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹\u066b\u066c", "0123456789.,")


def _kind(ch: str) -> str:
    """One letter per character for :data:`_RUN`: L strong left-to-right (Latin, Greek, subscripts
    such as ᵢ), D a digit, P formula punctuation or a space, O anything else (Persian letters)."""
    if ch.isdigit():
        return "D"
    if ch in _FORMULA_PUNCT:
        return "P"
    return "L" if unicodedata.bidirectional(ch) == "L" else "O"


_RUN = re.compile(r"L[LDP]*[LD)\]]|L")


def isolate_runs(text: str) -> str:
    """Persian label text whose Latin runs ("ADASYN", "AUPRC = 0.741", "rᵢ = Δᵢ / k") are LTR
    isolates with Latin digits, as :func:`grader.report.i18n.isolate_latin` does for the HTML:
    matplotlib's text engine applies the bidi algorithm, and an unisolated run would pull a Persian
    number into itself ("ADASYN: ۲۴۰") or flip the order of two runs."""
    kinds = "".join(_kind(ch) for ch in text)
    parts, pos = [], 0
    for run in _RUN.finditer(kinds):
        start, end = run.span()
        while end - start > 1 and text[end - 1] in ")]" and \
                text.count("(", start, end) + text.count("[", start, end) < \
                text.count(")", start, end) + text.count("]", start, end):
            end -= 1              # a closing bracket of the Persian sentence stays outside
        parts += [text[pos:start], LRI, text[start:end].translate(_TO_LATIN_DIGITS), PDI]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


class _Localised(matplotlib.ticker.Formatter):
    """Another formatter's tick labels in Persian digits."""

    def __init__(self, inner: matplotlib.ticker.Formatter):
        self.inner = inner

    def set_axis(self, axis):
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def set_locs(self, locs):
        self.inner.set_locs(locs)

    def __call__(self, x, pos=None):
        return persian_digits(self.inner(x, pos).replace("\u2212", "-"))


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(x: float, _pos=None) -> str:
    """"10⁵" with Unicode superscripts: compact, and plain text (mathtext's 10^k is not shaped)."""
    if x <= 0:
        return ""
    exp = round(math.log10(x))
    return f"10{str(exp).translate(_SUPERSCRIPT)}" if abs(math.log10(x) - exp) < 1e-9 else ""


def plain_log_ticks(axis, numticks: int | None = None) -> None:
    """Log-axis ticks at powers of ten written 10ᵏ in plain text, no minor labels. A power is a
    formula: it keeps Latin digits in Persian figures too."""
    axis.set_major_locator(matplotlib.ticker.LogLocator(numticks=numticks) if numticks else
                           matplotlib.ticker.LogLocator())
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(_power_of_ten))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.set_minor_locator(matplotlib.ticker.NullLocator())
    axis.formula = True           # Words.finish leaves its digits Latin


# Fixed margins (fractions of the figure) instead of constrained layout: the figures have
# known contents, and constrained layout doubles the drawing time of a report.
MARGINS = dict(left=0.08, right=0.98, bottom=0.17, top=0.88, wspace=0.28)


def _new(ncols: int, height: float = 2.6, **margins):
    fig, axes = plt.subplots(1, ncols, figsize=(WIDTH_IN, height))
    fig.subplots_adjust(**{**MARGINS, **margins})
    return fig, np.atleast_1d(axes)


def _na_panel(ax, title: str, W: Words) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, W.t("not_available"), ha="center", va="center", color=GREY, transform=ax.transAxes)
    ax.set_xticks([]), ax.set_yticks([])
    ax.grid(False)
    for side in ax.spines.values():
        side.set_visible(False)


def _confusion(ax, matrix, labels, title: str, W: Words, cmap: str = "Blues") -> None:
    m = np.asarray(matrix, dtype=float)
    rows = m.sum(axis=1, keepdims=True)
    rate = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    ax.imshow(rate, cmap=cmap, vmin=0, vmax=1)
    ax.grid(False)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{W.n(int(m[i, j]))}\n{W.pct(rate[i, j], 0)}", ha="center", va="center", fontsize=7,
                    color="white" if rate[i, j] > 0.55 else "#212529")
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels), ax.set_yticks(ticks, labels)
    ax.set_xlabel(W.t("predicted")), ax.set_ylabel(W.t("true"))
    ax.set_title(title)
    for side in ax.spines.values():
        side.set_visible(False)


def _share(data: dict) -> float:
    share = data.get("trainable_percent")
    return share if share is not None else 100.0 * data["trainable_params"] / max(data["total_params"], 1)


# ---- Task 1 -------------------------------------------------------------------------------------

def fig_nli_curves(nli: dict, W: Words) -> plt.Figure:
    """Loss (train solid, eval dashed) and eval accuracy per epoch, one colour per mode."""
    from matplotlib.lines import Line2D

    fig, (loss_ax, acc_ax) = _new(2, 2.8, left=0.105, bottom=0.25, top=0.9, wspace=0.25)
    handles = []
    for mode in NLI_MODES:
        data = nli.get(mode)
        hist = data.get("history") if data else None
        if not hist:
            continue
        epochs = [h["epoch"] for h in hist]
        c = MODE_COLOURS[mode]
        loss_ax.plot(epochs, [h.get("train_loss", math.nan) for h in hist], "-o", ms=3, color=c)
        loss_ax.plot(epochs, [h.get("eval_loss", math.nan) for h in hist], "--s", ms=3, color=c)
        acc_ax.plot(epochs, [h.get("eval_accuracy", math.nan) for h in hist], "-o", ms=3, color=c)
        handles.append(Line2D([], [], color=c, marker="o", ms=3, label=W.t(f"mode_{mode}")))
    if not handles:
        raise LookupError("no mode has a training history")
    loss_ax.set(title=W.t("loss"), xlabel=W.t("epoch"), ylabel=W.t("cross_entropy"))
    acc_ax.set(title=W.t("val_accuracy"), xlabel=W.t("epoch"), ylabel=W.t("accuracy"))
    acc_ax.axhline(1 / 3, color=GREY, ls=":", lw=1)
    for ax in (loss_ax, acc_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles += [Line2D([], [], color="#343a40", ls="-", label=W.t("train")),
                Line2D([], [], color="#343a40", ls="--", label=W.t("validation")),
                Line2D([], [], color=GREY, ls=":", label=W.t("chance"))]
    if W.rtl:
        handles.reverse()           # read from the right
    W.legend(fig, handles=handles, loc="lower center", ncols=len(handles))
    return W.finish(fig)


def fig_nli_confusion(nli: dict, W: Words) -> plt.Figure:
    if not any(nli.get(m) for m in NLI_MODES):
        raise LookupError("no mode has a confusion matrix")
    fig, axes = _new(3, 2.35, left=0.1, right=0.99, bottom=0.18, top=0.9, wspace=0.45)
    short = [W.t("entailment"), W.t("neutral"), W.t("contradiction")]
    for ax, mode in zip(axes, NLI_MODES):
        data = nli.get(mode)
        if data:
            acc = data.get("accuracy")
            title = W.t(f"mode_{mode}")
            if isinstance(acc, (int, float)):
                title = W.t("mode_accuracy", mode=W.raw(f"mode_{mode}"), acc=W.n(acc, ".3f"))
            _confusion(ax, data["confusion_matrix"], short, title, W)
        else:
            _na_panel(ax, W.t(f"mode_{mode}"), W)
    return W.finish(fig)


def _bar_labels(ax, ys, values, labels, *, log: bool) -> list:
    """Write each bar's label at its end: inside (white, flush right) when the bar spans most of
    the axes, else just right of it. One label per bar row, so labels never meet."""
    lo, hi = ax.get_xlim()
    span = (math.log10(hi) - math.log10(lo)) if log else hi - lo
    texts = []
    for y, v, label in zip(ys, values, labels):
        frac = ((math.log10(max(v, lo)) - math.log10(lo)) if log else v - lo) / span
        inside = frac > 0.6
        texts.append(ax.annotate(label, (v, y), xytext=(-4 if inside else 4, 0), textcoords="offset points",
                                 ha="right" if inside else "left", va="center", fontsize=7.5,
                                 color="white" if inside else "#212529",
                                 fontweight="bold" if inside else "normal"))
    return texts


def fig_nli_params(nli: dict, W: Words) -> plt.Figure:
    """Trainable parameters (log scale) and accuracy per mode, one row per mode: what each mode
    buys per trained weight. Horizontal bars, so no two labels can share a place."""
    points = [(m, nli[m]) for m in NLI_MODES if nli.get(m)]
    if not points:
        raise LookupError("no mode has parameter counts")
    fig, (pax, aax) = _new(2, 0.55 + 0.42 * len(points), left=0.1, right=0.98, bottom=0.3, top=0.84, wspace=0.08)
    ys = np.arange(len(points))[::-1]
    counts = [max(int(d["trainable_params"]), 1) for _, d in points]
    colours = [MODE_COLOURS[m] for m, _ in points]
    lo = 10 ** math.floor(math.log10(min(counts)))
    hi = 10 ** (math.ceil(math.log10(max(counts))) + 0.9)
    pax.set_xscale("log")
    pax.set_xlim(lo, hi)
    pax.barh(ys, [c - lo for c in counts], left=lo, color=colours, height=0.62)
    shares = [_share(d) for _, d in points]
    _bar_labels(pax, ys, counts, [W.t("trainable_label", n=W.n(c), share=W.pct(s / 100, 4 if s < 0.01 else 2))
                                  for c, s in zip(counts, shares)], log=True)
    plain_log_ticks(pax.xaxis)
    pax.set_yticks(ys, [W.t(f"mode_{m}") for m, _ in points])
    pax.set_title(W.t("trainable_title"))
    pax.grid(axis="y", visible=False)
    accs = [float(d["accuracy"]) for _, d in points]
    aax.set_xlim(0, 1)
    aax.barh(ys, accs, color=colours, height=0.62, alpha=0.85)
    aax.axvline(1 / 3, color=GREY, ls=":", lw=1)
    _bar_labels(aax, ys, accs, [W.n(a, ".3f") for a in accs], log=False)
    aax.set_yticks(ys, [""] * len(ys))
    aax.tick_params(axis="y", length=0)
    aax.set_title(W.t("accuracy_title"))
    aax.grid(axis="y", visible=False)
    for ax in (pax, aax):
        ax.set_ylim(ys.min() - 0.55, ys.max() + 0.55)
    return W.finish(fig)


# ---- Task 2 -------------------------------------------------------------------------------------

COUNT_PARTS = ("original", "train_before", "train_after", "validation", "test")


def fig_fraud_counts(fraud: dict, W: Words) -> plt.Figure:
    counts = fraud["class_counts"]
    parts = [k for k in COUNT_PARTS if k != "validation" or counts.get("validation")]
    fig, axes = _new(len(parts), 2.5, left=0.09, right=0.99, bottom=0.1, top=0.82,
                     wspace=0.42 if len(parts) < 5 else 0.55)
    top = max(int(v) for part in counts.values() if isinstance(part, dict) for v in part.values())
    for ax, key in zip(axes, parts):
        part = counts.get(key)
        title = W.t(f"part_{key}")
        if not part:
            _na_panel(ax, title, W)
            continue
        n0, n1 = int(part.get("0", 0)), int(part.get("1", 0))
        bars = ax.bar([W.t("legit"), W.t("fraud")], [n0, n1], color=[GREY, LEAKY], width=0.6)
        ax.set_yscale("log")
        ax.set_ylim(0.8, top * 8)
        plain_log_ticks(ax.yaxis)
        for bar, n in zip(bars, (n0, n1)):
            ax.text(bar.get_x() + bar.get_width() / 2, max(n, 1) * 1.3, W.n(n), ha="center", fontsize=7)
        rate = n1 / (n0 + n1) if n0 + n1 else 0
        ax.set_title(f"{title}\n{W.t('fraud_rate', rate=W.pct(rate))}", fontsize=7.5)
        ax.grid(axis="x", visible=False)
    axes[0].set_ylabel(W.t("rows_log"))
    return W.finish(fig)


def fig_adasyn_r(fraud: dict, W: Words) -> plt.Figure:
    ad = fraud["adasyn"]
    r = np.asarray(ad["r"], dtype=float)
    k = int(ad.get("k") or 5)
    fig, axes = _new(1, 2.4, left=0.09, bottom=0.2, top=0.86)
    ax = axes[0]
    edges = (np.arange(k + 2) - 0.5) / k     # r_i takes the values 0, 1/k, ..., 1
    ax.hist(r, bins=edges, color=CORRECT, edgecolor="white", rwidth=0.85)
    ax.axvline(r.mean(), color=LEAKY, ls="--", lw=1.2, label=W.t("mean_r", r=f"{r.mean():.3f}"))
    ax.set_xticks(np.arange(k + 1) / k, [f"{i}/{k}" for i in range(k + 1)])
    ax.set(xlabel=W.t("r_axis"), ylabel=W.t("minority_samples"))
    ax.set_title(W.t("r_title", m=W.n(len(r)), d=f"{float(ad.get('d', 0)):.4f}", G=f"{int(ad.get('G', 0)):,}"))
    W.legend(ax)
    return W.finish(fig)


def fig_cnn_curves(fraud: dict, W: Words) -> plt.Figure:
    hist = {k: v for k, v in fraud["history"].items() if isinstance(v, list) and v}
    if "loss" not in hist:
        raise LookupError("history has no 'loss'")
    others = sorted({k.removeprefix("val_") for k in hist} - {"loss", "learning_rate", "lr"})
    fig, axes = _new(2 if others else 1, 3.2, left=0.1, bottom=0.32, top=0.91, wspace=0.22)
    epochs = np.arange(1, len(hist["loss"]) + 1)
    ax = axes[0]
    ax.plot(epochs, hist["loss"], "-o", ms=3, color=CORRECT, label=W.t("train"))
    if "val_loss" in hist:
        ax.plot(np.arange(1, len(hist["val_loss"]) + 1), hist["val_loss"], "--s", ms=3, color=LEAKY,
                label=W.t("validation"))
    ax.set(title=W.t("bce_loss"), xlabel=W.t("epoch"), ylabel=W.t("loss_axis"))
    W.legend(ax, loc="best")          # where it hides the fewest points
    if others:
        ax2 = axes[1]
        palette = plt.get_cmap("tab10")
        for i, name in enumerate(others):
            for key, style in ((name, "-o"), (f"val_{name}", "--s")):
                if key in hist:
                    label = W.t("val_metric", name=name) if key.startswith("val_") else W.t("train_metric", name=name)
                    ax2.plot(np.arange(1, len(hist[key]) + 1), hist[key], style, ms=3, color=palette(i), label=label)
        ax2.set(title=W.t("other_metrics"), xlabel=W.t("epoch"))
        # under the axes: Keras's metrics fill the panel, a legend inside would hide them
        W.legend(ax2, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.34 if W.rtl else -0.24), ncols=2)
    for a in axes:
        a.xaxis.get_major_locator().set_params(integer=True)
    return W.finish(fig)


def fig_pr_curve(fraud: dict, W: Words) -> plt.Figure:
    """The precision-recall curve of each measured arm, with its base rate; the legend sits under
    the axes, where it hides no curve."""
    fig, axes = _new(1, 3.6, left=0.09, bottom=0.34, top=0.97)
    ax = axes[0]
    for key in ("no_resampling", "correct", "leaky"):
        part = fraud.get(key)
        if not isinstance(part, dict) or not part.get("pr_curve"):
            continue
        colour, style = ARM_STYLE[key]
        pr = part["pr_curve"]
        ax.plot(pr["recall"], pr["precision"], style, color=colour, lw=1.6,
                label=W.t("pr_label", arm=W.raw(f"arm_{key}"), auprc=f"{part['pr_auc']:.3f}"))
        if "base_rate" in part and key != "no_resampling":      # its test part is the correct arm's
            ax.axhline(part["base_rate"], color=colour, ls=":", lw=1,
                       label=W.t("base_label", arm=W.raw(f"arm_{key}"), rate=W.n(part["base_rate"], ".4f")))
        best = part.get("best_f1")
        if best and key == "correct":
            ax.plot(best["recall"], best["precision"], "o", color=colour, ms=6,
                    label=W.t("best_label", f1=f"{best['f1']:.3f}", t=f"{best['threshold']:.3f}"))
    if not ax.lines:
        raise LookupError("no precision-recall curve")
    ax.set(xlabel=W.t("recall"), ylabel=W.t("precision"), xlim=(0, 1.01), ylim=(0, 1.03))
    handles, labels = ax.get_legend_handles_labels()
    ncols = 2 if len(handles) > 3 else 1
    if W.rtl and ncols == 2 and len(handles) % 2 == 0:
        half = len(handles) // 2          # columns fill left first: the first half goes right
        handles, labels = handles[half:] + handles[:half], labels[half:] + labels[:half]
    W.legend(fig, handles=handles, labels=labels, loc="lower center", ncols=ncols)
    return W.finish(fig)


def fig_fraud_confusion(fraud: dict, W: Words) -> plt.Figure:
    correct = fraud["correct"]
    fig, axes = _new(2, 2.6, left=0.1, right=0.98, bottom=0.15, top=0.9, wspace=0.3)
    for ax, key in zip(axes, ("at_0.5", "best_f1")):
        part = correct.get(key)
        if not part:
            _na_panel(ax, key, W)
            continue
        _confusion(ax, part["confusion_matrix"], [W.t("legit"), W.t("fraud")],
                   W.t("cm_title", t=W.n(part["threshold"], ".3f"), p=W.n(part["precision"], ".3f"),
                       r=W.n(part["recall"], ".3f")), W, cmap="Oranges")
    return W.finish(fig)


def draw(func, data, folder: Path, name: str, source: str, lang: str = "en"):
    """Save ``func(data, Words(lang))`` as ``folder/name.lang.png`` and return its path, or a
    Missing saying why not."""
    try:
        fig = func(data, Words.get(lang))
    except (KeyError, TypeError, ValueError, LookupError, IndexError, ZeroDivisionError) as err:
        detail = f"field {err}" if isinstance(err, KeyError) else str(err)
        return Missing("broken", {"file": source, "detail": detail})
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.{lang}.png"
        fig.savefig(path, dpi=DPI, metadata={"Software": None})
    finally:
        plt.close(fig)
    return path
