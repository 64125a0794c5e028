"""The hostile gallery is contained: each scores what its honest parts earn, nothing else moves.

Every ``tests/submissions/hostile_<name>/`` keeps an honest ``nli.count_parameters``
(2 points in the demo task) and puts its attack in ``adasyn.py`` (3 points), except
``hostile_eq_true``, which attacks through ``count_parameters``. One batch grades
them all with the honest demo submission, two at a time, with small limits.
"""

import hashlib
import json
import socket
import threading
from pathlib import Path

import pytest

from grader.batch import grade_many
from grader.run.orchestrate import REPO
from grader.run.sandbox import Limits, isolation
from tests.mizan_demo import CANARY, CHECKS_DIR, HERE, RUBRIC_DIR, STEP_MODULE, open_tmpdir, prepare_demo_inputs

GALLERY = REPO / "tests" / "submissions"
PORT = 47113
# wall_s leaves room for a loaded machine; cpu_s stops the busy loop (SIGXCPU) long before it.
LIMITS = Limits(wall_s=20, cpu_s=5, address_space_mb=1024, nproc=64, fsize_mb=64, log_bytes=64 * 1024,
                flood_bytes=8 << 20)
ANY_DEATH = {"timeout", "killed", "crashed", "error"}

# submission -> (score, status of demo.count, allowed statuses of demo.adasyn)
EXPECTED = {
    "honest": (5.0, "ok", {"ok"}),
    "hostile_exit_import": (2.0, "ok", {"error"}),
    "hostile_osexit_import": (2.0, "ok", {"crashed"}),
    "hostile_exit_call": (2.0, "ok", {"error"}),
    "hostile_osexit_call": (2.0, "ok", {"crashed"}),
    "hostile_infinite_loop": (2.0, "ok", {"timeout"}),
    "hostile_memory_bomb": (2.0, "ok", {"error", "killed"}),
    "hostile_fork_bomb": (2.0, "ok", ANY_DEATH),
    "hostile_forge_results": (5.0, "ok", {"ok"}),
    "hostile_edit_grader": (5.0, "ok", {"ok"}),
    "hostile_read_heldback": (5.0, "ok", {"ok"}),
    "hostile_network": (5.0, "ok", {"ok"}),
    "hostile_numpy_patch": (2.0, "ok", {"ok"}),
    "hostile_eq_true": (3.0, "ok", {"ok"}),
    "hostile_print_gigabytes": (2.0, "ok", {"killed"}),
    "hostile_conftest_sitecustomize": (5.0, "ok", {"ok"}),
    "hostile_import_oracle": (2.0, "ok", {"error"}),          # grader.oracles is not in the sandbox
    "hostile_wrap_imblearn": (2.0, "ok", {"error"}),          # nor is imbalanced-learn
    "hostile_proc_snoop": (5.0, "ok", {"ok"}),                # own /proc and /dev/shm: finds nothing
    "hostile_proc_snoop_twin": (5.0, "ok", {"ok"}),
    "hostile_symlink_module": (2.0, "ok", {"missing"}),       # adasyn.py -> solutions/adasyn.py is not copied
    "hostile_deep_json": (3.0, "ok", {"ok"}),                 # a 200,000-deep JSON: its check fails, no crash
    "hostile_npz_bomb": (2.0, "ok", {"ok"}),                  # a compressed .npz member is refused unread
    "hostile_formula_name": (5.0, "ok", {"ok"}),              # honest code, a spreadsheet formula as its name
    "hostile_many_files": (5.0, "ok", {"ok"}),                # 20,000 files it did not write through ctx: dropped
}
REFUSED = {"hostile_symlink_folder": "is a symbolic link or not a folder"}   # submission -> solutions/
MARKERS = [Path("/tmp") / f"mizan-hostile-{w}-ran" for w in
           ("conftest", "sitecustomize", "usercustomize", "conftest-top", "sitecustomize-top", "pth")]


def tree_digest(*roots: Path) -> dict:
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                out[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
    return out


def _listen(server: socket.socket, got: list) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        got.append(conn.recv(16))
        conn.close()


@pytest.fixture(scope="module")
def graded():
    with open_tmpdir() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("MIZAN_BUILD", str(tmp / "build"))
        inputs = prepare_demo_inputs(tmp / "build" / "cache" / "inputs" / "smoke",
                                     tmp / "build" / "cache" / "heldback" / "smoke")
        level, _notes = isolation()
        subs = [HERE / "honest"] + sorted(p for p in GALLERY.glob("hostile_*") if p.is_dir())
        for marker in MARKERS:
            marker.unlink(missing_ok=True)
        trusted = (REPO / "grader", REPO / "tests" / "mizan_demo", GALLERY)
        before = tree_digest(*trusted)
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", PORT))
        server.listen()
        got: list = []
        threading.Thread(target=_listen, args=(server, got), daemon=True).start()
        lines: list[str] = []
        summaries = grade_many(subs, "smoke", tmp / "build" / "grades", jobs=2, progress=lines.append,
                               tasks=("demo",), step_modules=(STEP_MODULE,), checks_dir=CHECKS_DIR,
                               rubric_dir=RUBRIC_DIR, inputs=inputs, limits=LIMITS, feedback=False)
        server.close()
        yield {"tmp": tmp, "summaries": {s.id: s for s in summaries}, "level": level, "before": before,
               "after": tree_digest(*trusted), "got": got, "lines": lines, "grades": tmp / "build" / "grades"}


def test_each_hostile_submission_scores_exactly_its_honest_part(graded):
    wrong = []
    for sid, summary in graded["summaries"].items():
        if sid in REFUSED:
            if (summary.status, summary.score) != ("error", 0.0) or REFUSED[sid] not in summary.message:
                wrong.append((sid, summary.status, summary.score, summary.message))
            continue
        steps = json.loads((graded["grades"] / sid / "grade.json").read_text())["steps"]
        got = (summary.status, summary.score, summary.max_score, steps["demo.count"], steps["demo.adasyn"])
        score, count_status, adasyn_statuses = EXPECTED.get(sid, (None, None, set()))
        if got[:4] != ("graded", score, 5.0, count_status) or got[4] not in adasyn_statuses:
            wrong.append((sid, *got))
    assert wrong == []
    assert len(graded["lines"]) == len(graded["summaries"])


def test_results_json_is_ours_and_nothing_was_forged_outside(graded):
    grades = graded["grades"]
    for sid, summary in graded["summaries"].items():
        if sid in REFUSED:
            assert not (grades / sid / "results.json").exists()
            continue
        doc = json.loads((grades / sid / "results.json").read_text())
        assert doc["score"] == summary.score and doc["extra_data"]["id"] == sid
    assert "999" not in (grades / "gradebook.csv").read_text()
    for where in (REPO, REPO / "grader", REPO / "tests", graded["tmp"], graded["tmp"] / "build", grades.parent):
        for name in ("results.json", "grade.json"):
            assert not (where / name).exists(), where / name
    assert sorted(p.name for p in grades.iterdir() if p.is_dir()) == sorted(graded["summaries"])


def test_trusted_files_are_unchanged(graded):
    before, after = graded["before"], graded["after"]
    changed = [p for p in set(before) | set(after) if before.get(p) != after.get(p)]
    # Other people may edit the repo while this runs; the vandal's mark must be in none of the changes.
    for path in changed:
        text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
        assert "VANDALISED" not in text, path
        assert Path(path).exists() and (Path(path).stat().st_mode & 0o777) != 0o777, path


def test_held_back_data_and_reference_do_not_leak(graded):
    for path in graded["grades"].rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    for sid in ("hostile_read_heldback", "hostile_proc_snoop", "hostile_proc_snoop_twin"):
        status = json.loads((graded["grades"] / sid / "artifacts" / "steps" / "demo.adasyn.json").read_text())
        assert status["status"] == "ok" and "LOOT" not in json.dumps(status), (sid, status.get("message"))


def test_artifact_bombs_fail_their_checks_without_hurting_the_grader(graded):
    def check(sid, name):
        checks = json.loads((graded["grades"] / sid / "checks.json").read_text())["checks"]
        return next(c for c in checks if c["name"] == name)

    deep = check("hostile_deep_json", "demo.count")
    assert deep["status"] == "failed" and "JSON nested more than 100 levels deep" in deep["message_en"]
    bomb = check("hostile_npz_bomb", "demo.adasyn_originals")
    assert bomb["status"] == "failed" and "member 'X_res.npy' is compressed" in bomb["message_en"]
    peak = json.loads((graded["grades"] / "hostile_npz_bomb" / "grade.json").read_text())["phases"]["checks_peak_mb"]
    assert peak < 200                                   # np.load of the bomb took 284 MB
    row = next(line for line in (graded["grades"] / "gradebook.csv").read_text().splitlines()
               if line.startswith("hostile_formula_name,"))
    assert row.split(",")[1] == '"\'=HYPERLINK(""http://x""'


def test_only_files_the_writers_produced_are_kept(graded):
    art = graded["grades"] / "hostile_many_files" / "artifacts"
    assert sorted(p.relative_to(art).as_posix() for p in art.rglob("*") if p.is_file()) == [
        "demo/adasyn.npz", "demo/count.json", "manifest.json", "steps/demo.adasyn.json", "steps/demo.count.json"]
    log = (graded["grades"] / "hostile_many_files" / "run.log").read_text()
    assert "deleted: not written through the step's writers" in log and "... and 19980 more artifact(s)" in log


def test_mizan_itself_and_oversampling_libraries_are_not_importable(graded):
    messages = {"hostile_import_oracle": "No module named 'grader.oracles'",
                "hostile_wrap_imblearn": "No module named 'imblearn': oversampling libraries are not available when "
                                         "a submission is graded; write ADASYN from scratch (numpy and scikit-learn's "
                                         "NearestNeighbors are fine)"}
    for sid, message in messages.items():
        status = json.loads((graded["grades"] / sid / "artifacts" / "steps" / "demo.adasyn.json").read_text())
        assert (status["error_type"], status["message"]) == ("ModuleNotFoundError", message)


def test_the_isolation_is_recorded_in_the_log_and_results(graded):
    log = (graded["grades"] / "honest" / "run.log").read_text()
    results = json.loads((graded["grades"] / "honest" / "results.json").read_text())
    assert f"isolation {graded['level']}" in log and results["extra_data"]["isolation"] == [graded["level"]]
    assert "not copied: submission/adasyn.py is a symbolic link" in \
        (graded["grades"] / "hostile_symlink_module" / "run.log").read_text()


def test_no_network_and_no_stray_processes(graded):
    if graded["level"] == "bwrap":
        assert graded["got"] == []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            assert b"hostile_fork_bomb" not in cmd and b"hostile_infinite_loop" not in cmd


def test_conftest_sitecustomize_and_pth_had_no_effect(graded):
    assert [m for m in MARKERS if m.exists()] == []
    checks = json.loads((graded["grades"] / "hostile_conftest_sitecustomize" / "checks.json").read_text())
    assert [c["status"] for c in checks["checks"]] == ["passed", "passed"]


def test_floods_are_capped_in_the_log(graded):
    log = graded["grades"] / "hostile_print_gigabytes" / "run.log"
    assert log.stat().st_size < 1 << 20
    assert "output flood" in log.read_text()


def test_failure_messages_say_what_happened(graded):
    def message(sid, check="demo.adasyn_originals"):
        checks = json.loads((graded["grades"] / sid / "checks.json").read_text())["checks"]
        return next(c["message_en"] for c in checks if c["name"] == check)

    assert "ran out of time" in message("hostile_infinite_loop")
    assert "ended abruptly" in message("hostile_osexit_call")
    assert "SystemExit" in message("hostile_exit_call")
    assert "was killed" in message("hostile_print_gigabytes")
    assert "Expected X_res to start with the 12 original rows" in message("hostile_numpy_patch")
    assert "found {'trainable': 0, 'total': 0}" in message("hostile_eq_true", "demo.count")


@pytest.mark.slow
def test_end_to_end_a_crashing_adasyn_costs_only_the_adasyn_checks(tmp_path):
    """Smoke profile, real fraud steps and checks: the reference with ``fit_resample`` doing os._exit(0)."""
    from grader.batch import grade_submission

    with open_tmpdir() as tmp:
        sub = tmp / "hostile_e2e" / "submission"
        sub.mkdir(parents=True)
        for name in ("nli.py", "fraud.py", "adasyn.py"):
            (sub / name).write_text((REPO / "solutions" / name).read_text())
        with open(sub / "adasyn.py", "a") as fh:
            fh.write("\n\nimport os as _os\n\nADASYN.fit_resample = lambda self, X, y: _os._exit(0)\n")
        summary = grade_submission(sub.parent, "smoke", tmp / "grades" / "hostile_e2e", tasks=("fraud",),
                                   feedback=False)
        checks = json.loads((tmp / "grades" / "hostile_e2e" / "checks.json").read_text())["checks"]
        steps = json.loads((tmp / "grades" / "hostile_e2e" / "grade.json").read_text())["steps"]
    assert steps["fraud.adasyn_cases"] == "crashed" and steps["fraud.split"] == "ok"
    failed = sorted(c["name"] for c in checks if c["status"] != "passed")
    assert failed == sorted(c["name"] for c in checks if c["name"].startswith("adasyn."))
    assert summary.score == sum(c["points"] for c in checks if not c["name"].startswith("adasyn."))
