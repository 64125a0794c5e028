"""The grading secret: keeps held-back labels out of reach of code that knows the generators.

Every data generator and every profile seed ships with Mizan, the student
bundle included, so with public seeds a submission could regenerate the
held-back evaluation pairs or test rows and look their labels up. When course
staff set a secret (``MIZAN_SECRET``, or a file named by ``MIZAN_SECRET_FILE``
that only the grading account can read), the seeds that draw held-back data
are derived from it. Without one the public seeds keep runs reproducible
(Mizan's tests, the reference experiments) and ``grade`` says so in its log.
The sandbox never sees either variable (its environment is a whitelist).
"""

from __future__ import annotations

import hashlib
import os

from grader.errors import MizanError

SECRET_ENV = "MIZAN_SECRET"
SECRET_FILE_ENV = "MIZAN_SECRET_FILE"


def grading_secret() -> str:
    """The secret, or ``""`` when none is set; an unreadable or empty secret file is an error, not a silent default."""
    value = os.environ.get(SECRET_ENV, "")
    if value:
        return value
    path = os.environ.get(SECRET_FILE_ENV, "")
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.read().strip()
    except OSError as err:
        raise MizanError(f"{SECRET_FILE_ENV}={path}: cannot read the grading secret ({err.strerror})") from None
    if not value:
        raise MizanError(f"{SECRET_FILE_ENV}={path}: the file is empty; write a long random string into it")
    return value


def held_back_seed(seed: int, purpose: str) -> int:
    """The seed that draws held-back data for ``purpose``: ``seed`` itself without a secret,
    otherwise a 31-bit number derived from the secret, the purpose and ``seed``."""
    secret = grading_secret()
    if not secret:
        return seed
    digest = hashlib.sha256(f"{secret}\0{purpose}\0{seed}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def secret_tag() -> str:
    """A short, one-way tag of the secret (``"public"`` without one) for cache keys and content hashes."""
    secret = grading_secret()
    if not secret:
        return "public"
    return hashlib.sha256(f"mizan-secret-tag\0{secret}".encode()).hexdigest()[:12]
