"""The sandbox: an allowlist (bubblewrap), limits, process-group kill, output caps, scrubbed env, the uid drop,
the CPU budget and the overload verdict."""

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.run import sandbox
from grader.run.orchestrate import REPO
from grader.run.sandbox import (Binds, Limits, SandboxUnavailable, gpu_devices, isolation, probe_isolation,
                                python_roots, run_sandboxed, sandbox_env)
from tests.mizan_demo import open_tmpdir

ROOT = os.geteuid() == 0
FOUND = probe_isolation(sys.executable)
needs_bwrap = pytest.mark.skipif(not FOUND["bwrap"][0], reason=f"bubblewrap unavailable: {FOUND['bwrap'][1]}")
needs_root = pytest.mark.skipif(not ROOT, reason="the uid drop needs root (CI runs as root)")


@pytest.fixture()
def tmp_path():
    """A temp folder the unprivileged user can reach (pytest's own tmp root is 0700)."""
    with open_tmpdir() as path:
        yield path


@pytest.fixture()
def box(tmp_path):
    def run(code: str, level: str | None = None, ro: tuple = (), python: str = sys.executable,
            stdin_data: bytes | None = None, **limits):
        cwd = tmp_path / f"cwd{len(list(tmp_path.glob('cwd*')))}"
        cwd.mkdir()
        cwd.chmod(0o755)
        lim = Limits(**{"wall_s": 20, "address_space_mb": 2048, **limits})
        level = level or isolation()[0]
        binds = Binds(ro=ro, workdir=(str(cwd), "/sandbox/work"))
        out = run_sandboxed([python, "-I", "-c", code], cwd=cwd,
                            env=sandbox_env(binds.inside(cwd, level)), limits=lim, log_path=tmp_path / "run.log",
                            binds=binds, level=level, stdin_data=stdin_data)
        return out, cwd

    return run


def test_ok_and_exit_codes_and_signals(box):
    out, _ = box("print('hello')")
    assert (out.status, out.returncode, out.stdout_tail) == ("ok", 0, "hello\n")
    assert box("import os; os._exit(3)")[0].status == "error"
    crashed = box("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")[0]
    assert crashed.status == "crashed" and "SIGSEGV" in " ".join(crashed.notes)


def test_wall_clock_backstop_kills_the_group_and_escaped_grandchildren(box, tmp_path):
    code = ("import os, subprocess, sys, time\n"
            "p = subprocess.Popen(['sleep', '60.0713'])\n"
            "q = subprocess.Popen(['sleep', '61.0713'], start_new_session=True)\n"
            "print(p.pid, q.pid, flush=True)\n"
            "time.sleep(100)\n")
    start = time.monotonic()
    out, cwd = box(code, wall_s=3)
    # A sleeper used no CPU and did not wait for one: the student's timeout, not an overload.
    assert out.status == "timeout" and 2.9 < out.wall_s < 8 and time.monotonic() - start < 15
    assert any("wall-clock backstop of 3 s" in n for n in out.notes)
    time.sleep(0.3)
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _alive(p, ("sleep60.0713", "sleep61.0713"))]


def _alive(proc: Path, commands: tuple[str, ...]) -> bool:
    """A live (not zombie) process running one of ``commands`` (argv joined)."""
    try:
        cmd = proc.joinpath("cmdline").read_bytes().replace(b"\0", b"").decode(errors="replace")
        state = proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return cmd in commands and state != "Z"


def test_output_is_capped_in_the_log_and_a_flood_is_killed(box, tmp_path):
    out, _ = box("import sys\nwhile True: sys.stdout.write('x' * 65536)", flood_bytes=8 << 20, log_bytes=10_000)
    assert out.status == "killed" and any("output flood" in n for n in out.notes)
    assert (tmp_path / "run.log").stat().st_size < 20_000
    assert len(out.stdout_tail) == 4000


def test_address_space_limit_turns_a_memory_bomb_into_memoryerror(box):
    out, _ = box("hoard = []\nwhile True: hoard.append(bytearray(64 << 20))", address_space_mb=1024)
    assert out.status == "error" and "MemoryError" in out.stderr_tail


def test_cpu_budget_stops_a_busy_loop_and_is_measured(box):
    out, _ = box("while True: pass", wall_s=60, cpu_s=2)
    assert out.status == "timeout" and any("CPU-time limit of 2 s" in n for n in out.notes)
    assert 1.0 < out.cpu_s < 10        # sampled every 0.5 s from /proc


def test_environment_is_scrubbed(box, monkeypatch):
    monkeypatch.setenv("MIZAN_SECRET", "hunter2")
    monkeypatch.setenv("MIZAN_SECRET_FILE", "/root/.mizan_secret")
    out, cwd = box("import os, json; print(json.dumps(dict(os.environ)))")
    env = json.loads(out.stdout_tail)
    assert "MIZAN_SECRET" not in env and "MIZAN_SECRET_FILE" not in env
    assert env["HF_HUB_OFFLINE"] == "1" and env["HOME"] in (str(cwd), "/sandbox/work")


PROBE = """
import json, os, socket, sys
seen = {"uid": os.getuid(), "root": sorted(os.listdir("/")), "pids": sorted(int(p) for p in os.listdir("/proc")
        if p.isdigit()), "cwd": os.getcwd()}
for name in ("grader", "grader.oracles.adasyn", "solutions", "imblearn", "tests"):
    try:
        __import__(name); seen[name] = "imported"
    except ImportError:
        seen[name] = "absent"
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2); seen["net"] = "connected"
except OSError:
    seen["net"] = "refused"
for path in ("REPO/grader/VANDAL", "/usr/VANDAL", "/sandbox/ro/VANDAL"):
    try:
        open(path, "w"); seen[path] = "written"
    except OSError as e:
        seen[path] = e.errno
open("/dev/shm/note", "w").write("left for the next one")
seen["shm"] = sorted(os.listdir("/dev/shm"))
seen["ro"] = sorted(os.listdir("/sandbox/ro"))
print(json.dumps(seen))
"""


@needs_bwrap
def test_bubblewrap_shows_only_the_allowlist(box, tmp_path):
    """No Mizan, no oversampling library, no network, no other process, no writable system, private /dev/shm."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(5)
    got = []
    waiter = threading.Thread(target=lambda: got.append(_accept(server)), daemon=True)
    waiter.start()
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "inputs.json").write_text("{}")
    ro.chmod(0o755)
    code = PROBE.replace("PORT", str(server.getsockname()[1])).replace("REPO", str(REPO))
    first, _ = box(code, level="bwrap", ro=((str(ro), "/sandbox/ro"),))
    second, cwd = box(code, level="bwrap", ro=((str(ro), "/sandbox/ro"),))
    assert first.status == "ok", first.stderr_tail
    seen = json.loads(first.stdout_tail)
    assert (seen["grader"], seen["grader.oracles.adasyn"], seen["solutions"], seen["imblearn"], seen["tests"]) == \
        ("absent",) * 5
    waiter.join(10)
    assert seen["net"] == "refused" and got == [None]
    interpreter_tops = {Path(root).parts[1] for root in python_roots()}     # wherever the checkout lives
    assert set(seen["root"]) <= {"bin", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr", "sandbox",
                                 "opt"} | interpreter_tops
    assert seen["pids"][:1] == [1] and len(seen["pids"]) <= 3         # its own PID namespace
    assert seen[f"{REPO}/grader/VANDAL"] == 2                           # ENOENT: the repository is not there
    assert seen["/usr/VANDAL"] == 30 and seen["/sandbox/ro/VANDAL"] == 30   # EROFS
    assert seen["shm"] == ["note"] and json.loads(second.stdout_tail)["shm"] == ["note"]  # nothing shared
    assert seen["ro"] == ["inputs.json"] and seen["cwd"] == "/sandbox/work"
    assert (seen["uid"] >= 200_000) if ROOT else seen["uid"] == 65534


@needs_bwrap
def test_pid_1_names_no_host_path_and_stdin_brings_the_nonce_then_closes(box, tmp_path):
    """bubblewrap is pid 1 inside and takes its options through a file descriptor (``--args``), so the
    command line a step can read names none of the host folders bound; the nonce is on stdin, then EOF."""
    code = ("import sys\nprint(open('/proc/1/cmdline', 'rb').read().replace(b'\\0', b' ').decode())\n"
            "print(sys.stdin.readline().strip(), sys.stdin.read() == '')\n")
    out, cwd = box(code, level="bwrap", stdin_data=b"nonce-5d1c\n")
    assert out.status == "ok", out.stderr_tail
    cmdline, _, received = out.stdout_tail.rstrip("\n").rpartition("\n")     # the uid-drop prelude has newlines
    assert " --args " in cmdline and str(tmp_path) not in cmdline and str(cwd) not in cmdline
    assert received == "nonce-5d1c True"


def _accept(server):
    try:
        conn, _ = server.accept()
        conn.close()
        return "connected"
    except OSError:
        return None


@needs_bwrap
@needs_root
def test_a_fork_bomb_is_held_by_the_run_uid_and_its_processes_die_with_it(box):
    code = ("# fork-bomb-7f3e\nimport os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
            "            time.sleep(30)\n            os._exit(0)\n        n += 1\nexcept OSError:\n"
            "    print('held at', n, flush=True)\n")
    out, _ = box(code, level="bwrap", nproc=40)
    assert out.status == "ok" and out.stdout_tail.startswith("held at 3")
    time.sleep(0.3)
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _runs(p, "fork-bomb-7f3e")]


def _runs(proc: Path, marker: str) -> bool:
    """A live process whose command line holds ``marker``."""
    try:
        cmd = proc.joinpath("cmdline").read_bytes().decode(errors="replace")
        state = proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return marker in cmd and state != "Z"


@needs_root
def test_uid_drop_fallback_runs_as_a_uid_of_its_own_and_says_so(box, tmp_path, monkeypatch):
    """Where namespaces are refused (Gradescope), root drops to a run uid: held-back data stay unreadable.

    This machine's virtualenv lives under a 0700 home, which the run uid cannot enter (the fallback's
    probe says so); the system interpreter shows the fallback itself."""
    python = next((p for p in (sys.executable, "/usr/bin/python3") if probe_isolation(p)["uid-drop"][0]), None)
    if python is None:
        pytest.skip(f"no interpreter the run uid can start: {FOUND['uid-drop'][1]}")
    secret = tmp_path / "heldback"
    secret.mkdir(mode=0o700)
    (secret / "labels.txt").write_text("42")
    secret.chmod(0o700)
    monkeypatch.setenv(sandbox.ISOLATION_ENV, "uid-drop")
    level, notes = isolation(python=python)
    assert level == "uid-drop" and any("REDUCED ISOLATION" in n for n in notes)
    out, _ = box(f"import os\nprint(os.getuid())\ntry:\n    os.listdir({str(secret)!r}); print('READ')\n"
                 f"except PermissionError:\n    print('DENIED')\n", level="uid-drop", python=python)
    uid, verdict = out.stdout_tail.split()
    assert 200_000 <= int(uid) < 300_000 and verdict == "DENIED"


def test_no_sandbox_is_refused_unless_allowed(monkeypatch):
    monkeypatch.setattr(sandbox, "probe_isolation", lambda python=sys.executable: {
        "root": False, "bwrap": (False, "user namespaces refused"),
                        "uid-drop": (False, "not running as root")})
    with pytest.raises(SandboxUnavailable, match="pass --unsandboxed"):
        isolation()
    level, notes = isolation(allow_unsandboxed=True)
    assert level == "none" and notes[-1].startswith("UNSANDBOXED")
    monkeypatch.setenv(sandbox.ISOLATION_ENV, "chroot")
    with pytest.raises(SandboxUnavailable, match="choose one of bwrap, uid-drop, none"):
        isolation()


def test_the_cli_names_the_unsandboxed_flag_it_suggests():
    from grader.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["grade", "--unsandboxed"]).unsandboxed is True
    assert parser.parse_args(["gradescope", "--unsandboxed"]).unsandboxed is True


def test_gpu_devices_binds_exactly_the_visible_nvidia_nodes(tmp_path):
    dev = tmp_path / "dev"
    (dev / "nvidia-caps").mkdir(parents=True)
    for name in ("nvidia0", "nvidia1", "nvidia2", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset",
                 "nvidia-caps/nvidia-cap1", "sda", "kvm", "nvme0"):
        (dev / name).touch()
    names = lambda found: [str(Path(p).relative_to(dev)) for p in found]  # noqa: E731
    assert names(gpu_devices(str(dev))) == ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset",
                                            "nvidia0", "nvidia1", "nvidia2", "nvidia-caps/nvidia-cap1"]
    assert names(gpu_devices(str(dev), visible="1")) == ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools",
                                                         "nvidia-modeset", "nvidia1", "nvidia-caps/nvidia-cap1"]
    assert gpu_devices(str(dev), visible="") == [] and gpu_devices(str(tmp_path / "none")) == []


def test_overloaded_when_the_wall_clock_kill_meets_a_starved_run(monkeypatch, box):
    """A run killed by the backstop after waiting on the run queue is the grader's fault: status overloaded."""
    monkeypatch.setattr(sandbox, "_run_queue", lambda pids: (50.0, 1))
    monkeypatch.setattr(sandbox, "_cpu_of", lambda pids: 3.0)
    out, _ = box("while True: pass", wall_s=2, cpu_s=100)
    assert out.status == "overloaded" and any("overloaded" in n and "regrade" in n for n in out.notes)


@pytest.mark.parametrize("queued, cpu, runnable, threads, expected", [
    (50.0, 3.0, 1, 1, True),        # waited 50 s for a CPU, ran 3 s, one runnable thread: the machine was busy
    (0.2, 0.0, 0, 1, False),        # a sleeper: neither ran nor waited
    (0.5, 30.0, 2, 2, False),       # a busy loop that had the CPUs it asked for
    (80.0, 20.0, 300, 2, False),    # a fork bomb waiting for its own children
    (12.0, 10.0, 4, 2, True),
])
def test_starved_tells_the_machine_s_fault_from_the_submission_s(queued, cpu, runnable, threads, expected):
    assert sandbox.starved(queued, cpu, runnable, threads) is expected


@pytest.mark.parametrize("cpus, concurrent, expected", [
    (2, None, "2"), (2, "2", "1"), (2, "5", "1"), (16, None, "8"), (16, "4", "4"), (2, "junk", "2")])
def test_steps_share_the_cpus_among_submissions_graded_at_once(monkeypatch, tmp_path, cpus, concurrent, expected):
    monkeypatch.setattr(sandbox.os, "cpu_count", lambda: cpus)
    if concurrent is None:
        monkeypatch.delenv(sandbox.CONCURRENT_GRADES_ENV, raising=False)
    else:
        monkeypatch.setenv(sandbox.CONCURRENT_GRADES_ENV, concurrent)
    env = sandbox_env(tmp_path)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == expected
    assert sandbox.CONCURRENT_GRADES_ENV not in env      # the step sees only the thread count


@needs_root
def test_an_ordinary_user_gets_the_same_namespaces_through_a_user_namespace(tmp_path):
    """Grading as an ordinary user is no longer unisolated: bubblewrap builds the namespaces unprivileged."""
    import shutil
    import subprocess

    from grader.run.sandbox import bwrap_binary

    if not (shutil.which("setpriv") and os.path.exists("/usr/bin/python3") and bwrap_binary()):
        pytest.skip("needs setpriv, the system python3 and bubblewrap")
    if not all(os.stat(p).st_mode & 0o005 == 0o005 for p in (*REPO.parents, REPO, Path(bwrap_binary()).parent)):
        pytest.skip(f"an ordinary user cannot read this checkout ({REPO}) or the bubblewrap binary")
    tmp_path.chmod(0o777)
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\nfrom grader.run import sandbox\n"
        "level, _ = sandbox.isolation(python=sys.executable)\n"
        "d = Path(%r)\n"
        "out = sandbox.run_sandboxed([sys.executable, '-I', '-c', 'import os; print(os.getuid(), len(os.listdir(\"/proc\")))'],"
        " cwd=d, env=sandbox.sandbox_env('/sandbox/work'), limits=sandbox.Limits(wall_s=30), log_path=d / 'log',"
        " binds=sandbox.Binds(workdir=(str(d), '/sandbox/work')), level=level)\n"
        "print(level, out.status, out.stdout_tail.strip())\n") % (str(REPO), str(tmp_path))
    env = {"PATH": f"{os.path.dirname(bwrap_binary())}:/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups", "/usr/bin/python3", "-I",
                           "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    level, status, uid, _nproc = proc.stdout.split()
    assert (level, status, uid) == ("bwrap", "ok", "65534")
