"""Bound over the ``__init__.py`` of a package the sandbox withholds (``grader.run.sandbox.HIDDEN_PACKAGES``).

Importing the package inside a step raises at once with the reason, instead of
a bare "No module named" that a student might take for a broken installation.
"""

if __name__ == "solutions":
    raise ModuleNotFoundError("No module named 'solutions'", name=__name__)
raise ModuleNotFoundError(
    f"No module named {__name__!r}: oversampling libraries are not available when a submission is graded; "
    "write ADASYN from scratch (numpy and scikit-learn's NearestNeighbors are fine)",
    name=__name__)
