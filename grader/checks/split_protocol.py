"""The leakage-safe protocol: split the raw rows (stratified), then resample the training part only.

The step calls ``split_then_resample`` on a frame whose column 0 is a unique row
id, with a recording sampler that logs the ids it is given and appends one copy
of each minority row with id ``-(id + 1)``. Every returned row is therefore
*original* (an input row, unchanged, with its label), *added by the sampler*,
or *modified*. Each check below grades one property and verifies all of what
its title says, even where another check names the same fault (DESIGN.md, "No
vacuous passes"): oversampling before the split fails
:func:`test_sampler_saw_training_rows_only` (the sampler saw test rows) and,
because what reaches the test part is then resampled or shared with the
training part, :func:`test_test_rows_original_untouched` and
:func:`test_train_and_test_disjoint` too. An empty part is no evidence and
fails every check that would judge it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pytest

from grader.checks._fraud_common import not_implemented, report
from grader.checks._support import CheckFailed

STEP = "fraud.split"
ID_COLUMN = 0
ORIGINAL, ADDED, MODIFIED = 0, 1, 2
STRATIFY_TOLERANCE = 2     # rows per class: sklearn's allocation is within 1 of n_test * p_c

WHERE_EN = "split_then_resample in submission/fraud.py"
WHERE_FA = "split_then_resample در submission/fraud.py"


def classify_rows(X_part: np.ndarray, y_part: np.ndarray, X: np.ndarray, y: np.ndarray,
                  *, rtol: float = 1e-6, atol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """``(kind, source)`` per row: ORIGINAL / ADDED / MODIFIED and the original row it comes from (-1)."""
    n = len(X)
    kind = np.full(len(X_part), MODIFIED)
    source = np.full(len(X_part), -1)
    if X_part.ndim != 2 or X_part.shape[1] != X.shape[1] or len(y_part) != len(X_part):
        return kind, source
    ids = X_part[:, ID_COLUMN]
    whole = np.isfinite(ids) & (ids == np.round(ids))
    idx = np.where(whole, ids, 0).astype(np.int64)
    src = np.where(idx >= 0, idx, -idx - 1)
    valid = whole & (src >= 0) & (src < n)
    src = np.where(valid, src, 0)
    same = np.isclose(X_part, X[src], rtol=rtol, atol=atol)
    rest_same = same[:, 1:].all(axis=1)
    label_same = y_part == y[src]
    original = valid & (idx >= 0) & rest_same & label_same
    added = valid & (idx < 0) & rest_same & label_same
    kind[original] = ORIGINAL
    kind[added] = ADDED
    source[original | added] = src[original | added]
    return kind, source


@dataclass
class SplitRun:
    """One call of split_then_resample, classified."""

    name: str
    seed: int
    test_size: float
    calls: list
    train_kind: np.ndarray
    train_src: np.ndarray
    test_kind: np.ndarray
    test_src: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    X_train: np.ndarray
    X_test: np.ndarray


def split_runs(ctx) -> tuple[list[SplitRun], np.ndarray, np.ndarray]:
    """The classified runs and the grader's frame (X, y); fail if a run raised."""
    records = ctx.artifact_json("fraud/split.json", step=STEP)
    arrays = ctx.artifact_npz("fraud/split.npz", step=STEP)
    with np.load(ctx.heldback_path("fraud/split_frame.npz"), allow_pickle=False) as data:
        X, y = np.array(data["X"]), np.array(data["y"])
    runs_meta = json.loads(ctx.heldback_path("fraud/split_runs.json").read_text(encoding="utf-8"))
    if not runs_meta:
        raise CheckFailed("This check has no evidence: the grader's list of split runs is empty.",
                          "این بررسی شاهدی ندارد: فهرست اجراهای تقسیم در ارزیاب خالی است.")
    runs, crashed, crashed_fa = [], [], []
    for meta in runs_meta:
        name = meta["name"]
        rec = records.get(name) if isinstance(records, dict) else None
        if isinstance(rec, dict) and rec.get("error_type") == "NotImplementedError":
            raise not_implemented("split_then_resample (submission/fraud.py)")
        if not isinstance(rec, dict) or rec.get("status") != "ok":
            why = "no record" if not isinstance(rec, dict) else f"{rec.get('error_type')}: {rec.get('message')}"
            crashed.append(f"run {name} (seed {meta['seed']}, test_size {meta['test_size']}): {str(why)[:200]}")
            crashed_fa.append(f"اجرای {name} (seed={meta['seed']}، test_size={meta['test_size']}): "
                              f"{'رکوردی نیست' if not isinstance(rec, dict) else str(why)[:200]}")
            continue
        calls = [np.asarray(arrays[f"call{i}__{name}"]) for i in range(int(rec.get("sampler_calls", 0)))
                 if f"call{i}__{name}" in arrays]
        parts = {key: np.asarray(arrays[f"{key}__{name}"]) for key in ("X_train", "X_test", "y_train", "y_test")}
        train_kind, train_src = classify_rows(parts["X_train"], parts["y_train"], X, y)
        test_kind, test_src = classify_rows(parts["X_test"], parts["y_test"], X, y)
        runs.append(SplitRun(name, meta["seed"], meta["test_size"], calls, train_kind, train_src,
                             test_kind, test_src, parts["y_train"], parts["y_test"], parts["X_train"],
                             parts["X_test"]))
    if crashed:
        raise CheckFailed("This check could not be graded because split_then_resample failed: "
                          + "; ".join(crashed[:2]) + f". Look at {WHERE_EN}.",
                          "این بررسی انجام نشد زیرا split_then_resample خطا داد: " + "؛ ".join(crashed_fa[:2])
                          + f". {WHERE_FA} را بررسی کنید.")
    return runs, X, y


_NUM = re.compile(r"\d+(?:\.\d+)?")


def _ranges(texts: list[str], joiner: str) -> str:
    """``texts`` that differ only in their numbers, as the first with each varying number a range."""
    columns = list(zip(*(_NUM.findall(t) for t in texts)))
    parts = _NUM.split(texts[0])
    out = [parts[0]]
    for values, tail in zip(columns, parts[1:]):
        lo, hi = min(values, key=float), max(values, key=float)
        out.append(lo if float(lo) == float(hi) else f"{lo}{joiner}{hi}")
        out.append(tail)
    return "".join(out)


def collapse_runs(problems: list[tuple[SplitRun, str, str]], n_runs: int) -> list[tuple[str, str]]:
    """One (en, fa) sentence per fault, not one per run: findings of several runs that differ at most in
    their numbers are said once, with how many runs they affected and each varying number as a range."""
    groups: dict[str, list[tuple[SplitRun, str, str]]] = {}
    for run, en, fa in problems:
        groups.setdefault(_NUM.sub("#", en) + "\0" + _NUM.sub("#", fa), []).append((run, en, fa))
    out = []
    for group in groups.values():
        runs = [g[0] for g in group]
        if len(group) == 1:
            run = runs[0]
            out.append((f"Run {run.name} (seed {run.seed}, test_size {run.test_size}): {group[0][1]}",
                        f"اجرای {run.name} (seed={run.seed}، test_size={run.test_size}): {group[0][2]}"))
            continue
        names_en, names_fa = ", ".join(r.name for r in runs), "، ".join(r.name for r in runs)
        lead_en = (f"In all {len(runs)} runs" if len(runs) == n_runs else f"In {len(runs)} of the {n_runs} runs")
        lead_fa = (f"در هر {len(runs)} اجرا" if len(runs) == n_runs else f"در {len(runs)} اجرا از {n_runs} اجرا")
        out.append((f"{lead_en} ({names_en}): {_ranges([g[1] for g in group], '–')}",
                    f"{lead_fa} ({names_fa}): {_ranges([g[2] for g in group], ' تا ')}"))
    return out


def report_runs(problems: list[tuple[SplitRun, str, str]], runs: list[SplitRun]) -> None:
    """Fail with the collapsed findings of ``runs`` (see :func:`collapse_runs`); pass if none."""
    report(collapse_runs(problems, len(runs)), where_en=WHERE_EN, where_fa=WHERE_FA)


def empty_parts(run: SplitRun) -> tuple[str, str] | None:
    """The (en, fa) problem of a run whose training or test part is empty: nothing to judge is a failure."""
    empty = [name for name, kind in (("training", run.train_kind), ("test", run.test_kind)) if len(kind) == 0]
    if not empty:
        return None
    empty_fa = " و ".join({"training": "آموزش", "test": "آزمون"}[e] for e in empty)
    return (f"the {' and '.join(empty)} part is empty, so this property has no rows to be "
            f"verified on; expected test_size × the rows in the test part and the rest in the training part.",
            f"بخش {empty_fa} خالی است، پس سطری برای بررسی این ویژگی نیست؛ انتظار test_size × "
            f"سطرها در بخش آزمون و بقیه در بخش آموزش می‌رفت.")


def sampled_sources(calls: list) -> set[int]:
    """Original rows the sampler was given over ``calls`` (the id column of each call's input)."""
    seen: set[int] = set()
    for call in calls:
        ids = call[np.isfinite(call) & (call >= 0) & (call == np.round(call))]
        seen.update(ids.astype(np.int64).tolist())
    return seen


def _sampler_problem(run: SplitRun, n: int) -> tuple[str, str] | None:
    """Why the sampler did not see training rows only (None when it did); no call at all is no evidence."""
    test_ids = set(run.test_src[run.test_kind == ORIGINAL].tolist())
    if not run.calls:
        return (f"sampler.fit_resample was never called, so there is no resampling to verify; expected "
                f"one call, on the training part.",
                f"sampler.fit_resample هرگز فراخوانی نشد، پس بازنمونه‌گیری‌ای برای بررسی نیست؛ انتظار "
                f"یک بار فراخوانی روی بخش آموزش می‌رفت.")
    if len(run.calls) > 1:
        seen_test = len(test_ids & sampled_sources(run.calls[1:]))
        return (f"expected one call of sampler.fit_resample (on the training part); found "
                f"{len(run.calls)} calls" + (f", a later one on {seen_test} test rows" if seen_test else "")
                + ". Resample the training part only.",
                f"انتظار یک بار فراخوانی sampler.fit_resample (روی بخش آموزش) می‌رفت؛ "
                f"{len(run.calls)} بار فراخوانی شد. فقط بخش آموزش را بازنمونه‌گیری کنید.")
    seen = run.calls[0]
    leaked = len(test_ids & sampled_sources(run.calls))
    room = n - len(run.test_kind)                  # rows a split leaves outside the test part
    if len(seen) == 0:
        return (f"sampler.fit_resample was given no rows; expected the training part.",
                f"به sampler.fit_resample هیچ سطری داده نشد؛ انتظار بخش آموزش می‌رفت.")
    if leaked or len(seen) > room:
        found = (f"{leaked} of which ended up in the test part" if leaked else
                 f"more than the {room} rows outside the {len(run.test_kind)}-row test part")
        found_fa = (f"که {leaked} سطر از آن‌ها در بخش آزمون قرار گرفتند" if leaked else
                    f"که بیش از {room} سطری که بیرون از بخش آزمونِ {len(run.test_kind)} سطری می‌مانند")
        return (f"the sampler was given {len(seen)} rows, {found}: it ran before the split (the leak "
                f"that inflates test scores). Expected: split first, then sampler.fit_resample(X_train, y_train).",
                f"به sampler در مجموع {len(seen)} سطر داده شد {found_fa}: بازنمونه‌گیری پیش از تقسیم انجام شده است "
                f"(نشت داده که امتیازهای آزمون را بزرگ‌تر از واقع نشان می‌دهد). "
                f"انتظار: اول تقسیم، سپس sampler.fit_resample(X_train, y_train).")
    added_in_test = int(np.sum(run.test_kind == ADDED))
    if added_in_test:
        return (f"expected no resampled row in the test part; found {added_in_test}.",
                f"انتظار می‌رفت هیچ سطر بازنمونه‌گیری‌شده‌ای در بخش آزمون نباشد؛ "
                f"{added_in_test} سطر پیدا شد.")
    return None


@pytest.mark.check("split.sampler_train_only")
def test_sampler_saw_training_rows_only(ctx):
    """The sampler ran once, on training rows only; no resampled row reached the test part."""
    runs, X, y = split_runs(ctx)
    problems = [(run, *p) for run in runs if (p := empty_parts(run) or _sampler_problem(run, len(X)))]
    report_runs(problems, runs)


def faults_in_test_part(run: SplitRun) -> list[tuple[str, str]]:
    """(en, fa) findings on the test part: rows that are not original, untouched and once."""
    originals = run.test_src[run.test_kind == ORIGINAL]
    counts = {
        "modified": int(np.sum(run.test_kind == MODIFIED)),
        "added": int(np.sum(run.test_kind == ADDED)),
        "repeated": len(originals) - len(np.unique(originals)),
        "resampled": len(set(originals.tolist()) & sampled_sources(run.calls)),
    }
    words = {
        "modified": ("are not an input row with its label (synthetic, scaled, re-encoded or relabelled)",
                     "سطر ورودی با برچسب خودش نیستند (مصنوعی، مقیاس‌شده، تبدیل‌شده یا با برچسب جدید)"),
        "added": ("were added by the sampler (resampled rows)", "را sampler افزوده است (سطر بازنمونه‌گیری‌شده)"),
        "repeated": ("are original rows repeated in the test part", "سطر اصلیِ تکراری در بخش آزمون هستند"),
        "resampled": ("were given to the sampler with the training data", "همراه دادهٔ آموزش به sampler داده شدند"),
    }
    return [(f"{n} {words[key][0]}", f"{n} سطر {words[key][1]}") for key, n in counts.items() if n]


@pytest.mark.check("split.test_original")
def test_test_rows_original_untouched(ctx):
    """Every test row is an original row, unchanged, with its label, at most once, never given to the sampler."""
    runs, X, y = split_runs(ctx)
    problems = []
    for run in runs:
        empty = empty_parts(run)
        faults = [] if empty else faults_in_test_part(run)
        if empty:
            problems.append((run, *empty))
        elif faults:
            problems.append((run, f"expected every test row to be an original row, untouched (same "
                             f"values, same label, once, never resampled); of {len(run.test_kind)} test rows, "
                             f"{'; '.join(f[0] for f in faults)}. Split the raw rows first, resample the training "
                             f"part only, and return X_test, y_test exactly as split.",
                             f"انتظار می‌رفت هر سطر آزمون یک سطر اصلی و دست‌نخورده باشد "
                             f"(همان مقادیر و همان برچسب، یک بار، بدون بازنمونه‌گیری)؛ از {len(run.test_kind)} سطر "
                             f"آزمون، {'؛ '.join(f[1] for f in faults)}. اول سطرهای خام را تقسیم کنید، فقط بخش "
                             f"آموزش را بازنمونه‌گیری کنید و X_test و y_test را همان‌طور که تقسیم شده برگردانید."))
    report_runs(problems, runs)


def identical_rows(A: np.ndarray, B: np.ndarray) -> int:
    """How many rows of ``B`` equal, bit for bit, some row of ``A`` (rows no id can be read from)."""
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1] or not len(A) or not len(B):
        return 0
    seen = {row.tobytes() for row in np.ascontiguousarray(A, dtype=np.float64)}
    return sum(row.tobytes() in seen for row in np.ascontiguousarray(B, dtype=np.float64))


@pytest.mark.check("split.disjoint")
def test_train_and_test_disjoint(ctx):
    """No row is in both parts: not an original row, not a resampled copy of one, not an identical changed row."""
    runs, X, y = split_runs(ctx)
    problems = []
    for run in runs:
        empty = empty_parts(run)
        if empty:
            problems.append((run, *empty))
            continue
        train_ids = set(run.train_src[run.train_kind != MODIFIED].tolist())
        test_ids = set(run.test_src[run.test_kind != MODIFIED].tolist())
        both = train_ids & test_ids
        as_is = set(run.train_src[run.train_kind == ORIGINAL].tolist()) & \
            set(run.test_src[run.test_kind == ORIGINAL].tolist())
        changed = identical_rows(run.X_train[run.train_kind == MODIFIED], run.X_test[run.test_kind == MODIFIED])
        found = []
        if both:
            copies = len(both - as_is)
            found.append((f"{len(both)} original rows are in both the training and the test part" +
                          (f" ({copies} of them through a resampled copy: oversampling before the split)"
                           if copies else ""),
                          f"{len(both)} سطر اصلی (خودش یا کپی بازنمونه‌گیری‌شده‌اش) هم در بخش آموزش و هم در بخش "
                          f"آزمون هستند"))
        if changed:
            found.append((f"{changed} changed test rows equal a changed training row",
                          f"{changed} سطر تغییرکردهٔ آزمون با یک سطر تغییرکردهٔ آموزش برابرند"))
        if found:
            problems.append((run, f"expected disjoint parts; {'; '.join(f[0] for f in found)}.",
                             f"انتظار بخش‌های جدا از هم می‌رفت؛ {'؛ '.join(f[1] for f in found)}."))
    report_runs(problems, runs)


@pytest.mark.check("split.stratified")
def test_split_is_stratified(ctx):
    """The test part keeps the class ratio of what was split: test_size × count per class, ±1 row.

    What was split is the original frame, except when the sampler ran on every
    row first (that sequencing mistake is split.sampler_train_only's finding);
    then it is the sampler's output, and its ratio is the one a stratified
    split keeps.
    """
    runs, X, y = split_runs(ctx)
    problems = []
    n = len(y)
    counts = np.bincount(y, minlength=2)
    for run in runs:
        saw_all = (len(run.calls) == 1 and len(run.calls[0]) == n
                   and np.array_equal(np.sort(run.calls[0]), np.arange(n)))
        if saw_all:
            split_counts = counts + np.bincount([int(np.argmin(counts))], minlength=2) * counts.min()
            test_labels = run.y_test
        else:
            split_counts = counts
            test_labels = run.y_test[run.test_kind != ADDED]
        found = np.bincount(test_labels.astype(np.int64).clip(0, 1), minlength=2)[:2]
        expected = run.test_size * split_counts
        if np.any(np.abs(found - expected) >= STRATIFY_TOLERANCE):
            off = float(np.max(np.abs(found - expected)))
            problems.append((run, f"expected test_size × each class in the test part (a stratified split keeps "
                                  f"the class ratio within 1 row); found a class off by {off:.0f} rows ({found[0]} "
                                  f"legitimate and {found[1]} fraud rows where about {expected[0]:.0f} and "
                                  f"{expected[1]:.0f} were due). Pass stratify=y and test_size to the split.",
                             f"انتظار test_size × هر کلاس در بخش آزمون می‌رفت (تقسیم لایه‌ای نسبت کلاس‌ها را با "
                             f"خطای حداکثر 1 سطر حفظ می‌کند)؛ یک کلاس {off:.0f} سطر اختلاف دارد ({found[0]} سطر سالم "
                             f"و {found[1]} سطر تقلب به جای حدود {expected[0]:.0f} و {expected[1]:.0f}). "
                             f"stratify=y و test_size را به تقسیم بدهید."))
    report_runs(problems, runs)


@pytest.mark.check("split.train_resampled")
def test_training_part_is_resampled(ctx):
    """The returned training part is the sampler's output: original rows plus the rows it added."""
    runs, X, y = split_runs(ctx)
    problems = []
    for run in runs:
        if not run.calls:
            problems.append((run, f"sampler.fit_resample was never called; expected the training part to be "
                             f"resampled.",
                             f"sampler.fit_resample هرگز فراخوانی نشد؛ انتظار می‌رفت بخش آموزش "
                             f"بازنمونه‌گیری شود."))
            continue
        modified = int(np.sum(run.train_kind == MODIFIED))
        added = int(np.sum(run.train_kind == ADDED))
        if modified or not added:
            problems.append((run, f"expected X_train, y_train to be what sampler.fit_resample returned "
                             f"(original training rows plus the rows it added); found {added} added rows and "
                             f"{modified} rows that are neither.",
                             f"انتظار می‌رفت X_train و y_train همان خروجی sampler.fit_resample باشند "
                             f"(سطرهای اصلی آموزش به‌علاوهٔ سطرهای افزوده)؛ {added} سطر افزوده و {modified} "
                             f"سطر نامعتبر پیدا شد."))
    report_runs(problems, runs)
