"""CPU and wall time of each grading phase and step for one submission, one after another and side by side.

    .venv/bin/python benchmarks/grade_one.py [--profile cpu] [--submission PATH] [--visible-only]
                                             [--schedule both|serial|parallel]

Grades into <build>/bench/<schedule>/<id>/ (always afresh: no content-hash skip) and prints one
row per phase and per sandboxed step: wall seconds, CPU seconds, peak memory, status. ``serial``
is the schedule before issue 17 (steps one after another, every CPU's threads each); ``parallel``
runs independent steps side by side, one CPU each (grader/run/schedule.py). ``both`` (default)
runs the two in one invocation, serial first, and prints the comparison. Peak memory is the
maximum resident set of the processes of that phase. Goal (issue 17): a whole grade on the cpu
profile in 5 minutes on a 2-core machine, full marks for the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from grader import batch  # noqa: E402
from grader.paths import build_dir  # noqa: E402


SCHEDULES = {"serial": 1, "parallel": None}     # step_width of grade_submission


def grade_once(sub: Path, profile: str, out_root: Path, schedule: str, visible_only: bool) -> float:
    out = out_root / schedule / batch.submission_id(sub)
    start = time.perf_counter()
    summary = batch.grade_submission(sub, profile, out, force=True, visible_only=visible_only,
                                     step_width=SCHEDULES[schedule])
    total = time.perf_counter() - start
    meta = json.loads((out / "grade.json").read_text())
    ph = meta["phases"]
    print(f"\n{schedule}: {sub.name} on profile {profile}{' (visible only)' if visible_only else ''}: "
          f"{summary.score:g}/{summary.max_score:g} points, {total:.1f} s in all")
    print(f"{'phase / step':<28}{'wall s':>9}{'cpu s':>9}{'peak MiB':>10}")
    print(f"{'inputs (prepare, cached)':<28}{ph['inputs_s']:>9.1f}{'':>9}{ph['inputs_peak_mb']:>10.0f}")
    print(f"{'run (sandboxed steps)':<28}{ph['run_s']:>9.1f}{ph.get('run_cpu_s', 0):>9.1f}{ph['run_peak_mb']:>10.0f}")
    for path in sorted((out / "artifacts" / "steps").glob("*.json"), key=lambda p: p.stat().st_mtime):
        st = json.loads(path.read_text())
        sb = st.get("sandbox") or {}
        print(f"  {st['step']:<26}{float(sb.get('wall_s') or 0):>9.1f}{float(sb.get('cpu_s') or 0):>9.1f}"
              f"{float(sb.get('peak_rss_mb') or 0):>10.0f}  {st['status']}")
    print(f"{'checks (trusted pytest)':<28}{ph['checks_s']:>9.1f}{'':>9}{ph['checks_peak_mb']:>10.0f}")
    print(f"{'summary + feedback':<28}{ph['report_s']:>9.1f}{'':>9}{ph['grader_peak_mb']:>10.0f}")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--submission", help="submission folder (default: the reference solution)")
    parser.add_argument("--visible-only", action="store_true", help="time what `make check` runs")
    parser.add_argument("--schedule", choices=("both", *SCHEDULES), default="both")
    parser.add_argument("--out", default=str(build_dir() / "bench"))
    args = parser.parse_args()
    sub = batch.validate_submission(args.submission) if args.submission else batch.reference_submission()
    names = list(SCHEDULES) if args.schedule == "both" else [args.schedule]
    totals = {name: grade_once(sub, args.profile, Path(args.out), name, args.visible_only) for name in names}
    if len(totals) == 2:
        print(f"\nwhole grade: serial {totals['serial']:.1f} s, side by side {totals['parallel']:.1f} s "
              f"({totals['serial'] / totals['parallel']:.2f}x) on {len(os.sched_getaffinity(0))} CPU(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
