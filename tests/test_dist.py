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
from grader.homework import API_FILES
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
    total = f"{sum(e.points for e in load_rubric()):g}"
    assert f": {total if lang == 'en' else total.translate(dist._PERSIAN_DIGITS)}**" in text


@pytest.mark.parametrize("target", ["en", "fa", "README.md"])
def test_reference_numbers_are_generated_from_the_recorded_runs(target: str):
    # MIZAN_UPDATE_GOLDENS=1 rewrites the block after assignment/reference_results.json changes.
    in_sync = dist.sync_reference(target, write=os.environ.get("MIZAN_UPDATE_GOLDENS") == "1")
    assert in_sync, f"{target}: reference results block is stale: run MIZAN_UPDATE_GOLDENS=1 pytest {__file__}"


def test_reference_block_says_the_recorded_numbers(monkeypatch):
    """The generated text quotes what ``grader.experiments.record`` recorded from a results folder."""
    from grader.experiments.record import record

    recorded = record(ROOT / "tests" / "fixtures" / "report" / "full", recorded="2026-01-02")
    monkeypatch.setattr(dist, "reference_results", lambda: recorded)
    assert dist.reference_markdown("en") == (
        "Measured on the `cpu` profile (2026-01-02), the reference solution reaches a held-back accuracy of "
        "0.827 (full), 0.758 (LoRA) and 0.505 (freeze) on 600 pairs (chance 0.333). On the fraud task its "
        "PR-AUC is 0.702 without resampling, 0.741 with ADASYN after the split, and 0.999 when it resamples "
        "before the split (the leak: 50 % of that test set is synthetic).")
    fa = dist.reference_markdown("fa")
    assert "صحت راه‌حل مرجع روی ۶۰۰ جفت نگه‌داشته ۰٫۸۲۷ (<bdi>full</bdi>)، ۰٫۷۵۸ (<bdi>LoRA</bdi>) و " \
           "۰٫۵۰۵ (<bdi>freeze</bdi>) است (شانس ۰٫۳۳۳)." in fa
    table = dist.reference_markdown("README.md")
    assert "| NLI, freeze | held-back accuracy, macro-F1, trainable parameters | 0.505, 0.502, 1,155 |" in table
    assert ("| fraud, ADASYN, then split (leaky) | PR-AUC, precision and recall at 0.5, synthetic share of the "
            "test set | 0.999, 0.995, 0.999, 49.7 % |") in table
    assert "| 0.702, 0.905, 0.633, not recorded |" in table      # a graded run's fraud.json has no test_sets


def test_recording_refuses_a_folder_without_the_experiments(tmp_path):
    from grader.experiments.record import record

    with pytest.raises(MizanError, match=r"nli_full.json was not found: run `make experiments` on the reference"):
        record(tmp_path)


def test_no_statement_types_a_reference_number_by_hand():
    """The numbers of reference_results.json appear in the statements and README.md only inside the block."""
    ref = dist.reference_results()
    numbers = [f"{m['accuracy']:.3f}" for m in ref["nli"]["modes"].values()]
    numbers += [f"{p['pr_auc']:.3f}" for p in ref["fraud"]["protocols"].values()]
    for path in (*dist.STATEMENTS.values(), dist.ROOT / "README.md"):
        text = path.read_text(encoding="utf-8")
        start, end = text.index(dist.REFERENCE_START), text.index(dist.REFERENCE_END)
        outside = text[:start] + text[end:]
        assert [n for n in numbers if n in outside or n.translate(dist._PERSIAN_DIGITS) in outside] == [], path


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_statement_budget_table_matches_the_graded_profile(lang: str):
    # MIZAN_UPDATE_GOLDENS=1 rewrites the block after a profile change.
    in_sync = dist.sync_statement_budget(lang, write=os.environ.get("MIZAN_UPDATE_GOLDENS") == "1")
    assert in_sync, f"assignment statement ({lang}) budget table is stale: run MIZAN_UPDATE_GOLDENS=1 pytest {__file__}"
    text = dist.STATEMENTS[lang].read_text(encoding="utf-8")
    if lang == "en":
        assert "| Fraud data | 60,000 generated rows with the 31 columns, 300 frauds (0.50 %)" in text
        assert "| NLI training | 4 epochs, batch size 32; LoRA r = 8, alpha = 16 |" in text
    else:
        assert "۶۰٬۰۰۰ ردیف ساختگی با همان ۳۱ ستون، ۳۰۰ تقلب (۰٫۵۰ درصد)" in text
        block = text[text.index(dist.BUDGET_START):text.index(dist.BUDGET_END)]
        assert not re.search(r"(?<![A-Za-z_`])[0-9]", block.replace("`cpu`", "")), "Latin digits in the Persian table"


def test_gradescope_upload_layouts(tmp_path: Path):
    starter = ROOT / "assignment" / "starter" / "submission"
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in API_FILES:
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


def readme_commands(readme: str) -> list[str]:
    """The commands of the bundle README's section "The three commands", in order."""
    section = readme.split("## The three commands", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```sh\n(.*?)```", section, re.S)[0]
    return [line.strip() for line in block.splitlines() if line.strip()]


def test_bundle_readme_gives_the_set_up_and_the_three_commands(bundle: Path):
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    assert readme_commands(readme) == ["make setup", "make check", ".venv/bin/pytest"]
    for needed in ("Python 3.11", "student.toml", 'student_id = "', "hidden checks", "SUBMISSION=path/to/folder",
                   "status 0 only when every visible check passed", "make report", "make experiments", "ASSIGNMENT.md"):
        assert needed in readme, needed
    makefile = (bundle / "Makefile").read_text(encoding="utf-8")
    assert f"--extra-index-url {dist.TORCH_CPU_INDEX}" in makefile     # torch from the CPU index, as setup.sh
    assert "--quiet" not in makefile                                  # pip says what it does
    assert (bundle / "ASSIGNMENT.md").read_text(encoding="utf-8") == (ROOT / "assignment" / "README.md").read_text(
        encoding="utf-8")


def test_bundle_help_and_environment_messages_name_only_what_the_bundle_has(bundle: Path):
    done = subprocess.run([sys.executable, "-m", "grader", "--help"], cwd=bundle, env=ENV, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "{check,report,experiments}" in done.stdout, done.stdout + done.stderr
    assert "gradescope" not in done.stdout and "dist" not in done.stdout
    done = subprocess.run([sys.executable, "-m", "grader", "check", "--help"], cwd=bundle, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert "default: this folder, which holds submission/" in " ".join(done.stdout.split())
    assert "reference" not in done.stdout
    base = Path(sys.base_prefix) / "bin" / "python3"
    if base.exists() and subprocess.run([str(base), "-c", "import torch"], capture_output=True).returncode != 0:
        done = subprocess.run([str(base), "-m", "grader", "check"], cwd=bundle, env=ENV, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 3 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "run `make setup` (or `make check`, which runs it first)" in done.stderr
        assert not (bundle / "build" / "check").exists()     # nothing graded, nothing cached


def _score_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if "points on the visible checks" in line)


def _outcomes(stdout: str) -> list[str]:
    """pytest -ra's summary lines: FAILED/PASSED and the test id (the message after it may be cut)."""
    return sorted(line.split(" - ")[0] for line in stdout.splitlines() if line.startswith(("FAILED ", "PASSED ")))


@pytest.mark.slow
def test_student_loop_follows_the_bundle_readme(bundle: Path, tmp_path: Path):
    """Unpack the bundle and run exactly the commands its README gives, on the starter, a partial
    submission (SUBMISSION=) and the reference; the visible score equals the official grade's visible part."""
    student = tmp_path / "student"
    shutil.copytree(bundle, student)
    commands = readme_commands((student / "README.md").read_text(encoding="utf-8"))
    setup, check, pytest_cmd = commands
    # The pinned packages are the ones already installed: .venv is this checkout's, so `make setup`
    # runs pip against it (requirements.txt made newer than the stamp) and PIP_NO_INDEX proves that
    # nothing needs downloading.
    # A sandbox shows the interpreter at its real path, not through that link, so the bundle's steps run
    # with isolation none, as on a laptop without bubblewrap; the official grade below is sandboxed.
    (student / ".venv").symlink_to(Path(sys.prefix))
    os.utime(student / "requirements.txt")
    env = dict(ENV, PIP_NO_INDEX="1", MIZAN_ISOLATION="none")
    for name in ("SUBMISSION", "MIZAN_SECRET", "MIZAN_SECRET_FILE", "MIZAN_BUILD"):
        env.pop(name, None)
    visible_points = sum(e.points for e in load_rubric() if e.visibility == "visible")

    def run(command: str, **extra) -> subprocess.CompletedProcess:
        return subprocess.run(command, shell=True, cwd=student, env=dict(env, **extra), capture_output=True,
                              text=True, timeout=1800)

    done = run(setup)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Requirement already satisfied: torch==2.13.0" in done.stdout      # pip is not silent

    # The starter: every visible check fails, make check exits 1, each step is announced.
    done = run(check)
    # make exits 2 when a recipe fails; "Error 1" is the grader's status: a check failed
    assert done.returncode == 2 and "Error 1" in done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    assert (f"0/{visible_points:g} points on the visible checks; 0 of {len(VISIBLE)} passed"
            in _score_line(done.stdout))
    assert re.search(r"^  step 1/\d+ \S+ \.\.\. started$", done.stdout, re.M), done.stdout[:2000]
    assert "Traceback" not in done.stdout + done.stderr
    first = run(pytest_cmd)
    assert first.returncode == 1, first.stdout[-3000:] + first.stderr[-3000:]
    assert re.search(rf"\b{len(VISIBLE)} failed\b", first.stdout), first.stdout[-2000:]
    assert "not implemented" in first.stdout.lower() and "Traceback" not in first.stdout
    second = run(pytest_cmd)                     # unchanged files: the same result, from the cache
    assert second.returncode == 1, second.stdout[-3000:] + second.stderr[-3000:]
    assert _outcomes(second.stdout) == _outcomes(first.stdout) and len(_outcomes(first.stdout)) == len(VISIBLE)

    # A partial submission elsewhere, named with SUBMISSION=: the reference with an ADASYN that always raises.
    partial = tmp_path / "partial"
    (partial / "submission").mkdir(parents=True)
    for name in API_FILES:
        shutil.copy2(ROOT / "solutions" / name, partial / "submission" / name)
    (partial / "submission" / "adasyn.py").write_text(
        "class ADASYN:\n"
        "    def __init__(self, *, beta=1.0, k=5, d_threshold=0.75, random_state=None):\n"
        "        self.beta, self.k, self.d_threshold, self.random_state = beta, k, d_threshold, random_state\n\n"
        "    def fit_resample(self, X, y):\n"
        "        raise RuntimeError('not finished')\n")
    done = run(f"{check} SUBMISSION={partial}")
    assert done.returncode == 2 and "Error 1" in done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    bundle_checks = json.loads((student / "build" / "check" / "partial" / "checks.json").read_text())["checks"]
    status = {c["name"]: c["status"] for c in bundle_checks}
    assert set(status) == VISIBLE
    assert {n for n, s in status.items() if s != "passed"} == {n for n in VISIBLE if n.startswith("adasyn.")}
    assert "split.test_original" in status and status["split.test_original"] == "passed"   # not the starter
    bundle_score = sum(c["earned"] for c in bundle_checks)
    assert f"{bundle_score:g}/{visible_points:g} points" in _score_line(done.stdout)

    # The official grade of the same files: its visible part is the bundle's score, check by check.
    official = tmp_path / "grades"
    done = subprocess.run([sys.executable, "-m", "grader", "grade", "--profile", "smoke", "--submission",
                           str(partial), "--out", str(official)], cwd=ROOT,
                          env=dict({k: v for k, v in env.items() if k not in ("MIZAN_ISOLATION", "PIP_NO_INDEX")},
                                   MIZAN_BUILD=str(tmp_path / "build")), capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    graded = json.loads((official / "partial" / "checks.json").read_text())["checks"]
    visible_part = {c["name"]: (c["status"], c["earned"]) for c in graded if c["visibility"] == "visible"}
    assert visible_part == {c["name"]: (c["status"], c["earned"]) for c in bundle_checks}
    assert sum(e for _, e in visible_part.values()) == bundle_score

    # The reference in the bundle's own submission/: everything passes, both commands exit 0.
    for name in API_FILES:
        shutil.copy2(ROOT / "solutions" / name, student / "submission" / name)
    done = run(check)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (f"{visible_points:g}/{visible_points:g} points on the visible checks; {len(VISIBLE)} of "
            f"{len(VISIBLE)} passed" in _score_line(done.stdout))
    done = run(pytest_cmd)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(rf"\b{len(VISIBLE)} passed\b", done.stdout)
