"""The sandbox: limits, process-group kill, output caps, scrubbed env, and (as root) namespaces + uid drop."""

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.run.orchestrate import REPO
from grader.run.sandbox import FsPlan, Limits, probe_capabilities, run_sandboxed, sandbox_env
from tests.mizan_demo import open_tmpdir

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="namespaces and the uid drop need root (CI runs as root)")


@pytest.fixture()
def tmp_path():
    """A temp folder the unprivileged user can reach (pytest's own tmp root is 0700)."""
    with open_tmpdir() as path:
        yield path


@pytest.fixture()
def box(tmp_path):
    def run(code: str, python: str = sys.executable, fs: FsPlan | None = None, **limits):
        cwd = tmp_path / f"cwd{len(list(tmp_path.glob('cwd*')))}"
        cwd.mkdir()
        cwd.chmod(0o755)
        lim = Limits(**{"wall_s": 20, "address_space_mb": 2048, **limits})
        out = run_sandboxed([python, "-I", "-c", code], cwd=cwd, env=sandbox_env(cwd), limits=lim,
                            log_path=tmp_path / "run.log", fs=fs, python=python, import_root=str(REPO))
        return out, cwd

    return run


def test_ok_and_exit_codes_and_signals(box):
    out, _ = box("print('hello')")
    assert (out.status, out.returncode, out.stdout_tail) == ("ok", 0, "hello\n")
    assert (box("import os; os._exit(3)")[0].status, box("import os; os._exit(3)")[0].returncode) == ("error", 3)
    crashed = box("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")[0]
    assert crashed.status == "crashed" and "SIGSEGV" in " ".join(crashed.notes)


def test_wall_clock_timeout_kills_the_group_and_escaped_grandchildren(box, tmp_path):
    code = ("import os, subprocess, sys, time\n"
            "p = subprocess.Popen(['sleep', '60'])\n"
            "q = subprocess.Popen(['sleep', '61'], start_new_session=True)\n"
            "open('pids', 'w').write(f'{p.pid} {q.pid}')\n"
            "while True: pass\n")
    start = time.monotonic()
    out, cwd = box(code, wall_s=3)
    assert out.status == "timeout" and 2.9 < out.wall_s < 8 and time.monotonic() - start < 15
    time.sleep(0.3)
    for pid in map(int, (cwd / "pids").read_text().split()):
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_output_is_capped_in_the_log_and_a_flood_is_killed(box, tmp_path):
    out, _ = box("import sys\nwhile True: sys.stdout.write('x' * 65536)", flood_bytes=8 << 20, log_bytes=10_000)
    assert out.status == "killed" and any("output flood" in n for n in out.notes)
    assert (tmp_path / "run.log").stat().st_size < 20_000
    assert len(out.stdout_tail) == 4000


def test_address_space_limit_turns_a_memory_bomb_into_memoryerror(box):
    out, _ = box("hoard = []\nwhile True: hoard.append(bytearray(64 << 20))", address_space_mb=1024)
    assert out.status == "error" and "MemoryError" in out.stderr_tail


def test_cpu_limit_stops_a_busy_loop(box):
    out, _ = box("while True: pass", wall_s=30, cpu_s=1)
    assert out.status == "timeout" and any("CPU-time limit" in n for n in out.notes)


def test_environment_is_scrubbed(box, monkeypatch):
    monkeypatch.setenv("MIZAN_SECRET_TOKEN", "hunter2")
    out, cwd = box("import os, json; print(json.dumps(dict(os.environ)))")
    import json

    env = json.loads(out.stdout_tail)
    assert "MIZAN_SECRET_TOKEN" not in env and env["HOME"] == str(cwd) and env["HF_HUB_OFFLINE"] == "1"


@needs_root
def test_no_network_read_only_fs_hidden_paths_and_uid_drop(box, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "labels.txt").write_text("42")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(5)
    port = server.getsockname()[1]
    got = []
    waiter = threading.Thread(target=lambda: got.append(_accept(server)), daemon=True)
    waiter.start()
    code = (f"import os, socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2); print('NET-OK')\n"
            f"except OSError as e: print('NET-FAIL', e.errno)\n"
            f"try:\n    open({str(REPO / 'grader' / 'VANDAL')!r}, 'w'); print('WRITE-OK')\n"
            f"except OSError as e: print('WRITE-FAIL', e.errno)\n"
            f"print('SECRET', os.listdir({str(secret)!r}))\n"
            f"open('mine.txt', 'w').write('ok'); print('UID', os.getuid())\n")
    home = os.path.realpath(os.path.expanduser("~"))
    hidden = (str(secret), home) if home != "/" else (str(secret),)
    expose = tuple(p for p in {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
                   if p.startswith(home + "/"))
    out, cwd = box(code, fs=FsPlan(hidden=hidden, expose=expose))
    caps = probe_capabilities(sys.executable, str(REPO), True, hidden, expose)
    assert out.status == "ok", out.stderr_tail
    lines = out.stdout_tail.splitlines()
    if caps["netns"]:
        waiter.join(10)
        assert lines[0].startswith("NET-FAIL") and got == [None]
    if caps["mountns"]:
        assert lines[1] == "WRITE-FAIL 30" and lines[2] == "SECRET []"   # EROFS; empty tmpfs
    assert not (REPO / "grader" / "VANDAL").exists()
    assert (cwd / "mine.txt").read_text() == "ok"
    uid = int(lines[3].split()[1])
    assert (200_000 <= uid < 300_000) if caps["drop_uid"] else uid == 0


def _accept(server):
    try:
        conn, _ = server.accept()
        conn.close()
        return "connected"
    except OSError:
        return None


@needs_root
def test_when_nobody_cannot_run_the_interpreter_it_runs_as_root_without_capabilities(box, tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    python = private / "python"
    python.symlink_to(sys.executable)   # nobody cannot traverse private/: the probe must notice
    code = ("import os\n"
            "print('UID', os.getuid())\n"
            "print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])\n"
            f"try:\n    open({str(REPO / 'grader' / 'VANDAL')!r}, 'w'); print('WRITE-OK')\n"
            f"except OSError as e: print('WRITE-FAIL', e.errno)\n")
    out, _ = box(code, python=str(python))
    assert out.status == "ok", out.stderr_tail
    assert any("running WITHOUT the uid drop" in n for n in out.notes)
    uid, capeff, write = out.stdout_tail.splitlines()
    assert (uid, capeff) == ("UID 0", "0000000000000000")
    assert not (REPO / "grader" / "VANDAL").exists()
    caps = probe_capabilities(str(python), str(REPO), True, (), ())
    if caps["mountns"]:
        assert write == "WRITE-FAIL 30"


@pytest.mark.parametrize("cpus, concurrent, expected", [
    (2, None, "2"), (2, "2", "1"), (2, "5", "1"), (16, None, "8"), (16, "4", "4"), (2, "junk", "2")])
def test_steps_share_the_cpus_among_submissions_graded_at_once(monkeypatch, tmp_path, cpus, concurrent, expected):
    from grader.run import sandbox

    monkeypatch.setattr(sandbox.os, "cpu_count", lambda: cpus)
    if concurrent is None:
        monkeypatch.delenv(sandbox.CONCURRENT_GRADES_ENV, raising=False)
    else:
        monkeypatch.setenv(sandbox.CONCURRENT_GRADES_ENV, concurrent)
    env = sandbox_env(tmp_path)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == expected
    assert sandbox.CONCURRENT_GRADES_ENV not in env      # the step sees only the thread count
