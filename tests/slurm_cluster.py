"""A single-node Slurm on this machine for tests: munged, slurmctld and slurmd on localhost.

Built from Debian's ``slurm-wlm`` and ``munge`` (``.ci/run`` installs them) the way
single-node test clusters usually are (one ``NodeName=localhost``, one default
partition, ``proctrack/linuxproc`` and ``task/none`` so no cgroups are needed),
but with everything private: a fresh munge key and socket, free ports, and the
state, spool and logs in one temporary folder. Daemons are started in the
foreground and stopped by their own PIDs; the folder is removed afterwards.
Without slurmdbd there is no ``sacct``: job states come from ``squeue --json``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def _which(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in SBIN if os.access(f"{d}/{name}", os.X_OK)), None)


def missing_reason() -> str | None:
    """Why no test cluster can start here (None when one can)."""
    absent = [name for name in DAEMONS if _which(name) is None]
    if absent:
        return (f"Slurm is not installed ({', '.join(absent)} not found): "
                f"apt-get install -y slurm-wlm munge (as .ci/run does)")
    if os.geteuid() != 0:
        return "the test Slurm runs slurmd, which starts jobs, as root; run this test as root (as CI does)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mem_mb() -> int:
    with open("/proc/meminfo") as fh:
        kb = int(next(line.split()[1] for line in fh if line.startswith("MemTotal:")))
    return kb // 1024


class SlurmCluster:
    """``with SlurmCluster() as cluster:`` a running single-node Slurm; ``cluster.env`` is the
    environment its clients need (``SLURM_CONF``)."""

    def __init__(self, cpus: int | None = None, mem_mb: int | None = None):
        # slurmd would drain a node that has fewer CPUs or less memory than configured, unless the
        # configuration overrides the hardware (SlurmdParameters=config_overrides, set below).
        # Four CPUs at least: a task of a CPU profile asks for four (grader.slurm.resources).
        self.cpus = cpus or max(4, os.cpu_count() or 1)
        self.mem_mb = mem_mb or max(16384, _mem_mb())
        self.root: Path | None = None
        self.procs: dict[str, subprocess.Popen] = {}

    # -- set-up ---------------------------------------------------------------------------------

    def _write_config(self) -> Path:
        root = self.root
        user = pwd.getpwuid(os.geteuid()).pw_name
        conf = root / "slurm.conf"
        conf.write_text("\n".join([
            "ClusterName=mizantest",
            "SlurmctldHost=localhost(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            f"SlurmUser={user}",
            f"SlurmdUser={user}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={root / 'munge' / 'munge.sock'}",
            f"StateSaveLocation={root / 'state'}",
            f"SlurmdSpoolDir={root / 'spool'}",
            f"SlurmctldPidFile={root / 'slurmctld.pid'}",
            f"SlurmdPidFile={root / 'slurmd.pid'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/backfill",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "MailProg=/bin/true",
            "ReturnToService=2",
            "SlurmdParameters=config_overrides",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.mem_mb} State=UNKNOWN",
            "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
            ""]))
        return conf

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env={**os.environ, **self.env}, start_new_session=True)
        log.close()

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.root / "slurm.conf")} if self.root else {}

    def run(self, *argv: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """A Slurm client command against this cluster."""
        return subprocess.run([_which(argv[0]) or argv[0], *argv[1:]], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **self.env})

    def start(self) -> "SlurmCluster":
        self.root = Path(tempfile.mkdtemp(prefix="mizan-slurm-"))
        os.chmod(self.root, 0o755)
        for sub in ("state", "spool", "munge", "munge-key"):
            (self.root / sub).mkdir()
        os.chmod(self.root / "munge", 0o755)          # the socket's folder: clients must reach it
        os.chmod(self.root / "munge-key", 0o700)
        key = self.root / "munge-key" / "munge.key"
        subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True,
                       timeout=30)
        os.chmod(key, 0o400)
        self._write_config()
        try:
            munge = self.root / "munge"
            self._start("munged", [_which("munged"), "--foreground", "--force", f"--socket={munge / 'munge.sock'}",
                                   f"--key-file={key}", f"--log-file={munge / 'munged.log'}",
                                   f"--pid-file={munge / 'munged.pid'}", f"--seed-file={munge / 'munged.seed'}"])
            self._wait_for(lambda: (munge / "munge.sock").exists(), "munged's socket")
            self._start("slurmctld", [_which("slurmctld"), "-D"])
            self._start("slurmd", [_which("slurmd"), "-D", "-N", "localhost"])
            self._wait_for(self._node_idle, "the node to be idle in sinfo")
        except BaseException:
            self.stop()
            raise
        return self

    def _node_idle(self) -> bool:
        proc = self.run("sinfo", "--noheader", "--nodes=localhost", "--format=%T")
        return proc.returncode == 0 and proc.stdout.strip() == "idle"

    def _wait_for(self, ready, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"the test Slurm did not start: {', '.join(dead)} exited\n{self.log_tails()}")
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"the test Slurm did not start: no {what} after {START_TIMEOUT_S:g} s\n"
                           f"{self.log_tails()}")

    def log_tails(self, lines: int = 15) -> str:
        out = []
        for path in sorted(self.root.glob("*.log")) + sorted(self.root.glob("munge/*.log")) if self.root else []:
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(out)

    # -- queries --------------------------------------------------------------------------------

    def job_ids(self) -> set[str]:
        """Every job this cluster knows (array jobs by their array id)."""
        proc = self.run("squeue", "--json", "--states=all")
        if proc.returncode != 0:
            raise RuntimeError(f"squeue failed: {proc.stderr.strip()}")
        jobs = json.loads(proc.stdout).get("jobs", [])
        return {str(j.get("array_job_id") or j.get("job_id")) for j in jobs}

    # -- tear-down ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Cancel every job of this cluster, stop its daemons by PID, remove its folder."""
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            try:
                active = [j for j in self.job_ids()]
                if active:
                    self.run("scancel", *active)
                    deadline = time.monotonic() + STOP_TIMEOUT_S
                    while time.monotonic() < deadline and self._running_jobs():
                        time.sleep(0.5)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _running_jobs(self) -> bool:
        proc = self.run("squeue", "--json", "--states=all")
        if proc.returncode != 0:
            return False
        states = [str(j.get("job_state")) for j in json.loads(proc.stdout).get("jobs", [])]
        return any(s in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED") for s in states)

    def __enter__(self) -> "SlurmCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
