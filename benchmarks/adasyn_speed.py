"""Speed and memory of the reference ADASYN against imbalanced-learn's, on the full-size frame.

    .venv/bin/python -m benchmarks.adasyn_speed [--repeats 7] [--rows 284807] [--fraud 492]

Both samplers run in the same process on the same generated 284,807 x 30 frame
(492 frauds, beta = 1, k = 5), alternating so that a busy machine slows both
alike. Reported: the median wall time of each, the ratio ours / imblearn (goal
<= 1.0), and each one's peak traced memory (tracemalloc, measured in separate
runs because tracing slows allocation). numpy registers its buffers with
tracemalloc; scikit-learn's C-level scratch buffers are not traced, and they are
the same for both, since both call ``NearestNeighbors`` with the same queries.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc


def _samplers(seed: int):
    from imblearn.over_sampling import ADASYN as ImbADASYN

    from solutions.adasyn import ADASYN

    return {
        "ours": lambda: ADASYN(beta=1.0, k=5, random_state=seed),
        "imblearn": lambda: ImbADASYN(sampling_strategy="auto", n_neighbors=5, random_state=seed),
    }


def _time_once(make, X, y) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    X_res, _ = make().fit_resample(X, y)
    elapsed = time.perf_counter() - start
    return elapsed, len(X_res)


def _peak_mb(make, X, y) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        X_res, y_res = make().fit_resample(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del X_res, y_res
    return peak / 2**20


def run(rows: int, fraud: int, repeats: int, seed: int) -> dict:
    from grader.data.fraud import generate_creditcard, split_xy

    X, y = split_xy(generate_creditcard(rows, fraud, seed=seed))
    samplers = _samplers(seed)
    for make in samplers.values():  # warm-up: imports, first-touch of pages
        _time_once(make, X, y)

    times: dict[str, list[float]] = {name: [] for name in samplers}
    sizes: dict[str, int] = {}
    for i in range(repeats):
        names = list(samplers) if i % 2 == 0 else list(reversed(samplers))
        for name in names:
            elapsed, n = _time_once(samplers[name], X, y)
            times[name].append(elapsed)
            sizes[name] = n

    peak = {name: _peak_mb(make, X, y) for name, make in samplers.items()}
    median = {name: statistics.median(t) for name, t in times.items()}
    return {
        "rows": rows, "features": X.shape[1], "frauds": fraud, "beta": 1.0, "k": 5,
        "repeats": repeats, "output_rows": sizes,
        "median_s": median, "times_s": times,
        "ratio_ours_over_imblearn": median["ours"] / median["imblearn"],
        "peak_traced_mb": peak,
        "input_mb": X.nbytes / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=284_807)
    parser.add_argument("--fraud", type=int, default=492)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    result = run(args.rows, args.fraud, args.repeats, args.seed)
    print(f"ADASYN on {result['rows']:,} x {result['features']} ({result['frauds']} frauds, beta=1, k=5), "
          f"{result['repeats']} repeats each, alternating")
    print(f"{'':10s}{'median s':>10s}{'min s':>9s}{'max s':>9s}{'peak MB':>10s}{'rows out':>11s}")
    for name in ("ours", "imblearn"):
        t = result["times_s"][name]
        print(f"{name:10s}{result['median_s'][name]:10.3f}{min(t):9.3f}{max(t):9.3f}"
              f"{result['peak_traced_mb'][name]:10.1f}{result['output_rows'][name]:11,d}")
    ratio = result["ratio_ours_over_imblearn"]
    print(f"ratio ours/imblearn (median): {ratio:.3f}  (goal <= 1.0: {'met' if ratio <= 1.0 else 'NOT met'})")
    print(f"input X: {result['input_mb']:.1f} MB")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
