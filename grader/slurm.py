"""Grade a folder of submissions as one Slurm job array (``grade --executor slurm``).

Each array task runs the same one-submission grade as a local batch
(:func:`grader.batch.grade_submission`: both phases, sandbox included) on a
compute node; this process only decides *what* to submit, waits, and writes the
gradebook. What needs grading is decided by the content-hash resume of the
local batch (:func:`grader.batch.final_grade`), so a second identical call
submits nothing, and a task that ended without a final grade is reported with
its Slurm state and log and submitted again by the next call.

Plain ``sbatch --array --parsable`` with a generated script, not submitit:
submitit ships a pickled callable to the node and the submitting process
unpickles each task's pickled result, while here the trusted side reads only
JSON (``grade.json``) and the task is a readable shell script a TA can rerun by
hand. States come from ``squeue --json`` while Slurm remembers a job and from
``sacct --json`` after that (where the cluster keeps accounting).

State lives in ``<out>/slurm/``: ``jobs.json`` (every job submitted for this
folder, with its tasks' submission ids and content hashes), each job's script
and manifest, and ``logs/<job>_<task>.log``. Ctrl-C leaves the jobs running; the
same command later finds them in ``jobs.json`` and waits for them instead of
submitting again. The outputs land in ``<out>/<id>/``, so ``--out`` (and
``MIZAN_BUILD`` for the shared input cache) must be on a filesystem the compute
nodes share.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from grader import batch
from grader.errors import MizanError
from grader.paths import BUILD_ENV, build_dir
from grader.profiles import Profile, get_profile

STATE_DIR = "slurm"
JOBS_FILE = "jobs.json"
ACTIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
          "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED")
"""Slurm job states in which a task may still write its grade."""
GRADER_MB = 2048
"""Memory of the grading process itself beside its biggest child (a step or the check phase)."""
GPU_MEM_MB = 65536
"""Memory asked for a GPU profile, whose steps run without an address-space limit (CUDA)."""
SLURM_TIMEOUT_S = 120
MISSING_POLLS = 3
"""A task Slurm does not list is taken as ended only after this many polls in a row (or once its grade
is there), so one incomplete answer of a busy controller never ends the wait early."""


class SlurmError(MizanError):
    """Slurm refused a command or is not installed here."""


class SlurmWaitTimeout(MizanError):
    """The wait ended before every task did; the jobs keep running and the next call collects them."""


@dataclass(frozen=True)
class SlurmOptions:
    """Where and how big the tasks are: ``--partition/--account/--qos`` or the course's ``[slurm]``.

    ``cpus_per_task``, ``mem_mb`` and ``time_min`` replace the profile's defaults (:func:`resources`).
    """

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    cpus_per_task: int | None = None
    mem_mb: int | None = None
    time_min: int | None = None
    poll_s: float = 10.0
    wait_timeout_s: float | None = None      # None: wait until every task ended (Ctrl-C to stop waiting)


@dataclass(frozen=True)
class Resources:
    cpus: int
    mem_mb: int
    time_min: int
    gpus: int = 0

    def directives(self) -> list[str]:
        out = [f"--cpus-per-task={self.cpus}", f"--mem={self.mem_mb}M", f"--time={self.time_min}"]
        return out + ([f"--gres=gpu:{self.gpus}"] if self.gpus else [])


def _course_settings(args) -> tuple[str | None, dict]:
    from grader.config import load_executor

    return load_executor(getattr(args, "config", None), getattr(args, "set", None) or ())


def executor_of(args) -> str:
    """``--executor``, else the course configuration's ``executor``, else ``local``."""
    return getattr(args, "executor", None) or _course_settings(args)[0] or "local"


def options_of(args) -> SlurmOptions:
    """``--partition/--account/--qos`` over the course configuration's ``[slurm]`` table."""
    table = _course_settings(args)[1]
    given = {k: getattr(args, k, None) for k in ("partition", "account", "qos")}
    return SlurmOptions(**{**table, **{k: v for k, v in given.items() if v}})


def resources(profile: Profile, options: SlurmOptions = SlurmOptions()) -> Resources:
    """One task's request, from the profile's limits.

    Memory: the biggest child of a grade (a step under ``limits.address_space_mb``, or the check
    phase under ``Profile.checks_memory_mb``) plus the grader itself; a GPU profile has no address-space limit and
    asks ``GPU_MEM_MB``. Time: the run phase's CPU budget is ``timeout_s`` on each allocated CPU, so a
    busy submission ends within ``timeout_s`` of wall clock; twice that, plus the summary/feedback
    bound and ten minutes for inputs and checks, so Slurm never stops a grade the local batch would
    finish. CPUs: 4 (8 with a GPU); the step budget scales with them, so the grade does not.
    """
    gpu = profile.uses_gpu
    space = profile.limits.address_space_mb
    mem = GPU_MEM_MB if gpu or not space else max(space, profile.checks_memory_mb) + GRADER_MB
    minutes = math.ceil((2 * profile.timeout_s + batch.POST_PHASE_TIMEOUT_S + 600) / 60)
    return Resources(cpus=options.cpus_per_task or (8 if gpu else 4), mem_mb=options.mem_mb or mem,
                     time_min=options.time_min or minutes, gpus=1 if gpu else 0)


# ---------------------------------------------------------------------------------------------
# talking to Slurm


def _slurm(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
    if shutil.which(argv[0]) is None:
        raise SlurmError(f"{argv[0]} is not on PATH: --executor slurm runs where the Slurm client works "
                         f"(a cluster's login node); without it, grade here with --jobs N")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=SLURM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{' '.join(argv[:2])} did not answer within {SLURM_TIMEOUT_S} s (a busy controller?)") from None
    if check and proc.returncode != 0:
        raise SlurmError(f"{' '.join(argv[:2])} failed (exit {proc.returncode}): "
                         f"{(proc.stderr or proc.stdout).strip()[-600:]}\n(fix what Slurm says above, e.g. the "
                         f"partition, account or QOS, or grade on this machine without --executor slurm)")
    return proc


def _number(value) -> int | None:
    """An integer field of Slurm's JSON: a bare number (22.05) or ``{"set", "number"}`` (23.02 on)."""
    if isinstance(value, dict):
        return int(value["number"]) if value.get("set", True) and value.get("number") is not None else None
    return int(value) if isinstance(value, (int, float)) else None


def _state(value) -> str:
    """A job state: a string (22.05) or a list of flags whose first is the state (23.02 on)."""
    if isinstance(value, dict):
        value = value.get("current")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "UNKNOWN")


def expand_array(spec: str) -> list[int]:
    """``"0-3,7,9-13:2%4"`` -> ``[0, 1, 2, 3, 7, 9, 11, 13]`` (a pending array's remaining tasks)."""
    out: list[int] = []
    for part in spec.split("%")[0].split(","):
        m = re.fullmatch(r"\s*(\d+)(?:-(\d+)(?::(\d+))?)?\s*", part)
        if m:
            lo, hi, step = int(m.group(1)), int(m.group(2) or m.group(1)), int(m.group(3) or 1)
            out.extend(range(lo, hi + 1, step))
    return out


def task_states(job_id: str) -> dict[int, tuple[str, str]]:
    """``{task index: (state, reason)}`` of one array job, as far as Slurm remembers it (``squeue``, then
    ``sacct``); an empty dict when neither knows the job any more; :class:`SlurmError` when
    ``squeue`` itself fails, since then nothing can be concluded."""
    found: dict[int, str] = {}
    proc = _slurm(["squeue", "--json", "--states=all", f"--jobs={job_id}"], check=False)
    said = (proc.stderr or proc.stdout).strip()
    try:
        jobs = json.loads(proc.stdout).get("jobs", []) if proc.returncode == 0 else None
    except ValueError:
        jobs = None
    if jobs is None and "invalid job id" in said.lower():
        jobs = []                         # some versions answer a forgotten job id with an error
    if jobs is None:                      # a busy or restarting controller: nothing can be concluded
        raise SlurmError(f"squeue could not list job {job_id} (exit {proc.returncode}): {said[-400:]}")
    for job in jobs:
        if str(_number(job.get("array_job_id"))) != str(job_id):
            continue
        state = (_state(job.get("job_state")), str(job.get("state_reason") or ""))
        index = _number(job.get("array_task_id"))
        for i in [index] if index is not None else expand_array(str(job.get("array_task_string") or "")):
            found[i] = state
    if found or shutil.which("sacct") is None:
        return found
    proc = _slurm(["sacct", "--json", f"--jobs={job_id}"], check=False)
    if proc.returncode == 0:              # no accounting: "Slurm accounting storage is disabled", exit 1
        try:
            jobs = json.loads(proc.stdout).get("jobs", [])
        except ValueError:
            jobs = []
        for job in jobs:
            array = job.get("array") or {}
            if str(_number(array.get("job_id"))) == str(job_id) and _number(array.get("task_id")) is not None:
                found[_number(array.get("task_id"))] = (_state(job.get("state")),
                                                        str((job.get("state") or {}).get("reason") or ""))
    return found


# ---------------------------------------------------------------------------------------------
# state of one output folder


def state_dir(out_root: Path) -> Path:
    return Path(out_root) / STATE_DIR


def load_jobs(out_root: Path) -> list[dict]:
    """Every job submitted for ``out_root``: ``{"job_id", "script", "tasks": [{"index", "id", "hash"}],
    "ended"}``; a job is marked ended once none of its tasks can still write a grade."""
    try:
        return json.loads((state_dir(out_root) / JOBS_FILE).read_text(encoding="utf-8")).get("jobs", [])
    except (OSError, ValueError):
        return []


def _save_jobs(out_root: Path, jobs: list[dict]) -> None:
    from grader.results.gradescope import write_json_atomic

    write_json_atomic(state_dir(out_root) / JOBS_FILE, {"jobs": jobs})


def log_path(out_root: Path, job_id: str, index: int) -> Path:
    return state_dir(out_root) / "logs" / f"{job_id}_{index}.log"


def write_job(out_root: Path, subs: list[Path], profile: Profile, res: Resources, options: SlurmOptions, *,
              tasks: tuple[str, ...], force: bool, allow_unsandboxed: bool) -> Path:
    """The job's manifest (what each task grades, the effective profile as JSON) and its sbatch script."""
    from grader.results.gradescope import write_json_atomic

    folder = state_dir(out_root)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    manifest = folder / f"grade-{stamp}.json"
    write_json_atomic(manifest, {"out": str(out_root), "submissions": [str(s) for s in subs],
                                 "profile": profile.to_dict(), "tasks": list(tasks), "force": force,
                                 "allow_unsandboxed": allow_unsandboxed, "build": str(build_dir())})
    directives = [f"--job-name=mizan-{profile.name}", f"--array=0-{len(subs) - 1}", *res.directives(),
                  f"--output={folder / 'logs' / '%A_%a.log'}", f"--chdir={batch.REPO}"]
    directives += [f"--{key}={value}" for key, value in (("partition", options.partition),
                                                         ("account", options.account), ("qos", options.qos)) if value]
    lines = ["#!/bin/bash",
             f"# Mizan: grade {len(subs)} submission(s) on profile {profile.name}, one array task each",
             f"# (written by grader/slurm.py; the task list and the profile are in {manifest.name}).",
             "# Rerun one task by hand: SLURM_ARRAY_TASK_ID=<index> bash <this script>",
             *(f"#SBATCH {shlex.quote(d)}" for d in directives),
             f"exec {shlex.quote(sys.executable)} -m grader.slurm task {shlex.quote(str(manifest))} "
             f'"$SLURM_ARRAY_TASK_ID"', ""]
    script = manifest.with_suffix(".sh")
    script.write_text("\n".join(lines), encoding="utf-8")
    return script


# ---------------------------------------------------------------------------------------------
# the trusted side: submit, wait, collect


@dataclass
class _Tracked:
    job_id: str
    index: int
    id: str
    hash: str
    state: str = "PENDING"
    reason: str = ""
    finished: bool = False
    missing: int = 0            # polls in a row in which Slurm did not list the task


@dataclass
class _Counts:
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    waiting: set = field(default_factory=set)       # why queued tasks wait (Slurm's reason)

    def line(self, jobs: list[str]) -> str:
        total = self.queued + self.running + self.done + self.failed
        width = 20
        filled = round(width * (self.done + self.failed) / total) if total else width
        why = f" (queued: {', '.join(sorted(self.waiting))})" if self.waiting else ""
        return (f"slurm: job {','.join(jobs)} [{'#' * filled}{'.' * (width - filled)}] {self.queued} queued, "
                f"{self.running} running, {self.done} done, {self.failed} failed{why}")


def _check_secret() -> None:
    from grader.secret import SECRET_ENV, SECRET_FILE_ENV

    if os.environ.get(SECRET_ENV):
        raise MizanError(f"{SECRET_ENV} is set, and sbatch would store it with each job's environment in "
                         f"Slurm's spool: write the secret into a file only the grading account can read, on the "
                         f"shared filesystem, unset {SECRET_ENV} and export {SECRET_FILE_ENV}=<that file>")


def grade_on_slurm(subs: list[Path], profile: Profile | str, out_root: Path | str, *, tasks=(), force: bool = False,
                   allow_unsandboxed: bool = False, options: SlurmOptions = SlurmOptions(),
                   progress: Callable[[str], None] = print) -> list[batch.GradeSummary]:
    """Grade ``subs`` into ``out_root/<id>/`` as one Slurm job array; write the gradebook as a local batch does.

    Tasks of earlier calls still queued or running for the same content are waited for, not
    submitted again. Raises :class:`SlurmWaitTimeout` when ``options.wait_timeout_s`` passes first.
    """
    from grader.results.gradebook import write_gradebook

    _check_secret()
    profile = get_profile(profile) if isinstance(profile, str) else profile
    out_root = Path(out_root).resolve()
    out_root.mkdir(parents=True, exist_ok=True)
    tasks = tuple(tasks or ())
    ids = batch.submission_ids(subs)
    digests = {i: batch.content_hash(s, profile, tasks) for s, i in zip(subs, ids)}
    final = {} if force else {i: m for i in ids if (m := batch.final_grade(out_root / i, digests[i]))}
    needed = [i for i in ids if i not in final]

    jobs = load_jobs(out_root)
    tracked: list[_Tracked] = []
    for job in jobs:
        if job.get("ended"):
            continue
        states = task_states(job["job_id"])
        if not any(state in ACTIVE for state, _ in states.values()):
            job["ended"] = True             # never asked about again
            continue
        for t in job["tasks"]:
            state = states.get(t["index"], ("", ""))[0]
            if t["id"] not in needed or state not in ACTIVE:
                continue
            if t["hash"] != digests[t["id"]] or any(x.id == t["id"] for x in tracked):
                # Grading content that has changed since (or a duplicate): its grade would be stale.
                _slurm(["scancel", f"{job['job_id']}_{t['index']}"], check=False)
                progress(f"slurm: cancelled task {job['job_id']}_{t['index']} ({t['id']}): the submission "
                         f"changed after it was submitted")
                continue
            tracked.append(_Tracked(job["job_id"], t["index"], t["id"], t["hash"], state))
    if tracked:
        progress(f"slurm: {len(tracked)} task(s) of an earlier call still queued or running for unchanged "
                 f"submissions: waiting for them instead of submitting again")

    todo = [i for i in needed if not any(x.id == i for x in tracked)]
    if todo:
        from grader.run.orchestrate import TASKS, prepare_task_inputs

        # Prepared once here, before any task starts, so the tasks only read the shared cache.
        prepare_task_inputs(profile, tasks or TASKS)
        res = resources(profile, options)
        by_id = dict(zip(ids, subs))
        script = write_job(out_root, [by_id[i] for i in todo], profile, res, options, tasks=tasks, force=force,
                           allow_unsandboxed=allow_unsandboxed)
        job_id = _slurm(["sbatch", "--parsable", str(script)]).stdout.strip().split(";")[0]
        jobs.append({"job_id": job_id, "script": str(script),
                     "submitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "tasks": [{"index": k, "id": i, "hash": digests[i]} for k, i in enumerate(todo)]})
        _save_jobs(out_root, jobs)
        tracked += [_Tracked(job_id, k, i, digests[i]) for k, i in enumerate(todo)]
        progress(f"slurm: submitted job {job_id}: {len(todo)} task(s), each {' '.join(res.directives())}; "
                 f"script {script}; logs {state_dir(out_root) / 'logs'}")
    elif not tracked:
        progress("slurm: nothing to submit: every submission is unchanged since its last grade")

    _wait(tracked, out_root, digests, options, progress)
    waited = {t.job_id for t in tracked}
    for job in jobs:
        job["ended"] = job.get("ended") or job["job_id"] in waited
    _save_jobs(out_root, jobs)
    write_gradebook(out_root)
    return [_summary(i, out_root, digests[i], final.get(i), next((t for t in tracked if t.id == i), None))
            for i in ids]


def _wait(tracked: list[_Tracked], out_root: Path, digests: dict, options: SlurmOptions,
          progress: Callable[[str], None]) -> None:
    from grader.results.gradebook import write_gradebook

    if not tracked:
        return
    began = time.monotonic()
    shown = ""
    job_ids = list(dict.fromkeys(t.job_id for t in tracked))
    try:
        while True:
            states: dict[tuple[str, int], tuple[str, str]] = {}
            for job_id in dict.fromkeys(t.job_id for t in tracked if not t.finished):
                try:
                    states.update({(job_id, i): s for i, s in task_states(job_id).items()})
                except SlurmError as err:       # keep the last states; ask again at the next poll
                    progress(f"slurm: {err}; asking again in {options.poll_s:g} s")
                    states.update({(t.job_id, t.index): (t.state, t.reason) for t in tracked if t.job_id == job_id})
            counts = _Counts()
            for t in tracked:
                if not t.finished:
                    listed = states.get((t.job_id, t.index))
                    t.missing = 0 if listed else t.missing + 1
                    if listed:
                        t.state, t.reason = listed
                    elif t.missing >= MISSING_POLLS or batch.final_grade(out_root / t.id, digests[t.id]):
                        t.state, t.reason = "UNKNOWN", ""
                    if t.state not in ACTIVE:
                        t.finished = True
                        write_gradebook(out_root)
                        progress(_finished_line(t, out_root, digests[t.id]))
                if t.finished:
                    ok = batch.final_grade(out_root / t.id, digests[t.id]) is not None
                    counts.done += ok
                    counts.failed += not ok
                elif t.state == "PENDING":
                    counts.queued += 1
                    if t.reason and t.reason != "None":
                        counts.waiting.add(t.reason)
                else:
                    counts.running += 1
            line = counts.line(job_ids)
            if line != shown:
                progress(line)
                shown = line
            if all(t.finished for t in tracked):
                return
            if options.wait_timeout_s is not None and time.monotonic() - began > options.wait_timeout_s:
                raise SlurmWaitTimeout(
                    f"{counts.queued + counts.running} task(s) of job {','.join(job_ids)} still queued or running "
                    f"after {options.wait_timeout_s:g} s; they keep running: run the same command again to collect "
                    f"them")
            time.sleep(options.poll_s)
    except KeyboardInterrupt:
        progress(f"slurm: stopped waiting; job {','.join(job_ids)} keeps running on the cluster: run the same "
                 f"command again to collect the grades (it submits nothing that is still queued or running)")
        raise


def _finished_line(t: _Tracked, out_root: Path, digest: str) -> str:
    """The line a local batch prints as a submission ends, from what the task left."""
    s = _summary(t.id, out_root, digest, None, t)
    if s.status == "graded":
        return f"slurm: {s.id} ... {s.score:g}/{s.max_score:g} ({s.wall_s:.0f} s)"
    if s.status == "overloaded":
        return f"slurm: {s.id} ... {s.score:g}/{s.max_score:g} NOT FINAL: {s.message}"
    return f"slurm: {s.id} ... ERROR ({s.message})"


def _ended(t: _Tracked) -> str:
    if t.state == "UNKNOWN":
        return "ended (state unknown: Slurm no longer lists it and keeps no accounting here)"
    return f"ended {t.state}" + (f" ({t.reason})" if t.reason and t.reason != "None" else "")


def _summary(sid: str, out_root: Path, digest: str, before: dict | None, t: _Tracked | None) -> batch.GradeSummary:
    """What a local batch would report for ``sid``, from its ``grade.json`` and, where that is missing
    or stale, the Slurm state and log of the task that should have written it."""
    out = out_root / sid
    if before is not None:
        return batch.GradeSummary(sid, "skipped", before.get("score", 0.0), before.get("max_score", 0.0), str(out),
                                  0.0, "unchanged since the last grade")
    meta = batch.read_grade(out)
    task = f"Slurm task {t.job_id}_{t.index} {_ended(t)}, log {log_path(out_root, t.job_id, t.index)}" if t else ""
    if meta is None or meta.get("hash") != digest:
        why = _failure(out / "run.log")
        return batch.GradeSummary(sid, "error", out_dir=str(out),
                                  message=f"{why + '; ' if why else ''}{task or 'no Slurm task'}: no grade written; "
                                          f"the next run regrades it")
    score, max_score, wall = meta.get("score", 0.0), meta.get("max_score", 0.0), float(meta.get("wall_s") or 0.0)
    if meta.get("grader_errors"):
        return batch.GradeSummary(sid, "error", score, max_score, str(out), wall,
                                  f"the grader could not grade this run ({'; '.join(meta['grader_errors'])}); "
                                  f"see {out / 'run.log'}; {task}")
    if meta.get("regrade"):
        steps = ", ".join(k for k, v in (meta.get("steps") or {}).items() if v == "overloaded")
        return batch.GradeSummary(sid, "overloaded", score, max_score, str(out), wall,
                                  f"grader overloaded in {steps}: regrade (run the same command again)")
    return batch.GradeSummary(sid, "graded", score, max_score, str(out), wall, "")


def _failure(run_log: Path) -> str:
    """The error a task's grade stopped on (``grader.batch.grade_or_error`` logs it), or ""."""
    try:
        lines = run_log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return next((ln[len("grading failed: "):][:300] for ln in reversed(lines) if ln.startswith("grading failed: ")), "")


# ---------------------------------------------------------------------------------------------
# the task side: one array task on a compute node


def run_task(manifest: Path, index: int) -> int:
    """Grade submission ``index`` of ``manifest`` exactly as a local batch grades one (exit 1 unless final)."""
    from grader.environment import EnvironmentProblem, require
    from grader.run.sandbox import CONCURRENT_GRADES_ENV

    try:
        for warning in require():
            print(f"mizan: warning: {warning}", file=sys.stderr)
    except EnvironmentProblem as err:
        print(f"mizan: {err}", file=sys.stderr)
        return 3
    spec = json.loads(Path(manifest).read_text(encoding="utf-8"))
    if spec.get("build"):       # the input cache the submitting side prepared, whatever the node's environment
        os.environ[BUILD_ENV] = spec["build"]
    sub = Path(spec["submissions"][index])
    profile = Profile.from_dict(spec["profile"])
    # The sandbox shares os.cpu_count() among the grades sharing the machine: on a node, the tasks
    # sharing it are about cpu_count / cpus-per-task (rounded up, so a step never has more threads).
    allocated = int(os.environ.get("SLURM_CPUS_PER_TASK") or 0)
    if allocated:
        os.environ[CONCURRENT_GRADES_ENV] = str(max(1, math.ceil((os.cpu_count() or 1) / allocated)))
    out = Path(spec["out"]) / batch.submission_id(sub)
    print(f"mizan: grading {sub} on profile {profile.name} into {out} (Slurm job "
          f"{os.environ.get('SLURM_ARRAY_JOB_ID', '?')}, task {index}, on {os.uname().nodename})", flush=True)
    summary = batch.grade_or_error(sub, profile, out, tasks=tuple(spec.get("tasks") or ()),
                                   force=bool(spec.get("force")),
                                   allow_unsandboxed=bool(spec.get("allow_unsandboxed")),
                                   progress=lambda line: print(line, flush=True))
    print(f"mizan: {summary.id}: {summary.status} {summary.score:g}/{summary.max_score:g} {summary.message}",
          flush=True)
    return 0 if summary.status in ("graded", "skipped") else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.slurm",
                                     description="One array task of a Mizan Slurm job (the script runs it).")
    sub = parser.add_subparsers(dest="command", required=True)
    task = sub.add_parser("task", help="grade one submission of a job manifest")
    task.add_argument("manifest", type=Path)
    task.add_argument("index", type=int)
    args = parser.parse_args(argv)
    return run_task(args.manifest, args.index)


if __name__ == "__main__":
    raise SystemExit(main())
