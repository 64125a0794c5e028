"""The API of the untrusted phase: ``@step`` registration and :class:`StepContext`.

A step is one call (or a few related calls) into a student's submission, run
in its own sandboxed process (see :mod:`grader.run.sandbox`) so that a crash,
an ``os._exit`` or a timeout in one cannot lose another's artifacts. A step
reports only through the safe writers below: JSON, ``.npz`` without object
arrays, ``.safetensors``; nothing a trusted reader would have to unpickle.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, get_args

from grader.homework import API_MODULES
from grader.profiles import Profile

ALLOWED_SUFFIXES = (".json", ".npz", ".safetensors")
STEP_MODULES = ("grader.run.steps.nli", "grader.run.steps.fraud")

StepStatus = Literal["ok", "error", "missing", "crashed", "timeout", "killed", "overloaded"]
"""How a step ended: what the step runner reports (``REPORTED_STATUSES``) or what the sandbox saw
(``grader.run.sandbox.SandboxStatus``; an exit without a report is ``crashed``). The checks explain each one."""
STEP_STATUSES: tuple[str, ...] = get_args(StepStatus)
REPORTED_STATUSES: tuple[str, ...] = ("ok", "error", "missing")
"""The statuses ``grader.run.step_main`` writes itself; a record claiming any other is not trusted."""


class MissingAPI(Exception):
    """A submission module or function the step needs does not exist (status ``missing``)."""


class UnsafeArtifact(ValueError):
    """A step tried to write something the trusted side could not read safely."""


@dataclass(frozen=True)
class StepSpec:
    """A registered step. ``timeout_s`` may be a number or ``f(profile) -> seconds``; ``calls``
    names the submission's functions it calls (``"fraud.build_cnn"``), so a message about a step
    that stopped without a traceback (timed out, killed, crashed) still says where to look."""

    id: str
    task: str
    func: Callable = field(repr=False)
    timeout_s: float | Callable[[Profile], float] = 300
    visible: bool = False
    module: str = ""
    calls: tuple[str, ...] = ()

    def timeout_for(self, profile: Profile) -> float:
        value = self.timeout_s(profile) if callable(self.timeout_s) else self.timeout_s
        return float(value)


_REGISTRY: dict[str, StepSpec] = {}


def step(step_id: str, *, task: str, timeout_s: float | Callable[[Profile], float] = 300,
         visible: bool = False, calls: tuple[str, ...] = ()) -> Callable:
    """Register ``func(ctx: StepContext) -> None`` as step ``step_id`` of ``task``; ``calls`` are the
    submission's ``"<module>.<function>"`` it calls."""
    for name in calls:
        if name.partition(".")[0] not in API_MODULES or not name.partition(".")[2]:
            raise ValueError(f"step {step_id!r}: calls entry {name!r} should be '<module>.<function>' "
                             f"with <module> one of {API_MODULES}")
    if not step_id.startswith(f"{task}.") and "." not in step_id:
        raise ValueError(f"step id {step_id!r} should look like '<task>.<name>'")

    def register(func: Callable) -> Callable:
        existing = _REGISTRY.get(step_id)
        if existing is not None and (existing.module, existing.func.__qualname__) != (
                func.__module__, func.__qualname__):
            raise ValueError(f"step {step_id!r} registered twice ({existing.module} and {func.__module__})")
        _REGISTRY[step_id] = StepSpec(step_id, task, func, timeout_s, visible, func.__module__, tuple(calls))
        return func

    return register


def unregister(step_id: str) -> None:
    """Remove a step (tests register throw-away steps)."""
    _REGISTRY.pop(step_id, None)


def load_step_modules(extra: tuple[str, ...] | list[str] = ()) -> None:
    """Import the per-task step modules; a task whose module does not exist yet is skipped."""
    for name in (*STEP_MODULES, *extra):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name or name not in STEP_MODULES:
                raise


def all_steps(extra_modules: tuple[str, ...] | list[str] = (), tasks: list[str] | tuple[str, ...] | None = None
              ) -> list[StepSpec]:
    """Every registered step in definition order (optionally only those of ``tasks``)."""
    load_step_modules(extra_modules)
    return [s for s in _REGISTRY.values() if not tasks or s.task in tasks]


def describe_calls(calls: tuple[str, ...] | list[str]) -> str:
    """``("fraud.build_cnn",)`` -> ``"submission/fraud.py: build_cnn"``; one file per group, in order."""
    files: dict[str, list[str]] = {}
    for name in calls:
        module, _, func = name.partition(".")
        files.setdefault(module, []).append(func)
    return "; ".join(f"submission/{module}.py: {', '.join(funcs)}" for module, funcs in files.items())


def get_step(step_id: str) -> StepSpec:
    try:
        return _REGISTRY[step_id]
    except KeyError:
        raise KeyError(f"no step {step_id!r}; known: {', '.join(_REGISTRY) or 'none'}") from None


class _APIModule:
    """A submission module whose missing attributes raise :class:`MissingAPI`, not AttributeError."""

    def __init__(self, module, label: str):
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name: str):
        try:
            return getattr(self._module, name)
        except AttributeError:
            raise MissingAPI(f"{self._label} has no {name!r}") from None

    def __setattr__(self, name, value):
        setattr(self._module, name, value)


def _json_default(obj: Any):
    """numpy / torch scalars and arrays become plain JSON values; anything else is refused."""
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return obj.tolist()
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _plain(obj: Any, depth: int = 0) -> Any:
    """A deep copy made of exact built-in types, so no subclass (custom ``__eq__``) survives."""
    if depth > 64:
        raise UnsafeArtifact("data nested more than 64 levels deep")
    if obj is None or type(obj) is bool:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, depth + 1) for v in obj]
    return _plain(_json_default(obj), depth + 1)


class StepContext:
    """What a step sees: inputs (no evaluation labels), the artifacts root, the profile."""

    def __init__(self, *, inputs: Path, out: Path, profile: Profile, seed: int, submission_dir: Path,
                 step_id: str = ""):
        self.inputs = Path(inputs)
        self.out = Path(out)
        self.profile = profile
        self.seed = int(seed)
        self.submission_dir = Path(submission_dir)
        self.step_id = step_id
        self.written: list[str] = []

    # -- the submission ------------------------------------------------------------------
    def module(self, name: str) -> _APIModule:
        """Import ``submission/<name>.py``; a missing file or attribute raises :class:`MissingAPI`."""
        if name not in API_MODULES:
            raise ValueError(f"unknown API module {name!r}; use one of {API_MODULES}")
        path = self.submission_dir / "submission" / f"{name}.py"
        if not path.is_file():
            raise MissingAPI(f"submission/{name}.py is missing")
        module = importlib.import_module(f"submission.{name}")
        return _APIModule(module, f"submission/{name}.py")

    # -- safe writers -------------------------------------------------------------------
    def _target(self, rel: str, suffixes: tuple[str, ...]) -> Path:
        rel_path = Path(rel)
        if rel_path.is_absolute() or ".." in rel_path.parts or not rel_path.parts:
            raise UnsafeArtifact(f"artifact path {rel!r} must be relative and stay inside the artifacts folder")
        if rel_path.suffix not in suffixes:
            raise UnsafeArtifact(f"artifact {rel!r} must end in {' or '.join(suffixes)}")
        path = self.out / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        self.written.append(rel_path.as_posix())
        return path

    def write_json(self, rel: str, data: Any) -> Path:
        """JSON made of plain built-in values (numpy/torch numbers and arrays are converted)."""
        path = self._target(rel, (".json",))
        text = json.dumps(_plain(data), ensure_ascii=False, allow_nan=True)
        path.write_text(text, encoding="utf-8")
        return path

    def write_text(self, rel: str, text: str) -> Path:
        """A text artifact that must itself be JSON (a Keras ``model.to_json()``)."""
        text = str(text)
        try:
            json.loads(text)
        except ValueError as err:
            raise UnsafeArtifact(f"{rel}: text artifacts must be JSON ({err})") from None
        path = self._target(rel, (".json",))
        path.write_text(text, encoding="utf-8")
        return path

    def write_npz(self, rel: str, **arrays: Any) -> Path:
        """An ``.npz`` of numeric/bool/string arrays; object arrays are refused (they need pickle)."""
        import numpy as np

        plain = {}
        for name, value in arrays.items():
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
            arr = np.asarray(value)
            if arr.dtype.hasobject:
                raise UnsafeArtifact(f"{rel}: array {name!r} has dtype object, which needs pickle; "
                                     f"convert it to a numeric array")
            plain[name] = np.array(arr, copy=True)
        path = self._target(rel, (".npz",))
        with open(path, "wb") as fh:
            np.savez(fh, **plain)
        return path

    def write_safetensors(self, rel: str, tensors: dict) -> Path:
        """Tensors (torch or numpy) as ``.safetensors``; copies break shared storage."""
        path = self._target(rel, (".safetensors",))
        values = list(tensors.values())
        if values and all(hasattr(v, "detach") for v in values):
            from safetensors.torch import save_file

            save_file({str(k): v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, str(path))
        else:
            import numpy as np
            from safetensors.numpy import save_file

            arrays = {}
            for k, v in tensors.items():
                if hasattr(v, "detach"):
                    v = v.detach().cpu().numpy()
                arr = np.ascontiguousarray(np.asarray(v))
                if arr.dtype.hasobject:
                    raise UnsafeArtifact(f"{rel}: tensor {k!r} has dtype object")
                arrays[str(k)] = arr
            save_file(arrays, str(path))
        return path


def finite_or_none(x: float) -> float | None:
    """``x`` as a float, or None when it is NaN/inf (JSON-friendly metrics)."""
    x = float(x)
    return x if math.isfinite(x) else None


def grader_root() -> Path:
    return Path(__file__).resolve().parents[2]


def in_sandbox() -> bool:
    return os.environ.get("MIZAN_SANDBOX") == "1" or "grader.run.step_main" in sys.modules
