"""Every figure of the report, drawn with matplotlib (Agg) from the results JSON alone.

Each ``fig_*`` function takes the loaded results and returns a matplotlib Figure;
:func:`draw` saves it as a PNG under the report's ``figures/`` folder. Axis labels
stay English/ASCII because matplotlib does not shape Arabic script; the captions,
which carry the meaning, are in both languages (catalogue keys ``*.cap_*``).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grader.report.data import NLI_MODES, Missing  # noqa: E402

WIDTH_IN = 6.8          # the A4 text width with 18 mm margins
DPI = 150
MODE_COLOURS = {"full": "#1d4e89", "freeze": "#c8553d", "lora": "#2a9d8f"}
MODE_LABELS = {"full": "full", "freeze": "freeze", "lora": "LoRA"}
CORRECT, LEAKY, GREY = "#1d4e89", "#c8553d", "#6c757d"

plt.rcParams.update({
    "font.family": "DejaVu Sans", "font.size": 8.5, "axes.titlesize": 9, "axes.labelsize": 8.5,
    "legend.fontsize": 7.5, "xtick.labelsize": 7.5, "ytick.labelsize": 7.5,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": "#e3e6ea", "grid.linewidth": 0.6, "axes.axisbelow": True,
    "svg.hashsalt": "mizan", "figure.dpi": DPI,
})


# Fixed margins (fractions of the figure) instead of constrained layout: the figures have
# known contents, and constrained layout doubles the drawing time of a report.
MARGINS = dict(left=0.08, right=0.98, bottom=0.17, top=0.88, wspace=0.28)


def _new(ncols: int, height: float = 2.6, **margins):
    fig, axes = plt.subplots(1, ncols, figsize=(WIDTH_IN, height))
    fig.subplots_adjust(**{**MARGINS, **margins})
    return fig, np.atleast_1d(axes)


def _na_panel(ax, title: str, note: str = "not available") -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, note, ha="center", va="center", color=GREY, transform=ax.transAxes)
    ax.set_xticks([]), ax.set_yticks([])
    ax.grid(False)
    for side in ax.spines.values():
        side.set_visible(False)


def _confusion(ax, matrix, labels, title: str, cmap: str = "Blues") -> None:
    m = np.asarray(matrix, dtype=float)
    rows = m.sum(axis=1, keepdims=True)
    rate = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    ax.imshow(rate, cmap=cmap, vmin=0, vmax=1)
    ax.grid(False)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{int(m[i, j]):,}\n{rate[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if rate[i, j] > 0.55 else "#212529")
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels), ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    ax.set_title(title)
    for side in ax.spines.values():
        side.set_visible(False)


# ---- Task 1 -------------------------------------------------------------------------------------

def fig_nli_curves(nli: dict) -> plt.Figure:
    """Loss (train solid, eval dashed) and eval accuracy per epoch, one colour per mode."""
    from matplotlib.lines import Line2D

    fig, (loss_ax, acc_ax) = _new(2, 2.8, bottom=0.25, top=0.9, wspace=0.22)
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
        handles.append(Line2D([], [], color=c, marker="o", ms=3, label=MODE_LABELS[mode]))
    if not handles:
        raise LookupError("no mode has a training history")
    loss_ax.set(title="Loss", xlabel="epoch", ylabel="cross-entropy")
    acc_ax.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy")
    acc_ax.axhline(1 / 3, color=GREY, ls=":", lw=1)
    for ax in (loss_ax, acc_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles += [Line2D([], [], color="#343a40", ls="-", label="train"),
                Line2D([], [], color="#343a40", ls="--", label="validation"),
                Line2D([], [], color=GREY, ls=":", label="chance (1/3)")]
    fig.legend(handles=handles, loc="lower center", ncols=len(handles), frameon=False)
    return fig


def fig_nli_confusion(nli: dict) -> plt.Figure:
    if not any(nli.get(m) for m in NLI_MODES):
        raise LookupError("no mode has a confusion matrix")
    fig, axes = _new(3, 2.35, left=0.1, right=0.99, bottom=0.18, top=0.9, wspace=0.45)
    short = ["entail.", "neutral", "contra."]
    for ax, mode in zip(axes, NLI_MODES):
        data = nli.get(mode)
        if data:
            acc = data.get("accuracy")
            title = MODE_LABELS[mode] + (f" (acc. {acc:.3f})" if isinstance(acc, (int, float)) else "")
            _confusion(ax, data["confusion_matrix"], short, title)
        else:
            _na_panel(ax, MODE_LABELS[mode])
    return fig


def fig_nli_params(nli: dict) -> plt.Figure:
    """Trainable share against accuracy: the comparison the three modes exist for."""
    fig, axes = _new(1, 2.3, left=0.1, bottom=0.19, top=0.95)
    ax = axes[0]
    points = [(m, nli[m]) for m in NLI_MODES if nli.get(m)]
    if not points:
        raise LookupError("no mode has parameter counts")
    for mode, data in points:
        share = data.get("trainable_percent")
        if share is None:
            share = 100.0 * data["trainable_params"] / max(data["total_params"], 1)
        ax.scatter(share, data["accuracy"], s=60, color=MODE_COLOURS[mode], zorder=3)
        ax.annotate(f"{MODE_LABELS[mode]}: {data['trainable_params']:,} trainable", (share, data["accuracy"]),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=7.5)
    ax.set_xscale("log")
    ax.set(xlabel="trainable parameters (% of total, log scale)", ylabel="accuracy")
    shares = [p[1].get("trainable_percent") or 100.0 * p[1]["trainable_params"] / max(p[1]["total_params"], 1)
              for p in points]
    accs = [p[1]["accuracy"] for p in points]
    ax.set_xlim(10 ** math.floor(math.log10(min(shares) / 3)), min(10 ** math.ceil(math.log10(max(shares) * 3)), 400))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylim(min(accs) - 0.08, max(accs) + 0.1)
    return fig


# ---- Task 2 -------------------------------------------------------------------------------------

COUNT_PARTS = (("original", "original"), ("train_before", "train, before ADASYN"),
               ("train_after", "train, after ADASYN"), ("validation", "validation"), ("test", "test (untouched)"))


def fig_fraud_counts(fraud: dict) -> plt.Figure:
    counts = fraud["class_counts"]
    parts = [(k, t) for k, t in COUNT_PARTS if k != "validation" or counts.get("validation")]
    fig, axes = _new(len(parts), 2.5, left=0.08, right=0.99, bottom=0.1, top=0.84,
                     wspace=0.35 if len(parts) < 5 else 0.45)
    top = max(int(v) for part in counts.values() if isinstance(part, dict) for v in part.values())
    for ax, (key, title) in zip(axes, parts):
        part = counts.get(key)
        if not part:
            _na_panel(ax, title)
            continue
        n0, n1 = int(part.get("0", 0)), int(part.get("1", 0))
        bars = ax.bar(["legit", "fraud"], [n0, n1], color=[GREY, LEAKY], width=0.6)
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_ylim(0.8, top * 6)
        for bar, n in zip(bars, (n0, n1)):
            ax.text(bar.get_x() + bar.get_width() / 2, max(n, 1) * 1.3, f"{n:,}", ha="center", fontsize=7)
        rate = n1 / (n0 + n1) if n0 + n1 else 0
        ax.set_title(f"{title}\nfraud {rate:.2%}", fontsize=7.5)
        ax.grid(axis="x", visible=False)
    axes[0].set_ylabel("rows (log scale)")
    return fig


def fig_adasyn_r(fraud: dict) -> plt.Figure:
    ad = fraud["adasyn"]
    r = np.asarray(ad["r"], dtype=float)
    k = int(ad.get("k") or 5)
    fig, axes = _new(1, 2.3, left=0.09, bottom=0.2, top=0.89)
    ax = axes[0]
    edges = (np.arange(k + 2) - 0.5) / k     # r_i takes the values 0, 1/k, ..., 1
    ax.hist(r, bins=edges, color=CORRECT, edgecolor="white", rwidth=0.85)
    ax.axvline(r.mean(), color=LEAKY, ls="--", lw=1.2, label=f"mean r = {r.mean():.3f}")
    ax.set_xticks(np.arange(k + 1) / k, [f"{i}/{k}" for i in range(k + 1)])
    ax.set(xlabel="r_i = Δ_i / k  (share of majority neighbours)", ylabel="minority samples")
    ax.set_title(f"ADASYN difficulty ratios: {len(r):,} minority samples, d = {float(ad.get('d', 0)):.4f}, "
                 f"G = {int(ad.get('G', 0)):,}")
    ax.legend(frameon=False)
    return fig


def fig_cnn_curves(fraud: dict) -> plt.Figure:
    hist = {k: v for k, v in fraud["history"].items() if isinstance(v, list) and v}
    if "loss" not in hist:
        raise LookupError("history has no 'loss'")
    others = sorted({k.removeprefix("val_") for k in hist} - {"loss", "learning_rate", "lr"})
    fig, axes = _new(2 if others else 1, 2.6, left=0.09, bottom=0.17, top=0.9, wspace=0.2)
    epochs = np.arange(1, len(hist["loss"]) + 1)
    ax = axes[0]
    ax.plot(epochs, hist["loss"], "-o", ms=3, color=CORRECT, label="train")
    if "val_loss" in hist:
        ax.plot(np.arange(1, len(hist["val_loss"]) + 1), hist["val_loss"], "--s", ms=3, color=LEAKY,
                label="validation")
    ax.set(title="Loss (binary cross-entropy)", xlabel="epoch", ylabel="loss")
    ax.legend(frameon=False)
    if others:
        ax2 = axes[1]
        palette = plt.get_cmap("tab10")
        for i, name in enumerate(others):
            for key, style in ((name, "-o"), (f"val_{name}", "--s")):
                if key in hist:
                    ax2.plot(np.arange(1, len(hist[key]) + 1), hist[key], style, ms=3, color=palette(i),
                             label=key.replace("val_", "validation "))
        ax2.set(title="Other metrics", xlabel="epoch")
        ax2.legend(frameon=False, fontsize=7)
    for a in axes:
        a.xaxis.get_major_locator().set_params(integer=True)
    return fig


def fig_pr_curve(fraud: dict) -> plt.Figure:
    fig, axes = _new(1, 3.0, left=0.09, bottom=0.14, top=0.97)
    ax = axes[0]
    for key, colour, style, name in (("correct", CORRECT, "-", "correct"), ("leaky", LEAKY, "--", "leaky")):
        part = fraud.get(key)
        if not part or not part.get("pr_curve"):
            continue
        pr = part["pr_curve"]
        ax.plot(pr["recall"], pr["precision"], style, color=colour, lw=1.6,
                label=f"{name}: AUPRC = {part['pr_auc']:.3f}")
        if "base_rate" in part:
            ax.axhline(part["base_rate"], color=colour, ls=":", lw=1,
                       label=f"{name} base rate = {part['base_rate']:.4f}")
        best = part.get("best_f1")
        if best and key == "correct":
            ax.plot(best["recall"], best["precision"], "o", color=colour, ms=6,
                    label=f"best F1 = {best['f1']:.3f} at t = {best['threshold']:.3f}")
    if not ax.lines:
        raise LookupError("no precision-recall curve")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.03))
    ax.legend(frameon=False, loc="lower left")
    return fig


def fig_fraud_confusion(fraud: dict) -> plt.Figure:
    correct = fraud["correct"]
    fig, axes = _new(2, 2.6, left=0.1, right=0.98, bottom=0.15, top=0.9, wspace=0.3)
    for ax, key in zip(axes, ("at_0.5", "best_f1")):
        part = correct.get(key)
        if not part:
            _na_panel(ax, key)
            continue
        _confusion(ax, part["confusion_matrix"], ["legit", "fraud"],
                   f"threshold {part['threshold']:.3f}: P {part['precision']:.3f}, R {part['recall']:.3f}",
                   cmap="Oranges")
    return fig


def draw(func, data, folder: Path, name: str, source: str):
    """Save ``func(data)`` as ``folder/name.png`` and return its path, or a Missing saying why not."""
    try:
        fig = func(data)
    except (KeyError, TypeError, ValueError, LookupError, IndexError, ZeroDivisionError) as err:
        detail = f"field {err}" if isinstance(err, KeyError) else str(err)
        return Missing("broken", {"file": source, "detail": detail})
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=DPI, metadata={"Software": None})
    finally:
        plt.close(fig)
    return path
