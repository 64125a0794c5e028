"""The homework's experiments, run on any submission (``grader experiments``, ``make experiments``).

The student's own study, measured by Mizan: the three NLI modes and the three
fraud arms, each a sandboxed part, written as the results JSON the report
shows (docs/CONTRACTS.md). Nothing here decides a score, and the graded
reference (``solutions/``) imports nothing from here.
"""
