"""What the two gallery tests share: which steps an entry's code changes, and running steps sandboxed.

Every gallery entry is a copy of its task's correct base with one change, so
only the steps whose code differs from the base's are run for it: the code a
step calls is compared with the base's, top-level definition by definition
(imports and other statements compared as one block, helpers no step claims
counted for every step).
"""

from __future__ import annotations

import ast
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GALLERY = REPO / "tests" / "submissions"

StepDeps = dict[str, tuple[str, tuple[str, ...]]]
"""step id -> (module of submission/, top-level names of it the step calls)"""


def top_level_sources(path: Path) -> dict[str, str]:
    """Source of each top-level def/class by name; every other statement (imports...) under ``""``."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    out: dict[str, str] = {"": ""}
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue                                        # the module docstring names the fault
        src = ast.get_source_segment(text, node) or ""
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = src
        else:
            out[""] += src + "\n"
    return out


def steps_to_run(name: str, base: str, step_deps: StepDeps) -> list[str]:
    """Steps whose code (their functions, unclaimed helpers, imports) differs from ``base``'s; all for the base."""
    if name == base:
        return list(step_deps)
    run = []
    for step_id, (module, names) in step_deps.items():
        mine = top_level_sources(GALLERY / name / "submission" / f"{module}.py")
        theirs = top_level_sources(GALLERY / base / "submission" / f"{module}.py")
        claimed = {n for m, ns in step_deps.values() if m == module for n in ns}
        helpers = (set(mine) | set(theirs)) - claimed
        if any(mine.get(n) != theirs.get(n) for n in (*names, *helpers)):
            run.append(step_id)
    return run


def sandbox_dir(prefix: str) -> Path:
    """A temp folder the sandbox's unprivileged user can reach (pytest's tmp_path is under a 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    return path


def run_steps(name: str, task: str, selected: list[str], inputs: tuple[Path, Path], root: Path,
              profile_name: str) -> tuple[Path, dict, dict]:
    """Run ``selected`` steps of gallery entry ``name`` sandboxed into ``root/artifacts``.

    Returns (artifacts folder, manifest of who wrote what, wall seconds per step);
    the run log is ``root/work/run.log``.
    """
    from grader.profiles import get_profile
    from grader.run.image import build_runner_image
    from grader.run.intake import copy_api_modules
    from grader.run.orchestrate import build_dir, run_step
    from grader.run.sandbox import isolation
    from grader.run.step_api import all_steps

    profile = get_profile(profile_name)
    inputs_dir, heldback = inputs
    specs = {s.id: s for s in all_steps(tasks=(task,))}
    work, art = root / "work", root / "artifacts"
    work.mkdir(exist_ok=True)
    art.mkdir(exist_ok=True)
    copy_api_modules(GALLERY / name, work / "run")
    level, notes = isolation()
    image = build_runner_image(build_dir() / "cache")
    manifest: dict[str, str] = {}
    walls = {}
    for step_id in selected:
        status = run_step(specs[step_id], profile=profile, run_dir=work / "run", inputs=inputs_dir,
                          work_dir=work, art_dir=art, manifest=manifest, budget=[2 ** 31],
                          log_path=work / "run.log", log=lambda m: None, image=image, level=level, level_notes=notes)
        walls[step_id] = float(status.get("sandbox", {}).get("wall_s") or status.get("wall_s") or 0.0)
    return art, manifest, walls
