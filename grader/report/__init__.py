"""The bilingual (Persian + English) report: results JSON -> figures -> Jinja2 -> WeasyPrint PDF.

``build_report`` writes a student's ``report.pdf``; ``build_feedback`` (alias
``write_feedback``) writes the instructor's ``feedback.html`` / ``feedback.pdf``
for one graded submission. matplotlib and WeasyPrint are imported only when a
figure or a PDF is actually made, so importing this package is cheap.
"""

from grader.report.data import ReportError, Student, load_student
from grader.report.feedback import build_feedback, write_feedback
from grader.report.render import build_report

__all__ = ["ReportError", "Student", "build_feedback", "build_report", "load_student", "write_feedback"]
