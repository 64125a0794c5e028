"""Grading as a Slurm job array (grader/slurm.py), against a real single-node Slurm on this machine
(tests/slurm_cluster.py): the same grades as a local batch, a resumed call that submits nothing, and a
failed task reported with its Slurm state and log and submitted again."""

import csv
import json
import math
import shutil
import time
from pathlib import Path

import pytest

from grader import batch, slurm
from grader.cli import build_parser
from grader.errors import MizanError
from grader.profiles import get_profile
from tests.gallery_support import GALLERY, sandbox_dir
from tests.slurm_cluster import SlurmCluster, missing_reason

GALLERY_ENTRIES = ("fraud_split_oversample_before", "nli_lora_b_random")


@pytest.fixture(scope="module")
def cluster():
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as mp, SlurmCluster() as running:
        for key, value in running.env.items():
            mp.setenv(key, value)
        yield running


@pytest.fixture()
def root():
    path = sandbox_dir("mizan-slurm-test-")       # reachable by the sandbox's own uid, unlike tmp_path
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _gradebook(path):
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    return [{k: v for k, v in row.items() if k != "graded_at"} for row in rows]


def _row(s):
    return (s.id, s.status, s.score, s.max_score)


@pytest.mark.slow
def test_a_batch_on_slurm_grades_as_the_local_batch_and_a_second_call_submits_nothing(cluster, root):
    subs_dir = root / "subs"
    shutil.copytree(batch.reference_submission(), subs_dir / "reference")
    for name in GALLERY_ENTRIES:
        shutil.copytree(GALLERY / name, subs_dir / name)
    subs = batch.find_submissions(subs_dir)
    local_out, out = root / "local", root / "slurm-grades"
    known = cluster.job_ids()           # the cluster is shared by this module's tests

    began = time.perf_counter()
    local = batch.grade_many(subs, "smoke", local_out, progress=lambda _: None)
    local_s = time.perf_counter() - began
    assert [(s.id, s.status) for s in local] == [
        ("fraud_split_oversample_before", "graded"), ("nli_lora_b_random", "graded"), ("reference", "graded")]

    lines = []
    began = time.perf_counter()
    # Stop waiting early, as Ctrl-C does: the job keeps running and is recorded in <out>/slurm/jobs.json.
    with pytest.raises(slurm.SlurmWaitTimeout, match="run the same command again to collect them"):
        slurm.grade_on_slurm(subs, "smoke", out, options=slurm.SlurmOptions(poll_s=1, wait_timeout_s=2),
                             progress=lines.append)
    (job,) = slurm.load_jobs(out)
    assert [t["id"] for t in job["tasks"]] == ["fraud_split_oversample_before", "nli_lora_b_random", "reference"]
    assert cluster.job_ids() - known == {job["job_id"]}
    script = Path(job["script"]).read_text()
    assert "#SBATCH --array=0-2\n#SBATCH --cpus-per-task=4\n#SBATCH --mem=10240M\n#SBATCH --time=40\n" in script

    # The same call again collects the running job instead of submitting another one.
    on_slurm = slurm.grade_on_slurm(subs, "smoke", out, options=slurm.SlurmOptions(poll_s=2, wait_timeout_s=1800),
                                    progress=lines.append)
    slurm_s = time.perf_counter() - began
    assert cluster.job_ids() - known == {job["job_id"]}
    assert any("waiting for them instead of submitting again" in ln for ln in lines)
    logs = "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in sorted((out / "slurm" / "logs").glob("*.log")))
    assert [_row(s) for s in on_slurm] == [_row(s) for s in local], f"{[s.message for s in on_slurm]}\n{lines}\n{logs}"
    ref = on_slurm[2]
    assert ref.score == ref.max_score > 0
    for s in on_slurm:
        meta = json.loads((out / s.id / "grade.json").read_text())
        assert meta["checks"] == json.loads((local_out / s.id / "grade.json").read_text())["checks"]
    checks = {s.id: json.loads((out / s.id / "grade.json").read_text())["checks"] for s in on_slurm}
    assert checks["nli_lora_b_random"]["nli.lora_zero_init"] == 0
    assert checks["fraud_split_oversample_before"]["split.sampler_train_only"] == 0
    assert all(v > 0 for v in checks["reference"].values())
    assert _gradebook(out / "gradebook.csv") == _gradebook(local_out / "gradebook.csv")
    assert len(_gradebook(out / "gradebook.csv")) == 3
    print(f"\nlocal batch {local_s:.1f} s, Slurm batch {slurm_s:.1f} s: overhead "
          f"{(slurm_s - local_s) / len(subs):+.1f} s per submission")

    again_lines = []
    again = slurm.grade_on_slurm(subs, "smoke", out, options=slurm.SlurmOptions(poll_s=1, wait_timeout_s=60),
                                 progress=again_lines.append)
    assert [(s.id, s.status, s.score) for s in again] == [(s.id, "skipped", s.score) for s in local]
    assert again_lines == ["slurm: nothing to submit: every submission is unchanged since its last grade"]
    assert cluster.job_ids() - known == {job["job_id"]}
    assert [(j["job_id"], j["ended"]) for j in slurm.load_jobs(out)] == [(job["job_id"], True)]


def test_a_failed_task_is_reported_with_its_state_and_log_and_submitted_again(cluster, root):
    sub = root / "subs" / "broken"
    shutil.copytree(GALLERY / "nli_lora_b_random", sub)
    (sub / "student.toml").write_text("name = \n")        # stops the grade at once: a fast failing task
    out = root / "grades"
    options = slurm.SlurmOptions(poll_s=1, wait_timeout_s=300)
    known = cluster.job_ids()

    (first,) = slurm.grade_on_slurm([sub], "smoke", out, options=options, progress=lambda _: None)
    (job,) = slurm.load_jobs(out)
    log = out / "slurm" / "logs" / f"{job['job_id']}_0.log"
    assert first.status == "error"
    assert first.message.startswith(f"StudentFileError: {sub}/student.toml is not valid TOML")
    assert first.message.endswith(f"; Slurm task {job['job_id']}_0 ended FAILED (NonZeroExitCode), log {log}: "
                                  f"no grade written; the next run regrades it")
    assert "student.toml is not valid TOML" in log.read_text()

    (second,) = slurm.grade_on_slurm([sub], "smoke", out, options=options, progress=lambda _: None)
    jobs = slurm.load_jobs(out)
    assert second.status == "error"
    assert [j["ended"] for j in jobs] == [True, True] and jobs[1]["job_id"] != job["job_id"]
    assert cluster.job_ids() - known == {job["job_id"], jobs[1]["job_id"]}


@pytest.mark.parametrize("name, expected", [
    ("smoke", (4, 10240, 40, 0)),
    ("cpu", (4, 10240, math.ceil((2 * 3600 + 600 + 600) / 60), 0)),
    ("paper", (8, 65536, math.ceil((2 * 6 * 3600 + 600 + 600) / 60), 1)),
])
def test_each_task_asks_for_what_the_profile_allows_a_grade(name, expected):
    res = slurm.resources(get_profile(name))
    assert (res.cpus, res.mem_mb, res.time_min, res.gpus) == expected
    assert ("--gres=gpu:1" in res.directives()) == (name == "paper")
    bigger = slurm.resources(get_profile(name), slurm.SlurmOptions(cpus_per_task=2, mem_mb=4096, time_min=15))
    assert (bigger.cpus, bigger.mem_mb, bigger.time_min) == (2, 4096, 15)


def test_a_pending_array_is_expanded_to_its_task_indices():
    assert slurm.expand_array("0-3,7,9-13:2%4") == [0, 1, 2, 3, 7, 9, 11, 13]
    assert slurm.expand_array("5") == [5]


def test_options_come_from_the_command_line_over_the_course_configuration(tmp_path, monkeypatch):
    (tmp_path / "mizan.toml").write_text('executor = "slurm"\n[slurm]\npartition = "gpu"\nqos = "course"\n'
                                         'cpus_per_task = 2\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIZAN_CONFIG", raising=False)
    args = build_parser(student_bundle=False).parse_args(["grade", "--partition", "short", "--account", "dl101"])
    assert slurm.executor_of(args) == "slurm"
    assert slurm.options_of(args) == slurm.SlurmOptions(partition="short", account="dl101", qos="course",
                                                        cpus_per_task=2)
    args = build_parser(student_bundle=False).parse_args(["grade", "--executor", "local"])
    assert slurm.executor_of(args) == "local"


def test_a_grading_secret_in_the_environment_is_refused_before_anything_is_submitted(tmp_path, monkeypatch):
    monkeypatch.setenv("MIZAN_SECRET", "s3cret")
    with pytest.raises(MizanError, match="unset MIZAN_SECRET and export MIZAN_SECRET_FILE=<that file>"):
        slurm.grade_on_slurm([], "smoke", tmp_path / "out")
    assert not (tmp_path / "out").exists()
