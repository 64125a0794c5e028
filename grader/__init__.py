"""Mizan: grading and bilingual reports for the NLI fine-tuning and fraud homework.

Everything under ``grader/`` is trusted code: it never imports a student's
submission in the process that decides a score (see DESIGN.md).
"""

__version__ = "0.1.0"
