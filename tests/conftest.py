"""What many test files share, made once per test run (per xdist worker).

``smoke_inputs``: the smoke profile's task inputs and held-back data, through the grader's own cache
(``grader.run.orchestrate.prepare_task_inputs``: generated once per content, locked against two
workers preparing it at once), so the galleries, the check tests and the hostile entries all read the
same files instead of each generating its own.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def smoke_inputs():
    """``(inputs_dir, heldback_dir)`` of the smoke profile, both tasks."""
    from grader.homework import TASKS
    from grader.profiles import get_profile
    from grader.run.orchestrate import prepare_task_inputs

    return prepare_task_inputs(get_profile("smoke"), TASKS)


HEAVY_FIRST = ("test_slurm.py", "test_dist.py", "test_config.py", "test_experiments.py", "test_hostile.py",
               "test_gallery_fraud.py", "test_batch.py", "test_gallery_nli.py", "test_student_loop.py")
"""Files whose tests grade whole submissions, longest first (measured with ``--durations``). The Makefile
runs xdist with ``--dist loadfile --no-loadscope-reorder``: files are handed out in this order, so the two
workers start on the two longest and the short files fill the gaps, instead of the long ones coming last
(xdist's default order is by number of tests, which puts a one-test Slurm file at the very end)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))     # stable: a file's tests stay together
