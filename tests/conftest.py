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
