"""Grade the fraud gallery (tests/submissions/fraud_*) and assert the exact set of failing checks.

Each faulty submission carries one realistic mistake and must fail exactly the
checks listed for it: the one that names it, and any other whose title the same
mistake makes false (DESIGN.md, "No vacuous passes"); each alternative-correct
one must fail nothing.
Every entry is a copy of ``fraud_correct`` with one change, so only the steps
whose code differs from ``fraud_correct`` are run for it (TensorFlow steps are
the slow ones): the code a skipped step calls is compared with
``fraud_correct``'s, top-level definition by definition
(``tests/gallery_support.py``), and ``fraud_correct`` itself runs every step. Checks of skipped steps are therefore exactly
``fraud_correct``'s (all passed) and are left out of the comparison.

``fraud_correct`` runs through the real pipeline: sandboxed steps
(``grader.run.orchestrate``), then the trusted check process (``--tasks fraud``).
Every other entry runs the same step functions and the same check-phase plugin
in this process (``tests/inprocess.py``): they are our own code, and a sandbox
and a check process each would cost half a minute of imports per entry for a
second of work. Smoke profile. Writes the table to ``build/gallery_fraud.md``.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time

import pytest

from tests import gallery_support
from tests.gallery_support import GALLERY, REPO, StepDeps, run_steps, sandbox_dir
from tests.inprocess import run_checks_in_process, run_steps_in_process
BASE = "fraud_correct"
TABLE = REPO / "build" / "gallery_fraud.md"
ROWS = REPO / "build" / "gallery_fraud"
PROFILE = "smoke"

# step -> (module, top-level names it calls)
STEP_DEPS: StepDeps = {
    "fraud.adasyn_cases": ("adasyn", ("ADASYN",)),
    "fraud.adasyn_errors": ("adasyn", ("ADASYN",)),
    "fraud.split": ("fraud", ("split_then_resample",)),
    "fraud.cnn_arch": ("fraud", ("build_cnn",)),
    "fraud.detector": ("fraud", ("build_cnn", "FraudDetector")),
}

# submission -> the exact set of checks it must fail (empty: an alternative-correct submission)
EXPECTED: dict[str, set[str]] = {
    "fraud_correct": set(),
    "fraud_alt_floor_rounding": set(),
    "fraud_alt_plain_python": set(),
    "fraud_alt_functional_cnn": set(),
    "fraud_adasyn_self_neighbour": {"adasyn.r"},
    "fraud_adasyn_r_not_normalised": {"adasyn.r_hat"},
    "fraud_adasyn_G_majority": {"adasyn.G"},
    "fraud_adasyn_majority_neighbours": {"adasyn.segments"},
    "fraud_adasyn_lambda_range": {"adasyn.segments"},
    "fraud_adasyn_replaces_originals": {"adasyn.originals_first"},
    "fraud_adasyn_ignores_threshold": {"adasyn.threshold"},
    "fraud_adasyn_no_validation": {"adasyn.errors"},
    "fraud_adasyn_no_synthesis": {"adasyn.synthetic_count", "adasyn.segments", "adasyn.per_sample_counts",
                                  "adasyn.threshold", "adasyn.reproducible"},  # every check of the rows: none
    # the leak: the sampler saw test rows, which are then resampled (and, before the split, shared with training)
    "fraud_split_oversample_before": {"split.sampler_train_only", "split.test_original", "split.disjoint"},
    "fraud_split_oversample_both": {"split.sampler_train_only", "split.test_original"},
    "fraud_split_unstratified": {"split.stratified"},
    "fraud_split_test_scaled": {"split.test_original"},
    "fraud_cnn_no_second_dense": {"cnn.layers"},
    "fraud_cnn_no_maxpool": {"cnn.layers"},
    "fraud_cnn_dropout_rates": {"cnn.dropout"},
    "fraud_cnn_learning_rate": {"cnn.optimizer"},
    "fraud_majority_only": {"fraud.pr_auc", "fraud.recall"},   # both metric checks name this mistake
}


def check_step(check_id: str) -> str:
    """The step whose artifacts a check reads."""
    if check_id == "adasyn.errors":
        return "fraud.adasyn_errors"
    return {"adasyn": "fraud.adasyn_cases", "split": "fraud.split", "cnn": "fraud.cnn_arch",
            "fraud": "fraud.detector"}[check_id.split(".")[0]]


def steps_to_run(name: str) -> list[str]:
    return gallery_support.steps_to_run(name, BASE, STEP_DEPS)


def _write_table() -> None:
    rows = sorted((json.loads(p.read_text()) for p in ROWS.glob("*.json")), key=lambda r: (r["kind"], r["name"]))
    lines = ["# Fraud gallery: submission → failing checks (profile smoke)", "",
             "| submission | kind | expected to fail | failed | verdict | steps run (wall s) | checks (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        steps = ", ".join(f"{s.split('.')[1]} {w:.1f}" for s, w in r["steps"].items())
        lines.append(f"| {r['name']} | {r['kind']} | {', '.join(r['expected']) or '—'} | "
                     f"{', '.join(r['failed']) or '—'} | {'ok' if r['ok'] else 'MISMATCH'} | {steps} | "
                     f"{r['checks_s']:.1f} |")
    faulty = [r for r in rows if r["kind"] == "faulty"]
    correct = [r for r in rows if r["kind"] == "correct"]
    caught = sum(1 for r in faulty if r["failed"] == r["expected"])
    lost = sum(r["points_lost"] for r in correct)
    lines += ["", f"Catch rate: {caught}/{len(faulty)} faulty submissions caught by exactly the check(s) "
                  f"that name the mistake.",
              f"False failures: {lost:g} points lost over {len(correct)} correct submissions."]
    TABLE.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def sandbox_tmp():
    path = sandbox_dir("mizan-gallery-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_gallery_lists_every_fraud_submission():
    found = {p.name for p in GALLERY.glob("fraud_*") if (p / "submission").is_dir()}
    assert found == set(EXPECTED)


def test_skipped_steps_are_decided_by_code_differences():
    assert steps_to_run("fraud_adasyn_G_majority") == ["fraud.adasyn_cases", "fraud.adasyn_errors"]
    assert steps_to_run("fraud_split_unstratified") == ["fraud.split"]
    assert steps_to_run("fraud_cnn_learning_rate") == ["fraud.cnn_arch", "fraud.detector"]
    assert steps_to_run("fraud_majority_only") == ["fraud.detector"]


@pytest.mark.slow
@pytest.mark.tf
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gallery_entry_fails_exactly_the_named_checks(name, smoke_inputs, sandbox_tmp):
    from grader.profiles import get_profile
    from grader.checks.launcher import run_checks

    profile = get_profile(PROFILE)
    heldback = smoke_inputs[1]
    selected = steps_to_run(name)
    tmp_path = sandbox_tmp
    work = tmp_path / "work"
    end_to_end = name == BASE           # sandboxed steps and the check process; the others in this process
    run = run_steps if end_to_end else run_steps_in_process
    art, manifest, walls = run(name, "fraud", selected, smoke_inputs, tmp_path, PROFILE)
    (art / "manifest.json").write_text(json.dumps(manifest))
    started = time.perf_counter()
    if end_to_end:
        results = run_checks(art, heldback, profile, tmp_path / "checks.json", tasks=("fraud",),
                             log_path=work / "run.log").results
    else:
        results = run_checks_in_process(art, heldback, PROFILE, tmp_path / "checks.json", tasks=("fraud",))
    checks_s = time.perf_counter() - started
    log = (work / "run.log").read_text()[-2000:] if (work / "run.log").is_file() else ""
    assert results is not None, log
    graded = [c for c in results["checks"] if check_step(c["name"]) in selected]
    failed = sorted(c["name"] for c in graded if c["status"] != "passed")
    expected = sorted(EXPECTED[name])
    assert set(expected) <= {c["name"] for c in graded}, f"{name}: a step that catches it did not run"
    ROWS.mkdir(parents=True, exist_ok=True)
    row = {"name": name, "kind": "faulty" if expected else "correct", "expected": expected, "failed": failed,
           "ok": failed == expected, "steps": walls, "checks_s": checks_s,
           "points_lost": sum(c["points"] - c["earned"] for c in graded)}
    (ROWS / f"{name}.json").write_text(json.dumps(row))
    with open(ROWS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_table()
    messages = {c["name"]: c["message_en"] for c in graded if c["status"] != "passed"}
    assert failed == expected, f"{name}: expected {expected} to fail, found {failed}: {messages}\n{log}"
