"""Run a submission's steps side by side, one CPU each, on CPUs claimed machine-wide.

Why: on the cpu profile the three NLI trainings take most of a grade, they are independent of each
other, and threads barely help models this small (alone with two threads: 80 / 187 / 223 s; one
thread each beside another grade: 83 / 154 / 259 s). So each step gets one CPU and as many steps run
at once as there are CPUs. A CPU is claimed by locking its file in a folder every grader of the
machine shares (:class:`CpuSlots`): a batch's workers and a second ``make grade`` then fill every
core with steps of any submission and never run more steps than cores. A step is pinned to the CPU
it claimed, so a submission that starts many threads slows only itself.

Steps have no inputs from one another (each reads the inputs and the copied submission and writes
its own folder), so the graph is flat; the only order is the start order: the longest expected
first (the CPU seconds the step took last time on this profile, else its nominal budget), which
keeps the one long training from starting last and leaving the other cores idle at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

SLOTS_ENV = "MIZAN_CPU_SLOTS_DIR"
"""Where the CPU lock files live (default: a folder of this user in the system's temporary folder)."""
STEP_MEMORY_MB = 3072
"""What one step of the cpu profile may hold resident (peak about 2 GiB): steps at once stay under the
memory the machine has available."""
POLL_S = 0.2


@dataclass(frozen=True)
class Placement:
    """Where one step runs: the CPU it is pinned to (None: not pinned) and its BLAS/OpenMP threads."""

    cpu: int | None
    threads: int


def available_cpus() -> list[int]:
    """The CPUs this process may run on (a Slurm allocation or ``taskset`` narrows them); every CPU where
    the system cannot say (macOS, where a student runs ``make check``)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@contextlib.contextmanager
def _pinned(cpu: int) -> Iterator[None]:
    """This thread (and what it starts) on ``cpu`` for the block; nothing where the system cannot pin."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    mask = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})          # this thread only: what it starts inherits it
    try:
        yield
    finally:
        os.sched_setaffinity(0, mask)


def _available_memory_mb() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def step_width(uses_gpu: bool, requested: int | None = None, cpus: Sequence[int] | None = None) -> int:
    """How many steps of one submission may run at once: ``requested`` (1: one after another), else one
    per CPU, as many as memory allows; 1 where the steps share a GPU."""
    cpus = list(cpus) if cpus is not None else available_cpus()
    if uses_gpu:
        return 1
    if requested:
        return max(1, min(int(requested), len(cpus)))
    memory = _available_memory_mb()
    by_memory = max(1, memory // STEP_MEMORY_MB) if memory else len(cpus)
    return max(1, min(len(cpus), by_memory))


class CpuSlots:
    """One lock file per CPU, shared by every grader on this machine; holding its lock is owning the CPU.

    An ``flock`` is released by the kernel when its holder dies, so a killed grader never leaves a CPU
    claimed. The folder is per user and per host (a build folder on a shared file system serves many).
    """

    def __init__(self, cpus: Sequence[int] | None = None, folder: Path | str | None = None):
        self.cpus = list(cpus) if cpus is not None else available_cpus()
        default = Path(tempfile.gettempdir()) / f"mizan-cpu-slots-{os.geteuid()}" / socket.gethostname()
        self.folder = Path(folder or os.environ.get(SLOTS_ENV) or default)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    @contextlib.contextmanager
    def claim(self) -> Iterator[int]:
        """Wait for a free CPU of ours and hold it for the ``with`` block; yields the CPU's number."""
        while True:
            for cpu in self.cpus:
                fh = open(self.folder / f"cpu-{cpu}.lock", "a")
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    fh.close()
                    continue
                try:
                    yield cpu
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
                    fh.close()
                return
            time.sleep(POLL_S)


# ---------------------------------------------------------------------------------------------
# how long a step takes: what it took last time


def _costs_path(cache: Path, profile_name: str) -> Path:
    return Path(cache) / "step-costs" / f"{profile_name}.json"


SHIPPED_COSTS = Path(__file__).with_name("step_costs.json")
"""What each step of the reference cost on the built-in profiles, measured by benchmarks/grade_one.py: the
first grade on a fresh machine starts the longest training first too."""


def _read_costs(path: Path, profile_name: str | None = None) -> dict[str, float]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if profile_name is not None:
        data = data.get(profile_name) if isinstance(data, dict) else None
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))} if isinstance(data, dict) else {}


def expected_costs(cache: Path, profile_name: str) -> dict[str, float]:
    """CPU seconds each step took in the last grade on this profile here, else as shipped for a built-in
    profile (an empty dict for a course's own profile before its first grade)."""
    return {**_read_costs(SHIPPED_COSTS, profile_name), **_read_costs(_costs_path(cache, profile_name))}


def record_costs(cache: Path, profile_name: str, statuses: dict[str, dict]) -> None:
    """Remember the CPU seconds of the steps that ran to the end (for the next grade's start order)."""
    from grader.atomic import write_json_atomic

    costs = _read_costs(_costs_path(cache, profile_name))
    for step_id, status in statuses.items():
        cpu = float((status.get("sandbox") or {}).get("cpu_s") or 0.0)
        if status.get("status") == "ok" and cpu > 0:
            costs[step_id] = round(cpu, 1)
    with contextlib.suppress(OSError):
        write_json_atomic(_costs_path(cache, profile_name), costs, sort_keys=True)


def start_order(step_ids: Sequence[str], costs: dict[str, float], nominal: dict[str, float]) -> list[str]:
    """Longest expected first; a step never timed before counts as its nominal budget (so it starts early
    and is timed); ties keep the registration order."""
    rank = {sid: i for i, sid in enumerate(step_ids)}
    return sorted(step_ids, key=lambda sid: (-costs.get(sid, nominal.get(sid, 0.0)), rank[sid]))


# ---------------------------------------------------------------------------------------------
# running them


def run_side_by_side(step_ids: Sequence[str], run_one: Callable[[str, Placement], dict], *, width: int,
                     serial_threads: int, slots: CpuSlots | None = None) -> dict[str, dict]:
    """``run_one(step_id, placement)`` for each step, ``width`` at a time, in the order given; returns the
    statuses in that order.

    ``width`` 1 runs them one after another with ``serial_threads`` threads and no pinning (the GPU
    profile, or a course that asks for it). Otherwise each step waits for a CPU of ``slots`` and runs
    pinned to it with one thread: the pinning is the worker thread's own affinity, which the sandboxed
    process it starts inherits.
    """
    if width <= 1:
        return {sid: run_one(sid, Placement(None, max(1, serial_threads))) for sid in step_ids}
    slots = slots or CpuSlots()

    def pinned(sid: str) -> dict:
        with slots.claim() as cpu, _pinned(cpu):
            return run_one(sid, Placement(cpu, 1))

    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="mizan-step") as pool:
        futures = {sid: pool.submit(pinned, sid) for sid in step_ids}
        return {sid: fut.result() for sid, fut in futures.items()}
