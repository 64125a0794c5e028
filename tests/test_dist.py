"""``make dist``: what reaches students, what reaches Gradescope, and that both run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader import dist
from grader.errors import MizanError
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = {e.id for e in load_rubric() if e.visibility == "hidden"}
VISIBLE = {e.id for e in load_rubric() if e.visibility == "visible"}
ENV = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3", PROFILE="smoke")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return dist.build_student_bundle(tmp_path_factory.mktemp("dist") / "student")


def _texts(folder: Path):
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".toml", ".md", ".json", ".ini", ".txt", ".html", ".css"}:
            yield path, path.read_text(encoding="utf-8", errors="replace")


def test_bundle_holds_statement_starter_and_visible_checks(bundle: Path):
    for rel in ("README.md", "README.fa.md", "Makefile", "pytest.ini", "visible_checks.py", "requirements.txt",
                "submission/nli.py", "submission/adasyn.py", "submission/fraud.py",
                "grader/checks/plugin.py", "grader/run/sandbox.py", "grader/report/render.py"):
        assert (bundle / rel).is_file(), rel
    assert "NotImplementedError" in (bundle / "submission" / "nli.py").read_text()
    shipped = {e.id for e in load_rubric(bundle / "grader" / "rubric")}
    assert shipped == VISIBLE


def test_bundle_leaks_no_solution_hidden_check_or_threshold(bundle: Path):
    assert not (bundle / "solutions").exists()
    assert not (bundle / "grader" / "dist.py").exists()
    assert HIDDEN, "the rubric has hidden checks to keep back"
    for path, text in _texts(bundle):
        rel = path.relative_to(bundle)
        assert not re.search(r"^\s*(from solutions\b|import solutions\b)", text, re.M), f"{rel} imports solutions"
        for check_id in HIDDEN:
            assert f'"{check_id}"' not in text, f"{rel} names the hidden check {check_id}"
    # Every check module that ships defines only visible checks.
    for module in (bundle / "grader" / "checks").glob("*.py"):
        tree = dist.ast.parse(module.read_text(encoding="utf-8"))
        assert dist._check_ids_in(tree) <= VISIBLE, module.name


def test_bundle_ships_expected_values_not_the_adasyn_oracle(bundle: Path, tmp_path: Path):
    from grader.tasks import fraud

    assert not (bundle / "grader" / "oracles" / "adasyn.py").exists()
    oracle = dist.ast.parse((ROOT / "grader" / "oracles" / "adasyn.py").read_text(encoding="utf-8"))
    oracle_names = {n.name for n in oracle.body if isinstance(n, (dist.ast.FunctionDef, dist.ast.ClassDef))}
    assert {"majority_ratios", "case_expectations", "segment_parents"} <= oracle_names
    for module in bundle.rglob("*.py"):
        tree = dist.ast.parse(module.read_text(encoding="utf-8"))
        defined = {n.name for n in dist.ast.walk(tree) if isinstance(n, (dist.ast.FunctionDef, dist.ast.ClassDef))}
        assert not defined & oracle_names, f"{module.relative_to(bundle)} defines {defined & oracle_names}"
        top_level = [n for n in tree.body if isinstance(n, (dist.ast.Import, dist.ast.ImportFrom))]
        assert not any("grader.oracles.adasyn" in dist.ast.unparse(n) for n in top_level), module
    shipped = json.loads((bundle / fraud.SHIPPED_EXPECTED.relative_to(ROOT)).read_text(encoding="utf-8"))
    public = fraud.adasyn_expected(fraud.adasyn_cases(fraud.CASES_SEED))
    assert shipped["cases"] == json.loads(json.dumps(public["cases"]))
    assert sorted(shipped["detector"]) == ["cpu", "smoke"]
    assert shipped["detector"]["smoke"]["G"] == 2117 - 43 and len(shipped["detector"]["smoke"]["r"]) == 43
    # Inside the bundle, preparing the inputs reads those values and never reaches for an oracle.
    probe = ("import importlib.util, json, sys; from pathlib import Path; "
             "from grader.profiles import get_profile; from grader.tasks import fraud; "
             "import grader.checks.adasyn_math, grader.checks.adasyn_synthesis; "
             "d = Path(sys.argv[1]); fraud.prepare_inputs(get_profile('smoke'), d / 'in', d / 'held'); "
             "e = json.loads((d / 'held' / 'fraud' / fraud.EXPECTED_FILE).read_text()); "
             "print(sorted(e['cases']) == sorted(c['name'] for c in fraud.adasyn_cases()), "
             "importlib.util.find_spec('grader.oracles.adasyn'), "
             "any(m.startswith('grader.oracles.adasyn') for m in sys.modules))")
    env = {k: v for k, v in ENV.items() if k not in ("MIZAN_SECRET", "MIZAN_SECRET_FILE")}
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], cwd=bundle, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.stdout.split() == ["True", "None", "False"], done.stdout + done.stderr[-3000:]


def test_mixed_check_module_is_refused(tmp_path: Path):
    hidden_id, visible_id = sorted(HIDDEN)[0], sorted(VISIBLE)[0]
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "mixed.py").write_text(
        f'import pytest\n@pytest.mark.check("{hidden_id}")\ndef test_a(ctx): pass\n'
        f'@pytest.mark.check("{visible_id}")\ndef test_b(ctx): pass\n')
    with pytest.raises(MizanError, match=f"mixed.py mixes hidden and visible checks \\({visible_id}"):
        dist._drop_hidden_check_modules(checks, HIDDEN)


def test_support_module_used_only_by_hidden_checks_stays_behind(tmp_path: Path):
    hidden_id, visible_id = sorted(HIDDEN)[0], sorted(VISIBLE)[0]
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "secret_thresholds.py").write_text("PR_AUC_MIN = 0.5\n")
    (checks / "shared.py").write_text("def helper(): return 1\n")
    (checks / "hidden_family.py").write_text(
        f'import pytest\nfrom grader.checks.secret_thresholds import PR_AUC_MIN\n'
        f'@pytest.mark.check("{hidden_id}")\ndef test_a(ctx): pass\n')
    (checks / "visible_family.py").write_text(
        f'import pytest\nfrom grader.checks.shared import helper\n'
        f'@pytest.mark.check("{visible_id}")\ndef test_b(ctx): pass\n')
    dist._drop_hidden_check_modules(checks, HIDDEN)
    assert sorted(p.name for p in checks.glob("*.py")) == ["shared.py", "visible_family.py"]


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_statement_rubric_table_matches_the_rubric(lang: str):
    # MIZAN_UPDATE_GOLDENS=1 rewrites the block after a rubric change.
    in_sync = dist.sync_statement_rubric(lang, write=os.environ.get("MIZAN_UPDATE_GOLDENS") == "1")
    assert in_sync, f"assignment statement ({lang}) rubric table is stale: run MIZAN_UPDATE_GOLDENS=1 pytest {__file__}"
    text = dist.STATEMENTS[lang].read_text(encoding="utf-8")
    total = sum(e.points for e in load_rubric())
    assert f"{total:g}" in text


def test_gradescope_upload_layouts(tmp_path: Path):
    starter = ROOT / "assignment" / "starter" / "submission"
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in dist.API_MODULES:
        shutil.copy2(starter / name, flat / name)
    (flat / "notes.txt").write_text("not an API module")
    out = dist.normalise_gradescope_submission(flat, tmp_path / "a")
    assert sorted(p.name for p in (out / "submission").iterdir()) == ["__init__.py", "adasyn.py", "fraud.py", "nli.py"]

    nested = tmp_path / "nested" / "hw" / "submission"
    shutil.copytree(starter, nested)
    (nested.parent / "student.toml").write_text('name = "Sara"\nstudent_id = "4001"\n')
    out = dist.normalise_gradescope_submission(tmp_path / "nested", tmp_path / "b")
    assert (out / "submission" / "fraud.py").read_text() == (starter / "fraud.py").read_text()
    assert not (out / "student.toml").exists()    # Gradescope knows who uploaded (tests/test_intake.py)

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "report.pdf").write_bytes(b"%PDF")
    with pytest.raises(MizanError, match="the upload holds none of nli.py, adasyn.py, fraud.py"):
        dist.normalise_gradescope_submission(empty, tmp_path / "c")


@pytest.mark.slow
def test_gradescope_run_autograder_on_the_starter(tmp_path: Path):
    zipped = dist.build_gradescope_zip(tmp_path / "out" / "autograder.zip")
    with zipfile.ZipFile(zipped) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "source")
    assert {"setup.sh", "run_autograder", "requirements.txt", "grader/cli.py"} <= names
    assert not any(n.startswith(("solutions/", "tests/")) for n in names)
    root = tmp_path / "autograder"
    shutil.copytree(ROOT / "assignment" / "starter" / "submission", root / "submission")
    env = dict(ENV, AUTOGRADER_ROOT=str(root), MIZAN_SOURCE=str(tmp_path / "source"),
               MIZAN_PYTHON=sys.executable, MIZAN_PROFILE="smoke")
    done = subprocess.run(["bash", str(tmp_path / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "grader" / "results" / "gradescope_schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(results, schema)
    assert results["score"] == 0
    assert len(results["tests"]) == len(load_rubric())
    assert all(t["score"] == 0 for t in results["tests"])
    # Every check says the function is not implemented, except two that report the consequence:
    # nothing could be counted, and the bogus mode raised NotImplementedError instead of ValueError.
    other = {t["name"].rsplit("[", 1)[-1].rstrip("]") for t in results["tests"]
             if "not implemented" not in t["output"].lower()}
    assert other <= {"nli.count_parameters", "nli.unknown_mode"}, other
    assert (root / "results" / "run.log").is_file()


@pytest.mark.slow
def test_student_bundle_pytest_on_starter_and_on_reference(bundle: Path, tmp_path: Path):
    student = tmp_path / "student"
    shutil.copytree(bundle, student)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"], cwd=student, env=ENV,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"{len(VISIBLE)} failed" in done.stdout
    assert "not implemented" in done.stdout.lower()
    assert "Traceback" not in done.stdout

    for name in dist.API_MODULES:
        shutil.copy2(ROOT / "solutions" / name, student / "submission" / name)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=student, env=ENV,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"{len(VISIBLE)} passed" in done.stdout
