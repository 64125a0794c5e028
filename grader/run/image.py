"""The step runner's image: the only part of Mizan a sandboxed step can import.

The sandbox is built from an allowlist (``grader.run.sandbox``): it binds this
folder read-only at ``/opt/mizan`` and nothing else of the repository. So
``grader.oracles``, ``grader.data``, ``grader.tasks``, ``grader.checks``,
``solutions/``, the tests and the build folder are not hidden from a step:
they are simply not there. The image holds the step runner, the registered
steps, what they need to load the profile's model, and nothing that knows an
answer.

Built once per content (a hash of the files) under ``<build>/cache/runner/``,
atomically, world-readable, so every sandboxed uid can read it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MOUNT_POINT = "/opt/mizan"

RUNNER_FILES = (
    "grader/__init__.py",
    "grader/errors.py",
    "grader/atomic.py",
    "grader/homework.py",
    "grader/profiles.py",
    "grader/models.py",
    "grader/run/__init__.py",
    "grader/run/step_api.py",
    "grader/run/step_main.py",
    "grader/run/steps/__init__.py",
    "grader/run/steps/nli_contract.py",
    "grader/run/steps/nli.py",
    "grader/run/steps/fraud.py",
)
"""Repository files a step may import (relative to the repository root)."""


def module_file(module: str) -> tuple[str, Path]:
    """``(relative path, source file)`` of an extra step module such as ``tests.mizan_demo.steps``."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ValueError(f"step module {module!r} is not a Python source file")
    return module.replace(".", "/") + ".py", Path(spec.origin)


def _image_files(extra_modules: tuple[str, ...]) -> dict[str, Path]:
    files = {rel: REPO / rel for rel in RUNNER_FILES}
    for module in extra_modules:
        rel, src = module_file(module)
        files[rel] = src
        parts = rel.split("/")[:-1]
        for depth in range(1, len(parts) + 1):      # parent packages: empty __init__.py, none of their code
            files.setdefault("/".join(parts[:depth]) + "/__init__.py", Path(os.devnull))
    return files


def build_runner_image(cache: Path, extra_modules: tuple[str, ...] = ()) -> Path:
    """The image folder for these step modules, built if absent; its name is the content's hash."""
    files = _image_files(tuple(extra_modules))
    h = hashlib.sha256()
    contents = {}
    for rel in sorted(files):
        data = files[rel].read_bytes()
        contents[rel] = data
        h.update(rel.encode() + b"\0" + data + b"\0")
    target = Path(cache) / "runner" / h.hexdigest()[:20]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o755)
    staging = Path(tempfile.mkdtemp(prefix=".image-", dir=target.parent))
    for rel, data in contents.items():
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, 0o644)
    for root, dirs, _ in os.walk(staging):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    os.chmod(staging, 0o755)
    try:
        os.rename(staging, target)
    except OSError:             # another grader built the same image meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return target
