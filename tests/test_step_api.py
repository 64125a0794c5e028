"""The untrusted side's API: safe writers, registration, and the step runner's status records."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.profiles import get_profile
from grader.run import step_api
from grader.run.intake import copy_api_modules
from grader.run.orchestrate import REPO
from grader.run.step_api import MissingAPI, StepContext, UnsafeArtifact
from tests.mizan_demo import HERE as DEMO, STEP_MODULE, prepare_demo_inputs


@pytest.fixture()
def ctx(tmp_path):
    return StepContext(inputs=tmp_path / "in", out=tmp_path / "out", profile=get_profile("smoke"), seed=0,
                       submission_dir=tmp_path / "run")


@pytest.mark.parametrize("rel", ["../escape.json", "/abs.json", "a/../../b.json", "model.pkl", "x.npy"])
def test_writers_refuse_paths_outside_and_unsafe_types(ctx, rel):
    with pytest.raises(UnsafeArtifact):
        ctx.write_json(rel, {"a": 1})


def test_write_npz_refuses_object_arrays_and_keeps_numbers(ctx):
    with pytest.raises(UnsafeArtifact, match="dtype object"):
        ctx.write_npz("t/a.npz", bad=np.array([{"x": 1}], dtype=object))
    path = ctx.write_npz("t/a.npz", good=np.arange(3))
    with np.load(path, allow_pickle=False) as data:
        assert data["good"].tolist() == [0, 1, 2]
    assert ctx.written == ["t/a.npz"]


def test_write_json_makes_plain_values_so_no_custom_eq_survives(ctx):
    class Liar(int):
        def __eq__(self, other):
            return True
        __hash__ = int.__hash__

    path = ctx.write_json("t/a.json", {"n": Liar(3), "arr": np.arange(2), "f": np.float32(0.5), "t": (1, 2)})
    assert json.loads(path.read_text()) == {"n": 3, "arr": [0, 1], "f": 0.5, "t": [1, 2]}
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        ctx.write_json("t/b.json", {"x": object()})


def test_write_text_accepts_only_json_and_safetensors_round_trip(ctx):
    with pytest.raises(UnsafeArtifact, match="must be JSON"):
        ctx.write_text("t/model.json", "not json")
    ctx.write_text("t/model.json", '{"class_name": "Sequential"}')
    from safetensors.numpy import load_file

    path = ctx.write_safetensors("t/w.safetensors", {"w": np.eye(2, dtype=np.float32)})
    assert load_file(str(path))["w"].tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_module_reports_a_missing_file_or_function_as_missing(tmp_path):
    copy_api_modules(DEMO / "honest", tmp_path / "run")
    ctx = StepContext(inputs=tmp_path, out=tmp_path / "out", profile=get_profile("smoke"), seed=0,
                      submission_dir=tmp_path / "run")
    with pytest.raises(MissingAPI, match="submission/fraud.py is missing"):
        ctx.module("fraud")
    sys.path.insert(0, str(tmp_path / "run"))
    try:
        with pytest.raises(MissingAPI, match="submission/nli.py has no 'prepare_model'"):
            ctx.module("nli").prepare_model
    finally:
        sys.path.remove(str(tmp_path / "run"))
        for name in [m for m in sys.modules if m == "submission" or m.startswith("submission.")]:
            del sys.modules[name]


def test_registration_keeps_definition_order_and_refuses_a_second_owner():
    @step_api.step("zz.first", task="zz")
    def first(ctx):
        pass

    @step_api.step("zz.second", task="zz", visible=True)
    def second(ctx):
        pass

    try:
        assert [s.id for s in step_api.all_steps(tasks=("zz",))] == ["zz.first", "zz.second"]
        assert step_api.get_step("zz.second").visible is True
        with pytest.raises(ValueError, match="registered twice"):
            step_api.step("zz.first", task="zz")(second)
    finally:
        step_api.unregister("zz.first")
        step_api.unregister("zz.second")


def run_step_main(tmp_path, sub_files: dict, step_id: str) -> dict:
    sub = tmp_path / "sub"
    for name, text in sub_files.items():
        (sub / "submission").mkdir(parents=True, exist_ok=True)
        (sub / "submission" / name).write_text(text)
    run_dir = tmp_path / "run"
    copy_api_modules(sub, run_dir)
    inputs, _ = prepare_demo_inputs(tmp_path / "in", tmp_path / "hb")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-I", "-B", str(REPO / "grader/run/step_main.py"), "--step", step_id,
                           "--submission", str(run_dir), "--inputs", str(inputs), "--out", str(out),
                           "--profile", "smoke", "--import", STEP_MODULE], cwd=tmp_path, capture_output=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return json.loads((out / "steps" / f"{step_id}.json").read_text())


HONEST_NLI = (DEMO / "honest" / "submission" / "nli.py").read_text()


def test_step_main_records_ok_and_what_was_written(tmp_path):
    status = run_step_main(tmp_path, {"nli.py": HONEST_NLI}, "demo.count")
    assert status["status"] == "ok" and status["written"] == ["demo/count.json"]
    assert json.loads((tmp_path / "out" / "demo" / "count.json").read_text()) == {"trainable": 22, "total": 26}


@pytest.mark.parametrize("files, kind, error_type, where", [
    ({"nli.py": "def count_parameters(model):\n    raise NotImplementedError\n"},
     "error", "NotImplementedError", "nli.count_parameters (line 2)"),
    ({"nli.py": "import sys\nsys.exit(3)\n"}, "error", "SystemExit", "submission/nli.py (line 2)"),
    ({"nli.py": "x = 1\n"}, "missing", "MissingAPI", ""),
    ({"adasyn.py": "x = 1\n"}, "missing", "MissingAPI", ""),
])
def test_step_main_turns_every_exception_into_a_status(tmp_path, files, kind, error_type, where):
    status = run_step_main(tmp_path, files, "demo.count")
    assert (status["status"], status["error_type"], status["where"]) == (kind, error_type, where)
    if error_type == "SystemExit":
        assert "sys.exit" in status["message"]


def test_collect_artifacts_keeps_only_regular_files_of_allowed_types_and_sizes(tmp_path, monkeypatch):
    from grader.run import orchestrate

    staging, art = tmp_path / "staging", tmp_path / "art"
    (staging / "nli").mkdir(parents=True)
    (staging / "steps").mkdir()
    (staging / "nli" / "params.json").write_text("{}")
    (staging / "nli" / "model.pkl").write_bytes(b"\x80\x04pickle")
    (staging / "nli" / "big.npz").write_bytes(b"0" * 2048)
    (staging / "nli" / "link.json").symlink_to("/etc/passwd")
    (staging / "nli" / "dirlink").symlink_to("/etc", target_is_directory=True)
    (staging / "steps" / "nli.params.json").write_text('{"status": "ok"}')
    monkeypatch.setattr(orchestrate, "MAX_FILE_BYTES", 1024)
    notes, manifest, budget = [], {}, [10_000]
    orchestrate.collect_artifacts(staging, art, "nli.params", manifest, budget, notes.append)
    assert manifest == {"nli/params.json": "nli.params"}
    assert sorted(p.relative_to(art).as_posix() for p in art.rglob("*") if p.is_file()) == ["nli/params.json"]
    assert budget == [10_000 - 2]
    assert sorted(n.split(" from ")[0] for n in notes) == [
        "artifact nli/big.npz", "artifact nli/dirlink", "artifact nli/link.json", "artifact nli/model.pkl"]
    assert any("type .pkl is not allowed" in n for n in notes) and any("byte cap" in n for n in notes)


def _status_literals(module: Path) -> set[str]:
    """Every string a module can end a step with: ``"status"`` keys and keywords, assignments to
    ``status``/``verdict``, ``SandboxOutcome(...)``'s first argument and returns of ``-> ...Status`` functions."""
    import ast

    def strings(node) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return strings(node.body) | strings(node.orelse)
        return set()

    def named(target) -> bool:
        name = getattr(target, "id", None) or getattr(target, "attr", None)
        key = target.slice if isinstance(target, ast.Subscript) else None
        return name in ("status", "verdict") or (isinstance(key, ast.Constant) and key.value == "status")

    found: set[str] = set()
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            found |= {v for k, val in zip(node.keys, node.values)
                      if isinstance(k, ast.Constant) and k.value == "status" for v in strings(val)}
        elif isinstance(node, ast.keyword) and node.arg == "status":
            found |= strings(node.value)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(named(t) for t in targets):
                found |= strings(node.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "SandboxOutcome" and node.args:
            found |= strings(node.args[0])
        elif isinstance(node, ast.FunctionDef) and node.returns is not None and "Status" in ast.unparse(node.returns):
            found |= {v for sub in ast.walk(node) if isinstance(sub, ast.Return) and sub.value is not None
                      for v in strings(sub.value)}
    return found


def test_every_status_a_step_can_end_in_is_one_step_status_and_each_is_explained():
    """One ``StepStatus`` names them all: the step runner's own (``REPORTED_STATUSES``, the only ones
    a status file may claim), the sandbox's (``SandboxStatus``), and the orchestrator's verdicts."""
    from typing import get_args

    from grader.checks._support import _step_failure
    from grader.run import sandbox

    run = REPO / "grader" / "run"
    reported = _status_literals(run / "step_main.py")
    boxed = _status_literals(run / "sandbox.py")
    decided = _status_literals(run / "orchestrate.py")
    assert reported == set(step_api.REPORTED_STATUSES) == {"ok", "error", "missing"}
    assert boxed == set(get_args(sandbox.SandboxStatus)) == {"ok", "error", "timeout", "killed", "crashed",
                                                              "overloaded"}
    assert {"crashed", "timeout"} <= decided
    assert reported | boxed | decided == set(step_api.STEP_STATUSES)
    for status in set(step_api.STEP_STATUSES) - {"ok"}:    # the checks tell the student what each failure means
        en, fa = _step_failure("demo.count", {"status": status, "message": "m"})
        assert "unknown status" not in en and en and fa
