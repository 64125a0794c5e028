"""HOSTILE: a conftest.py that would pass every check."""
import os
import tempfile
open(os.path.join(tempfile.gettempdir(), "mizan-hostile-conftest-ran"), "w").write("ran")

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome = "passed"
    return report
