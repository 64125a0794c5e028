"""The trusted side of the run phase: prepare inputs, run each step sandboxed, vet artifacts.

Per submission (docs/GRADING.md, steps 2-4): copy only the API modules into a
fresh run folder (nbgrader's *sanitize* before *execute*), make sure the
task inputs exist (cached per profile; held-back data root-only), then run
every registered step as its own sandboxed process writing into a private
staging folder. What a step leaves behind is moved into the artifacts folder
only if it is a regular file of an allowed type and size, and a manifest
records which step wrote it, so a check can insist on the right author.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import secrets
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from grader.atomic import write_json_atomic
from grader.homework import TASKS
from grader.paths import build_dir
from grader.profiles import LimitsConfig, Profile
from grader.run import schedule
from grader.run.intake import Sources, read_api_sources, write_run_dir
from grader.run.sandbox import (Binds, Limits, SandboxOutcome, gpu_devices, isolation, run_sandboxed, sandbox_env,
                                step_threads)
from grader.run.step_api import ALLOWED_SUFFIXES, REPORTED_STATUSES, StepSpec, all_steps

REPO = Path(__file__).resolve().parents[2]
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
MAX_STATUS_BYTES = 256 * 1024

Log = Callable[[str], None]
StepEvents = Callable[[str, "dict | None"], None]


def _nolog(msg: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# inputs


def task_module(task: str):
    """``grader.tasks.<task>`` or None while it does not exist."""
    name = f"grader.tasks.{task}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name in (name, "grader.tasks"):
            return None
        raise


def task_fingerprint(task: str, profile: Profile | None = None) -> str:
    """Hash of the code that generates a task's inputs, of the grading secret's tag and of the
    profile's values (a course configuration's sizes and paths): a change to any invalidates the cache."""
    import hashlib

    from grader.secret import secret_tag

    h = hashlib.sha256(secret_tag().encode())
    if profile is not None:
        h.update(profile.for_sandbox().fingerprint().encode())
    # The inputs cache holds oracle output too (the expected ADASYN values): the oracles are part of the key.
    for path in (REPO / "grader" / "tasks" / f"{task}.py", *sorted((REPO / "grader" / "data").glob("*.py")),
                 REPO / "grader" / "profiles.py", *sorted((REPO / "grader" / "oracles").glob("*.py")),
                 *sorted((REPO / "grader" / "tasks" / "expected").glob("*.json"))):
        h.update(path.read_bytes() if path.is_file() else b"<absent>")
    return h.hexdigest()


def inputs_key(profile: Profile) -> str:
    """The inputs cache's folder name: the profile's name, and a hash of its task values when a course
    configuration changed them (two courses' sizes never share a folder)."""
    from grader.profiles import PROFILES

    builtin = PROFILES.get(profile.name)
    same = builtin is not None and (builtin.nli, builtin.fraud) == (profile.nli, profile.fraud)
    return profile.name if same else f"{profile.name}-{profile.for_sandbox().fingerprint()[:12]}"


def prepare_task_inputs(profile: Profile, tasks: tuple[str, ...] | list[str], *, cache: Path | None = None,
                        log: Log = _nolog) -> tuple[Path, Path]:
    """``(inputs_dir, heldback_dir)`` for ``profile``, generated once and cached.

    The held-back folder is mode 0700 (root-only when grading as root): the sandboxed
    user cannot read it even where the mount namespace that hides it is unavailable.
    A lock file keeps parallel graders from preparing the same profile twice.
    """
    cache = cache or build_dir() / "cache"
    key = inputs_key(profile)
    inputs = cache / "inputs" / key
    heldback_root = cache / "heldback"
    heldback = heldback_root / key
    inputs.mkdir(parents=True, exist_ok=True)
    heldback.mkdir(parents=True, exist_ok=True)
    os.chmod(heldback_root, 0o700)
    os.chmod(heldback, 0o700)
    with open(cache / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for task in tasks:
            done = inputs / f".done-{task}"
            fingerprint = task_fingerprint(task, profile)
            if done.exists() and done.read_text().split()[:1] == [fingerprint]:
                continue
            module = task_module(task)
            if module is None:
                log(f"inputs: grader.tasks.{task} does not exist; its steps get no inputs")
                continue
            start = time.perf_counter()
            module.prepare_inputs(profile, inputs, heldback)
            done.write_text(f"{fingerprint} {time.time()}\n")
            log(f"inputs: prepared {task} for profile {profile.name} in {time.perf_counter() - start:.1f} s")
    readable_by_steps(inputs)
    return inputs, heldback


def readable_by_steps(folder: Path) -> None:
    """Folders 0755 and files 0644 below ``folder``: a step runs as a uid of its own and reads them read-only."""
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    os.chmod(folder, 0o755)


# ---------------------------------------------------------------------------------------------
# one step


RUN_ROOT = "/sandbox"           # where a step sees its folders under bubblewrap
WALL_BACKSTOP_FACTOR = LimitsConfig().wall_factor
"""The wall clock only catches sleepers: a step may take this many times its nominal time before it is
stopped (a busy machine slows a step, it must not fail it); the CPU budget is what a step may spend.
The default of ``LimitsConfig.wall_factor`` (grader/profiles.py), which a course may change."""
MAX_FILES_PER_STEP = 200


def step_limits(spec: StepSpec, profile: Profile, threads: int) -> Limits:
    """CPU-time budget: the step's nominal seconds on each of its threads; wall clock: a backstop.

    The knobs are the profile's ``limits`` (a course sets them in ``[limits]``): ``step_cpu_s[step id]``
    replaces a step's nominal seconds, ``wall_factor`` scales the backstop (``WALL_BACKSTOP_FACTOR``
    unless a course changes it), ``address_space_mb`` 0 lifts RLIMIT_AS (CUDA maps far more than it uses).
    """
    nominal = float(profile.limits.step_cpu_s.get(spec.id) or spec.timeout_for(profile))
    space = profile.limits.address_space_mb or None
    return Limits(wall_s=profile.limits.wall_factor * nominal + 60, cpu_s=nominal * max(1, threads) + 10,
                  address_space_mb=space, threads=threads)


def step_binds(image: Path, run_dir: Path, inputs: Path, staging: Path, cwd: Path, *, gpu: bool = False,
               model: Path | None = None) -> Binds:
    """The allowlist of one step: the runner image, the copied submission, the inputs and the profile's
    local model folder when it names one (read-only), its output and working folders (writable), and
    the GPUs when the profile uses them."""
    from grader.run.image import MOUNT_POINT

    extra = ((str(model), f"{RUN_ROOT}/model"),) if model is not None else ()
    return Binds(ro=((str(image), MOUNT_POINT), (str(run_dir), f"{RUN_ROOT}/run"), (str(inputs), f"{RUN_ROOT}/inputs"),
                     *extra),
                 rw=((str(staging), f"{RUN_ROOT}/out"),), workdir=(str(cwd), f"{RUN_ROOT}/work"),
                 devices=tuple(gpu_devices(visible=os.environ.get("CUDA_VISIBLE_DEVICES"))) if gpu else ())


def _read_status(path: Path, nonce: str | None = None) -> dict | None:
    """The step runner's own record, or None when absent, malformed or not signed with ``nonce``."""
    if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_STATUS_BYTES:
        return None
    from grader.results.safe_io import parse_json

    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):       # safe_io.ArtifactError (too deep, too large) is a ValueError
        return None
    if not isinstance(data, dict) or data.get("status") not in REPORTED_STATUSES:
        return None
    if nonce is not None and data.get("nonce") != nonce:
        return None
    clean = {}
    written = data.get("written")
    clean["written"] = [str(w)[:500] for w in written[:MAX_FILES_PER_STEP]] if isinstance(written, list) else []
    for key in ("status", "error_type", "message", "where", "traceback"):
        value = data.get(key)
        clean[key] = None if value is None else str(value)[:4000]
    try:
        clean["wall_s"] = float(data.get("wall_s") or 0.0)
    except (TypeError, ValueError):
        clean["wall_s"] = 0.0
    return clean


def collect_artifacts(staging: Path, art_dir: Path, step_id: str, manifest: dict, budget: list[int],
                      log: Log, max_files: int = MAX_FILES_PER_STEP, written: set[str] | None = None) -> None:
    """Move the step's regular files of allowed types and sizes into ``art_dir`` (root's, 0644);
    drop the rest: files its writers did not report (``written``), and everything past ``max_files``."""
    kept = 0
    dropped = 0
    for root, dirs, files in os.walk(staging, followlinks=False):
        for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = Path(root) / name
            rel = path.relative_to(staging).as_posix()
            if rel.startswith("steps/"):
                continue
            why = None
            if path.is_symlink() or not path.is_file():
                why = "not a regular file"
            elif path.suffix not in ALLOWED_SUFFIXES:
                why = f"type {path.suffix or '(none)'} is not allowed ({', '.join(ALLOWED_SUFFIXES)})"
            elif written is not None and rel not in written:
                why = "not written through the step's writers"
            elif kept >= max_files:
                why = f"more than {max_files} files from one step"
            else:
                size = path.stat().st_size
                if size > MAX_FILE_BYTES:
                    why = f"{size} bytes is over the {MAX_FILE_BYTES} byte cap"
                elif size > budget[0]:
                    why = "the submission's artifact budget is used up"
                else:
                    budget[0] -= size
            if why:
                dropped += 1
                if dropped <= 20:
                    log(f"artifact {rel} from {step_id} deleted: {why}")
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                continue
            target = art_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)       # a new file: root's, not the sandbox uid's
            path.unlink()
            os.chmod(target, 0o644)
            manifest[rel] = step_id
            kept += 1
    if dropped > 20:
        log(f"... and {dropped - 20} more artifact(s) from {step_id} deleted")


def run_step(spec: StepSpec, *, profile: Profile, run_dir: Path, inputs: Path, work_dir: Path,
             art_dir: Path, manifest: dict, budget: list[int], log_path: Path, log: Log, image: Path,
             level: str, level_notes: tuple[str, ...] = (), limits: Limits | None = None,
             seed: int = 0, threads: int | None = None) -> dict:
    """Run one step in the sandbox (twice when the first run was starved); return (and write) its status.

    ``threads``: its BLAS/OpenMP threads and the multiple of its CPU budget (default: ``step_threads()``,
    the CPUs shared among the submissions graded at once; the scheduler gives one per step)."""
    threads = threads or step_threads()
    lim = limits or step_limits(spec, profile, threads)
    for attempt in (1, 2):
        outcome, reported = _run_step_once(spec, profile=profile, run_dir=run_dir, inputs=inputs, work_dir=work_dir,
                                           log_path=log_path, image=image, level=level, lim=lim, seed=seed,
                                           threads=threads)
        if outcome.status != "overloaded" or attempt == 2:
            break
        log(f"step {spec.id}: the machine was overloaded ({outcome.cpu_s:.0f} s of CPU in {outcome.wall_s:.0f} s); "
            f"running it again")
    staging = work_dir / "steps" / spec.id / "out"
    status = _decide_status(spec.id, outcome, reported)
    written = set(status.pop("written", None) or [])
    with _COLLECT_LOCK:         # steps end side by side: one at a time spends the shared artifact budget
        collect_artifacts(staging, art_dir, spec.id, manifest, budget, log, written=written)
    status["sandbox"] = {"status": outcome.status, "returncode": outcome.returncode, "wall_s": outcome.wall_s,
                         "cpu_s": outcome.cpu_s, "cpu_budget_s": lim.effective_cpu_s(), "wall_backstop_s": lim.wall_s,
                         "peak_rss_mb": outcome.peak_rss_mb, "isolation": outcome.isolation,
                         "notes": [*level_notes, *outcome.notes]}
    write_json_atomic(art_dir / "steps" / f"{spec.id}.json", status)
    shutil.rmtree(work_dir / "steps" / spec.id, ignore_errors=True)
    detail = step_detail(status)
    detail = f" ({detail})" if detail else ""
    log(f"step {spec.id}: {status['status']}{detail} [cpu {outcome.cpu_s:.1f} s of {lim.effective_cpu_s():.0f}, "
        f"wall {outcome.wall_s:.1f} s, peak {outcome.peak_rss_mb:.0f} MiB, {outcome.isolation}]")
    return status


def step_detail(status: dict, width: int = 200) -> str:
    """What went wrong in one line: ``ValueError fraud.build_cnn (line 3): bad shape`` ("" for ok)."""
    if status.get("status") == "ok":
        return ""
    head = " ".join(x for x in (status.get("error_type"), status.get("where")) if x)
    return f"{head + ': ' if head else ''}{str(status.get('message') or '')[:width]}"


_COLLECT_LOCK = threading.Lock()


def append_log(part: Path, log_path: Path) -> None:
    """A step's own log, appended to the submission's in one piece (none when the step never started)."""
    if part.is_file():
        with open(part, "rb") as src, open(log_path, "ab") as dst:
            shutil.copyfileobj(src, dst)


def _run_step_once(spec: StepSpec, *, profile: Profile, run_dir: Path, inputs: Path, work_dir: Path,
                   log_path: Path, image: Path, level: str, lim: Limits, seed: int,
                   threads: int) -> tuple[SandboxOutcome, dict | None]:
    cwd = work_dir / "steps" / spec.id / "cwd"
    staging = work_dir / "steps" / spec.id / "out"
    for d in (cwd, staging):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        os.chmod(d, 0o755)
    os.chmod(work_dir / "steps", 0o755)
    os.chmod(work_dir / "steps" / spec.id, 0o755)
    model = _local_model(profile)
    binds = step_binds(image, run_dir, inputs, staging, cwd, gpu=profile.uses_gpu, model=model)
    inside = (lambda host: binds.inside(host, level))
    # The effective values travel as JSON (the sandbox never reads a course configuration), with a
    # local model folder renamed to where the step sees it.
    seen = profile.for_sandbox().to_dict()
    if model is not None:       # (a dict: the folder exists only inside, so no NLIConfig is built here)
        seen["nli"]["model"] = inside(model)
    argv = [sys.executable, "-I", "-B", inside(image / "grader" / "run" / "step_main.py"), "--step", spec.id,
            "--submission", inside(run_dir), "--inputs", inside(inputs), "--out", inside(staging),
            "--profile", profile.name, "--profile-json", json.dumps(seen, sort_keys=True),
            "--seed", str(seed), "--nonce-stdin"]
    for module in _image_modules(spec):
        argv += ["--import", module]
    with open(log_path, "a", encoding="utf-8") as fh:
        fh.write(f"\n===== step {spec.id} (CPU budget {lim.effective_cpu_s():g} s, wall backstop {lim.wall_s:g} s, "
                 f"{lim.threads} thread(s), isolation {level}) =====\n")
    nonce = secrets.token_hex(16)
    env = sandbox_env(inside(cwd), {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                                      "OPENBLAS_NUM_THREADS")})
    outcome = run_sandboxed(argv, cwd=cwd, env=env, limits=lim, log_path=log_path,
                            binds=binds, level=level, stdin_data=f"{nonce}\n".encode())
    return outcome, _read_status(staging / "steps" / f"{spec.id}.json", nonce)


def _local_model(profile: Profile) -> Path | None:
    """The profile's model folder when ``nli.model`` names one rather than a shipped model."""
    from grader.profiles import NLI_MODELS

    model = profile.nli.model
    return Path(model).resolve() if model not in NLI_MODELS and os.path.isdir(model) else None


def _image_modules(spec: StepSpec) -> tuple[str, ...]:
    """Step modules beyond the built-in ones that the runner must import (tests register their own)."""
    from grader.run.step_api import STEP_MODULES

    return () if spec.module in STEP_MODULES else (spec.module,)


def _decide_status(step_id: str, outcome: SandboxOutcome, reported: dict | None) -> dict:
    """The process's own record counts only when it ended normally (step_main exits 0)."""
    base = {"step": step_id, "error_type": None, "message": "", "where": "", "wall_s": outcome.wall_s}
    if outcome.status == "ok" and reported is not None:
        return {**base, **reported, "step": step_id}
    if outcome.status == "ok":
        return {**base, "status": "crashed",
                "message": "the step process exited without reporting (os._exit or sys.exit in the submission?)"}
    if outcome.status == "error":
        return {**base, "status": "crashed",
                "message": f"the step process exited with code {outcome.returncode} (os._exit in the submission?)"}
    note = "; ".join(n for n in outcome.notes if any(w in n for w in ("limit", "flood", "killed", "signal",
                                                                       "start", "backstop")))
    return {**base, "status": outcome.status, "message": note or outcome.status}


# ---------------------------------------------------------------------------------------------
# the whole run phase


def select_steps(*, visible_only: bool = False, tasks: tuple[str, ...] | list[str] | None = None,
                 step_modules: tuple[str, ...] = ()) -> list[StepSpec]:
    steps = all_steps(step_modules, tasks)
    return [s for s in steps if s.visible or not visible_only]


def run_submission(sub_dir: Path | str, profile: Profile, work_dir: Path | str, artifacts_dir: Path | str, *,
                   visible_only: bool = False, tasks: tuple[str, ...] | list[str] | None = None,
                   log: Log = _nolog, log_path: Path | str | None = None, step_modules: tuple[str, ...] = (),
                   inputs: tuple[Path, Path] | None = None, limits: Limits | None = None,
                   sources: Sources | None = None, allow_unsandboxed: bool = False,
                   width: int | None = None, on_step: StepEvents | None = None) -> dict:
    """Run every selected step of ``sub_dir`` sandboxed; return ``{step_id: status}`` in registration order.

    ``artifacts_dir`` receives the vetted artifacts, ``steps/<id>.json`` and ``manifest.json``.
    ``sources`` are the API modules already read (and hashed) by the caller; ``inputs``
    overrides ``(inputs_dir, heldback_dir)`` (tests); ``limits`` overrides every step's.
    Steps run side by side, one CPU each (``grader.run.schedule``); ``width`` caps how many at once
    (1: one after another with every thread, the GPU profile's way; default: one per free CPU).
    ``on_step(step_id, None)`` is called as a step starts and ``on_step(step_id, status)`` as it ends.
    The submission's CPU budget is ``profile.timeout_s`` on each of its threads.
    """
    sub_dir, work_dir, art_dir = Path(sub_dir), Path(work_dir), Path(artifacts_dir)
    tasks = tuple(tasks) if tasks else TASKS
    steps = select_steps(visible_only=visible_only, tasks=tasks, step_modules=step_modules)
    level, level_notes = isolation(allow_unsandboxed)
    for note in level_notes:
        log(f"sandbox: {note}")
    work_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(work_dir, 0o755)
    if art_dir.exists():
        shutil.rmtree(art_dir)
    art_dir.mkdir(parents=True)
    log_path = Path(log_path) if log_path else work_dir / "run.log"
    run_dir = work_dir / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    sources = sources if sources is not None else read_api_sources(sub_dir)
    copied = write_run_dir(sources, run_dir)
    log(f"copied {', '.join(copied) or 'no API module'} from {sub_dir / 'submission'}")
    for name, why in sources.refused.items():
        log(f"not copied: submission/{name} is {why}")
    if inputs is None:
        needed = tuple(dict.fromkeys(s.task for s in steps if s.task in TASKS))
        inputs = prepare_task_inputs(profile, needed, log=log)
    inputs_dir, _heldback = inputs
    from grader.run.image import build_runner_image

    image = build_runner_image(build_dir() / "cache", tuple(dict.fromkeys(m for s in steps for m in _image_modules(s))))
    log(f"sandbox: isolation {level}; a step sees {image.name} (the step runner), the copied submission and the "
        f"inputs, read-only, and writes only its own output folder")
    manifest: dict[str, str] = {}
    budget = [MAX_TOTAL_BYTES]
    width = schedule.step_width(profile.uses_gpu, width)
    serial_threads = step_threads()
    threads_in_all = serial_threads if width == 1 else width
    cpu_left = [profile.timeout_s * threads_in_all]
    lock = threading.Lock()
    events = on_step or (lambda step_id, status: None)
    specs = {s.id: s for s in steps}
    step_logs = work_dir / "logs"       # the trusted side's: no run uid reads another step's output here
    step_logs.mkdir(mode=0o700, exist_ok=True)

    def run_one(step_id: str, placement: schedule.Placement) -> dict:
        spec = specs[step_id]
        events(step_id, None)
        with lock:
            exhausted = cpu_left[0] <= 0 and limits is None
        if exhausted:
            status = {"step": spec.id, "status": "timeout", "error_type": None, "where": "", "wall_s": 0.0,
                      "message": f"the submission's total CPU budget ({profile.timeout_s} s on each of "
                                 f"{threads_in_all} thread(s)) ran out before this step"}
            write_json_atomic(art_dir / "steps" / f"{spec.id}.json", status)
            log(f"step {spec.id}: timeout (total CPU budget used up)")
        else:
            if placement.cpu is not None:
                log(f"step {spec.id}: started on CPU {placement.cpu}")
            own_log = step_logs / f"{spec.id}.log"     # side by side, each step's output stays in one piece
            status = run_step(spec, profile=profile, run_dir=run_dir, inputs=inputs_dir, work_dir=work_dir,
                              art_dir=art_dir, manifest=manifest, budget=budget, log_path=own_log, log=log,
                              image=image, level=level, level_notes=level_notes, limits=limits,
                              threads=placement.threads)
            with lock:
                cpu_left[0] -= float(status["sandbox"]["cpu_s"])
                append_log(own_log, log_path)
        events(step_id, status)
        return status

    cache = build_dir() / "cache"
    order = [s.id for s in steps]
    if width > 1:
        order = schedule.start_order(order, schedule.expected_costs(cache, profile.name),
                                     {s.id: s.timeout_for(profile) for s in steps})
    done = schedule.run_side_by_side(order, run_one, width=width, serial_threads=serial_threads)
    statuses = {s.id: done[s.id] for s in steps}
    if limits is None:
        schedule.record_costs(cache, profile.name, statuses)
    write_json_atomic(art_dir / "manifest.json", manifest, sort_keys=True)
    return statuses

