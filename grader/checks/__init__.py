"""Trusted checks: pytest modules that read artifacts, never student code (see docs/GRADING.md).

Run through :func:`grader.checks.plugin.check_argv` (``python_files=*.py``, the
``check`` marker, the ``ctx`` fixture and the results file come from the plugin); helper
modules are named ``_*.py`` and never collected. :mod:`grader.checks.launcher` starts the
check process.
"""
