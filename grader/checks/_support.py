"""What a check needs: :func:`fail` with bilingual messages and :class:`CheckContext`.

Checks are trusted code reading *artifacts* (JSON, ``.npz``, ``.safetensors``,
text) that the sandboxed steps wrote; JSON and ``.npz`` go through
:mod:`grader.results.safe_io`, which refuses crafted files before parsing them.
They never import the submission. Every way an artifact can be unusable
(its step crashed, timed out, was not implemented, the file is missing or
malformed) becomes a :class:`CheckFailed` whose message says what happened and
where to look, in English and Persian.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NoReturn

from grader.profiles import Profile
from grader.results.safe_io import read_json, read_npz

MANIFEST = "manifest.json"
STEPS_DIR = "steps"


class CheckFailed(AssertionError):
    """A check found the submission wrong; carries the student-facing messages."""

    def __init__(self, en: str, fa: str):
        super().__init__(en)
        self.en = en
        self.fa = fa


def fail(*, en: str, fa: str) -> NoReturn:
    """Fail the current check: ``en``/``fa`` say what was expected, what was found, where to look."""
    if not en or not fa:
        raise ValueError("fail() needs both an English (en=) and a Persian (fa=) message")
    raise CheckFailed(en, fa)


_LINE = re.compile(r"^(?P<what>.+) \(line (?P<line>\d+)\)$")


def step_where(step_id: str, status: dict | None) -> tuple[str, str]:
    """Where the student should look, (en, fa): the traceback's ``module.function (line n)`` when the
    step recorded one, else the functions the step calls (``submission/fraud.py: build_cnn``)."""
    where = str((status or {}).get("where") or "")
    if where:
        match = _LINE.match(where)
        return where, (f"{match['what']} (سطر {match['line']})" if match else where)
    try:
        from grader.run.step_api import describe_calls, get_step, load_step_modules

        load_step_modules()
        calls = describe_calls(get_step(step_id).calls)
    except (KeyError, ImportError):
        calls = ""
    if calls:
        return calls, calls
    return (f"the functions step {step_id} calls in submission/",
            f"تابع‌هایی از submission/ که مرحلهٔ {step_id} فراخوانی می‌کند")


def _step_failure(step_id: str, status: dict | None) -> tuple[str, str]:
    """Bilingual explanation of why ``step_id`` produced nothing usable, naming the function to look at."""
    if status is None:
        return (f"Step {step_id} did not run, so this check has nothing to read.",
                f"مرحلهٔ {step_id} اجرا نشد، پس این بررسی چیزی برای خواندن ندارد.")
    kind = status.get("status")
    where, where_fa = step_where(step_id, status)
    msg = str(status.get("message") or "")[:500]
    etype = status.get("error_type") or ""
    if kind == "missing":
        return (f"Step {step_id} could not call your code: {msg}. Implement it in submission/ "
                f"with the name and signature given in the assignment.",
                f"مرحلهٔ {step_id} نتوانست کد شما را صدا بزند: {msg}. آن را با همان نام و امضای "
                f"صورت تمرین در submission/ پیاده‌سازی کنید.")
    if kind == "error" and etype == "NotImplementedError":
        return (f"{where} is not implemented yet (it raised NotImplementedError).",
                f"{where_fa} هنوز پیاده‌سازی نشده است (NotImplementedError داد).")
    if kind == "error":
        return (f"Step {step_id} failed: {etype} in {where}: {msg}",
                f"مرحلهٔ {step_id} با خطا تمام شد: {etype} در {where_fa}: {msg}")
    if kind == "timeout":
        return (f"Step {step_id} ran out of time and was stopped ({msg or 'wall-clock or CPU limit'}). "
                f"Look for an endless loop or work far beyond the budget in {where}.",
                f"زمان مرحلهٔ {step_id} تمام شد و متوقف شد ({msg or 'محدودیت زمان'}). "
                f"دنبال حلقهٔ بی‌پایان یا کار بسیار بیشتر از بودجه در {where_fa} بگردید.")
    if kind == "killed":
        return (f"Step {step_id} was killed ({msg or 'a resource limit'}): too much memory, output "
                f"or processes. Check {where}.",
                f"مرحلهٔ {step_id} به‌اجبار متوقف شد ({msg or 'محدودیت منابع'}): حافظه، خروجی یا تعداد "
                f"فرایندها بیش از حد بود. {where_fa} را بررسی کنید.")
    if kind == "crashed":
        return (f"Step {step_id} ended abruptly without reporting ({msg or 'the process exited'}); "
                f"does {where} call os._exit/sys.exit or crash the interpreter?",
                f"مرحلهٔ {step_id} ناگهان و بدون گزارش پایان یافت ({msg or 'فرایند خارج شد'})؛ "
                f"آیا {where_fa} تابع os._exit/sys.exit را فراخوانی می‌کند یا مفسر را از کار می‌اندازد؟")
    if kind == "overloaded":
        return (f"GRADER OVERLOADED, REGRADE: step {step_id} was stopped by the wall-clock backstop while it was "
                f"waiting for a CPU ({msg}). This is not your submission's fault; the grade is not final and the "
                f"next grading run regrades it.",
                f"ارزیاب بیش از حد مشغول بود؛ دوباره نمره‌دهی می‌شود: مرحلهٔ {step_id} هنگام انتظار برای پردازنده "
                f"با محدودیت زمان دیواری متوقف شد ({msg}). این تقصیر کد شما نیست؛ این نمره نهایی نیست و اجرای بعدی "
                f"دوباره نمره می‌دهد.")
    return (f"Step {step_id} reported an unknown status {kind!r}.",
            f"مرحلهٔ {step_id} وضعیت ناشناختهٔ {kind!r} را گزارش کرد.")


class CheckContext:
    """Read-only access to one submission's artifacts and the held-back data.

    One instance serves the whole check session (the plugin's ``ctx`` fixture);
    loaded artifacts are cached and returned read-only.
    """

    def __init__(self, artifacts: Path | str, heldback: Path | str, profile: Profile):
        self.artifacts = Path(artifacts)
        self.heldback = Path(heldback)
        self.profile = profile
        self._cache: dict[tuple[str, str], Any] = {}
        manifest = self.artifacts / MANIFEST
        self._manifest: dict | None = None
        if manifest.is_file():
            self._manifest = json.loads(manifest.read_text(encoding="utf-8"))

    # -- steps ---------------------------------------------------------------------------
    def step_status(self, step_id: str) -> dict | None:
        """The status record of ``step_id`` (see GRADING.md) or None when it did not run."""
        path = self.artifacts / STEPS_DIR / f"{step_id}.json"
        if not path.is_file():
            return None
        try:
            data = read_json(path)
        except (OSError, ValueError):
            return {"step": step_id, "status": "crashed", "message": "unreadable status record"}
        return data if isinstance(data, dict) else {"step": step_id, "status": "crashed",
                                                    "message": "malformed status record"}

    def require_step(self, step_id: str) -> dict:
        """The status of ``step_id`` if it finished ``ok``; otherwise fail with the reason."""
        status = self.step_status(step_id)
        if status is None or status.get("status") != "ok":
            en, fa = _step_failure(step_id, status)
            raise CheckFailed(en, fa)
        return status

    # -- artifacts -----------------------------------------------------------------------
    def artifact_path(self, rel: str, step: str | None = None) -> Path:
        """Path of an artifact that exists and (when ``step`` is given) that ``step`` wrote."""
        if step is not None:
            self.require_step(step)
        path = (self.artifacts / rel).resolve()
        if self.artifacts.resolve() not in path.parents:
            raise ValueError(f"artifact path {rel!r} leaves the artifacts folder")
        who = f"step {step}" if step else "the run"
        if not path.is_file():
            raise CheckFailed(
                f"Expected the artifact {rel} from {who}, but it was not written. "
                f"Did your function return what the assignment asks for?",
                f"انتظار می‌رفت {who} فایل {rel} را بنویسد، اما نوشته نشد. "
                f"آیا تابع شما همان چیزی را برمی‌گرداند که صورت تمرین خواسته است؟")
        if step is not None and self._manifest is not None and self._manifest.get(rel) != step:
            raise CheckFailed(
                f"The artifact {rel} was not written by step {step} (found: {self._manifest.get(rel)!r}).",
                f"فایل {rel} را مرحلهٔ {step} ننوشته است (نویسنده: {self._manifest.get(rel)!r}).")
        return path

    def _malformed(self, rel: str, err: Exception) -> CheckFailed:
        return CheckFailed(f"The artifact {rel} is malformed ({type(err).__name__}: {str(err)[:200]}); "
                           f"your code returned something of the wrong type or shape.",
                           f"فایل {rel} خراب است ({type(err).__name__}: {str(err)[:200]})؛ "
                           f"کد شما چیزی با نوع یا شکل نادرست برگردانده است.")

    def artifact_json(self, rel: str, step: str | None = None) -> Any:
        key = ("json", rel)
        if key not in self._cache:
            path = self.artifact_path(rel, step)
            try:
                self._cache[key] = read_json(path)      # size and nesting depth bounded first
            except (OSError, ValueError) as err:
                raise self._malformed(rel, err) from None
        elif step is not None:
            self.require_step(step)
        return self._cache[key]

    def artifact_npz(self, rel: str, step: str | None = None) -> dict:
        """Arrays of an ``.npz`` (stored members, headers checked before loading, no pickle), read-only."""
        key = ("npz", rel)
        if key not in self._cache:
            path = self.artifact_path(rel, step)
            try:
                arrays = read_npz(path)
            except Exception as err:  # noqa: BLE001 - any unreadable file is the student's artifact
                raise self._malformed(rel, err) from None
            for arr in arrays.values():
                arr.flags.writeable = False
            self._cache[key] = arrays
        elif step is not None:
            self.require_step(step)
        return self._cache[key]

    def artifact_safetensors(self, rel: str, step: str | None = None, *, framework: str = "np") -> dict:
        """Tensors of a ``.safetensors`` file as numpy arrays (``framework="pt"``: torch tensors)."""
        key = (f"st-{framework}", rel)
        if key not in self._cache:
            path = self.artifact_path(rel, step)
            try:
                if framework == "pt":
                    from safetensors.torch import load_file
                else:
                    from safetensors.numpy import load_file
                tensors = load_file(str(path))
            except Exception as err:  # noqa: BLE001
                raise self._malformed(rel, err) from None
            if framework != "pt":
                for arr in tensors.values():
                    arr.flags.writeable = False
            self._cache[key] = tensors
        elif step is not None:
            self.require_step(step)
        return self._cache[key]

    def artifact_text(self, rel: str, step: str | None = None) -> str:
        path = self.artifact_path(rel, step)
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise self._malformed(rel, err) from None

    # -- held-back data (trusted) ------------------------------------------------------
    def heldback_path(self, rel: str) -> Path:
        path = self.heldback / rel
        if not path.is_file():
            raise FileNotFoundError(f"held-back file {path} is missing: prepare_inputs did not write it")
        return path

    def heldback_npy(self, rel: str):
        import numpy as np

        key = ("hb", rel)
        if key not in self._cache:
            arr = np.load(self.heldback_path(rel), allow_pickle=False)
            arr.flags.writeable = False
            self._cache[key] = arr
        return self._cache[key]

    def heldback_json(self, rel: str) -> Any:
        return json.loads(self.heldback_path(rel).read_text(encoding="utf-8"))
