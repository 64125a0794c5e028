"""Run one step inside the sandbox and record how it ended.

Started by :mod:`grader.run.orchestrate` as ``python -I -B /opt/mizan/grader/run/step_main.py
--step ID --submission /sandbox/run --inputs /sandbox/inputs --out /sandbox/out --profile P``,
from the step runner's image (:mod:`grader.run.image`), the only part of Mizan the sandbox
holds. ``-I`` keeps ``PYTHON*`` variables, the user site and the script's folder out of
``sys.path``; this file then puts exactly two folders on it: the image's root (for the
runner's ``grader``) and the run dir (for the copied ``submission`` package).
Every exception of the step, ``SystemExit`` and ``KeyboardInterrupt``
included, becomes ``steps/<ID>.json``; what kills the process (``os._exit``,
a signal, a limit) is recorded from outside by the orchestrator.
"""

from __future__ import annotations

import sys
from pathlib import Path

GRADER_ROOT = Path(__file__).resolve().parents[2]


def _where(tb, submission_dir: Path) -> str:
    """``module.function`` of the innermost traceback frame inside the submission (or '')."""
    import traceback

    sub = str((submission_dir / "submission").resolve())
    where = ""
    for frame in traceback.extract_tb(tb):
        if frame.filename.startswith(sub):
            module = Path(frame.filename).stem
            where = f"{module}.{frame.name}" if frame.name != "<module>" else f"submission/{module}.py"
            where += f" (line {frame.lineno})"
    return where


def failure_record(err: BaseException, run_dir: Path) -> dict:
    """How a step that raised ``err`` ended: ``missing`` for an absent API, else ``error`` with the
    exception, the submission's innermost line and the traceback (``SystemExit`` is the student's too)."""
    import traceback

    from grader.run.step_api import MissingAPI

    if isinstance(err, MissingAPI):
        return {"status": "missing", "error_type": "MissingAPI", "message": str(err)}
    return {"status": "error", "error_type": type(err).__name__,
            "message": (str(err) if not isinstance(err, SystemExit)
                        else f"SystemExit({err.code!r}) raised: the submission called sys.exit"),
            "where": _where(err.__traceback__, run_dir),
            "traceback": "".join(traceback.format_exception(err))[-4000:]}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="step_main")
    parser.add_argument("--step", required=True)
    parser.add_argument("--submission", required=True, help="run dir holding submission/")
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--profile-json", default=None,
                        help="the effective profile's values (Profile.to_dict), written by the trusted side")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        help="extra module registering steps (tests)")
    parser.add_argument("--nonce-stdin", action="store_true",
                        help="read a nonce from stdin before anything else and sign the status with it")
    args = parser.parse_args(argv)
    # Read before any student code runs; the orchestrator accepts only a status carrying it, so a
    # submission that writes a status file itself and then os._exit()s is seen as crashed.
    nonce = sys.stdin.readline().strip() if args.nonce_stdin else ""

    run_dir = Path(args.submission).resolve()
    for path in (str(run_dir), str(GRADER_ROOT)):
        while path in sys.path:
            sys.path.remove(path)
    sys.path[0:0] = [str(GRADER_ROOT), str(run_dir)]

    import json
    import os
    import time

    from grader.atomic import write_text_atomic
    from grader.profiles import Profile, get_profile
    from grader.run.step_api import StepContext, get_step, load_step_modules

    out = Path(args.out)
    status_path = out / "steps" / f"{args.step}.json"
    status_path.parent.mkdir(parents=True, exist_ok=True)
    record = {"step": args.step, "status": "ok", "error_type": None, "message": "", "where": "",
              "wall_s": 0.0}
    start = time.perf_counter()
    ctx = None
    try:
        load_step_modules(args.imports)
        spec = get_step(args.step)
        profile = (Profile.from_dict(json.loads(args.profile_json)) if args.profile_json
                   else get_profile(args.profile))
        seed = args.seed if args.seed is not None else 0
        ctx = StepContext(inputs=Path(args.inputs), out=out, profile=profile, seed=seed,
                          submission_dir=run_dir, step_id=args.step)
        spec.func(ctx)
    except BaseException as err:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are the student's too
        record.update(failure_record(err, run_dir))
    record["wall_s"] = round(time.perf_counter() - start, 3)
    record["nonce"] = nonce
    if ctx is not None:
        record["written"] = ctx.written
    try:
        text = json.dumps(record, ensure_ascii=False, default=str)
    except Exception:  # noqa: BLE001 - a message that cannot even be encoded
        record["message"] = repr(record["message"])[:2000]
        text = json.dumps(record, ensure_ascii=True, default=str)
    write_text_atomic(status_path, text)
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave at once: atexit hooks, threads or __del__ of the student's objects run no more code.
    os._exit(0)


if __name__ == "__main__":
    main()
