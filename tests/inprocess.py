"""Honest gallery entries graded in this test process: their steps and their check phase, no process started.

Why: a sandboxed step pays about 8 s importing torch and peft (9 s for Keras) and a check process
about 20 s importing torch, transformers and TensorFlow, while the work that decides an honest
entry's verdict takes a second or two. The entries of ``tests/submissions/{nli,fraud}_*`` are our
own code, written to exhibit one mistake each, so they may run where the tests run. What decides
a grade is the same code either way: the registered step functions, the step runner's own record of
how a step ended (:func:`grader.run.step_main.failure_record`), and the check phase's pytest plugin
with the arguments the launcher gives it (:func:`grader.checks.plugin.check_argv`). The sandboxed
path stays tested end to end by the hostile entries, the sandbox tests and each gallery's base entry.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

from tests.gallery_support import GALLERY


@contextlib.contextmanager
def _submission_importable(entry: Path):
    """``import submission.<name>`` finds ``entry/submission`` for the ``with`` block, freshly imported."""
    def forget() -> None:
        for name in [m for m in sys.modules if m == "submission" or m.startswith("submission.")]:
            del sys.modules[name]

    forget()
    sys.path.insert(0, str(entry))
    try:
        yield
    finally:
        sys.path.remove(str(entry))
        forget()


def _fresh_frameworks() -> None:
    """What one step leaves in a framework's global state is not the next one's starting point."""
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()


def run_step_in_process(spec, entry: Path, inputs: Path, out: Path, profile, seed: int = 0) -> dict:
    """Run one registered step on ``entry``'s submission here; write ``out/steps/<id>.json`` as the step
    runner would (without the sandbox's measurements) and return that record plus ``written``."""
    from grader.run.step_api import StepContext
    from grader.run.step_main import failure_record

    record = {"step": spec.id, "status": "ok", "error_type": None, "message": "", "where": "", "wall_s": 0.0}
    ctx = StepContext(inputs=inputs, out=out, profile=profile, seed=seed, submission_dir=entry, step_id=spec.id)
    start = time.perf_counter()
    _fresh_frameworks()
    with _submission_importable(entry), contextlib.redirect_stdout(io.StringIO()):
        try:
            spec.func(ctx)
        except BaseException as err:  # noqa: BLE001 - as the step runner: SystemExit is the entry's too
            record.update(failure_record(err, entry))
    record["wall_s"] = round(time.perf_counter() - start, 3)
    (out / "steps").mkdir(parents=True, exist_ok=True)
    (out / "steps" / f"{spec.id}.json").write_text(json.dumps(record, default=str), encoding="utf-8")
    return {**record, "written": list(ctx.written)}


def run_steps_in_process(name: str, task: str, selected: list[str], inputs: tuple[Path, Path], root: Path,
                         profile_name: str) -> tuple[Path, dict, dict]:
    """:func:`tests.gallery_support.run_steps` in this process: ``(artifacts, manifest, wall s per step)``."""
    from grader.profiles import get_profile
    from grader.run.step_api import all_steps

    profile = get_profile(profile_name)
    specs = {s.id: s for s in all_steps(tasks=(task,))}
    if task == "nli":           # one thread, as a sandboxed step beside another: two test workers share 2 cores
        import torch

        torch.set_num_threads(1)
    art = root / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, str] = {}
    walls = {}
    for step_id in selected:
        record = run_step_in_process(specs[step_id], GALLERY / name, inputs[0], art, profile)
        manifest.update({rel: step_id for rel in record["written"]})
        walls[step_id] = record["wall_s"]
    return art, manifest, walls


def run_checks_in_process(artifacts: Path, heldback: Path, profile_name: str, results_out: Path, *,
                          tasks: tuple[str, ...]) -> dict | None:
    """The check phase as the launcher runs it, as a pytest session inside this one; its results file."""
    import pytest

    from grader.checks.plugin import check_argv

    results_out.unlink(missing_ok=True)
    argv = check_argv(artifacts, heldback, profile_name, results_out, tasks=tasks)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = pytest.main(argv)
    if not results_out.is_file():
        raise AssertionError(f"the in-process check phase wrote no results (exit {code}):\n"
                             f"{printed.getvalue()[-3000:]}")
    return json.loads(results_out.read_text(encoding="utf-8"))
