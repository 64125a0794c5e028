"""Shared reading and wording for the NLI checks (no checks live here).

The checks compare what the sandboxed steps recorded (names, shapes, flags,
tensors, predictions) with what the grader computes itself from the
*pretrained* model: the steps' records are facts to judge, never verdicts.
"""

from __future__ import annotations

from typing import Iterable

from grader.checks._support import CheckContext, fail
from grader.tasks import nli as T

PARAMS = "nli/params.json"
PARAMS_STEP = "nli.params"
PROFILE = "profile"
META = "roberta-large-meta"


def describe(kind: str, mode: str, r=None, alpha=None) -> str:
    """How a message names one call, e.g. ``prepare_model(<RoBERTa-large>, "lora", r=8, alpha=16)``."""
    model = "<the profile's model>" if kind == PROFILE else "<RoBERTa-large on the meta device>"
    extra = f", r={r}, alpha={alpha}" if mode == "lora" else ""
    return f'prepare_model({model}, "{mode}"{extra})'


def describe_fa(kind: str, mode: str, r=None, alpha=None) -> str:
    model = "<مدل پروفایل>" if kind == PROFILE else "<RoBERTa-large روی دستگاه meta>"
    extra = f", r={r}, alpha={alpha}" if mode == "lora" else ""
    return f'prepare_model({model}, "{mode}"{extra})'


def listing(names: Iterable[str], limit: int = 6) -> str:
    """``a, b, c and 12 more``: enough names to look at, never a wall of text."""
    names = sorted(set(names))
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def listing_fa(names: Iterable[str], limit: int = 6) -> str:
    names = sorted(set(names))
    shown = "، ".join(names[:limit])
    return shown + (f" و {len(names) - limit} مورد دیگر" if len(names) > limit else "")


def states(ctx: CheckContext) -> list[dict]:
    """The ``prepare_model`` states ``nli.params`` recorded (fails if the step did not finish)."""
    data = ctx.artifact_json(PARAMS, step=PARAMS_STEP)
    if not isinstance(data, dict) or not isinstance(data.get("states"), list):
        fail(en=f"{PARAMS} does not hold the expected 'states' list; the step wrote something else.",
             fa=f"فایل {PARAMS} فهرست 'states' را ندارد؛ مرحله چیز دیگری نوشته است.")
    return [s for s in data["states"] if isinstance(s, dict)]


def state(ctx: CheckContext, kind: str, mode: str, r=None, alpha=None) -> dict:
    """One recorded state whose ``prepare_model`` call succeeded; otherwise fail saying what it raised."""
    for s in states(ctx):
        if s.get("model") == kind and s.get("mode") == mode and s.get("r") == r and s.get("alpha") == alpha:
            err = s.get("error")
            if err:
                fail(en=f"{describe(kind, mode, r, alpha)} raised {err.get('type')}: {err.get('message')}. "
                        f"Fix prepare_model in submission/nli.py.",
                     fa=f"{describe_fa(kind, mode, r, alpha)} خطای {err.get('type')} داد: {err.get('message')}. "
                        f"تابع prepare_model را در submission/nli.py درست کنید.")
            if not isinstance(s.get("params"), list) or not all(
                    isinstance(p, list) and len(p) == 3 for p in s["params"]):
                fail(en=f"The record of {describe(kind, mode, r, alpha)} has no parameter list.",
                     fa=f"گزارش {describe_fa(kind, mode, r, alpha)} فهرست پارامترها را ندارد.")
            return s
    fail(en=f"{describe(kind, mode, r, alpha)} was not recorded by step {PARAMS_STEP}.",
         fa=f"مرحلهٔ {PARAMS_STEP} نتیجهٔ {describe_fa(kind, mode, r, alpha)} را ثبت نکرده است.")


def lora_plan() -> list[tuple[str, int, int]]:
    """Every (model kind, r, alpha) the LoRA checks judge."""
    return [(PROFILE, r, a) for r, a in T.PROFILE_LORA_PAIRS] + [(META, r, a) for r, a in T.META_LORA_PAIRS]


def expected_records(ctx: CheckContext, kind: str) -> list[list]:
    """Names and shapes of the pretrained model as the grader builds it (profile model or RoBERTa-large)."""
    if kind == META:
        return T.roberta_large_records()
    return T.pretrained_records(ctx.profile.nli.model, ctx.profile.nli.seed)


def shapes(records: list[list]) -> dict[str, tuple]:
    return {name: tuple(shape) for name, shape, _flag in records}


def head_names(records: list[list]) -> set[str]:
    return {name for name, _s, _f in records if name.startswith(T.HEAD_PREFIX)}


def target_modules(records: list[list]) -> set[str]:
    """Modules LoRA must adapt: every ``*.query`` and ``*.value`` Linear of the pretrained model."""
    return {name.rsplit(".", 1)[0] for name, shape, _f in records
            if T.is_target_weight(name) and len(shape) == 2}


def by_role(records: list[list]) -> dict[str, list[tuple[str, tuple, bool, str]]]:
    """Records grouped by role (see :func:`grader.tasks.nli.classify_param`): (canonical, shape, flag, raw)."""
    groups: dict[str, list] = {"base": [], "head": [], "head_original": [], "lora_A": [], "lora_B": []}
    for name, shape, flag in records:
        role, canonical, _module = T.classify_param(str(name))
        groups[role].append((canonical, tuple(shape), flag is True, str(name)))
    return groups


def same_names_or_fail(records: list[list], expected: list[list], call: str, call_fa: str) -> None:
    """Full and freeze modes keep the plain transformers model: the same parameter names and shapes."""
    got, want = shapes(records), shapes(expected)
    missing, extra = set(want) - set(got), set(got) - set(want)
    reshaped = {n for n in set(want) & set(got) if want[n] != got[n]}
    if missing or extra or reshaped:
        fail(en=f"{call} should return the model itself with its parameters unchanged in name and shape. "
                f"Missing: {listing(missing) or 'none'}; unexpected: {listing(extra) or 'none'}; "
                f"reshaped: {listing(reshaped) or 'none'}. Only flip requires_grad; do not wrap or rebuild the model.",
             fa=f"{call_fa} باید خود مدل را با همان نام و شکل پارامترها برگرداند. "
                f"گم‌شده: {listing_fa(missing) or 'هیچ'}؛ اضافه: {listing_fa(extra) or 'هیچ'}؛ "
                f"تغییرشکل‌یافته: {listing_fa(reshaped) or 'هیچ'}. فقط requires_grad را تغییر دهید؛ "
                f"مدل را بسته‌بندی یا از نو نسازید.")


def fmt_int(n: int) -> str:
    return f"{int(n):,}"
