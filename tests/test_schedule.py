"""The step scheduler: a submission's steps side by side, one claimed and pinned CPU each."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time

import pytest

from grader.run import schedule
from grader.run.schedule import CpuSlots, Placement

CPUS = sorted(os.sched_getaffinity(0))
two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs")


def test_longest_expected_step_starts_first_and_a_new_step_counts_as_its_budget():
    ids = ["nli.params", "nli.train_freeze", "nli.train_lora", "nli.train_full", "fraud.detector"]
    costs = {"nli.params": 9.0, "nli.train_freeze": 83.0, "nli.train_lora": 154.0, "nli.train_full": 259.0,
             "fraud.detector": 41.0}
    assert schedule.start_order(ids, costs, {}) == ["nli.train_full", "nli.train_lora", "nli.train_freeze",
                                                    "fraud.detector", "nli.params"]
    nominal = {"nli.params": 720.0, "nli.train_freeze": 1200.0, "nli.train_lora": 1200.0, "nli.train_full": 1200.0,
               "fraud.detector": 2880.0}
    # never timed: nominal budgets decide, ties keep the registration order
    assert schedule.start_order(ids, {}, nominal) == ["fraud.detector", "nli.train_freeze", "nli.train_lora",
                                                      "nli.train_full", "nli.params"]
    # one step timed: it competes with the others' budgets
    assert schedule.start_order(ids, {"fraud.detector": 41.0}, nominal)[-2:] == ["nli.params", "fraud.detector"]


def test_costs_remember_the_cpu_seconds_of_the_steps_that_ended_ok(tmp_path):
    statuses = {"a": {"status": "ok", "sandbox": {"cpu_s": 12.34}},
                "b": {"status": "error", "sandbox": {"cpu_s": 99.0}},
                "c": {"status": "timeout", "wall_s": 0.0}}
    schedule.record_costs(tmp_path, "course", statuses)
    assert schedule.expected_costs(tmp_path, "course") == {"a": 12.3}
    schedule.record_costs(tmp_path, "course", {"b": {"status": "ok", "sandbox": {"cpu_s": 5.0}}})
    assert schedule.expected_costs(tmp_path, "course") == {"a": 12.3, "b": 5.0}
    assert schedule.expected_costs(tmp_path, "other") == {}
    (tmp_path / "step-costs" / "other.json").write_text("not json")
    assert schedule.expected_costs(tmp_path, "other") == {}


def test_a_fresh_machine_starts_the_longest_training_first_from_the_shipped_costs(tmp_path):
    from grader.homework import TASKS
    from grader.run.step_api import all_steps

    ids = [s.id for s in all_steps(tasks=TASKS)]      # the graded steps (not the experiments' parts)
    for profile in ("cpu", "smoke"):
        shipped = schedule.expected_costs(tmp_path, profile)
        assert set(shipped) == set(ids), profile          # every built-in step has a measured cost
    assert schedule.start_order(ids, schedule.expected_costs(tmp_path, "cpu"), {})[:3] == [
        "nli.train_full", "nli.train_lora", "nli.train_freeze"]
    schedule.record_costs(tmp_path, "cpu", {"nli.encode": {"status": "ok", "sandbox": {"cpu_s": 999.0}}})
    assert schedule.start_order(ids, schedule.expected_costs(tmp_path, "cpu"), {})[0] == "nli.encode"  # ours first


def test_width_is_one_per_cpu_capped_by_what_was_asked_and_one_on_a_gpu():
    assert schedule.step_width(True, None, [0, 1, 2, 3]) == 1
    assert schedule.step_width(False, 1, [0, 1, 2, 3]) == 1
    assert schedule.step_width(False, 3, [0, 1, 2, 3]) == 3
    assert schedule.step_width(False, 99, [0, 1]) == 2
    assert 1 <= schedule.step_width(False, None, [0, 1]) <= 2


@two_cpus
def test_a_cpu_held_by_another_grader_is_not_claimed(tmp_path):
    slots = CpuSlots(CPUS[:2], tmp_path)
    with open(tmp_path / f"cpu-{CPUS[0]}.lock", "a") as other:       # another grader of this machine
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with slots.claim() as cpu:
            assert cpu == CPUS[1]
    with slots.claim() as cpu:                                      # released: the first is free again
        assert cpu == CPUS[0]


def test_a_claim_waits_for_the_cpu_to_be_released(tmp_path):
    slots = CpuSlots(CPUS[:1], tmp_path)
    order = []
    held = threading.Event()

    def first():
        with slots.claim():
            held.set()
            time.sleep(0.5)
            order.append("first released")

    t = threading.Thread(target=first)
    t.start()
    held.wait(5)
    with slots.claim():
        order.append("second claimed")
    t.join()
    assert order == ["first released", "second claimed"]


def test_width_one_runs_in_order_on_every_thread_unpinned():
    seen = []
    out = schedule.run_side_by_side(["b", "a"], lambda sid, p: seen.append((sid, p)) or {"step": sid},
                                    width=1, serial_threads=4)
    assert seen == [("b", Placement(None, 4)), ("a", Placement(None, 4))]
    assert list(out) == ["b", "a"]


@two_cpus
def test_steps_run_side_by_side_each_pinned_to_the_cpu_it_claimed_and_what_they_start_inherits_it(tmp_path):
    slots = CpuSlots(CPUS[:2], tmp_path)
    running, peak, lock = [0], [0], threading.Lock()
    pinned = {}

    def run_one(sid: str, placement: Placement) -> dict:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        child = subprocess.run([sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
                               capture_output=True, text=True, check=True).stdout.strip()
        pinned[sid] = (placement, sorted(os.sched_getaffinity(0)), child)
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        return {"step": sid}

    out = schedule.run_side_by_side(["s1", "s2", "s3", "s4"], run_one, width=2, serial_threads=8, slots=slots)
    assert list(out) == ["s1", "s2", "s3", "s4"]
    assert peak[0] == 2
    for sid, (placement, affinity, child) in pinned.items():
        assert placement.threads == 1 and placement.cpu in CPUS[:2]
        assert affinity == [placement.cpu] and child == str([placement.cpu]), (sid, pinned[sid])
    assert sorted(os.sched_getaffinity(0)) == CPUS          # the calling thread is left as it was


@two_cpus
def test_two_submissions_graded_at_once_never_run_more_steps_than_cpus(tmp_path):
    """A batch's workers share the machine's CPUs step by step (each worker's scheduler claims from one
    folder), instead of each worker owning a fixed half of them."""
    running, peak, lock = [0], [0], threading.Lock()

    def run_one(sid: str, placement: Placement) -> dict:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return {"step": sid}

    def submission(prefix: str) -> None:
        schedule.run_side_by_side([f"{prefix}{i}" for i in range(4)], run_one, width=2, serial_threads=1,
                                  slots=CpuSlots(CPUS[:2], tmp_path))

    workers = [threading.Thread(target=submission, args=(p,)) for p in ("amy.", "bob.")]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert peak[0] == 2


def test_where_the_system_cannot_pin_every_cpu_is_used_unpinned(monkeypatch, tmp_path):
    """macOS has neither sched_getaffinity nor sched_setaffinity: a student's make check still runs side by side."""
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.delattr(os, "sched_setaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert schedule.available_cpus() == [0, 1, 2]
    out = schedule.run_side_by_side(["a", "b"], lambda sid, p: {"step": sid, "cpu": p.cpu}, width=2,
                                    serial_threads=1, slots=CpuSlots(folder=tmp_path))
    assert sorted(out) == ["a", "b"] and {r["cpu"] for r in out.values()} <= {0, 1, 2}
