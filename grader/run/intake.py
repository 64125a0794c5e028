"""Reading a student's files without following anything the student planted.

A submission folder is the student's: any path in it may be a symbolic link
to ``solutions/``, to the grading secret or to another student's folder. So
nothing here follows a link: the folder chain is opened with ``O_NOFOLLOW``
from the student's folder down, each file with ``O_NOFOLLOW`` relative to its
folder's descriptor, only regular files of bounded size are read, and the
bytes read are the bytes hashed and the bytes copied (no second look at the
path between hashing and copying). Used for ``make grade`` and for
Gradescope uploads alike.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader import homework
from grader.errors import MizanError

API_FILES = ("__init__.py", *homework.API_FILES)
"""What is read from ``submission/``: the package marker and the API modules."""
MAX_SOURCE_BYTES = 1024 * 1024
"""A submission module larger than 1 MiB is not source code a student wrote."""


class UnsafeSubmission(MizanError, ValueError):
    """The submission folder itself is a link, or leaves the student's folder."""


@dataclass(frozen=True)
class Sources:
    """The API modules as read: ``files`` maps a file name to its bytes; ``refused`` to why it was not read."""

    files: dict[str, bytes] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def _open_dir(parent_fd: int, name: str, shown: str) -> int:
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeSubmission(f"{shown} is a symbolic link or not a folder: a submission's folders must be "
                                   f"real folders inside it (copy the files in instead of linking them)") from None
        raise UnsafeSubmission(f"{shown}: cannot open ({err.strerror})") from None


def read_regular_file(dir_fd: int, name: str, max_bytes: int = MAX_SOURCE_BYTES) -> tuple[bytes | None, str]:
    """``(bytes, "")`` of a regular file in ``dir_fd``, or ``(None, why)``; never follows a link."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except FileNotFoundError:
        return None, "absent"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return None, "a symbolic link (only regular files are graded)"
        return None, f"unreadable ({err.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > max_bytes:
            return None, f"{info.st_size} bytes, over the {max_bytes} byte limit"
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                return None, f"over the {max_bytes} byte limit"
            chunks.append(chunk)
        return b"".join(chunks), ""
    finally:
        os.close(fd)


def read_api_sources(sub_dir: Path | str) -> Sources:
    """The API modules of ``sub_dir/submission/``, read without following links.

    ``sub_dir`` itself is the instructor's choice (it may be reached through a
    link); ``submission/`` inside it must be a real folder, and each module a
    regular file. A module that is a link, a device or too large is refused and
    treated as absent (its steps report it missing), with the reason kept.
    """
    sub_dir = Path(sub_dir)
    try:
        base_fd = os.open(sub_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        raise UnsafeSubmission(f"{sub_dir}: cannot open the submission folder ({err.strerror})") from None
    try:
        sub_fd = _open_dir(base_fd, "submission", f"{sub_dir}/submission")
    finally:
        os.close(base_fd)
    try:
        return Sources(*read_regular_files(sub_fd, API_FILES))
    finally:
        os.close(sub_fd)


def read_regular_files(dir_fd: int, names) -> tuple[dict[str, bytes], dict[str, str]]:
    """``(files, refused)``: the bytes of each of ``names`` that is a regular file in ``dir_fd``, and why
    each other one that exists was not read (absent names are in neither)."""
    files, refused = {}, {}
    for name in names:
        data, why = read_regular_file(dir_fd, name)
        if data is not None:
            files[name] = data
        elif why != "absent":
            refused[name] = why
    return files, refused


def write_run_dir(sources: Sources, run_dir: Path | str) -> list[str]:
    """``run_dir/submission/`` holding exactly the bytes read (an empty ``__init__.py`` if none)."""
    dst = Path(run_dir) / "submission"
    dst.mkdir(parents=True, exist_ok=True)
    os.chmod(run_dir, 0o755)
    os.chmod(dst, 0o755)
    written = []
    for name in API_FILES:
        data = sources.files.get(name)
        if data is None and name != "__init__.py":
            continue
        path = dst / name
        path.write_bytes(data or b"")
        os.chmod(path, 0o644)
        if data is not None:
            written.append(name)
    return written


def copy_api_modules(sub_dir: Path | str, run_dir: Path | str) -> list[str]:
    """Read and copy in one go (tests and the student's ``make check``)."""
    return write_run_dir(read_api_sources(sub_dir), run_dir)
