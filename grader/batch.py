"""Grade one submission or a folder of them: run phase, check phase, results, gradebook.

Each submission ends in ``<out>/<id>/``: ``results.json`` (Gradescope),
``checks.json`` (every check with both messages), ``artifacts/``, ``run.log``,
``summary/`` and the feedback files when the report module exists, and
``grade.json``: the content hash, the score and the time of each phase. It is
written last and atomically, so its presence with the same hash means "done":
a re-run skips that submission, and a killed batch resumes losing nothing
finished. ``gradebook.csv`` is rewritten from every ``grade.json`` after each one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import resource
import shutil
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from grader.errors import MizanError
from grader.profiles import Profile, get_profile

REPO = Path(__file__).resolve().parents[1]
HASH_VERSION = "mizan-grade-3"      # 3: the effective profile's values, not its name


class SubmissionError(MizanError, ValueError):
    """A path that is not a submission folder."""


@dataclass(frozen=True)
class GradeSummary:
    id: str
    status: str                  # graded | skipped | error | overloaded (not final: the next run regrades)
    score: float = 0.0
    max_score: float = 0.0
    out_dir: str = ""
    wall_s: float = 0.0
    message: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# finding submissions


def validate_submission(path: Path | str) -> Path:
    """``path`` if it is a folder holding ``submission/``; otherwise a clear error."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path}: no such folder (pass --submission path/to/folder-with-submission)")
    if not path.is_dir():
        raise SubmissionError(f"{path}: not a folder; a submission is a folder that holds submission/")
    if not (path / "submission").is_dir():
        raise SubmissionError(f"{path}: no submission/ folder inside; put nli.py, adasyn.py and fraud.py "
                              f"in {path}/submission/ (the starter's submission/ folder shows the layout)")
    return path.resolve()


def find_submissions(root: Path | str) -> list[Path]:
    """Every folder directly inside ``root`` that holds ``submission/`` (its name is the id)."""
    root = Path(root)
    if not root.is_dir():
        raise SubmissionError(f"{root}: no such folder of submissions (pass --submissions DIR)")
    subs = sorted(p.resolve() for p in root.iterdir() if p.is_dir() and (p / "submission").is_dir())
    if not subs:
        raise SubmissionError(f"{root}: no folder inside holds submission/; each submission is "
                              f"{root}/<id>/submission/*.py")
    return subs


def reference_submission(build: Path | None = None) -> Path:
    """``build/reference/submission/`` made from ``solutions/{nli,adasyn,fraud}.py`` (graded like a student)."""
    from grader.paths import build_dir

    build = build or build_dir()
    dst = build / "reference" / "submission"
    dst.mkdir(parents=True, exist_ok=True)
    from grader.homework import API_FILES

    for name in API_FILES:
        src = REPO / "solutions" / name
        if not src.is_file():
            raise SubmissionError(f"the reference solution {src} is missing")
        if not (dst / name).is_file() or (dst / name).read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst / name)
    init = dst / "__init__.py"
    if not init.exists():
        init.write_text('"""The reference solution, copied from solutions/ and graded like a student\'s."""\n')
    return dst.parent


def submission_id(sub_dir: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.@+-]", "_", Path(sub_dir).name) or "submission"
    return name.lstrip(".") or "submission"


def submission_ids(subs: list[Path]) -> list[str]:
    """The id of each folder (its output folder's name); two folders with one id are an error."""
    ids = [submission_id(s) for s in subs]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise SubmissionError(f"two submission folders map to the same id: {', '.join(sorted(dupes))}")
    return ids


def grader_fingerprint() -> str:
    """Hash of what decides a grade (steps, tasks, checks, rubric): fixing a check regrades everyone."""
    h = hashlib.sha256()
    for pattern in ("grader/run/steps/*.py", "grader/tasks/*.py", "grader/checks/*.py", "grader/rubric/*.toml",
                    "grader/oracles/*.py", "grader/profiles.py"):
        for path in sorted(REPO.glob(pattern)):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def content_hash(sub_dir: Path, profile: Profile | str, tasks: tuple[str, ...] = (), visible_only: bool = False,
                 sources=None) -> str:
    """sha256 of the API modules' bytes as read for the copy (``grader.run.intake``: no link followed),
    the effective profile's values (a course configuration's too: ``Profile.fingerprint``), the
    selection, the grader and the grading secret's tag: equal hash, equal grade."""
    from grader.run.intake import API_FILES, read_api_sources
    from grader.secret import secret_tag

    sources = sources if sources is not None else read_api_sources(sub_dir)
    h = hashlib.sha256(HASH_VERSION.encode())
    h.update(grader_fingerprint().encode())
    h.update(secret_tag().encode())
    profile = get_profile(profile) if isinstance(profile, str) else profile
    h.update(f"|{profile.name}|{profile.fingerprint()}|{','.join(sorted(tasks))}|{int(visible_only)}|".encode())
    for name in API_FILES:
        data = sources.files.get(name)
        h.update(name.encode() + b"\0")
        h.update(data if data is not None else b"<absent>")
        h.update(b"\0")
    return h.hexdigest()


def read_grade(out_dir: Path) -> dict | None:
    """``out_dir/grade.json``, or None when it is missing or unreadable."""
    try:
        return json.loads((Path(out_dir) / "grade.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_read_meta = read_grade


def final_grade(out_dir: Path, digest: str) -> dict | None:
    """The resume test: ``grade.json`` of ``out_dir`` when it is a final grade of exactly ``digest``
    (same content hash, not marked for regrading, its results present), else None."""
    out_dir = Path(out_dir)
    meta = read_grade(out_dir)
    if (meta and meta.get("hash") == digest and not meta.get("regrade")
            and (out_dir / "results.json").is_file() and (out_dir / "checks.json").is_file()):
        return meta
    return None


def _logger(path: Path) -> Callable[[str], None]:
    def log(msg: str) -> None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}\n")
    return log


# ---------------------------------------------------------------------------------------------
# one submission


def grade_submission(sub_dir: Path | str, profile: Profile | str, out_dir: Path | str, *,
                     tasks: tuple[str, ...] | list[str] | None = None, visible_only: bool = False,
                     force: bool = False, step_modules: tuple[str, ...] = (), checks_dir: Path | str | None = None,
                     rubric_dir: Path | str | None = None, inputs: tuple[Path, Path] | None = None,
                     limits=None, keep_work: bool = False, feedback: bool = True,
                     allow_unsandboxed: bool = False, step_width: int | None = None,
                     progress: Callable[[str], None] | None = None) -> GradeSummary:
    """Grade ``sub_dir`` into ``out_dir`` (skipped when ``grade.json`` has the same content hash).

    ``step_width`` caps the steps run side by side (``grader.run.schedule``; 1: one after another).
    ``progress`` receives one line as each phase and step starts and ends (name, seconds, verdict);
    ``run.log`` keeps the detail. A run the grader could not do (the check phase wrote nothing, a step
    could not import one of Mizan's own dependencies) is recorded with ``regrade``, never skipped later.
    """
    from grader.checks.plugin import CHECKS_DIR  # noqa: F401 - fail early if the plugin is broken
    from grader.results.gradescope import gradescope_results, write_json_atomic
    from grader.checks.launcher import grader_error_results, run_checks
    from grader.results.model import totals
    from grader.run.intake import read_api_sources
    from grader.environment import missing_dependency
    from grader.run.orchestrate import TASKS, build_dir, prepare_task_inputs, run_submission, select_steps
    from grader.student_info import read_student

    sub_dir = validate_submission(sub_dir)
    student = read_student(sub_dir)      # a malformed student.toml stops here, before any grading
    profile = get_profile(profile) if isinstance(profile, str) else profile
    out_dir = Path(out_dir)
    tasks = tuple(tasks) if tasks else ()
    sid = submission_id(sub_dir)
    sources = read_api_sources(sub_dir)
    digest = content_hash(sub_dir, profile, tasks, visible_only, sources)
    meta = None if force else final_grade(out_dir, digest)
    if meta:
        return GradeSummary(sid, "skipped", meta.get("score", 0.0), meta.get("max_score", 0.0), str(out_dir),
                            0.0, "unchanged since the last grade")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "grade.json").unlink(missing_ok=True)
    log_path = out_dir / "run.log"
    log_path.write_text(f"Mizan run log of {sid} ({sub_dir}), profile {profile.name}, hash {digest[:16]}, "
                        f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\n", encoding="utf-8")
    log = _logger(log_path)
    say = progress or (lambda line: None)
    phases: dict[str, float] = {}
    start = time.perf_counter()

    t = time.perf_counter()
    selected = tasks or TASKS
    if inputs is None:
        say(f"inputs: preparing {', '.join(selected)} for profile {profile.name} (cached after the first run)")
        inputs = prepare_task_inputs(profile, selected, log=log)
        say(f"inputs: ready in {time.perf_counter() - t:.1f} s")
    inputs_dir, heldback = inputs
    phases["inputs_s"] = round(time.perf_counter() - t, 2)
    phases["inputs_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)

    t = time.perf_counter()
    work = build_dir() / "work" / f"{sid}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    art = out_dir / "artifacts"
    ticker = _StepTicker(say, [s.id for s in select_steps(visible_only=visible_only, tasks=selected,
                                                          step_modules=step_modules)])
    try:
        statuses = run_submission(sub_dir, profile, work, art, visible_only=visible_only, tasks=selected, log=log,
                                  log_path=log_path, step_modules=step_modules, inputs=(inputs_dir, heldback),
                                  limits=limits, sources=sources, allow_unsandboxed=allow_unsandboxed,
                                  width=step_width, on_step=ticker)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    phases["run_s"] = round(time.perf_counter() - t, 2)
    phases["run_peak_mb"] = max([float((st.get("sandbox") or {}).get("peak_rss_mb") or 0.0)
                                 for st in statuses.values()] + [0.0])
    phases["run_cpu_s"] = round(sum(float((st.get("sandbox") or {}).get("cpu_s") or 0.0)
                                    for st in statuses.values()), 2)
    isolation = sorted({str((st.get("sandbox") or {}).get("isolation") or "") for st in statuses.values()} - {""})
    overloaded = sorted(k for k, st in statuses.items() if st.get("status") == "overloaded")

    t = time.perf_counter()
    say(f"checks: running the {'visible ' if visible_only else ''}checks on what the steps wrote")
    phase = run_checks(art, heldback, profile, out_dir / "checks.json", visible_only=visible_only,
                       tasks=tasks or None, log_path=log_path, checks_dir=checks_dir, rubric_dir=rubric_dir,
                       memory_mb=profile.checks_memory_mb)
    checks_failed = phase.results is None
    if checks_failed:
        log("the check phase wrote no results (see the output above); every check scores 0 as a grader error")
        results = grader_error_results(out_dir / "checks.json", profile.name, rubric_dir=rubric_dir,
                                       tasks=tasks or None, visible_only=visible_only, overrides=profile.rubric)
    else:
        results = phase.checks
    phases["checks_s"] = round(time.perf_counter() - t, 2)
    phases["checks_peak_mb"] = round(phase.peak_mb, 1)
    passed = sum(r.status == "passed" for r in results)
    say(f"checks: {'GRADER ERROR, ' if checks_failed else ''}{passed} of {len(results)} passed, "
        f"{sum(r.earned for r in results):g}/{sum(r.points for r in results):g} points, "
        f"in {phases['checks_s']:.1f} s")
    # A run the grader could not do is not the submission's grade: never cached, regraded next time.
    grader_failures = sorted(f"step {k} could not import {m} (a dependency of Mizan, not of the submission)"
                             for k, st in statuses.items()
                             if (m := missing_dependency(st.get("error_type"), st.get("message"))))
    if checks_failed:
        grader_failures.append("the check phase wrote no results")
    for failure in grader_failures:
        log(f"GRADER ERROR: {failure}; this grade is not cached and the next run regrades it")
    earned, max_score = totals(results)

    failed = [r.name for r in results if r.status != "passed"]
    summary_text = (f"Mizan: {earned:g}/{max_score:g} points on profile {profile.name}; "
                    f"{len(results) - len(failed)} of {len(results)} checks passed.\n"
                    f"میزان: {earned:g} از {max_score:g} امتیاز با پروفایل {profile.name}؛ "
                    f"{len(results) - len(failed)} از {len(results)} بررسی قبول شد.")
    wall = time.perf_counter() - start
    write_json_atomic(out_dir / "results.json", gradescope_results(
        results, execution_time=wall, output=summary_text,
        extra_data={"id": sid, "profile": profile.name, "profile_values": profile.to_dict(), "hash": digest,
                    "isolation": isolation,
                    "sandboxed": "none" not in isolation, "overloaded_steps": overloaded}))

    t = time.perf_counter()
    _post_phase(art, heldback, profile, out_dir, log_path, feedback)
    phases["report_s"] = round(time.perf_counter() - t, 2)
    phases["grader_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    wall = time.perf_counter() - start
    write_json_atomic(out_dir / "grade.json", {
        "id": sid, "name": student.name or "", "student_id": student.student_id or "", "hash": digest,
        "profile": profile.name, "profile_values": profile.to_dict(), "tasks": list(tasks),
        "visible_only": visible_only,
        "score": earned, "max_score": max_score, "checks": {r.name: r.earned for r in results},
        "steps": {k: v.get("status") for k, v in statuses.items()}, "phases": phases, "wall_s": round(wall, 2),
        "isolation": isolation, "regrade": bool(overloaded or grader_failures), "grader_errors": grader_failures,
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "source": str(sub_dir)})
    log(f"done: {earned:g}/{max_score:g} in {wall:.1f} s ({phases})")
    if grader_failures:
        return GradeSummary(sid, "error", earned, max_score, str(out_dir), round(wall, 2),
                            f"the grader could not grade this run ({'; '.join(grader_failures)}); see {log_path}")
    if overloaded:
        log(f"GRADER OVERLOADED: {', '.join(overloaded)} starved for CPU twice; this grade is not final and the "
            f"next run regrades it")
        return GradeSummary(sid, "overloaded", earned, max_score, str(out_dir), round(wall, 2),
                            f"grader overloaded in {', '.join(overloaded)}: regrade (run the same command again)")
    return GradeSummary(sid, "graded", earned, max_score, str(out_dir), round(wall, 2), "")


class _StepTicker:
    """One line to ``say`` as each step starts and one as it ends (steps run side by side, so each line
    names its step; the number is the order in which they started)."""

    def __init__(self, say: Callable[[str], None], step_ids: list[str]):
        self.say, self.ids = say, step_ids
        self.number: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, step_id: str, status: dict | None) -> None:
        from grader.run.orchestrate import step_detail

        with self.lock:
            if status is None:
                self.number[step_id] = len(self.number) + 1
                self.say(f"  step {self.number[step_id]}/{len(self.ids)} {step_id} ... started")
                return
            detail = step_detail(status, width=100)
            wall = (status.get("sandbox") or {}).get("wall_s")
            self.say(f"  step {self.number.get(step_id, 0)}/{len(self.ids)} {step_id} ... {status.get('status')}"
                     f"{f': {detail}' if detail else ''}{f' in {float(wall):.1f} s' if wall else ''}")


POST_PHASE_MEMORY_MB = 4096
POST_PHASE_TIMEOUT_S = 600


def _post_phase(art: Path, heldback: Path, profile: Profile, out_dir: Path, log_path: Path, feedback: bool) -> None:
    """Summary and feedback in a child process under a memory and a time limit: they read what a
    submission wrote, and however large or strange it is, it costs at most that child, never the grade."""
    import multiprocessing

    log = _logger(log_path)
    proc = multiprocessing.get_context("spawn").Process(
        target=_post_child, args=(art, heldback, profile, out_dir, log_path, feedback), daemon=True)
    proc.start()
    proc.join(POST_PHASE_TIMEOUT_S)
    if proc.is_alive():
        proc.kill()
        proc.join()
        log(f"summary/feedback stopped after {POST_PHASE_TIMEOUT_S} s; the grade is kept")
    elif proc.exitcode:
        log(f"summary/feedback process ended with status {proc.exitcode} (memory limit "
            f"{POST_PHASE_MEMORY_MB} MiB?); the grade is kept")


def _post_child(art: Path, heldback: Path, profile: Profile, out_dir: Path, log_path: Path, feedback: bool) -> None:
    limit = POST_PHASE_MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    log = _logger(log_path)
    _summaries(art, heldback, profile, out_dir / "summary", log)
    if feedback:
        _feedback(out_dir, log)


def _summaries(artifacts: Path, heldback: Path, profile: Profile, summary_dir: Path, log) -> None:
    """Trusted results JSON (docs/CONTRACTS.md) from the artifacts and held-back labels, for the report."""
    try:
        from grader.summary import write_summaries
    except ImportError as err:
        log(f"summary: grader.summary is not available ({err}); no summary/")
        return
    try:
        written = write_summaries(artifacts, heldback, profile, summary_dir)
        log(f"summary: wrote {', '.join(p.name for p in written) or 'nothing'}")
    except Exception as err:  # noqa: BLE001 - a summary never costs the grade
        log(f"summary failed: {type(err).__name__}: {err}\n{traceback.format_exc(limit=5)}")


def _feedback(out_dir: Path, log) -> None:
    """feedback.html/pdf through grader.report.feedback when it exists; a failure is only logged."""
    try:
        from grader.report.feedback import write_feedback
    except ImportError as err:
        log(f"feedback: grader.report.feedback is not available ({err}); no feedback files")
        return
    try:
        write_feedback(out_dir)
    except Exception as err:  # noqa: BLE001
        log(f"feedback failed: {type(err).__name__}: {err}\n{traceback.format_exc(limit=8)}")


# ---------------------------------------------------------------------------------------------
# many submissions


def _grade_worker(args: tuple) -> GradeSummary:
    sub, profile, out_dir, kwargs = args         # profile: the effective Profile object (picklable)
    return grade_or_error(sub, profile, out_dir, **kwargs)


def grade_or_error(sub, profile: Profile | str, out_dir, **kwargs) -> GradeSummary:
    """:func:`grade_submission`, with any exception turned into an "error" summary and logged to run.log:
    what one worker of a batch (here, or a Slurm task: ``grader.slurm``) does with one submission."""
    try:
        return grade_submission(sub, profile, out_dir, **kwargs)
    except Exception as err:  # noqa: BLE001 - one submission never stops the batch
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        with open(Path(out_dir) / "run.log", "a", encoding="utf-8") as fh:
            fh.write(f"grading failed: {type(err).__name__}: {err}\n{traceback.format_exc()}")
        return GradeSummary(submission_id(Path(sub)), "error", out_dir=str(out_dir),
                            message=f"{type(err).__name__}: {err}")


@contextlib.contextmanager
def _concurrent_grades(count: int):
    """Tell the sandbox how many submissions share the CPUs (``grader.run.sandbox.step_threads``)."""
    from grader.run.sandbox import CONCURRENT_GRADES_ENV

    saved = os.environ.get(CONCURRENT_GRADES_ENV)
    os.environ[CONCURRENT_GRADES_ENV] = str(max(1, count))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(CONCURRENT_GRADES_ENV, None)
        else:
            os.environ[CONCURRENT_GRADES_ENV] = saved


def grade_many(subs: list[Path], profile: Profile | str, out_root: Path | str, *, jobs: int = 1,
               progress: Callable[[str], None] = print, **kwargs) -> list[GradeSummary]:
    """Grade ``subs`` into ``out_root/<id>/``, ``jobs`` at a time; rewrite the gradebook after each."""
    from grader.results.gradebook import write_gradebook
    from grader.run.orchestrate import TASKS, prepare_task_inputs

    profile = get_profile(profile) if isinstance(profile, str) else profile
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    ids = submission_ids(subs)
    from grader.run.sandbox import isolation

    level, notes = isolation(bool(kwargs.get("allow_unsandboxed")))     # refuses here, before any work
    if level != "bwrap":
        for note in notes:
            progress(f"sandbox: {note}")
    if "inputs" not in kwargs:
        # Prepared once here, before any worker starts, so parallel workers only read the cache.
        kwargs["inputs"] = prepare_task_inputs(profile, tuple(kwargs.get("tasks") or TASKS))
    jobs_list = [(str(s), profile, str(out_root / i), kwargs) for s, i in zip(subs, ids)]
    results: list[GradeSummary] = []
    n = len(jobs_list)
    began = time.perf_counter()

    def report(summary: GradeSummary) -> None:
        results.append(summary)
        write_gradebook(out_root)
        if summary.status == "error":
            what = f"ERROR ({summary.message[:120]}; see {summary.out_dir}/run.log)"
        elif summary.status == "skipped":
            what = f"{summary.score:g}/{summary.max_score:g} (unchanged, skipped)"
        elif summary.status == "overloaded":
            what = f"{summary.score:g}/{summary.max_score:g} NOT FINAL: {summary.message}"
        else:
            what = f"{summary.score:g}/{summary.max_score:g} ({summary.wall_s:.0f} s)"
        progress(f"[{len(results)}/{n}] {summary.id} ... {what}{eta(len(results))}")

    def eta(done: int) -> str:
        """Time left at the pace so far (skipped submissions cost nothing, so they count as done)."""
        left = n - done
        if not left:
            return f"; batch done in {_clock(time.perf_counter() - began)}"
        graded = [r for r in results if r.status != "skipped"]
        if not graded:
            return f"; {left} left"
        per = (time.perf_counter() - began) / len(graded)     # already the pace of all workers together
        return f"; {left} left, about {_clock(per * left)} to go"

    with _concurrent_grades(min(jobs, n)):
        if jobs <= 1 or n <= 1:
            for sub, name, out, job_kwargs in jobs_list:
                progress(f"[{len(results) + 1}/{n}] {submission_id(Path(sub))}: grading")
                report(_grade_worker((sub, name, out, {**job_kwargs, "progress": progress})))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # No worker is pinned: each step claims a CPU of the machine's (grader.run.schedule), so the
            # cores stay busy with steps of any submission and a neighbour's spinners slow only their own.
            with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(_grade_worker, job) for job in jobs_list]
                for fut in as_completed(futures):
                    report(fut.result())
    order = {i: k for k, i in enumerate(ids)}
    return sorted(results, key=lambda s: order[s.id])


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def score_table(summaries: list[GradeSummary]) -> str:
    width = max([len(s.id) for s in summaries] + [10])
    lines = [f"{'submission':<{width}}  {'score':>8}  {'max':>6}  status", "-" * (width + 28)]
    for s in summaries:
        lines.append(f"{s.id:<{width}}  {s.score:>8g}  {s.max_score:>6g}  {s.status}")
    return "\n".join(lines)
