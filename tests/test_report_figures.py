"""The report's figures as a reader sees them: no two labels on top of each other, none cut by the
edge, and Persian figures in Persian: catalogue text, shaped and right-to-left, Persian digits.

matplotlib ≥ 3.11 shapes and reorders Arabic script itself (libraqm), so the Persian labels are
handed over in logical order and the shaping is checked on matplotlib's own glyph layout.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from grader.report import figures as F
from grader.report.data import Results
from grader.report.i18n import load_catalogue

FIXTURES = Path(__file__).parent / "fixtures" / "report"
FIGURES = {"nli_params": (F.fig_nli_params, "nli"), "nli_curves": (F.fig_nli_curves, "nli"),
           "nli_confusion": (F.fig_nli_confusion, "nli"), "fraud_counts": (F.fig_fraud_counts, "fraud"),
           "adasyn_r": (F.fig_adasyn_r, "fraud"), "cnn_curves": (F.fig_cnn_curves, "fraud"),
           "pr_curve": (F.fig_pr_curve, "fraud"), "fraud_confusion": (F.fig_fraud_confusion, "fraud")}
ARABIC_BLOCK = range(0x0600, 0x0700)
PRESENTATION_FORMS = (range(0xFB50, 0xFE00), range(0xFE70, 0xFF00))


def _drawn_texts(fig: plt.Figure) -> list:
    """The texts ``fig`` draws (titles, labels, tick labels in view, annotations, legends), non-empty."""
    texts = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis._update_ticks():        # the ticks a draw shows, not every Tick object
                texts += [t for t in (tick.label1, tick.label2) if t.get_visible()]
            texts.append(axis.label)
        texts += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        if ax.get_legend():
            texts += ax.get_legend().get_texts()
    texts += fig.texts + [t for legend in fig.legends for t in legend.get_texts()]
    return [t for t in texts if t.get_visible() and t.get_text().strip(F.RLM + " ")]


def layout_faults(fig: plt.Figure) -> list[str]:
    """What a reader would see as broken in ``fig``: two texts that overlap, or a text cut by the
    figure's edge. Confusion-matrix cells sit on their image, not on each other, so they count too."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = _drawn_texts(fig)
    boxes = [t.get_window_extent(renderer) for t in texts]
    page = fig.bbox
    faults = [f"{t.get_text()!r} is cut by the figure's edge" for t, b in zip(texts, boxes)
              if b.x0 < page.x0 - 1 or b.y0 < page.y0 - 1 or b.x1 > page.x1 + 1 or b.y1 > page.y1 + 1]
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            a, b = boxes[i], boxes[j]
            if min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5 and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5:
                faults.append(f"{texts[i].get_text()!r} overlaps {texts[j].get_text()!r}")
    return faults


@pytest.fixture(scope="module")
def full() -> Results:
    return Results.load(FIXTURES / "full")


def _figure(name: str, results: Results, lang: str):
    func, part = FIGURES[name]
    return func(results.nli if part == "nli" else results.fraud, F.Words.get(lang))


def _bar_labels(fig) -> list:
    return [t for ax in fig.axes for t in ax.texts]


def _small_counts(full: Results) -> dict:
    """The counts of the collision in the original Figure 1: freeze 1,155 and LoRA 3,203 trainable
    parameters with nearly the same accuracy (a tiny model, where the points sat on top of each other)."""
    nli = copy.deepcopy(full.nli)
    nli["freeze"].update(trainable_params=1_155, trainable_percent=0.0051, accuracy=0.5)
    nli["lora"].update(trainable_params=3_203, trainable_percent=0.0141, accuracy=0.503)
    return nli


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_parameter_bar_labels_do_not_intersect(full, lang):
    fig = F.fig_nli_params(_small_counts(full), F.Words.get(lang))
    fig.canvas.draw()
    labels = _bar_labels(fig)
    boxes = [t.get_window_extent() for t in labels]
    assert len(labels) == 6                       # a count and an accuracy per mode
    texts = [t.get_text().strip("\u200f\u2066\u2069") for t in labels]
    if lang == "en":
        assert texts[:3] == ["22,714,371 (100.00%)", "1,155 (0.0051%)", "3,203 (0.01%)"]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (texts[i], texts[j])
        assert fig.bbox.contains(boxes[i].x0, boxes[i].y0) and fig.bbox.contains(boxes[i].x1, boxes[i].y1)
    plt.close(fig)


def _tiny(full: Results) -> Results:
    """A smoke-profile run: a random tiny model whose losses sit at ln 3 ≈ 1.0986 (five-digit ticks)
    and whose freeze and LoRA counts are the colliding 1,155 and 3,203."""
    tiny = copy.deepcopy(full)
    tiny.nli = _small_counts(full)
    for i, data in enumerate(tiny.nli.values()):
        data["history"] = [{"epoch": e, "train_loss": 1.1041 - 0.002 * e - 0.001 * i, "eval_loss": 1.0987 + 0.0001 * i,
                            "eval_accuracy": 1 / 3} for e in (1, 2)]
    return tiny


@pytest.mark.parametrize("lang", ["en", "fa"])
@pytest.mark.parametrize("fixture", ["full", "failing", "tiny"])
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_text_overlaps_or_is_cut(name, fixture, lang, full):
    results = _tiny(full) if fixture == "tiny" else Results.load(FIXTURES / fixture)
    fig = _figure(name, results, lang)
    assert layout_faults(fig) == []
    plt.close(fig)


def test_the_fault_finder_sees_an_overlap():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.text(0.5, 0.5, "freeze: 1,155 trainable")
    ax.text(0.52, 0.5, "LoRA: 3,203 trainable")
    ax.text(0.9, 0.9, "a label that runs off the edge")
    faults = layout_faults(fig)
    assert "'freeze: 1,155 trainable' overlaps 'LoRA: 3,203 trainable'" in faults
    assert "'a label that runs off the edge' is cut by the figure's edge" in faults
    plt.close(fig)


def test_persian_labels_are_catalogue_text_in_logical_order(full):
    fa = load_catalogue("fa")
    fig = F.fig_nli_curves(full.nli, F.Words.get("fa"))
    loss_ax, acc_ax = fig.axes
    label = acc_ax.yaxis.label.get_text()
    assert label == "\u200f" + fa["figures.accuracy"] == "\u200fصحت"        # RLM, then the word as typed
    assert all(ord(ch) in ARABIC_BLOCK for ch in label[1:])                # not pre-shaped: matplotlib shapes
    assert not any(ord(ch) in r for ch in label for r in PRESENTATION_FORMS)
    assert loss_ax.title.get_text() == "\u200fخطا"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0] == "\u200fشانس (۱/۳)" and legend[-1] == "\u200fکامل"    # read from the right
    assert legend[3] == "\u200f\u2066LoRA\u2069"                              # a Latin name, isolated
    plt.close(fig)


def test_matplotlib_shapes_the_persian_labels_with_the_report_font(full):
    """The glyphs matplotlib lays out for "صحت" are its joined forms, in right-to-left order, from
    the Noto Sans Arabic file the PDF embeds: what a Persian reader needs, checked on the layout."""
    from matplotlib import font_manager
    from matplotlib._text_helpers import layout
    from matplotlib.ft2font import FT2Font

    assert F.shaping_available()
    fig = F.fig_nli_curves(full.nli, F.Words.get("fa"))
    label = fig.axes[1].yaxis.label
    path = font_manager.findfont(font_manager.FontProperties(family=label.get_fontfamily()))
    assert "NotoSansArabic" in Path(path).name
    font = FT2Font(path)
    font.set_size(8.5, 72)
    items = list(layout("صحت", font))
    x = {item.char: min(i.x for i in items if i.char == item.char) for item in items}
    assert x["ص"] > x["ح"] > x["ت"]                     # right to left: the first letter is drawn rightmost
    glyph = {item.char: item.glyph_index for item in items if item.y == 0}
    for ch in "صح":                                       # initial and medial forms, not the isolated letters
        assert glyph[ch] not in (0, font.get_char_index(ord(ch))), ch
    plt.close(fig)


def test_persian_ticks_and_values_use_persian_digits_and_formulas_keep_latin(full):
    fig = F.fig_nli_params(full.nli, F.Words.get("fa"))
    fig.canvas.draw()
    pax, aax = fig.axes
    assert [t.get_text() for t in aax.get_xticklabels()][:3] == ["۰٫۰", "۰٫۲", "۰٫۴"]
    assert "10⁵" in [t.get_text() for t in pax.get_xticklabels()]           # a power is a formula
    values = [t.get_text().strip("\u200f") for t in pax.texts]
    assert values[0] == "۲۲٬۷۱۴٬۳۷۱ (۱۰۰٫۰۰٪)"
    plt.close(fig)
    fig = F.fig_adasyn_r(full.fraud, F.Words.get("fa"))
    assert fig.axes[0].title.get_text() == ("\u200fنسبت\u200cهای دشواری \u2066ADASYN\u2069 روی ۲۴۰ نمونهٔ اقلیت؛ "
                                            "\u2066d = 0.0050\u2069، \u2066G = 47,520\u2069")
    plt.close(fig)


@pytest.mark.parametrize(("text", "expected"), [
    ("سهم همسایه‌های اکثریت: rᵢ = Δᵢ / k", "سهم همسایه‌های اکثریت: \u2066rᵢ = Δᵢ / k\u2069"),
    ("LoRA (صحت ۰٫۷۵۸)", "\u2066LoRA\u2069 (صحت ۰٫۷۵۸)"),
    ("بهترین F1 = ۰٫۷۶۸ در t = 0.912", "بهترین \u2066F1 = 0.768\u2069 در \u2066t = 0.912\u2069"),
    ("حالت (full) کامل", "حالت (\u2066full\u2069) کامل"),
    ("شانس (۱/۳)", "شانس (۱/۳)"),
])
def test_latin_runs_in_persian_labels_are_isolated(text, expected):
    assert F.isolate_runs(text) == expected


def test_english_figures_stay_english(full):
    fig = F.fig_nli_curves(full.nli, F.Words.get("en"))
    assert fig.axes[1].yaxis.label.get_text() == "accuracy"
    assert fig.axes[1].yaxis.label.get_fontfamily() == ["DejaVu Sans"]
    plt.close(fig)


def test_pr_curve_draws_every_measured_arm(full):
    fig = F.fig_pr_curve(full.fraud, F.Words.get("en"))
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0] == "no resampling: AUPRC = 0.702"
    assert "split → ADASYN: AUPRC = 0.741" in legend and "ADASYN → split (leaky): AUPRC = 0.999" in legend
    plt.close(fig)
    failing = json.loads((FIXTURES / "failing" / "fraud.json").read_text(encoding="utf-8"))
    fig = F.fig_pr_curve(failing, F.Words.get("en"))      # null arms are left out, not drawn empty
    assert [t.get_text() for t in fig.legends[0].get_texts()][0] == "split → ADASYN: AUPRC = 0.613"
    plt.close(fig)


def test_draw_writes_one_file_per_language(full, tmp_path):
    paths = [F.draw(F.fig_adasyn_r, full.fraud, tmp_path, "adasyn_r", "fraud.json", lang) for lang in ("en", "fa")]
    assert [p.name for p in paths] == ["adasyn_r.en.png", "adasyn_r.fa.png"]
    assert paths[0].read_bytes() != paths[1].read_bytes()
