"""Write a file so that a reader never sees half of it: a temp file beside it, fsync, ``os.replace``.

Standard library only and part of the step runner's image (``grader.run.image``): the step runner's
status record, the model cache, results, grades and the gradebook are all written through here.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path | str, text: str, *, mode: int = 0o644, newline: str | None = None) -> Path:
    """``text`` into ``path`` (parents made), all or nothing, file mode ``mode``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path | str, data, *, indent: int | None = 1, ensure_ascii: bool = False,
                      default=None, sort_keys: bool = False) -> Path:
    """``data`` as JSON into ``path``, all or nothing (see :func:`write_text_atomic`)."""
    return write_text_atomic(path, json.dumps(data, ensure_ascii=ensure_ascii, indent=indent, default=default,
                                              sort_keys=sort_keys))
