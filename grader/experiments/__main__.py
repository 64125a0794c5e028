"""``python -m grader.experiments ...``: the same as ``python -m grader experiments ...``."""

import sys

from grader.cli import main

raise SystemExit(main(["experiments", *sys.argv[1:]]))
