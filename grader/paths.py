"""Where a command reads and writes, the same from any working folder: the build folder, the default submission.

``make grade`` writes ``<build>/grades/``, ``make check`` ``<build>/check/``, ``make experiments``
``<build>/experiments/``, and ``make report`` reads them back: so every command asks
:func:`build_dir`, never ``Path("build")``, which would follow the folder it was started from.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.environment import ROOT

BUILD_ENV = "MIZAN_BUILD"


def build_dir() -> Path:
    """``$MIZAN_BUILD`` (made absolute), else ``build/`` in this copy of Mizan (the repository or a bundle)."""
    moved = os.environ.get(BUILD_ENV)
    return Path(moved).expanduser().absolute() if moved else ROOT / "build"


def default_submission() -> Path:
    """The submission a command works on when none is named: the student bundle itself (it holds
    ``submission/``), else the reference solution, copied into the build folder."""
    from grader import batch
    from grader.environment import in_student_bundle

    return batch.validate_submission(ROOT) if in_student_bundle() else batch.reference_submission()
