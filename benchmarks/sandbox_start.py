"""What the sandbox costs per step: start-up of a sandboxed interpreter at each isolation level.

    .venv/bin/python -m benchmarks.sandbox_start [--repeats 5]

Each level runs ``python -I -c "import numpy"`` (the smallest thing a step does)
``--repeats`` times, alternating levels so that a busy machine slows them alike,
and prints the median wall seconds and the overhead over ``none``. A grade runs
12 steps, so the overhead per submission is about 12 times the per-step figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from grader.run.sandbox import Binds, Limits, probe_isolation, run_sandboxed, sandbox_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    found = probe_isolation(sys.executable)
    levels = [lvl for lvl in ("bwrap", "uid-drop") if found[lvl][0]] + ["none"]
    times: dict[str, list[float]] = {lvl: [] for lvl in levels}
    with tempfile.TemporaryDirectory(prefix="mizan-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        for i in range(args.repeats):
            for level in levels:
                cwd = root / f"{level}-{i}"
                cwd.mkdir()
                cwd.chmod(0o755)
                binds = Binds(workdir=(str(cwd), "/sandbox/work"))
                start = time.perf_counter()
                out = run_sandboxed([sys.executable, "-I", "-c", "import numpy"], cwd=cwd,
                                    env=sandbox_env(binds.inside(cwd, level)), limits=Limits(wall_s=120),
                                    log_path=root / "log", binds=binds, level=level)
                if out.status != "ok":
                    print(f"{level}: {out.status} {out.stderr_tail[-300:]}", file=sys.stderr)
                    return 1
                times[level].append(time.perf_counter() - start)
    base = statistics.median(times["none"])
    for level in levels:
        med = statistics.median(times[level])
        print(f"{level:9s} median {med:6.3f} s  overhead {med - base:+6.3f} s per step "
              f"({args.repeats} runs: {', '.join(f'{t:.2f}' for t in times[level])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
