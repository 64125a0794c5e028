"""Run a submission through the homework's experiments, sandboxed, and write the results JSON.

The trusted side of ``grader experiments``: the submission's API modules are
copied (as for grading), the inputs written (:mod:`grader.experiments.inputs`),
and each part (an NLI mode, a fraud arm) runs as its own sandboxed step
through the same runner as grading (:func:`grader.run.orchestrate.run_step`),
from an *experiments image*: the step runner's image plus
``grader/experiments/{nli,fraud,progress}.py``, and nothing of the checks,
tasks, oracles, data generators or held-back data. A part that fails (not
implemented, an exception, a timeout) is reported and the others go on.

The results feed the report only, never a score.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from grader.experiments import fraud as fraud_part
from grader.experiments import nli as nli_part
from grader.experiments import results as R
from grader.experiments.progress import PROGRESS_FILE, ProgressTail
from grader.atomic import write_json_atomic
from grader.run import schedule
from grader.run.orchestrate import TASKS

IMAGE_MODULES = ("grader.experiments.nli", "grader.experiments.fraud", "grader.experiments.progress")
"""Modules added to the step runner's image for the experiments (their parent package comes empty)."""
RESULT_FILES = {"nli": tuple(f"nli_{m}.json" for m in nli_part.MODES), "fraud": ("fraud.json",)}
MANIFEST = "experiments.json"


@dataclass
class PartOutcome:
    """How one part ended: ``status`` ok | not implemented | missing | error | timeout | killed | crashed |
    overloaded | bad results; ``message`` says what went wrong and where."""

    id: str
    label: str
    status: str
    message: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0


@dataclass
class ExperimentsOutcome:
    out_dir: Path
    parts: list[PartOutcome] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    isolation: str = ""

    @property
    def ok(self) -> bool:
        return all(p.status == "ok" for p in self.parts)


def parts_for(tasks: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """``(step id, task, label)`` of each part of ``tasks``, in the order they run."""
    plan = []
    if "nli" in tasks:
        plan += [(nli_part.step_id(m), "nli", f"nli {m}") for m in nli_part.MODES]
    if "fraud" in tasks:
        plan += [(fraud_part.step_id(a), "fraud", f"fraud {a}") for a in fraud_part.ARMS]
    return plan


def describe_failure(status: dict, calls: tuple[str, ...]) -> tuple[str, str]:
    """``(status, message)`` of a part that did not end ``ok``, naming the submission's file and function."""
    from grader.run.step_api import describe_calls

    kind, where, message = status.get("status"), status.get("where") or "", status.get("message") or ""
    place = describe_calls(calls)
    if where.startswith("submission/"):         # the module's top level: "submission/nli.py (line 3)"
        place = where
    elif where:                                 # "fraud.build_cnn (line 25)"
        module, _, rest = where.partition(".")
        place = f"submission/{module}.py: {rest}" if rest else where
    if kind == "error" and status.get("error_type") == "NotImplementedError":
        return "not implemented", f"not implemented: {place}" + (f" ({message[:200]})" if message else "")
    if kind == "missing":
        return "missing", message[:300]
    detail = " ".join(x for x in (status.get("error_type"), f"in {place}" if place else "") if x)
    return str(kind), f"{detail}: {message[:300]}" if detail else message[:300]


def run_experiments(sub_dir: Path | str, profile, out_dir: Path | str, *, tasks: tuple[str, ...] = (),
                    allow_unsandboxed: bool = False, say: Callable[[str], None] = print) -> ExperimentsOutcome:
    """Run every part of ``tasks`` (default: both) on ``sub_dir`` and write the results into ``out_dir``."""
    from grader.batch import _logger, submission_id, validate_submission
    from grader.run.orchestrate import build_dir
    from grader.run.sandbox import isolation

    sub_dir = validate_submission(sub_dir)
    tasks = tuple(tasks) or TASKS
    out_dir = Path(out_dir)
    level, level_notes = isolation(allow_unsandboxed)       # no sandbox, not allowed: stop before any work
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "run.log"
    log_path.write_text(f"Mizan experiments of {sub_dir}, profile {profile.name}, tasks {', '.join(tasks)}, "
                        f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\n", encoding="utf-8")
    log = _logger(log_path)
    for note in level_notes:
        log(f"sandbox: {note}")
        if "UNSANDBOXED" in note or "REDUCED" in note:
            say(f"sandbox: {note}")
    outcome = ExperimentsOutcome(out_dir, isolation=level)
    work = build_dir() / "work" / f"experiments-{submission_id(sub_dir)}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.chmod(work, 0o755)
    try:
        kept, digest, image = _prepare(work, sub_dir, profile, tasks, say, log)
        plan = parts_for(tasks)
        run = dict(profile=profile, run_dir=work / "run", inputs=work / "inputs", work_dir=work,
                   art_dir=work / "artifacts", manifest={}, budget=[2 * 1024**3], log_path=log_path, log=log,
                   image=image, level=level, level_notes=level_notes)
        outcome.parts.extend(_run_parts(plan, run, profile, work, say))
        _write_results(outcome, work / "artifacts", profile, tasks, kept, say)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_json_atomic(out_dir / MANIFEST, {
        "submission": submission_id(sub_dir), "source": str(sub_dir), "sources_sha256": digest,
        "profile": profile.name, "tasks": list(tasks), "isolation": level, "sandboxed": level != "none",
        "parts": {p.label: {"status": p.status, "message": p.message, "wall_s": p.wall_s, "cpu_s": p.cpu_s}
                  for p in outcome.parts},
        "written": outcome.written, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return outcome


def _prepare(work: Path, sub_dir: Path, profile, tasks, say, log) -> tuple[dict, str, Path]:
    """Inputs, the copied API modules and the experiments image; ``(kept for the trusted side, sources'
    sha256, image)``."""
    from grader.experiments.inputs import write_inputs
    from grader.run.image import build_runner_image
    from grader.run.intake import read_api_sources, write_run_dir
    from grader.run.orchestrate import build_dir

    t = time.perf_counter()
    say(f"inputs: loading the {' and '.join(tasks)} data of profile {profile.name}")
    kept = write_inputs(profile, tasks, work / "inputs")
    say(f"inputs: ready in {time.perf_counter() - t:.1f} s")
    sources = read_api_sources(sub_dir)
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + data + b"\0"
                                     for name, data in sorted(sources.files.items()))).hexdigest()
    copied = write_run_dir(sources, work / "run")
    log(f"copied {', '.join(copied) or 'no API module'} from {sub_dir / 'submission'}")
    image = build_runner_image(build_dir() / "cache", IMAGE_MODULES)
    log(f"sandbox: a part sees {image.name} (the step runner and the experiments), the copied submission "
        f"and the inputs, read-only")
    (work / "artifacts").mkdir()
    return kept, digest, image


def _run_parts(plan: list, run: dict, profile, work: Path, say: Callable[[str], None]) -> list[PartOutcome]:
    """Every part, side by side on a CPU each as a grade's steps run (``grader.run.schedule``), in plan order;
    each part's output goes to a log of its own, appended to run.log when it ends."""
    from grader.run.orchestrate import append_log
    from grader.run.sandbox import step_threads

    number = {sid: i for i, (sid, _task, _label) in enumerate(plan, start=1)}
    labels = {sid: label for sid, _task, label in plan}
    (work / "logs").mkdir(mode=0o700, exist_ok=True)
    lock = threading.Lock()

    def one(sid: str, placement: schedule.Placement) -> PartOutcome:
        head = f"[{number[sid]}/{len(plan)}] {labels[sid]}"
        say(f"{head}: started")
        own = {**run, "log_path": work / "logs" / f"{sid}.log", "threads": placement.threads}
        part = _run_part(sid, labels[sid], own, lambda line: say(f"    {line}"))
        with lock:
            append_log(own["log_path"], run["log_path"])
        say(f"{head}: {part.message or part.status} ({part.wall_s:.0f} s)")
        return part

    done = schedule.run_side_by_side([sid for sid, _task, _label in plan], one,
                                     width=schedule.step_width(profile.uses_gpu), serial_threads=step_threads())
    return [done[sid] for sid, _task, _label in plan]


def _run_part(sid: str, label: str, run: dict, show: Callable[[str], None]) -> PartOutcome:
    """One part as a sandboxed step (:func:`grader.run.orchestrate.run_step`), its progress shown live."""
    from grader.run.orchestrate import run_step
    from grader.run.step_api import get_step

    spec = get_step(sid)
    out = run["work_dir"] / "steps" / sid / "out"
    with ProgressTail(out / PROGRESS_FILE, show, root=out):
        status = run_step(spec, **run)
    box = status.get("sandbox") or {}
    part = PartOutcome(sid, label, "ok", wall_s=float(box.get("wall_s") or 0.0), cpu_s=float(box.get("cpu_s") or 0.0))
    if status.get("status") != "ok":
        part.status, part.message = describe_failure(status, spec.calls)
    return part


def _write_results(outcome: ExperimentsOutcome, art: Path, profile, tasks, kept: dict, say) -> None:
    """Turn the parts' artifacts into the results JSON; a part whose results are unusable is marked so."""
    by_label = {p.label: p for p in outcome.parts}
    for task in tasks:
        for name in RESULT_FILES[task]:     # no stale results of an earlier run beside this one's
            (outcome.out_dir / name).unlink(missing_ok=True)

    def bad(part: PartOutcome, err: Exception) -> None:
        part.status, part.message = "bad results", str(err)
        say(f"{part.label}: its results cannot be used: {err}")

    if "nli" in tasks:
        for mode in nli_part.MODES:
            part = by_label[f"nli {mode}"]
            if part.status != "ok":
                continue
            try:
                result = R.nli_result(art, profile, mode, kept["nli_labels"])
            except R.PartResultError as err:
                bad(part, err)
                continue
            write_json_atomic(outcome.out_dir / f"nli_{mode}.json", result)
            outcome.written.append(f"nli_{mode}.json")
    if "fraud" in tasks:
        arms, errors = {}, {}
        for arm in fraud_part.ARMS:
            part = by_label[f"fraud {arm}"]
            if part.status == "ok":
                try:
                    arms[arm] = R.fraud_arm(art, arm)
                except R.PartResultError as err:
                    bad(part, err)
            if part.status != "ok":
                errors[arm] = part.message or part.status
        result = R.fraud_result(profile, arms, errors)
        if result is not None:
            write_json_atomic(outcome.out_dir / "fraud.json", result)
            outcome.written.append("fraud.json")
