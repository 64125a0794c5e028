"""Run an untrusted command under limits, from the trusted side.

Layers, each applied where the OS allows it and otherwise named in the notes
(and so in ``run.log``):

- a fresh working directory and an environment scrubbed to a whitelist;
- ``start_new_session=True``: the child leads its own process group, and the
  whole group is killed on the wall-clock timeout, from outside; stragglers
  that left the group (``setsid``) are found by a per-run token in their
  environment and killed too;
- rlimits: address space, CPU seconds, processes, file size;
- stdout/stderr read continuously (the child never blocks), written to the log
  up to a byte cap, discarded past it, and the child killed when it floods far
  past it;
- as root, in ``preexec_fn`` (ctypes ``unshare``/``mount``): a new network
  namespace (no network), a new mount namespace in which the whole filesystem
  is read-only except the run's writable folders, the held-back data, the
  other submissions and the grader's outputs are hidden under empty tmpfs, and
  the home folder is hidden except the interpreter; then the uid/gid drop to
  ``nobody``/``nogroup`` (or, when that user cannot run the interpreter, all
  capabilities dropped while staying uid 0, with a note).

Everything here is standard library: the sandbox must not depend on what it runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import os
import pwd
import grp
import resource
import secrets
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MiB = 1024 * 1024

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
RUN_UID_BASE = 200_000          # sandboxed runs get uids in [BASE, BASE + SPAN): no account uses them
RUN_UID_SPAN = 100_000
_PSEUDO_PREFIXES = ("/proc", "/sys", "/dev")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run (None: not limited)."""

    wall_s: float = 300.0
    cpu_s: float | None = None              # default: 2 x wall_s + 10 (two cores may be busy)
    address_space_mb: int | None = 8192     # torch + TensorFlow import under 8 GiB of address space
    nproc: int | None = 512                 # threads count too (TF starts dozens)
    fsize_mb: int | None = 1024
    log_bytes: int = 1 * MiB                # kept in the log; the rest is read and discarded
    flood_bytes: int = 256 * MiB            # past this much output the child is killed
    isolate_network: bool = True
    drop_privileges: bool | None = None     # None: drop when running as root and possible
    harden_fs: bool = True                  # mount namespace (read-only fs, hidden paths) when root

    def effective_cpu_s(self) -> float:
        return self.cpu_s if self.cpu_s is not None else 2 * self.wall_s + 10


@dataclass(frozen=True)
class SandboxOutcome:
    status: str                 # ok | error | timeout | killed | crashed
    returncode: int | None
    wall_s: float
    peak_rss_mb: float
    stdout_tail: str
    stderr_tail: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FsPlan:
    """What the child's mount namespace looks like (see :func:`run_sandboxed`)."""

    writable: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()        # folders under a hidden one that stay visible (read-only)


# ---------------------------------------------------------------------------------------------
# environment


ENV_WHITELIST = ("PATH", "LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES")

CONCURRENT_GRADES_ENV = "MIZAN_CONCURRENT_GRADES"
"""Set by ``grader.batch.grade_many`` to the number of submissions it grades at once."""
MAX_STEP_THREADS = 8


def step_threads() -> int:
    """BLAS/OpenMP threads for one step: this machine's CPUs shared among the submissions graded at once.

    One submission on the 2-core machine gets both cores (its NLI training
    steps took 850 s on one thread in a cpu-profile ``make grade``); ``--jobs 2``
    gives each of two submissions one. Capped at ``MAX_STEP_THREADS``, beyond
    which small models gain little.
    """
    try:
        concurrent = max(1, int(os.environ.get(CONCURRENT_GRADES_ENV, "1")))
    except ValueError:
        concurrent = 1
    return max(1, min(MAX_STEP_THREADS, (os.cpu_count() or 1) // concurrent))


def sandbox_env(cwd: Path | str, extra: dict | None = None) -> dict:
    """The scrubbed environment: a whitelist of the parent's, offline switches, caches in ``cwd``."""
    cwd = str(cwd)
    env = {k: os.environ[k] for k in ENV_WHITELIST if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    threads = str(step_threads())
    env.update({
        "HOME": cwd, "TMPDIR": os.path.join(cwd, "tmp"), "XDG_CACHE_HOME": os.path.join(cwd, ".cache"),
        "MPLCONFIGDIR": os.path.join(cwd, ".mpl"), "HF_HOME": os.path.join(cwd, ".hf"),
        "KERAS_HOME": os.path.join(cwd, ".keras"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
        "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1", "MIZAN_SANDBOX": "1",
    })
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


# ---------------------------------------------------------------------------------------------
# privileged set-up, run in the child between fork and exec (preexec_fn)


@lru_cache(maxsize=1)
def _libc():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    return libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc().mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            mp = line.split()[4].replace("\\040", " ")
            points.append(mp)
    return points


def _under(path: str, prefixes) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _apply_fs_plan(plan: FsPlan) -> None:
    """Private mount namespace: hide, re-expose, make read-only, then re-open the writable dirs."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Keep handles on exposed folders before the tmpfs over their parent hides them.
    fds = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in plan.expose if os.path.isdir(p)]
    writable_fds = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in plan.writable if os.path.isdir(p)]
    for path in plan.hidden:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        elif os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND)
    for path, fd in [*fds, *writable_fds]:
        os.makedirs(path, exist_ok=True)     # inside a tmpfs that hides its parent
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    keep_rw = {os.path.realpath(p) for p, _ in writable_fds}
    for mp in reversed(_mount_points()):
        if _under(mp, _PSEUDO_PREFIXES) or mp in keep_rw:
            continue
        try:
            _mount(None, mp, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        except OSError:
            _mount(None, mp, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def _drop_capabilities() -> None:
    """uid 0 without capabilities: cannot unmount, override permissions, or regain them."""
    libc = _libc()
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header = Header(0x20080522, 0)
    data = (Data * 2)()
    _check(libc.syscall(126 if os.uname().machine == "x86_64" else 91, ctypes.byref(header), data),
           "capset")


def _preexec(limits: Limits, plan: FsPlan | None, user: tuple[int, int] | None, as_root_nocaps: bool,
             cwd: str | None = None):
    def setup() -> None:
        # Runs in the child after fork (a new session already): namespaces need root, so they come
        # before the uid drop; rlimits last so that set-up itself is not limited.
        if limits.isolate_network and os.geteuid() == 0:
            _check(_libc().unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        if plan is not None:
            _apply_fs_plan(plan)
            if cwd:
                os.chdir(cwd)     # Popen changed directory before the mounts: re-enter the writable bind
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
        elif as_root_nocaps:
            _drop_capabilities()
        os.umask(0o022)

    return setup


# ---------------------------------------------------------------------------------------------
# capability probes (cached per process)


def _nobody() -> tuple[int, int] | None:
    try:
        uid = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return None
    for name in ("nogroup", "nobody"):
        try:
            return uid, grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    return None


def _probe(argv: list[str], preexec) -> tuple[bool, str]:
    try:
        proc = subprocess.run(argv, cwd="/", env={"PATH": "/usr/bin:/bin"}, preexec_fn=preexec,
                              capture_output=True, timeout=60, start_new_session=True)
    except (OSError, subprocess.SubprocessError) as err:
        return False, str(err)
    return proc.returncode == 0, (proc.stderr or b"").decode(errors="replace")[-300:]


@lru_cache(maxsize=16)
def probe_capabilities(python: str, import_root: str, harden_fs: bool, hidden: tuple[str, ...] = (),
                       expose: tuple[str, ...] = ()) -> dict:
    """What this machine allows: network namespace, mount namespace, the uid drop for ``python``."""
    caps = {"root": os.geteuid() == 0, "netns": False, "mountns": False, "drop_uid": False, "notes": []}
    if not caps["root"]:
        caps["notes"].append("not running as root: no network/mount namespace and no uid drop; "
                             "the child runs as the current user")
        return caps
    base = Limits(wall_s=60, address_space_mb=None, nproc=None, fsize_mb=None, isolate_network=True)
    ok, why = _probe(["/bin/true"], _preexec(base, None, None, False))
    caps["netns"] = ok
    if not ok:
        caps["notes"].append(f"network namespace not available ({why.strip() or 'unshare refused'}); "
                             f"the child may reach the network")
    plan = FsPlan(writable=(), hidden=hidden, expose=expose) if harden_fs else None
    if harden_fs:
        ok, why = _probe(["/bin/true"], _preexec(dataclasses.replace(base, isolate_network=caps["netns"]),
                                                 plan, None, False))
        caps["mountns"] = ok
        if not ok:
            caps["notes"].append(f"mount namespace not available ({why.strip() or 'refused'}); "
                                 f"the file system is protected by permissions only")
            plan = None
    user = _nobody()
    if user is None:
        caps["notes"].append("no 'nobody' user: the child keeps uid 0 without capabilities")
        return caps
    cmd = [python, "-I", "-c", f"import sys; sys.path.insert(0, {import_root!r}); import grader.run.step_api"]
    ok, why = _probe(cmd, _preexec(dataclasses.replace(base, isolate_network=caps["netns"]), plan, user, False))
    caps["drop_uid"] = ok
    if not ok:
        caps["notes"].append(
            f"the unprivileged user 'nobody' cannot run {python} or read {import_root} "
            f"({why.strip().splitlines()[-1] if why.strip() else 'permission denied'}); running WITHOUT the "
            f"uid drop (uid 0, all capabilities dropped{', read-only file system' if caps['mountns'] else ''})")
    return caps


# ---------------------------------------------------------------------------------------------
# the run


def _kill_stragglers(token: str, pgid: int, uid: int | None = None) -> int:
    """Kill processes of this run that left its process group: by the run's own uid, or by the
    token in their environment when the run kept the grader's uid."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    needle = f"MIZAN_RUN_TOKEN={token}".encode()
    killed = 0
    for _ in range(3):          # a fork bomb may fork while we scan: sweep until none is found
        found = 0
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
                if ours:
                    os.kill(int(entry), signal.SIGKILL)
                    found += 1
            except (OSError, ValueError, IndexError):
                continue
        killed += found
        if not found:
            break
    return killed


def _tail(buf: bytearray) -> str:
    return bytes(buf).decode("utf-8", errors="replace")


def run_sandboxed(argv: list[str], *, cwd: Path | str, env: dict, limits: Limits, log_path: Path | str,
                  fs: FsPlan | None = None, python: str | None = None, import_root: str | None = None,
                  tail_bytes: int = 4000, stdin_data: bytes | None = None) -> SandboxOutcome:
    """Run ``argv`` in ``cwd`` under ``limits``; stream its output to ``log_path``; never raise for it.

    ``fs`` lists the folders the child may write (besides ``cwd``), the folders it must not see
    (held-back data, other submissions, grader outputs) and those to keep visible under a hidden
    one (the interpreter under a private home). ``python``/``import_root`` are what the uid-drop
    probe checks that ``nobody`` can run and import.
    """
    cwd = Path(cwd)
    log_path = Path(log_path)
    notes: list[str] = []
    fs = fs or FsPlan()
    writable = tuple(dict.fromkeys((str(cwd), *fs.writable)))
    python = python or argv[0]
    import_root = import_root or str(Path(__file__).resolve().parents[2])

    caps = probe_capabilities(python, import_root, limits.harden_fs, tuple(fs.hidden), tuple(fs.expose))
    notes.extend(caps["notes"])
    plan = FsPlan(writable=writable, hidden=fs.hidden, expose=fs.expose) if caps.get("mountns") else None
    user = None
    token = secrets.token_hex(8)
    if caps["root"] and limits.drop_privileges is not False and caps["drop_uid"]:
        # A uid of its own per run (with nobody's group): RLIMIT_NPROC counts per uid, so a fork bomb
        # in one sandbox cannot starve another, and every process left with this uid is ours to kill.
        user = (RUN_UID_BASE + int(token, 16) % RUN_UID_SPAN, _nobody()[1])
        for path in writable:
            _chown_tree(path, *user)
        notes.append(f"running as the unprivileged uid {user[0]} (rights of 'nobody', a uid of its own)")
    as_root_nocaps = caps["root"] and user is None and limits.drop_privileges is not False
    if plan is not None:
        notes.append(f"read-only file system except {len(writable)} run folder(s); "
                     f"{len(fs.hidden)} path(s) hidden")
    if caps["netns"] and limits.isolate_network:
        notes.append("no network (private network namespace)")
    lim = dataclasses.replace(limits, isolate_network=limits.isolate_network and caps["netns"])

    run_uid = user[0] if user is not None else None
    env = dict(env)
    env["MIZAN_RUN_TOKEN"] = token
    os.makedirs(env.get("TMPDIR", cwd / "tmp"), exist_ok=True)
    if user is not None:
        _chown_tree(env.get("TMPDIR", str(cwd / "tmp")), *user)

    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    logged = 0
    total = 0
    tails = {"stdout": bytearray(), "stderr": bytearray()}
    status = None
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.Popen(argv, cwd=str(cwd), env=env,
                                    stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                    preexec_fn=_preexec(lim, plan, user, as_root_nocaps, str(cwd)),
                                    close_fds=True)
        except (OSError, subprocess.SubprocessError) as err:
            msg = f"could not start the sandboxed process: {err}"
            log.write(f"[sandbox] {msg}\n".encode())
            return SandboxOutcome("crashed", None, 0.0, 0.0, "", "", tuple([*notes, msg]))
        if stdin_data is not None:
            try:
                proc.stdin.write(stdin_data[:4096])     # fits the pipe buffer: never blocks
                proc.stdin.close()
            except OSError:
                pass
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
        sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
        deadline = start + limits.wall_s
        waited = None
        open_streams = 2
        exited_at = None
        while True:
            now = time.monotonic()
            if waited is None:
                pid, wstatus, rusage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    waited = (wstatus, rusage)
                    exited_at = now
                    _kill_stragglers(token, proc.pid, run_uid)   # children that still hold the pipes
            if waited is not None and (open_streams == 0 or now - exited_at > 2.0):
                break
            if waited is None and now >= deadline:
                status = "timeout"
                notes.append(f"wall-clock limit of {limits.wall_s:g} s reached: process group killed")
                _kill_stragglers(token, proc.pid, run_uid)
                _, wstatus, rusage = os.wait4(proc.pid, 0)
                waited = (wstatus, rusage)
                exited_at = time.monotonic()
                continue
            for key, _ in sel.select(timeout=0.1):
                try:
                    chunk = os.read(key.fileobj.fileno(), 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                total += len(chunk)
                tail = tails[key.data]
                tail.extend(chunk)
                del tail[:-tail_bytes]
                if logged < limits.log_bytes:
                    part = chunk[: limits.log_bytes - logged]
                    log.write(part)
                    logged += len(part)
                    if logged >= limits.log_bytes:
                        log.write(f"\n[sandbox] output past {limits.log_bytes} bytes is discarded\n".encode())
                if total > limits.flood_bytes and waited is None and status is None:
                    status = "killed"
                    notes.append(f"output flood: more than {limits.flood_bytes // MiB} MiB printed; killed")
                    _kill_stragglers(token, proc.pid, run_uid)
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
        wstatus, rusage = waited
        proc.returncode = os.waitstatus_to_exitcode(wstatus)
        stray = _kill_stragglers(token, proc.pid, run_uid)
        if stray:
            notes.append(f"{stray} process(es) left behind by the run were killed")
        wall = time.monotonic() - start
        rc = proc.returncode
        if status is None:
            if rc == 0:
                status = "ok"
            elif rc > 0:
                status = "error"
            else:
                sig = -rc
                if sig == signal.SIGXCPU:
                    status = "timeout"
                    notes.append(f"CPU-time limit of {int(lim.effective_cpu_s())} s reached")
                elif sig == signal.SIGXFSZ:
                    status = "killed"
                    notes.append(f"file-size limit of {limits.fsize_mb} MiB reached")
                elif sig == signal.SIGKILL:
                    status = "killed"
                    notes.append("killed by SIGKILL (out of memory?)")
                else:
                    status = "crashed"
                    notes.append(f"died from signal {signal.Signals(sig).name}")
        peak = rusage.ru_maxrss / 1024.0
        log.write(f"\n[sandbox] status={status} rc={rc} wall={wall:.2f}s peak_rss={peak:.0f}MiB "
                  f"output={total}B\n".encode())
        for note in notes:
            log.write(f"[sandbox] {note}\n".encode())
    return SandboxOutcome(status, rc, round(wall, 3), round(peak, 1), _tail(tails["stdout"]),
                          _tail(tails["stderr"]), tuple(notes))


def _chown_tree(path: str | Path, uid: int, gid: int) -> None:
    """Give the run folders to the unprivileged user (the parents stay root's)."""
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
