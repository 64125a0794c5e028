"""Grade the NLI gallery (tests/submissions/nli_*) and assert the exact set of failing checks.

Each faulty entry is the gallery base ``nli_correct`` with one realistic
mistake (marked ``MISTAKE`` in its file) and must fail the check that names
the mistake; where the mistake also breaks a second, independent property
(a trainable encoder layer is also visible in the trained weights), that check
is listed too and the reason is given next to it. Alternative-correct entries
must fail nothing.

The base ``nli_correct`` runs the real pipeline end to end: sandboxed steps
(``grader.run.orchestrate.run_step``), then the trusted check process over *all*
NLI checks (``--tasks nli``). Every other entry runs the same step functions and
the same check-phase plugin in this process (``tests/inprocess.py``): they are our
own code, and starting a sandbox and a check process for each would cost half a
minute of imports per entry for a second of work.
Only the steps whose code differs from ``nli_correct``'s are run for an entry
(compared top-level definition by definition, ``tests/gallery_support.py``);
the artifacts of the other steps are copied from ``nli_correct``'s own run,
which they would reproduce bit for bit (same code, same seed, same inputs), so
every check, including those reading several steps, is graded for every entry.
Smoke profile. Writes
``build/gallery_nli.md``.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from pathlib import Path

import pytest

from tests import gallery_support
from tests.gallery_support import GALLERY, REPO, StepDeps, run_steps, sandbox_dir
from tests.inprocess import run_checks_in_process, run_steps_in_process
BASE = "nli_correct"
TABLE = REPO / "build" / "gallery_nli.md"
ROWS = REPO / "build" / "gallery_nli"
PROFILE = "smoke"

_TRAIN = ("encode_pairs", "train", "predict", "_batch", "_learning_rate", "_evaluate")
# step -> (module, top-level names of submission/nli.py it calls)
STEP_DEPS: StepDeps = {
    "nli.params": ("nli", ("prepare_model", "_full", "_freeze", "_lora", "count_parameters")),
    "nli.lora_init": ("nli", ("prepare_model", "_lora")),
    "nli.encode": ("nli", ("encode_pairs",)),
    "nli.predict": ("nli", ("encode_pairs", "predict", "_batch")),
    "nli.train_freeze": ("nli", ("prepare_model", "_freeze", *_TRAIN)),
    "nli.train_lora": ("nli", ("prepare_model", "_lora", *_TRAIN)),
    "nli.train_full": ("nli", ("prepare_model", "_full", *_TRAIN)),
}

# submission -> (the check naming the mistake, the exact set of checks it must fail); (None, set()) = correct
EXPECTED: dict[str, tuple[str | None, set[str]]] = {
    "nli_correct": (None, set()),
    "nli_alt_modules_to_save": (None, set()),
    "nli_lora_b_random": ("nli.lora_zero_init", {"nli.lora_zero_init"}),
    # key is adapted instead of query: the trained key matrix moves, which the weight check sees too
    "nli_lora_wrong_modules": ("nli.lora_targets", {"nli.lora_targets", "nli.lora_weights"}),
    # peft raises NoMatchingPeftModuleError: there is no LoRA model to judge at all, nor to train
    "nli_lora_no_modules": ("nli.lora_targets", {
        "nli.lora_targets", "nli.lora_rank_alpha", "nli.lora_head_trainable", "nli.lora_frozen_base",
        "nli.lora_zero_init", "nli.lora_a_init", "nli.lora_weights", "nli.accuracy_lora", "nli.train_history"}),
    "nli_lora_head_frozen": ("nli.lora_head_trainable", {"nli.lora_head_trainable"}),
    "nli_lora_rank_ignored": ("nli.lora_rank_alpha", {"nli.lora_rank_alpha"}),
    "nli_lora_alpha_ignored": ("nli.lora_rank_alpha", {"nli.lora_rank_alpha"}),
    # the trainable encoder tensors do train: the bit-identity check after training sees them move
    "nli_freeze_layer_trainable": ("nli.freeze_trainable", {"nli.freeze_trainable", "nli.freeze_weights"}),
    "nli_freeze_embeddings_trainable": ("nli.freeze_trainable", {"nli.freeze_trainable", "nli.freeze_weights"}),
    "nli_freeze_head_partly_frozen": ("nli.freeze_trainable", {"nli.freeze_trainable"}),
    "nli_count_frozen_as_trainable": ("nli.count_parameters", {"nli.count_parameters"}),
    "nli_count_head_twice": ("nli.count_parameters", {"nli.count_parameters"}),
    "nli_encode_joined": ("nli.encode_pair", {"nli.encode_pair"}),
    "nli_encode_no_truncation": ("nli.encode_truncation", {"nli.encode_truncation"}),
    "nli_predict_one_label": ("nli.predict_argmax", {"nli.predict_argmax"}),
    # prepare_model is right; only the weights after training can show it (freeze and LoRA both)
    "nli_train_unfreezes": ("nli.freeze_weights", {"nli.freeze_weights", "nli.lora_weights"}),
    # the LoRA step trains the head only: no query/value weight moves, which only the weights after training show
    "nli_train_freezes_adapters": ("nli.lora_weights", {"nli.lora_weights"}),
}


def steps_to_run(name: str) -> list[str]:
    return gallery_support.steps_to_run(name, BASE, STEP_DEPS)


def _write_table() -> None:
    rows = sorted((json.loads(p.read_text()) for p in ROWS.glob("*.json")), key=lambda r: (r["kind"], r["name"]))
    lines = ["# NLI gallery: submission → failing checks (profile smoke)", "",
             "| submission | kind | names the mistake | expected to fail | failed | verdict | steps run (wall s) "
             "| checks (s) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        steps = ", ".join(f"{s.split('.', 1)[1]} {w:.1f}" for s, w in r["steps"].items())
        lines.append(f"| {r['name']} | {r['kind']} | {r['primary'] or '—'} | {', '.join(r['expected']) or '—'} | "
                     f"{', '.join(r['failed']) or '—'} | {'ok' if r['ok'] else 'MISMATCH'} | {steps} | "
                     f"{r['checks_s']:.1f} |")
    faulty = [r for r in rows if r["kind"] == "faulty"]
    correct = [r for r in rows if r["kind"] == "correct"]
    caught = sum(1 for r in faulty if r["primary"] in r["failed"] and r["ok"])
    lost = sum(r["points_lost"] for r in correct)
    lines += ["", f"Catch rate: {caught}/{len(faulty)} faulty submissions caught by the check that names the "
                  f"mistake, with exactly the expected set failing.",
              f"False failures: {lost:g} points lost over {len(correct)} correct submissions."]
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_gallery_lists_every_nli_submission():
    found = {p.name for p in GALLERY.glob("nli_*") if (p / "submission").is_dir()}
    assert found == set(EXPECTED)


def test_every_expected_check_exists_in_the_rubric():
    from grader.rubric import load_rubric

    ids = {e.id for e in load_rubric(tasks=["nli"])}
    for name, (primary, failing) in EXPECTED.items():
        assert failing <= ids and (primary is None or primary in failing), name


def test_skipped_steps_are_decided_by_code_differences():
    assert steps_to_run("nli_count_head_twice") == ["nli.params"]
    assert steps_to_run("nli_freeze_layer_trainable") == ["nli.params", "nli.train_freeze"]
    assert steps_to_run("nli_lora_b_random") == ["nli.params", "nli.lora_init", "nli.train_lora"]
    assert steps_to_run("nli_encode_joined") == ["nli.encode", "nli.predict", "nli.train_freeze",
                                                 "nli.train_lora", "nli.train_full"]
    assert steps_to_run("nli_predict_one_label") == ["nli.predict", "nli.train_freeze", "nli.train_lora",
                                                     "nli.train_full"]
    assert steps_to_run(BASE) == list(STEP_DEPS)


@pytest.fixture(scope="session")
def base_artifacts(smoke_inputs):
    """``nli_correct`` graded once (all steps); shared by parallel workers through a lock in build/."""
    done = ROWS / "_base" / "manifest.json"
    ROWS.mkdir(parents=True, exist_ok=True)
    stamp = json.dumps({name: (GALLERY / BASE / "submission" / name).read_text()
                        for name in ("nli.py", "__init__.py")} | {"steps": sorted(STEP_DEPS)})
    with open(ROWS / ".base.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file() and (ROWS / "_base" / "stamp.json").is_file() and \
                (ROWS / "_base" / "stamp.json").read_text() == stamp:
            return ROWS / "_base"
        shutil.rmtree(ROWS / "_base", ignore_errors=True)
        root = sandbox_dir("mizan-nli-base-")
        try:
            art, manifest, _walls = run_steps(BASE, "nli", list(STEP_DEPS), smoke_inputs, root, PROFILE)
            shutil.copytree(art, ROWS / "_base")
            (ROWS / "_base" / "manifest.json").write_text(json.dumps(manifest))
            (ROWS / "_base" / "stamp.json").write_text(stamp)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return ROWS / "_base"


def _copy_skipped(base: Path, art: Path, manifest: dict, selected: list[str]) -> None:
    """Artifacts and statuses of the steps not re-run, from the base's run (identical code and inputs)."""
    base_manifest = json.loads((base / "manifest.json").read_text())
    for rel, step_id in base_manifest.items():
        if step_id not in selected:
            (art / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(base / rel, art / rel)
            manifest[rel] = step_id
    (art / "steps").mkdir(exist_ok=True)
    for step_id in STEP_DEPS:
        if step_id not in selected:
            shutil.copyfile(base / "steps" / f"{step_id}.json", art / "steps" / f"{step_id}.json")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gallery_entry_fails_exactly_the_named_checks(name, smoke_inputs, base_artifacts):
    from grader.profiles import get_profile
    from grader.checks.launcher import run_checks

    selected = steps_to_run(name)
    root = sandbox_dir("mizan-nli-gallery-")
    log = ""
    try:
        if name == BASE:        # end to end: its steps ran sandboxed (base_artifacts), its checks in their process
            art, walls = root / "artifacts", {}
            shutil.copytree(base_artifacts, art)
            started = time.perf_counter()
            results = run_checks(art, smoke_inputs[1], get_profile(PROFILE), root / "checks.json", tasks=("nli",),
                                 log_path=root / "run.log").results
            log = (root / "run.log").read_text()[-3000:]
        else:
            art, manifest, walls = run_steps_in_process(name, "nli", selected, smoke_inputs, root, PROFILE)
            _copy_skipped(base_artifacts, art, manifest, selected)
            (art / "manifest.json").write_text(json.dumps(manifest))
            started = time.perf_counter()
            results = run_checks_in_process(art, smoke_inputs[1], PROFILE, root / "checks.json", tasks=("nli",))
        checks_s = time.perf_counter() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert results is not None, log
    graded = results["checks"]
    failed = sorted(c["name"] for c in graded if c["status"] != "passed")
    primary, expected_set = EXPECTED[name]
    expected = sorted(expected_set)
    row = {"name": name, "kind": "faulty" if expected else "correct", "primary": primary, "expected": expected,
           "failed": failed, "ok": failed == expected, "steps": walls, "checks_s": checks_s,
           "points_lost": sum(c["points"] - c["earned"] for c in graded)}
    (ROWS / f"{name}.json").write_text(json.dumps(row))
    with open(ROWS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_table()
    messages = {c["name"]: c["message_en"][:600] for c in graded if c["status"] != "passed"}
    assert failed == expected, f"{name}: expected {expected} to fail, found {failed}: {messages}\n{log}"
