"""Results JSON -> view model -> Jinja2 HTML -> WeasyPrint PDF.

The view model (plain dicts) is built here so the templates only lay out; all
numbers are localised by :class:`grader.report.i18n.Lang` at render time so the
English and Persian tables show the same values. The HTML is written before
the PDF, so a failed PDF render still leaves a readable page behind.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader.homework import NLI_LABELS, NLI_MODES
from grader.report.data import Missing, ReportError, Results, Student, load_checks, load_student, require
from grader.results.model import CheckResult
from grader.report.i18n import LANGS, Lang

log = logging.getLogger("mizan.report")

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
FONT_FILE = "NotoSansArabic[wdth,wght].ttf"


def persian_font() -> Path | None:
    """The Noto Sans Arabic file shipped by the pinned PyPI package ``fontpkg-noto-sans-arabic``."""
    try:
        import fontpkg_noto_sans_arabic as pkg
    except ImportError:
        return None
    path = Path(pkg.ROOT) / "files" / FONT_FILE
    return path if path.is_file() else None


def persian_faces() -> dict[int, Path]:
    """Static regular (400) and bold (700) instances of the variable Noto Sans Arabic, cached.

    WeasyPrint turns a variable font into a static one at every render (fontTools'
    instancer, seconds each); doing it once per installed font file keeps a report
    render fast. Falls back to the variable file itself if the cache cannot be written.
    """
    font = persian_font()
    if font is None:
        return {}
    stat = font.stat()
    tag = f"{stat.st_size}-{int(stat.st_mtime)}"
    from grader.paths import build_dir

    for cache in (build_dir() / "cache" / "fonts", Path(tempfile.gettempdir()) / "mizan-fonts"):
        faces = {w: cache / f"NotoSansArabic-{w}-{tag}.ttf" for w in (400, 700)}
        if all(p.is_file() for p in faces.values()):
            return faces
        try:
            from fontTools.ttLib import TTFont
            from fontTools.varLib.instancer import instantiateVariableFont

            cache.mkdir(parents=True, exist_ok=True)
            for weight, path in faces.items():
                inst = instantiateVariableFont(TTFont(str(font)), {"wght": weight, "wdth": 100}, static=True)
                tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
                inst.save(str(tmp))
                tmp.replace(path)
            return faces
        except OSError as err:
            log.warning("cannot cache static Persian font faces in %s (%s)", cache, err)
        except Exception as err:  # noqa: BLE001 - fontTools errors: fall back to the variable font
            log.warning("cannot instantiate %s (%s); using the variable font", font, err)
            break
    return {400: font, 700: font}


def langs_for(lang: str) -> list[Lang]:
    if lang == "both":
        return [Lang.get(code) for code in LANGS]
    if lang not in LANGS:
        raise ReportError(f"unknown report language {lang!r}: use fa, en or both (REPORT_LANG=fa make report)")
    return [Lang.get(lang)]


# ---- dates --------------------------------------------------------------------------------------

def dates(day: _dt.date, L: Lang) -> dict[str, str]:
    """The day in the Gregorian and Solar Hijri calendars, written in ``L``'s words and digits."""
    import jdatetime

    j = jdatetime.date.fromgregorian(date=day)
    g_months = L.raw("date.gregorian_months").split("|")
    j_months = L.raw("date.hijri_months").split("|")
    loc = L._loc
    return {
        "gregorian": L.raw("date.gregorian_format", day=loc(str(day.day)), month=g_months[day.month - 1],
                           year=loc(str(day.year))),
        "hijri": L.raw("date.hijri_format", day=loc(str(j.day)), month=j_months[j.month - 1],
                       year=loc(str(j.year))),
    }


# ---- figures ------------------------------------------------------------------------------------

@dataclass
class Fig:
    """A drawn figure: its file per language (relative to the HTML), its number and caption key."""

    srcs: dict[str, str]
    n: int
    caption: str

    def src(self, code: str) -> str:
        """The drawing in language ``code``, else the first one drawn."""
        return self.srcs.get(code) or next(iter(self.srcs.values()))


class FigureSet:
    """Draws figures into one folder, once per language in ``langs`` (axis labels and legends in
    that language), and numbers them in the order the report shows them."""

    def __init__(self, folder: Path, base: Path, langs=("en",)):
        self.folder, self.base, self.langs, self.count, self.paths = folder, base, tuple(langs), 0, []

    def add(self, func, data, name: str, caption: str, source: str):
        from grader.report import figures

        if isinstance(data, Missing):
            return data
        srcs = {}
        for code in self.langs:
            result = figures.draw(func, data, self.folder, name, source, code)
            if isinstance(result, Missing):
                log.warning("figure %s not drawn: %s", name, result.values.get("detail"))
                return result
            self.paths.append(result)
            srcs[code] = os.path.relpath(result, self.base).replace(os.sep, "/")
        self.count += 1
        return Fig(srcs=srcs, n=self.count, caption=caption)


# ---- view model ---------------------------------------------------------------------------------

def _first(*pieces) -> dict:
    for piece in pieces:
        if piece:
            return piece
    return {}


MODEL_NAMES = {"minilm": "all-MiniLM-L6-v2", "tiny-roberta": "tiny random RoBERTa", "roberta-large": "RoBERTa-large"}


def nli_view(results: Results, figs: FigureSet) -> dict:
    nli = results.nli
    if not any(nli.values()):
        return {"available": False, "missing": [m for m in nli.values()]}
    first = _first(*nli.values())
    prof = first.get("profile", {}).get("nli", {})
    model = first.get("model") or prof.get("model", "?")
    info = {"model": MODEL_NAMES.get(model, model), "n_train": first.get("n_train", prof.get("n_train")),
            "n_eval": first.get("n_eval", prof.get("n_eval")), "epochs": prof.get("epochs", len(first.get("history") or [])),
            "r": prof.get("lora_r", 8), "alpha": prof.get("lora_alpha", 16)}
    rows = []
    for mode in NLI_MODES:
        data = nli[mode]
        if not data:
            rows.append({"mode": mode, "missing": data})
            continue
        share = data.get("trainable_percent")
        if share is None:
            share = 100.0 * data["trainable_params"] / max(data["total_params"], 1)
        per = []
        for cls in NLI_LABELS:
            c = (data.get("per_class") or {}).get(cls)
            per.append({"cls": cls, **c} if isinstance(c, dict) else {"cls": cls, "missing": True})
        rows.append({"mode": mode, "trainable": data["trainable_params"], "total": data["total_params"],
                     "share": share, "accuracy": data["accuracy"], "macro_f1": data["macro_f1"],
                     "time": data.get("train_time_s"), "throughput": data.get("examples_per_s"), "per_class": per})
    from grader.report import figures as F

    source = "nli_<mode>.json"
    claim = None
    full, lora = nli.get("full"), nli.get("lora")
    if full and lora and _number(full.get("accuracy")) and _number(lora.get("accuracy")):
        claim = {"full": full["accuracy"], "lora": lora["accuracy"], "gap": lora["accuracy"] - full["accuracy"]}
    return {
        "available": True, "info": info, "rows": rows, "lora_claim": claim,
        "missing": [m for m in nli.values() if isinstance(m, Missing)] + results.notes.get("nli", []),
        "fig_params": figs.add(F.fig_nli_params, nli, "nli_params", "nli.cap_params", source),
        "fig_curves": figs.add(F.fig_nli_curves, nli, "nli_curves", "nli.cap_curves", source),
        "fig_confusion": figs.add(F.fig_nli_confusion, nli, "nli_confusion", "nli.cap_confusion", source),
    }


ARMS = ("no_resampling", "correct", "leaky")
"""The fraud study's three protocols (docs/CONTRACTS.md): no resampling, split -> ADASYN, ADASYN -> split."""
ARM_ROWS = (("auprc", ("pr_auc",)), ("roc_auc", ("roc_auc",)), ("base_rate", ("base_rate",)),
            ("precision_05", ("at_0.5", "precision")), ("recall_05", ("at_0.5", "recall")),
            ("f1_05", ("at_0.5", "f1")), ("best_f1_value", ("best_f1", "f1")))


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _dig(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


COUNT_PARTS = ("original", "train_before", "train_after", "validation", "test")


def _share(test_set) -> float | None:
    """Percent of a test set's rows that are synthetic, or None when the run did not record it."""
    if isinstance(test_set, dict) and _number(test_set.get("synthetic_rows")) and _number(test_set.get("rows")) \
            and test_set["rows"] > 0:
        return 100.0 * test_set["synthetic_rows"] / test_set["rows"]
    return None


def arms_view(fraud: dict) -> dict:
    """The three arms side by side: one column per measured arm, the leaky test part's share of
    synthetic rows, and the two measurements that answer the original report's claims
    (resampling before the split; does ADASYN help). Arms written as null are listed as not measured."""
    arms = [a for a in ARMS if isinstance(fraud.get(a), dict)]
    rows = [{"key": key, "values": [_dig(fraud[a], path) for a in arms]} for key, path in ARM_ROWS]
    view: dict = {"arms": arms, "rows": rows, "missing": [a for a in ARMS if a not in arms]}
    lt = fraud.get("leaky_test")
    if "leaky" in arms and isinstance(lt, dict) and _number(lt.get("synthetic_rows")) and _number(lt.get("rows")) \
            and lt["rows"] > 0:
        view["synthetic"] = {"synthetic": lt["synthetic_rows"], "rows": lt["rows"],
                             "share": 100.0 * lt["synthetic_rows"] / lt["rows"]}
    # the experiments record every arm's test set (``test_sets``); a graded run only the leaky one's
    sets = fraud.get("test_sets") if isinstance(fraud.get("test_sets"), dict) else {}
    view["shares"] = [_share(sets.get(a)) if a != "leaky" or not view.get("synthetic") else view["synthetic"]["share"]
                      for a in arms]
    get = {a: {key: _dig(fraud[a], path) for key, path in ARM_ROWS} for a in arms}
    if {"correct", "leaky"} <= set(arms) and all(_number(get[a][k]) for a in ("correct", "leaky")
                                                   for k in ("precision_05", "auprc", "base_rate")):
        view["leaky_claim"] = {"correct": get["correct"], "leaky": get["leaky"],
                               "gap": get["leaky"]["precision_05"] - get["correct"]["precision_05"]}
    if {"correct", "no_resampling"} <= set(arms) and all(_number(get[a][k]) for a in ("correct", "no_resampling")
                                                           for k in ("auprc", "recall_05")):
        view["resampling_claim"] = {"none": get["no_resampling"], "correct": get["correct"],
                                    "gap": get["correct"]["auprc"] - get["no_resampling"]["auprc"]}
    return view


def fraud_view(results: Results, figs: FigureSet) -> dict:
    fraud = results.fraud
    if not fraud:
        return {"available": False, "missing": [fraud]}
    from grader.report import figures as F

    src = "fraud.json"
    prof = fraud.get("profile", {}).get("fraud", {})
    ad = fraud.get("adasyn") or {}
    view: dict = {"available": True, "missing": list(results.notes.get("fraud", [])),
                  "info": {"test_size": prof.get("test_size", 0.2), "k": ad.get("k", prof.get("adasyn_k", 5)),
                           "beta": ad.get("beta", prof.get("adasyn_beta", 1.0))}}
    # class counts
    counts = fraud.get("class_counts")
    if isinstance(counts, dict):
        view["counts"] = []
        for key in COUNT_PARTS:
            part = counts.get(key) or {}
            if key == "validation" and not part:
                continue            # a validation part is optional
            n0, n1 = int(part.get("0", 0)), int(part.get("1", 0))
            view["counts"].append({"part": key, "n0": n0, "n1": n1,
                                   "rate": 100.0 * n1 / (n0 + n1) if n0 + n1 else None, "present": bool(part)})
    else:
        view["counts"] = require(fraud, src, "class_counts")
    view["fig_counts"] = figs.add(F.fig_fraud_counts, fraud, "fraud_counts", "fraud.cap_hist", src)
    # ADASYN
    missing = require(fraud, src, "adasyn.r")
    if missing is not None:
        view["adasyn"] = missing
    else:
        r = [float(x) for x in ad["r"]]
        view["adasyn"] = {"d": ad.get("d"), "G": ad.get("G"), "m": len(r), "zero": sum(1 for x in r if x == 0)}
    view["fig_r"] = figs.add(F.fig_adasyn_r, fraud, "adasyn_r", "fraud.cap_r", src)
    view["fig_cnn"] = figs.add(F.fig_cnn_curves, fraud, "cnn_curves", "fraud.cap_cnn", src)
    # evaluation of the correct pipeline
    correct = fraud.get("correct")
    missing = require(fraud, src, "correct.pr_auc", "correct.at_0.5", "correct.best_f1")
    if missing is not None:
        view["metrics"], view["correct"] = missing, None
    else:
        view["metrics"] = [{"name": name, **correct[name]} for name in ("at_0.5", "best_f1")]
        view["correct"] = correct
    view["fig_pr"] = figs.add(F.fig_pr_curve, fraud, "pr_curve", "fraud.cap_pr", src)
    view["fig_cm"] = figs.add(F.fig_fraud_confusion, fraud, "fraud_confusion", "fraud.cap_cm", src)
    view["arms"] = arms_view(fraud)
    # leaky versus correct: why the leaky numbers are wrong
    leaky = fraud.get("leaky")
    if correct and isinstance(leaky, dict):
        view["leaky"] = {"auprc": correct.get("pr_auc"), "leaky_auprc": leaky.get("pr_auc"),
                         "base": correct.get("base_rate"), "leaky_base": leaky.get("base_rate")}
        a, b = view["leaky"]["auprc"], view["leaky"]["leaky_auprc"]
        view["leaky"]["gap"] = b - a if _number(a) and _number(b) else None
    else:
        view["leaky"] = None
    view["times"] = fraud.get("times") if isinstance(fraud.get("times"), dict) else None
    return view


def guarded(view, results: Results, figs: FigureSet, source: str) -> dict:
    """``view(results, figs)``, or the part marked not available when its data is malformed
    in a way no field check foresaw (a string where a count belongs): one bad file never
    costs the rest of the report."""
    try:
        return view(results, figs)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError) as err:
        log.warning("%s: %s: %s", view.__name__, type(err).__name__, err)
        detail = f"field {err}" if isinstance(err, KeyError) else f"{type(err).__name__}: {err}"
        return {"available": False, "missing": [Missing("broken", {"file": source, "detail": detail})]}


def checks_view(checks: list[CheckResult], source: Path | None) -> dict:
    earned, total = sum(c.earned for c in checks), sum(c.points for c in checks)
    return {"checks": checks, "source": source.name if source else None, "earned": earned, "max": total,
            "n": len(checks), "passed": sum(1 for c in checks if c.status == "passed"),
            "failed": [c for c in checks if c.status != "passed"],
            "has_messages": any(c.message_en or c.message_fa for c in checks)}


# ---- HTML and PDF -------------------------------------------------------------------------------

def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["is_missing"] = lambda x: isinstance(x, Missing)
    env.globals["is_fig"] = lambda x: isinstance(x, Fig)
    env.globals["css_string"] = css_string
    return env


def css_string(text: str):
    """``text`` as a quoted CSS string for <style> (raw text: HTML escaping would show "&amp;")."""
    from markupsafe import Markup

    escaped = "".join(ch if ch.isalnum() or ch in " ·—-_.,:;()/" or ord(ch) > 0x7f else f"\\{ord(ch):x} "
                      for ch in str(text))
    return Markup(f'"{escaped}"')


def render_html(template: str, context: dict, *, font_urls: dict[int, str] | None = None) -> str:
    """The page as HTML text; ``font_urls`` ({400: url, 700: url}) overrides the Persian font
    (golden tests pass fixed ones so the HTML does not depend on where the package lives)."""
    if font_urls is None:
        faces = persian_faces()
        if not faces:
            log.warning("fontpkg-noto-sans-arabic is not installed; Persian falls back to DejaVu Sans")
        font_urls = {weight: path.as_uri() for weight, path in faces.items()}
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return _env().get_template(template).render(css=css, font_urls=font_urls, **context)


def write_pdf(html: str, base: Path, out_pdf: Path) -> Path:
    import warnings

    with warnings.catch_warnings():
        # "HarfBuzz-Subset will be required by future versions": without libharfbuzz-subset0
        # WeasyPrint subsets with fontTools (slower, same output)
        warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
        from weasyprint import HTML

    for name in ("fontTools", "weasyprint"):
        logging.getLogger(name).setLevel(logging.ERROR)
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_pdf.with_name(out_pdf.name + ".part")
    HTML(string=html, base_url=str(base)).write_pdf(tmp)
    tmp.replace(out_pdf)
    return out_pdf


def _profile_summary(results: Results) -> dict:
    prof = results.profile()
    model = (prof.get("nli") or {}).get("model")
    return {"name": prof.get("name"), "nli_model": MODEL_NAMES.get(model, model)}


def report_context(results_dir: Path | str, *, checks=None, student=None, lang: str = "both",
                   out_dir: Path, today: _dt.date | None = None, analysis=None) -> dict:
    """Everything ``templates/report.html.j2`` needs; draws the figures into ``out_dir/figures``.

    ``analysis`` is the folder holding ``analysis.fa.md`` / ``analysis.en.md`` (the submission
    folder), an :class:`~grader.report.analysis.Analysis`, or None: then the submission folder
    ``student`` names, when it is a path. A malformed analysis file raises ``AnalysisError``
    before anything is drawn.
    """
    from grader.report.analysis import Analysis, analysis_view, load_analysis

    if analysis is None and isinstance(student, (str, Path)):
        analysis = student
    if not isinstance(analysis, Analysis):
        analysis = load_analysis(analysis)
    results = Results.load(results_dir)
    if isinstance(student, (str, Path)):
        student = load_student(student)
    student = student or Student()
    if checks is None or isinstance(checks, (str, Path)):
        checks, source = load_checks(checks if checks is not None else results_dir)
    else:
        checks, source = list(checks), None
    langs = langs_for(lang)
    today = today or _dt.date.today()
    figs = FigureSet(out_dir / "figures", out_dir, [L.code for L in langs])
    return {
        "langs": langs, "lang": lang, "student": student, "results_dir": str(results_dir),
        "dates": {L.code: dates(today, L) for L in langs}, "profile": _profile_summary(results),
        "nli": guarded(nli_view, results, figs, "nli_<mode>.json"),
        "fraud": guarded(fraud_view, results, figs, "fraud.json"),
        "analysis": analysis_view(analysis, [L.code for L in langs]),
        "checks": checks_view(checks, source), "n_figures": figs.count, "figure_paths": figs.paths,
    }


def build_report(results_dir: Path | str, *, checks=None, student=None, lang: str = "both",
                 out_pdf: Path | str, today: _dt.date | None = None, analysis=None) -> Path:
    """Write the student's report PDF (and ``<name>.html`` and ``figures/`` beside it).

    ``results_dir`` holds the results JSON of docs/CONTRACTS.md; ``checks`` is a checks.json /
    results.json path, a folder holding one, a list of :class:`CheckResult`, or None (look in
    ``results_dir``); ``student`` is a :class:`Student`, a submission folder with
    ``student.toml``, or None; ``analysis`` the folder with the student's ``analysis.*.md``
    (default: ``student`` when it is a folder).
    """
    start = time.perf_counter()
    out_pdf = Path(out_pdf)
    out_dir = out_pdf.parent
    ctx = report_context(results_dir, checks=checks, student=student, lang=lang, out_dir=out_dir, today=today,
                         analysis=analysis)
    html = render_html("report.html.j2", ctx)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_pdf.with_suffix(".html").write_text(html, encoding="utf-8")
    write_pdf(html, out_dir, out_pdf)
    log.info("report %s written in %.1f s", out_pdf, time.perf_counter() - start)
    return out_pdf
