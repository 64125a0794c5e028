"""Wall time and peak memory of each grading phase for one submission (default: the reference, cpu profile).

    .venv/bin/python benchmarks/grade_one.py [--profile cpu] [--submission PATH] [--visible-only]

Grades into build/bench/<id>/ (always afresh: no content-hash skip) and prints one
row per phase and per sandboxed step. Peak memory is the maximum resident set of
the processes of that phase (os.wait4 of each sandboxed step and of the check
process; the grader process itself for input preparation and reports). Goals
(the grader issue): a whole grade under 10 minutes on a 2-core machine, the
visible checks under 3 minutes.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--submission", help="submission folder (default: the reference solution)")
    parser.add_argument("--visible-only", action="store_true", help="time what `make check` runs")
    parser.add_argument("--out", default="build/bench")
    args = parser.parse_args()
    sub = batch.validate_submission(args.submission) if args.submission else batch.reference_submission()
    out = Path(args.out) / batch.submission_id(sub)
    start = time.perf_counter()
    summary = batch.grade_submission(sub, args.profile, out, force=True, visible_only=args.visible_only)
    total = time.perf_counter() - start
    meta = json.loads((out / "grade.json").read_text())
    ph = meta["phases"]
    print(f"{sub.name} on profile {args.profile}{' (visible only)' if args.visible_only else ''}: "
          f"{summary.score:g}/{summary.max_score:g} points, {total:.1f} s in all")
    print(f"{'phase':<28}{'wall s':>9}{'peak MiB':>10}")
    print(f"{'inputs (prepare, cached)':<28}{ph['inputs_s']:>9.1f}{ph['inputs_peak_mb']:>10.0f}")
    print(f"{'run (sandboxed steps)':<28}{ph['run_s']:>9.1f}{ph['run_peak_mb']:>10.0f}")
    for path in sorted((out / "artifacts" / "steps").glob("*.json"), key=lambda p: p.stat().st_mtime):
        st = json.loads(path.read_text())
        sb = st.get("sandbox") or {}
        print(f"  {st['step']:<26}{float(sb.get('wall_s') or 0):>9.1f}{float(sb.get('peak_rss_mb') or 0):>10.0f}"
              f"  {st['status']}")
    print(f"{'checks (trusted pytest)':<28}{ph['checks_s']:>9.1f}{ph['checks_peak_mb']:>10.0f}")
    print(f"{'summary + feedback':<28}{ph['report_s']:>9.1f}{ph['grader_peak_mb']:>10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
