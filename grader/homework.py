"""The homework's names, in one place: the submission's modules, the tasks, the NLI modes and labels.

Standard library only and part of the step runner's image (``grader.run.image``): the sandboxed
steps, the trusted checks, the report and the tools read the same tuples.
"""

from __future__ import annotations

API_MODULES = ("nli", "adasyn", "fraud")
"""The modules a submission hands in, as ``submission/<name>.py``."""
API_FILES = tuple(f"{m}.py" for m in API_MODULES)
TASKS = ("nli", "fraud")
"""The graded tasks (a check id's task is the rubric's ``task``, not its prefix)."""
NLI_MODES = ("full", "freeze", "lora")
"""The three ways of fine-tuning, in the order every table and figure shows them."""
NLI_LABELS = ("entailment", "neutral", "contradiction")
"""MultiNLI's label names, in the order of its label ids 0, 1, 2."""
