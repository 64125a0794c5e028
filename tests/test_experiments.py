"""``grader experiments``: any submission's experiments, sandboxed, into the results JSON of docs/CONTRACTS.md.

The end-to-end runs use the smoke profile with one epoch per fit (TensorFlow fits of a few seconds);
everything else runs without a model.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader import cli
from grader.experiments import results as R
from grader.experiments.progress import MAX_LINE_CHARS, ProgressTail, printable
from grader.experiments.run import describe_failure, parts_for, run_experiments
from grader.profiles import get_profile

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "assignment" / "starter" / "submission"
NLI_KEYS = {"task", "mode", "profile", "model", "trainable_params", "total_params", "trainable_percent",
            "accuracy", "macro_f1", "per_class", "confusion_matrix", "history", "train_time_s",
            "examples_per_s", "peak_memory_mb", "n_train", "n_eval"}
METRIC_KEYS = {"pr_auc", "roc_auc", "base_rate", "pr_curve", "at_0.5", "best_f1"}


def one_epoch():
    """The smoke profile with one epoch per fit: the experiments' plumbing, not their numbers."""
    return get_profile("smoke").replace(nli={"epochs": 1}, fraud={"epochs": 1})


def submission(tmp_path: Path, **sources: Path) -> Path:
    """A submission folder whose ``submission/<name>.py`` are copies of ``sources``."""
    folder = tmp_path / "student"
    (folder / "submission").mkdir(parents=True)
    (folder / "submission" / "__init__.py").write_text("")
    for name, src in sources.items():
        shutil.copyfile(src, folder / "submission" / f"{name}.py")
    return folder


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("MIZAN_BUILD", str(tmp_path / "build"))
    return tmp_path / "build"


# ---------------------------------------------------------------------------------------------
# the graded reference does not depend on the harness


def test_the_reference_imports_nothing_of_mizan():
    """solutions/ is a submission like any other: no import of grader (the experiments least of all)."""
    found = []
    for path in sorted((ROOT / "solutions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("grader", "solutions", "tests")]
    assert found == []
    assert sorted(p.name for p in (ROOT / "solutions").glob("*.py")) == ["__init__.py", "adasyn.py", "fraud.py",
                                                                         "nli.py"]


# ---------------------------------------------------------------------------------------------
# end to end on the reference and on a partial submission


@pytest.mark.slow
def test_reference_writes_the_four_results_files_with_three_fraud_arms(build, tmp_path):
    from grader.batch import reference_submission

    lines: list[str] = []
    out = tmp_path / "out"
    outcome = run_experiments(reference_submission(build), one_epoch(), out, say=lines.append)

    assert [(p.label, p.status) for p in outcome.parts] == [
        ("nli full", "ok"), ("nli freeze", "ok"), ("nli lora", "ok"),
        ("fraud no_resampling", "ok"), ("fraud correct", "ok"), ("fraud leaky", "ok")]
    assert outcome.written == ["nli_full.json", "nli_freeze.json", "nli_lora.json", "fraud.json"]
    for mode, trainable in (("full", 1_630_883), ("freeze", 1_155), ("lora", 256 * 8 + 1_155)):
        record = json.loads((out / f"nli_{mode}.json").read_text())
        assert set(record) == NLI_KEYS
        assert (record["task"], record["mode"], record["model"], record["profile"]["nli"]["epochs"]) == (
            "nli", mode, "tiny-roberta", 1)
        assert record["trainable_params"] == trainable
        assert (record["n_train"], record["n_eval"], len(record["history"])) == (64, 48, 1)
        assert np.asarray(record["confusion_matrix"]).sum() == 48
        assert record["accuracy"] == pytest.approx(np.trace(record["confusion_matrix"]) / 48)
        assert record["examples_per_s"] == pytest.approx(64 / record["train_time_s"])
        assert record["peak_memory_mb"] > 0

    fraud = json.loads((out / "fraud.json").read_text())
    assert {"no_resampling", "correct", "leaky", "leaky_test", "class_counts", "adasyn", "history"} <= set(fraud)
    assert set(fraud["no_resampling"]) == set(fraud["correct"]) == set(fraud["leaky"]) == METRIC_KEYS
    # smoke: 3000 rows, 60 frauds; test 20 % stratified; 10 % of the training part held out for validation.
    counts = fraud["class_counts"]
    assert (counts["original"], counts["test"], counts["validation"], counts["train_before"]) == (
        {"0": 2940, "1": 60}, {"0": 588, "1": 12}, {"0": 235, "1": 5}, {"0": 2117, "1": 43})
    assert fraud["adasyn"]["G"] == 2117 - 43 and len(fraud["adasyn"]["r"]) == 43
    assert abs(counts["train_after"]["1"] - 43 - fraud["adasyn"]["G"]) <= 43 / 2
    tests = fraud["test_sets"]
    assert tests["no_resampling"] == tests["correct"] == {"rows": 600, "synthetic_rows": 0,
                                                          "class_counts": {"0": 588, "1": 12}}
    assert fraud["correct"]["base_rate"] == fraud["no_resampling"]["base_rate"] == pytest.approx(12 / 600)
    leaky = fraud["leaky_test"]
    assert leaky == tests["leaky"] and leaky["rows"] > 600
    assert 0.4 < leaky["synthetic_rows"] / leaky["rows"] < 0.55     # half the leaky test set is made up
    assert fraud["leaky"]["base_rate"] > 0.45
    assert len(fraud["history"]["loss"]) == 1 and "errors" not in fraud

    shown = "\n".join(lines)
    for label in ("nli full: epoch 1/1 trained", "nli lora: epoch 1/1 trained",
                  "fraud correct: epoch 1/1: loss", "fraud leaky: epoch 1/1: loss"):
        assert label in shown
    manifest = json.loads((out / "experiments.json").read_text())
    assert manifest["submission"] == "reference" and manifest["parts"]["fraud leaky"]["status"] == "ok"
    assert len(manifest["sources_sha256"]) == 64       # which files these numbers are of


@pytest.mark.slow
def test_an_unimplemented_fraud_py_is_reported_and_the_nli_part_still_runs(build, tmp_path):
    sub = submission(tmp_path, nli=ROOT / "solutions" / "nli.py", adasyn=ROOT / "solutions" / "adasyn.py",
                     fraud=STARTER / "fraud.py")
    out = tmp_path / "out"
    outcome = run_experiments(sub, one_epoch(), out, say=lambda line: None)

    status = {p.label: (p.status, p.message) for p in outcome.parts}
    assert [status[f"nli {m}"][0] for m in ("full", "freeze", "lora")] == ["ok", "ok", "ok"]
    for arm in ("no_resampling", "correct"):
        assert status[f"fraud {arm}"][0] == "not implemented"
        assert status[f"fraud {arm}"][1].startswith("not implemented: submission/fraud.py: split_then_resample")
    assert status["fraud leaky"][0] == "not implemented"
    assert status["fraud leaky"][1].startswith("not implemented: submission/fraud.py: fit")
    assert "FraudDetector.fit is not implemented yet" in status["fraud leaky"][1]
    assert outcome.written == ["nli_full.json", "nli_freeze.json", "nli_lora.json"]
    assert not (out / "fraud.json").exists()
    manifest = json.loads((out / "experiments.json").read_text())
    assert manifest["parts"]["fraud correct"]["status"] == "not implemented"


def test_a_part_sees_the_experiments_image_and_nothing_else_of_mizan(build, tmp_path):
    """The submission runs in the experiments image: no checks, tasks, oracles, generators or solutions."""
    probe = tmp_path / "probe_nli.py"
    probe.write_text(
        "import importlib\n"
        "found = []\n"
        "for name in ('grader.checks', 'grader.tasks', 'grader.oracles', 'grader.data', 'grader.summary',\n"
        "             'grader.experiments.run', 'solutions', 'grader.experiments.nli'):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "        found.append(name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "raise RuntimeError(f'importable: {found}')\n")
    sub = submission(tmp_path, nli=probe)
    outcome = run_experiments(sub, one_epoch(), tmp_path / "out", tasks=("nli",), say=lambda line: None)
    assert len(outcome.parts) == 3
    for part in outcome.parts:       # only the harness itself is there
        assert part.status == "error"
        assert part.message.endswith("importable: ['grader.experiments.nli']"), part.message
    assert outcome.written == []


def test_the_experiments_image_is_the_runner_image_plus_the_harness(tmp_path):
    from grader.experiments.run import IMAGE_MODULES
    from grader.run.image import RUNNER_FILES, build_runner_image

    image = build_runner_image(tmp_path, IMAGE_MODULES)
    files = sorted(p.relative_to(image).as_posix() for p in image.rglob("*") if p.is_file())
    assert files == sorted({*RUNNER_FILES, "grader/experiments/__init__.py", "grader/experiments/nli.py",
                            "grader/experiments/fraud.py", "grader/experiments/progress.py"})
    assert (image / "grader" / "experiments" / "__init__.py").read_text() == ""
    assert build_runner_image(tmp_path) != image        # the grading image is another folder, unchanged


def test_no_sandbox_and_no_permission_stops_before_anything_runs(build, tmp_path, monkeypatch):
    from grader.run.sandbox import SandboxUnavailable

    from grader.run import sandbox

    monkeypatch.delenv("MIZAN_ISOLATION", raising=False)
    monkeypatch.setattr(sandbox, "probe_isolation", lambda python=None: {
        "root": True, "bwrap": (False, "no user namespaces"), "uid-drop": (False, "setuid refused")})
    sub = submission(tmp_path, nli=STARTER / "nli.py")
    with pytest.raises(SandboxUnavailable, match="--unsandboxed"):
        run_experiments(sub, one_epoch(), tmp_path / "out", tasks=("nli",), say=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_cli_names_a_bad_creditcard_csv_and_exits_2(build, tmp_path, capsys):
    bad = tmp_path / "creditcard.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    code = cli.main(["experiments", "--profile", "smoke", "--tasks", "fraud", "--set", "fraud.source=csv",
                     "--set", f"fraud.data_path={bad}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("mizan: ") and str(bad) in err and "Traceback" not in err
    assert not (tmp_path / "out" / "fraud.json").exists()


def test_the_report_shows_the_submissions_own_experiments(build, tmp_path, monkeypatch):
    from grader.experiments.cli import experiments_dir
    from grader.report import cli as report_cli
    from grader.report import render

    sub = submission(tmp_path, nli=STARTER / "nli.py")
    graded = tmp_path / "graded"
    (graded / "summary").mkdir(parents=True)
    monkeypatch.setattr(report_cli, "find_graded", lambda *args, **kwargs: graded)
    shown = []
    monkeypatch.setattr(render, "build_report", lambda results, **kwargs: shown.append(results))
    args = cli.build_parser().parse_args(["report", "--profile", "smoke", "--submission", str(sub)])
    report_cli.run_report(args)
    ours = experiments_dir("student", "smoke")
    assert ours == build / "experiments" / "student" / "smoke"
    ours.mkdir(parents=True)
    (ours / "fraud.json").write_text("{}")
    report_cli.run_report(args)
    assert shown == [graded / "summary", ours]      # the graded summary until the experiments ran


# ---------------------------------------------------------------------------------------------
# pieces


def test_parts_run_in_task_order():
    assert [label for _, _, label in parts_for(("nli", "fraud"))] == [
        "nli full", "nli freeze", "nli lora", "fraud no_resampling", "fraud correct", "fraud leaky"]
    assert [sid for sid, _, _ in parts_for(("fraud",))] == [
        "experiments.fraud_no_resampling", "experiments.fraud_correct", "experiments.fraud_leaky"]


def test_failures_name_the_submissions_file_and_function():
    status = {"status": "error", "error_type": "NotImplementedError", "where": "fraud.build_cnn (line 25)",
              "message": "build_cnn is not implemented yet"}
    assert describe_failure(status, ("fraud.FraudDetector.fit",)) == (
        "not implemented", "not implemented: submission/fraud.py: build_cnn (line 25) (build_cnn is not implemented yet)")
    assert describe_failure({"status": "timeout", "message": "CPU-time limit of 490 s reached"},
                            ("nli.train",)) == (
        "timeout", "in submission/nli.py: train: CPU-time limit of 490 s reached")
    assert describe_failure({"status": "missing", "message": "submission/adasyn.py is missing"}, ()) == (
        "missing", "submission/adasyn.py is missing")


def test_progress_tail_prints_lines_of_a_regular_file_only(tmp_path):
    path = tmp_path / "steps" / "progress.txt"
    shown: list[str] = []
    with ProgressTail(path, shown.append, interval=0.01) as tail:
        path.parent.mkdir()
        path.write_text("nli full: epoch 1/2 trained\nnli full: \x1b[2Jepoch 2/2 trained\npartial")
        tail.poll()
        path.unlink()           # removed before the last look: the open descriptor still reads it
    assert shown == ["nli full: epoch 1/2 trained", "nli full: [2Jepoch 2/2 trained"]

    fifo = tmp_path / "fifo"
    import os

    os.mkfifo(fifo)
    seen: list[str] = []
    with ProgressTail(fifo, seen.append, interval=0.01):     # never opened for reading: no hang
        pass
    assert seen == []
    assert printable("a" * 1000) == "a" * MAX_LINE_CHARS


def test_progress_tail_follows_no_link_below_its_root(tmp_path):
    """A submission that swaps ``steps/`` for a link cannot make the trusted side read a file elsewhere."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "progress.txt").write_text("another run's line\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "steps").symlink_to(elsewhere)
    shown: list[str] = []
    with ProgressTail(out / "steps" / "progress.txt", shown.append, interval=0.01, root=out) as tail:
        tail.poll()
    assert shown == []
    (out / "steps").unlink()
    (out / "steps").mkdir()
    (out / "steps" / "progress.txt").write_text("nli lora: epoch 1/4 trained\n")
    with ProgressTail(out / "steps" / "progress.txt", shown.append, interval=0.01, root=out):
        pass
    assert shown == ["nli lora: epoch 1/4 trained"]


def test_fraud_arm_results_are_refused_when_labels_and_probabilities_disagree(tmp_path):
    art = tmp_path
    (art / "experiments").mkdir()
    (art / "experiments" / "fraud_correct.json").write_text(json.dumps(
        {"test": {"rows": 4, "synthetic_rows": 0, "class_counts": {"0": 2, "1": 2}}}))
    with open(art / "experiments" / "fraud_correct.npz", "wb") as fh:
        np.savez(fh, y_test=np.array([0, 1, 0, 1]), proba=np.array([0.1, 0.9, 0.2]))
    with pytest.raises(R.PartResultError, match="matching 1-D test labels"):
        R.fraud_arm(art, "correct")
    with open(art / "experiments" / "fraud_correct.npz", "wb") as fh:
        np.savez(fh, y_test=np.array([0, 1, 0, 1]), proba=np.array([0.1, 0.9, 0.2, 0.7]))
    arm = R.fraud_arm(art, "correct")
    assert arm["metrics"]["roc_auc"] == pytest.approx(1.0)
    assert arm["record"]["test"] == {"rows": 4, "synthetic_rows": 0, "class_counts": {"0": 2, "1": 2}}
    assert R.fraud_result(get_profile("smoke"), {"leaky": arm}, {"correct": "not implemented"}) is None
    result = R.fraud_result(get_profile("smoke"), {"correct": arm}, {"leaky": "not implemented: x"})
    assert (result["no_resampling"], result["leaky"], result["errors"]) == (None, None, {"leaky": "not implemented: x"})
    assert "leaky_test" not in result


def test_nli_predictions_must_be_one_label_per_evaluation_pair(tmp_path):
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "nli_full.json").write_text(json.dumps(
        {"trainable_params": 10, "total_params": 10, "history": [{"epoch": 1, "train_loss": 1.0}] * 5,
         "train_time_s": 2.0, "examples_per_s": 32.0, "peak_memory_mb": 100.0, "n_train": 32}))
    labels = np.array([0, 1, 2, 2])
    with open(tmp_path / "experiments" / "nli_full.npz", "wb") as fh:
        np.savez(fh, labels=np.array([0, 1, 2]))
    with pytest.raises(R.PartResultError, match="expected 4 label ids"):
        R.nli_result(tmp_path, get_profile("smoke"), "full", labels)
    with open(tmp_path / "experiments" / "nli_full.npz", "wb") as fh:
        np.savez(fh, labels=np.array([0, 1, 2, 0]))
    result = R.nli_result(tmp_path, get_profile("smoke"), "full", labels)
    assert set(result) == NLI_KEYS | {"history_malformed"}
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert len(result["history"]) == 2 and result["history_malformed"] == {"found": 5, "kept": 2}
