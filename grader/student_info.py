"""``student.toml``: who handed a submission in. The one reader, for the gradebook and the report.

The file sits in the student's folder, so it is untrusted text that lands in
``gradebook.csv`` (opened in spreadsheets) and on the report's cover. It is
read as data only and validated: a plain-text name, an ID of the course's form
(letters, digits, ``-``, ``_``, ``.``), an optional e-mail. A file that breaks a
rule raises :class:`~grader.errors.StudentFileError` naming the file, the key
and the fix, before any grading starts.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from grader.errors import StudentFileError

STUDENT_FILE = "student.toml"
MAX_FILE_BYTES = 64 * 1024
MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 254
ID_FORM = re.compile(r"[A-Za-z0-9._-]{1,64}")
EMAIL_FORM = re.compile(r"[^@\s]+@[^@\s]+")
ID_KEYS = ("student_id", "id")          # the gradebook always read both; student_id is the documented one
EXAMPLE = 'write it as:\n  name = "Sara Ahmadi"\n  student_id = "40112345"'
# Bidirectional embeddings, overrides and isolates: invisible, and they reorder what follows them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Student:
    name: str | None = None
    student_id: str | None = None
    email: str | None = None


def _control_character(text: str) -> str | None:
    """The first control, line-separator or bidi-override character of ``text``, written as its code point
    (``U+202E`` for a right-to-left override), or None when there is none."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS:
            return f"U+{ord(ch):04X}"
    return None


def _text(path: Path, key: str, value) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and key in ID_KEYS:
        value = str(value)
    if not isinstance(value, str):
        raise StudentFileError(f"{path}: {key} must be a quoted string, got {type(value).__name__} "
                               f"{value!r}; {EXAMPLE}")
    value = value.strip()
    if not value:
        raise StudentFileError(f"{path}: {key} is empty; {EXAMPLE}")
    return value


def read_student(submission_dir: Path | str | None) -> Student:
    """Name, ID and e-mail from ``<submission_dir>/student.toml``; no file gives an empty Student.

    Keys: ``name`` and ``student_id`` (or ``id``) are required, ``email`` is optional. A present but
    unusable file raises :class:`StudentFileError` whose message names the file, the key and the fix.
    """
    if submission_dir is None:
        return Student()
    path = Path(submission_dir) / STUDENT_FILE
    if not path.is_file():
        return Student()
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise StudentFileError(f"{path} is {size} bytes; it holds only a name and an ID, keep it under "
                               f"{MAX_FILE_BYTES} bytes ({EXAMPLE})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise StudentFileError(f"{path} is not UTF-8 text; save it as UTF-8 ({EXAMPLE})") from None
    except tomllib.TOMLDecodeError as err:
        raise StudentFileError(f"{path} is not valid TOML ({err}); {EXAMPLE}") from None
    unknown = sorted(set(data) - {"name", "email", *ID_KEYS})
    if unknown:
        raise StudentFileError(f"{path} has unknown key(s) {', '.join(unknown)}: only name, student_id (or id) "
                               f"and email are read; {EXAMPLE}")
    if all(key in data for key in ID_KEYS):
        raise StudentFileError(f"{path} gives both student_id and id; keep only student_id; {EXAMPLE}")
    id_key = next((key for key in ID_KEYS if key in data), "student_id")
    for key in ("name", id_key):
        if key not in data:
            raise StudentFileError(f"{path} lacks {key}; {EXAMPLE}")

    name = _text(path, "name", data["name"])
    bad = _control_character(name)
    if bad:
        raise StudentFileError(f"{path}: name contains the control character {bad}; write the name as plain "
                               f"text on one line ({EXAMPLE})")
    if len(name) > MAX_NAME_CHARS:
        raise StudentFileError(f"{path}: name is {len(name)} characters long; shorten it to at most "
                               f"{MAX_NAME_CHARS} ({EXAMPLE})")
    student_id = _text(path, id_key, data[id_key])
    if not ID_FORM.fullmatch(student_id):
        raise StudentFileError(f"{path}: {id_key} {student_id[:80]!r} is not a student ID: use only letters, digits, "
                               f"'-', '_' and '.', at most 64 characters ({EXAMPLE})")
    email = None
    if "email" in data:
        email = _text(path, "email", data["email"])
        if len(email) > MAX_EMAIL_CHARS or _control_character(email) or not EMAIL_FORM.fullmatch(email):
            raise StudentFileError(f'{path}: email {email[:80]!r} is not an e-mail address; write it as '
                                   f'email = "sara@example.com", or leave the key out')
    return Student(name=name, student_id=student_id, email=email)
